"""The Ray engine: a build's reading and embedding on a Ray cluster; planning, staging and writing stay here.

``docqa index --engine ray [--ray-address ADDR]`` (``[index] engine = "ray"``) builds through
:func:`retrieval.build.build_index` with a :class:`RayEngine`:

- **read**: the files to read are cut into groups of up to ``files_per_task`` (fewer when the cluster would get
  less than two groups per CPU: :func:`group_size`); each group is one Ray task that
  parses and splits its files with :func:`ingest.read.read_files` (so each file keeps its ``[ingest]`` time
  and memory bounds, inside the task), and the driver takes each group's files as the tasks finish. A task
  whose worker dies is retried by Ray (``max_retries``); one that keeps dying fails the build cleanly.
- **long PDFs**: a PDF with more than ``pdf_pages_per_task`` pages of text is read whole by its read task but
  not split there (:class:`ingest.read.PagesLater`); its page ranges are split by tasks of their own
  (:func:`ingest.read.split_pages`) and joined here in page order (:func:`ingest.read.join_page_ranges`), so one
  1,000-page file is split by every CPU of the cluster and its passages are those the local engine gives.
- **embed**: an actor pool (``embed_actors`` actors, ``num_gpus`` each) holds the embedder, loaded once per
  actor; the driver hands it as many batches as it has actors and stages each batch's vectors in order.

The driver's build is the local one: the plan against the ledger, the staging store (a build stopped at any
moment resumes), the one :class:`retrieval.store.IndexWriter`, the manifest switch. So an index built by
either engine from the same files has the same passages, rows and (within float tolerance) vectors, and a
failed Ray build leaves the index as it was.

Workers build their parts from ``parts``: a picklable callable (a module-level function, or a
``functools.partial`` of one) returning ``(embedder, splitter, describer)``, built once per worker process;
the embedder's identity must match the driver's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.core.errors import IndexStoreError, InputError
from ingest.core.protocols import DocumentDescriber, Embedder, Splitter
from ingest.core.records import Document, Passage
from ingest.core.settings import IndexSettings, IngestSettings
from ingest.read import FileRead, PagesLater, join_page_ranges, page_range_failed, page_ranges, read_files, split_pages
from retrieval.build import embed_sorted

Parts = tuple[Embedder, Splitter, DocumentDescriber | None]
PartsFactory = Callable[[], Parts]
INSTALL = 'the ray engine needs Ray: pip install "docqa[ray]" (or use --engine local)'
_BUILT: dict[str, Parts] = {}  # in a Ray worker process: the parts each factory key built


def _parts(factory: PartsFactory, key: str) -> Parts:
    """The parts ``factory`` builds, once per worker process."""
    if key not in _BUILT:
        _BUILT[key] = factory()
    return _BUILT[key]


def _read_group(factory: PartsFactory, key: str, paths: list[Path], settings: IngestSettings,
                password: str | None, strict: bool, pages_per_task: int) -> list[FileRead]:
    """One read task: parse and split ``paths`` under their bounds, a long PDF's pages left for page-range tasks
    (runs in a Ray worker)."""
    embedder, splitter, describer = _parts(factory, key)
    embedder.count_tokens("docqa")  # the tokenizer, loaded before the bounded reader forks
    return list(read_files(paths, splitter=PagesLater(splitter, pages_per_task), settings=settings,
                           password=password, strict=strict, workers=1, describer=describer))


def _split_range(factory: PartsFactory, key: str, doc: Document, lo: int, hi: int) -> tuple[list[Passage], str, float]:
    """One page-range task: the passages of ``doc.pages[lo:hi]``, its table note, and the seconds it took."""
    t0 = time.perf_counter()
    passages, note = split_pages(doc, _parts(factory, key)[1], lo, hi)
    return passages, note, time.perf_counter() - t0


class _LongPdf:
    """A long PDF's read waiting for its page ranges' passages."""

    def __init__(self, read: FileRead, refs: Sequence[Any]) -> None:
        self.read, self.refs = read, list(refs)
        self.done: dict[Any, tuple[list[Passage], str, float]] = {}
        self.failed = False  # a range could not be split (the file is skipped)

    def add(self, ref: Any, result: tuple[list[Passage], str, float]) -> FileRead | None:
        """Keep one range's result; the joined read once every range is in (None before)."""
        self.done[ref] = result
        if len(self.done) < len(self.refs):
            return None
        ranges = [self.done[r] for r in self.refs]
        return join_page_ranges(self.read, [(passages, note) for passages, note, _ in ranges],
                                self.read.split_seconds + sum(seconds for _, _, seconds in ranges))


