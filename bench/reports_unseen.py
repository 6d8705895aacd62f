"""Issue 24: reports on questions the code was not developed on, development and fresh questions side by side.

``run`` asks every question of the FinanceBench development set (53) and of a fresh set written for issue 24
(``bench/fresh_questions_issue24.jsonl`` lists them; the copy with gold answers lives outside the repository,
``--fresh``) over one corpus-wide index of the 35 development filings (the ``all`` variant of
``bench/financebench.py``, cached there), the sets interleaved question by question. ``--fresh`` is repeatable,
``NAME=FILE`` names a set (a bare ``FILE`` is the set "fresh"), so several held-out sets run beside the
development one. Per question it records the passages three searches rank first (k = 5): the plain corpus-wide
search (``corpus``) and the plain search within the question's filing (``within``), as before, and what the
pipeline retrieves for the answer (``planned``: ``Index.retrieve``, routed and fused with the evidence plan's
searches, the candidates the pipeline reads); the whole answer (``answer_to_dict``, citations and passages
included) and the seconds, one JSON line each (a cut-short run resumes).

``retrieval`` scores the three searches' evidence-page hit@5 without answering (no model: seconds, not hours).

The run answers as shipped (the number check on). With ``--without-number-check`` it answers with the check off
(``[answer] number_check = false``) and ``score`` reports each answer as given (**before**) and with the number
check applied to it (**after**: ``withhold_wrong_numbers``, the function the verifier calls, over the recorded
answer and the passages its markers cite, with the filings profile's label matcher), so one run gives both
columns. Applied after the run, the check cannot know the part of the company the figures stage found for the
question (the verifier is handed it), so only a shipped run shows that part of the check; over a shipped run,
before and after are the same answers.

Measures per set: evidence-page hit@5 corpus-wide, within the filing and of the planned search; numeric match
(gold number within 1%, over questions with a numeric gold); wrong-number answers (states a number, and the gold
is a number it misses or the question is unanswerable); citation precision and recall (cited pages on an evidence
page); abstention on the questions the filings cannot answer; answer seconds p50.

    python bench/reports_unseen.py run --fresh /work/heldout/issue24/questions.jsonl --out /tmp/r24/answers.jsonl
    python bench/reports_unseen.py score /tmp/r24/answers.jsonl --fresh /work/heldout/issue24/questions.jsonl
    python bench/reports_unseen.py retrieval --fresh fresh1=/work/heldout/issue24/questions.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answerable import in_proportion, wilson  # noqa: E402
from fb_scoring import citation_scores, first_hit, gold_number, numbers_in, numeric_match  # noqa: E402
from financebench import FB, Question, docqa_index, load_questions, location, scoped_search  # noqa: E402

from app.metrics import abstained  # noqa: E402
from generation.verify import split_claims  # noqa: E402
from ingest.core.settings import Settings  # noqa: E402

K = 5


def fresh_sets(values: list[str]) -> dict[str, Path]:
    """``--fresh`` values as set name -> questions file: ``NAME=FILE``, or a bare ``FILE`` for the set "fresh".

    >>> fresh_sets(["/q/a.jsonl", "b=/q/b.jsonl"])
    {'fresh': PosixPath('/q/a.jsonl'), 'b': PosixPath('/q/b.jsonl')}
    """
    sets: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name, path = (name, path) if sep and name and "/" not in name else ("fresh", value)
        if name in sets or name == "dev":
            raise SystemExit(f"--fresh: the set name {name!r} is taken (dev, or given twice)")
        sets[name] = Path(path)
    return sets


def schedule_of(sets: dict[str, Path]) -> list[tuple[str, Question]]:
    """The development questions and each held-out set's, interleaved question by question."""
    parts = [[("dev", q) for q in load_questions(FB / "questions.jsonl")]]
    parts += [[(name, q) for q in load_questions(path)] for name, path in sets.items()]
    return in_proportion(parts)


