"""The figures stage: a derived or looked-up figure answered from the statement tables, without the model.

When ``[answer] compute`` is on and :func:`generation.figures.plan_question` plans the question, each operand
(a line item in one fiscal year) gets one small search inside the question's own scope and routing
("<line item> <statement> <year>"); :func:`generation.figures.find_operand` picks its row and cell among
those hits and the question's candidates. When every operand is found, the planner's ``OPERAND``/``FORMULA``
block goes through the same check as a model's (``generation.answer.check_calculation``): every operand must
be printed in the passage it cites, and docqa computes the result. When the operands are searched in the
question's own filing (routed with confidence, or the user's scope) and that filing does not cover the period
asked (a quarterly filing of another quarter, an annual report asked for a quarter) or prints no row for an
operand, the answer says so ("The document does not say. ...") instead of letting the model guess a figure of
another period or line item; so does a planned figure whose filing the router looked for and could not name
while the question's passages come from several filings (a segment or product named like a company, an issuer
not indexed).
Anything else failing: the caller runs the model as before. The searching lives here because ``generation``
does not import ``retrieval``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from app.parts import Direct, Search
from generation.answer import Checked, Draft, check_calculation
from generation.context import content_words
from generation.evidence import Excerpt
from generation.figures import (
    DEFINED,
    Found,
    Operand,
    Plan,
    absent,
    find_operand,
    implausible,
    in_units_asked,
    issuer_dropped,
    operand_query,
    part_name,
    part_named,
    plan_part,
    plan_question,
    plan_share,
    quarter_asked,
    relative_change,
    without_contrast,
    without_item,
    write_block,
)
from generation.judgement import Judgement, Value, judgement_text, plan_judgement, section_sentences
from generation.line_items import LineItem, label_score, norm_label, statements_named
from generation.number_check import NOTHING_ASKED, Asked
from generation.printed_rows import plan_printed_row
from generation.prompt import NOT_FOUND
from generation.select import Corpus
from generation.table_cells import (
    STRONG_LABEL,
    abbreviations,
    document_year,
    part_aliases,
    part_words,
    quarter_cell,
    quarter_column_cell,
    rank_cells,
    rank_part_cells,
    statement_title,
)
from generation.votes import Tally, asks_votes, plan_vote, read_tallies
from ingest.core.periods import (
    FiscalCalendar,
    fiscal_calendar,
    month_name,
    parse_period,
    periods_named,
    years_named,
)
from ingest.core.records import Answer, Calculation, Citation, Passage, Ranked, StageTrace
from ingest.core.text import sentence_spans
from retrieval.scope import Scope
from retrieval.search import Retrieval

OPERAND_HITS = 8  # passages searched per operand
STATEMENT_HITS = 3  # statement pages searched per statement
DRIVER_QUOTES = 2  # the filing's sentences a "what drove" answer quotes when the model's says nothing
PART_TABLES = 60  # a filing's tables naming a part of the company read for its rows
TITLED_PAGES = 3  # passages opening with a statement's title taken per statement (its index lines, its pages)
STATEMENT_QUERIES = {"balance": "consolidated balance sheets total assets total liabilities",
                     "income": "consolidated statements of operations income revenues net income",
                     "cash": "consolidated statements of cash flows operating activities investing activities"}
MODEL_NAME = "docqa figures (no model call)"


@dataclass(frozen=True)
class Where:
    """Where a question's operands are searched: the scope, why there, and whether it is the question's own
    filing (routed with confidence, or the user's scope) rather than a guess (the best candidate's document, or
    the whole index): only in its own filing does a figure not found mean the filing does not give it."""

    scope: Scope | None
    why: str
    own: bool


@dataclass(frozen=True)
class Figures:
    """What the stage did: its trace, and the checked answer and draft when it answered (None: ask the model)."""

    trace: StageTrace
    checked: Checked | None = None
    draft: Draft | None = None
    evidence: tuple[Excerpt, ...] = ()  # without an answer: the rows of the operands found, for the model
    asked: Asked = NOTHING_ASKED  # without an answer: the part and the line item asked, for the number check
    answer: Answer | None = None  # a judgement answered from its figures (several calculations, one answer)
    fallback: Answer | None = None  # without an answer: the stage's own, when the model's says nothing


def asked_of(plan: Plan, part: str = "") -> Asked:
    """What the model's answer is checked against when the stage hands a planned figure over: the part of the
    company asked, by name, and the line item of a figure looked up (a computed one's sentences name operands).

    >>> asked_of(plan_question("What was operating income in fiscal 2017?"), "Digital Marketing")
    Asked(part='Digital Marketing', measure='operating income', in_passage=False)
    >>> asked_of(plan_question("What was the operating margin in fiscal 2017?")).measure
    ''
    """
    lookup = plan.source == "lookup" and len(plan.operands) == 1
    return Asked(part_name(part) if part else "", plan.operands[0].item.title if lookup else "")


def found_rows(found: Mapping[str, Found]) -> tuple[Excerpt, ...]:
    """Each found operand's table row (the line its cell is printed on), one excerpt per passage: what the model
    must read when the planner cannot answer alone."""
    spans: dict[str, tuple[Passage, set[tuple[int, int]]]] = {}
    for f in found.values():
        table = f.passage.table
        row = next(((r.start, r.end) for r in table.rows if r.start <= f.span[0] < r.end), None) if table else None
        spans.setdefault(f.passage.id, (f.passage, set()))[1].add(row or f.span)
    return tuple(Excerpt(p, tuple(sorted(s))) for p, s in spans.values())


def figures_scope(found: Retrieval | None, scope: Scope | None, candidates: Sequence[Ranked]) -> Where:
    """Where operand searches run, and why: the question's first routed filing (with the user's kinds and
    pages), else the user's scope, else the filing of the question's best candidate (one filing's figures)."""
    kinds, pages = (scope.kinds, scope.pages) if scope is not None else ((), None)
    if found is not None and found.route is not None and found.route.confident and found.route.doc_ids:
        doc = found.route.doc_ids[0]
        return Where(Scope(documents=(doc,), kinds=kinds, pages=pages), "the routed filing", own=True)
    if scope:
        return Where(scope, "the question's scope", own=True)
    if candidates:
        return Where(Scope(documents=(candidates[0].passage.doc_id,), kinds=kinds, pages=pages),
                     "the best candidate's document", own=False)
    return Where(None, "the whole index", own=False)


def filing_label(where: Where, corpus: Mapping[str, Sequence[Passage]] | None) -> str:
    """The document label of the one filing ``where`` searches ("ACME 10-Q Q2 2023"), "" when not one filing."""
    docs = where.scope.documents if where.scope is not None else ()
    if len(docs) != 1 or corpus is None:
        return ""
    first = next(iter(corpus.get(docs[0], ())), None)
    return first.header.split(" · ")[0] if first is not None else ""


_ANNUAL = re.compile(r"\b10-K\b|\bannual report\b", re.IGNORECASE)


def uncovered(question: str, plan: Plan, label: str) -> str | None:
    """Why the filing labelled ``label`` cannot hold the period a planned figure asks for (None: it may): a
    quarterly filing or release of another quarter ("third quarter of 2023" from a Q2 10-Q, whose quarter
    column is the second quarter's), or an annual report asked for a half's or nine months' flow (it prints
    fiscal years, and sometimes quarters), or a quarterly filing of the first three quarters asked for a
    full year's flow (it prints quarters and the year to date).

    >>> p = plan_question("What was net income for the third quarter of 2023?")
    >>> uncovered("What was net income for the third quarter of 2023?", p, "ACME 10-Q Q2 2023")
    'the filing (ACME 10-Q Q2 2023) reports the second quarter, not the third quarter asked'
    >>> q = "What was revenue for the six months ended July 29, 2023?"
    >>> uncovered(q, plan_question(q), "ACME 10-K FY2023")
    'the filing (ACME 10-K FY2023) is an annual report: it gives fiscal years, not the 6 months asked'
    >>> uncovered(q, plan_question(q), "ACME 10-Q Q2 FY2024") is None
    True

    A quarter may be printed in an annual report's quarterly table: :func:`quarter_unprinted` reads its cells.

    >>> q = "What was revenue for the three months ended December 31, 2023?"
    >>> uncovered(q, plan_question(q), "ACME 10-K FY2023") is None
    True
    >>> q = "What was net income for calendar year 2020?"
    >>> uncovered(q, plan_question(q), "ACME 10-Q Q1 2021")[:60]
    'the filing (ACME 10-Q Q1 2021) is a quarterly report: it giv'
    >>> uncovered(q, plan_question(q), "ACME 8-K Q4 2020") is None  # a fourth quarter's release prints the year
    True
    """
    if not label:
        return None
    asked = quarter_asked(question)
    filing = parse_period(label)
    if asked and filing is not None and filing.quarter and asked != filing.quarter:
        return (f"the filing ({label}) reports the {_ORDINAL[filing.quarter]} quarter, not the "
                f"{_ORDINAL[asked]} quarter asked")
    flows = any(o.item.statement != "balance" for o in plan.operands)
    if flows and plan.months is not None and plan.months < 12 and annual(label) and not asked \
            and plan.months not in QUARTER_MONTHS:
        return f"the filing ({label}) is an annual report: it gives fiscal years, not the {plan.months} months asked"
    if flows and (plan.months is None or plan.months >= 12) and not asked and filing is not None \
            and filing.quarter in (1, 2, 3):
        return (f"the filing ({label}) is a quarterly report: it gives quarters and the year to date, not the full "
                "year asked")
    return None


_ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth"}
QUARTER_MONTHS = (3, 4)  # a quarter: 13 weeks, or the 16 weeks of a 12-12-12-16-week fiscal year's last quarter


def annual(label: str) -> bool:
    """Whether a document label names an annual report (a 10-K, not a fourth quarter's release)."""
    filing = parse_period(label)
    return bool(_ANNUAL.search(label)) and not (filing is not None and filing.quarter)


def quarter_of_annual(plan: Plan, label: str) -> bool:
    """Whether a plan asks for a quarter (or another period under a year) of the annual report labelled ``label``."""
    return plan.months is not None and plan.months < 12 and annual(label)


def quarter_unprinted(plan: Plan, found: Mapping[str, Found], label: str) -> str | None:
    """Why an annual report's cells cannot answer a quarter asked of it (None: they may): an operand's row whose
    column does not print the quarter's length is the fiscal year's figure. Some annual reports print quarterly
    tables; which of their quarter columns is the one asked is left to the model.

    >>> from decimal import Decimal
    >>> p = plan_question("What were net sales in the 16-week fourth quarter of fiscal 2021?")
    >>> cell = Found(Passage(id="x", doc_id="d", source="a", text="", chars=(0, 0)), "195,929", (0, 7), "Net sales",
    ...              3.0, Decimal(195929), months=12)
    >>> quarter_unprinted(p, {"revenue_2021": cell}, "ACME 10-K FY2021")
    'the filing (ACME 10-K FY2021) is an annual report: its row Net sales gives the fiscal year, not the 4 months asked'
    >>> quarter_unprinted(p, {"revenue_2021": replace(cell, months=4)}, "ACME 10-K FY2021") is None
    True
    """
    if not quarter_of_annual(plan, label):
        return None
    for o in plan.operands:
        f = found.get(o.name)
        if f is not None and o.item.statement != "balance" and f.months != plan.months:
            return (f"the filing ({label}) is an annual report: its row {f.label} gives the fiscal year, not the "
                    f"{plan.months} months asked")
    return None


def not_given(question: str, reason: str) -> Answer:
    """The answer when the question's own filing does not give a planned figure: the abstention, and why (the
    model is not asked: it would print a figure of another period or line item)."""
    return Answer(question=question, text=f"{NOT_FOUND} {reason[0].upper()}{reason[1:]}.", citations=(), passages=(),
                  mode="retrieve", trace=(), model=MODEL_NAME)


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
    ("consolidated balance sheets") and, in one filing, its first pages that open with that title
    (:func:`generation.table_cells.statement_title`), then every passage on the page of each hit (a statement
    cut into several tables, such as assets and liabilities, comes whole), and the tables of the page after a
    titled one (a statement continued: a cash flow statement's financing activities)."""
    out: dict[str, Passage] = {}
    wanted = list(dict.fromkeys(o.item.statement for o in plan.operands if o.item.statement))
    docs = scope.documents if scope is not None else ()
    for statement in wanted:
        hits = _passages(search, STATEMENT_QUERIES[statement], scope, STATEMENT_HITS)
        titled = titled_pages(corpus.get(docs[0], ()), statement) if corpus is not None and len(docs) == 1 else []
        for hit in [*hits, *titled]:  # titled: the filing's own pages that open with the statement's title
            page = [p for p in (corpus or {}).get(hit.doc_id, ()) if p.page == hit.page] or [hit]
            out.update((p.id, p) for p in page)
        for hit in titled:
            out.update((p.id, p) for p in (corpus or {}).get(hit.doc_id, ())
                       if hit.page is not None and p.page == hit.page + 1 and p.table is not None)
    return list(out.values())


def titled_pages(passages: Sequence[Passage], statement: str) -> list[Passage]:
    """The first passages of one filing that open with ``statement``'s own title (at most :data:`TITLED_PAGES`)."""
    return [p for p in passages if statement in statement_title(p)][:TITLED_PAGES]


def scoped_pool(passages: Sequence[Passage], scope: Scope | None,
                corpus: Mapping[str, Sequence[Passage]] | None) -> list[Passage]:
    """The passages an operand's cell is looked for among: those of ``scope``'s documents (all without one), each
    once, with the earlier passages of a table that holds its header."""
    allowed = set(scope.documents) if scope is not None and scope.documents else None
    pool = [p for p in passages if allowed is None or p.doc_id in allowed or p.source in allowed]
    return list({p.id: p for p in with_table_heads(pool, corpus)}.values())


def one_filing(scope: Scope | None) -> tuple[str, ...]:
    """The one document ``scope`` searches, as a 1-tuple, or () when it names none or several."""
    return scope.documents if scope is not None and len(scope.documents) == 1 else ()


def filing_passages(scope: Scope | None, corpus: Mapping[str, Sequence[Passage]] | None) -> list[Passage]:
    """The passages of the one filing ``scope`` searches ([] when it names none or several)."""
    return [p for d in one_filing(scope) for p in (corpus or {}).get(d, ())]


def plan_calendar(plan: Plan, scope: Scope | None,
                  corpus: Mapping[str, Sequence[Passage]] | None) -> FiscalCalendar | None:
    """The fiscal calendar a plan's years are read by: the one filing's (:func:`filing_calendar`), or None when
    the question names its period by a date (a calendar year) or several filings are searched."""
    return None if plan.dated else filing_calendar(one_filing(scope), corpus)


def resolve(plan: Plan, search: Search, scope: Scope | None, candidates: Sequence[Passage],
            corpus: Mapping[str, Sequence[Passage]] | None,
            calendar: FiscalCalendar | None) -> tuple[dict[str, Found], list[str]]:
    """Each operand's cell (searched inside ``scope``, with the hits of the same line item's other years, then on
    the statements' pages and among the question's candidates; its years read by ``calendar``), and the names of
    operands not found."""
    docs = one_filing(scope)
    found: dict[str, Found] = {}
    missing: list[str] = []
    statements = statement_pages(plan, search, scope, corpus)
    hits = {o.name: _passages(search, operand_query(o), scope, OPERAND_HITS) for o in plan.operands}
    # a printed row's tables, once per line item (a growth reads two years of one row)
    printed = {o.item.key: printed_in(o.item, docs, corpus) for o in plan.operands} if plan.printed else {}
    for operand in plan.operands:
        # its own hits first, then those of the same line item in the plan's other years (one table holds them)
        same = [p for o in plan.operands if o.item is operand.item and o is not operand for p in hits[o.name]]
        printing = printed.get(operand.item.key, [])
        pool = scoped_pool([*printing, *hits[operand.name], *same, *statements, *candidates], scope, corpus)
        titled = {(p.doc_id, p.page) for d in docs
                  for p in titled_pages((corpus or {}).get(d, ()), operand.item.statement)}
        month = dict(plan.as_of).get(operand.year)
        # a row no statement prints: its first table in the filing (the company's, before its parts'); else the best
        first = [f for f in rank_cells(operand.item, operand.year, printing, months=plan.months, calendar=calendar,
                                       month=month) if label_score(operand.item, f.label) >= STRONG_LABEL] \
            if printing and not operand.item.statement else []
        cell = min(first, key=lambda f: printing.index(f.passage)) if first else \
            find_operand(operand.item, operand.year, pool, statements=plan.statements, months=plan.months,
                         titled=titled, calendar=calendar, operations=plan.operations, month=month,
                         said=dict(plan.said).get(operand.item.key, ""))
        if cell is not None:
            found[operand.name] = cell
        elif not operand.item.optional:  # an optional row not printed counts as 0 (figures.absent)
            missing.append(operand.name)
    return found, missing


def printed_in(item: LineItem, docs: Sequence[str], corpus: Mapping[str, Sequence[Passage]] | None) -> list[Passage]:
    """The table passages of the searched filing that print a row of ``item`` (a row the filing prints that the
    glossary does not know), in page order: the company's own figure comes before its parts' (highlights and the
    discussion of results before segment and portfolio tables)."""
    return [p for d in docs for p in (corpus or {}).get(d, ()) if p.table is not None and
            any(label_score(item, r.name) >= STRONG_LABEL for r in p.table.rows)]


T = TypeVar("T")
FilingKey = tuple[str, tuple[tuple[str, int], ...]]  # a filing's id and its passages' ids and lengths
FILINGS_CACHED = 64  # filings whose calendar and abbreviations are kept


def per_filing(cache: dict[FilingKey, T], passages: Sequence[Passage], read: Callable[[], T]) -> T:
    """What ``read`` finds in one filing's ``passages``, read once per filing (tens of ms), not once per operand;
    the oldest of :data:`FILINGS_CACHED` filings is forgotten first."""
    key = (passages[0].doc_id if passages else "", tuple((p.id, len(p.text)) for p in passages))
    if key not in cache:
        if len(cache) >= FILINGS_CACHED:
            cache.pop(next(iter(cache)))
        cache[key] = read()
    return cache[key]


def filing_abbreviations(passages: Sequence[Passage]) -> dict[str, str]:
    """The abbreviations one filing defines for names (:func:`generation.table_cells.abbreviations`)."""
    return per_filing(_ABBREVIATIONS, passages, lambda: abbreviations(p.text for p in passages if p.table is None))


_ABBREVIATIONS: dict[FilingKey, dict[str, str]] = {}


def filing_names(passages: Sequence[Passage]) -> frozenset[frozenset[str]]:
    """The names one filing prints as its tables' row labels and headings, as :func:`part_words` (a table whose
    columns are the company's parts is read by them: :func:`generation.table_cells.part_column`)."""
    def read() -> frozenset[frozenset[str]]:
        rows = [r for p in passages if p.table is not None for r in p.table.rows]
        return frozenset(w for r in rows for w in (part_words(r.name), part_words(r.section)) if w)
    return per_filing(_NAMES, passages, read)


_NAMES: dict[FilingKey, frozenset[frozenset[str]]] = {}


def filing_row_labels(passages: Sequence[Passage]) -> dict[str, str]:
    """The row labels one filing's tables print, each with the statement whose own pages print it ("" for a note's
    or a discussion's table): for :func:`generation.printed_rows.plan_printed_row`."""
    def read() -> dict[str, str]:
        labels: dict[str, str] = {}
        statement, run = "", ""
        for p in passages:
            if p.table is None:
                run = ""
                continue
            if p.header != run:  # a table's first passage carries its statement's title (its text's, first)
                titles = statement_title(p)
                run, statement = p.header, min(statements_named(p.text[:300]) & titles or titles, default="")
            for r in p.table.rows:
                labels[r.name] = labels.get(r.name) or statement
        return labels
    return per_filing(_ROW_LABELS, passages, read)


_ROW_LABELS: dict[FilingKey, dict[str, str]] = {}


def filing_calendar(docs: Sequence[str], corpus: Mapping[str, Sequence[Passage]] | None) -> FiscalCalendar | None:
    """The fiscal calendar of the one filing searched (None: several, none, or a calendar year): how its dated
    columns map to the fiscal years questions name."""
    if len(docs) != 1 or corpus is None:
        return None
    passages = corpus.get(docs[0], ())
    return per_filing(_CALENDARS, passages, lambda: fiscal_calendar(p.text for p in passages))


_CALENDARS: dict[FilingKey, FiscalCalendar | None] = {}


def calendar_note(calendar: FiscalCalendar | None) -> str | None:
    """One trace line on a filing whose fiscal year is not the calendar year (None for a calendar year).

    >>> calendar_note(FiscalCalendar(1, start_named=True))
    'fiscal years end in January and are named by the year they begin in (a column dated January 2023 is fiscal 2022)'
    """
    if calendar is None:
        return None
    month = month_name(calendar.end_month)
    if calendar.start_named:
        return (f"fiscal years end in {month} and are named by the year they begin in (a column dated {month} 2023 "
                "is fiscal 2022)")
    return f"fiscal years end in {month} and are named by the year they end in"


def routed_year(question: str, retrieval: Retrieval | None, corpus: Corpus | None) -> int | None:
    """For a question naming no year, the fiscal year of the first routed filing (routing puts the latest annual
    filing first): what "historically" or "is the company capital-intensive" is judged on. None otherwise."""
    if years_named(question) or corpus is None or retrieval is None or retrieval.route is None \
            or not retrieval.route.confident or not retrieval.route.doc_ids:
        return None
    passages = corpus.doc_passages().get(retrieval.route.doc_ids[0], ())
    return next((y for p in passages[:5] if (y := document_year(p)) is not None), None)


def route_issuers(retrieval: Retrieval | None) -> tuple[str, ...] | None:
    """The normalised names and aliases of the issuers a router found the question names (None: no router
    looked among filings): a name that is not theirs names a part of the company."""
    route = retrieval.route if retrieval is not None else None
    return (*route.issuers, *route.aliases) if route is not None and route.applicable else None


def answer_figures(question: str, search: Search, retrieval: Retrieval | None, scope: Scope | None,
                   candidates: Sequence[Ranked], corpus: Corpus | None) -> Figures | None:
    """The question answered from the statement tables, or a trace saying why not; None when nothing is planned
    and the question names no part of the company.

    :param corpus: the index's passages by document (for a table's earlier passages and a statement's whole
        page), read one document at a time: the routed filing's for its row labels and vote tallies (read once per
        filing), the rest only once a question is planned.
    """
    question = without_contrast(question)  # "(as opposed to service and other revenue)" asks nothing
    hint = None
    if retrieval is not None and retrieval.route is not None:
        years = [p.year for p in retrieval.route.periods]
        hint = years[0] if len(set(years)) == 1 else None
    if asks_votes(question) and (votes := answer_votes(question, figures_scope(retrieval, scope, candidates), corpus)):
        return votes
    if judgement := plan_judgement(question, fiscal_year_hint=hint or routed_year(question, retrieval, corpus)):
        return answer_judgement(question, judgement, search, retrieval, scope, candidates, corpus)
    issuers = route_issuers(retrieval)
    plan = plan_question(issuer_dropped(question, issuers), fiscal_year_hint=hint)
    part = part_named(question, issuers) if plan is not None else None
    parted = (plan_share(question, issuers, fiscal_year_hint=hint) or plan_part(question, issuers,
                                                                              fiscal_year_hint=hint)
              if plan is None or part else None)
    if parted is not None:  # one named part of the company: its own rows, or the model
        part, plan = parted
    t = time.perf_counter()
    where = figures_scope(retrieval, scope, candidates)
    doc_passages = corpus.doc_passages() if corpus is not None else None
    if (parted is None or parted[0][:1].islower()) and not (part and parted is None) and where.own and \
            one_filing(where.scope):
        # a row the filing prints that the question names and the glossary does not know
        labels = filing_row_labels(filing_passages(where.scope, doc_passages))
        if printed := plan_printed_row(issuer_dropped(question, issuers), labels, planned=plan,
                                       fiscal_year_hint=hint):
            # a part named beside the row ("membership fees from Executive members"): no lookup of the total
            plan, parted, part = printed, None, part_named(question, issuers)
    if plan is None:
        return name_asked(question, issuers)
    details = [plan.describe(), f"operands searched in {where.why}"]
    if where.own and not plan.printed and (reason := uncovered(question, plan, filing_label(where, doc_passages))):
        if (columns := other_quarter(question, plan, where, doc_passages, details, t)) is not None:
            return columns
        details.append(f"{reason}: not answered")
        trace = StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="not covered",
                           details=tuple(details))
        return Figures(trace, answer=not_given(question, reason))
    # a router looked among filings (documents with issuers) and named none
    routed = retrieval is not None and retrieval.route is not None and retrieval.route.applicable
    if not where.own and routed and len(spread := {r.passage.doc_id for r in candidates}) > 1:
        reason = (f"no filing matches the question's issuer and period (its passages come from {len(spread)} "
                  "filings), and a figure read from a guessed one would be another company's or segment's")
        details.append(f"{reason}: not answered")
        trace = StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="no filing",
                           details=tuple(details))
        return Figures(trace, answer=not_given(question, reason))
    if parted is not None:
        return answer_part(question, parted[0], plan, search, where, candidates, doc_passages, details, t)
    if part:  # a part of the company asked, not by a name a row could carry: no lookup of the company's total
        why = (f"the question asks for a part of the company ({part}); the statements print the company's "
               f"{plan.label.replace('_', ' ')}: the model answers")
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="a part asked",
                                  details=(plan.describe(), why)), asked=asked_of(plan, part))
    calendar = plan_calendar(plan, where.scope, doc_passages)
    found, missing = resolve(plan, search, where.scope, [r.passage for r in candidates], doc_passages, calendar)
    if note := calendar_note(calendar):
        details.append(note)
    details += [f"{name}: {f.label!r} = {f.text} ({f.passage.label})" for name, f in found.items()]
    label = filing_label(where, doc_passages)
    if where.own and quarter_of_annual(plan, label):
        return annual_quarter(question, plan, found, missing, label, doc_passages, where, details, t)
    per_share = any(o.item.per_share for o in plan.operands if o.name in missing)  # printed in a label or prose too
    if missing and where.own and not plan.printed and not per_share:  # its own filing does not print it: say so
        titles = ", ".join(dict.fromkeys(f"{o.item.title} ({o.year})" for o in plan.operands if o.name in missing))
        reason = f"no {titles} found in {label or where.why}'s tables"
        details.append(f"not found: {', '.join(missing)}; not answered")
        trace = StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="not found",
                           details=tuple(details))
        return Figures(trace, answer=not_given(question, reason))
    if missing:
        details.append(f"not found: {', '.join(missing)}; the model answers"
                       + (", reading the rows found first" if found else ""))
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="incomplete",
                                  details=tuple(details)), evidence=found_rows(found), asked=asked_of(plan))
    return computed(question, plan, found, details, t)


