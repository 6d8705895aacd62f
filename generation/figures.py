"""The figures planner: reported line items read from statement tables, without a model (pure functions).

For a question that names reported line items (a derived metric such as "FY2019 fixed asset turnover", or a
plain lookup such as "FY2019 total amount of inventories"), :func:`plan_question` writes a :class:`Plan`: a
formula over operand names (the syntax :func:`generation.compute.parse_formula` takes) and the operands, each a
line item of :data:`generation.line_items.LINE_ITEMS` in one fiscal year. :func:`generation.table_cells.find_operand`
picks the row and cell of one operand among table passages, from the table records ingest wrote (rows, cells with
exact spans, column periods). :func:`write_block` then writes the same ``OPERAND``/``FORMULA`` block the model
would have written, so that :func:`generation.compute.calculate` checks and computes it as usual.

Anything unsure gives None (no plan, no operand); the caller then asks the model as before. The glossary lives in
:mod:`generation.line_items`, the reading of table records in :mod:`generation.table_cells`; this module
re-exports what callers use of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import NamedTuple

from generation.compute import is_derived_question
from generation.line_items import (
    ITEMS,
    LINE_ITEMS,
    LineItem,
    Statement,
    items_named,
    label_score,
    norm_label,
    statements_named,
)
from generation.table_cells import Cell, Found, Row, find_operand, rank_cells, table_rows
from ingest.core.amounts import SCALE_ASKED, SCALES, scale_name
from ingest.core.periods import DATE, YEAR, YEAR_RANGE, dates_named, months_named, periods_named, years_named
from ingest.core.records import Passage

__all__ = ["DEFINED", "ITEMS", "LINE_ITEMS", "METRICS", "Cell", "Found", "LineItem", "Operand", "Plan", "Row",
           "Statement", "absent", "find_operand", "in_units_asked", "issuer_dropped", "items_named", "label_score",
           "metric_named", "narrows_item", "operand_query", "operand_value", "part_named", "plan_question",
           "rank_cells", "single_item", "statements_named", "table_rows", "write_block"]

# ---------------------------------------------------------------------------------------------- the plan

@dataclass(frozen=True, slots=True)
class Operand:
    """One operand of a plan: a line item in one fiscal year; ``name`` is how the formula calls it."""

    name: str
    item: LineItem
    year: int


@dataclass(frozen=True, slots=True)
class Plan:
    """A formula over operand names, the operands, and what it computes (the label, and how it was planned)."""

    label: str
    formula: str
    operands: tuple[Operand, ...]
    source: str  # "definition", a glossary metric's name, or "lookup"
    statements: frozenset[Statement] = field(default_factory=frozenset)
    months: int | None = None  # the period length the question names (a 10-Q's "six months ended"), else None
    dated: bool = False  # the question names its period by a date ("ended July 29, 2023"): a calendar year
    operations: str = ""  # "continuing" or "discontinued" when the question asks for those operations' figure
    whole: tuple[str, ...] = ()  # operands read for the whole company in a plan of one part's figures (its share)
    as_of: tuple[tuple[int, int], ...] = ()  # (year, month) of each year the question names by a full date
    printed: bool = False  # an operand is a row label the filing prints that the glossary does not know
    said: tuple[tuple[str, str], ...] = ()  # (line item key, the words the question names it by: "net sales")

    def describe(self) -> str:
        """One line for the trace.

        >>> Plan("x", "a / b", (), "lookup").describe()
        'lookup: x = a / b'
        """
        return f"{self.source}: {self.label} = {self.formula}"


class _Builder:
    """Collects the operands a formula names (each line item and year once)."""

    def __init__(self) -> None:
        self.operands: dict[str, Operand] = {}

    def name(self, item: LineItem, year: int) -> str:
        name = f"{item.key}_{year}"
        self.operands.setdefault(name, Operand(name, item, year))
        return name

    def avg(self, item: LineItem, years: Sequence[int]) -> str:
        return f"avg({', '.join(self.name(item, y) for y in years)})"


_AVERAGE_OF = re.compile(r"\b(?:average|mean|avg)\b(?: (?:of )?(?:the )?)?(?P<what>[\w&' ]+?)\s+(?:between|from|over|"
                         rf"for|in)\s+{YEAR_RANGE}", re.IGNORECASE)
_CHANGE_OF = re.compile(rf"\b(?:change|increase|decrease|difference) in (?P<what>[\w&' ]+?)\s+(?:between|from)\s+"
                        rf"{YEAR_RANGE}", re.IGNORECASE)
_OPERATORS = [(re.compile(r"\s+(?:divided by|over|against|relative to)\s+|\s*/\s*", re.IGNORECASE), "/"),
              (re.compile(r"\s+(?:less|minus)\s+|\s+-\s+|\s+–\s+", re.IGNORECASE), "-"),
              (re.compile(r"\s+(?:plus|and|add)\s+|\s*\+\s*", re.IGNORECASE), "+"),
              (re.compile(r"\s+(?:times|multiplied by)\s+|\s*[*×]\s*", re.IGNORECASE), "*")]


def _term(text: str, year: int, b: _Builder) -> str | None:
    """One term of a stated definition as a formula piece: "FY2019 revenue", "average PP&E between FY2018 and
    FY2019", "change in inventory between FY2019 and FY2020", "365", or None when it names no line item."""
    text = text.strip(" .,;:()")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return text
    if m := _AVERAGE_OF.search(text):
        items = items_named(m.group("what"))
        a, c = int(m.group("a")), int(m.group("b"))
        return b.avg(items[0][2], sorted({a, c})) if len(items) == 1 else None
    if m := _CHANGE_OF.search(text):
        items = items_named(m.group("what"))
        a, c = int(m.group("a")), int(m.group("b"))
        return f"({b.name(items[0][2], max(a, c))} - {b.name(items[0][2], min(a, c))})" if len(items) == 1 else None
    years = years_named(text)
    items = items_named(text)
    if len(items) != 1 or len(years) > 1:
        return None
    item = items[0][2]
    if not years and item.statement == "balance" and re.match(r"(?:the )?(?:average|mean|avg)\b", text, re.IGNORECASE):
        return b.avg(item, [year - 1, year])  # "average merchandise inventories": the year's opening and closing
    return b.name(item, years[0] if years else year)


def _expression(text: str, year: int, b: _Builder) -> str | None:
    """A stated definition ("FY2019 revenue / (average PP&E between FY2018 and FY2019)", "total current assets
    less total current liabilities") as a formula, or None when some term names no line item."""
    protected = _AVERAGE_OF.sub(lambda m: m.group().replace(" and ", " AND_ ").replace(" - ", " TO_ "), text)
    protected = _CHANGE_OF.sub(lambda m: m.group().replace(" and ", " AND_ ").replace(" - ", " TO_ "), protected)
    protected = re.sub(r"(?<=\w)\s+and\s+(?=amortization|equipment)", " AND_ ", protected, flags=re.IGNORECASE)
    protected = re.sub(r"\b(beginning|opening|start)\s+and\s+(?=(?:ending|closing|end)\b)", r"\1 AND_ ", protected,
                       flags=re.IGNORECASE)  # "the average of beginning and ending equity": one balance's average
    for start, end, _ in reversed(items_named(protected)):  # "accounts and notes receivable": one name, not a sum
        protected = protected[:start] + protected[start:end].replace(" and ", " AND_ ") + protected[end:]
    marked = protected
    for pattern, op in _OPERATORS:
        marked = pattern.sub(f" \0{op}\0 ", marked)
    marked = marked.replace("(", " \0(\0 ").replace(")", " \0)\0 ")
    out: list[str] = []
    for piece in marked.split("\0"):
        piece = piece.replace("AND_", "and").replace("TO_", "-").strip()
        if not piece:
            continue
        if piece in {"/", "-", "+", "*", "(", ")"}:
            out.append(piece)
            continue
        term = _term(piece, year, b)
        if term is None:
            return None
        out.append(term)
    if "(" not in out and out.count("/") == 1 and {"+", "-"} & set(out[:out.index("/")]):
        out = ["(", *out[:out.index("/")], ")", *out[out.index("/"):]]  # "A plus B against C": (A + B) / C
    formula = " ".join(out).replace("( ", "(").replace(" )", ")")
    return formula if b.operands else None


_DEFINITION = re.compile(
    r"(?:\bis defined as\b|\bdefined as\b|\bdefine [\w&' -]+? as\b|\bcalculated? (?:[\w&' -]+? )?as\b|"
    r"(?P<loose>\b(?:measured|computed|taken) as\b|\bcounting\b|\btaking\b(?! into account)|"
    r"(?:^|[.?!]\s+)use\b))\s*:?\s*"
    r"(?P<expr>[^.?;]+(?:\.\d[^.?;]*)?)", re.IGNORECASE)
# a definition in brackets right after the name it defines: "pre-provision profit (total net revenue minus total
# noninterest expense)"
_BRACKETED = re.compile(r"(?P<name>[\w&'’-]+(?: [\w&'’-]+){0,4}) \((?P<expr>[^()]+)\)")


_FILLER = frozenset({"the", "its", "their", "total", "of", "average", "mean", "net", "reported", "fiscal", "year"})


def _all_named(text: str) -> bool:
    """Whether every word of a bracketed expression is a line item's name, an operator, a number or a filler word
    (a word the glossary does not know, "cash, short-term investments ...", makes it no formula of its rows).

    >>> _all_named("total net revenue minus total noninterest expense"), _all_named("cash, receivables over debt")
    (True, False)
    """
    rest = text
    for a, b, _ in reversed(items_named(text)):
        rest = rest[:a] + " " + rest[b:]
    for pattern, _ in _OPERATORS:
        rest = pattern.sub(" ", rest)
    return all(w.lower() in _FILLER or w.isdigit() for w in re.findall(r"[A-Za-z]+|\d+", rest))


