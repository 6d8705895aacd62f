"""Incremental builds: an unchanged corpus is neither read nor embedded again, an edit re-embeds only its
file, a deletion removes its passages, a splitter change re-splits everything, an answer setting changes
nothing, ``--plan`` says what the run then does, and ``docqa status`` lists every file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import ingest.read
from app.cli import main
from ingest.core.registry import EMBEDDERS
from ingest.core.settings import IngestSettings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter, embedding_text
from retrieval.build import build_index
from retrieval.ledger import ledger
from retrieval.plan import plan_build
from retrieval.staging import STAGING
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder, registered

WORDS = ["harbour", "lantern", "quartz", "ferry", "tolls", "bridge", "river", "copper", "ledger", "salt", "wind",
         "mill", "grain", "barley", "oats", "kestrel", "owl", "swallow", "granite", "slate", "basalt", "tide", "reef",
         "coral"]


def _text(i: int) -> str:
    rng = np.random.default_rng(i)
    paras = [" ".join(rng.choice(WORDS, size=int(rng.integers(20, 50)))) + f" marker{i}." for _ in range(4)]
    return "\n\n".join(paras)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(6):
        (root / f"doc{i}.txt").write_text(_text(i))
    (root / "empty.txt").write_text("")  # skipped: the ledger says why
    return root


def _splitter(embedder: FakeEmbedder, chunk: int = 40) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=chunk, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens))


class CountingRead:
    """Counts the files the build hands to the reader (wraps :func:`ingest.read.read_files`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import retrieval.build as build

        self.files: list[str] = []
        original = ingest.read.read_files

        def counting(paths, **kw):  # noqa: ANN001, ANN202
            self.files += [os.fsdecode(p) for p in paths]
            return original(paths, **kw)

        monkeypatch.setattr(build, "read_files", counting)


def _build(corpus: Path, idx: Path, embedder: FakeEmbedder | None = None, chunk: int = 40, **kw):  # noqa: ANN202
    embedder = embedder or FakeEmbedder()
    return build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder, chunk),
                       ingest=IngestSettings(isolate=False), **kw)


def _ids_by_source(idx: Path) -> dict[str, set[str]]:
    reader = IndexReader(idx)
    try:
        out: dict[str, set[str]] = {}
        for p in reader.all_passages():
            out.setdefault(p.source, set()).add(p.id)
        return out
    finally:
        reader.close()


def test_second_run_reads_and_embeds_nothing_and_leaves_the_index_as_it_was(corpus: Path, tmp_path: Path,
                                                                          monkeypatch):
    idx = tmp_path / "idx"
    first = _build(corpus, idx)
    assert first.parsed == 7 and first.embedded == first.passages > 0
    assert dict(first.skipped) == {str(corpus / "empty.txt"): "empty file (no text to index)"}
    manifest = (idx / "manifest.json").read_text()
    reads, embedder = CountingRead(monkeypatch), FakeEmbedder()
    again = _build(corpus, idx, embedder)
    assert reads.files == [] and embedder.calls == 0
    assert (again.parsed, again.embedded, again.removed, again.unchanged) == (0, 0, 0, 7)
    assert again.plan is not None and again.plan.up_to_date
    assert (idx / "manifest.json").read_text() == manifest  # not even a new build
    assert again.skipped == first.skipped
    assert not (idx / STAGING).exists()


def test_touched_but_equal_file_is_hashed_not_read(corpus: Path, tmp_path: Path, monkeypatch):
    idx = tmp_path / "idx"
    _build(corpus, idx)
    path = corpus / "doc1.txt"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    reads = CountingRead(monkeypatch)
    assert _build(corpus, idx).parsed == 0 and reads.files == []