class _EmbedActor:
    """Holds one embedder (runs as a Ray actor)."""

    def __init__(self, factory: PartsFactory, key: str) -> None:
        self.embedder = _parts(factory, key)[0]

    def identity(self) -> dict[str, Any]:
        return dict(self.embedder.identity())  # type: ignore[attr-defined]

    def embed(self, texts: list[str]) -> np.ndarray:
        return embed_sorted(self.embedder, texts)


def groups(paths: Sequence[Path], size: int) -> list[list[Path]]:
    """``paths`` in groups of ``size``, in order.

    >>> [len(g) for g in groups([Path(str(i)) for i in range(5)], 2)]
    [2, 2, 1]
    """
    return [list(paths[i:i + size]) for i in range(0, len(paths), size)]


def group_size(files: int, cpus: float, most: int) -> int:
    """Files per read task: ``most`` at the most (a task's fixed cost, ~0.1 s here, is shared by its files), and
    few enough that every CPU of the cluster gets two tasks or more.

    >>> group_size(400, 2, 32), group_size(40, 2, 32), group_size(9, 2, 2), group_size(3, 64, 32)
    (32, 10, 2, 1)
    """
    return max(1, min(most, math.ceil(files / max(1.0, 2 * cpus))))


class RayEngine:
    """Reads and embeds on a Ray cluster (see the module docstring).

    :param parts: builds ``(embedder, splitter, describer)`` in a worker; picklable.
    :param key: names what ``parts`` builds (a worker builds each key once), e.g. the settings' hash.
    :param settings: ``[index]``: the cluster's address, actors, GPUs per actor, files per task.
    :param max_retries: times Ray reruns a read task, or restarts an embedding actor, whose process died.
    :raises InputError: Ray is not installed (says how to install it), or the cluster cannot be reached.
    """

    name = "ray"

    def __init__(self, parts: PartsFactory, key: str, settings: IndexSettings, *, max_retries: int = 2) -> None:
        try:
            import ray
        except ImportError as err:
            raise InputError(INSTALL) from err
        self.ray, self.parts, self.key, self.settings = ray, parts, key, settings
        self.max_retries = max_retries
        self.batches_at_once = settings.embed_actors
        self._started = False
        if not ray.is_initialized():
            if settings.ray_address is None:  # Ray nices its workers (15): on a shared machine they would embed
                os.environ.setdefault("RAY_worker_niceness", "0")  # behind everything the local engine competes with
            try:
                ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise InputError(f"ray: cannot reach the cluster at {settings.ray_address}: {err}") from err
            self._started = True
        self._read_task = ray.remote(max_retries=max_retries)(_read_group)
        self._range_task = ray.remote(max_retries=max_retries)(_split_range)
        self._actor_class = ray.remote(max_restarts=max_retries, max_task_retries=max_retries)(_EmbedActor)
        self._actors: list[Any] = []
        self.stats = {"read_tasks": 0, "page_range_tasks": 0, "files": 0, "passages": 0, "read_seconds": 0.0,
                      "embed_seconds": 0.0}

    def _pool(self, embedder: Embedder) -> list[Any]:
        """The embedding actors, started on first use; their embedder must be the driver's."""
        if not self._actors:
            options: dict[str, Any] = {"num_gpus": self.settings.num_gpus} if self.settings.num_gpus else {}
            self._actors = [self._actor_class.options(**options).remote(self.parts, self.key)
                            for _ in range(self.settings.embed_actors)]
            theirs = self.ray.get(self._actors[0].identity.remote())
            ours = dict(embedder.identity())  # type: ignore[attr-defined]
            if theirs != ours:
                raise InputError(f"ray: the workers' embedder {theirs} is not the driver's {ours}")
        return self._actors

    def read(self, paths: Sequence[Path], *, splitter: Splitter, settings: IngestSettings, password: str | None,
             strict: bool, prepare: Callable[[], object], workers: int | None,
             describer: DocumentDescriber | None) -> Iterator[FileRead]:
        """Each file read by the read tasks, as their tasks finish (``splitter``, ``describer``, ``prepare`` and
        ``workers`` are the driver's: the tasks build their own, and Ray schedules them on the cluster's CPUs)."""
        ray = self.ray
        t0 = time.perf_counter()
        pending = [self._read_task.remote(self.parts, self.key, group, settings, password, strict,
                                          self.settings.pdf_pages_per_task)
                   for group in groups(list(paths), group_size(len(paths), self._cpus(), self.settings.files_per_task))]
        self.stats["read_tasks"] += len(pending)
        long_pdfs: dict[Any, _LongPdf] = {}  # a page-range task -> the long PDF it splits part of
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                if done[0] in long_pdfs:  # a page range: its PDF is joined once all its ranges are in
                    finished = self._range_done(long_pdfs, done[0], strict)
                    reads = [finished] if finished is not None else []
                else:  # a group of files: a long PDF among them is read, not split yet
                    reads, ranges = self._group_done(done[0], long_pdfs)
                    pending += ranges
                for read in reads:
                    self.stats["files"] += 1
                    self.stats["passages"] += len(read.passages)
                    yield read
        finally:
            for ref in pending:  # a build stopped part-way: the rest of its reading is not wanted
                ray.cancel(ref, force=True)
            self.stats["read_seconds"] += time.perf_counter() - t0

    def _cpus(self) -> float:
        """The cluster's CPUs (1 when it does not say)."""
        return float(self.ray.cluster_resources().get("CPU", 1.0))

    def _group_done(self, ref: Any, long_pdfs: dict[Any, _LongPdf]) -> tuple[list[FileRead], list[Any]]:
        """A read task finished: its files but the long PDFs among them, and the page-range tasks started for
        those (each one's document sent to the object store once; the tasks added to ``long_pdfs``)."""
        reads: list[FileRead] = []
        started: list[Any] = []
        for read in _get(self.ray, ref):
            doc = read.document
            ranges = page_ranges(doc, self.settings.pdf_pages_per_task) if doc is not None else []
            if doc is None or not ranges:
                reads.append(read)
                continue
            shared = self.ray.put(doc)
            refs = [self._range_task.remote(self.parts, self.key, shared, lo, hi) for lo, hi in ranges]
            self.stats["page_range_tasks"] += len(refs)
            long_pdfs.update(dict.fromkeys(refs, _LongPdf(read, refs)))
            started += refs
        return reads, started

    def _range_done(self, long_pdfs: dict[Any, _LongPdf], ref: Any, strict: bool) -> FileRead | None:
        """A page-range task finished: the long PDF's joined read once all its ranges are in (None before; the
        file skipped with the reason when a range could not be split, as when a file cannot be read)."""
        waiting = long_pdfs.pop(ref)
        if waiting.failed:  # another range of it failed: the file is already reported
            return None
        try:
            return waiting.add(ref, _get(self.ray, ref))
        except InputError as err:
            waiting.failed = True
            return page_range_failed(waiting.read, err, strict=strict)

    def embed(self, embedder: Embedder, batches: Sequence[Sequence[str]]) -> Iterator[np.ndarray]:
        """Each batch embedded by an actor (round robin), yielded in order."""
        actors = self._pool(embedder)
        t0 = time.perf_counter()
        refs = [actors[i % len(actors)].embed.remote(list(texts)) for i, texts in enumerate(batches)]
        try:
            for ref in refs:
                yield np.asarray(_get(self.ray, ref), dtype=np.float32)
        finally:
            self.stats["embed_seconds"] += time.perf_counter() - t0

    def close(self) -> None:
        """Stop the actors; shut Ray down if this engine started it."""
        for actor in self._actors:
            self.ray.kill(actor)
        self._actors = []
        if self._started:
            self.ray.shutdown()
            self._started = False


def _get(ray: Any, ref: Any) -> Any:
    """A task's result; a task that raised raises its own error (an :class:`InputError` stays one); a worker or
    actor that died more often than it may be retried is an :class:`IndexStoreError` (the build stops, the index
    stays as it was)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise
    except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise IndexStoreError(f"ray: a worker died and its retries ran out ({first[:200]}); the index is unchanged "
                              "and the next build resumes where this one stopped") from err