def answerable_ids(path: Path) -> dict[str, bool]:
    """Question id -> whether the filing answers it (the fresh file's ``answerable``; absent: True)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["id"]: bool(r.get("answerable", True)) for r in rows}


def run(args: argparse.Namespace) -> int:
    from ingest.core.serialize import answer_to_dict

    schedule = schedule_of(fresh_sets(args.fresh))
    pdfs = sorted((FB / "pdfs").glob("*.pdf"))
    base = Settings()
    if args.without_number_check:
        base = dataclasses.replace(base, answer=dataclasses.replace(base.answer, number_check=False))
    index, _ = docqa_index("all", pdfs, "dev", base)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["id"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    docs = {str(d["source"]): str(d["doc_id"]) for d in index.reader.manifest.sources}
    deadline = time.monotonic() + args.minutes * 60
    with out.open("a", encoding="utf-8") as f:
        for n, (part, q) in enumerate(schedule, 1):
            if q.id in done:
                continue
            if time.monotonic() > deadline:
                print(f"deadline reached after {n - 1} of {len(schedule)}", flush=True)
                break
            corpus, within, planned = searches(index, docs, q)
            t = time.perf_counter()
            answer = index.ask(q.question)
            seconds = time.perf_counter() - t
            record = {"id": q.id, "set": part, "doc": q.doc, "pages0": list(q.pages0), "question": q.question,
                      "corpus": corpus, "within": within, "planned": planned, "seconds": round(seconds, 3),
                      "answer": answer_to_dict(answer)}
            f.write(json.dumps(record, default=list) + "\n")
            f.flush()
            print(f"{n}/{len(schedule)} {part} {q.id} {seconds:.1f}s | {answer.text[:100]!r}", flush=True)
    index.close()
    return 0


def searches(index: Any, docs: dict[str, str], q: Question) -> tuple[list[Any], list[Any], list[Any]]:
    """The top ``K`` locations of the plain corpus-wide search, the plain search within the question's filing
    (empty when the filing is not indexed) and the planned search the pipeline answers from."""
    corpus = [location(h.passage) for h in index.search(q.question, k=K)]
    doc_id = next((d for s, d in docs.items() if Path(s).stem == q.doc), None)
    within = [location(h.passage) for h in scoped_search(index, q.question, doc_id, K)] if doc_id else []
    planned = [location(h.passage) for h in index.retrieve(q.question, K).hits]
    return corpus, within, planned


def hit(locations: list[Any] | None, q: Question) -> bool | None:
    """Whether an evidence page is among the first ``K`` locations (None: not recorded)."""
    if locations is None:
        return None
    return first_hit([tuple(x) for x in locations], q.doc, q.pages0, top=K) is not None


def retrieval(args: argparse.Namespace) -> int:
    """Evidence-page hit@5 of the plain corpus-wide, the plain within-filing and the planned search per set, no
    model (``--out`` keeps the per-question locations)."""
    sets = fresh_sets(args.fresh)
    answerable = {k: v for path in sets.values() for k, v in answerable_ids(path).items()}
    index, _ = docqa_index("all", sorted((FB / "pdfs").glob("*.pdf")), "dev", Settings())
    docs = {str(d["source"]): str(d["doc_id"]) for d in index.reader.manifest.sources}
    rows: list[dict[str, Any]] = []
    t = time.perf_counter()
    for part, q in schedule_of(sets):
        if not answerable.get(q.id, True):
            continue
        corpus, within, planned = searches(index, docs, q)
        rows.append({"id": q.id, "set": part, "doc": q.doc, "pages0": list(q.pages0), "corpus": corpus,
                     "within": within, "planned": planned,
                     "hits": {"corpus": hit(corpus, q), "within": hit(within, q), "planned": hit(planned, q)}})
    seconds = time.perf_counter() - t
    index.close()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print("| set | n (answerable) | hit@5 corpus | hit@5 within filing | hit@5 planned (what the pipeline reads) |")
    print("|---|---|---|---|---|")
    for part in ["dev", *sets]:
        got = [r for r in rows if r["set"] == part]
        cells = [rate(sum(bool(r["hits"][c]) for r in got), len(got)) for c in ("corpus", "within", "planned")]
        print(f"| {part} | {len(got)} | {' | '.join(cells)} |")
    print(f"\n{len(rows)} questions, three searches each, in {seconds:.1f} s")
    return 0


def after_number_check(answer: Any) -> str:
    """The answer's text with the number check applied (the filings profile's label matcher), as the pipeline
    applies it: to the model's own text, never to a computed figure (its operands pass their own check)."""
    from generation.line_items import line_item_agreement
    from generation.number_check import withhold_wrong_numbers
    from generation.prompt import NOT_FOUND

    if answer.calculation is not None:
        return answer.text
    by_number = {c.number: c.passage for c in answer.citations}
    checked = withhold_wrong_numbers(answer.text, by_number.get, line_item_agreement, question=answer.question)
    return checked.text or NOT_FOUND


def states_wrong_number(text: str, q: Question, answerable: bool) -> bool | None:
    """Whether an answer states a number that is wrong: any number for an unanswerable question, else one that
    misses a numeric gold (None: the gold is not a number, or the answer states none)."""
    if abstained(text):
        return False
    stated = [n for n in numbers_in(text) if not (1900 <= abs(n.value) <= 2100 and n.value == int(n.value))]
    if not stated:
        return False
    if not answerable:
        return True
    gold = gold_number(q.answer)
    return None if gold is None else not numeric_match(text, gold)


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}-{hi:.2f}]" if n else "-"


