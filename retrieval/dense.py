"""The dense index of a build: exact (FAISS flat) up to a passage count, approximate (FAISS IVF) past it.

An index of up to ``[search] approximate_above`` passages is searched exactly (``IndexFlatIP``). Past it,
the build trains an inverted-file index (``IndexIVFFlat``, inner product: vectors are compared at full
precision inside the lists probed, so a hit's score is its exact score) and tunes how many lists a search
probes (``nprobe``) on a sample of its own vectors until recall@10 against exact search reaches
``[search] approximate_recall``. The kind, its parameters and the recall measured go into the manifest
(``dense``), so what a search trades away is on record.

Why IVF-Flat and not HNSW or IVF-PQ (bench/RESULTS.md, issue 25, "Why IVF-Flat"): on 200,000 generated
vectors HNSW built no faster, reached a lower recall@10 (0.82-0.85 against 1.0) and cannot drop vectors;
IVF-PQ's compressed codes kept 0.41 of it, with scores that are not the exact ones. IVF also maps from disk
list by list (``IO_FLAG_MMAP``), so opening a 1M-passage index reads only its centroids and row map, and a
search touches only the lists it probes.

Where a GPU build of FAISS sees GPUs, k-means and the assignment of rows to lists run on them (``clustering_index``
and a GPU copy of the quantizer); the index stored is the same CPU ``IndexIVFFlat`` (``device`` in the record).

Incremental builds renumber the rows, so the vectors are added again; the trained centroids of the
previous build are reused while the passage count stays within a factor of two of the one they were
trained on (recorded as ``trained``), else the build trains afresh and says so.

A build's vectors are not kept in memory while it runs: the writer appends them to a :class:`VectorFile`
(raw float32 rows in a temporary file beside the build's other files), and the dense index is made from it
at the end: IVF trained on a sample of its rows, filled chunk by chunk, its recall measured against an exact
scan of the file chunk by chunk; a flat index filled from it chunk by chunk. A build's memory is therefore one
copy of the vectors (the index being built) plus a chunk, not two.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FLAT = "flat"
IVF = "ivf-flat"
RECALL_K = 10
_NPROBES = (4, 8, 16, 32, 64, 128, 256, 512)
_TRAIN_PER_LIST = 40  # training points per list (FAISS warns below 39)
_ADD_CHUNK = 32_768  # vectors read from the spill file at a time


@dataclass(frozen=True)
class DenseConfig:
    """How a build chooses and tunes its dense index (from ``[search]``).

    :param approximate_above: past this many passages the index is IVF (0: always exact).
    :param target_recall: the recall@10 against exact search the build tunes ``nprobe`` for.
    :param sample: vectors of the index used as queries to measure recall.
    """

    approximate_above: int = 200_000
    target_recall: float = 0.95
    sample: int = 200

    def __post_init__(self) -> None:
        if self.approximate_above < 0:
            raise ValueError(f"approximate_above must be >= 0, got {self.approximate_above}")
        if not 0.0 < self.target_recall <= 1.0:
            raise ValueError(f"target_recall must be in (0, 1], got {self.target_recall}")
        if self.sample < 1:
            raise ValueError(f"sample must be >= 1, got {self.sample}")


def dense_kind(passages: int, approximate_above: int) -> str:
    """The dense index kind for a build of ``passages`` passages.

    >>> dense_kind(200_000, 200_000), dense_kind(200_001, 200_000), dense_kind(10**9, 0)
    ('flat', 'ivf-flat', 'flat')
    """
    return IVF if approximate_above and passages > approximate_above else FLAT


def ivf_lists(passages: int) -> int:
    """Inverted lists for ``passages`` vectors: about 4·sqrt(n) (FAISS's guideline), at least 1, and no more
    than leaves each list 39 training points.

    >>> ivf_lists(1_000_000), ivf_lists(100), ivf_lists(10)
    (4000, 2, 1)
    """
    return max(1, min(int(4 * math.sqrt(passages)), passages // 39))


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each row of ``exact`` (ids, -1 for none) that the same row of ``found`` holds.

    >>> recall_at(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1, 2, 9], [4, 5, 6]]))  # doctest: +ELLIPSIS
    0.8333...
    """
    scores = []
    for got, want in zip(found, exact, strict=True):
        wanted = {int(i) for i in want if i >= 0}
        if wanted:
            scores.append(len(wanted & {int(i) for i in got}) / len(wanted))
    return float(np.mean(scores)) if scores else 1.0


def _without(ids: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Each row of ``ids`` without its own query row, cut to ``k`` (a vector always finds itself first)."""
    return np.stack([np.array([i for i in row if i != own][:k] + [-1] * k, dtype=np.int64)[:k]
                     for row, own in zip(ids, rows, strict=True)])


class VectorFile:
    """A build's vectors as raw float32 rows appended to a file (``path``, created empty), read back in chunks
    or by row: the writer's copy of the vectors lives on disk, not in memory.

    Reads go through ``pread`` into fresh arrays rather than a memory map, so pages of the file a build reads
    (a training sample, a chunk) do not stay counted in the process's resident memory.

    :param path: the file (created or truncated; removed by :meth:`remove`).
    :param dim: the vectors' dimension.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.rows = path, dim, 0
        self._row_bytes = 4 * dim
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)

    def append(self, vectors: np.ndarray) -> None:
        """Append rows (``len(vectors)`` x ``dim``)."""
        data = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not data.size:
            return
        view = data.reshape(-1).data.cast("B")
        offset = self.rows * self._row_bytes
        while len(view):
            written = os.pwrite(self._open(), view, offset)
            view, offset = view[written:], offset + written
        self.rows += len(data)

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows ``start`` to ``start + count`` (clipped to the rows written)."""
        count = max(0, min(count, self.rows - start))
        out = np.empty((count, self.dim), dtype=np.float32)
        if out.size:
            self._pread_into(out.reshape(-1).data.cast("B"), start * self._row_bytes)
        return out

    def take(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The rows ``rows``, in the order given (one read per run of consecutive rows)."""
        ids = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        if not out.size:
            return out
        flat = out.reshape(-1).data.cast("B")
        i = 0
        while i < len(ids):
            j = i + 1
            while j < len(ids) and ids[j] == ids[j - 1] + 1:
                j += 1
            if ids[i] < 0 or ids[j - 1] >= self.rows:
                raise IndexError(f"rows {ids[i]}..{ids[j - 1]} outside 0..{self.rows - 1}")
            self._pread_into(flat[i * self._row_bytes:j * self._row_bytes], int(ids[i]) * self._row_bytes)
            i = j
        return out

    def chunks(self, size: int = 65_536) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, rows)`` over the whole file, ``size`` rows at a time."""
        for start in range(0, self.rows, size):
            yield start, self.read(start, size)

    def _open(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: closed")
        return self._fd

    def _pread_into(self, view: memoryview, offset: int) -> None:
        fd = self._open()
        while len(view):
            got = os.preadv(fd, [view], offset)
            if got <= 0:
                raise OSError(f"{self.path}: short read at byte {offset}")
            view, offset = view[got:], offset + got

    def close(self) -> None:
        """Close the file (it stays on disk until :meth:`remove`)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Close and delete the file."""
        self.close()
        self.path.unlink(missing_ok=True)


def exact_top(vectors: VectorFile, queries: np.ndarray, k: int, *, chunk: int = 65_536) -> np.ndarray:
    """Row ids of the exact top ``k`` of ``vectors`` by inner product with each of ``queries`` (-1 past the
    end), from a scan of the file chunk by chunk (a chunk's scores in memory at a time, never all vectors)."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), -1, dtype=np.int64)
    for start, rows in vectors.chunks(chunk):
        scores = q @ rows.T
        keep = min(k, scores.shape[1])
        part = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        s = np.concatenate([best_s, np.take_along_axis(scores, part, 1)], axis=1)
        i = np.concatenate([best_i, part + start], axis=1)
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


def measure_recall(index: Any, queries: np.ndarray, exact: np.ndarray, sample_rows: np.ndarray, *,
                   nprobe: int | None = None) -> float:
    """recall@10 of ``index`` against ``exact`` (the exact top 11 of each query, :func:`exact_top`), queried
    with ``queries``, the stored vectors of ``sample_rows`` (each query's own row left out of both answers)."""
    import faiss

    ivf: Any = faiss.SearchParametersIVF  # its type stubs do not declare the keywords
    params = ivf(nprobe=nprobe) if nprobe is not None else None
    _, got = index.search(queries, RECALL_K + 1, params=params)
    return recall_at(_without(got, sample_rows, RECALL_K), _without(exact, sample_rows, RECALL_K))


def _centroids(previous: Any, dim: int, nlist: int) -> np.ndarray | None:
    """The previous build's IVF centroids when they suit ``nlist`` lists of ``dim`` (within a factor of 2)."""
    import faiss

    if previous is None or not isinstance(previous, faiss.IndexIVF) or previous.d != dim:
        return None
    if not nlist / 2 <= previous.nlist <= nlist * 2:
        return None
    return np.asarray(previous.quantizer.reconstruct_n(0, previous.nlist), dtype=np.float32)


def build_dense(vectors: VectorFile, config: DenseConfig, *, previous: Any = None, previous_build: str = "",
                seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """The dense index to store for the rows of ``vectors`` (rows = passage rows) and its manifest record,
    filled chunk by chunk from the file.

    :param previous: the previous build's dense index (its centroids are reused when they still suit).
    :param previous_build: its build id, for the record.
    """
    import faiss

    n, dim = vectors.rows, vectors.dim
    if dense_kind(n, config.approximate_above) == FLAT:
        flat = faiss.IndexFlatIP(dim)
        for _, rows in vectors.chunks(_ADD_CHUNK):
            flat.add(rows)
        return flat, {"kind": FLAT, "exact": True}
    nlist = ivf_lists(n)
    rng = np.random.default_rng(seed)
    quantizer = faiss.IndexFlatIP(dim)
    centroids = _centroids(previous, dim, nlist)
    if centroids is not None:  # a flat quantizer holding nlist centroids is trained
        nlist = len(centroids)
        quantizer.add(centroids)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    device = "gpu" if gpu_count() else "cpu"
    if centroids is not None:
        trained, train_rows = f"centroids reused from build {previous_build}", 0
    else:
        train = np.sort(rng.choice(n, size=min(n, nlist * _TRAIN_PER_LIST), replace=False))
        if device == "gpu":  # k-means assigns its points by this index: on the GPUs
            index.clustering_index = _on_gpus(faiss.IndexFlatIP(dim))
        index.train(vectors.take(train))
        if device == "gpu":  # the stored index keeps no GPU index (SWIG takes None as a null pointer)
            index.clustering_index = None  # type: ignore[assignment]
        trained, train_rows = "this build", len(train)
    _fill_lists(index, vectors, assigner=_on_gpus(index.quantizer) if device == "gpu" else None)
    index.make_direct_map()  # reconstruct by row (incremental builds reuse stored vectors)
    sample = np.sort(rng.choice(n, size=min(n, config.sample), replace=False)).astype(np.int64)
    nprobe, recall = tune_nprobe(index, vectors, sample, config.target_recall)
    index.nprobe = nprobe
    return index, {"kind": IVF, "exact": False, "nlist": int(index.nlist), "nprobe": nprobe,
                   "recall_at_10": round(recall, 4), "recall_target": config.target_recall,
                   "recall_sample": len(sample), "trained": trained, "trained_on": train_rows,
                   "passages": n, "device": device}


def gpu_count() -> int:
    """GPUs FAISS can build on: 0 with a CPU build of FAISS (``faiss-cpu``, what docqa installs) or no GPU.

    >>> gpu_count() >= 0
    True
    """
    import faiss

    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None and hasattr(faiss, "StandardGpuResources") else 0


def _on_gpus(index: Any) -> Any:
    """A copy of a flat ``index`` spread over every GPU (for k-means and list assignment; the stored index
    stays a CPU one)."""
    import faiss

    return faiss.index_cpu_to_all_gpus(index)


def _fill_lists(index: Any, vectors: VectorFile, *, assigner: Any = None) -> None:
    """Add every row of ``vectors`` to the trained IVF ``index``, each inverted list sized once.

    :param assigner: an index holding the same centroids that assigns rows to lists (a GPU copy of the
        quantizer; None: the quantizer itself).

    Lists that grow as vectors come are reallocated again and again (each doubling leaves the old block behind
    in the heap): measured on 300,000 vectors, their memory ended 48% above the vectors'. So one pass assigns
    every row to its list (8 bytes a row), each list is allocated at its final size, and a second pass copies
    the rows in with those assignments (no second assignment: the same work as a plain ``add``).
    """
    import faiss

    n, nlist = vectors.rows, int(index.nlist)
    lists = np.empty(n, dtype=np.int64)
    for start, rows in vectors.chunks(_ADD_CHUNK):
        lists[start:start + len(rows)] = (assigner or index.quantizer).assign(rows, 1).ravel()
    invlists = index.invlists
    for number, size in enumerate(np.bincount(lists, minlength=nlist)):
        if size:
            invlists.resize(number, int(size))  # allocates the list's final size ...
            invlists.resize(number, 0)  # ... and keeps it reserved while the rows are added
    for start, rows in vectors.chunks(_ADD_CHUNK):
        assigned = np.ascontiguousarray(lists[start:start + len(rows)])
        index.add_core(len(rows), faiss.swig_ptr(rows), None, faiss.swig_ptr(assigned))


def tune_nprobe(index: Any, vectors: VectorFile, sample: np.ndarray, target: float) -> tuple[int, float]:
    """The smallest ``nprobe`` of a doubling ladder whose recall@10 reaches ``target`` (every list at worst),
    with that recall; the exact answers come from one chunked scan of ``vectors``."""
    nlist = int(index.nlist)
    queries = vectors.take(sample)
    exact = exact_top(vectors, queries, RECALL_K + 1)
    recall = 0.0
    for nprobe in [p for p in _NPROBES if p < nlist] + [nlist]:
        recall = measure_recall(index, queries, exact, sample, nprobe=nprobe)
        if recall >= target:
            return nprobe, recall
    return nlist, recall


def read_dense(path: str, kind: str) -> Any:
    """A stored dense index, memory-mapped: a flat index maps its vectors, an IVF index its lists (pages are
    read as searches touch them, and shared with other processes serving the same index)."""
    import faiss

    flags = faiss.IO_FLAG_MMAP if kind == IVF else faiss.IO_FLAG_MMAP_IFC
    return faiss.read_index(path, flags)


def exact_among(index: Any, query: np.ndarray, rows: Sequence[int], k: int) -> list[tuple[int, float]]:
    """The ``k`` best of ``rows`` by exact inner product with ``query`` (their vectors read by row)."""
    ids = np.asarray(sorted(rows), dtype=np.int64)
    scores = np.asarray(index.reconstruct_batch(ids), dtype=np.float32) @ np.asarray(query, np.float32).ravel()
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(ids[i]), float(scores[i])) for i in top]
