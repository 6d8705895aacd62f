"""Issue 12 benchmark: the long fuzz run of the ingest path, and builds killed with SIGKILL.

  fuzz   ``--cases`` seeded inputs (default 10,000) over every family of ``tests/fuzz/families.py`` at full size,
         read as directory walks in batches through ``ingest.read.read_paths`` (the worker with the default
         ``[ingest]`` bounds: 60 s, 2048 MiB), with the packaged embedder's real tokenizer and docqa's splitter.
         Per family and outcome: indexed / skipped / clean error / crash / hang / memory. A sample of the skipped
         files is then named alone (a clean error is a one-line ``InputError`` naming the file), and the slowest
         input of each family goes through ``docqa index`` (fake embedder): exit 0 for the folder, 0 or a one-line
         error with exit 1 for each file alone.
  cost   seconds per input, and relative to a normal file of its kind (text, code, HTML, PDF) and size: a line
         ``a + b * bytes`` fitted on the "normal" family's inputs of this run.
  kill   ``--kill-trials`` builds (fake embedder, small corpus) killed with SIGKILL at random moments or commit steps
         (``tests/fuzz/faults.py``): survived = the index opened and searched as the previous or the new build, the
         dead writer's lock did not block, and the rebuild held exactly the expected passages.

Usage: python bench/fuzz_ingest.py [--cases 10000] [--kill-trials 50] [--seed 0] [--families a,b]
                                   [--out bench/out/fuzz_ingest.json]
``--families`` re-runs only those families, with the same cases (seeds) as the full plan.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.core.settings import IngestSettings  # noqa: E402
from tests.fuzz.families import FAMILIES, generate  # noqa: E402
from tests.fuzz.harness import (  # noqa: E402
    Result,
    TokenizerCounter,
    cost_ratio,
    fit_baseline,
    make_splitter,
    restore_permissions,
    run_batch,
    single_file_outcome,
)

# relative number of cases per family: cheap families get more, expensive ones fewer (the run must fit 25 min)
WEIGHTS = {"normal": 0.6, "pdf-mutated": 1.5, "pdf-broken": 0.6, "pdf-encrypted": 0.5, "binary-as-text": 1.0,
           "encodings": 1.0, "surrogates": 1.0, "nul-bytes": 1.0, "long-lines": 0.3, "nested-html": 0.6,
           "nested-code": 0.8, "pathological-code": 0.4, "random-unicode": 0.5, "odd-names": 1.2,
           "duplicates": 1.0, "empty": 1.2, "symlink-loops": 1.2, "unreadable": 1.2}
FIXED = {"huge-lines": 6}  # 2-20 MB single lines: a few, each costs seconds
BATCH = 150
OUTCOMES = ("indexed", "skipped", "clean-error", "crash", "timeout", "memory", "missing")


def plan(total: int) -> dict[str, int]:
    """Cases per family, adding up to at least ``total``."""
    rest = total - sum(FIXED.values())
    weight = sum(WEIGHTS.values())
    counts = {f: max(1, round(rest * w / weight)) for f, w in WEIGHTS.items()}
    counts.update(FIXED)
    missing = set(FAMILIES) - set(counts)
    if missing:
        raise SystemExit(f"no weight for families {sorted(missing)}")
    return counts


def run_fuzz(total: int, seed: int, settings: IngestSettings, log: logging.Logger,
             only: set[str] | None = None) -> dict:
    counter = TokenizerCounter()
    splitter = make_splitter(counter)
    counts = {f: n for f, n in plan(total).items() if only is None or f in only}
    order = [(family, seed + i) for family, n in counts.items() for i in range(n)]
    random.Random(seed).shuffle(order)  # batches mix families, so a slow family does not bunch up
    results: list[Result] = []
    singles: collections.Counter[tuple[str, str]] = collections.Counter()
    single_problems: list[str] = []
    generate_s = 0.0
    start = time.perf_counter()
    for b in range(0, len(order), BATCH):
        t = time.perf_counter()
        cases = [generate(family, s) for family, s in order[b:b + BATCH]]
        generate_s += time.perf_counter() - t
        tmp = Path(tempfile.mkdtemp(prefix="docqa-fuzz-"))
        try:
            batch, _ = run_batch(cases, tmp / "batch", splitter, settings)
            results.extend(batch)
            skipped = [r for r in batch if r.outcome == "skipped" and not r.entry.fifo and r.entry.link is None]
            for r in random.Random(b).sample(skipped, min(6, len(skipped))):
                outcome, detail = single_file_outcome(os.fsdecode(_path_of(r)), splitter, settings)
                singles[(r.case.family, outcome)] += 1
                if outcome != "clean-error":
                    single_problems.append(f"{r.case.family}/{r.case.variant} {r.source}: {outcome} {detail}")
        finally:
            restore_permissions(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("%d/%d cases, %.0f s", min(b + BATCH, len(order)), len(order), time.perf_counter() - start)
    cli = run_cli_check(results, seed)
    return summarise(results, singles, single_problems, cli, counts, time.perf_counter() - start, generate_s)


def _path_of(r: Result) -> bytes:
    """Where a result's file was (its batch folder still exists while the batch runs)."""
    from ingest.loaders import source_path

    return os.fsencode(source_path(r.source))


