"""The figures planner: reported line items read from statement tables, without a model (pure functions).

For a question that names reported line items (a derived metric such as "FY2019 fixed asset turnover", or a
plain lookup such as "FY2019 total amount of inventories"), :func:`plan_question` writes a :class:`Plan`: a
formula over operand names (the syntax :func:`generation.compute.parse_formula` takes) and the operands, each a
line item of :data:`LINE_ITEMS` in one fiscal year. :func:`table_rows` reads the rows of a table passage (label,
numeric cells with exact spans, the fiscal year of each column) and :func:`find_operand` picks the row and cell
of one operand among passages. :func:`write_block` then writes the same ``OPERAND``/``FORMULA`` block the model
would have written, so that :func:`generation.compute.calculate` checks and computes it as usual.

Anything unsure gives None (no plan, no operand); the caller then asks the model as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from generation.compute import SCALE_NOTE, SCALES, is_derived_question, passage_scale
from ingest.core.records import Passage
from ingest.tables import numeric_cells

# ---------------------------------------------------------------------------------------------- line items

Statement = str  # "balance", "income", "cash" or "" (any)


@dataclass(frozen=True, slots=True)
class LineItem:
    """A standard statement line item: how statements print its label, and how questions name it.

    :param key: short name, used in operand names ("revenue", "ppe").
    :param labels: regexes a row label matches (full match after normalising, see :func:`norm_label`),
        most specific first.
    :param names: regexes that name the item in a question or a definition.
    :param statement: where it is reported ("balance", "income", "cash").
    :param outflow: printed as a negative cash flow; its magnitude is the amount (capital expenditures).
    """

    key: str
    title: str
    labels: tuple[str, ...]
    names: tuple[str, ...]
    statement: Statement
    outflow: bool = False

    @property
    def is_total(self) -> bool:
        return any(p.startswith("total") for p in self.labels[:1])


def _item(key: str, title: str, labels: Iterable[str], names: Iterable[str], statement: Statement,
          outflow: bool = False) -> LineItem:
    return LineItem(key, title, tuple(labels), tuple(names), statement, outflow)


_ATTR = r"(?: attributable to [\w .,&'’-]+| applicable to [\w .,&'’-]+)?"
LINE_ITEMS: tuple[LineItem, ...] = (
    _item("revenue", "total revenue",
          [r"total net revenues?", r"total revenues?(?:, net)?", r"net revenues?", r"revenues?(?:, net)?", r"net sales",
           r"total net sales", r"sales", r"net sales and revenues?", r"total revenues? and other income"],
          [r"(?:total |net |unadjusted )*(?:revenues?|sales|top[- ]line)"], "income"),
    _item("cogs", "cost of goods sold",
          [r"total cost of (?:goods sold|sales|revenues?|products sold)", r"cost of (?:goods sold|sales|revenues?)",
           r"cost of products sold", r"cost of merchandise sold",
           r"cost of sales, including [\w ,]+", r"cost of sales(?: and occupancy)?"],
          [r"cogs", r"cost of (?:goods sold|sales|revenues?|products sold)"], "income"),
    _item("gross_profit", "gross profit", [r"gross (?:profit|margin)"], [r"gross profit"], "income"),
    _item("operating_income", "operating income",
          [r"operating income(?: \(loss\))?", r"income(?: \(loss\))? from operations", r"operating (?:profit|loss)",
           r"operating income \(loss\)", r"(?:loss|income) from operations"],
          [r"(?:unadjusted )?operating (?:income|profit)", r"income from operations", r"\bebit\b(?!da)"], "income"),
    _item("net_income", "net income",
          [rf"net (?:income|earnings)(?: \(loss\))?{_ATTR}", rf"net (?:loss|income \(loss\)){_ATTR}",
           r"net (?:income|earnings) attributable to [\w .,&'’-]+"],
          [r"net (?:income|earnings|profit)", r"bottom[- ]line"], "income"),
    _item("pretax_income", "income before income taxes",
          [r"(?:income|earnings)(?: \(loss\))? before (?:provision for )?income tax(?:es| expense)?(?: and [\w ]+)?"],
          [r"(?:income|earnings) before (?:income )?tax(?:es)?", r"pre-?tax (?:income|earnings)"], "income"),
    _item("income_tax", "income tax expense",
          [r"provision for income taxes", r"income tax expense(?: \(benefit\))?", r"(?:provision for|benefit from) "
           r"income taxes", r"income taxes", r"provision \(benefit\) for income taxes"],
          [r"income tax(?:es| expense)?", r"provision for income taxes", r"tax expense"], "income"),
    _item("interest_expense", "interest expense", [r"interest expense(?:, net)?", r"interest expense, net of [\w ]+"],
          [r"interest expense"], "income"),
    _item("da", "depreciation and amortization",
          [r"depreciation(?:,| and) amortization(?: and [\w ]+)?", r"depreciation, depletion and amortization",
           r"depreciation and amortization expense", r"depreciation"],
          [r"depreciation (?:and|&) amortization", r"d ?& ?a", r"\bda\b"], "cash"),
    _item("cfo", "cash from operations",
          [r"net cash (?:provided by|from|generated (?:by|from)|provided by \(used in\)|\(used in\) provided by) "
           r"operating activities", r"cash (?:provided by|from|generated by) operations",
           r"net cash provided by operating activities"],
          [r"cash (?:flows? )?from operati(?:ons|ng activities)", r"operating cash flows?",
           r"cash (?:provided|generated) by operati(?:ons|ng activities)", r"net cash from operating activities",
           r"cash flow from operating activities"], "cash"),
    _item("capex", "capital expenditures",
          [r"capital expenditures", r"purchases? of property(?:,)? (?:plant )?and equipment(?: and [\w ]+)?",
           r"payments for (?:acquisition of )?property,? plant,? and equipment", r"capital spending",
           r"additions to property(?:,)? (?:plant )?and equipment", r"acquisitions? of property(?:,)? (?:plant )?and "
           r"equipment", r"purchases? of property(?:,)? equipment(?:,)? and [\w ]+", r"capital expenditure"],
          [r"capital expenditures?", r"capex", r"capital spending", r"purchases? of property(?:,)? (?:plant )?and "
           r"equipment"], "cash", outflow=True),
    _item("total_current_assets", "total current assets", [r"total current assets"], [r"(?:total )?current assets"],
          "balance"),
    _item("total_current_liabilities", "total current liabilities", [r"total current liabilities"],
          [r"(?:total )?current liabilities"], "balance"),
    _item("total_assets", "total assets", [r"total assets"], [r"total assets", r"\bassets\b"], "balance"),
    _item("total_liabilities", "total liabilities", [r"total liabilities"], [r"total liabilities"], "balance"),
    _item("equity", "total shareholders' equity",
          [r"total (?:stockholders|shareholders)['’]? equity(?: \(deficit\))?", r"total equity",
           r"total [\w ,.&'’-]+ (?:stockholders|shareholders)['’]? equity"],
          [r"(?:total )?(?:stockholders|shareholders)['’]? equity", r"(?:total |book )?equity"], "balance"),
    _item("inventories", "inventories",
          [r"(?:merchandise )?inventor(?:y|ies)(?:, net)?", r"inventories, net", r"total inventories"],
          [r"(?:merchandise )?inventor(?:y|ies)"], "balance"),
    _item("receivables", "accounts receivable, net",
          [r"(?:trade )?accounts receivable(?:, net)?(?: of [\w ,$]+)?", r"receivables?(?:, net)?",
           r"accounts and notes receivable(?:, net)?", r"trade receivables(?:, net)?"],
          [r"(?:accounts |trade )?receivables?"], "balance"),
    _item("payables", "accounts payable",
          [r"(?:trade )?accounts payable(?: and [\w ]+)?", r"accounts payable, trade"],
          [r"(?:accounts |trade )?payables?"], "balance"),
    _item("ppe", "property and equipment, net",
          [r"(?:total )?property(?:,)? (?:plant )?and equipment(?:, net)?(?: of [\w ,$]+)?",
           r"net property(?:,)? (?:plant )?and equipment", r"property(?:,)? plant(?:,)? and equipment, net",
           r"property and equipment, at cost, net", r"(?:net )?pp&e"],
          [r"pp ?& ?e", r"property(?:,)? (?:plant )?(?:and|&) equipment", r"fixed assets"], "balance"),
    _item("cash", "cash and cash equivalents", [r"cash and (?:cash )?equivalents(?: at end of (?:year|period))?"],
          [r"cash and (?:cash )?equivalents"], "balance"),
    _item("long_term_debt", "long-term debt",
          [r"long[- ]term debt(?:, net)?(?:, (?:less|excluding) current (?:portion|maturities))?",
           r"long[- ]term debt, net of current portion"], [r"long[- ]term debt"], "balance"),
    _item("dividends", "dividends paid",
          [r"(?:cash )?dividends paid(?: to [\w ]+)?", r"dividends paid on common stock", r"payments? of dividends",
           r"dividends"], [r"dividends(?: paid)?"], "cash", outflow=True),
    _item("buybacks", "repurchases of common stock",
          [r"(?:repurchases?|purchases?) of (?:common |treasury )?stock", r"share repurchases?",
           r"repurchases? of (?:common )?shares", r"payments for repurchases? of common stock"],
          [r"(?:stock|share) repurchases?", r"repurchases? of (?:common )?(?:stock|shares)", r"buybacks?"], "cash",
          outflow=True),
)
ITEMS: Mapping[str, LineItem] = {i.key: i for i in LINE_ITEMS}

# longest names first, so "total current assets" wins over "assets"
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], LineItem], ...] = tuple(sorted(
    ((re.compile(rf"(?<![\w-]){n}(?![\w])", re.IGNORECASE), item) for item in LINE_ITEMS for n in item.names),
    key=lambda pair: -len(pair[0].pattern)))


def items_named(text: str) -> list[tuple[int, int, LineItem]]:
    """The line items ``text`` names, with their spans, left to right (longest names first; no overlaps).

    >>> [(a, i.key) for a, _, i in items_named("total current assets divided by total current liabilities")]
    [(0, 'total_current_assets'), (32, 'total_current_liabilities')]
    >>> [i.key for *_, i in items_named("average PP&E between FY2018 and FY2019")]
    ['ppe']
    """
    taken: list[tuple[int, int, LineItem]] = []
    for pattern, item in _NAME_PATTERNS:
        for m in pattern.finditer(text):
            if not any(m.start() < b and a < m.end() for a, b, _ in taken):
                taken.append((m.start(), m.end(), item))
    return sorted(taken, key=lambda t: t[0])


# ------------------------------------------------------------------------------------------- rows of a table

@dataclass(frozen=True, slots=True)
class Cell:
    """One numeric cell: its text as printed and exact ``[start, end)`` in the passage text, its value (None for
    a dash), the column's fiscal year (None when unknown) and whether it is a percent."""

    text: str
    start: int
    end: int
    value: Decimal | None
    year: int | None = None
    percent: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """A table row: its label (with the section above it when the label is only "Total") and numeric cells."""

    label: str
    cells: tuple[Cell, ...]
    section: str = ""

    def cell(self, year: int) -> Cell | None:
        """The first cell in ``year``'s column (a value, not a dash), or None."""
        for c in self.cells:
            if c.year == year and not c.percent:
                return c if c.value is not None else None
        return None


