"""Context assembly, segment relevance scoring and the answer modes (full text / retrieval)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from generation.context import (
    document_order,
    edges_first,
    expand_neighbours,
    merge_overlaps,
    order_passages,
    pack_passages,
    sentence_spans,
    trim_overlaps,
)
from generation.scoring import question_pairs, score_segments_embedding, score_segments_llm, select_relevant
from ingest.core.protocols import ScoringLLM
from ingest.core.records import Document, Message, Passage, passage_id
from ingest.core.settings import AnswerSettings, Settings, SplitSettings
from ingest.split import ProseSplitter
from tests.fakes import FakeEmbedder, ScoringScriptedLLM, ScriptedLLM
from tests.test_backends import tiny_llm_dir  # noqa: F401  (fixture: a tiny random-weight Llama)

FILLER = " ".join(f"In {1900 + 3 * i} the council approved harbour plan number {i} after a long debate."
                  for i in range(8))
TEXT = (f"The harbour of Vellmar was dredged in 1921. Ships of deeper draught could then dock. {FILLER} "
        "The lighthouse keeper, Ida Marsh, kept a log of every arrival for forty years. "
        "Her logs are now in the town museum. The museum opens on Sundays only. "
        "In 1958 a storm destroyed the old pier. A concrete pier replaced it two years later. "
        "Fishing declined after 1970, and tourism became the main trade. "
        + " ".join(f"Survey {i} counted {40 + i} boats in the outer basin." for i in range(8)))


def _doc(text: str = TEXT, source: str = "harbour.txt") -> Document:
    return Document(doc_id="d1", source=source, text=text, kind="text")


def _split(doc: Document, chunk: int = 40, overlap: int = 10) -> list[Passage]:
    s = SplitSettings(chunk_tokens=chunk, overlap_tokens=overlap)
    return ProseSplitter(s, FakeEmbedder().count_tokens).split(doc)


def _p(doc_id: str, start: int, text: str, **kw) -> Passage:
    chars = (start, start + len(text))
    return Passage(id=passage_id("s", chars, text), doc_id=doc_id, source=f"{doc_id}.txt", text=text, chars=chars,
                   **kw)


# -- ordering -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(0, 9))
def test_edges_first_keeps_best_first_and_second_last(n: int):
    items = list(range(1, n + 1))
    out = edges_first(items)
    assert sorted(out) == items
    if n >= 1:
        assert out[0] == 1
    if n >= 2:
        assert out[-1] == 2  # unlike LangChain's reorder, which puts item 1 last for even n
    # scores fall towards the middle from both edges
    middle = out.index(n) if n else 0
    assert out[:middle + 1] == sorted(out[:middle + 1]) and out[middle:] == sorted(out[middle:], reverse=True)


def test_order_passages_document_and_unknown():
    ps = [_p("b", 50, "x"), _p("a", 10, "y"), _p("b", 0, "z")]
    assert [(p.doc_id, p.chars[0]) for p in order_passages(ps, "document")] == [("b", 0), ("b", 50), ("a", 10)]
    assert [p.chars[0] for p in document_order(ps, {"a": 0, "b": 1})] == [10, 0, 50]
    assert order_passages(ps, "rank") == ps
    with pytest.raises(ValueError, match="valid: rank, edges, document"):
        order_passages(ps, "random")


# -- de-duplication -------------------------------------------------------------------------------------
def _windows(doc: Document, size: int = 120, step: int = 80) -> list[Passage]:
    """Overlapping windows, as a splitter with overlap makes them."""
    return [Passage(id=passage_id(doc.source, (a, min(a + size, len(doc.text))), doc.text[a:a + size]),
                    doc_id=doc.doc_id, source=doc.source, text=doc.text[a:a + size],
                    chars=(a, min(a + size, len(doc.text)))) for a in range(0, len(doc.text), step)]


def test_merge_overlaps_keeps_exact_document_text():
    doc = _doc()
    ps = _windows(doc)
    assert ps[1].chars[0] < ps[0].chars[1]
    merged = merge_overlaps([ps[2], ps[0], ps[1], ps[3]])
    assert len(merged) == 1  # 0-1-2-3 chain into one span, in the place of the best (ps[2])
    m = merged[0]
    assert m.chars == (ps[0].chars[0], ps[3].chars[1]) and m.text == doc.text[m.chars[0]:m.chars[1]]
    assert m.id == passage_id(m.source, m.chars, m.text)
    far = merge_overlaps([ps[0], ps[-1]])
    assert far == [ps[0], ps[-1]]  # apart: untouched
    other = dataclasses.replace(ps[1], doc_id="d2", source="other.txt")
    assert merge_overlaps([ps[0], other]) == [ps[0], other]  # other document: never merged


def test_merge_overlaps_drops_contained_passage():
    big, inner = _p("d", 0, "a" * 100), _p("d", 10, "a" * 20)
    assert merge_overlaps([inner, big]) == [big]
    assert merge_overlaps([big, inner]) == [big]


def test_trim_overlaps_reads_document_once_with_line_spans():
    text = "\n".join(f"Line {i}: the pump at station {i} was checked and found in order." for i in range(1, 30))
    doc = _doc(text, "log.txt")
    ps = [dataclasses.replace(p, lines=(text[:p.chars[0]].count("\n") + 1, text[:p.chars[1]].count("\n") + 1))
          for p in _windows(doc, 150, 100)]
    trimmed = trim_overlaps(ps)
    assert "".join(p.text for p in trimmed) == text[ps[0].chars[0]:ps[-1].chars[1]]
    for p in trimmed:
        assert doc.text[p.chars[0]:p.chars[1]] == p.text
        assert p.lines is not None and p.lines[0] == text[:p.chars[0]].count("\n") + 1
    assert trim_overlaps([ps[0], ps[0]]) == [ps[0]]  # a covered passage disappears


# -- neighbours -----------------------------------------------------------------------------------------
def test_expand_neighbours_pulls_previous_or_next_at_a_boundary():
    doc = [_p("d", 0, "Intro text here. The museum"), _p("d", 27, " opens on Sundays. Other facts follow. Tail"),
           _p("d", 70, " end of the museum story, open daily.")]
    by_doc = {"d": doc}
    assert [p.chars[0] for p in expand_neighbours([doc[1]], by_doc, "When does the museum open?")] == [27, 0]
    tail_hit = expand_neighbours([doc[0]], by_doc, "Is there a museum?")  # best sentence is the last one
    assert [p.chars[0] for p in tail_hit] == [0, 27]
    middle = [_p("e", 0, "A. The museum opens on Sundays. C.")]
    assert expand_neighbours(middle, {"e": middle}, "When does the museum open?") == middle
    assert len(expand_neighbours([doc[1], doc[2]], by_doc, "museum open", max_added=0)) == 2


# -- packing --------------------------------------------------------------------------------------------
def test_pack_passages_cuts_only_at_sentence_ends_and_says_so():
    count = FakeEmbedder().count_tokens
    long = _p("d", 0, TEXT)
    small = _p("d", 5000, "Short one.")
    packed = pack_passages([long, small], 60, count, overhead_tokens=2)
    assert packed.trimmed and packed.passages[0].id in packed.trimmed
    cut = packed.passages[0]
    assert TEXT.startswith(cut.text) and cut.text.rstrip().endswith(".") and cut.chars == (0, len(cut.text))
    assert packed.tokens <= 60
    assert [s for s in sentence_spans(cut.text)][-1][1] == len(cut.text)
    untrimmed = pack_passages([long, small], 60, count, trim=False)
    assert untrimmed.passages == (small,) and untrimmed.dropped == (long,) and not untrimmed.trimmed
    assert pack_passages([_p("d", 0, "word " * 100)], 30, count).passages == ()  # no sentence end: left out


# -- segment relevance scoring --------------------------------------------------------------------------
def test_select_relevant_threshold_min_and_max():
    scores = [-3.0, -0.5, -2.8, -3.2, -0.7, -2.9]
    assert select_relevant(scores, min_keep=1) == [1, 4]
    assert select_relevant(scores, min_keep=3) == [1, 4, 2]
    assert select_relevant(scores, min_keep=1, max_keep=1) == [1]
    assert select_relevant([], min_keep=3) == []


def test_segment_scoring_embedding_and_llm_rank_the_relevant_passage_first():
    ps = [_p("d", 0, "Fishing declined after 1970."), _p("d", 40, "The lighthouse keeper Ida Marsh kept a log."),
          _p("d", 90, "The museum opens on Sundays.")]
    q = "Who kept the lighthouse log?"
    emb = score_segments_embedding(FakeEmbedder(), q, ps)
    assert emb.method == "embedding" and max(range(3), key=lambda i: emb.scores[i]) == 1 and emb.tokens > 0
    llm = ScoringScriptedLLM()
    scored = score_segments_llm(llm, q, ps)
    assert scored.method == "llm" and max(range(3), key=lambda i: scored.scores[i]) == 1
    assert llm.scored == question_pairs(q, ps) and all(c == " " + q for _, c in llm.scored)
    assert scored.tokens == sum(len(p.split()) + len(c.split()) for p, c in llm.scored)


def test_answer_settings_validate_choices():
    with pytest.raises(ValueError, match="valid: auto, full, retrieve"):
        AnswerSettings(mode="whole")
    with pytest.raises(ValueError, match="valid: none, embedding, llm"):
        AnswerSettings(select="attention")
    with pytest.raises(ValueError, match="valid: none, lexical, llm"):
        AnswerSettings(verify="maybe")


# -- the SDK: full-text mode, key context -----------------------------------------------------------------
DOCS = {
    "harbour.txt": TEXT,
    "rail.txt": ("The railway reached Vellmar in 1889. The station has two platforms. "
                 "Trains run hourly to Osterby. The line was electrified in 1962. "
                 + " ".join(f"Timetable {i} added a train at {6 + i} o'clock." for i in range(10))),
}


@pytest.fixture
def fake_index(tmp_path: Path):
    """``make(llm, **answer_settings)``: an index of two small documents built with the fake embedder."""
    import app.sdk
    from ingest.split import DocumentSplitter
    from retrieval.build import build_index

    embedder = FakeEmbedder()
    paths = []
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    s = SplitSettings(chunk_tokens=40, overlap_tokens=10)
    build_index(paths, tmp_path / "idx", embedder=embedder,
                splitter=DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens), None))

    def make(llm, **answer):
        settings = Settings().replace(answer=answer)
        return app.sdk.Index(app.sdk.IndexReader(tmp_path / "idx"), settings, embedder=embedder, llm=llm)

    return make


def test_full_mode_numbers_whole_documents_in_order_without_overlap(fake_index):
    llm = ScriptedLLM("The keeper was Ida Marsh [1].", context_tokens=8192)
    index = fake_index(llm, mode="auto", verify="none")
    answer = index.ask("Who was the lighthouse keeper?")
    assert answer.mode == "full"
    assert "mode (full): whole documents: 2 document(s)" in answer.notes[1], answer.notes
    by_doc: dict[str, list[Passage]] = {}
    for p in answer.passages:
        by_doc.setdefault(p.source, []).append(p)
    assert {Path(k).name for k in by_doc} == set(DOCS)
    for source, ps in by_doc.items():  # each document reads once, in order, overlaps trimmed
        text = DOCS[Path(source).name]
        assert all(a.chars[1] <= b.chars[0] for a, b in zip(ps, ps[1:], strict=False))
        assert all(text[p.chars[0]:p.chars[1]] == p.text for p in ps)
        assert " ".join(p.text for p in ps).split() == text.split()
    assert "rerank" not in answer.timings  # full text: no reranking


def test_auto_falls_back_to_retrieval_when_documents_do_not_fit(fake_index):
    llm = ScriptedLLM("Ida Marsh [1].", context_tokens=900)
    answer = fake_index(llm, mode="auto", verify="none", top_k=3).ask("Who was the lighthouse keeper?")
    assert answer.mode == "retrieve"
    assert "mode (retrieve): retrieved passages (auto: the documents exceed" in answer.notes[1]
    assert len(answer.passages) <= 3
    capped = fake_index(ScriptedLLM("x"), mode="auto", full_max_tokens=100, verify="none").ask("keeper?")
    assert any("exceed 100 tokens" in n for n in capped.notes)
    forced = fake_index(ScriptedLLM("x", context_tokens=900), mode="full", verify="none").ask(
        "When was the line electrified?")
    note = forced.stage("mode").details[0]
    assert forced.mode == "full" and note.startswith("whole documents: 1 document(s)")
    assert "1 other document(s) left out" in note
    assert {Path(p.source).name for p in forced.passages} == {"rail.txt"}  # the hit's document


def test_key_context_by_segment_scoring_is_in_document_order(fake_index):
    llm = ScoringScriptedLLM("Ida Marsh [1].")
    index = fake_index(llm, mode="retrieve", select="llm", top_k=3, rerank_candidates=8, verify="none")
    answer = index.ask("Who kept the lighthouse log?")
    assert len(llm.scored) == 8
    select = answer.stage("select")
    assert select.method == "llm" and select.calls == 8 and "key context in document order" in select.details[0]
    assert answer.tokens["select_llm"] == select.prompt_tokens > 0
    keys = [(p.source, p.chars[0]) for p in answer.passages]
    assert keys == sorted(keys, key=lambda k: (keys[0][0] != k[0], k[1]))
    assert any("lighthouse keeper" in p.text for p in answer.passages)
    plain = fake_index(ScriptedLLM("x"), select="llm", top_k=3, verify="none").ask("Who kept the lighthouse log?")
    assert any("cannot score text; used embeddings" in n for n in plain.notes)


def test_neighbours_and_merging_in_retrieval_mode(fake_index):
    answer = fake_index(ScriptedLLM("x"), top_k=4, neighbours=True, order="edges", verify="none",
                        evidence_tokens=0).ask(
        "When does the museum open?")
    spans = [(p.source, p.chars) for p in answer.passages]
    for i, (s1, a) in enumerate(spans):  # merged: no two passages of one document overlap
        for s2, b in spans[i + 1:]:
            assert s1 != s2 or a[1] < b[0] or b[1] < a[0]
    assert "prompt: " + f"{len(answer.passages)} passages, order edges" in answer.notes


# -- real models --------------------------------------------------------------------------------------------
NEEDLE = "The lighthouse keeper's cat is named Pepper and sleeps on the lamp room stairs."
HAY = ["The harbour of Vellmar was dredged in 1921 so that ships of deeper draught could dock.",
       "Fishing declined after 1970, and tourism became the main trade of the town.",
       "A concrete pier replaced the old wooden one two years after the storm of 1958.",
       "The railway reached Vellmar in 1889 and the line was electrified in 1962."]


@pytest.fixture(scope="module")
def smol():
    from generation.llamacpp import LlamaCppLLM
    from generation.models import SMOLLM2_135M
    from ingest.core.settings import LLMSettings

    llm = LlamaCppLLM(LLMSettings(model=SMOLLM2_135M.name, context_tokens=2048, max_answer_tokens=32))
    llm.warm_up()
    return llm


@pytest.mark.slow
def test_llamacpp_sequence_logprobs_match_a_full_logits_pass(smol):
    import numpy as np
    from llama_cpp import Llama

    prefix, continuation = "Text: " + NEEDLE + "\n\nA question answered by this text:", " What is the cat called?"
    first = smol.sequence_logprobs([(prefix, continuation)])[0]
    again = smol.sequence_logprobs([(prefix, continuation)])[0]  # prefix now cached: same numbers
    assert first.tokens == len(smol.llama.tokenize(continuation.encode(), add_bos=False, special=False))
    assert again.logprob == pytest.approx(first.logprob, abs=1e-3) and again.evaluated_tokens < first.evaluated_tokens
    reference = Llama(model_path=smol.llama.model_path, n_ctx=512, logits_all=True, verbose=False, n_threads=2)
    head = reference.tokenize(prefix.encode(), add_bos=True, special=False)
    tail = reference.tokenize(continuation.encode(), add_bos=False, special=False)
    reference.eval(head + tail)
    rows = reference.scores[len(head) - 1: len(head) + len(tail) - 1].astype(np.float64)
    lse = np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1)) + rows.max(1)
    expected = float((rows[np.arange(len(tail)), tail] - lse).sum())
    assert first.logprob == pytest.approx(expected, abs=0.05)
    assert first.mean_logprob == pytest.approx(first.logprob / first.tokens)


@pytest.mark.slow
def test_llm_segment_scoring_finds_the_needle_and_leaves_chat_working(smol):
    messages = [Message("user", "Say hello.")]
    before = smol.complete(messages, max_tokens=8).text
    passages = [_p("d", i * 100, t) for i, t in enumerate(HAY[:2] + [NEEDLE] + HAY[2:])]
    scored = score_segments_llm(smol, "What is the name of the lighthouse keeper's cat?", passages)
    assert max(range(len(passages)), key=lambda i: scored.scores[i]) == 2, scored.scores
    assert scored.tokens > sum(len(p.text) // 8 for p in passages) and scored.seconds > 0
    assert select_relevant(scored.scores, min_keep=1)[0] == 2
    assert smol.complete(messages, max_tokens=8).text == before  # the scoring left the cache consistent


@pytest.mark.slow
def test_default_model_full_text_answer_with_checked_citation(tmp_path: Path):
    """The one test with the default Qwen model: a short document read whole, the answer cited and quoted."""
    from app.sdk import Index

    doc = tmp_path / "harbour-notes.txt"
    doc.write_text("Vellmar harbour notes.\n\n" + TEXT.replace("Ida Marsh", "Hannelore Brisk") + "\n")
    settings = Settings().replace(answer={"mode": "auto", "verify": "lexical"}, llm={"max_answer_tokens": 48})
    with Index.build([doc], tmp_path / "idx", settings=settings) as index:
        result = index.ask("Who was the lighthouse keeper of Vellmar?")
    assert result.mode == "full", result.notes
    assert "Brisk" in result.text, result.text
    assert result.citations, (result.text, result.notes)
    for c in result.citations:
        assert c.supported and c.quote and c.quote_chars
        assert c.passage.text[c.quote_chars[0]:c.quote_chars[1]] == c.quote
    assert any("Brisk" in c.quote for c in result.citations)


def test_transformers_sequence_logprobs_batched_equals_one_by_one(tiny_llm_dir: Path):  # noqa: F811
    """Right-padded batches give the same scores as single pairs, and as a direct forward pass."""
    import torch

    from app.factory import make_llm
    from ingest.core.settings import LLMSettings

    llm = make_llm(LLMSettings(backend="transformers", model=str(tiny_llm_dir), device="cpu", context_tokens=1024,
                               max_answer_tokens=8))
    pairs = question_pairs("who kept the log?", [_p("d", 0, NEEDLE), _p("d", 100, HAY[0]), _p("d", 200, "short")])
    batched = llm.sequence_logprobs(pairs, batch_size=8)
    single = [llm.sequence_logprobs([pair], batch_size=1)[0] for pair in pairs]
    for a, b in zip(batched, single, strict=True):
        assert a.tokens == b.tokens > 0 and a.logprob == pytest.approx(b.logprob, abs=1e-4)
    tok, model = llm._tok, llm._model
    head = tok(pairs[0][0], add_special_tokens=False)["input_ids"]
    tail = tok(pairs[0][1], add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([head + tail])).logits[0].float(), -1)
    expected = sum(float(logp[len(head) - 1 + i, t]) for i, t in enumerate(tail))
    assert batched[0].logprob == pytest.approx(expected, abs=1e-4)
    assert isinstance(llm, ScoringLLM)