def name_asked(question: str, issuers: Sequence[str] | None) -> Figures | None:
    """Nothing planned, but the question names a part of the company by name ("paid members in Latin America",
    "votes for director Jane Roe"): the model answers, and a sentence naming that part must cite a place that
    names it too (a number printed beside another region's or nominee's name does not support it; prose, anywhere
    in its passage: a term of a person's agreement is printed in a sentence that does not repeat her name). None
    when the question names no part.

    >>> name_asked("How many members did Acme have in Latin America in 2017?", ["acme"]).asked
    Asked(part='Latin America', measure='', in_passage=True)
    >>> name_asked("How many members did Acme have in 2017?", ["acme"]) is None
    True
    """
    found = part_named(question, issuers)
    name = part_name(found) if found else ""
    if not name:
        return None
    why = f"nothing planned; the question names {name!r}: a sentence naming it must cite a place that names it"
    return Figures(StageTrace("figures", "planner", outcome="a name asked", details=(why,)),
                   asked=Asked(name, in_passage=True))


def other_quarter(question: str, plan: Plan, where: Where, corpus: Mapping[str, Sequence[Passage]] | None,
                  details: Sequence[str], t: float) -> Figures | None:
    """A quarter other than a quarterly filing's own ("the fourth quarter of 2022" asked of a Q2 2023 10-Q), read
    from the filing's tables whose columns are quarters ("2Q23 1Q23 4Q22 3Q22 2Q22", a bank's highlights); None
    when some operand has no such cell."""
    quarter = quarter_asked(question)
    if quarter is None or plan.months not in (None, 3):
        return None
    filing = [p for p in filing_passages(where.scope, corpus) if p.table is not None]
    cells: dict[str, Found] = {}
    read: list[str] = []
    for o in plan.operands:
        cell = next((c for p in filing if (c := quarter_column_cell(p, o.year, quarter, _names(o, "")))), None)
        if cell is None:
            return None
        cells[o.name] = cell
        read.append(f"{o.name}: {cell.label!r} = {cell.text} ({quarter}Q{o.year % 100:02d}, {cell.passage.label})")
    return computed(question, replace(plan, label=f"{plan.label}_q{quarter}"), cells,
                    [*details, "read from the filing's quarter columns", *read], t)


