"""The writer spills vectors to a file instead of memory (issue 25, the 5M build): the spill file reads back
exactly, the writer's memory does not grow with the vectors, the dense index made from the file is the one
the vectors give, and a failed or killed build leaves no spill file behind and the old index intact."""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.queues
import os
import signal
from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval.dense import VectorFile, exact_top
from retrieval.store import IndexReader, IndexWriter
from tests.synthetic import generated_documents, topic_chunks, topic_vectors, write_generated


def _spills(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.spill.tmp"))


def test_a_vector_file_reads_back_rows_chunks_and_the_exact_top_k(tmp_path: Path) -> None:
    x = topic_vectors(5_000, 16)
    spill = VectorFile(tmp_path / "v.spill.tmp", 16)
    for start in range(0, len(x), 777):  # appends of uneven size
        spill.append(x[start:start + 777])
    spill.append(np.zeros((0, 16), np.float32))
    assert spill.rows == 5_000 and (tmp_path / "v.spill.tmp").stat().st_size == x.nbytes
    assert np.array_equal(spill.read(4_990, 100), x[4_990:])
    rows = np.array([0, 1, 2, 9, 4_999, 10])
    assert np.array_equal(spill.take(rows), x[rows])
    assert np.array_equal(np.concatenate([c for _, c in spill.chunks(1_024)]), x)
    with pytest.raises(IndexError):
        spill.take([5_000])
    flat = faiss.IndexFlatIP(16)
    flat.add(x)
    queries = x[[3, 700, 4_321]]
    _, want = flat.search(queries, 11)
    assert np.array_equal(exact_top(spill, queries, 11, chunk=512), want)
    spill.remove()
    assert not (tmp_path / "v.spill.tmp").exists()


def _rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def _add_and_measure(directory: str, n: int, dim: int, out: multiprocessing.queues.Queue) -> None:
    """In a fresh process (a heap no other test has grown): add ``n`` generated vectors to a writer; report
    how much its anonymous memory grew, its spill files and whether it holds a FAISS index; then commit."""
    writer = IndexWriter(Path(directory), dim)
    chunks = topic_chunks(n, dim)
    buffer = np.zeros((0, dim), np.float32)
    gc.collect()
    before = _rss_anon()
    for doc, passages in generated_documents(n, per_doc=200):
        if len(buffer) < len(passages):
            buffer = np.concatenate([buffer, next(chunks)])
        writer.add_document(doc)
        writer.add_passages(passages, buffer[:len(passages)])
        buffer = buffer[len(passages):]
    del buffer
    gc.collect()
    grown = _rss_anon() - before
    spills = _spills(Path(directory))
    spill_bytes = sum((Path(directory) / name).stat().st_size for name in spills)
    holds_index = any(isinstance(v, faiss.Index) for v in vars(writer).values())
    manifest = writer.commit(embedder={"model": "generated", "dim": dim}, splitter={"name": "generated"})
    out.put({"grown": grown, "spills": spills, "spill_bytes": spill_bytes, "build": writer.build,
             "holds_index": holds_index,
             "kind": manifest.dense["kind"]})


def test_the_writer_does_not_hold_the_vectors_in_memory(tmp_path: Path) -> None:
    n, dim = 200_000, 64
    vector_bytes = n * dim * 4  # 51 MB
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    child = spawn.Process(target=_add_and_measure, args=(str(tmp_path), n, dim, out))
    child.start()
    found = out.get(timeout=300)
    child.join(timeout=60)
    assert child.exitcode == 0
    # the vectors went to the spill file: nothing in the writer is a FAISS index, and its memory grew by far
    # less than the vectors (the old writer's in-memory flat index grew it by all of them)
    assert found["spills"] == [f"vectors-{found['build']}.spill.tmp"] and found["spill_bytes"] == vector_bytes
    assert not found["holds_index"]
    assert found["grown"] < vector_bytes * 0.4, (
        f"anonymous memory grew by {found['grown']} while adding {vector_bytes} of vectors")
    assert found["kind"] == "flat" and _spills(tmp_path) == []
    reader = IndexReader(tmp_path)
    assert len(reader) == n and np.array_equal(reader.vectors()[123_456], topic_vectors(n, dim)[123_456])
    reader.close()


def _build_then_die(directory: str, ready: multiprocessing.synchronize.Event) -> None:
    writer = IndexWriter(Path(directory), 16)
    for doc, passages in generated_documents(3_000):
        writer.add_document(doc)
        writer.add_passages(passages, np.ones((len(passages), 16), np.float32) / 4)
    ready.set()
    os.kill(os.getpid(), signal.SIGKILL)  # killed before commit


def test_a_build_killed_before_commit_leaves_the_old_index_intact_and_no_spill_file_in_use(tmp_path: Path) -> None:
    old = write_generated(tmp_path, 2_000, 16)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_build_then_die, args=(str(tmp_path), ready))
    child.start()
    child.join(60)
    assert ready.is_set() and child.exitcode == -signal.SIGKILL
    # the killed build's files are there (nobody holds them: its process is gone), the old build is untouched
    spills = _spills(tmp_path)
    assert len(spills) == 1 and (tmp_path / spills[0]).stat().st_size == 3_000 * 16 * 4
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before} == before
    reader = IndexReader(tmp_path)
    assert reader.manifest.build == old.build and len(reader) == 2_000
    assert reader.dense(topic_vectors(2_000, 16)[7], 1)[0][0] == 7
    reader.close()
    # the next writer removes the dead build's spill file at once, and its own on commit
    writer = IndexWriter(tmp_path, 16)
    assert _spills(tmp_path) == [f"vectors-{writer.build}.spill.tmp"]
    writer.abort()
    assert _spills(tmp_path) == []
    write_generated(tmp_path, 1_000, 16)
    assert _spills(tmp_path) == [] and not list(tmp_path.glob("*.tmp"))


def test_a_build_that_fails_in_commit_removes_its_spill_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = write_generated(tmp_path, 1_000, 16)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(faiss, "write_index", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_generated(tmp_path, 1_500, 16)
    assert not list(tmp_path.glob("*.tmp"))
    assert IndexReader(tmp_path).manifest.build == old.build
