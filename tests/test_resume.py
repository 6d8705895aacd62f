"""Resumable builds: a build killed with SIGKILL at a random moment leaves the index exactly as it was (or
exactly the new build, once switched in), and the next run finishes the work without reading or embedding
again what the killed one had finished.

Each trial changes a small generated corpus (a file added, one edited, one deleted), starts a build in a
forked child (the real worker pool, loaders, splitter, staging store and writer, with a slow fake embedder
and small embedding batches, so kills land in every stage), kills it, checks the index, sometimes kills a
second build, then reruns the build to the end and checks:

- the index holds exactly the passages a clean build of the corpus gives, none missing, none repeated;
- no text the killed builds had staged, and no text of a file the trial left unchanged, is embedded again;
- the staging store is gone and no stray file is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

import retrieval.build as build
from ingest.split import embedding_text
from retrieval.build import Progress, build_index
from retrieval.staging import STAGING, key_of, text_hash
from retrieval.store import MANIFEST, IndexReader
from tests.fakes import FakeEmbedder
from tests.fuzz.faults import add_file, expected_ids, index_ids, search_works, splitter_for, stray_files, write_corpus
from tests.load import HANG_GUARD

TRIALS = 22
KILL_STAGES = ("read", "embed", "embed", "write", "time")  # where a trial's build is killed (see _kill_at)


class RecordingEmbedder(FakeEmbedder):
    """The fake embedder, a little slow, recording the hash of every text it embedded (in a file, if given:
    a killed child's record survives it)."""

    def __init__(self, log: Path | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.log, self.delay, self.hashes = log, delay, []

    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        time.sleep(self.delay * len(texts))
        out = super().embed_passages(texts)
        hashes = [text_hash(t) for t in texts]
        self.hashes += hashes
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write("".join(h + "\n" for h in hashes))
        return out


def _build(corpus: Path, index: Path, embedder: FakeEmbedder, progress: Progress | None = None) -> None:
    build_index([corpus], index, embedder=embedder, splitter=splitter_for(embedder), workers=2, progress=progress)


def _kill_at(stage: str, nth: int) -> Progress:
    """A progress callback that kills its own process (SIGKILL) at the ``nth`` report of ``stage``: "read" (a
    file read and staged), "embed" (a batch of vectors staged) or "write" (a document written to the new
    build, before the commit). Kills on events, unlike kills after a delay, land where they are aimed
    however fast or busy the machine is."""
    seen = [0]

    def progress(reported: str, done: int, total: int) -> None:
        if reported == stage:
            seen[0] += 1
            if seen[0] >= nth:
                os.kill(os.getpid(), signal.SIGKILL)

    return progress


def _fork_build(corpus: Path, index: Path, log: Path, kill: Progress | None = None) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            build.EMBED_CHUNK = 8  # many small commits to the staging store
            _build(corpus, index, RecordingEmbedder(log, delay=0.002), kill)
        except BaseException:  # noqa: BLE001 - reported through the exit status
            code = 3
        os._exit(code)
    return pid


def _staged_hashes(index: Path) -> set[str]:
    """Text hashes whose vectors the staging store holds (for the fake embedder)."""
    path = index / STAGING
    if not path.exists():
        return set()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {h for (h,) in con.execute("SELECT text_hash FROM vectors WHERE space = ?",
                                          (key_of(FakeEmbedder().identity()),))}
    except sqlite3.OperationalError:  # killed before the tables were made
        return set()
    finally:
        con.close()


def _hashes_by_source(index: Path) -> dict[str, set[str]]:
    reader = IndexReader(index)
    try:
        out: dict[str, set[str]] = {}
        for p in reader.all_passages():
            out.setdefault(p.source, set()).add(text_hash(embedding_text(p)))
        return out
    finally:
        reader.close()


def _read_log(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture(scope="module")
def span(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Wall time of one incremental build like a trial's (kills are spread over it)."""
    root = tmp_path_factory.mktemp("span")
    rng = random.Random(7)
    corpus = write_corpus(root / "corpus", 14, rng)
    _build(corpus, root / "idx", FakeEmbedder())
    add_file(corpus, rng)
    saved, build.EMBED_CHUNK = build.EMBED_CHUNK, 8  # as in a trial's child; timed here, not in a fork that
    try:                                            # could hang on a lock held at the fork with no kill to end it
        start = time.perf_counter()
        _build(corpus, root / "idx", RecordingEmbedder(root / "log", delay=0.002))
        return time.perf_counter() - start
    finally:
        build.EMBED_CHUNK = saved


def test_builds_killed_at_random_points_resume_without_redoing_finished_work(tmp_path: Path, span: float):
    rng = random.Random(1414)
    corpus = write_corpus(tmp_path / "corpus", 14, rng)
    index = tmp_path / "idx"
    _build(corpus, index, FakeEmbedder())
    states: dict[str, int] = {}
    resumed_texts = 0
    for trial in range(TRIALS):
        before_ids = index_ids(index)
        before_manifest = (index / MANIFEST).read_bytes()
        before_hashes = _hashes_by_source(index)
        changed = {str(add_file(corpus, rng))}
        files = sorted(corpus.iterdir())
        if rng.random() < 0.6:
            edited = rng.choice(files)
            edited.write_text(edited.read_text() + "\n\nA closing line about the harbour lantern " + str(trial))
            changed.add(str(edited))
        if rng.random() < 0.3 and len(files) > 8:
            gone = rng.choice([f for f in files if str(f) not in changed])
            gone.unlink()
            changed.add(str(gone))
        after_ids = expected_ids(corpus)
        log = tmp_path / f"embedded-{trial}.log"
        for kill in range(1 + (trial % 3 == 0)):  # every third trial kills a resumed build as well
            stage = rng.choice(KILL_STAGES)
            event = _kill_at(stage, rng.randint(1, 4)) if stage != "time" else None
            pid = _fork_build(corpus, index, log, event)
            if event is None:  # anywhere, the commit and the clean-up after it included
                time.sleep(rng.uniform(0.0, span * 1.1))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            now = index_ids(index)
            state = "previous" if now == before_ids else "new" if now == after_ids else "broken"
            assert state != "broken", f"trial {trial}/{kill}: index holds neither build ({len(now or ())})"
            if state == "previous":
                assert (index / MANIFEST).read_bytes() == before_manifest, f"trial {trial}: manifest changed"
            assert search_works(index) is None, f"trial {trial}"
            states[state] = states.get(state, 0) + 1
        staged = _staged_hashes(index)
        killed = set(_read_log(log))
        rerun = RecordingEmbedder()
        _build(corpus, index, rerun)
        ids = [p.id for p in IndexReader(index).all_passages()]
        assert len(ids) == len(set(ids)), f"trial {trial}: repeated passages"
        assert set(ids) == after_ids, f"trial {trial}: {len(after_ids - set(ids))} missing, " \
                                      f"{len(set(ids) - after_ids)} unexpected"
        again = set(rerun.hashes)
        assert not again & staged, f"trial {trial}: {len(again & staged)} staged texts embedded again"
        unchanged = set().union(*(h for s, h in before_hashes.items() if s not in changed))
        new_texts = set().union(*(h for s, h in _hashes_by_source(index).items() if s in changed))
        assert not (again | killed) & (unchanged - new_texts), f"trial {trial}: unchanged files re-embedded"
        assert not (index / STAGING).exists() and stray_files(index) == [], f"trial {trial}"
        resumed_texts += len(staged & killed)
    assert sum(states.values()) >= TRIALS
    assert resumed_texts > 0  # some kills landed after vectors were staged, and the rerun used them
    print(f"\nresume: {TRIALS} trials, states after kills {states}, {resumed_texts} staged texts not re-embedded")  # noqa: T201


def test_a_staged_file_is_not_read_again(tmp_path: Path, monkeypatch):
    """A build that failed after reading (here: the embedder) leaves its reads staged; the rerun uses them."""
    corpus = write_corpus(tmp_path / "corpus", 4, random.Random(3))
    index = tmp_path / "idx"

    class Failing(FakeEmbedder):
        def embed_passages(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("out of memory on the accelerator")

    with pytest.raises(RuntimeError, match="out of memory"):
        _build(corpus, index, Failing())
    assert (index / STAGING).exists() and not (index / MANIFEST).exists()
    read: list[str] = []
    original = build.read_files
    monkeypatch.setattr(build, "read_files", lambda paths, **kw: read.extend(map(str, paths)) or original(paths, **kw))
    embedder = FakeEmbedder()
    report = build_index([corpus], index, embedder=embedder, splitter=splitter_for(embedder))
    assert read == [] and report.resumed == 4 and report.parsed == 0
    assert {p.id for p in IndexReader(index).all_passages()} == expected_ids(corpus)
    assert all("already read by an interrupted build" in f.reason for f in report.plan.files)
    assert not (index / STAGING).exists()


def test_staging_is_ignored_when_the_bytes_changed(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", 3, random.Random(5))
    index = tmp_path / "idx"

    class Failing(FakeEmbedder):
        def embed_passages(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        _build(corpus, index, Failing())
    target = sorted(corpus.iterdir())[0]
    target.write_text("Entirely different words now: " + hashlib.sha256(b"x").hexdigest())
    embedder = FakeEmbedder()
    report = build_index([corpus], index, embedder=embedder, splitter=splitter_for(embedder))
    assert report.parsed == 1 and report.resumed == 2
    assert {p.id for p in IndexReader(index).all_passages()} == expected_ids(corpus)


# The interrupted build runs in a fresh interpreter: forking this (threaded) pytest process could leave the
# child waiting forever on a lock another thread held at the fork, and SIGINT cannot wake a C-level wait.
_CTRL_C_CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises here even if the parent ignored SIGINT
from pathlib import Path
import retrieval.build as build
from app.cli import main
from ingest.core.registry import EMBEDDERS
from tests.fakes import registered
from tests.test_resume import RecordingEmbedder

corpus, index, log, started = map(Path, sys.argv[1:5])
slow = RecordingEmbedder(log)
original = slow.embed_passages
calls = []

def pause_at_the_second_batch(texts):
    # the first batch is embedded and staged; the second holds the build (a pause point) until Ctrl-C
    calls.append(len(texts))
    if len(calls) == 2:
        started.touch()
        while True:
            time.sleep(0.05)
    return original(texts)

slow.embed_passages = pause_at_the_second_batch
build.EMBED_CHUNK = 4
os.environ["DOCQA_EMBED_BACKEND"] = "fake"
with registered(EMBEDDERS, "fake", lambda settings, *rest: slow):
    sys.exit(main(["index", str(corpus), "--index", str(index), "--quiet", "--json"]))
"""


def test_ctrl_c_exits_130_leaves_the_index_unchanged_and_the_next_run_resumes(tmp_path: Path):
    import subprocess
    import sys

    rng = random.Random(9)
    corpus = write_corpus(tmp_path / "corpus", 6, rng)
    index = tmp_path / "idx"
    _build(corpus, index, FakeEmbedder())
    manifest = (index / MANIFEST).read_bytes()
    for _ in range(8):
        add_file(corpus, rng)
    started = tmp_path / "started"
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", _CTRL_C_CHILD, str(corpus), str(index), str(tmp_path / "log"),
                              str(started)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.monotonic() + HANG_GUARD
    while not started.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the build holds at its second embedding batch
    assert started.exists(), f"the build never reached its second embedding batch (exit {child.poll()})"
    child.send_signal(signal.SIGINT)
    try:
        code = child.wait(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        pytest.fail(f"the build did not stop within {HANG_GUARD} s of SIGINT")
    assert code == 130
    assert (index / MANIFEST).read_bytes() == manifest
    staged = _staged_hashes(index)
    assert staged  # some batches were finished before the interrupt
    rerun = RecordingEmbedder()
    _build(corpus, index, rerun)
    assert not set(rerun.hashes) & staged
    assert {p.id for p in IndexReader(index).all_passages()} == expected_ids(corpus)