def test_one_file_edit_re_embeds_only_that_file(corpus: Path, tmp_path: Path, monkeypatch):
    idx = tmp_path / "idx"
    _build(corpus, idx)
    before = _ids_by_source(idx)
    edited = corpus / "doc2.txt"
    edited.write_text(edited.read_text() + "\n\nA new closing paragraph about copper tolls on the river ferry.")
    reads, embedder = CountingRead(monkeypatch), FakeEmbedder()
    report = _build(corpus, idx, embedder)
    assert reads.files == [str(edited)] and report.parsed == 1
    after = _ids_by_source(idx)
    changed = after[str(edited)] - before[str(edited)]
    assert 0 < report.embedded == embedder.embedded <= len(changed)  # unchanged paragraphs keep their vectors
    assert {s: ids for s, ids in after.items() if s != str(edited)} == \
        {s: ids for s, ids in before.items() if s != str(edited)}
    reader = IndexReader(idx)  # every vector is its passage's, reused or not
    fake = FakeEmbedder()
    for p, v in zip(reader.all_passages(), reader.vectors(), strict=True):
        assert np.allclose(v, fake.embed_passages([embedding_text(p)])[0]), p.source
    reader.close()


def test_deleted_file_loses_its_passages_and_add_keeps_them(corpus: Path, tmp_path: Path):
    idx = tmp_path / "idx"
    _build(corpus, idx)
    gone = corpus / "doc3.txt"
    kept_elsewhere = tmp_path / "other.txt"
    kept_elsewhere.write_text(_text(99))
    added = build_index([kept_elsewhere], idx, embedder=FakeEmbedder(), splitter=_splitter(FakeEmbedder()),
                        ingest=IngestSettings(isolate=False), add=True)
    assert added.parsed == 1 and added.removed == 0 and str(gone) in _ids_by_source(idx)
    gone.unlink()
    embedder = FakeEmbedder()
    report = _build(corpus, idx, embedder)
    assert report.removed == 2 and report.parsed == 0 and embedder.calls == 0  # doc3 and other.txt
    reasons = {f.source: f.reason for f in report.plan.files if f.action == "delete"}
    assert reasons == {str(gone): "file no longer exists", str(kept_elsewhere): "not among the paths named"}
    assert str(gone) not in _ids_by_source(idx) and str(kept_elsewhere) not in _ids_by_source(idx)
    assert str(gone) not in {e.source for e in ledger(IndexReader(idx))}


def test_splitter_change_re_splits_everything_and_embedder_change_re_embeds_without_reading(
        corpus: Path, tmp_path: Path, monkeypatch):
    idx = tmp_path / "idx"
    first = _build(corpus, idx)
    reads = CountingRead(monkeypatch)
    resplit = _build(corpus, idx, chunk=24)
    assert resplit.parsed == 7 and len(reads.files) == 7
    assert all("splitter settings changed (chunk_tokens: 40 -> 24)" in f.reason for f in resplit.plan.files
               if f.action == "update")
    assert resplit.passages > first.passages
    reads.files.clear()
    other = FakeEmbedder(name="other")
    reembedded = _build(corpus, idx, other, chunk=24)
    assert reads.files == [] and reembedded.parsed == 0
    assert reembedded.embedded == other.embedded == resplit.passages
    assert IndexReader(idx).manifest.embedder["model"] == "other"
    assert {f.action for f in reembedded.plan.files} == {"update", "skip"}


