"""Build or update an index: read (load and split each file under the ``[ingest]`` bounds), embed (reusing
vectors already in the index), aggregate unit and file vectors, write atomically.

One bad file never sinks a build: it is skipped and listed in :attr:`BuildReport.skipped`; only the one
file named alone, or a set of paths with nothing readable in it, is an error. Files with equal bytes
under different paths are separate documents, each cited by its own path."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.core.errors import EmptyDocumentError, IndexMismatchError, IndexMissingError
from ingest.core.protocols import Embedder, Splitter
from ingest.core.records import Document, Passage
from ingest.core.settings import IngestSettings
from ingest.loaders import source_name
from ingest.read import read_paths
from ingest.split import embedding_text
from retrieval.store import IndexReader, Manifest, write_index, writer_lock
from retrieval.units import build_units, whole_document_vectors, whole_documents

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
EMBED_CHUNK = 256  # passages per progress step; each chunk is embedded in length-sorted batches


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    manifest: Manifest
    documents: int
    passages: int
    embedded: int  # passages embedded in this build
    reused: int  # passages whose vectors came from the previous build
    skipped: tuple[tuple[str, str], ...] = ()
    empty_pages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def embed_sorted(embedder: Embedder, texts: Sequence[str], *, progress: Progress | None = None,
                 chunk: int = EMBED_CHUNK) -> np.ndarray:
    """Embed ``texts`` longest-first in chunks (little padding, steady progress); rows keep input order."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out: np.ndarray | None = None
    for start in range(0, len(order), chunk):
        idx = order[start:start + chunk]
        vecs = embedder.embed_passages([texts[i] for i in idx])
        if out is None:
            out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
        if progress:
            progress("embed", min(start + chunk, len(order)), len(order))
    return out if out is not None else np.zeros((0, embedder.dim), dtype=np.float32)


def _previous(directory: Path, identity: dict[str, object], splitter_id: dict[str, object]
              ) -> tuple[IndexReader | None, bool]:
    """The current build, and whether its vectors can be reused (same embedder and splitter)."""
    try:
        reader = IndexReader(directory)
    except IndexMissingError:
        return None, False
    except IndexMismatchError:  # an old schema: rebuild from scratch
        return None, False
    same = reader.manifest.embedder == identity and reader.manifest.splitter == splitter_id
    return reader, same


def _unique(passages: list[Passage]) -> list[Passage]:
    """Passages with distinct ids, first kept (a splitter that repeated a span must not fail the write)."""
    seen: dict[str, Passage] = {}
    for p in passages:
        seen.setdefault(p.id, p)
    if len(seen) < len(passages):
        log.warning("dropped %d repeated passages", len(passages) - len(seen))
    return list(seen.values())


def build_index(paths: Iterable[str | os.PathLike[str]], directory: str | os.PathLike[str], *, embedder: Embedder,
                splitter: Splitter, password: str | None = None, add: bool = False,
                progress: Progress | None = None, ingest: IngestSettings | None = None) -> BuildReport:
    """Index ``paths`` into ``directory``.

    :param paths: files and directories.
    :param directory: the index directory (created if needed).
    :param embedder: vectors for passages; its identity goes into the manifest.
    :param splitter: cuts documents into passages; needs an ``identity()``.
    :param password: for encrypted PDFs.
    :param add: keep documents already in the index that are not among ``paths`` (else they are dropped).
    :param progress: called as ``progress(stage, done, total)``.
    :param ingest: per-file time and memory bounds (default: :class:`IngestSettings()`).
    :raises InputError: a named path is missing, the one file named cannot be read, or nothing is indexable.
    :raises IndexLockedError: another process is writing the index.
    """
    directory = Path(directory)
    paths = list(paths)
    timings: dict[str, float] = {}
    with writer_lock(directory):
        # the splitter counts tokens with the embedder's tokenizer: load it before the worker forks
        report = read_paths(paths, splitter=splitter, settings=ingest, password=password, progress=progress,
                            prepare=lambda: embedder.count_tokens("docqa"))
        timings.update(report.seconds)
        if not report.documents:
            why = "; ".join(f"{p}: {r}" for p, r in report.skipped[:3])
            named = ", ".join(source_name(p) for p in paths)
            raise EmptyDocumentError(f"{named}: nothing to index" + (f" ({why})" if why else ""))
        identity = embedder.identity()
        splitter_id = splitter.identity()  # type: ignore[attr-defined]
        previous, reusable = _previous(directory, identity, splitter_id)

        reuse = previous is not None and reusable
        old_passages = previous.all_passages() if reuse else []
        docs: dict[str, Document] = {}
        kept: list[Passage] = []
        if add and reuse:
            new_sources = {d.source for d in report.documents}
            docs = {d.source: d for d in previous.documents() if d.source not in new_sources}
            kept = [p for p in old_passages if p.source in docs]
        for d in report.documents:
            docs[d.source] = d
        passages = _unique(kept + list(report.passages))

        t = time.perf_counter()
        old_vectors: dict[str, np.ndarray] = {}
        if reuse:
            old_vectors = dict(zip((p.id for p in old_passages), previous.vectors(), strict=True))
        todo = [i for i, p in enumerate(passages) if p.id not in old_vectors]
        fresh = embed_sorted(embedder, [embedding_text(passages[i]) for i in todo], progress=progress)
        vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
        for i, p in enumerate(passages):
            if p.id in old_vectors:
                vectors[i] = old_vectors[p.id]
        if todo:
            vectors[todo] = fresh
        timings["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        file_vectors: dict[str, np.ndarray] = {}
        if whole_documents(identity):  # an extended embedder: file vectors embed each document whole
            old_files = previous.file_vectors() if reuse else {}
            file_vectors = {d.doc_id: old_files[d.doc_id] for d in docs.values() if d.doc_id in old_files}
            missing = [d for d in docs.values() if d.doc_id not in file_vectors]
            if progress and missing:
                progress("documents", 0, len(missing))
            file_vectors.update(whole_document_vectors(embedder, missing))
            if progress and missing:
                progress("documents", len(missing), len(missing))
        if previous is not None:
            previous.close()
        units, unit_vectors = build_units(list(docs.values()), passages, vectors, file_vectors)
        timings["units"] = time.perf_counter() - t

        t = time.perf_counter()
        manifest = write_index(directory, list(docs.values()), passages, vectors, embedder=identity,
                               splitter=splitter_id, units=units, unit_vectors=unit_vectors)
        timings["write"] = time.perf_counter() - t
    return BuildReport(
        manifest=manifest, documents=len(docs), passages=len(passages), embedded=len(todo),
        reused=len(passages) - len(todo), skipped=report.skipped,
        empty_pages={d.source: d.empty_pages for d in report.documents if d.empty_pages}, seconds=timings,
    )