def _operator_in(text: str) -> bool:
    return any(p.search(text) for p, _ in _OPERATORS)


class _Defined(NamedTuple):
    name: str  # the words before the definition ("Define unadjusted EBITDA as", "pre-provision profit")
    formula: str
    operands: tuple[Operand, ...]
    span: tuple[int, int]  # where the definition is written in the question
    label: str  # the plan's label when the question names the measure no other way


def _definition(question: str, year: int) -> _Defined | None:
    """The measure a question defines in its own words, its formula and operands and where the definition is
    written, or None.

    >>> _definition("Its payout ratio, taking cash dividends declared per share over diluted EPS?", 2016)[1]
    'dividends_per_share_2016 / eps_diluted_2016'
    >>> _definition("Pre-provision profit (total net revenue minus total noninterest expense) in 2023?", 2023)[:2]
    ('Pre-provision profit', 'revenue_2023 - noninterest_expense_2023')
    >>> _definition("What were days sales outstanding? Use average accounts receivable.", 2016) is None  # a row
    True
    """
    for m in _DEFINITION.finditer(question):
        b = _Builder()
        formula = _expression(m.group("expr"), year, b)
        if formula and not (m.group("loose") and (len(b.operands) < 2 or not _operator_in(m.group("expr")))):
            # "use X" alone names a row ("use average accounts receivable"), not a formula
            named = re.split(r"[.?!]\s", question[:m.start("expr")])[-1]  # "Define unadjusted EBITDA as"
            return _Defined(named, formula, tuple(b.operands.values()), m.span(), "definition")
    for m in _BRACKETED.finditer(question):
        b = _Builder()
        if _operator_in(m.group("expr")) and _all_named(m.group("expr")) and \
                (formula := _expression(m.group("expr"), year, b)) and len(b.operands) > 1:
            name = re.split(r"['’]s\s+|\b(?:did|does|was|were|is|are|the|its|their)\s+|.*\d\S*\s+",
                            m.group("name"))[-1]  # "Acme 2021 interest coverage": "interest coverage"
            name = re.sub(r"\s+(?:in|for|during|at|over|of)\b.*$", "", name)  # "cash conversion in 2021"
            label = "_".join(re.findall(r"[a-z]+", name.lower())[-4:]) or "definition"
            return _Defined(name, formula, tuple(b.operands.values()), m.span("expr"), label)
    return None


def states_definition(question: str) -> bool:
    """Whether a question states how its figure is computed ("... is defined as", "measured as", "counting X plus
    Y against Z", "Use A over B"), whether or not the planner can read it.

    >>> states_definition("What was its debt-to-equity ratio, counting current maturities plus long-term debt "
    ...                   "against total equity?"), states_definition("What was FY2019 revenue?")
    (True, False)
    """
    return any(_operator_in(m.group("expr")) for m in _DEFINITION.finditer(question))


# the glossary: metric name pattern -> formula over item keys, with {y} the year and {p} the year before
_REV, _P = "revenue", "{p}"
METRICS: tuple[tuple[str, str, str], ...] = (
    ("ebitda_less_capex", r"ebitda (?:less|minus) (?:capex|capital expenditures?)",
     "operating_income_{y} + da_{y} - capex_{y}"),
    ("ebitda_margin", r"ebitda (?:%|percent(?:age)?)? ?margin", "(operating_income_{y} + da_{y}) / revenue_{y}"),
    ("ebitda", r"\bebitda\b", "operating_income_{y} + da_{y}"),
    ("fcf_conversion", r"(?:free cash ?flows?|\bfcf\b) conversion", "(cfo_{y} - capex_{y}) / net_income_{y}"),
    ("free_cash_flow", r"free cash ?flows?|\bfcf\b", "cfo_{y} - capex_{y}"),
    ("quick_ratio", r"quick ratio|acid[- ]test", "(cash_{y} + short_term_investments_{y} + receivables_{y}) / "
                                                 "total_current_liabilities_{y}"),
    ("current_ratio", r"current ratio|working capital ratio",
     "total_current_assets_{y} / total_current_liabilities_{y}"),
    ("working_capital", r"(?:net )?working capital", "total_current_assets_{y} - total_current_liabilities_{y}"),
    ("operating_cash_flow_ratio", r"operating cash flow ratio", "cfo_{y} / total_current_liabilities_{y}"),
    ("gross_margin", r"gross (?:profit )?(?:%|percent(?:age)?)? ?margin|gross profit rate",
     "(revenue_{y} - cogs_{y}) / revenue_{y}"),
    ("operating_margin", r"operating (?:income |profit )?(?:%|percent(?:age)?)? ?margin|ebit margin",
     "operating_income_{y} / revenue_{y}"),
    ("net_margin", r"net (?:income |profit )?(?:%|percent(?:age)?)? ?margin|profit margin",
     "net_income_{y} / revenue_{y}"),
    ("fixed_asset_turnover", r"fixed asset turnover", "revenue_{y} / avg(ppe_{y}, ppe_{p})"),
    ("asset_turnover", r"(?:total )?asset turnover|\b(?:revenues?|sales)\b[^?]{0,60}\bper dollar of (?:average )?"
     r"(?:total )?assets\b", "revenue_{y} / avg(total_assets_{y}, total_assets_{p})"),
    ("inventory_turnover", r"inventory turnover", "cogs_{y} / avg(inventories_{y}, inventories_{p})"),
    ("dso", r"days sales outstanding|\bdso\b", "365 * avg(receivables_{y}, receivables_{p}) / revenue_{y}"),
    ("dpo", r"days payables? outstanding|\bdpo\b", "365 * avg(payables_{y}, payables_{p}) / cogs_{y}"),
    ("dio", r"days inventory outstanding|days sales (?:of|in) inventory|\bdio\b",
     "365 * avg(inventories_{y}, inventories_{p}) / cogs_{y}"),
    ("roa", r"return on (?:average )?(?:total )?assets|\broa\b",
     "net_income_{y} / avg(total_assets_{y}, total_assets_{p})"),
    ("roe", r"return on (?:average )?(?:total )?(?:shareholders'? |stockholders'? )?equity|\broe\b",
     "net_income_{y} / avg(equity_{y}, equity_{p})"),
    ("debt_to_equity", r"debt[- ]to[- ]equity", "total_liabilities_{y} / equity_{y}"),
    ("interest_coverage", r"interest coverage|times interest earned|cover(?:ed|s)? (?:its |the )?interest expense",
     "operating_income_{y} / interest_expense_{y}"),
    ("effective_tax_rate", r"effective (?:income )?tax rate", "income_tax_{y} / pretax_income_{y}"),
    ("dividend_payout", r"(?:dividend )?payout ratio", "dividends_{y} / net_income_{y}"),
)
#: The definition a glossary metric is computed by, stated in its answer where analysts' definitions differ.
DEFINED: Mapping[str, str] = {
    "quick_ratio": "quick ratio = (cash and cash equivalents + short-term investments + accounts receivable) / "
                   "total current liabilities (the standard quick assets; inventories and prepaid items excluded)",
    "fixed_asset_turnover": "fixed asset turnover = revenue / average net property and equipment (start and end "
                            "of the year)",
    "debt_to_equity": "debt-to-equity here = total liabilities / shareholders' equity",
    "roa": "return on assets = net income / average total assets (start and end of the year)",
    "roe": "return on equity = net income / average shareholders' equity (start and end of the year)",
}
_METRICS = tuple((name, re.compile(rf"(?<![\w-]){pattern}", re.IGNORECASE), formula)
                 for name, pattern, formula in METRICS)
_NAME_IN_FORMULA = re.compile(r"\b([a-z_]+?)_(\d{4})\b")
_SHARE_OF = re.compile(r"(?P<a>[\w&' (),-]+?),?\s+(?:as an? (?:%|percent(?:age)?|share|proportion) of|"
                       r"(?:%|percent(?:age)?) "
                       r"of)\s+(?P<b>[\w&' -]+)", re.IGNORECASE)
# "what share of its 2020 net sales did it spend on capital expenditures", "what percentage of revenue went to
# selling, general and administrative expenses", "how much of its operating cash flow went back to shareholders
# through buybacks and dividends": a over b
_SHARE_SPENT = re.compile(r"\b(?:(?:share|percentage|proportion|portion|percent|fraction)|how much) of "
                          r"(?P<b>[\w&' -]+?)"
                          r"(?: \([^()]*\))? "  # "of its net earnings (year ended January 28, 2017) did it pay out"
                          r"(?:(?:did|was)\b.*?\b)?(?:spend|spent|go|went|devote|devoted|invest|invested|pay(?: out)?|"
                          r"(?:go|went|flowed|flow) back|"
                          r"paid(?: out)?|"
                          r"book|booked|record|recorded|"
                          r"return|returned|hand(?:ed)? back|g[ai]ve back|distribute|distributed)"
                          r"(?: to (?:its )?(?:shareholders|stockholders|investors|owners))? "
                          r"(?:on|to|in|into|for|as|through|via) (?P<a>[\w&' ]+(?:, [\w&' ]+)*)", re.IGNORECASE)
# "the ratio of capital expenditures to depreciation and amortization": a over b
_RATIO_OF = re.compile(r"\bratio of (?P<a>[\w&' ,]+?) to (?P<b>[\w&' ]+)|(?P<a2>[\w&' -]+?) (?:divided by|relative to) "
                       r"(?P<b2>[\w&' ]+)", re.IGNORECASE)
_ITEM_MARGIN = re.compile(r"(?P<a>[\w&' ()]+?)\s+(?:%|percent(?:age)?)?\s*margin\b", re.IGNORECASE)
_GROWTH_NAMED = r"\bgrowth\b|\b(?:year[- ]over[- ]year|yoy)\b"
_HOW_FAST = r"how (?:fast|quickly)|by what percentage|(?:in|by) what percent"  # "... did revenue grow?"
_GROWTH = re.compile(rf"{_GROWTH_NAMED}|\bchange in\b|\bcagr\b|\bcompound(?:ed)? annual|"
                     rf"\b(?:{_HOW_FAST}|(?<=percent, )how much) did\b[^?]*\b(?:grow|rise|increase|decrease|decline|"
                     r"fall|drop|change)\b", re.IGNORECASE)
