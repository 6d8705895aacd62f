"""What the filings profile derives from a corpus, dumped as JSON, to diff two revisions of the code.

For each PDF of the FinanceBench dev set (or ``--pdfs``): the describer's facts, and every passage the default
splitter cuts (kind, header, a hash of its text, its ``Table`` record as JSON); for each question: the router's
decision over those documents (documents, reason, issuers, periods), whether it is a derived question, and the
figures planner's plan. Run it from two worktrees with the same venv and diff the outputs: a refactor that
moves the filings vocabulary must leave every line the same.

    python bench/filings_parity.py --out /tmp/after.json
    (cd /tmp/base && python bench/filings_parity.py --out /tmp/before.json)
    diff <(python -m json.tool /tmp/before.json) <(python -m json.tool /tmp/after.json)

Token counts for the splitter are whitespace words (no embedder is loaded): the passages are not those of a
real index, but they are cut the same way by both revisions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench_dev"


def plain(value: Any) -> Any:
    """A JSON-able form of a record: dataclasses as dicts, everything else as its ``str``."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a folder with pdfs/ and questions.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from generation.compute import is_derived_question
    from generation.figures import plan_question
    from ingest.core.settings import SplitSettings
    from ingest.describe import FilingsDescriber
    from ingest.read import read_paths
    from ingest.split import DocumentSplitter, ProseSplitter
    from retrieval.route import FilingsRouter

    split = SplitSettings()
    splitter = DocumentSplitter(split, ProseSplitter(split, lambda text: len(text.split())))
    pdfs = sorted((args.data / "pdfs").glob("*.pdf"))
    report = read_paths(pdfs, splitter=splitter, describer=FilingsDescriber())
    docs = {d.doc_id: d for d in report.documents}
    out: dict[str, Any] = {"documents": {}, "questions": []}
    for doc in sorted(report.documents, key=lambda d: d.source):
        passages = [p for p in report.passages if p.doc_id == doc.doc_id]
        out["documents"][Path(doc.source).name] = {
            "meta": doc.meta,
            "passages": [{"kind": p.kind, "header": p.header, "chars": list(p.chars),
                          "text": hashlib.sha256(p.text.encode()).hexdigest()[:16], "table": plain(p.table)}
                         for p in passages]}
    documents = [{"doc_id": d.doc_id, "source": d.source, "meta": d.meta} for d in docs.values()]
    router = FilingsRouter()
    for line in (args.data / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        question = json.loads(line)["question"]
        decision = router.route(question, documents)
        out["questions"].append({
            "question": question,
            "route": {"docs": [Path(docs[i].source).name for i in decision.doc_ids], "reason": decision.reason,
                      "confident": decision.confident, "issuers": list(decision.issuers),
                      "periods": [str(p) for p in decision.periods]},
            "derived": is_derived_question(question),
            "plan": plain(plan_question(question))})
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True), encoding="utf-8")
    tables = sum(1 for d in out["documents"].values() for p in d["passages"] if p["table"])
    print(f"{len(out['documents'])} documents, {sum(len(d['passages']) for d in out['documents'].values())} passages "
          f"({tables} with a table), {len(out['questions'])} questions -> {args.out}")


if __name__ == "__main__":
    main()
