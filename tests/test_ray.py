"""The Ray engine on a real local Ray cluster (two CPUs on 127.0.0.1, started once for the module): the same
index as the local engine, incremental and resumable builds, and a killed worker leaving the index intact."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.core.errors import IndexStoreError, InputError
from ingest.core.settings import IndexSettings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import BuildReport, build_index
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]
POISON = "KILL-THE-EMBEDDER"


def _splitter(embedder: FakeEmbedder) -> DocumentSplitter:
    s = SplitSettings(chunk_tokens=40, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens))


def fake_parts() -> tuple[FakeEmbedder, DocumentSplitter, None]:
    """What each Ray worker builds (module-level: Ray pickles it by reference)."""
    embedder = FakeEmbedder()
    return embedder, _splitter(embedder), None


class DyingEmbedder(FakeEmbedder):
    """Kills its own process when asked to embed the poison text (a worker lost mid-build)."""

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        if any(POISON in t for t in texts):
            os._exit(1)
        return super().embed_passages(texts)


def dying_parts() -> tuple[FakeEmbedder, DocumentSplitter, None]:
    embedder = DyingEmbedder()
    return embedder, _splitter(embedder), None


class OnceDyingEmbedder(FakeEmbedder):
    """Kills its own process the first time it embeds (its marker file then says so): a worker lost once."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = Path(marker)

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        if not self.marker.exists():
            self.marker.write_text("died")
            os._exit(1)
        return super().embed_passages(texts)