_CELL = re.compile(r"\$?\s?\(?\s?[-−–]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?\)?\s?%?|(?<!\S)[-—–−]{1,3}(?!\S)")
_YEAR = re.compile(r"(?<![\d,.$])(?:19|20)\d\d(?!\d|,\d|%)")
_FY = re.compile(r"\bFY ?((?:19|20)\d\d)\b")
_FOOTNOTE = re.compile(r"\(\d\)")


def parse_cell(text: str) -> tuple[Decimal | None, bool]:
    """A cell's value (parentheses and a leading minus negative; a dash is None) and whether it is a percent.

    >>> parse_cell("$ (1,234)"), parse_cell("—"), parse_cell("12.5 %")
    ((Decimal('-1234'), False), (None, False), (Decimal('12.5'), True))
    """
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if digits is None:
        return None, False
    value = Decimal(digits.group().replace(",", ""))
    if "(" in text or re.search(r"[-−–]\s?\$?\s?\d", text):
        value = -value
    return value, "%" in text


def _line_cells(line: str, offset: int) -> tuple[str, list[Cell]] | None:
    """A line's label and its numeric cells (absolute offsets), or None when it does not end in cells."""
    count, label_end, _ = numeric_cells(line)
    if not count:
        return None
    cells = []
    for m in _CELL.finditer(line, label_end):
        text = m.group().strip()
        if not re.search(r"\d|[-—–−]", text):
            continue
        lead = len(m.group()) - len(m.group().lstrip())
        value, percent = parse_cell(text)
        cells.append(Cell(text, offset + m.start() + lead, offset + m.start() + lead + len(text), value,
                          percent=percent))
    if not cells:
        return None
    return line[:label_end].strip(" .:$"), cells


