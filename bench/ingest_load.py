"""Issue 27 benchmark: the fuzz families read on a busy machine.

For each load level (by default 0, 2 and 4 CPU-burning processes at normal priority, started by this script
beside the build, like a compiler or a video call on the same laptop), the CI-scale fuzz cases of
``tests/test_fuzz.py`` are read as one directory walk through ``ingest.read.read_paths``: the worker pool,
the splitter with the packaged embedder's real tokenizer, and the ``--timeout`` bound. Each level is read
with the time bound as it is now (``progress``: CPU seconds, and no progress at all for 3x the bound, then
one retry alone) and, interleaved level by level in the same run, as it was (``wall``: CPU seconds, or 3x
the bound on the wall clock, no retry). Per family and rule: files indexed, skipped by reason, seconds.

Target: the same files indexed at every load level.

Usage: python bench/ingest_load.py [--loads 0,2,4] [--rules progress,wall] [--per-family 20] [--scale 0.1]
                                   [--timeout 30] [--out bench/out/ingest_load.json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ingest.read  # noqa: E402
import ingest.worker  # noqa: E402
from ingest.core.settings import IngestSettings  # noqa: E402
from tests.fuzz.families import FAMILIES, generate  # noqa: E402
from tests.fuzz.harness import TokenizerCounter, make_splitter, restore_permissions, run_batch  # noqa: E402
from tests.load import cpu_burners  # noqa: E402

FEWER = {"huge-lines": 2}  # as in tests/test_fuzz.py


def _wall_rule(self: ingest.worker._TaskClock, now: float, sample: ingest.worker.SchedSample | None,
               bound: float) -> str | None:
    """The time bound before issue 27: CPU seconds, or 3x the bound on the wall clock whatever the worker did."""
    wall = now - self.started
    if self.base is None or sample is None:
        return ingest.worker.wall_timeout_reason(bound) if wall >= bound else None
    if wall >= ingest.worker.HANG_FACTOR * bound:
        return ingest.worker.wall_timeout_reason(ingest.worker.HANG_FACTOR * bound)
    if sample.cpu - self.base.cpu >= bound:
        return ingest.worker.wall_timeout_reason(bound)
    return None


@contextlib.contextmanager
def rule(name: str) -> Iterator[None]:
    """Read with the time bound named: "progress" (now) or "wall" (before issue 27, without the retry)."""
    if name == "progress":
        yield
        return
    saved = ingest.worker._TaskClock.over, ingest.read.retry_alone
    ingest.worker._TaskClock.over = _wall_rule  # type: ignore[method-assign]
    ingest.read.retry_alone = lambda result, *, strict: False  # type: ignore[assignment]
    try:
        yield
    finally:
        ingest.worker._TaskClock.over, ingest.read.retry_alone = saved  # type: ignore[method-assign]


def reason_class(outcome: str, reason: str) -> str:
    """A short name for how a file ended, for counting.

    >>> reason_class("timeout", "timed out: no progress for 90 s (CPU 0.1 s, wall 90.2 s)")
    'timeout: no progress'
    >>> reason_class("skipped", "binary file, not text, code or PDF"), reason_class("indexed", "")
    ('skipped: binary file', 'indexed')
    """
    if outcome == "indexed":
        return "indexed"
    head = reason.split(": ", 1)[1] if outcome == "timeout" and ": " in reason else reason
    return f"{outcome}: {' '.join(head.replace(',', ' ').replace('(', ' ').split()[:2])}"


def run_level(cases: list, splitter: object, settings: IngestSettings, load: int, name: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="docqa-load-"))
    try:
        with cpu_burners(load, seconds=3600), rule(name):
            start = time.perf_counter()
            results, _ = run_batch(cases, tmp / "batch", splitter, settings)
            seconds = time.perf_counter() - start
    finally:
        restore_permissions(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    families: dict[str, dict] = {}
    for r in results:
        f = families.setdefault(r.case.family, {"files": 0, "outcomes": collections.Counter(), "seconds": 0.0})
        f["files"] += 1
        f["outcomes"][reason_class(r.outcome, r.reason)] += 1
        f["seconds"] += r.seconds
    root = str(tmp / "batch") + "/"
    indexed = sorted(r.source.removeprefix(root) for r in results if r.outcome == "indexed")  # same across runs
    problems = [f"{r.case.family} {r.source}: {'; '.join(r.problems)}" for r in results if r.problems]
    return {"load": load, "rule": name, "seconds": seconds, "files": len(results), "indexed": len(indexed),
            "indexed_sources": indexed, "problems": problems[:20],
            "families": {k: {**v, "outcomes": dict(v["outcomes"])} for k, v in sorted(families.items())}}


def table(runs: list[dict]) -> str:
    """Markdown: one row per family, a column per (rule, load): indexed/files, time-outs, seconds."""
    heads = [f"{r['rule']} @{r['load']}" for r in runs]
    rows = ["| family | " + " | ".join(heads) + " |", "|---|" + "---|" * len(runs)]
    for family in runs[0]["families"]:
        cells = []
        for r in runs:
            f = r["families"].get(family, {"files": 0, "outcomes": {}, "seconds": 0.0})
            timeouts = sum(n for k, n in f["outcomes"].items() if k.startswith("timeout"))
            cells.append(f"{f['outcomes'].get('indexed', 0)}/{f['files']}" + (f" ({timeouts} timed out)" if timeouts
                                                                                else "") + f", {f['seconds']:.1f} s")
        rows.append(f"| {family} | " + " | ".join(cells) + " |")
    rows.append("| **all: indexed / files, wall s** | " + " | ".join(f"**{r['indexed']}/{r['files']}**, "
                                                                      f"{r['seconds']:.0f} s" for r in runs) + " |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loads", default="0,2,4", help="competing CPU-bound processes, comma-separated")
    p.add_argument("--rules", default="progress,wall", help="time-bound rules to compare: progress (now), wall")
    p.add_argument("--per-family", type=int, default=20)
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=30.0, help="[ingest] timeout_seconds (the fuzz test's)")
    p.add_argument("--families", help="comma-separated families (default: all)")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "ingest_load.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("pypdf", "ingest", "retrieval"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    families = args.families.split(",") if args.families else list(FAMILIES)
    cases = [generate(f, seed, args.scale) for f in families for seed in range(FEWER.get(f, args.per_family))]
    splitter = make_splitter(TokenizerCounter())
    settings = IngestSettings(timeout_seconds=args.timeout, memory_mb=1024)
    report = {"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "cases": len(cases), "runs": []}
    for load in (int(x) for x in args.loads.split(",")):
        for name in args.rules.split(","):  # interleaved: both rules at one load level, then the next level
            run = run_level(cases, splitter, settings, load, name)
            report["runs"].append(run)
            sys.stderr.write(f"{name} @{load}: {run['indexed']}/{run['files']} indexed in {run['seconds']:.0f} s\n")
    first = report["runs"][0]["indexed_sources"]
    report["same_files_indexed"] = {f"{r['rule']}@{r['load']}": r["indexed_sources"] == first for r in report["runs"]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    sys.stdout.write(table(report["runs"]) + "\n\nsame files indexed as the first run: "
                     + json.dumps(report["same_files_indexed"]) + "\n")


if __name__ == "__main__":
    main()
