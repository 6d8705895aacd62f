"""Fault injection for index builds: SIGKILL at random points, concurrent writers, readers during rebuilds.

Builds run in forked child processes with the fake embedder (the real ingest path: worker, loaders,
splitter, store). A kill trial adds a file to the corpus, starts a build, kills it with SIGKILL at a
random moment or at a chosen step of the commit protocol (an fsync, a rename, the clean-up after the
switch, the embedding), and then checks that:

- the index opens and searches, holding exactly the previous build or exactly the new one;
- the lock left behind by the dead writer does not block the next build;
- the next build finishes with exactly the passages a clean build gives (none missing, none repeated)
  and leaves no stray files.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.core.settings import IngestSettings, SearchSettings, SplitSettings
from ingest.read import read_paths
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import BuildReport, build_index
from retrieval.lock import LOCK
from retrieval.search import Searcher
from retrieval.store import MANIFEST, IndexReader
from tests.fakes import FakeEmbedder
from tests.fuzz.pdfs import sentence

KILL_POINTS = ("time", "time", "time", "fsync", "replace", "cleanup", "embed")


def splitter_for(embedder: FakeEmbedder) -> DocumentSplitter:
    """Small passages, so a small corpus has many."""
    s = SplitSettings(chunk_tokens=40, overlap_tokens=5)
    return DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens))


def fake_build(corpus: Path, index: Path, *, embedder: FakeEmbedder | None = None, **options: Any) -> BuildReport:
    """Build ``index`` from ``corpus`` with the fake embedder (the real reading, splitting and writing)."""
    embedder = embedder or FakeEmbedder()
    return build_index([corpus], index, embedder=embedder, splitter=splitter_for(embedder), **options)


def write_corpus(root: Path, files: int, rng: random.Random) -> Path:
    """``files`` text files of a few paragraphs each."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        add_file(root, rng, name=f"doc{i:03d}.txt")
    return root


def add_file(root: Path, rng: random.Random, *, name: str | None = None) -> Path:
    """One more file of a few paragraphs."""
    path = root / (name or f"extra{len(list(root.iterdir())):04d}.txt")
    path.write_text("\n\n".join(" ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
                                for _ in range(rng.randint(2, 8))))
    return path


def expected_ids(corpus: Path) -> set[str]:
    """The passage ids a clean build of ``corpus`` holds."""
    report = read_paths([corpus], splitter=splitter_for(FakeEmbedder()), settings=IngestSettings(isolate=False))
    return {p.id for p in report.passages}


def index_ids(index: Path) -> set[str] | None:
    """Passage ids of the index's current build (None when there is no index yet)."""
    if not (index / MANIFEST).exists():
        return None
    reader = IndexReader(index)
    try:
        return {p.id for p in reader.all_passages()}
    finally:
        reader.close()


def search_works(index: Path) -> str | None:
    """None if the index opens and answers dense, BM25 and hybrid searches; else what went wrong."""
    reader = IndexReader(index)
    try:
        searcher = Searcher(reader, FakeEmbedder(), SearchSettings())
        rows = len(reader)
        if rows != len(reader.all_passages()):
            return f"{rows} vectors but {len(reader.all_passages())} passages"
        for mode in ("dense", "bm25", "hybrid"):
            hits = searcher.search("harbour lantern quartz", 3, mode=mode)
            if rows and not hits:
                return f"no {mode} hits in an index of {rows} passages"
    finally:
        reader.close()
    return None


def stray_files(index: Path) -> list[str]:
    """Files in the index directory that the manifest does not name (left by an interrupted build)."""
    named = set(json.loads((index / MANIFEST).read_text())["files"].values())
    return sorted(p.name for p in index.iterdir() if p.name not in named | {MANIFEST, LOCK})