def header_years(text: str) -> list[int]:
    """Fiscal years named by column header lines, in order ("Fiscal Years Ended January 28, 2017 January 30,
    2016" gives 2017, 2016; a date's day is not a year).

    >>> header_years("Years Ended December 31,\\n2019 2018 2017"), header_years("Fiscal Years Ended January 28, 2017 "
    ...                                                                     "January 30, 2016")
    ([2019, 2018, 2017], [2017, 2016])
    """
    return [int(m.group()) for m in _YEAR.finditer(text)]


def document_year(passage: Passage) -> int | None:
    """The fiscal year of the passage's document, from the "FY2019" of its header's document label."""
    m = _FY.search(passage.header.split(" · ")[0])
    return int(m.group(1)) if m else None


def _header_part(passage: Passage) -> str:
    """The caption and column header a table passage's header carries (its last " · " part), else ""."""
    parts = passage.header.split(" · ")
    return parts[-1] if passage.kind == "table" and len(parts) > 1 else ""


def own_years(passage: Passage) -> list[int]:
    """Column years printed in the passage itself: in the header lines above its first row of cells."""
    head: list[str] = []
    for line in passage.text.splitlines():
        parsed = _line_cells(line, 0)
        count, label_end, years_only = numeric_cells(line)
        if parsed is not None and not years_only and line[:label_end].strip() and not _YEAR.fullmatch(
                line[:label_end].strip().rstrip(",")):
            break
        head.append(line)
    return header_years("\n".join(head))


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What a table passage's rows need from the table it was cut from: the column years and the scale."""

    years: tuple[int, ...] = ()
    scale: str = ""  # "thousand", "million", "billion" or "" (as :func:`generation.compute.passage_scale`)


def table_info(passages: Sequence[Passage]) -> dict[str, TableInfo]:
    """The column years and scale of each passage: its own (header lines, "(in millions)"); else those of the
    previous passage of the same table (same document and header, before it) when it is among ``passages``;
    else the years its header carries; else none (see :func:`_fit_years` for the document's year).

    >>> head = Passage(id="a", doc_id="d", source="s", kind="table", chars=(0, 40), header="X",
    ...                text="(In thousands)\\n2019 2018\\nRevenue 10 9")
    >>> tail = Passage(id="b", doc_id="d", source="s", kind="table", chars=(41, 60), header="X", text="Net income 3 2")
    >>> table_info([tail, head])["b"]
    TableInfo(years=(2019, 2018), scale='thousand')
    """
    out: dict[str, TableInfo] = {}
    last: dict[tuple[str, str], TableInfo] = {}
    for p in sorted(passages, key=lambda p: (p.doc_id, p.chars[0])):
        key = (p.doc_id, p.header)
        before = last.get(key, TableInfo()) if p.kind == "table" else TableInfo()
        years = tuple(own_years(p)) or before.years or tuple(header_years(_header_part(p)))
        info = TableInfo(years, passage_scale(p) or before.scale)
        last[key] = info
        out[p.id] = info
    return out


