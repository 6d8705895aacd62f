"""A persistent worker process that runs one task at a time under a time and a memory bound.

A parser stuck in a loop, or one that allocates without end, cannot be stopped from inside
Python; a process can be killed. The worker is forked from the calling process, so the task
(a closure over the splitter and its tokenizer) needs no pickling and a restart costs
milliseconds, not a model load; jobs and results cross a pipe. It stays up from one task to
the next (starting a process per file would cost more than reading most files) and is
replaced only after a task trips a bound or kills it.

The bounds:

- **time**: a task may use ``timeout_seconds`` of the worker's CPU time (read from ``/proc``). A task
  that makes no progress at all, neither running nor waiting for a core (asleep on a lock, a pipe, a
  stuck disk: a hang), is stopped after :data:`HANG_FACTOR` times that many seconds without progress.
  A worker that shares busy cores with the embedder or other programs, or runs at a lower priority
  (``nice``), waits on the run queue: that is progress, so a loaded machine never trips the bound,
  however long the wall clock runs. Where there is no ``/proc``, the wall clock alone;
- **memory**: before each task the worker caps its own address space (``RLIMIT_AS``) at its size
  plus ``memory_mb``, so an allocation beyond it fails with ``MemoryError`` (reported, and the
  worker replaced); the caller also polls the worker's resident size and kills it when it grows
  by more than ``memory_mb`` during the task (memory that native code takes without failing);
- **programs the task runs** (the OCR engine, :mod:`ingest.ocr`): their CPU time counts as the worker's
  once they finish (``cutime``), each runs under its own ``memory_mb`` address-space cap and a wall-clock
  limit of the time bound, and a worker waiting on one is making progress as soon as it finishes.

The worker ignores SIGINT (the caller handles Ctrl-C and stops it), dies with its parent
(``PR_SET_PDEATHSIG`` on Linux, and an end-of-file on the pipe everywhere), and leaves through
``os._exit``, so it never runs the parent's exit handlers or flushes its buffers twice.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, Literal, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
BoundKind = Literal["timeout", "memory", "crash"]
MIB = 2**20
HANG_FACTOR = 3  # a task with no progress (not running, not waiting for a core) is stopped after this x the bound


class BoundTripped(Exception):
    """A task went over a bound, or its worker died; the worker was replaced.

    :param kind: "timeout", "memory" or "crash".
    :param reason: one line for a report, e.g. "timed out: used its 60 s of CPU time (CPU 60.0 s, wall 75.2 s)".
    """

    def __init__(self, kind: BoundKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def cpu_timeout_reason(bound: float, cpu: float, wall: float) -> str:
    """The reason recorded when a task used up its CPU-time bound.

    >>> cpu_timeout_reason(60.0, 60.04, 181.7)
    'timed out: used its 60 s of CPU time (CPU 60.0 s, wall 181.7 s)'
    """
    return f"timed out: used its {bound:g} s of CPU time (CPU {cpu:.1f} s, wall {wall:.1f} s)"


def hang_reason(idle: float, cpu: float, wall: float) -> str:
    """The reason recorded when a task made no progress for ``idle`` seconds (the hang bound).

    >>> hang_reason(6.0, 0.0, 6.06)
    'timed out: no progress for 6 s (CPU 0.0 s, wall 6.1 s)'
    """
    return f"timed out: no progress for {idle:g} s (CPU {cpu:.1f} s, wall {wall:.1f} s)"


def wall_timeout_reason(bound: float) -> str:
    """The reason recorded where the CPU clock cannot be read (no ``/proc``) and the wall clock tripped.

    >>> wall_timeout_reason(60.0)
    'timed out after 60 s'
    """
    return f"timed out after {bound:g} s"


def memory_reason(memory_mb: int) -> str:
    """The reason recorded when the memory bound trips.

    >>> memory_reason(2048)
    'over the 2048 MiB memory bound'
    """
    return f"over the {memory_mb} MiB memory bound"


def _statm(pid: int | str, field: int) -> int | None:
    """A field of ``/proc/<pid>/statm`` in bytes (0: total size, 1: resident); None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[field]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class SchedSample:
    """What the scheduler says of a process at one moment.

    :param cpu: seconds it has run on a CPU.
    :param waited: seconds it has waited on a run queue for a core (0 where the kernel does not say).
    :param runnable: it is running or waiting for a core right now (state R).
    """

    cpu: float
    waited: float
    runnable: bool

    @property
    def progress(self) -> float:
        """Seconds it has spent running or waiting to run: grows unless the process is asleep (a hang)."""
        return self.cpu + self.waited