def answer_votes(question: str, where: Where, corpus: Corpus | None) -> Figures | None:
    """A vote's count or share read from the tallies of the question's own filing (an 8-K's vote results), or
    None (the model answers)."""
    if not where.own or corpus is None or not (filing := filing_passages(where.scope, corpus.doc_passages())):
        return None
    t = time.perf_counter()
    tallies: list[Tally] = per_filing(_TALLIES, filing, lambda: read_tallies(filing))
    vote = plan_vote(question, tallies)
    if vote is None:
        return None
    context = (vote.tally.passage,)
    block = vote.block(1)
    draft = Draft(raw=block, text=block, citations=(), context=context, dropped=(), trace=(), compute=True)
    checked, _ = check_calculation(question, draft)
    details = [f"vote on: {vote.tally.nominee or vote.tally.subject[:160]}", block.replace("\n", "; ")]
    if checked.calculation is None:
        return None
    if len(vote.operands) > 1:
        checked = replace(checked, text=f"{checked.text}\nDefinition used: the share of the votes cast for or against "
                                        "that were for (abstentions and broker non-votes are not votes cast).")
    return Figures(StageTrace("figures", "votes", seconds=time.perf_counter() - t, outcome="ok",
                              details=tuple(details)), checked, draft)


_TALLIES: dict[FilingKey, list[Tally]] = {}  # read once per filing