def column_years(passages: Sequence[Passage]) -> dict[str, list[int]]:
    """The column years of each passage (see :func:`table_info`)."""
    return {k: list(v.years) for k, v in table_info(passages).items()}


def _fit_years(years: Sequence[int], cells: int, fiscal_year: int | None) -> list[int]:
    """Years for ``cells`` columns: those given, extended with the document's later years when fewer than the
    cells and the given ones run down from below ``fiscal_year`` (a first column whose date sits in the text
    above the table); the document's year counting down when none are known.

    >>> _fit_years([2014, 2013], 3, 2015), _fit_years([], 2, 2019), _fit_years([2019, 2018], 3, 2019)
    ([2015, 2014, 2013], [2019, 2018], [2019, 2018])
    >>> _fit_years([2021], 4, 2021)  # "2021: U.S., Canada, Other International, Total"
    []
    """
    years = list(years)
    if not years:
        return [fiscal_year - i for i in range(cells)] if fiscal_year else []
    descending = all(a - b == 1 for a, b in zip(years, years[1:], strict=False))
    if fiscal_year and descending and len(years) < cells and fiscal_year > years[0] and \
            fiscal_year - years[0] <= cells - len(years):
        years = list(range(fiscal_year, years[0], -1)) + years
    if len(years) == 1 and cells >= 3:
        return []  # one year over three or more amount columns: the columns are segments or quarters, not years
    return years


def table_rows(passage: Passage, years: Sequence[int] | None = None) -> list[Row]:
    """The rows of a table (or table-like prose) passage: each line that ends in numeric cells, its label and
    its cells, each cell under its column's fiscal year.

    Years come from ``years`` when given, else from the passage's header lines (see :func:`column_years`);
    the first cells of a row take the years in order; a percent cell never takes a year from an amount
    column (a trailing "% change" column does not shift the years).

    >>> p = Passage(id="t", doc_id="d", source="a.pdf", kind="table", chars=(0, 0), text=(
    ...     "CONSOLIDATED BALANCE SHEETS\\n(in millions)\\nDecember 31, 2019 2018\\n"
    ...     "Merchandise inventories $ 5,409 $ 5,209\\nNet loss (619) —"))
    >>> rows = table_rows(p)
    >>> [(r.label, [(c.text, c.year, c.value) for c in r.cells]) for r in rows]  # doctest: +NORMALIZE_WHITESPACE
    [('Merchandise inventories', [('$ 5,409', 2019, Decimal('5409')), ('$ 5,209', 2018, Decimal('5209'))]),
     ('Net loss', [('(619)', 2019, Decimal('-619')), ('—', 2018, None)])]
    """
    known = list(years) if years is not None else column_years([passage]).get(passage.id, [])
    fiscal_year = document_year(passage)
    rows: list[Row] = []
    section = ""
    offset = 0
    for line in passage.text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        parsed = _line_cells(line, start)
        if parsed is None:
            if line.strip() and not SCALE_NOTE.search(line):
                section = line.strip().rstrip(":")
            continue
        label, cells = parsed
        if not label or numeric_cells(line)[2] or _YEAR.fullmatch(label.rstrip(",")):
            continue  # a header line of years
        while cells and _FOOTNOTE.fullmatch(cells[0].text) and (len(cells) == 1 or len(cells) > len(known)):
            cells = cells[1:]  # "Revenues (2) 6,489 7,500": a footnote number, not a cell
        if not cells:
            continue
        amounts = [c for c in cells if not c.percent]
        fitted = _fit_years(known, len(amounts), fiscal_year)
        dated = iter(fitted)
        placed = []
        for c in cells:
            year = None if c.percent else next(dated, None)
            placed.append(Cell(c.text, c.start, c.end, c.value, year, c.percent))
        if re.fullmatch(r"total", label, re.IGNORECASE) and section:
            label = f"Total {section}"
        elif label[:1].islower() and section:  # a label wrapped from the line above
            label = f"{section} {label}"
        rows.append(Row(label, tuple(placed), section))
    return rows


# ------------------------------------------------------------------------------------------- picking a row

def norm_label(label: str) -> str:
    """A row label for matching: lower case, footnote marks and notes dropped, spaces single.

    >>> norm_label("Total shareholders’ equity (Note 12)"), norm_label("Net revenues(1)")
    ("total shareholders' equity", 'net revenues')
    """
    text = label.lower().replace("’", "'")
    text = re.sub(r"\((?:note|notes) [^)]*\)|\(\d\)|\([a-z]\)|[*†‡]", " ", text)
    return " ".join(text.replace(":", " ").split()).strip(" ,.")


_STATEMENTS: Mapping[Statement, re.Pattern[str]] = {
    "balance": re.compile(r"balance sheets?|financial position|financial condition", re.IGNORECASE),
    "income": re.compile(r"statements? of (?:consolidated )?(?:operations|income|earnings)(?! and comprehensive)|"
                         r"income statements?|\bp ?& ?l\b|profit and loss|statements? of operations",
                         re.IGNORECASE),
    "cash": re.compile(r"cash flows?", re.IGNORECASE),
}


def statements_named(text: str) -> set[Statement]:
    """The financial statements ``text`` names.

    >>> sorted(statements_named("the P&L statement and the statement of cash flows"))
    ['cash', 'income']
    """
    return {name for name, pattern in _STATEMENTS.items() if pattern.search(text)}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z&]+", text.lower()) if w not in {"and", "of", "the", "net", "total", "in"}}