def run_cli_check(results: list[Result], seed: int) -> dict:
    """The slowest input of each family through ``docqa index``: the folder, then each file alone."""
    from app.cli import main
    from ingest.core.registry import EMBEDDERS
    from tests.fakes import FakeEmbedder, registered
    from tests.fuzz.harness import write_case

    slowest: dict[str, Result] = {}
    for r in results:
        if r.case.family not in slowest or r.seconds > slowest[r.case.family].seconds:
            slowest[r.case.family] = r
    tmp = Path(tempfile.mkdtemp(prefix="docqa-fuzz-cli-"))
    out = {"folder_exit": None, "alone": collections.Counter(), "problems": []}
    os.environ["DOCQA_EMBED_BACKEND"] = "fake"
    embedder = FakeEmbedder()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - CLI output is not part of the figures
    saved = sys.stdout, sys.stderr
    try:
        with registered(EMBEDDERS, "fake", lambda settings, *rest: embedder):
            for family, r in sorted(slowest.items()):
                write_case(r.case, tmp / "corpus" / family)
            sys.stdout = sys.stderr = devnull
            out["folder_exit"] = main(["index", str(tmp / "corpus"), "--index", str(tmp / "idx"), "--quiet"])
            for family, r in sorted(slowest.items()):
                for entry in r.case.entries:
                    path = os.fsdecode(os.fsencode(tmp / "corpus" / family) + b"/" + entry.path)
                    if entry.fifo or entry.data is None:
                        continue
                    err_path = tmp / "err.txt"
                    with open(err_path, "w") as err:
                        sys.stderr = err
                        code = main(["index", path, "--index", str(tmp / f"one-{family}"), "--quiet"])
                        sys.stderr = devnull
                    lines = [x for x in err_path.read_text().splitlines() if x.startswith("docqa: error:")]
                    out["alone"][f"exit {code}"] += 1
                    if code not in (0, 1) or (code == 1 and len(lines) != 1):
                        out["problems"].append(f"{family} {path}: exit {code}, {err_path.read_text()[:200]!r}")
    finally:
        sys.stdout, sys.stderr = saved
        devnull.close()
        del os.environ["DOCQA_EMBED_BACKEND"]
        restore_permissions(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    out["alone"] = dict(out["alone"])
    return out


def summarise(results: list[Result], singles: collections.Counter, single_problems: list[str], cli: dict,
              counts: dict[str, int], seconds: float, generate_s: float) -> dict:
    fits = fit_baseline(results)
    families = {}
    for family in counts:
        rs = [r for r in results if r.case.family == family]
        outcome = collections.Counter(r.outcome for r in rs)
        secs = [r.seconds for r in rs]
        ratios = [x for x in (cost_ratio(r, fits) for r in rs if r.outcome not in ("timeout",)) if x is not None]
        expected = sum(a + b * r.size for r in rs for a, b in [fits.get(r.case.baseline, fits.get("text", (0, 0)))])
        families[family] = {
            "cases": counts[family], "files": len(rs), "outcomes": {k: outcome.get(k, 0) for k in OUTCOMES},
            "alone": {k[1]: v for k, v in singles.items() if k[0] == family},
            "mean_bytes": statistics.fmean(r.size for r in rs) if rs else 0,
            "seconds_per_input": statistics.fmean(secs) if secs else 0.0,
            "p95_seconds": sorted(secs)[int(0.95 * (len(secs) - 1))] if secs else 0.0,
            "max_seconds": max(secs, default=0.0),
            "cost_vs_normal": sum(secs) / expected if expected else None,
            "max_cost_vs_normal": max(ratios, default=None),
            "slowest": [(r.case.variant, r.size, round(r.seconds, 2), r.outcome, r.reason[:100])
                        for r in sorted(rs, key=lambda r: -r.seconds)[:3]],
            "problems": [f"{r.case.variant} {r.source}: {'; '.join(r.problems)}" for r in rs if r.problems][:10],
        }
    return {"cases": sum(counts.values()), "files": len(results), "seconds": seconds, "generate_seconds": generate_s,
            "baseline_fits": {k: {"a_seconds": a, "b_seconds_per_mb": b * 2**20} for k, (a, b) in fits.items()},
            "families": families, "single_file_problems": single_problems[:20], "cli": cli}


def run_kills(trials: int, seed: int) -> dict:
    from tests.fuzz.faults import build_seconds, fake_build, kill_trial, write_corpus

    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="docqa-kill-"))
    try:
        corpus = write_corpus(tmp / "corpus", 20, rng)
        fake_build(corpus, tmp / "idx")
        span = build_seconds(corpus, tmp / "idx")
        start = time.perf_counter()
        done = [kill_trial(corpus, tmp / "idx", rng, span=span) for _ in range(trials)]
        return {"trials": trials, "survived": sum(t.survived for t in done),
                "corrupted": sum(t.state == "broken" for t in done),
                "failed": [(t.point, t.delay, t.problems) for t in done if not t.survived],
                "by_point": dict(collections.Counter(f"{t.point}->{t.state}" for t in done)),
                "build_seconds": span, "seconds": time.perf_counter() - start}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def table(report: dict) -> str:
    """The markdown table for bench/RESULTS.md."""
    rows = ["| family | inputs | indexed | skipped | crash | hang | memory | named alone: clean error / other | "
            "mean size | s/input (mean / p95 / max) | cost vs normal (all / worst input) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for family, f in report["fuzz"]["families"].items():
        o = f["outcomes"]
        alone = f["alone"]
        other = sum(v for k, v in alone.items() if k != "clean-error")
        cost = f["cost_vs_normal"]
        worst = f["max_cost_vs_normal"]
        rows.append(f"| {family} | {f['files']} | {o['indexed']} | {o['skipped']} | {o['crash'] + o['missing']} | "
                    f"{o['timeout']} | {o['memory']} | {alone.get('clean-error', 0)} / {other} | "
                    f"{_size(f['mean_bytes'])} | {f['seconds_per_input']:.3f} / {f['p95_seconds']:.3f} / "
                    f"{f['max_seconds']:.2f} | {'-' if cost is None else f'{cost:.2f}'} / "
                    f"{'-' if worst is None else f'{worst:.1f}'} |")
    return "\n".join(rows)


def _size(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n:.0f} B"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--kill-trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--families", help="comma-separated families to re-run (default: all)")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "fuzz_ingest.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("pypdf", "ingest", "retrieval"):  # every broken PDF and skipped file logs a warning
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    log = logging.getLogger("fuzz_ingest")
    log.setLevel(logging.INFO)
    started = time.time()
    report = {"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
              "settings": {"timeout_seconds": 60.0, "memory_mb": 2048}, "load_start": os.getloadavg()}
    only = set(args.families.split(",")) if args.families else None
    report["fuzz"] = run_fuzz(args.cases, args.seed, IngestSettings(), log, only)
    report["kill"] = run_kills(args.kill_trials, args.seed)
    report["minutes"] = (time.time() - started) / 60
    report["load_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    sys.stdout.write(table(report) + "\n")
    k = report["kill"]
    sys.stdout.write(f"\nkill -9: {k['survived']}/{k['trials']} survived, {k['corrupted']} corrupted; "
                     f"{k['by_point']}\nCLI: {report['fuzz']['cli']}\nminutes: {report['minutes']:.1f}\n")


if __name__ == "__main__":
    main()