QUARTERLY_TABLES = 2  # an annual report's quarterly tables the model reads first
_QUARTERLY = re.compile(r"\bquarter(?:ly|s)?\b|\bQ[1-4]\b", re.IGNORECASE)


def quarterly_tables(passages: Sequence[Passage], plan: Plan, part: str = "",
                     limit: int | None = QUARTERLY_TABLES, some: bool = False) -> list[Passage]:
    """The tables of an annual report that print quarters of the plan's year ("Quarterly Financial Data
    (Unaudited)", "First Quarter ... Fourth Quarter") with a row of each of its line items (with ``some``, of one
    of them; for a ``part`` of the company, a row the part names: "Bitcoin revenue"), first ones first, at most
    ``limit``."""
    year = max(o.year for o in plan.operands)
    held = any if some else all
    return [p for p in passages if p.table is not None and str(year) in f"{p.header} {p.text}"
            and _QUARTERLY.search(f"{p.header} {p.text[:300]}")
            and held(any(_names(o, part)(r.name) for r in p.table.rows) for o in plan.operands)][:limit]


def _names(operand: Operand, part: str) -> Callable[[str], bool]:
    """Whether a row's name is the operand's: the part's own row, or a row naming its line item plainly."""
    if part:
        return lambda name: part_words(name) == part_words(part)
    return lambda name: label_score(operand.item, name) >= STRONG_LABEL


