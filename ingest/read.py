"""Read files into documents and passages, each file under a time and memory bound (``[ingest]``).

Every file ends one of three ways: indexed (its document and passages returned); skipped with a
reason (listed in :attr:`ReadReport.skipped`); or, when it was the one file named, an
:class:`InputError` whose one-line message names it. A file that takes more than ``timeout_seconds``
of CPU time, or makes no progress at all (neither running nor waiting for a core) for 3x that, or takes
more than ``memory_mb``, is stopped (its worker killed and replaced). A file that timed out among others
is read once more, alone, after the rest; if it times out again it is skipped with the bound that
tripped and its CPU and wall seconds ("timed out: used its 60 s of CPU time (CPU 60.0 s, wall 75.2 s);
the same when read alone"). Over the memory bound: "over the 2048 MiB memory bound". A file that makes
the reader fail in a way no check anticipated is skipped as well ("unexpected error ..."), so one bad
file never sinks a build. The workers run at a lower priority (:data:`READ_NICE`); waiting for a core
is never counted against a file, so a busy machine skips nothing it would read on an idle one.

A build reads through :func:`read_files`: a pool of such workers (one per core, up to four) reads
several files at once and yields each as it finishes, so the caller can embed and store one file's
passages while the next are parsed, and nothing holds the whole corpus. :func:`read_paths` gathers
everything in memory (tests, small inputs).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Literal, TypeGuard

from ingest.core.errors import CorruptFileError, InputError, ReaderCrashError, ReadLimitError
from ingest.core.protocols import DocumentDescriber, Splitter
from ingest.core.records import Document, Passage
from ingest.core.settings import IngestSettings, PdfExtractor
from ingest.loaders import Skipped, expand_paths, load_file, skip_reason, source_name, strict_single
from ingest.ocr import OcrOptions, note_ocr
from ingest.tables import TableTally
from ingest.worker import BoundedWorker, BoundTripped, WorkerPool, default_workers

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
READ_NICE = 10  # reading workers yield the cores to the embedder: builds 7-10% faster (bench/RESULTS.md, session 7)
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
    extractor: PdfExtractor = "pdfium"  # IngestSettings.pdf_extractor
    ocr: OcrOptions = OcrOptions()  # IngestSettings.ocr, under the file's bounds


_Read = tuple[Document, list[Passage], float, float]  # the document, its passages, seconds to load and to split


def _read_one(job: _Job, *, splitter: Splitter, describer: DocumentDescriber | None = None) -> _Read:
    """Load and split one file (runs in the worker)."""
    t0 = time.perf_counter()
    doc = load_file(job.path, password=job.password, max_bytes=job.max_bytes, pdf_extractor=job.extractor,
                    describer=describer, ocr=job.ocr)
    t1 = time.perf_counter()
    try:
        passages = splitter.split(doc)
    except RecursionError as err:
        raise CorruptFileError(f"{doc.source}: nested too deeply to split") from err
    return doc, note_ocr(doc, passages), t1 - t0, time.perf_counter() - t1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class FileRead:
    """One file read: how it ended and, when indexed, its document and passages."""

    path: Path
    outcome: FileOutcome
    document: Document | None = None
    passages: tuple[Passage, ...] = ()
    load_seconds: float = 0.0
    split_seconds: float = 0.0


# -- a long PDF split by page ranges (the Ray engine, retrieval/ray_engine.py) ----------------------------------

def page_ranges(doc: Document, pages_per_task: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of ``doc.pages`` (the pages with text), ``pages_per_task`` pages each, when ``doc`` is a
    PDF with more pages of text than that; else none (it is split whole).

    >>> from ingest.core.records import PageSpan
    >>> doc = Document("d", "a.pdf", "a b c", "pdf", pages=tuple(PageSpan(n, 2 * n - 2, 2 * n - 1) for n in (1, 2, 3)))
    >>> page_ranges(doc, 2), page_ranges(doc, 3), page_ranges(doc, 0)
    ([(0, 2), (2, 3)], [], [])
    """
    n = len(doc.pages)
    if pages_per_task <= 0 or doc.kind != "pdf" or n <= pages_per_task:
        return []
    return [(lo, min(lo + pages_per_task, n)) for lo in range(0, n, pages_per_task)]


