"""Answerability on SQuAD v2.0-style questions: today's default pipeline vs. the evidence check (issue 23, item 5).

The 17 SQuAD articles that have SQuAD v2.0 unanswerable questions are split into a tuning half and a held-out
half (:func:`split_articles`, fixed and written down in bench/RESULTS.md). For each article the unanswerable
questions (``squad-v2.0-dev-unanswerable.jsonl``: the right reply is to abstain) and the answerable SQuAD v1.1
questions of the same article are asked against the long document with the default settings, tune half first,
then the held-out half, answerable and unanswerable interleaved question by question.

``run`` answers with the pipeline as it was before the evidence check (``answerability=False``) and records each
answer with its citations (JSONL, one line per question). ``score`` then reads the records and reports, per half,
today's default (the answer as returned) beside the same answer passed through the evidence check
(:func:`generation.answerable.assess_answer`, the function the verifier calls). Because the check runs after the
citation and answer checks and reads only the question, the checked text and its citations, applying it to the
recorded answer gives exactly what the pipeline with the check returns (``tests/test_answerable.py`` pins this).

Usage::

    nohup python bench/answerable.py run --out /tmp/answerable.jsonl > /tmp/answerable.log 2>&1 &
    python bench/answerable.py score /tmp/answerable.jsonl [--half tune]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.metrics import abstained, contains_gold, token_f1  # noqa: E402
from generation.answerable import AnswerabilitySettings, abstain_reason, assess_answer  # noqa: E402
from ingest.core.records import Answer  # noqa: E402
from ingest.core.serialize import answer_from_dict, answer_to_dict  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

# Articles earlier sessions developed prompts and the answer check on (bench/RESULTS.md, issue 6): never held out.
EARLIER_DEV = ("1973_oil_crisis", "Black_Death", "Construction", "Harvard_University", "Oxygen", "Private_school")
SPLIT_SEED = 23

log = logging.getLogger("answerable")


def split_articles(doc_ids: Sequence[str], *, seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """(tune, held-out): the articles earlier sessions developed on are tuned on; of the others, sorted, a seeded
    draw fills the tuning half up to ceil(n/2), the rest are held out.

    >>> split_articles(["A", "B", "C", "Construction"])
    (['B', 'Construction'], ['A', 'C'])
    """
    ids = sorted(set(doc_ids))
    dev = [d for d in ids if d in EARLIER_DEV]
    rest = [d for d in ids if d not in EARLIER_DEV]
    extra = sorted(random.Random(seed).sample(rest, max(0, math.ceil(len(ids) / 2) - len(dev))))
    tune = sorted(dev + extra)
    return tune, [d for d in ids if d not in tune]


def _articles() -> dict[str, dict[str, Any]]:
    return {json.loads(line)["doc_id"]: json.loads(line)
            for line in (DATA / "squad" / "squad-v1.1-dev-longdoc.jsonl").open(encoding="utf-8")}


def _unanswerable() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "squad" / "squad-v2.0-dev-unanswerable.jsonl").open(encoding="utf-8")]


def questions(half: str, docs: Sequence[str], *, unanswerable: int, answerable: int,
              seed: int = 0) -> list[dict[str, Any]]:
    """Per article ``unanswerable`` v2.0 and ``answerable`` v1.1 questions drawn with ``seed``, interleaved:
    the two kinds in proportion, articles mixed, so a run cut short still covers both kinds and every article."""
    rng = random.Random(seed)
    arts, unans = _articles(), _unanswerable()
    u_items: list[dict[str, Any]] = []
    a_items: list[dict[str, Any]] = []
    for doc in docs:
        pool = [q for q in unans if q["doc_id"] == doc]
        for q in rng.sample(pool, min(unanswerable, len(pool))):
            u_items.append({"id": q["id"], "half": half, "doc": doc, "kind": "unanswerable",
                            "question": q["question"].strip(), "answers": []})
        pool = [q for q in arts[doc]["questions"] if not q.get("is_impossible")]
        for q in rng.sample(pool, min(answerable, len(pool))):
            a_items.append({"id": q["id"], "half": half, "doc": doc, "kind": "answerable",
                            "question": q["question"].strip(), "answers": q["answers"]})
    rng.shuffle(u_items)
    rng.shuffle(a_items)
    return in_proportion([u_items, a_items])  # so a run cut short keeps the ratio of the two kinds


def in_proportion(lists: Sequence[Sequence[Any]]) -> list[Any]:
    """The lists' items merged in proportion to their lengths, each list's order kept.

    >>> in_proportion([["a", "b", "c", "d"], [1, 2]])
    ['a', 1, 'b', 'c', 2, 'd']
    """
    merged = [((i + 0.5) / len(x), k, item) for k, x in enumerate(lists) for i, item in enumerate(x)]
    return [item for _, _, item in sorted(merged, key=lambda t: (t[0], t[1]))]


def document(folder: Path, doc: str) -> str:
    """The article as one text file (title, then paragraphs separated by blank lines)."""
    path = folder / f"squad-{doc}.txt"
    if not path.exists():
        art = _articles()[doc]
        path.write_text(art["title"] + "\n\n" + "".join(p + "\n\n" for p in art["paragraphs"]), encoding="utf-8")
    return str(path)


def run(args: argparse.Namespace) -> int:
    """Answer the questions with the default pipeline minus the evidence check; append one record per question."""
    from app.runtime import default_runtime
    from app.sdk import open_adhoc
    from generation.answer import Verifier
    from generation.verify import answers_margin

    os.environ.setdefault("DOCQA_INDEX_CACHE", tempfile.mkdtemp(prefix="answerable-idx-"))
    folder = Path(tempfile.mkdtemp(prefix="answerable-data-"))
    tune, held = split_articles([q["doc_id"] for q in _unanswerable()])
    log.info("tune: %s; held-out: %s", tune, held)
    halves = [questions("tune", tune, unanswerable=args.tune_unanswerable, answerable=args.tune_answerable)
              if "tune" in args.halves else [],
              questions("held-out", held, unanswerable=args.held_unanswerable, answerable=args.held_answerable)
              if "held-out" in args.halves else []]
    schedule = halves[0] + halves[1] if not args.mixed else in_proportion(halves)
    settings = Settings()
    if args.check_margin is not None:  # e.g. -1e9: nothing withheld by the margin, which is recorded for sweep()
        settings = dataclasses.replace(settings, answer=dataclasses.replace(
            settings.answer, answer_check_margin=args.check_margin))
    llm = default_runtime().llm(settings.llm, settings.cache)
    # today's default: every check but the evidence check, which score() applies to the recorded answers
    today = Verifier(llm, settings.answer, answerability=AnswerabilitySettings(enabled=False))
    out = Path(args.out)
    done = {json.loads(line)["id"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    deadline = time.monotonic() + args.minutes * 60
    with out.open("a", encoding="utf-8") as f:
        for n, item in enumerate(schedule):
            if item["id"] in done:
                continue
            if time.monotonic() > deadline:
                log.info("deadline reached after %d of %d questions", n, len(schedule))
                break
            index = open_adhoc([document(folder, item["doc"])], settings=settings, llm=llm, verifier=today)
            start = time.perf_counter()
            answer = index.ask(item["question"])
            seconds = time.perf_counter() - start
            index.close()
            record = {**item, "seconds": round(seconds, 3), "answer": answer_to_dict(answer)}
            if args.separate_margin and answer.citations and not abstained(answer.text):
                # the separate check's margin too (the cited passages and the question, no answer): a second signal
                record["separate_margin"] = round(answers_margin(llm, item["question"],
                                                                 [c.passage for c in answer.citations])[0], 3)
            f.write(json.dumps(record) + "\n")
            f.flush()
            log.info("%d/%d %s %s %.1fs | %s | %s", n + 1, len(schedule), item["half"], item["kind"], seconds,
                     item["question"][:80], answer.text[:100].replace("\n", " "))
    return 0


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval of a binomial rate ``k / n``.

    >>> [round(x, 2) for x in wilson(45, 50)]
    [0.79, 0.96]
    """
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def read_records(path: str) -> Iterator[dict[str, Any]]:
    """The run's records, in order."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def margin(answer: Answer) -> float | None:
    """The answer check's yes-no margin, when it ran."""
    check = answer.stage("answer_check")
    found = re.search(r"margin ([+-]\d+\.\d+)", " ".join(check.details)) if check else None
    return float(found.group(1)) if found else None