def fork_build(corpus: Path, index: Path, *, before: Callable[[], None] | None = None,
               embedder: FakeEmbedder | None = None) -> int:
    """Start ``fake_build`` in a forked child (after ``before()`` runs there); returns its pid.

    The child leaves through ``os._exit``: status 0 when the build finished, 3 when it raised.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            if before is not None:
                before()
            fake_build(corpus, index, embedder=embedder)
        except BaseException:  # noqa: BLE001 - the child reports failure through its exit status
            code = 3
        os._exit(code)
    return pid


def _kill_on_call(module: Any, name: str, nth: int, *, after: bool = False) -> None:
    """Make the ``nth`` call of ``module.name`` kill this process with SIGKILL (before it runs, or after)."""
    original = getattr(module, name)
    calls = [0]

    def deadly(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] >= nth and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        out = original(*args, **kwargs)
        if calls[0] >= nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    setattr(module, name, deadly)


def arm(point: str, rng: random.Random) -> Callable[[], None] | None:
    """What the build child does before building, so that it dies at ``point``."""
    import retrieval.store as store

    if point == "fsync":
        nth = rng.randint(1, 4)
        return lambda: _kill_on_call(store, "_fsync", nth)
    if point == "replace":
        nth, after = rng.randint(1, 4), rng.random() < 0.5  # three data files, then the manifest: the commit point
        return lambda: _kill_on_call(store.os, "replace", nth, after=after)
    if point == "cleanup":
        return lambda: _kill_on_call(store, "_remove_stale", 1)
    if point == "embed":
        return lambda: _kill_on_call(FakeEmbedder, "embed_passages", 1)
    return None


@dataclass
class Trial:
    """One kill -9 trial."""

    point: str
    delay: float = 0.0
    state: str = ""  # "previous", "new" or "broken": what the index held right after the kill
    problems: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        """No corruption, no blocked lock, and a clean rebuild."""
        return not self.problems


def build_seconds(corpus: Path, index: Path) -> float:
    """Wall time of one build in a forked child (to spread the kill times over a whole build)."""
    start = time.perf_counter()
    pid = fork_build(corpus, index)
    os.waitpid(pid, 0)
    return time.perf_counter() - start


def kill_trial(corpus: Path, index: Path, rng: random.Random, *, span: float, point: str | None = None) -> Trial:
    """Add a file, start a build, SIGKILL it, then check the index, the lock and a rebuild."""
    before = index_ids(index)
    add_file(corpus, rng)
    after = expected_ids(corpus)
    trial = Trial(point or rng.choice(KILL_POINTS))
    pid = fork_build(corpus, index, before=arm(trial.point, rng))
    if trial.point == "time":
        trial.delay = rng.uniform(0.0, span * 1.2)
        time.sleep(trial.delay)
        with contextlib.suppress(ProcessLookupError):  # the build may have finished already
            os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    try:
        now = index_ids(index)
    except Exception as err:  # noqa: BLE001 - any failure to open is corruption, and is what we report
        trial.state = "broken"
        trial.problems.append(f"index does not open after the kill: {type(err).__name__}: {err}")
        now = None
    if now is not None or before is not None:
        trial.state = "new" if now == after else "previous" if now == before else "broken"
        if trial.state == "broken":
            trial.problems.append(f"index holds {len(now or ())} passages: neither the previous build "
                                  f"({len(before or ())}) nor the new one ({len(after)})")
        elif now is not None and (why := search_works(index)):
            trial.problems.append(f"search fails after the kill: {why}")
    try:
        fake_build(corpus, index)  # the dead writer's lock must not block this
    except Exception as err:  # noqa: BLE001 - reported as the trial's failure
        trial.problems.append(f"rebuild after the kill failed: {type(err).__name__}: {err}")
        return trial
    rebuilt = index_ids(index)
    if rebuilt != after:
        missing = len(after - (rebuilt or set()))
        extra = len((rebuilt or set()) - after)
        trial.problems.append(f"rebuild holds {missing} missing and {extra} unexpected passages")
    if strays := stray_files(index):
        trial.problems.append(f"stray files after the rebuild: {strays}")
    return trial
