"""Issue 23: a derived-figure question whose answer the text states ("What percentage of students attended private
schools?") read as a lookup, not answered through a calculation block.

Before, every question :func:`generation.compute.is_derived_question` flags (a ratio, average, percent, growth
word) made the model write an ``OPERAND``/``FORMULA`` block; in general documents such questions nearly always ask
for a figure a sentence states, and the small model then invents operands. Now the block is asked for only when the
question says to compute or no sentence the model reads states the figure (:func:`generation.compute.asks_calculation`).

Both variants answer each flagged SQuAD question of one half of ``bench/answerable.py``'s article split with the
default settings and one loaded model, in turn (order alternating question by question); **always** restores the
old rule by making ``asks_calculation`` answer True for a derived question (bench-only), **evidence** is the code as
it is. One JSON line per answer; ``report`` prints contains-gold, F1 and abstention per half and variant.

    python bench/derived_lookup.py run --half held-out --limit 12 --out /tmp/derived.jsonl
    python bench/derived_lookup.py run --half dev --limit 12 --out /tmp/derived.jsonl
    python bench/derived_lookup.py report /tmp/derived.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answerable import wilson  # noqa: E402
from fast_answers import article_file, half, squad_rows  # noqa: E402

from app import metrics  # noqa: E402
from generation import answer as answer_module  # noqa: E402
from generation.compute import asks_calculation, is_derived_question  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

log = logging.getLogger("derived_lookup")
VARIANTS = ("always", "evidence")


def _always(question: str, texts: Any) -> bool:
    return is_derived_question(question)


def run(args: argparse.Namespace) -> int:
    from app.sdk import open_adhoc
    from generation.llamacpp import LlamaCppLLM

    rows = squad_rows()
    items = [(doc, q) for doc in half(args.half) for q in rows[doc]["questions"]
             if not q.get("is_impossible") and is_derived_question(q["question"])]
    settings = Settings()
    llm = LlamaCppLLM(settings.llm, settings.cache)
    done = set()
    if args.out.is_file():
        done = {(r["id"], r["variant"]) for r in map(json.loads, args.out.open(encoding="utf-8"))}
    if args.limit and len(items) > args.limit:  # spread over the half's articles: every k-th question
        items = [items[round(i * len(items) / args.limit)] for i in range(args.limit)]
    log.info("%d derived-cue questions in the %s half", len(items), args.half)
    folder = Path(tempfile.mkdtemp(prefix="derived-"))
    indexes: dict[str, Any] = {}
    with args.out.open("a", encoding="utf-8") as f:
        for n, (doc, q) in enumerate(items):
            if doc not in indexes:
                indexes[doc] = open_adhoc([str(article_file(folder, rows[doc]))], settings=settings, llm=llm)
            for variant in VARIANTS[::1 if n % 2 else -1]:
                if (q["id"], variant) in done:
                    continue
                answer_module.asks_calculation = _always if variant == "always" else asks_calculation  # type: ignore[attr-defined]
                t = time.perf_counter()
                a = indexes[doc].ask(q["question"])
                rec = {"half": args.half, "id": q["id"], "variant": variant, "question": q["question"],
                       "answers": q["answers"], "prediction": a.text, "draft": a.draft,
                       "seconds": round(time.perf_counter() - t, 2),
                       "block": any("calculation block requested" in d for s in a.trace for d in s.details),
                       "contains": metrics.contains_gold(a.text, q["answers"]),
                       "f1": metrics.token_f1(a.text, q["answers"]), "abstained": metrics.abstained(a.text)}
                f.write(json.dumps(rec) + "\n")
                f.flush()
                log.info("%d/%d %s %.1fs block=%s | %s", n + 1, len(items), variant, rec["seconds"], rec["block"],
                         a.text[:90].replace("\n", " "))
    for index in indexes.values():
        index.close()
    return 0


def report(args: argparse.Namespace) -> int:
    records = [json.loads(line) for line in args.records.open(encoding="utf-8")]
    both = {(r["half"], r["id"]) for r in records if r["variant"] == "always"} & \
           {(r["half"], r["id"]) for r in records if r["variant"] == "evidence"}
    print("| half | variant | n | calculation block asked | contains-gold | F1 | abstained |")
    print("|---|---|---|---|---|---|---|")
    for h in ("dev", "held-out"):
        for v in VARIANTS:
            rs = [r for r in records if r["half"] == h and r["variant"] == v and (h, r["id"]) in both]
            if not rs:
                continue
            n = len(rs)

            def share(key: str, rs: list[dict[str, Any]] = rs, n: int = n) -> str:
                k = sum(bool(r[key]) for r in rs)
                lo, hi = wilson(k, n)
                return f"{k}/{n} = {k / n:.2f} [{lo:.2f}-{hi:.2f}]"
            print(f"| {h} | {v} | {n} | {share('block')} | {share('contains')} | "
                  f"{sum(r['f1'] for r in rs) / n:.2f} | {share('abstained')} |")
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--half", choices=("dev", "held-out"), default="dev")
    r.add_argument("--out", type=Path, default=Path("/tmp/derived.jsonl"))
    r.add_argument("--limit", type=int, default=0, help="at most this many questions, spread over the half")
    c = sub.add_parser("report")
    c.add_argument("records", type=Path)
    args = ap.parse_args()
    return run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