def score(args: argparse.Namespace) -> int:
    from ingest.core.serialize import answer_from_dict

    sets = fresh_sets(args.fresh)
    questions = {q.id: q for _, q in schedule_of(sets)}
    answerable = {k: v for path in sets.values() for k, v in answerable_ids(path).items()}
    records = [json.loads(line) for line in Path(args.records).read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.only_ids_of:  # the questions another run answered (a paired comparison of two runs)
        other = {json.loads(line)["id"] for line in Path(args.only_ids_of).read_text(encoding="utf-8").splitlines()
                 if line.strip()}
        records = [r for r in records if r["id"] in other]
    print("| set | variant | n | hit@5 corpus | hit@5 within filing | hit@5 planned | numeric match | "
          "wrong-number answers | citation precision | citation recall | abstention (unanswerable) | "
          "false abstention | unanswerable, answered from another filing | s/question p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    elsewhere_ids: list[str] = []
    for part in ["dev", *sets]:
        rows = [r for r in records if r["set"] == part]
        for variant in ("before", "after"):
            hits = [0, 0, 0, 0]  # corpus, within, planned, questions with a planned record
            numeric = [0, 0]
            wrong = [0, 0]
            cites = [0, 0]
            recall = [0, 0]
            abst = [0, 0]
            false_abst = [0, 0]
            elsewhere = [0, 0]
            for r in rows:
                q = questions[r["id"]]
                can = answerable.get(r["id"], True)
                answer = answer_from_dict(r["answer"])
                text = answer.text if variant == "before" else after_number_check(answer)
                if can:
                    hits[0] += bool(hit(r["corpus"], q))
                    hits[1] += bool(hit(r["within"], q))
                    if (planned := hit(r.get("planned"), q)) is not None:  # older records have none
                        hits[2] += planned
                        hits[3] += 1
                    gold = gold_number(q.answer)
                    if gold is not None:
                        numeric[0] += numeric_match(text, gold) and not abstained(text)
                        numeric[1] += 1
                    false_abst[0] += abstained(text)
                    false_abst[1] += 1
                    if not abstained(text):
                        kept = {c.number for c in answer.citations} if variant == "before" else \
                            {n for c in split_claims(text) for n in c.numbers}
                        cited = [location(c.passage) for c in answer.citations if c.number in kept]
                        h, t, some = citation_scores(cited, q.doc, q.pages0)
                        cites[0] += h
                        cites[1] += t
                        recall[0] += some
                    recall[1] += 1
                else:
                    abst[0] += abstained(text)
                    abst[1] += 1
                    # the question's filing cannot answer it, but the corpus holds the issuer's other filings: an
                    # answer citing only those may be right (a later 10-K restates the year asked); check by hand
                    docs = {location(c.passage)[0] for c in answer.citations}
                    other = not abstained(text) and bool(docs) and q.doc not in docs
                    elsewhere[0] += other
                    elsewhere[1] += 1
                    if other and variant == "after":
                        elsewhere_ids.append(r["id"])
                w = states_wrong_number(text, q, can)
                if w is not None:
                    wrong[0] += w
                    wrong[1] += 1
            n_can = sum(answerable.get(r["id"], True) for r in rows)
            secs = statistics.median(r["seconds"] for r in rows) if rows else 0.0
            print(f"| {part} | {variant} | {len(rows)} | {rate(hits[0], n_can)} | {rate(hits[1], n_can)} | "
                  f"{rate(hits[2], hits[3])} | {rate(*numeric)} | {rate(*wrong)} | {rate(*cites)} | {rate(*recall)} | "
                  f"{rate(*abst)} | {rate(*false_abst)} | {rate(*elsewhere)} | {secs:.1f} |")
    if elsewhere_ids:
        print(f"\nunanswerable from their own filing, answered (after) from another filing: {', '.join(elsewhere_ids)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    fresh_help = ("held-out questions with their answers (outside the repository): NAME=FILE names the set, a bare "
                  "FILE is the set 'fresh'; repeatable")
    r.add_argument("--fresh", required=True, action="append", help=fresh_help)
    r.add_argument("--out", default="/tmp/r24/answers.jsonl")
    r.add_argument("--minutes", type=float, default=120.0, help="stop starting questions after this long")
    r.add_argument("--without-number-check", action="store_true",
                   help="answer with the number check off, for score's before/after columns")
    c = sub.add_parser("score")
    c.add_argument("records")
    c.add_argument("--fresh", required=True, action="append", help=fresh_help)
    c.add_argument("--only-ids-of", help="score only the questions this other records file holds")
    t = sub.add_parser("retrieval", help="evidence hit@5 of the plain and the planned searches, no model")
    t.add_argument("--fresh", required=True, action="append", help=fresh_help)
    t.add_argument("--out", help="write the per-question locations here (JSON lines)")
    args = ap.parse_args()
    return {"run": run, "score": score, "retrieval": retrieval}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