def annual_quarter(question: str, plan: Plan, found: Mapping[str, Found], missing: Sequence[str], label: str,
                   corpus: Mapping[str, Sequence[Passage]] | None, where: Where, details: list[str],
                   t: float, part: str = "") -> Figures:
    """A quarter asked of an annual report: the model reads the rows found when their columns print the quarter's
    length, else the report's quarterly tables; with neither, the answer says the report gives the fiscal year."""
    def handed(why: str, evidence: tuple[Excerpt, ...]) -> Figures:
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="quarters",
                                  details=(*details, why)), evidence=evidence, asked=asked_of(plan, part))

    reason = quarter_unprinted(plan, found, label)
    if not missing and reason is None:
        return handed("an annual report's quarterly columns: the model answers, reading the rows found first",
                      found_rows(found))
    filing = filing_passages(where.scope, corpus)
    every = quarterly_tables(filing, plan, part, limit=None)
    quarter = next((p.quarter for p in periods_named(question) if p.quarter), None)
    if quarter is not None and plan.months == 3:  # each operand's cell in its quarter's column, where one is printed
        cells = {o.name: cell for o in plan.operands
                 if (cell := next((c for p in every if (c := quarter_cell(p, o.year, quarter, _names(o, part)))),
                                  None))}
        if len(cells) == len(plan.operands):
            read = [f"{name}: {f.label!r} = {f.text} (Q{quarter}, {f.passage.label})" for name, f in cells.items()]
            return computed(question, replace(plan, label=f"{plan.label}_q{quarter}"), cells,
                            [*details, "read from the quarterly table's column of the quarter", *read], t)
    # the tables with every operand's row first; else those with some (a margin's gross profit row without the
    # cost row): the model reads them rather than the report being said to print no quarter
    tables = every[:QUARTERLY_TABLES] or quarterly_tables(filing, plan, part, some=True)
    if tables:
        return handed(f"{len(tables)} quarterly table(s) in {label}: the model answers, reading them first",
                      tuple(Excerpt.whole(p) for p in tables))
    reason = reason or f"the filing ({label}) is an annual report and prints no quarterly table of what is asked"
    trace = StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="not covered",
                       details=(*details, f"{reason}: not answered"))
    return Figures(trace, answer=not_given(question, reason))