_QUALIFIED = re.compile(r"\b(?:non|other|less|excluding|per|before|after|deferred|discontinued)\b")


def label_score(item: LineItem, label: str) -> float:
    """How well a row label names ``item``: 3 for a full match of one of its label patterns (more for the first,
    most specific), 2.5 for a label that starts with one of two words or more, else the share of the item's title
    words it holds
    (0 below one half).

    >>> item = ITEMS["total_current_liabilities"]
    >>> label_score(item, "Total current liabilities"), label_score(item, "Other current liabilities")
    (3.2, 0.0)
    """
    text = norm_label(label)
    for i, pattern in enumerate(item.labels):
        if re.fullmatch(pattern, text):
            return 3.0 + 0.2 * (i == 0)
    for pattern in item.labels:  # "Depreciation and amortization of property and equipment"
        m = re.match(pattern + r"\b", text)
        if m and len(m.group().split()) >= 2:
            return 2.5
    if item.is_total and not text.startswith("total"):
        return 0.0  # "Other current liabilities" is not the total
    if _QUALIFIED.search(text):
        return 0.0  # "Non-operating income", "Other revenues": another line item
    want = _words(item.title)
    overlap = len(want & _words(text)) / len(want) if want else 0.0
    extra = len(_words(text) - want)
    return overlap - 0.1 * extra if overlap >= 0.99 else 0.0


@dataclass(frozen=True, slots=True)
class Found:
    """An operand's cell: the passage it is printed in, the cell as printed, its span, the row's label."""

    passage: Passage
    text: str
    span: tuple[int, int]
    label: str
    score: float
    value: Decimal
    scale: str = ""  # the table's scale when the passage itself does not state it ("thousand", ...)


def find_operand(item: LineItem, year: int, passages: Sequence[Passage], *,
                 statements: Iterable[Statement] = ()) -> Found | None:
    """The best cell for ``item`` in ``year`` among ``passages`` (best first, as retrieved): the row whose label
    names the item best (:func:`label_score`), preferring table passages, the statement the item is reported in
    or ``statements`` the question names (seen in the passage's header: section path and table caption), the
    earlier passage on a tie; the cell in the year's column. None when no row names the item with a value for
    the year.

    >>> p = Passage(id="t", doc_id="d", source="a.pdf", kind="table", chars=(0, 0),
    ...             header="ACME 10-K FY2019 · CONSOLIDATED BALANCE SHEETS | 2019 2018",
    ...             text="Inventories 5,409 5,209\\nOther current liabilities 50 40\\n"
    ...                  "Total current liabilities 7,513 7,817")
    >>> f = find_operand(ITEMS["total_current_liabilities"], 2018, [p]); f.text, p.text[f.span[0]:f.span[1]]
    ('7,817', '7,817')
    >>> find_operand(ITEMS["total_assets"], 2019, [p]) is None
    True
    """
    ranked = rank_cells(item, year, passages, statements=statements)
    return ranked[0] if ranked else None


_FORMAL = re.compile(r"balance sheets?|statements? of|statement of", re.IGNORECASE)  # the statement's own title
_NOT_STATEMENT = re.compile(r"discussion and analysis|selected (?:consolidated )?financial data|quarterly|"
                            r"unaudited|segments?\b|summary of", re.IGNORECASE)
_CONSOLIDATED = re.compile(r"\bconsolidated\b", re.IGNORECASE)


def context_score(p: Passage, wanted: set[Statement], info: TableInfo, rank: int) -> float:
    """How much a passage looks like the statement an operand is reported in: a table (+0.5) whose caption names
    a wanted statement (+1, +0.5 more for the statement's own title; another statement: -0.5), or whose section
    path does (+0.8, +0.5 for a title); a consolidated statement (+0.3) with a stated scale (+0.2); not a
    discussion, selected data, quarterly or segment table (-0.5), nor one whose columns repeat a year (-0.5);
    -0.01 per place down the retrieved list."""
    caption = f"{_header_part(p)}\n{p.text[:300]}"
    named = statements_named(caption)
    score = 0.5 if p.kind == "table" else 0.0
    if named & wanted:
        score += 1.5 if _FORMAL.search(caption) else 1.0
    elif named:
        score -= 0.5
    elif statements_named(p.header) & wanted:
        score += 1.3 if _FORMAL.search(p.header) else 0.8
    score += 0.3 if _CONSOLIDATED.search(caption) or _CONSOLIDATED.search(p.header) else 0.0
    score -= 0.5 if _NOT_STATEMENT.search(p.header) or _NOT_STATEMENT.search(p.text[:200]) else 0.0
    score += 0.2 if info.scale else 0.0
    score -= 0.5 if len(set(info.years)) < len(info.years) else 0.0  # quarters or periods of one year side by side
    return score - 0.01 * rank


def rank_cells(item: LineItem, year: int, passages: Sequence[Passage], *,
               statements: Iterable[Statement] = ()) -> list[Found]:
    """Every cell for ``item`` in ``year`` among ``passages``, best first (see :func:`find_operand`)."""
    wanted = set(statements) | ({item.statement} if item.statement else set())
    infos = table_info(passages)
    out: list[Found] = []
    for rank, p in enumerate(passages):
        info = infos[p.id]
        context = context_score(p, wanted, info, rank)
        for row in table_rows(p, info.years):
            score = label_score(item, row.label)
            cell = row.cell(year) if score > 0 else None
            if cell is None:
                continue
            total = 0.3 if item.is_total and norm_label(row.label).startswith("total") else 0.0
            out.append(Found(p, cell.text, (cell.start, cell.end), row.label, score + context + total,
                             cell.value if cell.value is not None else Decimal(0),
                             "" if passage_scale(p) else info.scale))
    return sorted(out, key=lambda f: -f.score)


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