def parse_sched(stat: str, schedstat: str | None, ticks: int) -> SchedSample:
    """A :class:`SchedSample` from the text of ``/proc/<pid>/stat`` and ``/proc/<pid>/schedstat``.

    ``schedstat`` (nanoseconds on a CPU, nanoseconds waiting on a run queue, time slices) is exact and says
    how long the process waited for a core; without it, ``stat``'s user and system ticks give the CPU time.
    The CPU time of its finished children (``stat``'s cutime and cstime: an OCR engine it ran, page by page)
    counts as its own, so a task's bound covers the programs it runs.

    >>> stat = "41 (a (b) c) S 1 41 41 0 -1 0 0 0 0 0 250 50 0 0 30 10 1 0 5 0 0"
    >>> parse_sched(stat, "3100000000 700000000 12", 100)
    SchedSample(cpu=3.1, waited=0.7, runnable=False)
    >>> parse_sched(stat.replace(") S", ") R"), None, 100)
    SchedSample(cpu=3.0, waited=0.0, runnable=True)
    >>> parse_sched(stat.replace("50 0 0 30", "50 120 30 30"), "3100000000 700000000 12", 100)
    SchedSample(cpu=4.6, waited=0.7, runnable=False)
    """
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and parentheses
    runnable = fields[0] == "R"
    children = (int(fields[13]) + int(fields[14])) / ticks
    if schedstat:
        on_cpu, waited = schedstat.split()[:2]
        return SchedSample(round(int(on_cpu) / 1e9 + children, 6), int(waited) / 1e9, runnable)
    return SchedSample((int(fields[11]) + int(fields[12])) / ticks + children, 0.0, runnable)