def outcomes(records: Sequence[dict[str, Any]], s: AnswerabilitySettings) -> list[dict[str, Any]]:
    """Per record: abstained today (the answer as returned) and with the evidence check (``s``), the reason,
    and the scores of both answers."""
    out = []
    for r in records:
        answer = answer_from_dict(r["answer"])
        base = abstained(answer.text)
        reason = None
        if not base:
            a = assess_answer(r["question"], answer.text, [c.passage.text for c in answer.citations],
                              headers=[c.passage.header for c in answer.citations if c.passage.header])
            reason = abstain_reason(a, s)
        row = {"id": r["id"], "half": r["half"], "kind": r["kind"], "doc": r["doc"], "base": base,
               "new": base or reason is not None, "reason": reason, "margin": margin(answer)}
        if r["kind"] == "answerable":
            row["contains"] = contains_gold(answer.text, r["answers"]) if not base else 0.0
            row["f1"] = token_f1(answer.text, r["answers"]) if not base else 0.0
        out.append(row)
    return out


def _rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}, {hi:.2f}]" if n else "-"


def summary(rows: Sequence[dict[str, Any]], variant: str) -> dict[str, str]:
    """One table row: abstention on unanswerable, false abstention on answerable, contains gold and F1 over all
    answerable questions and over those answered."""
    u = [r for r in rows if r["kind"] == "unanswerable"]
    a = [r for r in rows if r["kind"] == "answerable"]
    answered = [r for r in a if not r[variant]]
    contains = sum(r["contains"] for r in answered)
    f1 = sum(r["f1"] for r in answered)
    return {"abstention (unanswerable)": _rate(sum(r[variant] for r in u), len(u)),
            "false abstention (answerable)": _rate(sum(r[variant] for r in a), len(a)),
            "contains gold (all answerable)": _rate(int(contains), len(a)),
            "contains gold (answered)": f"{contains / len(answered):.2f}" if answered else "-",
            "F1 (all answerable)": f"{f1 / len(a):.2f}" if a else "-",
            "F1 (answered)": f"{f1 / len(answered):.2f}" if answered else "-"}


