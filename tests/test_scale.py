"""Large indexes: the approximate dense index (switch-over, recall against exact search, centroids reused),
and opening plus scoped search of a 100k-passage index without reading the corpus into memory."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import faiss
import numpy as np
import pytest

from ingest.core.settings import SearchSettings
from retrieval.dense import FLAT, IVF, DenseConfig, dense_kind, gpu_count, recall_at
from retrieval.scope import Scope
from retrieval.search import Searcher
from retrieval.store import DocPassages, IndexReader
from tests.fakes import FakeEmbedder
from tests.synthetic import topic_vectors, write_generated

DIM = 32


def test_the_dense_index_switches_to_ivf_past_the_threshold(tmp_path: Path) -> None:
    config = DenseConfig(approximate_above=2_000)
    at = write_generated(tmp_path / "at", 2_000, DIM, dense=config)
    past = write_generated(tmp_path / "past", 2_001, DIM, dense=config)
    never = write_generated(tmp_path / "never", 2_001, DIM, dense=DenseConfig(approximate_above=0))
    assert at.dense["kind"] == FLAT and never.dense["kind"] == FLAT
    assert past.dense["kind"] == IVF and past.dense["nlist"] == 2_001 // 39
    reader = IndexReader(tmp_path / "past")
    assert isinstance(reader._vectors, faiss.IndexIVFFlat) and reader.approximate and len(reader) == 2_001
    reader.close()


@pytest.fixture(scope="module")
def ivf_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ivf")
    write_generated(directory, 20_000, DIM, dense=DenseConfig(approximate_above=5_000, target_recall=0.95))
    return directory


def test_ivf_recall_at_10_against_flat_on_new_queries(ivf_index: Path) -> None:
    reader = IndexReader(ivf_index)
    dense = reader.manifest.dense
    assert dense["kind"] == IVF and dense["recall_at_10"] >= 0.95 and dense["recall_sample"] == 200
    assert dense["trained"] == "this build" and 1 <= dense["nprobe"] <= dense["nlist"]
    assert dense["device"] == ("gpu" if gpu_count() else "cpu")  # where k-means and list assignment ran
    vectors = topic_vectors(20_000, DIM)  # the same generator and seed: the stored vectors
    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    rng = np.random.default_rng(7)
    queries = vectors[rng.choice(len(vectors), 100, replace=False)] + rng.standard_normal((100, DIM)).astype(
        np.float32) * 0.05
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, exact = flat.search(queries, 10)
    found = np.array([[r for r, _ in reader.dense(q, 10)] for q in queries])
    assert recall_at(found, exact) >= 0.9
    reader.close()


def test_a_scoped_search_of_an_ivf_index_is_exact_inside_the_scope(ivf_index: Path) -> None:
    reader = IndexReader(ivf_index)
    rows = reader.document_rows(["d-000003", "d-000500"])
    assert len(rows) == 40
    query = topic_vectors(20_000, DIM)[65]  # a passage of d-000003
    got = reader.dense(query, 5, rows=rows)
    vecs = reader.vectors()[rows]
    want = np.asarray(rows)[np.argsort(-(vecs @ query), kind="stable")[:5]]
    assert [r for r, _ in got] == list(want) and got[0][0] == 65
    reader.close()


def test_a_rebuild_reuses_the_trained_centroids(ivf_index: Path, tmp_path: Path) -> None:
    previous = IndexReader(ivf_index)
    again = write_generated(tmp_path / "again", 22_000, DIM, previous=previous, seed=1,
                            dense=DenseConfig(approximate_above=5_000))
    previous.close()
    assert again.dense["trained"].startswith("centroids reused from build ")
    assert again.dense["trained_on"] == 0 and again.dense["recall_at_10"] >= 0.9


def test_dense_kind_threshold() -> None:
    assert dense_kind(10, 9) == IVF and dense_kind(9, 9) == FLAT and dense_kind(10**7, 0) == FLAT
    with pytest.raises(ValueError, match="target_recall"):
        DenseConfig(target_recall=0.0)
    assert SearchSettings().approximate_above == DenseConfig().approximate_above


# -- nothing loads the whole corpus -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("big")
    write_generated(directory, 100_000, 64)
    return directory


def _index_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def _rss_anon() -> int:
    """Anonymous resident memory of this process (what mapped index files do not count in)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def test_a_100k_passage_index_opens_and_answers_a_scoped_search_without_loading_it(big_index: Path) -> None:
    size = _index_bytes(big_index)
    assert size > 30_000_000  # vectors alone: 100k x 64 floats
    gc.collect()
    rss0 = _rss_anon()
    tracemalloc.start()
    try:
        reader = IndexReader(big_index)
        _, open_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        searcher = Searcher(reader, FakeEmbedder(dim=64), SearchSettings(mode="hybrid"))
        found = searcher.retrieve("figure ledger revenue", 5, scope=Scope.of(["gen/doc-004321.pdf"], ["table"]))
        by_doc = DocPassages(reader)
        neighbours = by_doc["d-004321"]
        whole = searcher.retrieve("turbine harbour", 5)
        _, search_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = _rss_anon() - rss0
    assert found.hits and all(h.passage.doc_id == "d-004321" and h.passage.kind == "table" for h in found.hits)
    assert len(neighbours) == 20 and [p.chars for p in neighbours] == sorted(p.chars for p in neighbours)
    assert len(by_doc) == 5_000 and len(whole.hits) == 5
    # opening reads the manifest and a scope is matched against it (one entry per document: 5,000 here);
    # nothing is read per passage (the passages as objects would take about the index's size)
    assert open_peak < size * 0.1, f"opening allocated {open_peak} for an index of {size} bytes"
    assert search_peak < size * 0.1, f"searching allocated {search_peak} for an index of {size} bytes"
    assert rss_growth < size * 0.25, f"anonymous memory grew by {rss_growth} for an index of {size} bytes"
    reader.close()


@pytest.mark.gpu
def test_a_gpu_trains_and_fills_the_ivf_index_as_the_cpu_would(tmp_path: Path) -> None:
    """Where FAISS sees a GPU, k-means and list assignment run there; the stored index is the same kind of CPU
    index with the recall the build tunes for."""
    if not gpu_count():
        pytest.skip("FAISS sees no GPU (a CPU build of FAISS, or no GPU)")
    manifest = write_generated(tmp_path / "gpu", 20_000, DIM, dense=DenseConfig(approximate_above=5_000))
    assert manifest.dense["device"] == "gpu" and manifest.dense["recall_at_10"] >= 0.95
    reader = IndexReader(tmp_path / "gpu")
    assert isinstance(reader._vectors, faiss.IndexIVFFlat) and len(reader) == 20_000
    reader.close()
