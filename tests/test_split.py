"""Splitting keeps exact provenance: offsets slice the document back to each passage."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.core.records import Document, PageSpan, line_span
from ingest.core.settings import SplitSettings
from ingest.split import ProseSplitter, line_windows, split_lines
from tests.fakes import FakeEmbedder

COUNT = FakeEmbedder().count_tokens


def _doc(text: str, **kw) -> Document:
    return Document(doc_id="d" * 16, source="doc.txt", text=text, kind=kw.pop("kind", "text"), **kw)


WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "x", "the", "end.", "Note:", "a,b"])
PARAS = st.lists(st.lists(WORDS, min_size=1, max_size=60).map(" ".join), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(paras=PARAS, seps=st.lists(st.sampled_from(["\n\n", "\n", " \n\n  ", "\n\n\n"]), min_size=12, max_size=12))
def test_char_offsets_slice_back_to_passage_text(paras, seps):
    text = "".join(p + s for p, s in zip(paras, seps, strict=False))
    doc = _doc(text)
    passages = ProseSplitter(SplitSettings(chunk_tokens=20, overlap_tokens=4), COUNT).split(doc)
    assert passages
    for p in passages:
        a, b = p.chars
        assert doc.text[a:b] == p.text
        assert p.lines == line_span(doc.text, a, b)
        assert COUNT(p.text) <= 20 or len(p.text.split()) == 1
    starts = [p.chars[0] for p in passages]
    assert starts == sorted(starts)
    # every word of the document is in some passage
    covered = set()
    for p in passages:
        covered.update(range(*p.chars))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_pdf_passages_stay_on_their_page():
    page1, page2 = "one two three four five six seven eight nine ten. " * 3, "eleven twelve thirteen. " * 4
    text = page1.strip() + "\n\n" + page2.strip()
    split_at = len(page1.strip())
    doc = _doc(text, kind="pdf", pages=(PageSpan(1, 0, split_at), PageSpan(4, split_at + 2, len(text))))
    passages = ProseSplitter(SplitSettings(chunk_tokens=16, overlap_tokens=2), COUNT).split(doc)
    for p in passages:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text
        assert p.lines is None
        assert p.page == (1 if p.chars[1] <= split_at else 4)
        assert ("eleven" in p.text) == (p.page == 4)
    assert {p.page for p in passages} == {1, 4}


def test_real_tokenizer_budget(minilm):
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(200))
    doc = _doc(text)
    passages = ProseSplitter(SplitSettings(chunk_tokens=64, overlap_tokens=8), minilm.count_tokens).split(doc)
    assert len(passages) > 10
    assert all(minilm.count_tokens(p.text) <= 64 for p in passages)
    assert all(doc.text[p.chars[0]:p.chars[1]] == p.text for p in passages)


def test_line_windows_cover_every_line():
    text = "\n".join(f"line {i}" for i in range(1, 131)) + "\n"
    doc = _doc(text, kind="code", language="python")
    passages = split_lines(doc, SplitSettings(code_lines=50, code_overlap_lines=5))
    assert [p.lines for p in passages] == [(1, 50), (46, 95), (91, 130)]
    for p in passages:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text
        assert p.text.splitlines()[0] == f"line {p.lines[0]}"
    assert line_windows([0], 5, size=3, overlap=1) == [(0, 5)]


def test_settings_reject_bad_values():
    import pytest

    with pytest.raises(ValueError, match="overlap_tokens"):
        SplitSettings(chunk_tokens=32, overlap_tokens=32)
    with pytest.raises(ValueError, match="chunk_tokens"):
        SplitSettings(chunk_tokens=4)


def test_runs_without_spaces_are_cut_into_windows_in_linear_time():
    import time

    settings = SplitSettings(chunk_tokens=50, overlap_tokens=5)
    calls = []

    def counting(text: str) -> int:
        calls.append(len(text))
        return COUNT(text)

    splitter = ProseSplitter(settings, counting)
    for text in ["abcdefghij" * 200_000,  # one 2 MB word: LangChain would merge it a character at a time
                 "intro words here. " + "x1,y2;" * 50_000 + " and an ending sentence.",
                 "東京大阪名古屋" * 30_000]:  # CJK prose has no spaces
        calls.clear()
        start = time.process_time()  # CPU seconds: a busy machine does not make this slower
        doc = _doc(text)
        passages = splitter.split(doc)
        assert time.process_time() - start < 10
        assert len(calls) < 5_000  # a few calls per window, not one per character
        covered = set()
        for p in passages:
            assert doc.text[p.chars[0]:p.chars[1]] == p.text
            covered.update(range(*p.chars))
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
        assert max(len(p.text) for p in passages) <= 50 * 32


def test_words_without_punctuation_are_counted_once_each():
    calls = []
    splitter = ProseSplitter(SplitSettings(), lambda t: calls.append(t) or COUNT(t))
    text = " ".join(["alpha", "beta", "gamma", "delta"][i % 4] + str(i % 50) for i in range(100_000))
    passages = splitter.split(_doc(text))
    assert passages and len(calls) < 2_000  # short pieces are remembered (MemoCounter)


def test_text_index_matches_the_scans_it_replaces():
    from ingest.split import TextIndex

    text = "a\nbb\n\nccc\nd"
    doc = _doc(text)
    index = TextIndex(doc)
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 1):
            assert index.line_span(a, b) == line_span(text, a, b)
    pdf = _doc("one\n\ntwo", kind="pdf", pages=(PageSpan(1, 0, 3), PageSpan(3, 5, 8)))
    assert [TextIndex(pdf).page_at(i) for i in range(9)] == [pdf.page_at(i) for i in range(9)]
