"""The figures stage alone (no model) over the issue-24 development questions: what the shortcut decides.

For each question of the FinanceBench development set and the first fresh issue-24 set (``--fresh``, the copy
with gold answers outside the repository), over the ``all`` index of ``bench/financebench.py`` with the number
check off (the settings of ``bench/reports_unseen.py run``), it runs retrieval and the pipeline's shortcut only
and writes one JSON line per question: the shortcut's outcome and trace details, and its answer's text when it
answered. Two such files (before and after a change) name the questions a change can affect: only those need to
be asked again in full (``--ask ids.txt`` asks them, writing ``reports_unseen`` records).

    python bench/figures_only.py --fresh /work/heldout/issue24/questions.jsonl --out /tmp/fig/after.jsonl
    python bench/figures_only.py --fresh ... --ask /tmp/fig/ids.txt --out /tmp/fig/asked.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from financebench import FB, docqa_index, load_questions, location, scoped_search  # noqa: E402
from reports_unseen import K  # noqa: E402

from ingest.core.settings import Settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fresh", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ask", help="a file of question ids: ask these in full (reports_unseen records)")
    args = ap.parse_args()
    from ingest.core.serialize import answer_to_dict

    questions = [("dev", q) for q in load_questions(FB / "questions.jsonl")] + \
        [("fresh", q) for q in load_questions(Path(args.fresh))]
    base = Settings()
    base = dataclasses.replace(base, answer=dataclasses.replace(base.answer, number_check=False))
    index, _ = docqa_index("all", sorted((FB / "pdfs").glob("*.pdf")), "dev", base)
    pipe = index.pipeline
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wanted = set(Path(args.ask).read_text().split()) if args.ask else None
    docs = {str(d["source"]): str(d["doc_id"]) for d in index.reader.manifest.sources}
    with out.open("w", encoding="utf-8") as f:
        for part, q in questions:
            if wanted is not None:
                if q.id not in wanted:
                    continue
                corpus = [location(h.passage) for h in index.search(q.question, k=K)]
                doc_id = next((d for s, d in docs.items() if Path(s).stem == q.doc), None)
                within = [location(h.passage) for h in scoped_search(index, q.question, doc_id, K)] if doc_id else []
                t = time.perf_counter()
                answer = index.ask(q.question)
                seconds = time.perf_counter() - t
                record = {"id": q.id, "set": part, "doc": q.doc, "pages0": list(q.pages0), "question": q.question,
                          "corpus": corpus, "within": within, "seconds": round(seconds, 3),
                          "answer": answer_to_dict(answer)}
                print(f"{q.id} {seconds:.1f}s {answer.text[:100]!r}", flush=True)
            else:
                found, _, _ = pipe._retrieve(q.question, None)
                direct = pipe.shortcut.answer(q.question, search=pipe._search, retrieval=found, scope=None,
                                              candidates=found.hits, corpus=pipe.selector.corpus)
                record = {"id": q.id, "set": part,
                          "outcome": None if direct is None else direct.trace.outcome,
                          "details": [] if direct is None else list(direct.trace.details),
                          "text": None if direct is None or direct.answer is None else direct.answer.text,
                          "cited": [] if direct is None or direct.answer is None else
                          [list(location(c.passage)) for c in direct.answer.citations]}
            f.write(json.dumps(record, default=list) + "\n")
            f.flush()
    index.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