class PagesLater:
    """Splits as ``splitter`` does, but leaves a PDF of more than ``pages_per_task`` pages of text unsplit (no
    passages): its page ranges are split by :func:`split_pages`, each in a task of its own."""

    def __init__(self, splitter: Splitter, pages_per_task: int) -> None:
        self.splitter, self.pages_per_task = splitter, pages_per_task

    def split(self, doc: Document) -> list[Passage]:
        return [] if page_ranges(doc, self.pages_per_task) else self.splitter.split(doc)


def split_pages(doc: Document, splitter: Splitter, lo: int, hi: int) -> tuple[list[Passage], str]:
    """The passages of the pages ``doc.pages[lo:hi]``, exactly those that splitting the whole document gives
    there (PDF pages never share a passage; ids, text, offsets and pages are the whole document's), and what the
    splitter noted of their tables (``meta["tables"]``; "" when nothing).

    :raises CorruptFileError: nested too deeply to split (as :func:`read_files` reports it).
    """
    part = replace(doc, pages=doc.pages[lo:hi], meta=dict(doc.meta))  # the splitter notes tables in its meta
    try:
        passages = splitter.split(part)
    except RecursionError as err:
        raise CorruptFileError(f"{doc.source}: nested too deeply to split") from err
    return note_ocr(doc, passages), part.meta.get("tables", "")


def join_page_ranges(read: FileRead, ranges: Sequence[tuple[Sequence[Passage], str]], split_seconds: float) -> FileRead:
    """A long PDF's :class:`FileRead` (read by :class:`PagesLater`) with its page ranges' passages in page order
    and their table notes added up: what reading it whole gives."""
    assert read.document is not None
    tally = TableTally()
    for _, note in ranges:
        tally = tally.add(TableTally.of_note(note))
    meta = {**read.document.meta, **({"tables": tally.note()} if tally.note() else {})}
    return replace(read, document=replace(read.document, meta=meta),
                   passages=tuple(p for passages, _ in ranges for p in passages), split_seconds=split_seconds)


def page_range_failed(read: FileRead, err: Exception, *, strict: bool) -> FileRead:
    """A long PDF whose page range could not be split: skipped with the reason, as a file that fails to read.

    :raises InputError: ``strict`` (the one file named).
    """
    outcome, reason = _failure(err, read.outcome.source, strict)
    return FileRead(read.path, replace(read.outcome, outcome=outcome, reason=reason))


def named_files(files: Iterable[tuple[Path, bool]]) -> list[tuple[Path, str, str]]:
    """``(path, source, reason)`` for each file in order; ``reason`` is empty, or why a file is skipped unread
    (two paths that print alike, an escaped name and a literal one: the first is kept).

    >>> [r for _, _, r in named_files([(Path("a"), True), (Path("b"), True), (Path("./a"), True)])]
    ['', '', 'same name as an earlier file']
    """
    out: list[tuple[Path, str, str]] = []
    sources: set[str] = set()
    for path, _ in files:
        source = source_name(path)
        out.append((path, source, "same name as an earlier file" if source in sources else ""))
        sources.add(source)
    return out