def _sched(pid: int) -> SchedSample | None:
    """The scheduler's view of process ``pid`` now; None where there is no ``/proc`` (or it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                schedstat: str | None = f.read()
        except OSError:
            schedstat = None
        return parse_sched(stat, schedstat, os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class _TaskClock:
    """The clocks of the task in flight: when it was sent, the worker's CPU and progress then, and when the
    worker was last seen making progress (running or waiting for a core)."""

    started: float
    base: SchedSample | None
    seen_progress: float = -1.0  # the worker's progress seconds when last looked at
    last_progress: float = 0.0  # monotonic time when progress was last seen

    def over(self, now: float, sample: SchedSample | None, bound: float) -> str | None:
        """Why the task is over its time bound at ``now``, or None (see the module's notes on the bounds)."""
        wall = now - self.started
        if self.base is None or sample is None:  # no /proc: the wall clock alone
            return wall_timeout_reason(bound) if wall >= bound else None
        cpu = sample.cpu - self.base.cpu
        if cpu >= bound:
            return cpu_timeout_reason(bound, cpu, wall)
        if sample.runnable or sample.progress > self.seen_progress:
            self.seen_progress, self.last_progress = sample.progress, now
        elif now - self.last_progress >= HANG_FACTOR * bound:
            return hang_reason(HANG_FACTOR * bound, cpu, wall)
        return None


@contextlib.contextmanager
def _address_space_limit(extra_bytes: int) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``extra_bytes`` for the block."""
    try:
        import resource
    except ImportError:  # not POSIX: the caller's watchdog is the only bound
        yield
        return
    size = _statm("self", 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if size is None:
        yield
        return
    cap = size + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (no orphaned worker keeps files open)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _serve(conn: Connection, other: Connection, task: Callable[[Any], Any], memory_bytes: int, parent: int,
           nice: int) -> None:
    """The worker's loop: receive a job, run the task under the memory cap, send back the outcome."""
    try:
        other.close()
        _die_with_parent(parent)
        if nice:
            with contextlib.suppress(OSError, AttributeError):
                os.nice(nice)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            try:
                command, job = conn.recv()
            except (EOFError, OSError):
                break
            if command != "run":
                break
            with _address_space_limit(memory_bytes):
                try:
                    reply: tuple[str, Any] = ("ok", task(job))
                except MemoryError:
                    reply = ("memory", None)
                except Exception as err:  # noqa: BLE001 - the worker is a fault boundary: the caller decides
                    reply = ("raised", err)
            try:
                conn.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as err:
                conn.send(("crash", f"its result could not be returned ({type(err).__name__}: {err})"))
    except (EOFError, OSError):
        pass
    finally:
        os._exit(0)


class BoundedWorker(Generic[J, R]):
    """Runs ``task(job)`` in a forked worker process under a time and memory bound.

    :param task: what to run; inherited by the fork (no pickling); jobs and results must pickle.
    :param timeout_seconds: longest one task may take before the worker is killed.
    :param memory_mb: most memory one task may add to the worker.
    :param poll_seconds: how often the memory watchdog looks while a task runs.
    :param prepare: called once, before the first worker starts: load here what the task needs (a
        tokenizer), so that every worker inherits it instead of loading its own.
    :param nice: added to the worker's niceness (a lower priority: it yields the cores to this process).

    >>> with BoundedWorker(len, timeout_seconds=10, memory_mb=256) as worker:
    ...     worker.run("four")
    4
    """

    def __init__(self, task: Callable[[J], R], *, timeout_seconds: float, memory_mb: int,
                 poll_seconds: float = 0.05, prepare: Callable[[], object] | None = None, nice: int = 0) -> None:
        if timeout_seconds <= 0 or memory_mb <= 0:
            raise ValueError(f"need timeout_seconds > 0 and memory_mb > 0, got {timeout_seconds}, {memory_mb}")
        self.task = task
        self.nice = nice
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.poll_seconds = poll_seconds
        self._prepare = prepare
        self._proc: Any = None
        self._conn: Connection | None = None
        self._pending = False  # a submitted task not yet collected
        self._base: int | None = None  # the worker's resident size when the task was sent
        self._clock = _TaskClock(0.0, None)  # the time bound's clocks for the task in flight

    def _start(self) -> tuple[Any, Connection]:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._proc, self._conn
        self._discard()
        if self._prepare is not None:
            self._prepare()
            self._prepare = None
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe(duplex=True)
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        proc = ctx.Process(target=_serve, args=(theirs, mine, self.task, self.memory_mb * MIB, os.getpid(),
                                                self.nice), name="docqa-ingest-worker", daemon=True)
        proc.start()
        theirs.close()
        self._proc, self._conn = proc, mine
        return proc, mine

    def _discard(self) -> None:
        """Kill the worker (if any) and forget it."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._pending = False
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
        if conn is not None:
            conn.close()

    def _trip(self, kind: BoundKind, reason: str) -> BoundTripped:
        """Replace the worker and say why."""
        self._discard()
        return BoundTripped(kind, reason)

    def submit(self, job: J) -> None:
        """Hand ``job`` to the worker (started if needed) and start its clocks; collect it with :meth:`check`."""
        if self._pending:
            raise RuntimeError("the worker is busy: check() its task first")
        proc, conn = self._start()
        try:
            conn.send(("run", job))
        except (BrokenPipeError, ConnectionResetError, EOFError):  # the idle worker died: start another
            self._discard()
            proc, conn = self._start()
            conn.send(("run", job))
        self._base = _statm(proc.pid, 1)
        base, now = _sched(proc.pid), time.monotonic()
        self._clock = _TaskClock(now, base, base.progress if base else -1.0, now)
        self._pending = True

    @property
    def busy(self) -> bool:
        """Whether a submitted task has not been collected yet."""
        return self._pending

    def waitables(self) -> list[Any]:
        """What :func:`multiprocessing.connection.wait` can wait on for the task in flight (none when idle)."""
        if not self._pending or self._proc is None or self._conn is None:
            return []
        return [self._conn, self._proc.sentinel]

    def check(self) -> tuple[bool, R | None]:
        """Look at the task in flight without blocking: ``(False, None)`` while it runs, ``(True, result)`` when done.

        A reply that has arrived is taken even when the deadline has passed meanwhile (the caller was busy).

        :raises BoundTripped: the task timed out, went over the memory bound, or killed the worker.
        :raises Exception: what the task raised.
        """
        if not self._pending:
            raise RuntimeError("no task in flight")
        proc, conn = self._proc, self._conn
        assert proc is not None and conn is not None
        ready = wait([conn, proc.sentinel], timeout=0)
        if conn in ready:
            self._pending = False
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                raise self._trip("crash", self._death()) from None
            if status == "ok":
                return True, value  # type: ignore[no-any-return]
            if status == "raised":
                raise value
            if status == "memory":
                raise self._trip("memory", memory_reason(self.memory_mb))
            raise self._trip("crash", f"the reader failed: {value}")
        if ready:
            self._pending = False
            raise self._trip("crash", self._death())
        reason = self._clock.over(time.monotonic(), _sched(proc.pid), self.timeout_seconds)
        if reason:
            self._pending = False
            raise self._trip("timeout", reason)
        rss = _statm(proc.pid, 1)
        if self._base is not None and rss is not None and rss - self._base > self.memory_mb * MIB:
            self._pending = False
            raise self._trip("memory", memory_reason(self.memory_mb))
        return False, None

    def run(self, job: J) -> R:
        """``task(job)`` in the worker; an exception the task raises is raised here.

        :raises BoundTripped: the task timed out, went over the memory bound, or killed the worker.
        """
        self.submit(job)
        while True:
            wait(self.waitables(), timeout=self.poll_seconds)
            done, value = self.check()
            if done:
                return value  # type: ignore[return-value]

    def _death(self) -> str:
        """Why the worker died, as a reason."""
        proc = self._proc
        if proc is not None:
            proc.join(5)
            code = proc.exitcode
            if code is not None and code < 0:
                with contextlib.suppress(ValueError):
                    return f"the reader was killed by {signal.Signals(-code).name}"
            return f"the reader exited unexpectedly (status {code})"
        return "the reader exited unexpectedly"

    def close(self) -> None:
        """Stop the worker (politely, then by force)."""
        proc, conn = self._proc, self._conn
        if proc is not None and conn is not None and proc.is_alive():
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop", None))
            proc.join(2)
        self._discard()

    def __enter__(self) -> BoundedWorker[J, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_workers() -> int:
    """How many reading workers a build uses: one per core, at most four (embedding takes a core as well).

    >>> 1 <= default_workers() <= 4
    True
    """
    return max(1, min(4, os.cpu_count() or 1))


class WorkerPool(Generic[J, R]):
    """Several :class:`BoundedWorker` s, each running one task at a time under the same bounds.

    :param size: how many workers (each a forked process, started when first given a job).
    :param prepare: called once, before the first worker starts (see :class:`BoundedWorker`).
    :param nice: added to each worker's niceness (see :class:`BoundedWorker`).

    >>> with WorkerPool(len, size=2, timeout_seconds=10, memory_mb=256) as pool:
    ...     sorted(value for _, value in pool.imap_unordered(["a", "bb", "ccc"]))
    [1, 2, 3]
    """

    def __init__(self, task: Callable[[J], R], *, size: int, timeout_seconds: float, memory_mb: int,
                 poll_seconds: float = 0.05, prepare: Callable[[], object] | None = None, nice: int = 0) -> None:
        if size < 1:
            raise ValueError(f"need at least one worker, got {size}")
        self._prepare = prepare
        self.poll_seconds = poll_seconds
        self.workers = [BoundedWorker(task, timeout_seconds=timeout_seconds, memory_mb=memory_mb,
                                      poll_seconds=poll_seconds, nice=nice) for _ in range(size)]

    def imap_unordered(self, jobs: Iterable[J]) -> Iterator[tuple[J, R | Exception]]:
        """Run every job; yield ``(job, result)`` or ``(job, exception)`` as each finishes (a task returns
        results, never exceptions, so the two cannot be confused).

        Every idle worker gets its next job before anything is yielded, so the workers keep reading while
        the caller handles a result. The exception is the task's own or a :class:`BoundTripped`.
        """
        if self._prepare is not None:
            self._prepare()
            self._prepare = None
        todo = iter(jobs)
        running: dict[int, J] = {}
        exhausted = False
        while True:
            for i, worker in enumerate(self.workers):
                if not exhausted and not worker.busy:
                    job = next(todo, _END)
                    if job is _END:
                        exhausted = True
                        break
                    worker.submit(job)  # type: ignore[arg-type]
                    running[i] = job  # type: ignore[assignment]
            if not running:
                return
            wait([w for i in running for w in self.workers[i].waitables()], timeout=self.poll_seconds)
            for i in list(running):
                try:
                    done, value = self.workers[i].check()
                except Exception as err:  # noqa: BLE001 - the task's failure is the caller's to judge
                    yield running.pop(i), err
                    continue
                if done:
                    yield running.pop(i), value  # type: ignore[misc]

    def close(self) -> None:
        """Stop every worker."""
        for worker in self.workers:
            worker.close()

    def __enter__(self) -> WorkerPool[J, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()
