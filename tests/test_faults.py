"""Fault injection: per-file bounds that trip (time, memory, a dying reader), builds killed with SIGKILL,
concurrent writers, and readers searching while a writer rebuilds."""

from __future__ import annotations

import faulthandler
import json
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from ingest.core.errors import IndexLockedError, ReaderCrashError, ReadLimitError
from ingest.core.records import Document, Passage
from ingest.core.settings import IngestSettings, SearchSettings
from ingest.read import read_paths
from ingest.worker import BoundedWorker, BoundTripped
from retrieval.lock import LOCK, writer_lock
from retrieval.search import Searcher
from retrieval.store import IndexReader
from tests.fakes import FakeEmbedder
from tests.fuzz.faults import (
    build_seconds,
    expected_ids,
    fake_build,
    fork_build,
    index_ids,
    kill_trial,
    splitter_for,
    write_corpus,
)
from tests.load import HANG_GUARD, cpu_burners

FAST = IngestSettings(timeout_seconds=2.0, memory_mb=256)


class SabotagedSplitter:
    """Splits normally, except files whose text contains a trigger word: those hang, eat memory, die or raise."""

    def __init__(self) -> None:
        self.inner = splitter_for(FakeEmbedder())

    def split(self, doc: Document) -> list[Passage]:
        if "HANG" in doc.text:
            time.sleep(60)
        if "GREEDY" in doc.text:
            hoard = bytearray(2 << 30)  # over the address-space cap: MemoryError in the worker
            del hoard
        if "SEGFAULT" in doc.text:
            faulthandler.disable()  # pytest's handler would print this expected crash as a fatal error
            os.kill(os.getpid(), signal.SIGSEGV)
        if "TYPO" in doc.text:
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        return self.inner.split(doc)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    root.mkdir()
    for name, text in [("a-good.txt", "The kestrel hovers."), ("b-hang.txt", "HANG here"), ("c-good.txt", "Owls hunt."),
                       ("d-greedy.txt", "GREEDY file"), ("e-crash.txt", "SEGFAULT now"), ("f-typo.txt", "TYPO"),
                       ("g-good.txt", "The clipper carried tea.")]:
        (root / name).write_text(text)
    return root


def test_each_bound_trips_skips_its_file_and_the_build_goes_on(mixed: Path):
    report = read_paths([mixed], splitter=SabotagedSplitter(), settings=FAST)
    outcomes = {Path(f.source).name: (f.outcome, f.reason) for f in report.files}
    hang = outcomes.pop("b-hang.txt")
    assert outcomes == {
        "a-good.txt": ("indexed", ""), "c-good.txt": ("indexed", ""), "g-good.txt": ("indexed", ""),
        "d-greedy.txt": ("memory", "over the 256 MiB memory bound"),
        "e-crash.txt": ("crash", "the reader was killed by SIGSEGV"),
        "f-typo.txt": ("crash", "unexpected error while reading (TypeError: unsupported operand type(s) for +: "
                                "'int' and 'str')"),
    }
    # asleep, not on a CPU: stopped after 3x the bound without progress, then read once more alone
    assert hang[0] == "timeout" and re.fullmatch(r"timed out: no progress for 6 s \(CPU 0\.\d s, wall \d+\.\d s\); "
                                                 r"the same when read alone", hang[1]), hang
    assert [Path(d.source).name for d in report.documents] == ["a-good.txt", "c-good.txt", "g-good.txt"]
    assert {Path(p).name for p, _ in report.skipped} == {"b-hang.txt", "d-greedy.txt", "e-crash.txt", "f-typo.txt"}


@pytest.mark.parametrize("name, error, message", [
    ("b-hang.txt", ReadLimitError, "b-hang.txt: timed out: no progress for 6 s (CPU 0."),  # asleep: under 1 s
    ("d-greedy.txt", ReadLimitError, "d-greedy.txt: over the 256 MiB memory bound"),
    ("e-crash.txt", ReaderCrashError, "e-crash.txt: the reader was killed by SIGSEGV"),
    ("f-typo.txt", ReaderCrashError, "f-typo.txt: unexpected error while reading (TypeError"),
])
def test_one_named_file_over_a_bound_is_a_one_line_error(mixed: Path, name: str, error: type, message: str):
    with pytest.raises(error) as info:
        read_paths([mixed / name], splitter=SabotagedSplitter(), settings=FAST)
    assert str(info.value).startswith(str(mixed / message)) and "\n" not in str(info.value)


def _fill_slowly(megabytes: int) -> int:
    chunks = [b"x" * 2**20 for _ in range(megabytes)]  # touched pages: resident memory grows
    time.sleep(5)
    return len(chunks)


def _spin(seconds: float) -> int:
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


