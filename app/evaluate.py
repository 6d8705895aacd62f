"""``docqa eval``: run a question set through the pipeline and score answers, retrieval and citations.

The dataset format (one JSON object per line) is documented in ``docs/eval-format.md``::

    {"question": "...", "answers": ["..."], "doc": "a.pdf", "evidence": [{"page": 3}]}

An empty ``answers`` list marks a question the documents do not answer: the right reply is an
abstention. Metric definitions live in :mod:`app.metrics`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import metrics
from app.metrics import Evidence
from ingest.core.errors import InputError
from ingest.core.protocols import LLM
from ingest.core.records import Answer
from ingest.core.settings import Settings

RETRIEVAL_K = (1, 5, 10)


@dataclass(frozen=True)
class EvalItem:
    """One question of a dataset."""

    question: str
    answers: tuple[str, ...]  # empty: the documents do not answer it
    docs: tuple[str, ...]  # resolved paths (empty when the dataset is run against one given index)
    evidence: tuple[Evidence, ...] = ()
    id: str = ""
    tags: tuple[str, ...] = field(default=())

    @property
    def answerable(self) -> bool:
        """The documents hold an answer."""
        return bool(self.answers)


def _evidence(raw: Any, where: str, base: Path) -> Evidence:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: evidence items are objects like {{\"page\": 3}}")
    unknown = set(raw) - {"page", "chars", "lines", "doc"}
    if unknown:
        raise InputError(f"{where}: unknown evidence keys {sorted(unknown)}; valid: page, chars, lines, doc")
    try:
        span: dict[str, Any] = {k: tuple(int(x) for x in raw[k]) for k in ("chars", "lines") if k in raw}
        if any(len(v) != 2 or v[1] < v[0] for v in span.values()):
            raise ValueError("a span is [start, end] with start <= end")
        source = str(_resolve(raw["doc"], base)) if "doc" in raw else None
        return Evidence(page=int(raw["page"]) if "page" in raw else None, source=source, **span)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: bad evidence {raw!r} ({err})") from err


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p)


def load_dataset(path: str | os.PathLike[str]) -> list[EvalItem]:
    """Questions from a JSONL file; relative ``doc`` paths are relative to the file's folder.

    :raises InputError: a missing file or a malformed line (named by line number).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise InputError(f"{path}: dataset not found") from err
    items: list[EvalItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{where}: not JSON ({err.msg})") from err
        if not isinstance(raw, dict) or not isinstance(raw.get("question"), str) or not raw["question"].strip():
            raise InputError(f"{where}: each line needs a non-empty \"question\"")
        answers = raw.get("answers", [])
        if isinstance(answers, str) or not all(isinstance(a, str) for a in answers):
            raise InputError(f"{where}: \"answers\" is a list of strings ([] for unanswerable questions)")
        docs = raw.get("doc", [])
        docs = [docs] if isinstance(docs, str) else docs
        if not all(isinstance(d, str) for d in docs):
            raise InputError(f"{where}: \"doc\" is a path or a list of paths")
        items.append(EvalItem(question=raw["question"].strip(), answers=tuple(answers),
                              docs=tuple(str(_resolve(d, path.parent)) for d in docs),
                              evidence=tuple(_evidence(e, where, path.parent) for e in raw.get("evidence", [])),
                              id=str(raw.get("id", number)), tags=tuple(raw.get("tags", ()))))
    if not items:
        raise InputError(f"{path}: no questions")
    return items


def score_item(item: EvalItem, answer: Answer, retrieved: Sequence[Any], seconds: float) -> dict[str, Any]:
    """One question's record: the answer and its scores."""
    cited = [c.passage for c in answer.citations]
    record: dict[str, Any] = {
        "id": item.id, "question": item.question, "answers": list(item.answers), "prediction": answer.text,
        "abstained": metrics.abstained(answer.text), "answerable": item.answerable,
        "cited": [c.label for c in answer.citations], "seconds": round(seconds, 6),
        "tokens": answer.llm_tokens, "token_detail": answer.tokens, "mode": answer.mode, "tags": list(item.tags),
    }
    if item.answerable:
        record.update(em=metrics.exact_match(answer.text, item.answers), f1=metrics.token_f1(answer.text, item.answers),
                      contains=metrics.contains_gold(answer.text, item.answers))
    if item.evidence:
        rank = metrics.first_relevant_rank([r.passage for r in retrieved], item.evidence)
        hits, total = metrics.citation_precision(cited, item.evidence)
        record.update(retrieval_rank=rank, context_hit=any(metrics.holds(p, e) for p in answer.passages
                                                               for e in item.evidence),
                      cited_with_evidence=hits, citations=total,
                      citation_recall=metrics.citation_recall(cited, item.evidence))
    return record


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate scores over per-question records (answer scores over answerable questions only).

    >>> r = [{"answerable": True, "abstained": False, "em": 1.0, "f1": 1.0, "contains": 1.0, "retrieval_rank": 2,
    ...       "context_hit": True, "cited_with_evidence": 1, "citations": 2, "citation_recall": 1.0,
    ...       "seconds": 2.0, "tokens": 100},
    ...      {"answerable": False, "abstained": True, "seconds": 4.0, "tokens": 50}]
    >>> s = summarize(r)
    >>> s["f1"], s["hit@1"], s["hit@5"], s["mrr"], s["citation_precision"], s["abstention"], s["seconds_per_question"]
    (1.0, 0.0, 1.0, 0.5, 0.5, 1.0, 3.0)
    """
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    with_evidence = [r for r in answerable if "retrieval_rank" in r]
    out: dict[str, Any] = {"questions": len(records), "answerable": len(answerable),
                           "unanswerable": len(unanswerable)}
    for key in ("em", "f1", "contains"):
        out[key] = metrics.mean([r[key] for r in answerable])
    out["false_abstention"] = metrics.mean([float(r["abstained"]) for r in answerable])
    out["abstention"] = metrics.mean([float(r["abstained"]) for r in unanswerable])
    for k in RETRIEVAL_K:
        out[f"hit@{k}"] = metrics.mean([float(r["retrieval_rank"] is not None and r["retrieval_rank"] <= k)
                                        for r in with_evidence])
    out["mrr"] = metrics.mean([1.0 / r["retrieval_rank"] if r["retrieval_rank"] else 0.0 for r in with_evidence])
    out["context_hit"] = metrics.mean([float(r["context_hit"]) for r in with_evidence])
    total = sum(r["citations"] for r in with_evidence)
    out["citation_precision"] = sum(r["cited_with_evidence"] for r in with_evidence) / total if total else None
    out["citation_recall"] = metrics.mean([r["citation_recall"] for r in with_evidence])
    out["citations_per_answer"] = total / len(with_evidence) if with_evidence else None
    out["seconds_per_question"] = metrics.mean([r["seconds"] for r in records])
    out["tokens_per_question"] = metrics.mean([r["tokens"] for r in records])
    return out


def _indexes(source: Any, settings: Settings, llm: LLM | None) -> Callable[[EvalItem], Any]:
    """``index_for(item)``: the given index, or an ad-hoc (content-cached) index of the item's documents."""
    from app.sdk import Index, open_adhoc

    if isinstance(source, Index):
        return lambda item: source
    opened: dict[tuple[str, ...], Index] = {}
    fixed = None if source is None else ([source] if isinstance(source, str | os.PathLike) else list(source))

    def index_for(item: EvalItem) -> Index:
        docs = tuple(str(p) for p in fixed) if fixed is not None else item.docs
        if not docs:
            raise InputError(f"question {item.id}: no \"doc\" given and no index or paths to run against")
        if docs not in opened:
            for old in opened.values():  # one open index at a time: datasets can name many documents
                old.close()
            opened.clear()
            opened[docs] = open_adhoc(list(docs), settings=settings, llm=llm)
        return opened[docs]

    return index_for


def run(source: Any, items: Sequence[EvalItem], *, settings: Settings | None = None, llm: LLM | None = None,
        retrieval_k: int = max(RETRIEVAL_K)) -> Iterator[dict[str, Any]]:
    """Yield one scored record per question, as each is answered."""
    from app.runtime import default_runtime

    settings = settings or Settings()
    llm = llm or default_runtime().llm(settings.llm, settings.cache)
    index_for = _indexes(source, settings, llm)
    for item in items:
        index = index_for(item)
        retrieved = index.search(item.question, retrieval_k) if item.evidence else []
        start = time.perf_counter()
        answer = index.ask(item.question)
        yield score_item(item, answer, retrieved, time.perf_counter() - start)


def evaluate(source: Any, dataset: str | os.PathLike[str] | Sequence[EvalItem], *, settings: Settings | None = None,
             llm: LLM | None = None, limit: int | None = None, out: str | os.PathLike[str] | None = None,
             progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run a dataset and return its report: ``{"summary": ..., "settings": ..., "records": [...]}``.

    :param source: an :class:`~app.sdk.Index`, paths to index ad hoc for every question, or None to use
        each question's own ``doc`` paths (indexed ad hoc, cached by content).
    :param dataset: a JSONL path (see ``docs/eval-format.md``) or loaded items.
    :param limit: first ``limit`` questions only.
    :param out: also write the report there as JSON (rewritten after every question, so a stopped run
        keeps what it finished).
    :param progress: ``progress(done, total, record)`` after each question.
    """
    import dataclasses

    items = load_dataset(dataset) if isinstance(dataset, str | os.PathLike) else list(dataset)
    items = items[:limit] if limit else items
    settings = settings or Settings()
    records: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    start = time.perf_counter()
    for record in run(source, items, settings=settings, llm=llm):
        records.append(record)
        report = {"summary": summarize(records), "seconds": round(time.perf_counter() - start, 1),
                  "settings": {"answer": dataclasses.asdict(settings.answer), "llm": dataclasses.asdict(settings.llm),
                               "search": dataclasses.asdict(settings.search)},
                  "dataset": str(dataset) if isinstance(dataset, str | os.PathLike) else None, "records": records}
        if out is not None:
            Path(out).write_text(json.dumps(report, indent=2, default=str))
        if progress is not None:
            progress(len(records), len(items), record)
    return report