# growth asked of one year, relative to the year before ("how fast did revenue grow in 2021", "2021 revenue growth")
_GROWTH_OF_ONE_YEAR = re.compile(rf"{_GROWTH_NAMED}|\b(?:{_HOW_FAST}) did\b", re.IGNORECASE)
_CAGR = re.compile(r"\bcagr\b|\bcompound(?:ed)? annual", re.IGNORECASE)
_N_YEAR_AVERAGE = re.compile(r"\b(?:\d|two|three|four|five)[- ]year average\b|\baverage (?:of )?(?:the )?[\w&' ]+ "
                             rf"(?:from|over|between)\s+{YEAR_RANGE}",
                             re.IGNORECASE)


_AVERAGE_DURING = re.compile(r"\baverage\b(?![- ](?:daily|monthly|quarterly|weekly|price|cost|rate|selling))",
                             re.IGNORECASE)


def metric_named(question: str, y: int) -> tuple[str, str] | None:
    """A glossary metric the question names, as (name, formula for year ``y``).

    >>> metric_named("Does it have an improving Free cashflow conversion?", 2022)
    ('fcf_conversion', '(cfo_2022 - capex_2022) / net_income_2022')
    """
    for name, pattern, formula in _METRICS:
        if pattern.search(question):
            return name, formula.format(y=y, p=y - 1)
    for m in _ITEM_MARGIN.finditer(question):  # "D&A % margin": an item over revenue
        items = [i for *_, i in items_named(m.group("a")) if i.key != "revenue"]
        if items:
            return f"{items[-1].key}_margin", f"{items[-1].key}_{y} / revenue_{y}"
    for m in [*_SHARE_OF.finditer(question), *_SHARE_SPENT.finditer(question), *_RATIO_OF.finditer(question)]:
        # "capex as a % of revenue", "the ratio of capex to D&A", "give capex divided by D&A"
        groups = m.groupdict()
        a_text, b_text = groups.get("a") or groups["a2"], groups.get("b") or groups["b2"]
        if m.re is _RATIO_OF and re.search(r"\baverage\b|\bmean\b", f"{a_text} {b_text}", re.IGNORECASE):
            continue  # "cost of sales divided by the average of beginning and ending inventories": not one year's
        a, b = items_named(a_text), items_named(b_text)
        if a and b and a[-1][2] is not b[0][2]:
            summed = [i.key for i in summed_items(a_text, a)]
            top = " + ".join(f"{k}_{y}" for k in summed)
            return (f"{'_and_'.join(summed)}_to_{b[0][2].key}",
                    f"({top}) / {b[0][2].key}_{y}" if len(summed) > 1 else f"{top} / {b[0][2].key}_{y}")
    return None


_JOINED = re.compile(r"\s*(?:,|,? and|,? plus|\+|&)\s*(?:the |its |their )?", re.IGNORECASE)


def summed_items(text: str, named: Sequence[tuple[int, int, LineItem]]) -> list[LineItem]:
    """The line items a ratio's numerator adds up: the last one ``text`` names (``named``: its
    :func:`items_named`), with those joined to it by "and", "plus" or a comma ("buybacks and dividends").

    >>> t = "cash returned through buybacks and dividends"
    >>> [i.key for i in summed_items(t, items_named(t))]
    ['buybacks', 'dividends']
    >>> t = "capex in 2022 and revenue"  # words between them: not one sum
    >>> [i.key for i in summed_items(t, items_named(t))]
    ['revenue']
    """
    run = [named[-1]]
    for prev in reversed(named[:-1]):
        if not _JOINED.fullmatch(text[prev[1]:run[0][0]]):
            break
        run.insert(0, prev)
    return list(dict.fromkeys(i for *_, i in run))


def _operands_of(formula: str) -> tuple[Operand, ...]:
    return tuple(Operand(f"{k}_{y}", ITEMS[k], int(y)) for k, y in dict.fromkeys(_NAME_IN_FORMULA.findall(formula)))


# a part of the company rather than its consolidated statements: the statement tables do not answer it
_PART_OF_COMPANY = re.compile(r"\bsegments?\b|\bdivisions?\b|\bbusiness (?:unit|line)s?\b|\breportable\b|"
                              r"\bgeograph|\bregions?\b|\bproduct (?:line|categor)|\bby (?:product|category|country)\b|"
                              r"['’]s? (?:[a-z][\w-]* ){1,3}business(?:es)?\b",  # "Acme's salon services business"
                              re.IGNORECASE)
# words that may stand right before a line item's name without narrowing it ("the FY2019 total revenue")
_PLAIN_BEFORE = frozenset({"the", "its", "their", "total", "net", "consolidated", "unadjusted", "annual", "reported",
                           "cash", "share", "stock", "common",
                           "gross", "of", "in", "for", "what", "much", "was", "were", "is", "are", "and", "year",
                           "end", "fiscal", "quarterly", "company", "company's", "amount", "did", "generate", "report",
                           "a", "an", "as", "at", "by", "on", "to", "from", "with", "through", "via", "into",
                           "merchandise", "average", "period-end", "year-end", "quarter-end",
                           "record", "recorded", "or", "earn", "earned", "post", "posted", "book", "booked"})


def narrows_item(question: str, start: int) -> bool:
    """Whether the word right before a line item's name (at ``start``) narrows it to a part of what the
    statements report ("bitcoin revenue", "Aeronautics net sales"); years, possessives and plain words do not.

    >>> narrows_item("How much bitcoin revenue did it report?", 13), narrows_item("the FY2019 total revenue", 17)
    (True, False)
    >>> narrows_item("What is Costco's FY2021 revenue?", 24), narrows_item("What is 3M's revenue?", 13)
    (False, False)
    """
    before = [w for w in re.findall(r"[\w'’&-]+", question[:start]) if re.search(r"[^\W_]", w)]  # not a lone quote
    if not before:
        return False
    word = before[-1].lower()
    return not (word in _PLAIN_BEFORE or word.endswith(("'s", "’s", "s'")) or any(c.isdigit() for c in word))


# words that may follow "for" or "on" after a line item's name without narrowing it ("revenue for fiscal 2020")
_PLAIN_AFTER = frozenset({"the", "its", "their", "this", "that", "these", "those", "each", "every", "all", "both",
                          "fiscal", "year", "years", "quarter", "quarters", "period", "periods", "full", "first",
                          "second", "third", "fourth", "last", "prior", "previous", "current", "calendar", "a", "an",
                          "continuing", "discontinued", "company", "consolidated", "common", "ordinary"})
_FOR_WHAT = re.compile(r"\s+(?:for|on)\s+([a-z]\w*)")


def narrowed_after(question: str, end: int) -> bool:
    """Whether the words right after a line item's name (ending at ``end``) narrow it to a purpose or kind
    ("capital expenditures for pollution control"); periods and plain words ("for fiscal 2020", "for the year")
    do not.

    >>> q = "How much were capital expenditures for pollution control in 2020?"
    >>> narrowed_after(q, 34), narrowed_after("Capital expenditures for the year 2020?", 20)
    (True, False)
    """
    m = _FOR_WHAT.match(question, end)
    return m is not None and m.group(1) not in _PLAIN_AFTER


def single_item(question: str) -> LineItem | None:
    """The one line item a question names (statement names aside), or None for none, several, or one narrowed
    by the words around it (:func:`narrows_item`, :func:`narrowed_after`)."""
    text = re.sub(r"(?:balance sheets?|cash flows? statements?|statements? of [\w ]+|income statements?|"
                  r"p ?& ?l(?: statements?)?)", " ", question, flags=re.IGNORECASE)
    named = items_named(text)
    found = {i.key: i for *_, i in named}
    if len(found) != 1 or any(narrows_item(text, a) or narrowed_after(text, b) for a, b, _ in named):
        return None
    return next(iter(found.values()))


def plan_question(question: str, *, fiscal_year_hint: int | None = None) -> Plan | None:
    """The calculation a question asks for, over reported line items, or None when unsure.

    (a) a definition the question states ("... is defined as: FY2019 revenue / (average PP&E between FY2018 and
    FY2019)"); (b) else a metric of the glossary (:data:`METRICS`, "<item> % margin", "<item> as a % of
    <item>"), its growth ("growth", "year-over-year change", CAGR) between two years or its n-year average;
    (c) else a plain lookup of the one line item the question names, in its one year.

    >>> plan_question("What is the FY2019 fixed asset turnover ratio? Fixed asset turnover ratio is defined as: "
    ...               "FY2019 revenue / (average PP&E between FY2018 and FY2019).").formula
    'revenue_2019 / (avg(ppe_2018, ppe_2019))'
    >>> plan_question("What is the FY2015 - FY2017 3 year average net profit margin (as a %)?").formula
    'avg(net_income_2015 / revenue_2015, net_income_2016 / revenue_2016, net_income_2017 / revenue_2017)'
    >>> plan_question("What is the year end FY2019 total amount of inventories?").formula
    'inventories_2019'
    >>> plan_question("What was the average merchandise inventory during fiscal 2017?").formula
    'avg(inventories_2017, inventories_2016)'
    >>> plan_question("By how much did the company increase its credit agreement?") is None
    True
    >>> plan_question("How much revenue did the Intelligent Cloud segment generate in FY2023?") is None
    True
    >>> plan_question("If it liquidated all of its assets in 2021, how much could each shareholder get?") is None
    True
    >>> plan_question("What share of 2019 net revenues came through digital online channels?") is None
    True
    >>> [plan_question(q) for q in ("How much of its 2019 inventory was finished product?", "Did currency "
    ...  "movements help or hurt revenue in 2016?", "How concentrated were its receivables at the end of 2015?")]
    [None, None, None]
    >>> plan_question("What gross margin did it earn on bitcoin sales in 2020?") is None  # a part's margin
    True
    >>> plan_question("How much does it expect to spend on capital expenditures in fiscal 2024?") is None
    True

    A question naming its period's length ("six months ended June 30") carries it (:attr:`Plan.months`).

    >>> p = plan_question("What was revenue for the six months ended June 30, 2023?")
    >>> p.months, p.dated, p.as_of
    (6, True, ((2023, 6),))
    """
    if _NOT_A_REPORTED_FIGURE.search(question):
        return None  # "how much does it expect to spend on capex", "how much buyback capacity was left": prose
    plan = _planned(question, fiscal_year_hint)
    if plan is not None and any(o.item.key in sub_lines_named(question) for o in plan.operands):
        return None  # "the gross margin on its bitcoin sales": a part's figures, not the statements'
    # a date that only says when the fiscal year named ended leaves the year the filer's name for it
    dated = re.search(DATE, question, re.IGNORECASE) is not None and fiscal_year_and_its_end(question) is None
    operations = _OPERATIONS.search(question)
    said = said_items(question)
    return replace(plan, months=months_named(question), dated=dated, as_of=tuple(dates_named(question).items()),
                   operations=operations.group(1).lower() if operations else "",
                   said=tuple(said.items())) if plan is not None else None


