"""The figures stage: a derived or looked-up figure answered from the statement tables, without the model.

When ``[answer] compute`` is on and :func:`generation.figures.plan_question` plans the question, each operand
(a line item in one fiscal year) gets one small search inside the question's own scope and routing
("<line item> <statement> <year>"); :func:`generation.figures.find_operand` picks its row and cell among
those hits and the question's candidates. When every operand is found, the planner's ``OPERAND``/``FORMULA``
block goes through the same check as a model's (``generation.answer.check_calculation``): every operand must
be printed in the passage it cites, and docqa computes the result. Anything missing or failing: the caller
runs the model as before. The searching lives here because ``generation`` does not import ``retrieval``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from app.parts import Direct, Search
from generation.answer import Checked, Draft, check_calculation
from generation.evidence import Excerpt
from generation.figures import (
    Found,
    Plan,
    find_operand,
    implausible,
    in_units_asked,
    operand_query,
    plan_question,
    write_block,
)
from generation.select import Corpus
from ingest.core.records import Answer, Passage, Ranked, StageTrace
from retrieval.scope import Scope
from retrieval.search import Retrieval

OPERAND_HITS = 8  # passages searched per operand
STATEMENT_HITS = 3  # statement pages searched per statement
STATEMENT_QUERIES = {"balance": "consolidated balance sheets total assets total liabilities",
                     "income": "consolidated statements of operations income revenues net income",
                     "cash": "consolidated statements of cash flows operating activities investing activities"}
MODEL_NAME = "docqa figures (no model call)"


@dataclass(frozen=True)
class Figures:
    """What the stage did: its trace, and the checked answer and draft when it answered (None: ask the model)."""

    trace: StageTrace
    checked: Checked | None = None
    draft: Draft | None = None
    evidence: tuple[Excerpt, ...] = ()  # without an answer: the rows of the operands found, for the model


def found_rows(found: Mapping[str, Found]) -> tuple[Excerpt, ...]:
    """Each found operand's table row (the line its cell is printed on), one excerpt per passage: what the model
    must read when the planner cannot answer alone."""
    spans: dict[str, tuple[Passage, set[tuple[int, int]]]] = {}
    for f in found.values():
        table = f.passage.table
        row = next(((r.start, r.end) for r in table.rows if r.start <= f.span[0] < r.end), None) if table else None
        spans.setdefault(f.passage.id, (f.passage, set()))[1].add(row or f.span)
    return tuple(Excerpt(p, tuple(sorted(s))) for p, s in spans.values())


def figures_scope(found: Retrieval | None, scope: Scope | None, candidates: Sequence[Ranked]) -> tuple[Scope | None,
                                                                                                   str]:
    """Where operand searches run, and why: the question's first routed filing (with the user's kinds and
    pages), else the user's scope, else the filing of the question's best candidate (one filing's figures)."""
    kinds, pages = (scope.kinds, scope.pages) if scope is not None else ((), None)
    if found is not None and found.route is not None and found.route.confident and found.route.doc_ids:
        doc = found.route.doc_ids[0]
        return Scope(documents=(doc,), kinds=kinds, pages=pages), "the routed filing"
    if scope:
        return scope, "the question's scope"
    if candidates:
        return Scope(documents=(candidates[0].passage.doc_id,), kinds=kinds, pages=pages), \
            "the best candidate's document"
    return None, "the whole index"


def with_table_heads(passages: Sequence[Passage], corpus: Mapping[str, Sequence[Passage]] | None) -> list[Passage]:
    """``passages`` plus, for each table passage cut from a longer table, the earlier passages of the same table
    (same document and header, adjacent): more rows of the statement a hit belongs to (every passage carries its
    own Table record, column periods included)."""
    if corpus is None:
        return list(passages)
    out: dict[str, Passage] = {p.id: p for p in passages}
    for p in passages:
        if p.kind != "table":
            continue
        doc = corpus.get(p.doc_id, ())
        at = next((i for i, q in enumerate(doc) if q.id == p.id), None)
        while at is not None and at > 0 and doc[at - 1].kind == "table" and doc[at - 1].header == p.header:
            at -= 1
            out.setdefault(doc[at].id, doc[at])
    return list(out.values())


def _passages(search: Search, query: str, scope: Scope | None, k: int) -> list[Passage]:
    return [h.passage for h in search(query, k, scope).hits]


def statement_pages(plan: Plan, search: Search, scope: Scope | None,
                    corpus: Mapping[str, Sequence[Passage]] | None) -> list[Passage]:
    """The pages of the statements the plan's operands are reported in: one search per statement for its title
    ("consolidated balance sheets"), then every passage on the page of each hit (a statement cut into several
    tables, such as assets and liabilities, comes whole)."""
    out: dict[str, Passage] = {}
    for statement in dict.fromkeys(o.item.statement for o in plan.operands if o.item.statement):
        for hit in _passages(search, STATEMENT_QUERIES[statement], scope, STATEMENT_HITS):
            page = [p for p in (corpus or {}).get(hit.doc_id, ()) if p.page == hit.page] or [hit]
            out.update((p.id, p) for p in page)
    return list(out.values())


def resolve(plan: Plan, search: Search, scope: Scope | None, candidates: Sequence[Passage],
            corpus: Mapping[str, Sequence[Passage]] | None) -> tuple[dict[str, Found], list[str]]:
    """Each operand's cell (searched inside ``scope``, then on the statements' pages and among the question's
    candidates), and the names of operands not found."""
    allowed = set(scope.documents) if scope is not None and scope.documents else None
    found: dict[str, Found] = {}
    missing: list[str] = []
    statements = statement_pages(plan, search, scope, corpus)
    for operand in plan.operands:
        hits = _passages(search, operand_query(operand), scope, OPERAND_HITS)
        pool = [p for p in [*hits, *statements, *candidates]
                if allowed is None or p.doc_id in allowed or p.source in allowed]
        pool = list({p.id: p for p in with_table_heads(pool, corpus)}.values())
        cell = find_operand(operand.item, operand.year, pool, statements=plan.statements, months=plan.months)
        if cell is None:
            missing.append(operand.name)
        else:
            found[operand.name] = cell
    return found, missing


def answer_figures(question: str, search: Search, retrieval: Retrieval | None, scope: Scope | None,
                   candidates: Sequence[Ranked], corpus: Corpus | None) -> Figures | None:
    """The question answered from the statement tables, or a trace saying why not; None when nothing is planned.

    :param corpus: the index's passages by document (for a table's earlier passages and a statement's whole
        page), read only once a question is planned: most questions never load them.
    """
    hint = None
    if retrieval is not None and retrieval.route is not None:
        years = [p.year for p in retrieval.route.periods]
        hint = years[0] if len(set(years)) == 1 else None
    plan = plan_question(question, fiscal_year_hint=hint)
    if plan is None:
        return None
    t = time.perf_counter()
    where, why = figures_scope(retrieval, scope, candidates)
    found, missing = resolve(plan, search, where, [r.passage for r in candidates],
                             corpus.doc_passages() if corpus is not None else None)
    details = [plan.describe(), f"operands searched in {why}"]
    details += [f"{name}: {f.label!r} = {f.text} ({f.passage.label})" for name, f in found.items()]
    if missing:
        details.append(f"not found: {', '.join(missing)}; the model answers"
                       + (", reading the rows found first" if found else ""))
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="incomplete",
                                  details=tuple(details)), evidence=found_rows(found))
    context = list({f.passage.id: f.passage for f in found.values()}.values())
    block = write_block(plan, found, context)
    draft = Draft(raw=block, text=block, citations=(), context=tuple(context), dropped=(), trace=(), compute=True)
    checked, _ = check_calculation(question, draft)
    if checked.calculation is None:
        details.append(f"the block failed its check ({'; '.join(w.detail for w in checked.warnings)}); the model "
                       "answers")
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="invalid",
                                  details=tuple(details)), evidence=found_rows(found))
    calc = checked.calculation
    if reason := implausible(plan, calc.result, calc.unit):  # an operand from the wrong row or column
        details.append(f"{calc.text} withheld: {reason}; the model answers")
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="implausible",
                                  details=tuple(details)))  # its rows are what looked wrong: not pinned
    if restated := in_units_asked(question, calc.result, calc.unit):  # "Answer in USD billions"
        checked = replace(checked, text=f"{checked.text}\n= {restated}")
    return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, calls=0, outcome="ok",
                              details=tuple(details)), checked, draft)


class FiguresShortcut:
    """The figures stage as the pipeline's shortcut (:class:`app.parts.Shortcut`): a planned figure whose every
    operand is found is answered here, without the model."""

    name = "figures"

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        figures = answer_figures(question, search, retrieval, scope, candidates, corpus)
        if figures is None:
            return None
        if figures.checked is None or figures.draft is None:
            return Direct(figures.trace, evidence=figures.evidence)
        checked, draft = figures.checked, figures.draft
        return Direct(figures.trace, Answer(question=question, text=checked.text, citations=checked.citations,
                                            passages=draft.context, mode="retrieve", trace=checked.trace,
                                            model=MODEL_NAME, draft=draft.raw, calculation=checked.calculation))