def test_the_time_bound_counts_cpu_seconds_and_stops_a_hang_that_makes_no_progress():
    with BoundedWorker(_spin, timeout_seconds=1, memory_mb=64) as w:
        with pytest.raises(BoundTripped, match=r"timed out: used its 1 s of CPU time \(CPU 1\.\d s") as info:
            w.run(30)  # a reader stuck in a loop uses the CPU: stopped after one CPU second
        assert info.value.kind == "timeout"
        assert w.run(0.1) > 0  # a fresh worker takes the next task
    with BoundedWorker(time.sleep, timeout_seconds=1, memory_mb=64, nice=3) as w:
        w.run(1.5)  # waiting (a slow disk) is not reading: within 3x the bound without progress it may finish
        assert os.getpriority(os.PRIO_PROCESS, w._proc.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 3
        with pytest.raises(BoundTripped, match=r"timed out: no progress for 3 s \(CPU 0\.\d s, wall"):
            w.run(60)


def test_a_worker_starved_of_cpu_is_not_timed_out(tmp_path: Path):
    """A low-priority worker sharing one core with a busy process waits far longer than its bound on the wall
    clock, but it is waiting for a core, not hung: it finishes."""
    cpu = sorted(os.sched_getaffinity(0))[0]
    with cpu_burners(1, seconds=120, cpus={cpu}), \
            BoundedWorker(_spin_on, timeout_seconds=0.3, memory_mb=64, nice=19) as w:
        spun, wall, cpu_used = w.run((cpu, 0.1))
    assert spun > 0 and cpu_used >= 0.1
    print(f"\nstarved worker: 0.1 CPU s took {wall:.1f} s on the wall clock (hang bound 0.9 s)")  # noqa: T201


def _spin_on(job: tuple[int, float]) -> tuple[int, float, float]:
    """Pin this process to one CPU, spin for ``seconds`` of CPU time; (loops, wall seconds, CPU seconds)."""
    cpu, seconds = job
    os.sched_setaffinity(0, {cpu})
    start, cpu0 = time.monotonic(), time.process_time()
    return _spin(seconds), time.monotonic() - start, time.process_time() - cpu0


class FlakySplitter(SabotagedSplitter):
    """Spins forever the first time it meets a file saying FLAKY (a marker file records that); then splits it."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def split(self, doc: Document) -> list[Passage]:
        if "FLAKY" in doc.text and not self.marker.exists():
            self.marker.touch()
            _spin(3600)
        return super().split(doc)


def test_a_file_that_timed_out_among_others_is_read_again_alone(tmp_path: Path):
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in [("a.txt", "The kestrel hovers."), ("b-flaky.txt", "FLAKY once"), ("c.txt", "Owls hunt."),
                       ("d-hang.txt", "HANG always")]:
        (root / name).write_text(text)
    report = read_paths([root], splitter=FlakySplitter(tmp_path / "marker"), settings=FAST)
    outcomes = {Path(f.source).name: (f.outcome, f.reason) for f in report.files}
    assert (tmp_path / "marker").exists()  # the first read of b-flaky.txt did time out
    assert outcomes["b-flaky.txt"] == ("indexed", "")
    assert outcomes["d-hang.txt"][0] == "timeout" and outcomes["d-hang.txt"][1].endswith("; the same when read alone")
    assert [Path(d.source).name for d in report.documents] == ["a.txt", "b-flaky.txt", "c.txt"]


def test_the_resident_memory_watchdog_kills_what_the_address_space_cap_lets_through(monkeypatch):
    import ingest.worker as worker

    monkeypatch.setattr(worker, "_address_space_limit", lambda extra: __import__("contextlib").nullcontext())
    with BoundedWorker(_fill_slowly, timeout_seconds=20, memory_mb=128) as w:
        with pytest.raises(BoundTripped, match="over the 128 MiB memory bound") as info:
            w.run(400)
        assert info.value.kind == "memory"
        assert w.run(1) == 1  # a fresh worker takes the next task


def test_worker_is_persistent_and_dies_with_its_parent(tmp_path: Path):
    pids = []
    with BoundedWorker(lambda _: os.getpid(), timeout_seconds=10, memory_mb=64) as w:
        pids = [w.run(None) for _ in range(5)]
    assert len(set(pids)) == 1 and pids[0] != os.getpid()  # one process for every task

    marker = tmp_path / "worker-pid"
    parent = os.fork()
    if parent == 0:  # pragma: no cover - the child starts a worker, reports its pid, then waits to be killed
        w = BoundedWorker(lambda _: os.getpid(), timeout_seconds=10, memory_mb=64)
        marker.write_text(str(w.run(None)))
        time.sleep(60)
        os._exit(0)
    deadline = time.monotonic() + HANG_GUARD
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    orphan = int(marker.read_text())
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    while time.monotonic() < deadline:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{orphan}/stat") as f:  # a zombie has died: only its entry is left
            if f.read().split(") ", 1)[1].startswith("Z"):
                break
        time.sleep(0.05)
    else:
        pytest.fail(f"worker {orphan} outlived its parent")


def test_without_isolation_files_are_read_in_process(mixed: Path):
    (mixed / "b-hang.txt").unlink()
    (mixed / "d-greedy.txt").unlink()
    (mixed / "e-crash.txt").unlink()
    report = read_paths([mixed], splitter=SabotagedSplitter(), settings=IngestSettings(isolate=False))
    assert len(report.documents) == 3
    assert [(Path(s).name, r.split(" (")[0]) for s, r in report.skipped] == [("f-typo.txt", "unexpected error while "
                                                                                          "reading")]


# -- kill -9 ----------------------------------------------------------------------------------------------

def test_builds_killed_with_sigkill_never_corrupt_the_index(tmp_path: Path):
    rng = random.Random(20240607)
    corpus = write_corpus(tmp_path / "corpus", 12, rng)
    index = tmp_path / "idx"
    fake_build(corpus, index)
    span = build_seconds(corpus, index)
    trials = [kill_trial(corpus, index, rng, span=span) for _ in range(24)]
    failures = [(t.point, t.delay, t.problems) for t in trials if not t.survived]
    assert not failures, failures
    states = {t.state for t in trials}
    assert "previous" in states  # some kills landed before the commit point ...
    assert (index / LOCK).exists()  # ... and the lock files the dead writers left behind never blocked


def test_a_lock_left_by_a_dead_writer_does_not_block(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", 3, random.Random(1))
    index = tmp_path / "idx"

    def take_the_lock_and_die() -> None:
        writer_lock(index).__enter__()
        os.kill(os.getpid(), signal.SIGKILL)

    pid = fork_build(corpus, index, before=take_the_lock_and_die)
    os.waitpid(pid, 0)
    assert (index / LOCK).read_text() == str(pid)  # the dead writer's pid is still in the lock file
    fake_build(corpus, index)
    assert index_ids(index) == expected_ids(corpus)


class GatedEmbedder(FakeEmbedder):
    """Holds the build at its first embedding batch until the ``gate`` file exists (a pause point for a test)."""

    def __init__(self, gate: Path) -> None:
        super().__init__()
        self.gate = gate

    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        deadline = time.monotonic() + HANG_GUARD
        while not self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return super().embed_passages(texts)


def test_second_concurrent_writer_is_refused_with_a_clear_message(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", 5, random.Random(2))
    index = tmp_path / "idx"
    gate = tmp_path / "gate"
    pid = fork_build(corpus, index, embedder=GatedEmbedder(gate))
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not (index / LOCK).exists() or not (index / LOCK).read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(IndexLockedError, match=rf"another docqa process \(pid {pid}\) is writing this index; "
                                                   "wait for it to finish"):
            fake_build(corpus, index)
    finally:
        gate.touch()  # the first writer goes on
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the first writer was not disturbed
    fake_build(corpus, index)
    assert index_ids(index) == expected_ids(corpus)


def _read_until(index: Path, stop: Path, report: Path) -> None:
    """Search the index in a loop (a fresh reader each time, and one kept open) until ``stop`` exists."""
    errors: list[str] = []
    seen: set[int] = set()
    long_lived = IndexReader(index)
    while not stop.exists() or not (seen or errors):  # at least one search, however late it gets a core
        try:
            reader = IndexReader(index)
            hits = Searcher(reader, FakeEmbedder(), SearchSettings()).search("lantern quartz meadow", 3)
            seen.add(len(reader))
            reader.close()
            assert hits, "no hits"
            assert Searcher(long_lived, FakeEmbedder(), SearchSettings()).search("lantern quartz", 3), "no hits"
        except Exception as err:  # noqa: BLE001 - collected and asserted on by the test
            errors.append(f"{type(err).__name__}: {err}")
    report.write_text(json.dumps({"errors": errors[:20], "seen": sorted(seen)}))


def test_readers_searching_in_a_loop_see_no_error_while_a_writer_rebuilds(tmp_path: Path):
    rng = random.Random(3)
    corpus = write_corpus(tmp_path / "corpus", 6, rng)
    index = tmp_path / "idx"
    fake_build(corpus, index)
    counts = {len(expected_ids(corpus))}
    extra = corpus / "toggle.txt"
    extra.write_text("Lantern quartz meadow signal. " * 40)
    counts.add(len(expected_ids(corpus)))
    extra.unlink()
    stop = tmp_path / "stop"
    readers = []  # processes, not threads: forking a build from a threaded process can deadlock the child
    for i in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the reader process
            _read_until(index, stop, tmp_path / f"reader{i}.json")
            os._exit(0)
        readers.append(pid)
    try:
        for i in range(12):  # rebuild in another process, adding and removing a file
            if i % 2 == 0:
                extra.write_text("Lantern quartz meadow signal. " * 40)
            else:
                extra.unlink()
            pid = fork_build(corpus, index)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
    finally:
        stop.touch()
        for pid in readers:
            os.waitpid(pid, 0)
    for i in range(2):
        outcome = json.loads((tmp_path / f"reader{i}.json").read_text())
        assert outcome["errors"] == []
        assert set(outcome["seen"]) <= counts and outcome["seen"]