def said_items(question: str) -> dict[str, str]:
    """Each line item a question names in words of its own, by the longest such words ("SG&A as a percentage of
    net sales": "net sales" for revenue); a one-word name ("equity" in "return on equity") says nothing of the row.

    >>> said_items("Return on equity: net income over average total Costco stockholders' equity?")["equity"]
    "stockholders' equity"
    >>> said_items("What was revenue in 2021?")
    {}
    """
    said: dict[str, str] = {}
    for a, b, item in items_named(question):
        words = question[a:b].lower()
        if len(words.split()) > 1 and len(words) > len(said.get(item.key, "")):
            said[item.key] = words
    return said


_OPERATIONS = re.compile(r"\b(continuing|discontinued) operations\b", re.IGNORECASE)
# a figure the statements do not report: a plan or an outlook ("expects to spend"), what is left of an
# authorisation ("buyback capacity left", "remaining under the program"), the effect of one thing on a figure
_EFFECT = r"(?:reduce|lower|lift|boost|hurt|weigh on|drag|affect|impact|offset|erode|dent)"
_NOT_A_REPORTED_FIGURE = re.compile(r"\bexpect(?:s|ed|ing)? to\b|\bplan(?:s|ned|ning)? to\b|\boutlook\b|"
                                    r"\bguidance\b|\bforecast\w*|\banticipat\w*|\bprojected\b|"
                                    r"\b(?:left|remain(?:s|ed)?)\b(?! (?:the )?same\b)|\bcapacity\b|"
                                    r"\bauthori[sz](?:ed|ation)\b|"
                                    # the effect of one thing on a figure ("did higher shrink reduce gross margin")
                                    # (not the company's own act: "did Acme lower its debt")
                                    rf"\bdid\s+(?!(?:it|they|we|the company|(?-i:[A-Z][\w.&'’-]*)(?:['’]s)?)\s+"
                                    rf"{_EFFECT}\b)(?:(?!\bdid\b)[^?])*?\b{_EFFECT}\b", re.IGNORECASE)


_FISCAL_NAMED = re.compile(rf"\b(?:fiscal(?: year)?|FY) ?({YEAR})\b", re.IGNORECASE)


def fiscal_year_and_its_end(question: str) -> int | None:
    """The fiscal year a question names when it also gives the date that year ended ("fiscal 2021, the 52 weeks
    ended January 29, 2022"): the date's year is that fiscal year's end, not a second year asked.

    >>> fiscal_year_and_its_end("Diluted EPS for fiscal 2021, i.e. the 52 weeks that ended January 29, 2022?")
    2021
    >>> fiscal_year_and_its_end("Revenue in fiscal 2021 and at January 29, 2019?") is None
    True

    A quarter's end may fall in the calendar year before its fiscal year's ("the quarter ended September 30, 2016,
    the first quarter of fiscal 2017").

    >>> fiscal_year_and_its_end("Revenue for the quarter ended September 30, 2016, the first quarter of fiscal 2017?")
    2017
    """
    named = {int(m.group(1)) for m in _FISCAL_NAMED.finditer(question)}
    dated = {int(m.group(m.lastindex or 0)) for m in re.finditer(DATE, question, re.IGNORECASE)}
    if len(named) != 1 or not dated:
        return None
    year = next(iter(named))
    earliest = -1 if any(p.quarter for p in periods_named(question)) else 0
    return year if all(earliest <= d - year <= 1 for d in dated) and set(years_named(question)) <= named | dated \
        else None


_PERIOD_ENDED = re.compile(rf"\b(?:months|weeks|year|quarter)\s+(?:that\s+)?ended\s+(?:on\s+)?{DATE}", re.IGNORECASE)


def period_ended(question: str) -> int | None:
    """The year of the one period a question asks for by its end date ("the six months ended July 30, 2022"),
    when any other year it names is no earlier (the later filing it is read from: "Q2 FY2024 10-Q"); else None.

    >>> period_ended("In the Q2 FY2024 10-Q, what was operating cash flow for the six months ended July 30, 2022?")
    2022
    >>> period_ended("Revenue in the year ended June 30, 2023 versus fiscal 2021?") is None
    True
    """
    ends = [int(m.group(m.lastindex or 0)) for m in _PERIOD_ENDED.finditer(question)]
    if len(set(ends)) != 1:
        return None
    return ends[0] if all(y >= ends[0] for y in years_named(question)) else None


# a filing named by its year ("In Costco's FY2021 10-K", "the 2019 annual report"): where the question names
# another year too, that one is asked
_FILING_NAMED = re.compile(rf"\b(?:Q[1-4]\s+)?(?:FY\s?|fiscal(?:\s+year)?\s+)?{YEAR}\s+(?:annual report|10-?K|10-?Q|"
                           r"form 10-?[KQ]|earnings release)\b", re.IGNORECASE)


def filing_unnamed(question: str) -> str:
    """The question without the filing it names ("Per Acme's Q2 2023 10-Q, ..."): the periods it asks about.

    >>> filing_unnamed("Per Acme's Q2 2023 10-Q, what was net income in the fourth quarter of 2022?")
    "Per Acme's  , what was net income in the fourth quarter of 2022?"
    """
    return _FILING_NAMED.sub(" ", question)


def quarter_asked(question: str) -> int | None:
    """The quarter a question asks about, not the quarter of the filing it names.

    >>> quarter_asked("Per Acme's Q2 2023 10-Q, what was net income in the fourth quarter of 2022?")
    4
    """
    return next((p.quarter for p in periods_named(filing_unnamed(question)) if p.quarter), None)


def years_asked(question: str) -> list[int]:
    """The years a question asks about: those it names, less a filing's year when it names another (a quarter of
    another year is read from the filing's quarter columns, or not at all: see ``app.figures_stage``).

    >>> years_asked("In Acme's FY2021 10-K, what were net sales for the prior year, fiscal 2020?")
    [2020]
    >>> years_asked("What were net sales in the FY2021 10-K?")
    [2021]
    >>> years_asked("Per Acme's Q2 2023 10-Q, what was net income in the fourth quarter of 2022?")
    [2022]
    """
    return years_named(filing_unnamed(question)) or years_named(question)


# a lookup question asking something else of the item: a part of it ("how much of its inventory was finished
# product"), an effect on it ("did currency movements help or hurt revenue"), a quality ("how concentrated were its
# receivables")
_NO_AMOUNT_OF_ITEM = re.compile(r"\bhow much of (?:its|the|their|\w+['’]s?)\s+(?:[\w-]+\s+){0,3}?(?:was|were|is|are)\s+"
                                r"(?!(?:\w+ed|made|sold|attributable)\s+(?:in|from|by|through|via|to|outside)\b)"
                                r"(?:from\s+|in\s+)?(?:the\s+)?(?-i:[a-z])|\b(?:impact|effect)s?\s+(?:of|on)\b|"
                                r"\baffect(?:ed|s)?\b|\b(?:help|hurt)(?:ed|s)?\b|^\W*how\s+(?!(?:much|many|large|big|high|"
                                r"fast|quickly|long|did|does|do|has|have|had|was|were|is|are|would|will|can|could|should)"
                                r"\b)[a-z]+\b", re.IGNORECASE)