def test_answer_and_search_settings_change_nothing(corpus: Path, tmp_path: Path, capsys, monkeypatch):
    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    monkeypatch.setenv("DOCQA_EMBED_BACKEND", "fake")
    with registered(EMBEDDERS, "fake", lambda settings, *rest: embedder):
        assert main(["index", str(corpus), "--index", str(idx), "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        manifest = (idx / "manifest.json").read_text()
        calls = embedder.calls
        monkeypatch.setenv("DOCQA_ANSWER_TOP_K", "3")
        monkeypatch.setenv("DOCQA_SEARCH_MODE", "bm25")
        monkeypatch.setenv("DOCQA_ANSWER_COMPUTE", "false")
        assert main(["index", str(corpus), "--index", str(idx), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
    assert first["parsed"] == 7 and first["embedded"] > 0
    assert (again["parsed"], again["embedded"], again["removed"], again["skipped_unchanged"]) == (0, 0, 0, 7)
    assert again["up_to_date"] and embedder.calls == calls
    assert (idx / "manifest.json").read_text() == manifest


def test_plan_matches_what_the_run_then_does(corpus: Path, tmp_path: Path, capsys, monkeypatch):
    idx = tmp_path / "idx"
    embedder = FakeEmbedder()
    monkeypatch.setenv("DOCQA_EMBED_BACKEND", "fake")
    with registered(EMBEDDERS, "fake", lambda settings, *rest: embedder):
        assert main(["index", str(corpus), "--index", str(idx), "--json"]) == 0
        capsys.readouterr()
        (corpus / "doc0.txt").write_text(_text(50))  # update
        (corpus / "doc1.txt").unlink()  # delete
        (corpus / "new.txt").write_text(_text(51))  # add
        listing = sorted(os.listdir(idx))
        assert main(["index", str(corpus), "--index", str(idx), "--plan", "--json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert sorted(os.listdir(idx)) == listing  # a plan writes nothing
        actions = {f["source"]: (f["action"], f["reason"]) for f in plan["files"]}
        assert actions[str(corpus / "doc0.txt")] == ("update", "content changed")
        assert actions[str(corpus / "doc1.txt")] == ("delete", "file no longer exists")
        assert actions[str(corpus / "new.txt")] == ("add", "new file")
        assert actions[str(corpus / "empty.txt")][0] == "skip"
        assert plan["counts"] == {"add": 1, "update": 1, "delete": 1, "skip": 5, "keep": 0}
        assert main(["index", str(corpus), "--index", str(idx), "--plan"]) == 0
        text = capsys.readouterr().out
        assert "1 add, 1 update, 1 delete, 5 skip" in text and f"delete {corpus / 'doc1.txt'}" in " ".join(
            text.split())
        assert main(["index", str(corpus), "--index", str(idx), "--json"]) == 0
        done = json.loads(capsys.readouterr().out)
        assert done["plan"] == plan["counts"]
        assert (done["parsed"], done["removed"], done["skipped_unchanged"]) == (2, 1, 5)
        assert main(["status", "--index", str(idx), "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
    by_source = {f["source"]: f for f in status["files"]}
    assert status["counts"]["indexed"] == 6 and status["counts"]["skipped"] == 1
    assert by_source[str(corpus / "empty.txt")]["reason"] == "empty file (no text to index)"
    new = by_source[str(corpus / "new.txt")]
    assert new["status"] == "indexed" and new["passages"] > 0 and new["seconds"] >= 0
    assert str(corpus / "doc1.txt") not in by_source


def test_status_lists_failures_and_their_reasons(tmp_path: Path, capsys, monkeypatch):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The lighthouse keeper was Ida Marsh.\n")
    (corpus / "data.bin").write_bytes(bytes(range(256)) * 4)
    embedder = FakeEmbedder()
    monkeypatch.setenv("DOCQA_EMBED_BACKEND", "fake")
    with registered(EMBEDDERS, "fake", lambda settings, *rest: embedder):
        assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
        capsys.readouterr()
        assert main(["status", "--index", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert f"indexed  {corpus / 'good.txt'}: 1 passages" in out
    assert f"skipped  {corpus / 'data.bin'}: binary file" in out
    assert "1 indexed, 1 skipped" in out


def test_plan_of_a_missing_index_adds_everything(corpus: Path, tmp_path: Path):
    embedder = FakeEmbedder()
    plan = plan_build([corpus], tmp_path / "none", embedder_id=embedder.identity(),
                      splitter_id=_splitter(embedder).identity())
    assert plan.counts()["add"] == 7 and not plan.up_to_date
    assert not (tmp_path / "none").exists()


def test_another_profile_describer_re_reads_every_file_and_says_why(corpus: Path, tmp_path: Path):
    from ingest.describe import FilingsDescriber

    embedder = FakeEmbedder()
    idx = tmp_path / "idx"
    build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder))  # the general description
    same = plan_build([corpus], idx, embedder_id=embedder.identity(), splitter_id=_splitter(embedder).identity())
    assert same.up_to_date
    other = plan_build([corpus], idx, embedder_id=embedder.identity(), splitter_id=_splitter(embedder).identity(),
                       describer="filings")
    updated = [f for f in other.files if f.action == "update"]
    assert updated and all(f.reason == "read settings changed (the profile's describer, now filings)"
                           for f in updated)
    report = build_index([corpus], idx, embedder=embedder, splitter=_splitter(embedder), describer=FilingsDescriber())
    assert report.parsed == len(updated) and report.embedded == 0  # the text embedded is unchanged: vectors reused
