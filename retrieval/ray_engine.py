"""The Ray engine: a build's reading and embedding on a Ray cluster; planning, staging and writing stay here.

``docqa index --engine ray [--ray-address ADDR]`` (``[index] engine = "ray"``) builds through
:func:`retrieval.build.build_index` with a :class:`RayEngine`:

- **read**: the files to read are cut into groups of ``files_per_task``; each group is one Ray task that
  parses and splits its files with :func:`ingest.read.read_files` (so each file keeps its ``[ingest]`` time
  and memory bounds, inside the task), and the driver takes each group's files as the tasks finish. A task
  whose worker dies is retried by Ray (``max_retries``); one that keeps dying fails the build cleanly.
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

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.core.errors import IndexStoreError, InputError
from ingest.core.protocols import DocumentDescriber, Embedder, Splitter
from ingest.core.settings import IndexSettings, IngestSettings
from ingest.read import FileRead, read_files
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
                password: str | None, strict: bool) -> list[FileRead]:
    """One read task: parse and split ``paths`` under their bounds (runs in a Ray worker)."""
    embedder, splitter, describer = _parts(factory, key)
    embedder.count_tokens("docqa")  # the tokenizer, loaded before the bounded reader forks
    return list(read_files(paths, splitter=splitter, settings=settings, password=password, strict=strict,
                           workers=1, describer=describer))


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
        self._actor_class = ray.remote(max_restarts=max_retries, max_task_retries=max_retries)(_EmbedActor)
        self._actors: list[Any] = []
        self.stats = {"read_tasks": 0, "files": 0, "passages": 0, "read_seconds": 0.0, "embed_seconds": 0.0}

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
        pending = [self._read_task.remote(self.parts, self.key, group, settings, password, strict)
                   for group in groups(list(paths), self.settings.files_per_task)]
        self.stats["read_tasks"] += len(pending)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for read in _get(ray, done[0]):
                    self.stats["files"] += 1
                    self.stats["passages"] += len(read.passages)
                    yield read
        finally:
            for ref in pending:  # a build stopped part-way: the rest of its reading is not wanted
                ray.cancel(ref, force=True)
            self.stats["read_seconds"] += time.perf_counter() - t0

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