def computed(question: str, plan: Plan, found: Mapping[str, Found], details: list[str], t: float) -> Figures:
    """A plan whose every operand was found, written as the calculation block and checked as the model's would be;
    a block failing its check, or a result no company could report, goes to the model instead."""
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
    if reason := implausible(plan, calc.result, calc.unit, {name: f.value for name, f in found.items()}):
        details.append(f"{calc.text} withheld: {reason}; the model answers")
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="implausible",
                                  details=tuple(details)))  # its rows are what looked wrong: not pinned
    if restated := in_units_asked(question, calc.result, calc.unit):  # "Answer in USD billions"
        checked = replace(checked, text=f"{checked.text}\n= {restated}")
    if relative := relative_change(question, plan, {name: f.value for name, f in found.items()}):
        checked = replace(checked, text=f"{checked.text}\n= {relative}")
    if notes := stated_terms(plan, found):
        checked = replace(checked, text=f"{checked.text}\n{notes}")
    return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, calls=0, outcome="ok",
                              details=tuple(details)), checked, draft)


def answer_part(question: str, part: str, plan: Plan, search: Search, where: Where, candidates: Sequence[Ranked],
                corpus: Mapping[str, Sequence[Passage]] | None, details: list[str], t: float) -> Figures:
    """A planned figure of one named part of the company, read from the rows that part labels (a segment table's
    "Latin America" under "Net Revenue"), or a trace handing the rows found to the model."""
    details = [*details, f"a part of the company: {part}"]
    scope = where.scope
    calendar = plan_calendar(plan, scope, corpus)
    filing = filing_passages(scope, corpus)
    names = [part, *part_aliases(part, filing_abbreviations(filing))]  # "PBNA" for "Beverages North America"
    names += [kind] if (kind := without_item(part)) else []  # "Polycrystalline Silicon" for "... silicon sales"
    # the name as the question wrote it, the issuer's name before it ("PepsiCo Beverages North America")
    names += [f"{m.group(1)} {part}" for m in re.finditer(rf"([A-Z][\w&.-]*)\s+{re.escape(part)}\b", question)]
    known = filing_names(filing)
    if len(names) > 1:
        details.append(f"the filing names {part} {' or '.join(names[1:])}")
    # the filing's tables that print the part's name (a segment's name is rare words: a scan finds its rows)
    named = [p for p in filing if p.table is not None  # its rows, or its header (parts as columns)
             and any(all(w in f"{p.table.caption} {p.text}".lower() for w in name.lower().split()) for name in names)
             ][:PART_TABLES]
    whole = tuple(o for o in plan.operands if o.name in plan.whole)  # the company's figure a share is of
    found, _ = resolve(replace(plan, operands=whole), search, scope, [r.passage for r in candidates], corpus,
                       calendar) if whole else ({}, [])
    statements: dict[str, list[Passage]] = {}  # the statement pages of an item's statement, by statement
    for operand in plan.operands:
        if operand in whole:
            continue
        hits = _passages(search, f"{part} {operand_query(operand)}", scope, OPERAND_HITS)
        pool = scoped_pool([*hits, *named, *(r.passage for r in candidates)], scope, corpus)
        # a kind of the item in lower case ("principal transactions revenue") is a line of the company's own
        # statement: its row there comes before a segment's or a portfolio's table that prints the same label
        kind = operand.item.statement if part[:1].islower() and one_filing(scope) else ""
        if kind and kind not in statements:  # searched once per statement (a growth reads one item twice)
            statements[kind] = [p for p in statement_pages(replace(plan, operands=(operand,)), search, scope, corpus)
                                if kind in statement_title(p)]
        statement = statements.get(kind, [])
        cell = next((c for among in (statement, pool) if (c := best_part_cell(operand, names, among, plan.months,
                                                                                calendar, known))), None)
        if cell is not None:
            found[operand.name] = cell
    details += [f"{name}: {f.label!r} = {f.text} ({f.passage.label})" for name, f in found.items()]
    missing = [o.name for o in plan.operands if o.name not in found]
    label = filing_label(where, corpus)
    if where.own and quarter_of_annual(plan, label):
        return annual_quarter(question, plan, found, missing, label, corpus, where, details, t, part)
    if missing:
        details.append(f"not found for {part}: {', '.join(missing)}; the model answers")
        return Figures(StageTrace("figures", "planner", seconds=time.perf_counter() - t, outcome="a part asked",
                                  details=tuple(details)), evidence=found_rows(found), asked=asked_of(plan, part))
    slug = re.sub(r"[^a-z0-9]+", "_", part.lower()).strip("_")
    first = plan.label.split("_")[0]  # "principal transactions revenue" + "revenue_2023": the item named once
    plan = replace(plan, label=slug + plan.label[len(first):] if slug.endswith(f"_{first}") else
                   f"{slug}_{plan.label}")
    return computed(question, plan, found, details, t)