GRID = [AnswerabilitySettings(require_candidate=c, specific_terms=sp, specific_near=near, negation=ng,
                              min_coverage=cov)
        for c in (False, True) for sp in (False, True) for near in ((False, True) if sp else (False,))
        for ng in (False, True) for cov in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)]


def proxy_items(docs: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(kind, question, answer, cited passage) for every question of ``docs``, without a model: an answerable
    question answered with its gold answer, cited from its gold paragraph; an unanswerable one answered with the
    sentence of its near paragraph that shares most words with it (what a model tends to copy), cited from that
    paragraph. Cheap enough to tune on every question of the tuning articles."""
    from generation.context import best_sentence
    from ingest.core.text import sentence_spans

    arts = _articles()
    items = []
    for q in _unanswerable():
        if q["doc_id"] in docs:
            para = arts[q["doc_id"]]["paragraphs"][q["near_paragraph"]]
            i = best_sentence(q["question"], para)
            a, b = sentence_spans(para)[i] if i is not None else (0, len(para))
            items.append(("unanswerable", q["question"], para[a:b], para))
    for doc in docs:
        for q in arts[doc]["questions"]:
            if not q.get("is_impossible"):
                gold = arts[doc]["paragraphs"][q["gold_paragraph"]]
                items.append(("answerable", q["question"], q["answers"][0], gold))
    return items


def proxy(args: argparse.Namespace) -> int:
    """Every setting of :data:`GRID` on the proxy of each half: the share of unanswerable questions withheld and of
    answerable ones, ordered by their difference on the tuning half (the default is the best setting there)."""
    tune_docs, held_docs = split_articles([q["doc_id"] for q in _unanswerable()])
    halves = {"tune": proxy_items(tune_docs), "held-out": proxy_items(held_docs)}
    if args.half:
        halves = {args.half: halves[args.half]}
    assessed = {h: [(k, assess_answer(q, a, [p])) for k, q, a, p in items] for h, items in halves.items()}
    rows = []
    for s in GRID:
        row: list[float] = []
        for items in assessed.values():
            u = [abstain_reason(a, s) is not None for k, a in items if k == "unanswerable"]
            n = [abstain_reason(a, s) is not None for k, a in items if k == "answerable"]
            row += [sum(u) / len(u), sum(n) / len(n)]
        rows.append((row, s))
    rows.sort(key=lambda r: -(r[0][0] - r[0][1]))
    counts = {h: (sum(k == "unanswerable" for k, _ in v), sum(k == "answerable" for k, _ in v))
              for h, v in assessed.items()}
    print(f"questions (unanswerable, answerable): {counts}")
    print("| candidate | specific terms | near | negation | min coverage | tune: withheld unanswerable | tune: "
          "withheld answerable | held-out: withheld unanswerable | held-out: withheld answerable |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row, s in rows[:args.top]:
        print(f"| {s.require_candidate} | {s.specific_terms} | {s.specific_near} | {s.negation} | {s.min_coverage} | "
              + " | ".join(f"{x:.3f}" for x in row) + " |")
    return 0


def score(args: argparse.Namespace) -> int:
    """Tables for each half: today's default beside the evidence check with its default settings."""
    records = list(read_records(args.records))
    s = AnswerabilitySettings()
    halves = [args.half] if args.half else ["tune", "held-out"]
    cols = list(summary([], "base"))
    print("| half | variant | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for half in halves:
        rows = outcomes([r for r in records if r["half"] == half], s)
        for variant, name in (("base", "today's default"), ("new", "with the evidence check")):
            print(f"| {half} | {name} | " + " | ".join(summary(rows, variant).values()) + " |")
    if args.reasons:
        for half in halves:
            for r in outcomes([x for x in records if x["half"] == half], s):
                if r["reason"]:
                    print(half, r["kind"], r["id"], r["reason"])
    return 0


def withheld_at(row: dict[str, Any], folded: float | None, separate: float | None) -> bool:
    """Whether an answer is withheld with the evidence check and these answer-check margins (``None``: that check
    off). A record without a margin (withheld before the check ran) keeps its outcome.

    >>> withheld_at({"new": False, "margin": 0.5, "separate_margin": -1.0}, 1.0, None)
    True
    >>> withheld_at({"new": False, "margin": 0.5, "separate_margin": -1.0}, 0.0, -2.0)
    False
    """
    if row["new"]:
        return True
    low = folded is not None and row.get("margin") is not None and row["margin"] < folded
    return low or (separate is not None and row.get("separate_margin") is not None
                   and row["separate_margin"] < separate)


def sweep(args: argparse.Namespace) -> int:
    """Margins chosen on the tuning half (most abstention with false abstention within ``--max-false``; else the
    largest abstention minus false abstention), then the same margins on the held-out half."""
    records = list(read_records(args.records))
    rows = {h: outcomes([r for r in records if r["half"] == h], AnswerabilitySettings()) for h in ("tune", "held-out")}
    for h, rs in rows.items():  # outcomes() keeps only the folded margin; add the separate one
        extra = {r["id"]: r.get("separate_margin") for r in records if r["half"] == h}
        for row in rs:
            row["separate_margin"] = extra.get(row["id"])
    grid = [x / 2 for x in range(-12, 13)]
    candidates = ([(f, None) for f in grid] + [(None, s) for s in grid] + [(f, s) for f in grid for s in grid])

    def rates(rs: Sequence[dict[str, Any]], f: float | None, s: float | None) -> tuple[float, float, int, int]:
        u = [withheld_at(r, f, s) for r in rs if r["kind"] == "unanswerable"]
        a = [withheld_at(r, f, s) for r in rs if r["kind"] == "answerable"]
        return sum(u) / max(1, len(u)), sum(a) / max(1, len(a)), len(u), len(a)

    scored = [(rates(rows["tune"], f, s), f, s) for f, s in candidates]
    within = [c for c in scored if c[0][1] <= args.max_false]
    best = (max(within, key=lambda c: (c[0][0], -c[0][1])) if within
            else max(scored, key=lambda c: c[0][0] - c[0][1]))
    shown = [("no margin", None, None), ("margin 0 (the default)", 0.0, None), ("chosen", best[1], best[2])]
    print("| margins (folded, separate) | half | abstention (unanswerable) | false abstention (answerable) |")
    print("|---|---|---|---|")
    for name, f, s in shown:
        for h in ("tune", "held-out"):
            u, a, nu, na = rates(rows[h], f, s)
            print(f"| {name}: {f}, {s} | {h} | {_rate(round(u * nu), nu)} | {_rate(round(a * na), na)} |")
    print("\ntuning-half trade-off (folded margin alone):")
    for (u, a, _, _), f, _s in scored[: len(grid)]:
        print(f"  folded >= {f:+.1f}: abstention {u:.2f}, false abstention {a:.2f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="answer the questions, one JSON record per line (resumes a cut-short file)")
    r.add_argument("--out", default="/tmp/answerable.jsonl")
    r.add_argument("--tune-unanswerable", type=int, default=4, help="per tuning article")
    r.add_argument("--tune-answerable", type=int, default=3, help="per tuning article")
    r.add_argument("--held-unanswerable", type=int, default=6, help="per held-out article")
    r.add_argument("--held-answerable", type=int, default=9, help="per held-out article")
    r.add_argument("--halves", default="tune,held-out", help="which halves to run, in this order")
    r.add_argument("--minutes", type=float, default=90.0, help="stop starting questions after this long")
    r.add_argument("--check-margin", type=float, help="[answer] answer_check_margin for the run (e.g. -1e9: record "
                   "every margin, withhold none, for sweep)")
    r.add_argument("--mixed", action="store_true", help="interleave the halves (a run cut short has both)")
    r.add_argument("--separate-margin", action="store_true", help="also record the separate yes/no check's margin")
    w = sub.add_parser("sweep", help="choose answer-check margins on the tuning half, report them on the held-out "
                                     "half (records of a run with --check-margin -1e9)")
    w.add_argument("records")
    w.add_argument("--max-false", type=float, default=0.10, help="most false abstention allowed on the tuning half")
    c = sub.add_parser("score", help="tables from a run's records")
    c.add_argument("records")
    c.add_argument("--half", choices=("tune", "held-out"), help="one half only (default: both)")
    c.add_argument("--reasons", action="store_true", help="also list each withheld answer's reason")
    x = sub.add_parser("proxy", help="tune without a model: the settings grid on every question of each half")
    x.add_argument("--top", type=int, default=10, help="rows shown")
    x.add_argument("--half", choices=("tune", "held-out"), help="one half only (default: both)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return {"run": run, "score": score, "proxy": proxy, "sweep": sweep}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