def _planned(question: str, fiscal_year_hint: int | None) -> Plan | None:
    ended = fiscal_year_and_its_end(question) or period_ended(question)
    years = [ended] if ended else years_asked(question) or ([fiscal_year_hint] if fiscal_year_hint else [])
    if not years or _PART_OF_COMPANY.search(question):  # a segment's figure: not in the consolidated statements
        return None
    statements = frozenset(statements_named(question))
    year = max(years)
    metric = metric_named(question, year)
    lo, hi = min(years), max(years)
    if (d := _definition(question, year)) and not _extends(metric, d.name):
        label = _label(question, metric[0] if metric else d.label)  # a glossary metric defined its own way
        outside = question[:d.span[0]] + question[d.span[1]:]  # the question's own words, not the definition's
        if hi > lo and _RELATIVE_GROWTH.search(outside) and not _CAGR.search(outside):
            start = _at_year(d.formula, hi, lo)  # "how much did pre-provision profit (A minus B) grow from 2022"
            formula = f"(({d.formula}) - ({start})) / ({start})"
            return Plan(f"{label}_growth_{lo}_{hi}", formula, _operands_of(formula), f"{label} growth", statements)
        return Plan(label, d.formula, d.operands, "definition", statements)
    if d is None and metric is not None and states_definition(question):
        return None  # the question's own definition, unread: the glossary's would answer another question
    amount_change = _AMOUNT_CHANGE.search(question) is not None and not _IN_PERCENT.search(question)
    if lo == hi and (_GROWTH_OF_ONE_YEAR.search(question) or amount_change) and not _CAGR.search(question):
        lo = hi - 1  # "by what percentage did net sales grow in 2021", "by how much did cash change in 2023": since
        # the year before
    if metric is not None and hi > lo and points_change(question, metric[1]):
        change = f"{metric[1]} - {_at_year(metric[1], year, lo)}"  # a ratio's change in percentage points
        return Plan(f"{metric[0]}_change_{lo}_{hi}", change, _operands_of(change), f"{metric[0]} change", statements)
    if metric is None and amount_change and (item := single_item(question)) is not None:
        formula = f"{item.key}_{hi} - {item.key}_{lo}"  # in the item's own units
        return Plan(f"{item.key}_change_{lo}_{hi}", formula, _operands_of(formula), "change", statements)
    if _GROWTH.search(question) and hi > lo:
        base = metric[1] if metric else None
        name = metric[0] if metric else None
        if base is None:
            item = single_item(question)
            if item is None:
                return None
            base, name = f"{item.key}_{hi}", item.key
        start = _at_year(base, hi, lo)
        if _CAGR.search(question):
            formula = f"({base} / {start}) ** (1 / {hi - lo}) - 1"
            return Plan(f"{name}_cagr_{lo}_{hi}", formula, _operands_of(formula), f"{name} CAGR", statements)
        formula = f"({base} - {start}) / {start}"
        return Plan(f"{name}_growth_{lo}_{hi}", formula, _operands_of(formula), f"{name} growth", statements)
    if metric is not None:
        name, formula = metric
        if _N_YEAR_AVERAGE.search(question) and hi > lo:
            parts = [_at_year(formula, year, y) for y in range(lo, hi + 1)]
            formula = f"avg({', '.join(parts)})"
            return Plan(f"{name}_average_{lo}_{hi}", formula, _operands_of(formula), f"{name} average", statements)
        if hi > lo and _CHANGE_ASKED.search(question):
            return None  # "by how many percentage points did it change from 2022 to 2023": not one year's figure
        return Plan(f"{name}_{year}", formula, _operands_of(formula), name, statements)
    item = single_item(question)
    if item is None:
        return None
    if item.statement == "balance" and lo == hi and _AVERAGE_DURING.search(question):
        # "average inventory during fiscal 2017": a balance over the year, its opening and closing mean
        formula = f"avg({item.key}_{hi}, {item.key}_{hi - 1})"
        return Plan(f"average_{item.key}_{hi}", formula, _operands_of(formula), "average", statements)
    if _N_YEAR_AVERAGE.search(question) and hi > lo:
        formula = f"avg({', '.join(f'{item.key}_{y}' for y in range(lo, hi + 1))})"
        return Plan(f"{item.key}_average_{lo}_{hi}", formula, _operands_of(formula), "average", statements)
    if is_derived_question(question) or len(years) > 1 or (_PER_UNIT.search(question) and not item.per_share) or \
            _RELATIVE.search(question) or _SHARE_ASKED.search(question) or _NO_AMOUNT_OF_ITEM.search(question):
        return None  # "what share of net revenues came through digital channels": not the revenue itself
    return Plan(f"{item.key}_{year}", f"{item.key}_{year}", _operands_of(f"{item.key}_{year}"), "lookup", statements)


_POINTS = re.compile(r"\b(?:percentage|basis) points?\b|\bpp\b|\bbps\b", re.IGNORECASE)
_RELATIVE_GROWTH = re.compile(r"\bgrowth\b|\bgrow\b|\bcagr\b|\bcompound", re.IGNORECASE)


def points_change(question: str, formula: str) -> bool:
    """Whether a question asks how a ratio moved between two years in points (a margin's "percentage points",
    or its "change" that names no growth rate), not its relative growth: ``formula`` is the ratio's.

    >>> points_change("By how many percentage points did the gross margin change from 2014 to 2015?", "a / b")
    True
    >>> points_change("How did the operating margin change between 2021 and 2022?", "a / b")
    True
    >>> points_change("What was the growth of the operating margin from 2021 to 2022?", "a / b")
    False
    >>> points_change("By how much did free cash flow change from 2021 to 2022?", "a - b")
    False
    """
    ratio = "/" in formula and not re.search(r"\*\*|avg\(", formula)
    return ratio and bool(_POINTS.search(question) or (_CHANGE_ASKED.search(question) and
                                                       not _RELATIVE_GROWTH.search(question)))


# an amount's change asked in its own units ("by how much did cash change over fiscal 2023", "how much did total
# debt increase in 2022", "how did cash change over fiscal 2021"), not in percent
_AMOUNT_CHANGE = re.compile(r"\b(?:by )?how much did\b[^?]*\b(?:change|increase|decrease|rise|fall|decline|drop)\b|"
                            r"\bnet (?:change|increase|decrease) in\b|"
                            r"\b(?:up or down|down or up|rise or fall|increase or decrease)\b|"
                            r"\bhow did\b[^?]*\bchange(?= (?:over|during|in|from|between|since)\b|\s*[?(,]|$)",
                            re.IGNORECASE)
_IN_PERCENT = re.compile(r"%|\bpercent(?:age)?\b|\bpoints?\b|\brate\b|\bhow much of\b", re.IGNORECASE)
_CHANGE_ASKED = re.compile(r"\bchang\w*|\bpercentage points?\b|\bdifference\b|\b(?:rose|fell|grew|declined|"
                           r"increased|decreased)\b|\bhow (?:much|far) did\b", re.IGNORECASE)
# a figure set against another ("capital spending relative to its net revenue"): no lookup of one of them
_RELATIVE = re.compile(r"\brelative to\b|\bcompared (?:to|with)\b|\bin relation to\b|\bagainst\b", re.IGNORECASE)
# an amount per share, shareholder, employee or store: the statements' aggregate line item does not answer it
_PER_UNIT = re.compile(r"\bper (?:share|shareholder|employee|store|unit|customer)\b|\beach (?:shareholder|share|"
                       r"employee|store|unit|customer)\b", re.IGNORECASE)


def _extends(metric: tuple[str, str] | None, defined: str) -> bool:
    """Whether the glossary metric the question asks for builds on the term its definition defines ("EBITDA less
    capex" with "define unadjusted EBITDA as ..."): the metric is asked, the definition only names a part.

    >>> _extends(("ebitda_less_capex", ""), "unadjusted EBITDA"), _extends(("ebitda", ""), "unadjusted EBITDA")
    (True, False)
    """
    if metric is None:
        return False
    first, *more = metric[0].split("_")
    words = set(re.findall(r"[a-z]+", defined.lower()))
    return first in words and bool(set(more) - words)


def _at_year(formula: str, year: int, to: int) -> str:
    """``formula`` (written for ``year``) for year ``to``: every operand's year shifted by the same amount."""
    return _NAME_IN_FORMULA.sub(lambda m: f"{m.group(1)}_{int(m.group(2)) - year + to}", formula)


def _label(question: str, fallback: str) -> str:
    m = re.search(r"(?:define|defined|calculate)\s+(?:the\s+)?([\w&' -]+?)\s+(?:as|is defined|using)\b", question,
                  re.IGNORECASE) or re.search(r"\b([\w&' -]+?) is defined as", question, re.IGNORECASE)
    words = re.findall(r"[a-z&]+", m.group(1).lower()) if m else [fallback]
    return "_".join(w.replace("&", "and") for w in words[-5:]) or fallback


# --------------------------------------------------------------------------------------------- the block

def in_units_asked(question: str, result: float, unit: str) -> str | None:
    """The result restated in the scale the question asks for ("Answer in USD billions": a result of $4,625
    million is $4.625 billion), or None when it asks for none or the result is already in it.

    >>> in_units_asked("capital expenditure (in USD billions)?", 4625.0, "$ million")
    '$4.625 billion'
    >>> in_units_asked("Answer in USD millions.", 381603.0, "$ thousand")
    '$381.603 million'
    >>> in_units_asked("in millions", 5.0, "$ million") is None
    True
    """
    m = SCALE_ASKED.search(question)
    have = next((w for w in SCALES if w in unit), None)
    if m is None or have is None:
        return None
    want = scale_name(m.group(1))
    if want == have:
        return None
    value = Decimal(str(result)) * SCALES[have] / SCALES[want]
    digits = f"{value.quantize(Decimal('0.001')).normalize():,f}"
    return f"{'$' if unit.startswith('$') else ''}{digits} {want}"


def relative_change(question: str, plan: Plan, values: Mapping[str, Decimal]) -> str | None:
    """An amount's change (a "change" plan: this year's row less the year before's) restated relative to the
    earlier year where the question does not say it asks for the amount ("how did revenue change": some mean the
    dollars, some the percent; "by how much" is the amount); None for other plans or an earlier value of 0.

    >>> q = "How did revenue change over fiscal 2023?"
    >>> relative_change(q, plan_question(q), {"revenue_2023": Decimal(3504), "revenue_2022": Decimal(3931)})
    '-10.9% from 2022'
    >>> q = "By how much did revenue change over fiscal 2023?"
    >>> relative_change(q, plan_question(q), {"revenue_2023": Decimal(3504), "revenue_2022": Decimal(3931)})
    """
    if plan.source != "change" or len(plan.operands) != 2 or _AMOUNT_ASKED.search(question):
        return None
    late, early = plan.operands
    start, end = values.get(early.name), values.get(late.name)
    if start is None or end is None or start == 0:
        return None
    pct = (end - start) / abs(start) * 100
    return f"{pct:.1f}% from {early.year}"