_FY_YEAR = re.compile(r"\b(?:FY|fiscal(?: year)?)\s?'?((?:19|20)?\d\d)\b", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w$.,])((?:19|20)\d\d)(?![\w,%]|\.\d)")


def _year(text: str) -> int:
    return int(text) if len(text) == 4 else 2000 + int(text)


def question_years(question: str) -> list[int]:
    """Fiscal years the question names, in order, each once ("FY2019", "FY 2023", "fiscal 2018", "2019").

    >>> question_years("What is the FY2017 - FY2019 3 year average?"), question_years("in fiscal 2018 and 2019")
    ([2017, 2019], [2018, 2019])
    """
    found = [(m.start(), _year(m.group(1))) for m in _FY_YEAR.finditer(question)]
    spans = [m.span() for m in _FY_YEAR.finditer(question)]
    found += [(m.start(), int(m.group(1))) for m in _BARE.finditer(question)
              if not any(a <= m.start() < b for a, b in spans)]
    return list(dict.fromkeys(y for _, y in sorted(found)))


_AVERAGE_OF = re.compile(r"\b(?:average|mean|avg)\b(?: (?:of )?(?:the )?)?(?P<what>[\w&' ]+?)\s+(?:between|from|over|"
                         r"for|in)\s+(?:FY\s?|fiscal (?:year )?)?(?P<a>(?:19|20)\d\d)\s+(?:and|to|-|–)\s+"
                         r"(?:FY\s?|fiscal "
                         r"(?:year )?)?(?P<b>(?:19|20)\d\d)", re.IGNORECASE)
_CHANGE_OF = re.compile(r"\b(?:change|increase|decrease|difference) in (?P<what>[\w&' ]+?)\s+(?:between|from)\s+"
                        r"(?:FY\s?)?(?P<a>(?:19|20)\d\d)\s+(?:and|to|-)\s+(?:FY\s?)?(?P<b>(?:19|20)\d\d)",
                        re.IGNORECASE)
