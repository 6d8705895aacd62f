"""Build or update an index: plan, read, embed, write; incremental, resumable and streaming.

1. **Plan** (:mod:`retrieval.plan`): each file named is compared with the index's per-file ledger; an
   unchanged file keeps its passages (and vectors, with the same embedder), a changed or new one is read,
   one no longer named is removed.
2. **Read and embed**: the files to read are parsed and split by a pool of bounded workers
   (:func:`ingest.read.read_files`) while this process embeds the passages of the files already read.
   Each finished file and each batch of vectors is committed to the staging store
   (:mod:`retrieval.staging`) as it comes, so a build stopped at any moment resumes without reading or
   embedding again what it finished. Vectors are found by the text embedded: a passage whose text is
   unchanged keeps its vector even when its file changed.
3. **Write** (:class:`retrieval.store.IndexWriter`): documents stream into a new build one at a time, with
   the ledger; the manifest switch makes it live at once. Readers see the old build until then.

One bad file never sinks a build: it is skipped and listed in :attr:`BuildReport.skipped`; only the one
file named alone, or a set of paths with nothing readable in it, is an error. Files with equal bytes
under different paths are separate documents, each cited by its own path.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.core.errors import EmptyDocumentError
from ingest.core.protocols import DocumentDescriber, Embedder, Splitter
from ingest.core.records import Document, Passage
from ingest.core.settings import IngestSettings
from ingest.loaders import source_name
from ingest.read import FileRead, read_files
from ingest.split import embedding_text
from retrieval.dense import DenseConfig
from retrieval.ledger import FileEntry
from retrieval.lock import writer_lock
from retrieval.plan import BuildPlan, FilePlan, Keys, open_live, plan_files
from retrieval.staging import Staging, text_hash
from retrieval.store import (
    IndexReader,
    IndexWriter,
    Manifest,
    document,
    row_vectors,
    tidy,
)
from retrieval.units import Unit, build_units, whole_document_vectors, whole_documents

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total); may also have .file(source, pages, passages)
EMBED_CHUNK = 256  # passages per embedding batch (sorted by length inside it), and per staging commit
@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    manifest: Manifest
    documents: int
    passages: int
    embedded: int  # passages embedded in this build
    reused: int  # passages whose vectors came from the previous build or the staging store
    skipped: tuple[tuple[str, str], ...] = ()
    empty_pages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    parsed: int = 0  # files parsed and split in this build
    resumed: int = 0  # files whose reading an interrupted build had finished
    unchanged: int = 0  # files skipped as unchanged (not read, not embedded)
    removed: int = 0  # files removed from the index
    plan: BuildPlan | None = None


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


class Engine(Protocol):
    """Where a build reads and embeds; the plan, the staging store and the writer stay in the build.

    :class:`LocalEngine` uses this machine (:func:`ingest.read.read_files`, the embedder in this process);
    :class:`retrieval.ray_engine.RayEngine` a Ray cluster. Either way the same files give the same index.
    """

    name: str
    batches_at_once: int  # embedding batches worth handing over together (the engine's embedders in parallel)

    def read(self, paths: Sequence[Path], *, splitter: Splitter, settings: IngestSettings, password: str | None,
             strict: bool, prepare: Callable[[], object], workers: int | None,
             describer: DocumentDescriber | None) -> Iterator[FileRead]:
        """Each file read (parsed and split under the ``[ingest]`` bounds) as it finishes."""
        ...

    def embed(self, embedder: Embedder, batches: Sequence[Sequence[str]]) -> Iterator[np.ndarray]:
        """The vectors of each batch of texts, in the order of ``batches``."""
        ...


class LocalEngine:
    """This machine: a pool of bounded reader processes, and the embedder in this process."""

    name = "local"
    batches_at_once = 1

    def read(self, paths: Sequence[Path], *, splitter: Splitter, settings: IngestSettings, password: str | None,
             strict: bool, prepare: Callable[[], object], workers: int | None,
             describer: DocumentDescriber | None) -> Iterator[FileRead]:
        """:func:`ingest.read.read_files`."""
        return read_files(paths, splitter=splitter, settings=settings, password=password, strict=strict,
                          prepare=prepare, workers=workers, describer=describer)

    def embed(self, embedder: Embedder, batches: Sequence[Sequence[str]]) -> Iterator[np.ndarray]:
        """:func:`embed_sorted`, one batch after another."""
        for texts in batches:
            yield embed_sorted(embedder, texts)


# -- building --------------------------------------------------------------------------------------------------

def build_index(paths: Iterable[str | os.PathLike[str]], directory: str | os.PathLike[str], *, embedder: Embedder,
                splitter: Splitter, password: str | None = None, add: bool = False,
                progress: Progress | None = None, ingest: IngestSettings | None = None,
                workers: int | None = None, describer: DocumentDescriber | None = None,
                dense: DenseConfig | None = None, engine: Engine | None = None) -> BuildReport:
    """Index ``paths`` into ``directory``, doing only what changed since the last build.

    :param paths: files and directories.
    :param directory: the index directory (created if needed).
    :param embedder: vectors for passages; its identity goes into the manifest.
    :param splitter: cuts documents into passages; needs an ``identity()``.
    :param password: for encrypted PDFs.
    :param add: keep documents already in the index that are not among ``paths`` (else they are removed).
    :param progress: called as ``progress(stage, done, total)`` for "read" (files), "embed" (passages) and
        "write" (documents); if it has a ``file`` attribute, that is called as ``file(source, pages, passages)``
        after each file read.
    :param ingest: per-file time and memory bounds, and the PDF extractor (default: :class:`IngestSettings()`).
    :param workers: files read at once (default: :func:`ingest.worker.default_workers`).
    :param describer: a profile's document describer (a filing's issuer, form, period: meta and headers; None:
        the general description). Its name is part of each file's read key: another describer re-reads.
    :param dense: when the dense index becomes approximate (:mod:`retrieval.dense`; default: its defaults).
    :param engine: where files are read and passages embedded (default: :class:`LocalEngine`); the plan, the
        staging store and the writer are the same for every engine.
    :raises InputError: a named path is missing, the one file named cannot be read, or nothing is indexable.
    :raises IndexLockedError: another process is writing the index.
    """
    directory = Path(directory)
    path_list = list(paths)
    ingest = ingest or IngestSettings()
    keys = Keys(splitter.identity(), embedder.identity(), ingest, password,  # type: ignore[attr-defined]
                 describer.name if describer is not None else "general")
    with writer_lock(directory):
        live = open_live(directory)
        staging = Staging(directory)
        try:
            t = time.perf_counter()
            plan = plan_files(path_list, keys, live, staging, add=add)
            plan_seconds = time.perf_counter() - t
            if plan.up_to_date:
                assert live is not None
                tidy(directory)
                staging.remove()
                return _up_to_date(live, plan, plan_seconds)
            run = _Build(directory, embedder, splitter, keys, plan, live, staging, progress, workers, describer,
                         dense or DenseConfig(), engine or LocalEngine())
            run.seconds["plan"] = plan_seconds
            report = run.run(path_list)
            staging.remove()  # its work is in the index now
            return report
        finally:
            if staging.empty:
                staging.remove()
            staging.close()
            if live is not None:
                live.close()


def _up_to_date(live: IndexReader, plan: BuildPlan, plan_seconds: float) -> BuildReport:
    """The report of a build that found nothing to do."""
    m = live.manifest
    skipped = tuple((f.source, f.live.reason if f.live is not None else f.reason) for f in plan.files
                    if f.action == "skip" and f.work == "none")
    return BuildReport(manifest=m, documents=m.counts["documents"], passages=m.counts["passages"], embedded=0,
                       reused=m.counts["passages"], skipped=skipped,
                       empty_pages={s["source"]: tuple(s["empty_pages"]) for s in m.sources if s["empty_pages"]},
                       seconds={"plan": plan_seconds}, unchanged=sum(f.action == "skip" for f in plan.files),
                       plan=plan)


class _Build:
    """One build that has something to do (see the module docstring)."""

    def __init__(self, directory: Path, embedder: Embedder, splitter: Splitter, keys: Keys, plan: BuildPlan,
                 live: IndexReader | None, staging: Staging, progress: Progress | None, workers: int | None,
                 describer: DocumentDescriber | None, dense: DenseConfig, engine: Engine) -> None:
        self.directory, self.embedder, self.splitter, self.keys, self.plan = directory, embedder, splitter, keys, plan
        self.live, self.staging, self.progress, self.workers = live, staging, progress, workers
        self.describer, self.dense, self.engine = describer, dense, engine
        self.same_embedder = live is not None and live.manifest.embedder == keys.embedder_id
        self.space = keys.space
        self.pending: dict[str, str] = {}  # text hash -> text, waiting to be embedded
        self.embedded = 0
        self.queued = 0
        self.seconds: dict[str, float] = {"read": 0.0, "load": 0.0, "split": 0.0, "embed": 0.0}
        self._live_files: dict[str, np.ndarray] | None = None
        self._doc_ids = {s["source"]: s["doc_id"] for s in live.manifest.sources} if live is not None else {}

    # -- read and embed ---------------------------------------------------------------------------------------
    def run(self, paths: Sequence[str | os.PathLike[str]]) -> BuildReport:
        """Read, embed, then write the new build; the report of what was done."""
        plan = self.plan
        for f in plan.files:  # work finished by an interrupted build, or passages that need new vectors
            if f.work == "staged":
                staged = self.staging.file(f.source, f.sha256)
                if staged is not None and staged.document is not None:
                    self._queue(list(staged.passages), f.source)
            elif f.work == "live" and f.embed:
                self._queue(self._live_passages(f.source)[1], f.source)
            self._embed(force=False)
        reads = [f for f in plan.files if f.work == "read"]
        self._read(reads)
        t = time.perf_counter()
        self._embed(force=True)
        self.seconds["embed"] += time.perf_counter() - t
        indexed_now = sum(1 for f in plan.files if f.action not in ("keep", "delete") and self._indexed(f))
        if not indexed_now:
            why = "; ".join(f"{f.source}: {r}" for f in plan.files if (r := self._failure(f)))
            named = ", ".join(source_name(p) for p in paths)
            raise EmptyDocumentError(f"{named}: nothing to index" + (f" ({why[:300]})" if why else ""))
        t = time.perf_counter()
        manifest, entries = self._write()
        self.seconds["write"] = time.perf_counter() - t
        skipped = tuple((e.source, e.reason) for e in entries if e.outcome != "indexed")
        return BuildReport(
            manifest=manifest, documents=manifest.counts["documents"], passages=manifest.counts["passages"],
            embedded=self.embedded, reused=max(0, manifest.counts["passages"] - self.embedded), skipped=skipped,
            empty_pages={s["source"]: tuple(s["empty_pages"]) for s in manifest.sources if s["empty_pages"]},
            seconds=self.seconds, parsed=len([f for f in plan.files if f.work == "read"]),
            resumed=sum(f.work == "staged" for f in plan.files), unchanged=sum(f.action == "skip" for f in plan.files),
            removed=sum(f.action == "delete" for f in plan.files), plan=plan)

    def _indexed(self, f: FilePlan) -> bool:
        if f.work == "live":
            return True
        if f.work in ("read", "staged"):
            staged = self.staging.outcome(f.source, f.sha256)
            return staged is not None and staged[0] == "indexed"
        return False

    def _failure(self, f: FilePlan) -> str:
        if f.work in ("read", "staged"):
            staged = self.staging.outcome(f.source, f.sha256)
            return staged[1] if staged is not None else ""
        return f.live.reason if f.live is not None and f.action == "skip" else (f.reason if f.action == "skip" else "")

    def _prepare_readers(self) -> None:
        """Load, before the readers fork, what each would otherwise load itself: the tokenizer the splitter
        counts with and the splitter's own parts (a splitter with a ``warm_up``)."""
        self.embedder.count_tokens("docqa")
        warm_up = getattr(self.splitter, "warm_up", None)
        if callable(warm_up):
            warm_up()

    def _read(self, reads: list[FilePlan]) -> None:
        """Parse and split ``reads`` in the worker pool, staging each file and embedding as files come in."""
        if not reads:
            return
        by_path = {os.fsdecode(f.path): f for f in reads if f.path is not None}
        t0 = time.perf_counter()
        results = self.engine.read([f.path for f in reads if f.path is not None], splitter=self.splitter,
                                   settings=self.keys.ingest, password=self.keys.password, strict=self.plan.strict,
                                   prepare=self._prepare_readers, workers=self.workers, describer=self.describer)
        on_file = getattr(self.progress, "file", None)
        try:
            for done, read in enumerate(results, 1):
                f = by_path[os.fsdecode(read.path)]
                self._stage(f, read)
                if self.progress:
                    self.progress("read", done, len(reads))
                if on_file is not None:
                    on_file(f.source, read.document.page_count if read.document else 0, len(read.passages))
                t = time.perf_counter()
                self._embed(force=False)
                self.seconds["embed"] += time.perf_counter() - t
        finally:
            close = getattr(results, "close", None)
            if callable(close):  # stops the workers (or tasks) of a read left part-way
                close()
        self.seconds["read"] = time.perf_counter() - t0

    def _stage(self, f: FilePlan, read: FileRead) -> None:
        """Commit one file read to the staging store and queue its passages for vectors."""
        passages = _unique(list(read.passages))
        self.staging.put_file(f.source, f.sha256, f.read_key, f.bounds_key, read.outcome.outcome,
                              read.outcome.reason, read.outcome.seconds, read.document, passages)
        self.seconds["load"] += read.load_seconds
        self.seconds["split"] += read.split_seconds
        if read.document is not None:
            self._queue(passages, f.source)

    def _live_passages(self, source: str) -> tuple[list[int], list[Passage]]:
        """The rows and passages of ``source`` in the current build, in row order (none if it has none)."""
        if self.live is None:
            return [], []
        doc_id = self._doc_ids.get(source)
        rows = sorted(self.live.document_rows([doc_id])) if doc_id else []
        return rows, self.live.passages(rows)

    def _queue(self, passages: Sequence[Passage], source: str) -> None:
        """Find vectors for ``passages``: staged, or the current build's for the same text, or queue them."""
        hashes = {text_hash(embedding_text(p)): embedding_text(p) for p in passages}
        have = set(self.staging.vectors(self.space, hashes))
        missing = {h: text for h, text in hashes.items() if h not in have and h not in self.pending}
        if missing and self.same_embedder and self.live is not None:  # unchanged texts of a changed file
            rows, old = self._live_passages(source)
            by_hash = {text_hash(embedding_text(p)): r for p, r in zip(old, rows, strict=True)}
            found = {h: by_hash[h] for h in missing if h in by_hash}
            if found:
                vecs = row_vectors(self.live, list(found.values()))
                self.staging.put_vectors(self.space, dict(zip(found, vecs, strict=True)))
                missing = {h: text for h, text in missing.items() if h not in found}
        self.pending.update(missing)
        self.queued += len(missing)

    def _embed(self, *, force: bool) -> None:
        """Embed and stage the queued texts, a batch at a time (all of them when ``force``); an engine with
        several embedders is handed as many batches at once."""
        at_once = max(1, self.engine.batches_at_once)
        while len(self.pending) >= EMBED_CHUNK * at_once or (force and self.pending):
            items = list(self.pending.items())[:EMBED_CHUNK * at_once]
            batches = [items[i:i + EMBED_CHUNK] for i in range(0, len(items), EMBED_CHUNK)]
            for batch, vecs in zip(batches, self.engine.embed(self.embedder, [[t for _, t in b] for b in batches]),
                                   strict=True):
                self.staging.put_vectors(self.space, {h: v for (h, _), v in zip(batch, vecs, strict=True)})
                for h, _ in batch:
                    del self.pending[h]
                self.embedded += len(batch)
                if self.progress:
                    self.progress("embed", self.embedded, self.queued)

    # -- write ------------------------------------------------------------------------------------------------
    def _write(self) -> tuple[Manifest, list[FileEntry]]:
        """Stream every document of the new build into an :class:`IndexWriter` and commit it."""
        writer = IndexWriter(self.directory, self.embedder.dim, dense=self.dense,
                             previous=self.live if self.same_embedder else None)
        units: list[Unit] = []
        files: list[Unit] = []
        unit_vecs: list[np.ndarray] = []
        file_vecs: list[np.ndarray] = []
        entries: list[FileEntry] = []
        seen: set[str] = set()
        kept = [f for f in self.plan.files if f.action != "delete"]
        try:
            for done, f in enumerate(kept, 1):
                got = self._document(f)
                if got is None:
                    entries.append(self._entry(f, None, 0))
                    continue
                doc, passages, vectors = got
                fresh = [i for i, p in enumerate(passages) if p.id not in seen]
                if len(fresh) < len(passages):
                    log.warning("%s: dropped %d repeated passages", f.source, len(passages) - len(fresh))
                    passages, vectors = [passages[i] for i in fresh], vectors[fresh]
                seen.update(p.id for p in passages)
                writer.add_document(doc)
                first = writer.add_passages(passages, vectors)
                for u, v in zip(*self._units(doc, passages, vectors, first, f), strict=True):
                    (files if u.kind == "file" else units).append(u)
                    (file_vecs if u.kind == "file" else unit_vecs).append(v)
                entries.append(self._entry(f, doc, len(passages)))
                if self.progress:
                    self.progress("write", done, len(kept))
            dim = self.embedder.dim
            all_vecs = np.vstack(unit_vecs + file_vecs) if units or files else np.zeros((0, dim), np.float32)
            manifest = writer.commit(embedder=self.keys.embedder_id, splitter=self.keys.splitter_id,
                                     units=units + files, unit_vectors=all_vecs, files=entries)
        except BaseException:
            writer.abort()
            raise
        return manifest, entries

    def _document(self, f: FilePlan) -> tuple[Document, list[Passage], np.ndarray] | None:
        """The document, passages and vectors of one file in the new build (None: not indexed)."""
        if f.work == "live":
            assert self.live is not None
            doc = document(self.live, self._doc_ids[f.source])
            assert doc is not None
            rows, passages = self._live_passages(f.source)
            if not f.embed:
                return doc, passages, row_vectors(self.live, rows)
        elif f.work in ("read", "staged"):
            staged = self.staging.file(f.source, f.sha256)
            if staged is None or staged.document is None:
                return None
            doc, passages = staged.document, list(staged.passages)
        else:
            return None
        return doc, passages, self._vectors(passages)

    def _vectors(self, passages: Sequence[Passage]) -> np.ndarray:
        """Staged vectors of ``passages`` (any still missing are embedded now)."""
        hashes = [text_hash(embedding_text(p)) for p in passages]
        found = self.staging.vectors(self.space, hashes)
        missing = {h: embedding_text(p) for h, p in zip(hashes, passages, strict=True) if h not in found}
        if missing:  # never expected: every passage was queued while reading
            self.pending.update(missing)
            self.queued += len(missing)
            self._embed(force=True)
            found = self.staging.vectors(self.space, hashes)
        if not hashes:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)

    def _units(self, doc: Document, passages: list[Passage], vectors: np.ndarray, first: int, f: FilePlan
               ) -> tuple[list[Unit], np.ndarray]:
        """The unit and file vectors of one document, with member rows of the new build."""
        file_vectors: dict[str, np.ndarray] = {}
        if whole_documents(self.keys.embedder_id) and passages:
            vec = None
            if f.work == "live" and not f.embed and self.live is not None:
                if self._live_files is None:
                    self._live_files = self.live.file_vectors()
                vec = self._live_files.get(doc.doc_id)
            if vec is None:
                vec = self.staging.file_vector(self.space, doc.doc_id)
            if vec is None:
                computed = whole_document_vectors(self.embedder, [doc])
                if doc.doc_id in computed:
                    vec = computed[doc.doc_id]
                    self.staging.put_file_vector(self.space, doc.doc_id, vec)
            if vec is not None:
                file_vectors[doc.doc_id] = vec
        local, vecs = build_units([doc], passages, vectors, file_vectors)
        return [replace(u, members=tuple(first + m for m in u.members)) for u in local], vecs

    def _entry(self, f: FilePlan, doc: Document | None, passages: int) -> FileEntry:
        """The ledger row of one file in the new build."""
        common: dict[str, Any] = {"source": f.source, "size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256,
                  "read_key": f.read_key, "bounds_key": f.bounds_key, "extractor": f.extractor}
        if f.work == "live" and f.action == "keep" and f.live is not None:
            common = {k: getattr(f.live, k) for k in common}  # not named: as it was
        staged = self.staging.outcome(f.source, f.sha256) if f.work in ("read", "staged") else None
        if doc is not None:
            previous = f.live.seconds if f.live is not None and f.work == "live" else 0.0
            return FileEntry(**common, outcome="indexed", doc_id=doc.doc_id, kind=doc.kind, pages=doc.page_count,
                             empty_pages=doc.empty_pages, passages=passages,
                             seconds=staged[2] if staged is not None else previous)
        if staged is not None:
            return FileEntry(**common, outcome=staged[0], reason=staged[1], seconds=staged[2])
        if f.live is not None:  # unchanged, failed or skipped before
            return replace(f.live, **({k: v for k, v in common.items() if f.action != "keep"}))
        return FileEntry(**common, outcome="skipped", reason=f.reason)


def _unique(passages: list[Passage]) -> list[Passage]:
    """Passages with distinct ids, first kept (a splitter that repeated a span must not fail the write)."""
    seen: dict[str, Passage] = {}
    for p in passages:
        seen.setdefault(p.id, p)
    if len(seen) < len(passages):
        log.warning("dropped %d repeated passages", len(passages) - len(seen))
    return list(seen.values())