_AMOUNT_ASKED = re.compile(r"\bhow much\b|\bnet (?:change|increase|decrease)\b|\bin (?:dollars|\$)", re.IGNORECASE)


_STATEMENT_WORDS = {"balance": "consolidated balance sheets", "income": "consolidated statements of operations income",
                    "cash": "consolidated statements of cash flows"}


def operand_query(operand: Operand) -> str:
    """A search query for one operand: its line item, the statement it is reported in, its year.

    >>> operand_query(Operand("ppe_2018", ITEMS["ppe"], 2018))
    'property and equipment, net consolidated balance sheets 2018'
    """
    return f"{operand.item.title} {_STATEMENT_WORDS.get(operand.item.statement, '')} {operand.year}".replace("  ", " ")


def operand_value(found: Found, operand: Operand) -> str:
    """The operand's value for the block: the cell as printed without "$" (the check reads the "$" printed before
    it), with the table's scale when its passage does not state it; an outflow's magnitude (capital expenditures
    printed "(4,625)" are 4,625 of spending), unless the row prints its other years positive (a tax benefit
    "(73,608)" beside provisions "73,829": the sign counts).

    >>> f = Found(Passage(id="x", doc_id="d", source="a", text="", chars=(0, 0)), "$ (96)", (0, 6), "Capex", 3.0,
    ...           Decimal(-96), "million")
    >>> operand_value(f, Operand("capex_2015", ITEMS["capex"], 2015)), operand_value(f, Operand("x", ITEMS["cash"], 1))
    ('96 million', '(96) million')
    >>> other = Operand("other_income_2019", ITEMS["other_income"], 2019)
    >>> operand_value(replace(f, label="Other expense/(income)"), other), operand_value(f, other)
    ('96 million', '(96) million')
    """
    text = re.sub(r"[$\s]", "", found.text)
    if operand.item.reversed_by and re.search(operand.item.reversed_by, norm_label(found.label)):
        # "Other expense/(income)" printed "(952)" is 952 of other income; "168" there is -168 of it
        text = text[1:] if text.startswith("-") else text.strip("()") if text.startswith("(") else f"-{text}"
    elif operand.item.outflow and not found.against:  # a benefit where other years are expenses keeps its sign
        text = re.sub(r"[()\-−–]", "", text)
    return f"{text} {found.scale}" if found.scale and not operand.item.per_share else text


def write_block(plan: Plan, found: Mapping[str, Found], context: Sequence[Passage]) -> str:
    """The ``OPERAND``/``FORMULA`` block of ``plan`` with each operand's cell cited to its passage's number in
    ``context`` ([1] is ``context[0]``).

    :raises KeyError: an operand without a cell, or a cell whose passage is not in ``context``.
    """
    number = {p.id: i for i, p in enumerate(context, 1)}
    lines = [f"OPERAND {o.name} = {operand_value(found[o.name], o)} [{number[found[o.name].passage.id]}]"
             for o in plan.operands if o.name in found or not o.item.optional]
    formula = plan.formula
    for o in absent(plan, found):  # a row the filing does not print: it holds none
        formula = re.sub(rf"\b{o.name}\b", "0", formula)
    lines.append(f"FORMULA {plan.label} = {formula}")
    return "\n".join(lines)


def absent(plan: Plan, found: Mapping[str, Found]) -> list[Operand]:
    """The plan's optional operands (:attr:`LineItem.optional`) not found: each counts as 0."""
    return [o for o in plan.operands if o.item.optional and o.name not in found]


# ------------------------------------------------------------------------------------------- plausibility

#: What a glossary metric's value can plausibly be, as a plain ratio (a percent result is divided by 100): a value
#: outside means an operand was read from the wrong row or column, not that the company is unusual.
PLAUSIBLE: Mapping[str, tuple[float, float]] = {
    "current_ratio": (0.01, 50.0), "quick_ratio": (0.01, 50.0), "operating_cash_flow_ratio": (-50.0, 50.0),
    "gross_margin": (-1.0, 1.0), "operating_margin": (-10.0, 1.0), "net_margin": (-10.0, 1.0),
    "ebitda_margin": (-10.0, 1.0), "fixed_asset_turnover": (0.0, 1000.0), "asset_turnover": (0.0, 20.0),
    "inventory_turnover": (0.0, 1000.0), "dso": (0.0, 2000.0), "dpo": (0.0, 2000.0), "dio": (0.0, 2000.0),
    "roa": (-5.0, 5.0), "roe": (-50.0, 50.0), "effective_tax_rate": (-2.0, 2.0), "dividend_payout": (-20.0, 20.0),
    "debt_to_equity": (-200.0, 200.0), "fcf_conversion": (-50.0, 50.0), "interest_coverage": (-10000.0, 10000.0),
}
#: Line items that are never negative as reported: a lookup of one printed negative was read from another row.
NEVER_NEGATIVE = frozenset({"revenue", "total_assets", "total_current_assets", "total_current_liabilities",
                            "total_liabilities", "inventories", "ppe", "receivables", "payables"})


def implausible(plan: Plan, result: float, unit: str, values: Mapping[str, Decimal] | None = None) -> str | None:
    """Why a computed figure cannot be right for what the plan computes (None: plausible); with the operands'
    ``values`` (by operand name), an operand of a line item never reported negative that was read negative (a
    cash-flow row's change in inventories read as the inventories' balance).

    >>> p = plan_question("What is the FY2019 current ratio?")
    >>> implausible(p, 250.0, ""), implausible(p, 1.4, "")
    ('a current ratio of 250 is outside 0.01-50', None)
    >>> implausible(plan_question("What was FY2019 revenue?"), -5.0, "$ million")
    'a negative total revenue (-5)'
    >>> implausible(plan_question("What is the FY2019 gross margin (in %)?"), 150.0, "%")
    'a gross margin of 150% is outside -100%-100%'
    >>> q = plan_question("What was the FY2022 inventory turnover?")
    >>> implausible(q, 10.5, "", {"inventories_2021": Decimal(-331), "inventories_2022": Decimal(1499)})
    'an operand of inventories read negative (inventories_2021 = -331)'
    """
    for operand in plan.operands:
        read = (values or {}).get(operand.name)
        if read is not None and read < 0 and operand.item.key in NEVER_NEGATIVE:
            return f"an operand of {operand.item.title} read negative ({operand.name} = {read})"
    name = plan.source
    value = result / 100 if unit == "%" else result
    if name in PLAUSIBLE:
        lo, hi = PLAUSIBLE[name]
        if not lo <= value <= hi:
            title = name.replace("_", " ")
            shown = f"{result:g}%" if unit == "%" else f"{result:g}"
            bounds = f"{lo * 100:g}%-{hi * 100:g}%" if unit == "%" else f"{lo:g}-{hi:g}"
            return f"a{'n' if title[0] in 'aeiou' else ''} {title} of {shown} is outside {bounds}"
    if name == "lookup" and len(plan.operands) == 1 and plan.operands[0].item.key in NEVER_NEGATIVE and result < 0:
        return f"a negative {plan.operands[0].item.title} ({result:g})"
    return None


# ------------------------------------------------------------------------------- a part of the company named

# a quoted phrase: "'service and other'", “Creative Cloud” (an apostrophe inside or after a word is not a quote)
_QUOTED = re.compile(r"(?<![\w])['‘\"“]([^'‘’\"“”]{2,60}?)['’\"”](?![\w])")
# words that name a part of what the company sells or owns ("the Cash app", "its Xbox brand", "LinkedIn contributed")
_PART_NOUN = re.compile(r"\b(?:apps?|platforms?|brands?|franchises?|subsidiar(?:y|ies)|contribut(?:e|ed|es))\b|"
                        r"\bfrom (?:selling|(?:the )?sales? of)\b", re.IGNORECASE)  # "revenue from selling hardware"
# capitalised words that are the question's vocabulary, not a name: periods, units, statements, finance acronyms
_NOT_NAMES = frozenset({
    "what", "how", "which", "who", "when", "where", "why", "is", "was", "were", "did", "does", "do", "the", "in",
    "for", "of", "and", "a", "an", "as", "at", "by", "on", "to", "if", "based", "using", "according", "given",
    "please", "answer", "round", "calculate", "compute", "assume", "define", "defined", "use", "respond",
    "fy", "fiscal", "year", "quarter", "q1", "q2", "q3", "q4", "h1", "h2", "first", "second", "third", "fourth",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "usd", "us", "u", "s", "usa", "gaap", "non", "ifrs", "sec", "form", "item", "part",
    "note", "notes", "annual", "report", "quarterly", "statement", "statements", "consolidated", "balance", "sheet",
    "sheets", "cash", "flow", "flows", "income", "operations", "earnings", "comprehensive", "equity", "shareholders",
    "stockholders", "md", "mda", "eps", "ebit", "ebitda", "ebitdar", "roa", "roe", "roic", "roce", "cagr", "cogs",
    "sg", "sga", "da", "rd", "pl", "ppe", "pp", "r", "e", "capex", "opex", "fcf", "free", "dpo", "dso", "dio", "var",
    "ceo", "cfo", "coo", "board", "chair", "directors", "company", "inc", "corp", "corporation", "co", "ltd", "plc",
    "group", "holdings", "net", "total", "revenue", "revenues", "sales", "gross", "operating", "profit", "margin",
    "ratio", "assets", "liabilities", "debt", "inventory", "inventories", "dividends", "dividend", "share", "shares",
    "per", "thousands", "millions", "billions", "million", "billion", "percent", "percentage", "yes", "no", "i",
    "ii", "iii", "iv", "10", "k", "q", "8"})
_CAPITALISED = re.compile(r"\b[A-Z][\w&.'’-]*(?:\s+(?:&\s+)?[A-Z][\w&.'’-]*)*")  # "Corporate & Investment Bank"