def best_part_cell(operand: Operand, names: Sequence[str], passages: Sequence[Passage], months: int | None,
                   calendar: FiscalCalendar | None, known: frozenset[frozenset[str]]) -> Found | None:
    """The best cell of ``operand`` for a part of the company called by any of ``names`` among ``passages``."""
    ranked = [f for name in names for f in rank_part_cells(operand.item, operand.year, name, passages, months=months,
                                                           calendar=calendar, known=known)]
    return max(ranked, key=lambda f: f.score, default=None)


def stated_terms(plan: Plan, found: Mapping[str, Found]) -> str:
    """The lines an answer adds under its calculation: the definition used where analysts' differ (a quick
    ratio's quick assets), each optional operand the filing prints no row for, counted as 0, and each operand
    read from a row that counts it the other way ("Other expense/(income)" for other income).

    >>> p = plan_question("What is the FY2021 quick ratio?")
    >>> text = stated_terms(p, {})
    >>> text.startswith("Definition used: quick ratio = (cash and cash equivalents + short-term investments")
    True
    >>> text.split(chr(10))[1]
    'short-term investments (2021): no such row in the filing, counted as 0.'
    """
    lines = [f"Definition used: {DEFINED[plan.source]}."] if plan.source in DEFINED else []
    lines += [f"{o.item.title} ({o.year}): no such row in the filing, counted as 0." for o in absent(plan, found)]
    lines += [f"{o.item.title} ({o.year}): the row {f.label!r} prints {f.text.replace('$', '').strip()}, an amount "
              "of the opposite sign" for o in plan.operands if (f := found.get(o.name)) is not None
              and o.item.reversed_by and re.search(o.item.reversed_by, norm_label(f.label))]
    return "\n".join(lines)


NARRATIVE_HITS = 6  # passages searched per narrative section
NARRATIVE_PASSAGES = 3  # passages quoted or pinned per narrative section
_MARKER = re.compile(r"\[(\d+)\]")


class _Numbering:
    """One answer's numbered passages, built from several figures' contexts: each figure's ``[n]`` renumbered."""

    def __init__(self) -> None:
        self.context: list[Passage] = []
        self.citations: dict[int, Citation] = {}

    def number(self, passage: Passage) -> int:
        at = next((i for i, p in enumerate(self.context, 1) if p.id == passage.id), None)
        if at is None:
            self.context.append(passage)
            at = len(self.context)
        return at

    def add(self, text: str, citations: Sequence[Citation], context: Sequence[Passage]) -> str:
        """``text`` (whose markers number ``context``) renumbered here; its citations kept under their numbers."""
        new = {i: self.number(p) for i, p in enumerate(context, 1)}
        for c in citations:
            self.citations.setdefault(new[c.number], replace(c, number=new[c.number]))
        return _MARKER.sub(lambda m: f"[{new.get(int(m.group(1)), int(m.group(1)))}]", text)