def read_files(paths: Sequence[Path], *, splitter: Splitter, settings: IngestSettings | None = None,
               password: str | None = None, strict: bool = False, prepare: Callable[[], object] | None = None,
               workers: int | None = None, describer: DocumentDescriber | None = None) -> Iterator[FileRead]:
    """Load and split ``paths``, each under the ``[ingest]`` bounds, yielding each file as it finishes.

    With ``settings.isolate`` the files are read by a pool of ``workers`` forked processes (default:
    :func:`ingest.worker.default_workers`), so results come in the order they finish, not the order given;
    without it, one at a time in this process. Nothing is kept after a file is yielded.

    :param strict: the one file named alone: its failure is raised, not reported.
    :param prepare: called before the first worker starts (see :func:`read_paths`).
    :param describer: a profile's describer (see :func:`ingest.loaders.load_file`), inherited by the workers.
    :raises InputError: ``strict`` and the file cannot be read.
    """
    settings = settings or IngestSettings()
    task = partial(_read_one, splitter=splitter, describer=describer)
    ocr = OcrOptions(settings.ocr, languages=settings.ocr_languages, timeout_seconds=settings.timeout_seconds,
                     memory_mb=settings.memory_mb)
    jobs = [_Job(path, password, settings.max_file_mb * 2**20, settings.pdf_extractor, ocr) for path in paths]
    if not settings.isolate:
        for job in jobs:
            start = time.perf_counter()
            result: _Read | Exception
            try:
                result = task(job)
            except Exception as err:  # noqa: BLE001 - judged by _finish (the failure policy of this module)
                result = err
            yield _finish(job, result, strict, time.perf_counter() - start)
        return
    size = 1 if strict else max(1, min(workers or default_workers(), len(jobs)))
    started: dict[int, float] = {}

    def timed(items: Iterable[_Job]) -> Iterator[_Job]:
        for job in items:
            started[id(job)] = time.perf_counter()
            yield job

    retry: list[_Job] = []  # timed out among other readers: read again alone, after the rest
    with WorkerPool(task, size=size, timeout_seconds=settings.timeout_seconds, memory_mb=settings.memory_mb,
                    prepare=prepare, nice=READ_NICE) as pool:
        for job, value in pool.imap_unordered(timed(jobs)):
            if retry_alone(value, strict=strict):
                log.info("%s: %s; reading it again alone after the other files", source_name(job.path),
                         value.reason)
                retry.append(job)
                continue
            yield _finish(job, value, strict, time.perf_counter() - started.pop(id(job)))
    if not retry:
        return
    with BoundedWorker(task, timeout_seconds=settings.timeout_seconds, memory_mb=settings.memory_mb,
                       nice=READ_NICE) as alone:
        for job in retry:
            try:
                result = alone.run(job)
            except BoundTripped as err:
                result = BoundTripped(err.kind, f"{err.reason}; the same when read alone")
            except Exception as err:  # noqa: BLE001 - judged by _finish (the failure policy of this module)
                result = err
            yield _finish(job, result, strict, time.perf_counter() - started.pop(id(job)))


def retry_alone(result: object, *, strict: bool) -> TypeGuard[BoundTripped]:
    """Whether a file's outcome calls for one more read, alone: it timed out while other files were read.

    >>> retry_alone(BoundTripped("timeout", "timed out"), strict=False)
    True
    >>> retry_alone(BoundTripped("memory", "over"), strict=False), retry_alone(("doc", []), strict=False)
    (False, False)
    >>> retry_alone(BoundTripped("timeout", "timed out"), strict=True)  # the one file named: it was read alone
    False
    """
    return not strict and isinstance(result, BoundTripped) and result.kind == "timeout"


