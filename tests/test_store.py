"""Index directory: manifest, atomic builds, the writer lock, embedder checks, reuse, search."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from ingest.core.errors import IndexLockedError, IndexMismatchError, IndexMissingError, InputError
from ingest.core.settings import SearchSettings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter, embedding_text
from retrieval.build import build_index
from retrieval.lock import writer_lock
from retrieval.search import Searcher
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder


def _splitter(embedder: FakeEmbedder) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=40, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "birds.txt").write_text("The kestrel hovers over fields.\n\nOwls hunt at night using hearing.\n")
    (root / "ships.md").write_text("# Ships\n\nThe clipper Cutty Sark carried tea from China.\n")
    return root


def _build(paths, idx, embedder=None, **kw):
    embedder = embedder or FakeEmbedder()
    return build_index(paths, idx, embedder=embedder, splitter=_splitter(embedder), **kw)


def test_manifest_records_build_and_no_pickle(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    report = _build([corpus], idx)
    manifest = json.loads((idx / "manifest.json").read_text())
    assert manifest["embedder"] == {"model": "fake", "dim": 64}
    assert manifest["counts"] == {"documents": 2, "passages": report.passages}
    assert {s["source"] for s in manifest["sources"]} == {str(corpus / "birds.txt"), str(corpus / "ships.md")}
    names = {p.name for p in idx.iterdir()}
    assert names == {"manifest.json", ".lock", *manifest["files"].values()}
    for path in idx.iterdir():  # stored data is SQLite, FAISS and JSON; never a pickle stream
        assert not path.read_bytes().startswith(b"\x80"), path


def test_search_modes_find_the_right_passage(corpus: Path, tmp_path: Path):
    _build([corpus], tmp_path / "idx")
    reader = IndexReader(tmp_path / "idx")
    searcher = Searcher(reader, FakeEmbedder(), SearchSettings())
    for mode in ("dense", "bm25", "hybrid"):
        top = searcher.search("which owls hunt at night", 1, mode=mode)[0].passage
        assert "Owls hunt" in top.text, mode
        assert top.lines is not None and top.source.endswith("birds.txt")
    assert searcher.bm25('"unbalanced quote AND OR NEAR(', 3) == []  # user text never breaks FTS5


class ExplodingEmbedder(FakeEmbedder):
    def embed_passages(self, texts):
        raise RuntimeError("power cut during embedding")


def test_failed_build_leaves_previous_index_intact(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    _build([corpus], idx)
    before = {p.name: p.read_bytes() for p in idx.iterdir() if p.name != ".lock"}
    (corpus / "new.txt").write_text("Completely new text that needs embedding.")
    with pytest.raises(RuntimeError, match="power cut"):
        _build([corpus], idx, embedder=ExplodingEmbedder())
    after = {p.name: p.read_bytes() for p in idx.iterdir() if p.name not in (".lock", "staging.db")}
    assert after == before  # the live index is untouched (staging.db keeps the finished work for a rerun)
    assert len(IndexReader(idx).all_passages()) > 0


def test_interrupted_write_leaves_previous_index_intact(corpus: Path, tmp_path: Path, monkeypatch):
    idx = tmp_path / "idx"
    _build([corpus], idx)
    before = (idx / "manifest.json").read_text()
    import retrieval.store as store

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store.faiss if hasattr(store, "faiss") else __import__("faiss"), "write_index", interrupted)
    (corpus / "new.txt").write_text("More text.")
    with pytest.raises(KeyboardInterrupt):
        _build([corpus], idx)
    assert (idx / "manifest.json").read_text() == before
    assert sorted(p.name for p in idx.iterdir() if p.suffix in (".tmp", ".sqlite", ".faiss")) == sorted(
        json.loads(before)["files"].values())
    IndexReader(idx).all_passages()


def _hold_lock(directory: str, ready, release) -> None:
    with writer_lock(Path(directory)):
        ready.set()
        release.wait(20)


def test_second_writer_is_refused(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(idx), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(IndexLockedError, match=rf"pid {holder.pid}\) is writing this index"):
            _build([corpus], idx)
    finally:
        release.set()
        holder.join(20)
    _build([corpus], idx)  # free again once the holder is gone


def test_different_embedder_is_refused(corpus: Path, tmp_path: Path):
    _build([corpus], tmp_path / "idx")
    reader = IndexReader(tmp_path / "idx")
    reader.check_embedder({"model": "fake", "dim": 64})
    with pytest.raises(IndexMismatchError, match="different embedder .*model: fake -> other"):
        reader.check_embedder({"model": "other", "dim": 64})


def test_missing_index_and_nothing_to_index(tmp_path: Path):
    with pytest.raises(IndexMissingError, match="no docqa index here"):
        IndexReader(tmp_path / "none")
    (tmp_path / "only.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="nothing to index"):
        _build([tmp_path], tmp_path / "idx2")


def test_rebuild_reuses_vectors_and_add_keeps_documents(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    first = _build([corpus], idx)
    embedder = FakeEmbedder()
    again = _build([corpus], idx, embedder=embedder)
    assert again.reused == first.passages and again.embedded == 0 and embedder.embedded == 0
    extra = tmp_path / "extra.txt"
    extra.write_text("Bees make honey.")
    added = _build([extra], idx, add=True)
    assert added.documents == 3 and added.embedded == 1
    reader = IndexReader(idx)
    vectors = reader.vectors()
    fake = FakeEmbedder()
    for p, v in zip(reader.all_passages(), vectors, strict=True):
        assert np.allclose(v, fake.embed_passages([embedding_text(p)])[0])  # rows stay aligned after reuse
    replaced = _build([extra], idx)
    assert replaced.documents == 1
    assert len(os.listdir(idx)) == 5  # old builds' files are cleaned up (manifest, lock, vectors, passages, units)


def _many_docs(root: Path) -> list[Path]:
    topics = {
        "birds": "The kestrel hovers over fields. Owls hunt at night. Swallows migrate south in autumn.",
        "ships": "The clipper Cutty Sark carried tea from China. Steamships replaced sail.",
        "bread": "Sourdough bread rises with wild yeast. Bakers knead the dough and proof it overnight.",
        "stars": "A supernova outshines its galaxy. Neutron stars spin quickly after the collapse.",
    }
    root.mkdir(exist_ok=True)
    paths = []
    for name, text in topics.items():
        (root / f"{name}.txt").write_text(text)
        paths.append(root / f"{name}.txt")
    return paths


def test_coarse_to_fine_searches_only_the_best_documents(tmp_path: Path):
    idx = tmp_path / "idx"
    _build(_many_docs(tmp_path / "docs"), idx)
    reader = IndexReader(idx)
    searcher = Searcher(reader, FakeEmbedder(), SearchSettings(mode="hybrid"))
    query = "which bakers knead dough with wild yeast"
    best = searcher.coarse(query, 1)
    assert best is not None and len(best) == 1
    for mode in ("dense", "bm25", "hybrid"):
        hits = searcher.search(query, 5, mode=mode, docs=1)
        assert hits and {h.passage.doc_id for h in hits} == set(best), mode
        assert hits[0].passage.source.endswith("bread.txt")
    flat = searcher.search("kestrel owls clipper tea", 5, mode="bm25")
    assert len({h.passage.doc_id for h in flat}) == 2  # without coarse: every document
    assert searcher.coarse(query, 4) is None  # no more documents than asked for: plain search
    assert len(searcher.search("kestrel owls clipper tea", 5, mode="bm25", docs=9)) == len(flat)
    restricted = Searcher(reader, FakeEmbedder(), SearchSettings(mode="dense", coarse_docs=2))
    assert len({h.passage.doc_id for h in restricted.search("kestrel owls clipper tea", 10)}) <= 2
    assert reader.dense(np.ones(64, dtype=np.float32), 3, rows=[]) == []
    assert reader.bm25("kestrel", 3, doc_ids=[]) == []
    with pytest.raises(ValueError, match="coarse_docs"):
        SearchSettings(coarse_docs=-1)


class ExtendedFake(FakeEmbedder):
    """A fake embedder that calls itself extended, with a whitespace tokenizer for document sections."""

    max_length = 12

    def identity(self) -> dict[str, object]:
        return {**super().identity(), "extension": "pi"}

    @property
    def tokenizer(self):  # noqa: ANN201
        import re

        def encode(text, **_):  # noqa: ANN001, ANN202
            return {"offset_mapping": [m.span() for m in re.finditer(r"\S+", text)]}

        encode.num_special_tokens_to_add = lambda pair=False: 2
        return encode


def test_extended_embedder_embeds_whole_documents_for_file_vectors(tmp_path: Path):
    from ingest.extend import embed_documents

    paths = _many_docs(tmp_path / "docs")
    plain, extended = tmp_path / "plain", tmp_path / "extended"
    _build(paths, plain)
    embedder = ExtendedFake()
    _build(paths, extended, embedder=embedder)
    docs = {d.doc_id: d.text for d in IndexReader(extended).documents()}
    got = IndexReader(extended).file_vectors()
    assert set(got) == set(docs)
    for doc_id, text in docs.items():  # whole-document sections of max_length tokens, pooled
        assert np.allclose(got[doc_id], embed_documents(ExtendedFake(), [text])[0], atol=1e-6)
    means = IndexReader(plain).file_vectors()
    assert any(not np.allclose(means[d], got[d]) for d in docs)  # the plain build keeps passage means
    again = ExtendedFake()
    _build(paths, extended, embedder=again)
    assert again.embedded == 0  # unchanged documents reuse their file vectors
    assert all(np.allclose(IndexReader(extended).file_vectors()[d], got[d]) for d in docs)


def test_identical_files_under_different_paths_are_both_indexed_and_cited(tmp_path: Path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    for name in ["report.txt", "report (1).txt", "sub/report.txt"]:
        (root / name).write_text("The spare key is under the blue flowerpot.\n")
    idx = tmp_path / "idx"
    report = _build([root], idx)
    assert report.documents == 3 and report.skipped == ()
    reader = IndexReader(idx)
    hits = Searcher(reader, FakeEmbedder(), SearchSettings()).search("spare key flowerpot", 5, mode="bm25")
    assert sorted(Path(h.passage.source).relative_to(root).as_posix() for h in hits) == [
        "report (1).txt", "report.txt", "sub/report.txt"]
    reader.close()
    again = _build([root], idx)
    assert again.reused == again.passages  # ids are stable: nothing re-embedded


def test_a_reader_opening_while_a_writer_switches_builds_opens_the_new_one(corpus: Path, tmp_path: Path,
                                                                          monkeypatch):
    import retrieval.store as store

    idx = tmp_path / "idx"
    _build([corpus], idx)
    real = store.Manifest.read.__func__
    raced = []

    def stale(cls, directory):  # the manifest as it was, then a writer replaces the build and deletes its files
        manifest = real(cls, directory)
        if not raced:
            raced.append(manifest.build)
            (corpus / "late.txt").write_text("A file that arrived during the race.")
            _build([corpus], idx)
        return manifest

    monkeypatch.setattr(store.Manifest, "read", classmethod(stale))
    reader = IndexReader(idx)
    assert raced and reader.manifest.build != raced[0]
    assert any(p.source.endswith("late.txt") for p in reader.all_passages())
    reader.close()