def narrative(judgement: Judgement, question: str, search: Search, where: Scope | None) -> list[Excerpt]:
    """The narrative sentences a judgement rests on: each section query searched on its own inside ``where``
    (prose passages only), the sentences matching the section's cue that share most words with the question."""
    words = content_words(question) | {w for s in judgement.sections for w in content_words(s)}
    words = {w for w in words if len(w) > 3}
    out: list[Excerpt] = []
    for query in judgement.sections:
        kept = 0
        for p in _passages(search, query, where, NARRATIVE_HITS):
            if p.kind == "table" or kept >= NARRATIVE_PASSAGES:
                continue
            spans = section_sentences(p.text, sentence_spans(p.text), words, judgement.says)
            if spans:
                out.append(Excerpt(p, tuple(spans)))
                kept += 1
    return out


def answer_judgement(question: str, judgement: Judgement, search: Search, retrieval: Retrieval | None,
                     scope: Scope | None, candidates: Sequence[Ranked], corpus: Corpus | None) -> Figures:
    """A judgement question (``generation/judgement.py``): the metrics that define it, each computed from cited
    cells, and the narrative searched on its own. A concept, trend or sign whose figures decide it is answered
    here (verdict, definition, figures, narrative; no model call); otherwise, and for "what drove", the model
    answers with the figures' rows and the narrative sentences first in its context."""
    t = time.perf_counter()
    where = figures_scope(retrieval, scope, candidates)
    doc_passages = corpus.doc_passages() if corpus is not None else None
    details = [*judgement.describe(), f"searched in {where.why}"]
    numbering = _Numbering()
    values: list[Value] = []
    calcs: list[Calculation] = []
    traces: list[StageTrace] = []
    blocks: list[str] = []
    rows: dict[str, Found] = {}
    for plan in judgement.plans:
        found, missing = resolve(plan, search, where.scope, [r.passage for r in candidates], doc_passages,
                                 plan_calendar(plan, where.scope, doc_passages))
        rows.update((f"{plan.label}:{k}", v) for k, v in found.items())
        if missing:
            details.append(f"{plan.label}: not found: {', '.join(missing)}")
            continue
        context = list({f.passage.id: f.passage for f in found.values()}.values())
        block = write_block(plan, found, context)
        draft = Draft(raw=block, text=block, citations=(), context=tuple(context), dropped=(), trace=(), compute=True)
        checked, _ = check_calculation(judgement.figure_question(plan), draft)
        calc = checked.calculation
        if calc is None:
            why_not = '; '.join(w.detail for w in checked.warnings)
            details.append(f"{plan.label}: the block failed its check ({why_not})")
            continue
        if reason := implausible(plan, calc.result, calc.unit):
            details.append(f"{plan.label}: {calc.text} withheld: {reason}")
            continue
        details += [f"{plan.label} = {calc.text}"]
        stated = numbering.add(checked.text, checked.citations, context)
        values.append(Value(plan.source, plan.operands[0].year, calc.result, calc.unit, stated))
        calcs.append(calc)
        traces += checked.trace
        blocks.append(block)
    # the narrative only inside the question's own filing (routed or scoped): a guessed filing's MD&A misleads
    excerpts = narrative(judgement, question, search, where.scope) if where.own else []
    details += [f"narrative: {e.passage.label}: {e.text()[:80]!r}" for e in excerpts]
    decided = judgement_text(question, judgement, values) if values else ""
    every = bool(values) and len(values) == len(judgement.plans)  # each planned figure computed
    complete = every if judgement.kind in {"trend", "sign", "compare"} else bool(values)
    first_line = decided.split("\n", 1)[0]
    def written(quoted: int) -> Answer:
        """The answer code writes: the judgement's text with the best narrative passage's first ``quoted``
        sentences quoted and cited."""
        quotes = []
        for best in excerpts[:1]:
            for a, b in best.spans[:quoted]:
                n = numbering.number(best.passage)
                numbering.citations.setdefault(n, Citation(number=n, passage=best.passage,
                                                           quote=best.passage.text[a:b], quote_chars=(a, b)))
                quotes.append((" ".join(best.passage.text[a:b].split()), n))
        text = judgement_text(question, judgement, values, quotes)
        citations = tuple(numbering.citations[n] for n in sorted(numbering.citations))
        return Answer(question=question, text=text, citations=citations, passages=tuple(numbering.context),
                      mode="retrieve", trace=tuple(traces), model=MODEL_NAME, draft="\n\n".join(blocks),
                      calculation=calcs[-1] if calcs else None)

    if judgement.kind == "drivers" or not complete or not first_line or first_line.startswith("Definition"):
        details.append("the model answers, reading the figures' rows and the narrative first")
        pinned = (*found_rows(rows), *excerpts)
        # "what drove": when the model's answer says nothing, the figures and the filing's own reasons, quoted
        fallback = written(DRIVER_QUOTES) if judgement.kind == "drivers" and every and excerpts else None
        return Figures(StageTrace("figures", "judgement", seconds=time.perf_counter() - t, outcome="incomplete",
                                  details=tuple(details)), evidence=pinned, fallback=fallback)
    trace = StageTrace("figures", "judgement", seconds=time.perf_counter() - t, calls=0, outcome="ok",
                       details=tuple(details))
    return Figures(trace, answer=written(1))  # the one narrative sentence the answer quotes


class FiguresShortcut:
    """The figures stage as the pipeline's shortcut (:class:`app.parts.Shortcut`): a planned figure whose every
    operand is found is answered here, without the model; otherwise the rows found and the part of the company a
    planned figure is asked of (for the number check) go on to the model. A question with no figure planned names
    no part: its capitalised names are as often people ("Mary Dillon", printed "Ms. Dillon") as parts."""

    name = "figures"

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        figures = answer_figures(question, search, retrieval, scope, candidates, corpus)
        if figures is None:
            return None
        if figures.answer is not None:
            return Direct(figures.trace, figures.answer)
        if figures.checked is None or figures.draft is None:
            return Direct(figures.trace, evidence=figures.evidence, asked=figures.asked, fallback=figures.fallback)
        checked, draft = figures.checked, figures.draft
        return Direct(figures.trace, Answer(question=question, text=checked.text, citations=checked.citations,
                                            passages=draft.context, mode="retrieve", trace=checked.trace,
                                            model=MODEL_NAME, draft=draft.raw, calculation=checked.calculation))