def _beyond_issuer(words: Sequence[str], issuers: Sequence[str]) -> list[str]:
    """The capitalised words left once the routed issuer's name is taken out ("Best Buy Health": "health"); all of
    them when none names it. A name is its normalised words joined ("JPMorgan Chase": "jpmorganchase"), the start
    of one ("JPMorgan"), or one word of three letters or more that one starts with ("JPM", "Lockheed")."""
    names = [i for i in issuers if i]
    best: tuple[int, int] | None = None
    for a in range(len(words)):
        for b in range(len(words), a, -1):
            joined = "".join(words[a:b])
            if any(i == joined or i.startswith(joined) and (b - a > 1 or len(joined) >= 3) for i in names):
                if best is None or b - a > best[1] - best[0]:
                    best = (a, b)
                break
    return list(words) if best is None else [*words[:best[0]], *words[best[1]:]]


def _plain(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.sub(r"['’]s$", "", word.lower()))


_CONTRAST = re.compile(r"\s*\((?:as opposed to|rather than|versus|vs\.?|unlike)\s[^()]*\)", re.IGNORECASE)


def without_contrast(question: str) -> str:
    """The question without a bracketed contrast, which names what is not asked ("product revenue (as opposed to
    service and other revenue)": product revenue).

    >>> without_contrast("How did Acme's product revenue (as opposed to service and other revenue) change in 2023?")
    "How did Acme's product revenue change in 2023?"
    >>> without_contrast("Are its margins consistent (not fluctuating more than 2% each year)?")  # a condition
    'Are its margins consistent (not fluctuating more than 2% each year)?'
    """
    return _CONTRAST.sub("", question)


def issuer_dropped(question: str, issuers: Sequence[str] | None) -> str:
    """The question with the routed issuer's name (``issuers``: normalised names and aliases) written "the
    company", so that a name standing right before a line item does not read as narrowing it ("JPMorgan Chase net
    interest income": the company's net interest income); the question itself when no name is the issuer's.

    >>> issuer_dropped("Acme Anvil net interest income for 2023?", ["acmeanvil"])
    'the company net interest income for 2023?'
    >>> issuer_dropped("Acme Health revenue in 2023?", ["acme"])  # a name beyond the issuer's: a part
    'Acme Health revenue in 2023?'
    >>> issuer_dropped("acme anvil stock-based compensation 2023?", ["acmeanvil"])
    'the company stock-based compensation 2023?'
    """
    if not issuers:
        return question
    def dropped(m: re.Match[str]) -> str:
        words = [_plain(w) for w in m.group(0).split()]
        possessive = re.search(r"['’]s?$", m.group(0))
        if possessive or _beyond_issuer(words, issuers):
            return m.group(0)
        return "the company"
    question = _CAPITALISED.sub(dropped, question)
    # a terse query opening with the issuer's name in lower case ("microsoft stock-based compensation 2023?")
    words = list(re.finditer(r"[a-z][\w&'’.-]*", question[:60]))
    for n in range(min(3, len(words)), 0, -1):
        if question[:words[0].start()].strip() == "" and "".join(_plain(w.group(0)) for w in words[:n]) in issuers \
                and re.fullmatch(r"[a-z&'’. -]+", question[:words[n - 1].end()]):
            return f"the company{question[words[n - 1].end():]}"
    return question


def part_named(question: str, issuers: Sequence[str] | None = None) -> str | None:
    """What a question names that narrows a line item to a part of the company, or None: a quoted phrase that is
    not itself a line item's name ("'service and other'"), a product, brand or contribution ("the Cash app",
    "LinkedIn contributed"), or, where documents are routed by issuer (``issuers``: the normalised names and aliases
    of those the question names, maybe none), a proper name that is not theirs. The statements print the
    company's totals, so such a question is no plain lookup.

    >>> part_named("How much revenue did Acme book under 'parts and labour' in fiscal year 2016?")
    "'parts and labour'"
    >>> part_named("How much revenue did Widgetly contribute to Acme in FY2016?", ["acme"])
    'contribute'
    >>> part_named("How much revenue did Acme make from selling hardware in 2016?", ["acme"])
    'from selling'
    >>> part_named("What was Acme's Rocket Skates revenue in FY2017?", ["acme"])
    'Rocket Skates'
    >>> part_named("Mary Major's agreement with Acme renews each year. How much notice ends it?", ["acme"])
    'Major'
    >>> part_named("How much revenue did Rocket Skates generate in fiscal 2023?", [])
    'Rocket Skates'
    >>> part_named("What was Acme Anvil's 'total net revenue' in Q2 2022?", ["acme", "acmeanvil"]) is None
    True
    >>> part_named("How much revenue did Acme Health generate in Q2 of fiscal 2024?", ["acme"])
    'Health'
    >>> part_named("Best Buy's current ratio at the end of fiscal 2023?", ["bestbuy"]) is None  # the issuer, first
    True
    >>> part_named("What is Acme's FY2019 Net Income? Base it on the Consolidated Statements of Earnings.",
    ...            ["acme"]) is None
    True
    """
    quoted = [m.group(0) for m in _QUOTED.finditer(question)]
    if any(items_named(q) for q in quoted):  # the question names its row exactly ("'other expense (income), net'")
        return None
    if quoted:
        return quoted[0]
    if m := _PART_NOUN.search(question):
        return m.group(0)
    if issuers is None:
        return None
    for m in _CAPITALISED.finditer(question):
        raw = re.findall(r"[\w&'’-]+", m.group(0))
        whole = [_plain(x) for x in raw]
        issuer_first = len(_beyond_issuer(whole, issuers)) < len(whole) and \
            len(_beyond_issuer(whole[1:], issuers)) == len(whole) - 1  # "Best Buy's ...": the issuer starts it
        if re.search(r"(?:^|[.?!:;]\s*)$", question[:m.start()]) and not issuer_first:  # a sentence's first word
            raw = raw[1:]
        for group in re.split(r"(?<=['’]s) |(?<=s['’]) ", " ".join(raw)):  # "Adobe's Creative Cloud": two names
            words = [_plain(x) for x in group.split()]
            names = {w for w in words if w and w not in _NOT_NAMES and not re.fullmatch(r"\d+|fy\d+", w)}
            left = set(_beyond_issuer([w for w in words if w], issuers)) & names
            if left:
                name = " ".join(x for x, w in zip(group.split(), words, strict=True) if w in left)
                return re.sub(r"['’]s?$", "", name)  # "Dillon's agreement": Dillon
    return None


def part_name(part: str) -> str:
    """The name of a part :func:`part_named` found, as a passage would print it: a quoted phrase without its quotes,
    a name as it is, "" for a cue that names nothing ("app", "contribute", "from selling").

    >>> part_name("'service and other'"), part_name("Rocket Skates"), part_name("from selling")
    ('service and other', 'Rocket Skates', '')
    """
    if _PART_NOUN.fullmatch(part):
        return ""
    return part.strip("'\"‘’“”")


_SEGMENT_NAMED = re.compile(r"\b((?:[A-Z][\w&'’.-]*)(?:,?\s+(?:[A-Z][\w&'’.-]*|&|and|of))*)"
                            r"(?:\s+\([A-Z][A-Za-z&]+\))?\s+(?:business\s+)?"  # "... South Asia (AMESA) division"
                            r"(?:segment|division|business|reportable segment|region)s?\b")


def names_segment(question: str) -> bool:
    """Whether a question names a segment, division or business of the company by name ("the Blizzard segment").

    >>> names_segment("Was the Blizzard segment becoming less profitable?"), names_segment("Is it profitable?")
    (True, False)
    """
    return _SEGMENT_NAMED.search(question) is not None


def plan_part(question: str, issuers: Sequence[str] | None = None, *,
              fiscal_year_hint: int | None = None) -> tuple[str, Plan] | None:
    """A figure of one named part of the company: the part's name and the plan of the same question asked of the
    company ("What net revenue did Acme's Latin America division post in Q1 2023?": "Latin America", the net
    revenue of Q1 2023), or None when the question names no part by name (a product "app" or a "contribution" is
    no row label) or asks nothing the planner knows.

    >>> name, p = plan_part("What net revenue did Acme's Latin America division post in Q1 2023?", ["acme"])
    >>> name, p.formula, p.months
    ('Latin America', 'revenue_2023', 3)
    >>> name, p = plan_part("How much revenue did Acme book under 'service and other' in fiscal year 2016?")
    >>> name, p.formula
    ('service and other', 'revenue_2016')
    >>> plan_part("How much revenue did the Acme Pay app bring in during 2016?", ["acme"]) is None
    True
    >>> plan_part("What net revenue did Acme's Enterprise, Embedded and Semi-Custom segment record in 2015?",
    ...           ["acme"])[0]  # a name with a comma in it
    'Enterprise, Embedded and Semi-Custom'
    >>> plan_part("What operating profit did Acme's Africa, Middle East and South Asia (AMESA) division report "
    ...           "for Q1 2023?", ["acme"])[0]  # its abbreviation in brackets
    'Africa, Middle East and South Asia'
    >>> name, p = plan_part("For Acme's Domestic segment, what were capital expenditures as a percentage of segment "
    ...                     "revenue in fiscal 2023?", ["acme"])
    >>> name, p.formula
    ('Domestic', 'capex_2023 / revenue_2023')
    >>> plan_part("How much net revenue did Acme's Cloud segment generate in Asia-Pacific in 2021?", ["acme"]) is None
    True
    """
    m = _SEGMENT_NAMED.search(question)
    name = m.group(1) if m is not None else ""
    if m is not None and (cut := re.search(r"^.*['’]s?\s+", name)):  # "Acme's Latin America": after the possessive
        name = name[cut.end():]
    if name and not (issuers and not _beyond_issuer([_plain(w) for w in name.split()], issuers)):
        span = (m.end(1) - len(name), m.end()) if m is not None else (0, 0)
    else:
        found = part_named(question, issuers)
        if not found or not (found[0].isupper() or found[0] in "'‘\"“"):
            return _sub_line(question, fiscal_year_hint, alone=True)  # "bitcoin revenue": a row of its own
        name = part_name(found)
        at = question.find(found)
        span = (at, at + len(found))
    rest = f"{question[:span[0]]} {question[span[1]:]}"
    rest = re.sub(r"\b(?:under|from|of|for|by)\s+(?=[?.,]|\s*$)", " ", rest)
    # "segment revenue", "business segment operating profit": the part's revenue, operating profit
    rest = re.sub(r"\b(?:business\s+)?(?:segment|division)(?:['’]s)?\s+(?=[a-z])", "", rest)
    if issuers is not None and (other := part_named(rest, issuers)) and other[0].isupper():
        return None  # a part of a part ("the Cloud segment's revenue in Asia-Pacific"): not the part's row
    plan = plan_question(rest, fiscal_year_hint=fiscal_year_hint)
    return (name.strip(), plan) if plan is not None else None