_OPERATORS = [(re.compile(r"\s+(?:divided by|over)\s+|\s*/\s*", re.IGNORECASE), "/"),
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
    years = question_years(text)
    items = items_named(text)
    if len(items) != 1 or len(years) > 1:
        return None
    return b.name(items[0][2], years[0] if years else year)


def _expression(text: str, year: int, b: _Builder) -> str | None:
    """A stated definition ("FY2019 revenue / (average PP&E between FY2018 and FY2019)", "total current assets
    less total current liabilities") as a formula, or None when some term names no line item."""
    protected = _AVERAGE_OF.sub(lambda m: m.group().replace(" and ", " AND_ ").replace(" - ", " TO_ "), text)
    protected = _CHANGE_OF.sub(lambda m: m.group().replace(" and ", " AND_ ").replace(" - ", " TO_ "), protected)
    protected = re.sub(r"(?<=\w)\s+and\s+(?=amortization|equipment)", " AND_ ", protected, flags=re.IGNORECASE)
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
    formula = " ".join(out).replace("( ", "(").replace(" )", ")")
    return formula if b.operands else None


_DEFINITION = re.compile(
    r"(?:\bis defined as\b|\bdefined as\b|\bdefine [\w&' -]+? as\b|\bcalculated? (?:[\w&' -]+? )?as\b)\s*:?\s*"
    r"(?P<expr>[^.?;]+(?:\.\d[^.?;]*)?)", re.IGNORECASE)


def _definition(question: str, year: int) -> tuple[str, str, tuple[Operand, ...]] | None:
    for m in _DEFINITION.finditer(question):
        b = _Builder()
        formula = _expression(m.group("expr"), year, b)
        if formula:
            named = re.split(r"[.?!]\s", question[:m.start("expr")])[-1]  # "Define unadjusted EBITDA as"
            return named, formula, tuple(b.operands.values())
    return None


# the glossary: metric name pattern -> formula over item keys, with {y} the year and {p} the year before
_REV, _P = "revenue", "{p}"
METRICS: tuple[tuple[str, str, str], ...] = (
    ("ebitda_less_capex", r"ebitda (?:less|minus) (?:capex|capital expenditures?)",
     "operating_income_{y} + da_{y} - capex_{y}"),
    ("ebitda_margin", r"ebitda (?:%|percent(?:age)?)? ?margin", "(operating_income_{y} + da_{y}) / revenue_{y}"),
    ("ebitda", r"\bebitda\b", "operating_income_{y} + da_{y}"),
    ("free_cash_flow", r"free cash flows?|\bfcf\b", "cfo_{y} - capex_{y}"),
    ("quick_ratio", r"quick ratio|acid[- ]test", "(total_current_assets_{y} - inventories_{y}) / "
                                                 "total_current_liabilities_{y}"),
    ("current_ratio", r"current ratio|working capital ratio",
     "total_current_assets_{y} / total_current_liabilities_{y}"),
    ("working_capital", r"(?:net )?working capital", "total_current_assets_{y} - total_current_liabilities_{y}"),
    ("operating_cash_flow_ratio", r"operating cash flow ratio", "cfo_{y} / total_current_liabilities_{y}"),
    ("gross_margin", r"gross (?:profit )?(?:%|percent(?:age)?)? ?margin", "(revenue_{y} - cogs_{y}) / revenue_{y}"),
    ("operating_margin", r"operating (?:income |profit )?(?:%|percent(?:age)?)? ?margin|ebit margin",
     "operating_income_{y} / revenue_{y}"),
    ("net_margin", r"net (?:income |profit )?(?:%|percent(?:age)?)? ?margin|profit margin",
     "net_income_{y} / revenue_{y}"),
    ("fixed_asset_turnover", r"fixed asset turnover", "revenue_{y} / avg(ppe_{y}, ppe_{p})"),
    ("asset_turnover", r"(?:total )?asset turnover", "revenue_{y} / avg(total_assets_{y}, total_assets_{p})"),
    ("inventory_turnover", r"inventory turnover", "cogs_{y} / avg(inventories_{y}, inventories_{p})"),
    ("dso", r"days sales outstanding|\bdso\b", "365 * avg(receivables_{y}, receivables_{p}) / revenue_{y}"),
    ("dpo", r"days payables? outstanding|\bdpo\b", "365 * avg(payables_{y}, payables_{p}) / cogs_{y}"),
    ("dio", r"days inventory outstanding|days sales (?:of|in) inventory|\bdio\b",
     "365 * avg(inventories_{y}, inventories_{p}) / cogs_{y}"),
    ("roa", r"return on (?:total )?assets|\broa\b", "net_income_{y} / avg(total_assets_{y}, total_assets_{p})"),
    ("roe", r"return on (?:shareholders'? |stockholders'? )?equity|\broe\b", "net_income_{y} / avg(equity_{y}, "
                                                                            "equity_{p})"),
    ("debt_to_equity", r"debt[- ]to[- ]equity", "total_liabilities_{y} / equity_{y}"),
    ("interest_coverage", r"interest coverage|times interest earned", "operating_income_{y} / interest_expense_{y}"),
    ("effective_tax_rate", r"effective (?:income )?tax rate", "income_tax_{y} / pretax_income_{y}"),
    ("dividend_payout", r"(?:dividend )?payout ratio", "dividends_{y} / net_income_{y}"),
)
_METRICS = tuple((name, re.compile(rf"(?<![\w-]){pattern}", re.IGNORECASE), formula)
                 for name, pattern, formula in METRICS)
_NAME_IN_FORMULA = re.compile(r"\b([a-z_]+?)_(\d{4})\b")
_SHARE_OF = re.compile(r"(?P<a>[\w&' ()]+?)\s+(?:as an? (?:%|percent(?:age)?|share|proportion) of|"
                       r"(?:%|percent(?:age)?) "
                       r"of)\s+(?P<b>[\w&' ]+)", re.IGNORECASE)
_ITEM_MARGIN = re.compile(r"(?P<a>[\w&' ()]+?)\s+(?:%|percent(?:age)?)?\s*margin\b", re.IGNORECASE)
_GROWTH = re.compile(r"\bgrowth\b|\b(?:year[- ]over[- ]year|yoy)\b|\bchange in\b|\bcagr\b|\bcompound(?:ed)? annual",
                     re.IGNORECASE)
_CAGR = re.compile(r"\bcagr\b|\bcompound(?:ed)? annual", re.IGNORECASE)
_N_YEAR_AVERAGE = re.compile(r"\b(?:\d|two|three|four|five)[- ]year average\b|\baverage (?:of )?(?:the )?[\w&' ]+ "
                             r"(?:from|over|between) (?:FY ?)?(?:19|20)\d\d (?:to|and|-) (?:FY ?)?(?:19|20)\d\d",
                             re.IGNORECASE)


def _metric(question: str, y: int) -> tuple[str, str] | None:
    """A glossary metric the question names, as (name, formula for year ``y``)."""
    for name, pattern, formula in _METRICS:
        if pattern.search(question):
            return name, formula.format(y=y, p=y - 1)
    for m in _ITEM_MARGIN.finditer(question):  # "D&A % margin": an item over revenue
        items = [i for *_, i in items_named(m.group("a")) if i.key != "revenue"]
        if items:
            return f"{items[-1].key}_margin", f"{items[-1].key}_{y} / revenue_{y}"
    for m in _SHARE_OF.finditer(question):  # "capex as a % of revenue"
        a, b = items_named(m.group("a")), items_named(m.group("b"))
        if a and b and a[-1][2] is not b[0][2]:
            return f"{a[-1][2].key}_to_{b[0][2].key}", f"{a[-1][2].key}_{y} / {b[0][2].key}_{y}"
    return None


def _operands_of(formula: str) -> tuple[Operand, ...]:
    return tuple(Operand(f"{k}_{y}", ITEMS[k], int(y)) for k, y in dict.fromkeys(_NAME_IN_FORMULA.findall(formula)))


# a part of the company rather than its consolidated statements: the statement tables do not answer it
_PART_OF_COMPANY = re.compile(r"\bsegments?\b|\bdivisions?\b|\bbusiness (?:unit|line)s?\b|\breportable\b|"
                              r"\bgeograph|\bregions?\b|\bproduct (?:line|categor)|\bby (?:product|category|country)\b",
                              re.IGNORECASE)
# words that may stand right before a line item's name without narrowing it ("the FY2019 total revenue")
_PLAIN_BEFORE = frozenset({"the", "its", "their", "total", "net", "consolidated", "unadjusted", "annual", "reported",
                           "gross", "of", "in", "for", "what", "much", "was", "were", "is", "are", "and", "year",
                           "end", "fiscal", "quarterly", "company", "company's", "amount", "did", "generate", "report",
                           "a", "an", "as", "at", "by", "on", "to", "from", "with"})


def narrows_item(question: str, start: int) -> bool:
    """Whether the word right before a line item's name (at ``start``) narrows it to a part of what the
    statements report ("bitcoin revenue", "Aeronautics net sales"); years, possessives and plain words do not.

    >>> narrows_item("How much bitcoin revenue did it report?", 13), narrows_item("the FY2019 total revenue", 17)
    (True, False)
    >>> narrows_item("What is Costco's FY2021 revenue?", 24), narrows_item("What is 3M's revenue?", 13)
    (False, False)
    """
    before = re.findall(r"[\w'’&-]+", question[:start])
    if not before:
        return False
    word = before[-1].lower()
    return not (word in _PLAIN_BEFORE or word.endswith(("'s", "’s", "s'")) or any(c.isdigit() for c in word))


def _single_item(question: str) -> LineItem | None:
    """The one line item a question names (statement names aside), or None for none, several, or one narrowed
    by the word before it (:func:`narrows_item`)."""
    text = re.sub(r"(?:balance sheets?|cash flows? statements?|statements? of [\w ]+|income statements?|"
                  r"p ?& ?l(?: statements?)?)", " ", question, flags=re.IGNORECASE)
    named = items_named(text)
    found = {i.key: i for *_, i in named}
    if len(found) != 1 or any(narrows_item(text, a) for a, _, _ in named):
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
    >>> plan_question("By how much did the company increase its credit agreement?") is None
    True
    >>> plan_question("How much revenue did the Intelligent Cloud segment generate in FY2023?") is None
    True
    """
    years = question_years(question) or ([fiscal_year_hint] if fiscal_year_hint else [])
    if not years or _PART_OF_COMPANY.search(question):  # a segment's figure: not in the consolidated statements
        return None
    statements = frozenset(statements_named(question))
    year = max(years)
    metric = _metric(question, year)
    if (d := _definition(question, year)) and not _extends(metric, d[0]):
        return Plan(_label(question, "definition"), d[1], d[2], "definition", statements)
    lo, hi = min(years), max(years)
    if _GROWTH.search(question) and hi > lo:
        base = metric[1] if metric else None
        name = metric[0] if metric else None
        if base is None:
            item = _single_item(question)
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
        return Plan(f"{name}_{year}", formula, _operands_of(formula), name, statements)
    item = _single_item(question)
    if item is None:
        return None
    if _N_YEAR_AVERAGE.search(question) and hi > lo:
        formula = f"avg({', '.join(f'{item.key}_{y}' for y in range(lo, hi + 1))})"
        return Plan(f"{item.key}_average_{lo}_{hi}", formula, _operands_of(formula), "average", statements)
    if is_derived_question(question) or len(years) > 1:
        return None
    return Plan(f"{item.key}_{year}", f"{item.key}_{year}", _operands_of(f"{item.key}_{year}"), "lookup", statements)


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

_UNITS_ASKED = re.compile(r"\bin (?:units of )?(?:USD |US\$ ?|\$ ?)?(thousands|millions|billions)\b", re.IGNORECASE)


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
    m = _UNITS_ASKED.search(question)
    have = next((w for w in SCALES if w in unit), None)
    if m is None or have is None:
        return None
    want = m.group(1).lower().rstrip("s")
    if want == have:
        return None
    value = Decimal(str(result)) * SCALES[have] / SCALES[want]
    digits = f"{value.quantize(Decimal('0.001')).normalize():,f}"
    return f"{'$' if unit.startswith('$') else ''}{digits} {want}"


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
    printed "(4,625)" are 4,625 of spending).

    >>> f = Found(Passage(id="x", doc_id="d", source="a", text="", chars=(0, 0)), "$ (96)", (0, 6), "Capex", 3.0,
    ...           Decimal(-96), "million")
    >>> operand_value(f, Operand("capex_2015", ITEMS["capex"], 2015)), operand_value(f, Operand("x", ITEMS["cash"], 1))
    ('96 million', '(96) million')
    """
    text = re.sub(r"[$\s]", "", found.text)
    if operand.item.outflow:
        text = re.sub(r"[()\-−–]", "", text)
    return f"{text} {found.scale}" if found.scale else text


def write_block(plan: Plan, found: Mapping[str, Found], context: Sequence[Passage]) -> str:
    """The ``OPERAND``/``FORMULA`` block of ``plan`` with each operand's cell cited to its passage's number in
    ``context`` ([1] is ``context[0]``).

    :raises KeyError: an operand without a cell, or a cell whose passage is not in ``context``.
    """
    number = {p.id: i for i, p in enumerate(context, 1)}
    lines = [f"OPERAND {o.name} = {operand_value(found[o.name], o)} [{number[found[o.name].passage.id]}]"
             for o in plan.operands]
    lines.append(f"FORMULA {plan.label} = {plan.formula}")
    return "\n".join(lines)