def once_dying_parts(marker: str) -> tuple[FakeEmbedder, DocumentSplitter, None]:
    embedder = OnceDyingEmbedder(marker)
    return embedder, _splitter(embedder), None


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    ray.init(num_cpus=2, address="local", include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _engine(parts=fake_parts, key="fake", **settings):  # type: ignore[no-untyped-def]
    from retrieval.ray_engine import RayEngine

    return RayEngine(parts, key, IndexSettings(engine="ray", **{"files_per_task": 2, **settings}), max_retries=1)


def _corpus(root: Path, n: int = 9) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    topics = ["kestrels hover over the fields", "clippers carried tea from China", "glaciers carve valleys",
              "copper wire carries current", "orchards need bees"]
    for i in range(n):
        body = "\n\n".join(f"Section {j} of file {i}. The {topics[(i + j) % len(topics)]}; note {i * 10 + j} "
                           f"says more about {topics[(i * 3 + j) % len(topics)]}." for j in range(6))
        (root / f"file-{i:02d}.{'md' if i % 3 == 0 else 'txt'}").write_text(f"# File {i}\n\n{body}\n")
    return root


def _build(paths: list[Path], idx: Path, engine=None) -> BuildReport:  # type: ignore[no-untyped-def]
    embedder = FakeEmbedder()
    try:
        return build_index(paths, idx, embedder=embedder, splitter=_splitter(embedder), engine=engine)
    finally:
        if engine is not None:
            engine.close()


def _contents(idx: Path) -> tuple[list[tuple[object, ...]], np.ndarray]:
    reader = IndexReader(idx)
    try:
        passages = [(p.id, p.doc_id, p.source, p.text, p.chars, p.page, p.lines, p.kind, p.header)
                    for p in reader.all_passages()]
        return passages, reader.vectors()
    finally:
        reader.close()


def _assert_same(a: Path, b: Path) -> None:
    pa, va = _contents(a)
    pb, vb = _contents(b)
    assert pa == pb and len(pa) > 20
    np.testing.assert_allclose(va, vb, atol=1e-6)


def test_ray_and_local_engines_build_the_same_index(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "corpus")
    local = _build([corpus], tmp_path / "local")
    engine = _engine(embed_actors=2)
    remote = _build([corpus], tmp_path / "ray", engine)
    assert engine.stats["read_tasks"] == 5 and engine.stats["files"] == 9
    assert (remote.documents, remote.passages, remote.parsed) == (local.documents, local.passages, local.parsed)
    _assert_same(tmp_path / "local", tmp_path / "ray")

    # incremental: one file changed, one added, one removed; both engines do only that
    (corpus / "file-01.txt").write_text("# File 1\n\nThe kestrel changed its mind about the fields.\n")
    (corpus / "file-09.txt").write_text("# File 9\n\nA new file about copper and bees.\n")
    (corpus / "file-02.txt").unlink()
    local2 = _build([corpus], tmp_path / "local")
    remote2 = _build([corpus], tmp_path / "ray", _engine())
    for report in (local2, remote2):
        assert (report.parsed, report.removed, report.unchanged) == (2, 1, 7)
    assert remote2.embedded == local2.embedded
    _assert_same(tmp_path / "local", tmp_path / "ray")


def test_a_long_pdf_is_split_by_page_range_tasks_into_the_local_engines_passages(
        cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_pdf

    corpus = _corpus(tmp_path / "corpus", 3)
    pages = [f"Page {n} of the survey. The kestrels hover over field {n}; {n * 7} were counted at dawn, and "
             f"the orchard beside it needs {n + 2} hives of bees." * (1 + n % 3) for n in range(1, 13)]
    pages[4] = ""  # a page without text: ranges are counted in pages with text
    write_pdf(corpus / "survey.pdf", pages)
    local = _build([corpus], tmp_path / "local")
    engine = _engine(pdf_pages_per_task=4)
    remote = _build([corpus], tmp_path / "ray", engine)
    assert engine.stats["page_range_tasks"] == 3 and engine.stats["files"] == 4  # 11 pages with text: 4 + 4 + 3
    assert (remote.documents, remote.passages) == (local.documents, local.passages)
    _assert_same(tmp_path / "local", tmp_path / "ray")  # ids, text, offsets, pages, headers and vectors, in order
    readers = [IndexReader(tmp_path / name) for name in ("local", "ray")]
    try:
        assert readers[0].manifest.sources == readers[1].manifest.sources  # the document's meta and pages too
        pdf = [p for p in readers[1].all_passages() if p.source.endswith("survey.pdf")]
        assert [p.page for p in pdf] == sorted(p.page for p in pdf) and {p.page for p in pdf} == set(range(1, 13)) - {5}
    finally:
        for reader in readers:
            reader.close()


def test_a_killed_embedding_worker_leaves_the_index_intact_and_the_build_resumes(
        cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "corpus", 4)
    idx = tmp_path / "idx"
    _build([corpus], idx)
    before = (idx / "manifest.json").read_text()
    (corpus / "file-05.txt").write_text(f"# Poison\n\n{POISON} takes the embedding worker down.\n")
    (corpus / "file-06.txt").write_text("# Six\n\nA file read in the same build as the poison.\n")
    with pytest.raises(IndexStoreError, match="worker died"):
        _build([corpus], idx, _engine(dying_parts, "dying"))
    assert (idx / "manifest.json").read_text() == before  # the old build is still the index
    reader = IndexReader(idx)
    assert len({p.doc_id for p in reader.all_passages()}) == 4
    reader.close()
    (corpus / "file-05.txt").write_text("# Five\n\nNo poison any more.\n")
    resumed = _build([corpus], idx, _engine())
    assert resumed.resumed == 1 and resumed.parsed == 1  # file-06 was read before the worker died
    _assert_same(idx, _build_fresh(corpus, tmp_path / "fresh"))


def test_an_embedding_worker_that_dies_once_is_restarted_and_the_build_finishes(
        cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "corpus", 4)
    marker = tmp_path / "died"
    report = _build([corpus], tmp_path / "idx", _engine(functools.partial(once_dying_parts, str(marker)), "once"))
    assert marker.read_text() == "died" and report.parsed == 4  # the actor died, Ray restarted it, the batch reran
    _assert_same(tmp_path / "idx", _build_fresh(corpus, tmp_path / "fresh"))


def _build_fresh(corpus: Path, idx: Path) -> Path:
    _build([corpus], idx)
    return idx


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.ray_engine import RayEngine

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r'pip install "docqa\[ray\]"'):
        RayEngine(fake_parts, "fake", IndexSettings(engine="ray"))


def test_docqa_index_engine_ray_without_ray_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    corpus = _corpus(tmp_path / "corpus", 1)
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--engine", "ray", "--quiet"]) == 1
    assert 'pip install "docqa[ray]"' in capsys.readouterr().err
    assert not (tmp_path / "idx" / "manifest.json").exists()