def read_paths(paths: Iterable[str | os.PathLike[str]], *, splitter: Splitter, settings: IngestSettings | None = None,
               password: str | None = None, progress: Progress | None = None,
               prepare: Callable[[], object] | None = None, workers: int | None = None,
               describer: DocumentDescriber | None = None) -> ReadReport:
    """Load and split files and directories, each file under the ``[ingest]`` bounds (all results in memory:
    a build streams them through :func:`read_files` instead).

    :param paths: files and directories; one file named alone must load, else its error is raised.
    :param splitter: cuts each document into passages (in the worker, inherited by fork).
    :param settings: the bounds, and whether to use a worker at all (``isolate``).
    :param password: for encrypted PDFs.
    :param progress: called as ``progress("read", done, total)``.
    :param prepare: called before the first worker starts, e.g. to load the tokenizer the splitter counts
        with, so that workers inherit it rather than each loading the model.
    :param workers: how many files are read at once (default: :func:`ingest.worker.default_workers`).
    :param describer: a profile's describer (None: the general description, a title).
    :raises InputError: a named path does not exist, or the one file named cannot be read.
    """
    path_list = list(paths)
    skipped: Skipped = []
    files = expand_paths(path_list, skipped=skipped)
    strict = strict_single(path_list, files)
    outcomes: list[FileOutcome] = [FileOutcome(source, "skipped", reason) for source, reason in skipped]
    named = named_files(files)
    by_source: dict[str, FileRead] = {}
    todo = [path for path, _, reason in named if not reason]
    done = len(named) - len(todo)
    for read in read_files(todo, splitter=splitter, settings=settings, password=password, strict=strict,
                           prepare=prepare, workers=workers, describer=describer):
        by_source[read.outcome.source] = read
        done += 1
        if progress:
            progress("read", done, len(named))
    ordered = [by_source[source] if not reason else FileRead(path, FileOutcome(source, "skipped", reason, 0.0,
                                                                                _size(path)))
               for path, source, reason in named]
    docs = [r.document for r in ordered if r.document is not None]
    passages = [p for r in ordered for p in r.passages]
    outcomes += [r.outcome for r in ordered]
    skipped += [(r.outcome.source, r.outcome.reason) for r in ordered if r.outcome.outcome != "indexed"]
    seconds = {"load": sum(r.load_seconds for r in ordered), "split": sum(r.split_seconds for r in ordered)}
    return ReadReport(documents=tuple(docs), passages=tuple(passages), skipped=tuple(skipped),
                      files=tuple(outcomes), seconds=seconds)


def _finish(job: _Job, result: _Read | Exception, strict: bool, seconds: float) -> FileRead:
    """The :class:`FileRead` of one job from its result or error. Raises only when ``strict``."""
    source = source_name(job.path)
    size = _size(job.path)
    if not isinstance(result, Exception):
        doc, parts, load_s, split_s = result
        return FileRead(job.path, FileOutcome(source, "indexed", "", seconds, size), doc, tuple(parts), load_s,
                        split_s)
    if isinstance(result, BoundTripped) and result.kind == "timeout" and job.ocr.mode != "off" \
            and job.path.suffix.lower() == ".pdf":
        result = BoundTripped(result.kind, f"{result.reason} (a scanned PDF's OCR counts against the bound: about "
                                           "2 s a page; raise [ingest] timeout_seconds for a long scan)")
    outcome, reason = _failure(result, source, strict)
    return FileRead(job.path, FileOutcome(source, outcome, reason, seconds, size))


def _failure(err: Exception, source: str, strict: bool) -> tuple[Outcome, str]:
    """How a file that failed ended, and why. Raises instead when ``strict``."""
    if isinstance(err, InputError):
        if strict:
            raise err
        return "skipped", skip_reason(err, source)
    if isinstance(err, BoundTripped):
        if strict:
            kind = ReadLimitError if err.kind in ("timeout", "memory") else ReaderCrashError
            raise kind(f"{source}: {err.reason}") from None
        log.warning("%s: %s", source, err.reason)
        return err.kind, err.reason
    if isinstance(err, MemoryError):  # in this process (isolate = false): no bound, but no reason to stop the build
        if strict:
            raise ReadLimitError(f"{source}: ran out of memory") from None
        return "memory", "ran out of memory"
    # one bad file never sinks a build (the failure policy of this module)
    reason = f"unexpected error while reading ({type(err).__name__}: {' '.join(str(err).split())[:120]})"
    log.warning("%s: %s", source, reason, exc_info=(type(err), err, err.__traceback__)
                if log.isEnabledFor(logging.DEBUG) else None)
    if strict:
        raise ReaderCrashError(f"{source}: {reason}") from err
    return "crash", reason
