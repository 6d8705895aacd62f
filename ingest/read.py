"""Read files into documents and passages, each file under a time and memory bound (``[ingest]``).

Every file ends one of three ways: indexed (its document and passages returned); skipped with a
reason (listed in :attr:`ReadReport.skipped`); or, when it was the one file named, an
:class:`InputError` whose one-line message names it. A file that takes longer than
``timeout_seconds`` or more than ``memory_mb`` is stopped (its worker killed and replaced) and
skipped with "timed out after 60 s" or "over the 2048 MiB memory bound"; a file that makes the
reader fail in a way no check anticipated is skipped as well ("unexpected error ..."), so one bad
file never sinks a build.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from ingest.core.errors import CorruptFileError, InputError, ReaderCrashError, ReadLimitError
from ingest.core.protocols import Splitter
from ingest.core.records import Document, Passage
from ingest.core.settings import IngestSettings
from ingest.loaders import Skipped, expand_paths, load_file, skip_reason, source_name, strict_single
from ingest.worker import BoundedWorker, BoundTripped

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Outcome = Literal["indexed", "skipped", "timeout", "memory", "crash"]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """How one file ended.

    ``outcome`` is "indexed", "skipped" (a reason the loader gives: empty, binary, corrupt, ...),
    "timeout" or "memory" (a bound tripped), or "crash" (the reader failed unexpectedly: a bug to fix).
    """

    source: str
    outcome: Outcome
    reason: str = ""
    seconds: float = 0.0
    size: int = 0  # bytes on disk (0 if unknown)


@dataclass(frozen=True)
class ReadReport:
    """What reading a set of paths produced."""

    documents: tuple[Document, ...]
    passages: tuple[Passage, ...]  # in document order
    skipped: tuple[tuple[str, str], ...] = ()  # (source, reason), walk problems included
    files: tuple[FileOutcome, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)  # "load", "split": summed over the files


@dataclass(frozen=True, slots=True)
class _Job:
    path: Path
    password: str | None
    max_bytes: int


_Read = tuple[Document, list[Passage], float, float]  # the document, its passages, seconds to load and to split


def _read_one(job: _Job, *, splitter: Splitter) -> _Read:
    """Load and split one file (runs in the worker)."""
    t0 = time.perf_counter()
    doc = load_file(job.path, password=job.password, max_bytes=job.max_bytes)
    t1 = time.perf_counter()
    try:
        passages = splitter.split(doc)
    except RecursionError as err:
        raise CorruptFileError(f"{doc.source}: nested too deeply to split") from err
    return doc, passages, t1 - t0, time.perf_counter() - t1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_paths(paths: Iterable[str | os.PathLike[str]], *, splitter: Splitter, settings: IngestSettings | None = None,
               password: str | None = None, progress: Progress | None = None,
               prepare: Callable[[], object] | None = None) -> ReadReport:
    """Load and split files and directories, each file under the ``[ingest]`` bounds.

    :param paths: files and directories; one file named alone must load, else its error is raised.
    :param splitter: cuts each document into passages (in the worker, inherited by fork).
    :param settings: the bounds, and whether to use a worker at all (``isolate``).
    :param password: for encrypted PDFs.
    :param progress: called as ``progress("read", done, total)``.
    :param prepare: called before the first worker starts, e.g. to load the tokenizer the splitter counts
        with, so that workers inherit it rather than each loading the model.
    :raises InputError: a named path does not exist, or the one file named cannot be read.
    """
    settings = settings or IngestSettings()
    path_list = list(paths)
    skipped: Skipped = []
    files = expand_paths(path_list, skipped=skipped)
    strict = strict_single(path_list, files)
    task = partial(_read_one, splitter=splitter)
    run: Callable[[_Job], _Read] = task
    worker: BoundedWorker[_Job, _Read] | None = None
    if settings.isolate:
        worker = BoundedWorker(task, timeout_seconds=settings.timeout_seconds, memory_mb=settings.memory_mb,
                               prepare=prepare)
        run = worker.run
    docs: list[Document] = []
    passages: list[Passage] = []
    outcomes: list[FileOutcome] = [FileOutcome(source, "skipped", reason) for source, reason in skipped]
    sources: set[str] = set()
    seconds = {"load": 0.0, "split": 0.0}
    with worker if worker is not None else contextlib.nullcontext():
        for i, (path, _) in enumerate(files, 1):
            source = source_name(path)
            start = time.perf_counter()
            if source in sources:  # two paths that print alike (an escaped name and a literal one)
                outcome, reason = "skipped", "same name as an earlier file"
            else:
                outcome, reason = _attempt(run, _Job(path, password, settings.max_file_mb * 2**20), source, strict,
                                           docs, passages, seconds)
            sources.add(source)
            if outcome != "indexed":
                skipped.append((source, reason))
            outcomes.append(FileOutcome(source, outcome, reason, time.perf_counter() - start, _size(path)))
            if progress:
                progress("read", i, len(files))
    return ReadReport(documents=tuple(docs), passages=tuple(passages), skipped=tuple(skipped),
                      files=tuple(outcomes), seconds=seconds)


def _attempt(run: Callable[[_Job], _Read], job: _Job, source: str, strict: bool, docs: list[Document],
             passages: list[Passage], seconds: dict[str, float]) -> tuple[Outcome, str]:
    """Read one file; append its document and passages, or say why not. Raises only when ``strict``."""
    try:
        doc, parts, load_s, split_s = run(job)
    except InputError as err:
        if strict:
            raise
        return "skipped", skip_reason(err, source)
    except BoundTripped as trip:
        if strict:
            kind = ReadLimitError if trip.kind in ("timeout", "memory") else ReaderCrashError
            raise kind(f"{source}: {trip.reason}") from None
        log.warning("%s: %s", source, trip.reason)
        return trip.kind, trip.reason
    except MemoryError:  # in this process (isolate = false): no bound, but no reason to stop the build
        if strict:
            raise ReadLimitError(f"{source}: ran out of memory") from None
        return "memory", "ran out of memory"
    except Exception as err:  # noqa: BLE001 - one bad file never sinks a build (the failure policy of this module)
        reason = f"unexpected error while reading ({type(err).__name__}: {' '.join(str(err).split())[:120]})"
        log.warning("%s: %s", source, reason, exc_info=log.isEnabledFor(logging.DEBUG))
        if strict:
            raise ReaderCrashError(f"{source}: {reason}") from err
        return "crash", reason
    docs.append(doc)
    passages.extend(parts)
    seconds["load"] += load_s
    seconds["split"] += split_s
    return "indexed", ""