# a share of the company's figure asked of one part ("what share of total revenue came from the Cloud segment")
_SHARE_ASKED = re.compile(r"\b(?:what|which) (?:share|percentage|percent|proportion|portion|fraction) of\s+",
                          re.IGNORECASE)
_CAME = r"\b(?:c[oa]me|coming) (?:from|through|via)\b"  # "came through digital online channels"
_FROM_PART = re.compile(rf"{_CAME}|\bcontribut\w*|\baccount\w* for\b|\brepresent\w*|"
                        r"\bgenerated by\b|\b(?:was|were|is) from\b", re.IGNORECASE)


def plan_share(question: str, issuers: Sequence[str] | None = None, *,
               fiscal_year_hint: int | None = None) -> tuple[str, Plan] | None:
    """One part's share of the company's figure: the part's name and the plan dividing the part's row by the
    company's (the company's operand in :attr:`Plan.whole`), or None when the question asks no share of a part.
    The part is a named one (:func:`plan_part`) or a sub-line the question narrows the item to
    ("transaction-based revenue").

    >>> name, p = plan_share("What share of total revenue did Acme's Cloud segment contribute in fiscal 2023?",
    ...                      ["acme"])
    >>> name, p.formula, p.whole
    ('Cloud', 'cloud_revenue_2023 / revenue_2023', ('revenue_2023',))
    >>> name, p = plan_share("What share of Acme's total net revenue in 2020 came from transaction-based revenue?")
    >>> name, p.formula
    ('transaction-based revenue', 'transaction_based_revenue_2020 / revenue_2020')
    >>> plan_share("What share of revenue did Acme spend on R&D in 2020?") is None
    True
    >>> plan_share("What share of total segment operating profit came from Acme's Cloud segment in 2021?") is None
    True
    """
    asked = _SHARE_ASKED.search(question)
    if not (asked and _FROM_PART.search(question)):
        return None
    named = items_named(question[asked.end():])
    if named and re.search(r"\bsegments?\b", question[asked.end():asked.end() + named[0][0]], re.IGNORECASE):
        return None  # "share of total business segment operating profit": the segments' total, not the statement's
    plain = _SHARE_ASKED.sub("what ", question, count=1)
    parted = plan_part(plain, issuers, fiscal_year_hint=fiscal_year_hint) or _sub_line(plain, fiscal_year_hint) or \
        _came_through(plain, fiscal_year_hint)
    if parted is None or parted[1].source != "lookup" or len(parted[1].operands) != 1:
        return None
    name, plan = parted
    whole = plan.operands[0]
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    part = replace(whole, name=f"{slug}_{whole.year}" if slug.endswith(whole.item.key) else
                   f"{slug}_{whole.item.key}_{whole.year}")
    return name, replace(plan, label=f"share_of_{whole.item.key}_{whole.year}", formula=f"{part.name} / {whole.name}",
                         operands=(part, whole), source="share of the company's", whole=(whole.name,))


# a part named in lower case after "came through" ("came through digital online channels"), up to a period or the end
_CAME_THROUGH = re.compile(rf"{_CAME} (?:its |the |their )?"
                           r"(?P<part>[a-z][\w-]*(?: [a-z][\w-]*){0,3})\s*(?=[?.,;]|\s(?:in|during|for)\b|$)")


def _came_through(question: str, fiscal_year_hint: int | None) -> tuple[str, Plan] | None:
    """A part the question says the item "came through" or "came from", named in lower case ("digital online
    channels"): its name and the plan of the item itself.

    >>> name, p = _came_through("what 2019 net revenues came through digital online channels?", None)
    >>> name, p.formula
    ('digital online channels', 'revenue_2019')
    """
    m = _CAME_THROUGH.search(question)
    if m is None or items_named(m.group("part")):
        return None
    plan = plan_question(f"{question[:m.start()]} {question[m.end():]}", fiscal_year_hint=fiscal_year_hint)
    return (m.group("part"), plan) if plan is not None else None


def without_item(part: str) -> str:
    """A sub-line's name without the line item's name it ends with ("polycrystalline silicon sales": the row
    "Polycrystalline Silicon" under revenue), or "" when it ends with none or is nothing else.

    >>> without_item("polycrystalline silicon sales"), without_item("Latin America")
    ('polycrystalline silicon', '')
    """
    named = items_named(part)
    if not named or named[-1][1] != len(part.rstrip()) or named[-1][0] == 0:
        return ""
    return part[:named[-1][0]].strip()


# words before a line item that name a metric or a part by its kind, not a sub-line ("days sales outstanding")
# (nor do operators and gerunds: "over net revenue", "using net sales")
_NOT_A_KIND = frozenset({"days", "segment", "segments", "division", "divisions", "business", "unit", "units", "over",
                         "under", "less", "minus", "plus", "versus", "vs", "against", "per", "than", "times", "between",
                         "after", "before", "divided", "i", "e", "ie"})


def sub_lines_named(question: str) -> frozenset[str]:
    """The line items of :data:`SUB_LINED` a question narrows to one of their sub-lines by a lower-case kind
    before them ("the margin on bitcoin sales", "membership fee revenue as a percentage of operating income").

    >>> sub_lines_named("What gross margin did it earn on its bitcoin sales in 2020?")
    frozenset({'revenue'})
    >>> sub_lines_named("What were days sales outstanding in 2020?"), sub_lines_named("operating income over net sales")
    (frozenset(), frozenset())
    """
    keys = set()
    for a, _, item in items_named(question):
        before = re.findall(r"[\w'’&-]+", question[:a])
        if item.key in SUB_LINED and before and narrows_item(question, a) and before[-1].islower() and \
                before[-1] not in _NOT_A_KIND and not before[-1].endswith("ing") and \
                re.search(r"[\w'’&-] +$", question[:a]):  # "profit (total net revenue ...": a bracket between
            keys.add(item.key)
    return frozenset(keys)


#: The line items a statement prints sub-lines of, each its own row ("Subscription revenue", "Bitcoin revenue"): a
#: sub-line named alone is read from its row. Other items narrowed ("nonperforming assets") are not rows of theirs.
SUB_LINED = frozenset({"revenue"})
_ASKS_AMOUNT = re.compile(r"^\W*(?:how (?:much|fast|quickly)|by (?:how much|what percentage)|"
                          r"what (?:was|were|is|are|did)\b|how did\b[^?]*\bchange\b)", re.IGNORECASE)


def _sub_line(question: str, fiscal_year_hint: int | None, *, alone: bool = False) -> tuple[str, Plan] | None:
    """A sub-line of a line item the question narrows by the word before it ("transaction-based revenue",
    "bitcoin revenue"): its name and the plan of the same question asked of the item. The item is named once more,
    plain ("what share of total net revenue came from transaction-based revenue"), or with ``alone``, only
    narrowed ("how much bitcoin revenue did it book in 2020").

    >>> name, p = _sub_line("How much bitcoin revenue did Acme book in 2020?", None, alone=True)
    >>> name, p.formula
    ('bitcoin revenue', 'revenue_2020')
    >>> _sub_line("How fast did Acme's subscription and services-based revenue grow in 2016 compared with 2015?",
    ...           None, alone=True)[0]
    'subscription and services-based revenue'
    >>> _sub_line("How much in nonperforming assets was Acme carrying in 2021?", None, alone=True) is None
    True
    >>> _sub_line("Describe the accelerated share repurchase of Q4 2021.", None, alone=True) is None  # no amount asked
    True
    """
    named = items_named(question)
    narrowed = [(a, b, i) for a, b, i in named if narrows_item(question, a)]
    if len(narrowed) != 1 or {i.key for *_, i in named} != {narrowed[0][2].key} or \
            (len(named) == 1) != alone:
        return None
    if alone and (narrowed[0][2].key not in SUB_LINED or not _ASKS_AMOUNT.search(question)):
        return None  # "nonperforming assets" is no row of the balance sheet; "describe the share repurchase" no sum
    a, b, _ = narrowed[0]
    # the lower-case words right before it (a kind, not a name), up to three: "polycrystalline silicon sales"
    kind: list[re.Match[str]] = []
    for m in reversed(list(re.finditer(r"\S+", question[:a]))[-4:]):
        word = m.group(0)
        if word == "and" and kind:  # "subscription and services-based revenue"
            kind.insert(0, m)
            continue
        if not re.fullmatch(r"[a-z][\w&-]*", word) or word in _PLAIN_BEFORE:
            break
        kind.insert(0, m)
    while kind and kind[0].group(0) == "and":
        kind.pop(0)
    if not kind:
        return None
    start = kind[0].start()
    # alone: the item kept, plain; else the narrowed mention dropped, the plain one left
    plan = plan_question(question[:start] + question[a if alone else b:], fiscal_year_hint=fiscal_year_hint)
    return (" ".join(question[start:b].split()), plan) if plan is not None else None

