"""Cold start of the CLI (issue 23 item 3): each command from a fresh process, before and after, run by run.

Builds an index of at least 200 files (Python sources of a few installed packages, copied to the work folder),
then times ``search``, an up-to-date ``index``, ``status`` and ``info`` (and, with ``--ask``, ``ask`` over the
sample PDF) as fresh ``python -m app.cli`` processes: the baseline is a git revision checked out in a worktree
(``--base``, run with the same interpreter and ``PYTHONPATH``), the new one this checkout. The two take turns run
by run (the order alternating), so load from other work on the machine falls on both; the page cache is warmed
by one untimed run of each. Reports wall and CPU seconds (user + system, the children's rusage) per command:
medians, and the ratio baseline / new. Search hits and scores are compared between the two on the same index.

    python bench/cold_start.py [--base REV] [--new REV|DIR] [--runs 7] [--ask] [--commands search,index,status,info]
                               [--work /tmp/cold_start] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_REV = "8c6729e"  # the revision before the issue 23 item 3 work
PACKAGES = ("starlette", "fastapi", "tqdm", "rich", "httpx", "click", "jinja2", "pydantic", "langchain_core", "mcp",
            "openai")
QUERIES = ("how to render a progress bar", "websocket close code", "validate an email address",
           "retry a failed HTTP request with backoff", "parse command line options")
SAMPLE = ROOT / "app" / "samples" / "harbor-light-report.pdf"
QUESTION = "Who leads the restoration team?"


def build_corpus(target: Path, files: int) -> int:
    """Copy ``files`` Python sources of 2-12 KB from installed packages into ``target`` (sorted, so the same
    installation gives the same corpus). Returns how many."""
    site = Path(sysconfig.get_paths()["purelib"])
    picked = []
    for package in PACKAGES:
        picked += sorted(p for p in (site / package).rglob("*.py") if 2048 < p.stat().st_size < 12288)
    picked = picked[:files]
    if target.exists():
        shutil.rmtree(target)
    for path in picked:
        out = target / path.relative_to(site)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
    return len(picked)


def worktree(rev: str, where: Path) -> Path:
    """A checkout of ``rev`` at ``where`` (added once, reused)."""
    if not (where / "app" / "cli.py").is_file():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev], check=True,
                       capture_output=True)
    return where


def run(code_root: Path, argv: list[str], *, first_output: bool = False) -> tuple[float, float, float | None, str]:
    """(wall s, CPU s, s to the first byte on stdout or None, stdout) of ``python -m app.cli ARGV`` run from
    ``code_root``."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", *argv], cwd="/tmp", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = None
    chunks = []
    if first_output:
        byte = proc.stdout.read(1)
        first = time.perf_counter() - start
        chunks.append(byte)
    out_rest, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{code_root}: {' '.join(argv)} exited {proc.returncode}: {err.decode()[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, first, (b"".join(chunks) + out_rest).decode()


def machine(where: Path) -> dict[str, object]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    commit = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit, "lscpu": lscpu,
            "python": platform.python_version()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default=BASE_REV, help="baseline git revision (default: before issue 23 item 3)")
    p.add_argument("--new", default=None, help="a checkout (path) or revision to time as the new side (default: "
                                               "this working tree)")
    p.add_argument("--commands", default="search,index,status,info", help="commands to time, comma-separated "
                                                                         "(none: only --ask)")
    p.add_argument("--runs", type=int, default=7, help="timed runs per command and side")
    p.add_argument("--files", type=int, default=220, help="files in the corpus (>= 200)")
    p.add_argument("--ask", action="store_true", help="also time `ask` over the sample PDF (minutes per run)")
    p.add_argument("--ask-runs", type=int, default=2)
    p.add_argument("--work", default="/tmp/cold_start", help="corpus, index and baseline worktree go here")
    p.add_argument("--out", default=str(ROOT / "bench" / "out" / "cold_start.json"))
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = worktree(args.base, work / "base")
    new = ROOT if args.new is None else Path(args.new) if Path(args.new).is_dir() else worktree(args.new, work / "new")
    corpus, index = work / "corpus", work / "index"
    n = build_corpus(corpus, args.files)
    assert n >= 200, f"only {n} files found for the corpus"
    if not (index / "manifest.json").is_file():
        print(f"building the index of {n} files ...", file=sys.stderr, flush=True)
        run(new, ["index", str(corpus), "--index", str(index), "--quiet"])
    every = {
        "search": lambda i: ["search", "--index", str(index), QUERIES[i % len(QUERIES)]],
        "index": lambda i: ["index", str(corpus), "--index", str(index), "--quiet"],
        "status": lambda i: ["status", "--index", str(index)],
        "info": lambda i: ["info", "--index", str(index)],
    }
    commands = {("index (up to date)" if c == "index" else c): every[c] for c in args.commands.split(",") if c in every}
    # same hits and scores, before and after, on the same index
    same = {q: json.loads(run(base, ["search", "--index", str(index), q, "-k", "10", "--json"])[3])
            == json.loads(run(new, ["search", "--index", str(index), q, "-k", "10", "--json"])[3]) for q in QUERIES}
    load_before = os.getloadavg()
    for argv in commands.values():  # warm the page cache (and OpenVINO's compiled-model cache)
        run(base, argv(0))
        run(new, argv(0))
    times: dict[str, dict[str, list[tuple[float, float]]]] = {c: {"base": [], "new": []} for c in commands}
    for i in range(args.runs):
        for name, argv in commands.items():
            order = (("base", base), ("new", new)) if i % 2 == 0 else (("new", new), ("base", base))
            for side, root in order:
                wall, cpu, _, _ = run(root, argv(i))
                times[name][side].append((wall, cpu))
    ask: dict[str, list[tuple[float, float, float | None]]] = {"base": [], "new": []}
    if args.ask:
        argv = ["ask", str(SAMPLE), QUESTION]
        run(new, argv)  # the ad-hoc index and the model assembled once, untimed
        for i in range(args.ask_runs):
            order = (("base", base), ("new", new)) if i % 2 == 0 else (("new", new), ("base", base))
            for side, root in order:
                wall, cpu, first, _ = run(root, argv, first_output=True)
                ask[side].append((wall, cpu, first))
    load_after = os.getloadavg()

    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows = []
    for name, sides in times.items():
        b, nw = sides["base"], sides["new"]
        rows.append({"command": name, "base_wall": med([w for w, _ in b]), "new_wall": med([w for w, _ in nw]),
                     "base_cpu": med([c for _, c in b]), "new_cpu": med([c for _, c in nw]),
                     "new_wall_max": max(w for w, _ in nw), "runs": len(nw)})
    if ask["new"]:
        rows.append({"command": "ask (sample PDF)", "base_wall": med([w for w, _, _ in ask["base"]]),
                     "new_wall": med([w for w, _, _ in ask["new"]]), "base_cpu": med([c for _, c, _ in ask["base"]]),
                     "new_cpu": med([c for _, c, _ in ask["new"]]),
                     "base_first_output": med([f for _, _, f in ask["base"] if f is not None]),
                     "new_first_output": med([f for _, _, f in ask["new"] if f is not None]),
                     "new_wall_max": max(w for w, _, _ in ask["new"]), "runs": len(ask["new"])})
    report = {"machine": machine(new), "base": args.base, "new": str(new), "files": n, "load_before": load_before,
              "load_after": load_after, "same_search_results": same, "rows": rows, "raw": times, "ask_raw": ask}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"{report['machine']['date']}, {new} (commit {report['machine']['commit']}) vs {args.base}; {n} files; load "
          f"{' '.join(f'{x:.2f}' for x in load_before)} -> {' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"same search hits and scores (10 per query, {len(QUERIES)} queries): {all(same.values())}")
    print("| command | baseline wall s | new wall s | ratio | baseline CPU s | new CPU s | ratio | new worst wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['command']} | {r['base_wall']:.2f} | {r['new_wall']:.2f} | {r['base_wall'] / r['new_wall']:.1f}x "
              f"| {r['base_cpu']:.2f} | {r['new_cpu']:.2f} | {r['base_cpu'] / r['new_cpu']:.1f}x "
              f"| {r['new_wall_max']:.2f} |")
        if "new_first_output" in r:
            print(f"|   first answer byte | {r['base_first_output']:.2f} | {r['new_first_output']:.2f} | "
                  f"{r['base_first_output'] / r['new_first_output']:.1f}x | | | | |")


if __name__ == "__main__":
    main()
