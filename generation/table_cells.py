"""Cells of statement tables for the figures planner, read from the table records ingest wrote (pure functions).

A table passage carries its :class:`ingest.core.tables.Table` (``Passage.table``): rows of a label and numeric
cells with exact spans in the passage text and ``Decimal`` values, the periods the table's column header names,
the scale of its amounts. :func:`table_rows` puts each cell under its column's fiscal year; :func:`find_operand`
picks the row and cell of one operand (a line item in one year) among passages. Nothing here parses passage
text for rows, cells or years: a passage without a table record has no rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from generation.compute import passage_scale
from generation.line_items import LineItem, Statement, items_named, label_score, norm_label, statements_named
from ingest.core.periods import MONTH, YEAR, FiscalCalendar, month_number, stated_fiscal_year
from ingest.core.records import Passage
from ingest.core.tables import Period, Table, TableCell

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
    months: int | None = None  # the column's period length (3, 6, 9, 12), None when its header names none
    measure: str = ""  # the line item its column group prints, as the header names it ("Operating Profit"), or ""
    month: int | None = None  # the month of the date its column header prints ("March 31, 2021": 3), else None


@dataclass(frozen=True, slots=True)
class Row:
    """A table row: its label (with the section above it when the label is only "Total") and numeric cells."""

    label: str
    cells: tuple[Cell, ...]
    section: str = ""

    def cell(self, year: int, months: int | None = None, item: LineItem | None = None) -> Cell | None:
        """The cell in ``year``'s column (a value, not a dash), or None: with ``months``, the first whose period
        is that long (a six-month figure beside the quarter's), else the first of the year. In a table whose
        column groups are line items side by side (:func:`column_measures`), only ``item``'s group (none when the
        table does not print it, or no item is given).

        >>> m = Row("PBNA", (Cell("25,276", 0, 6, Decimal(25276), 2021, measure="Net Revenue"),
        ...                  Cell("2,442", 7, 12, Decimal(2442), 2021, measure="Operating Profit")))
        >>> from generation.line_items import ITEMS
        >>> m.cell(2021, item=ITEMS["operating_income"]).text, m.cell(2021, item=ITEMS["cash"]), m.cell(2021)
        ('2,442', None, None)

        >>> row = Row("Revenue", (Cell("10", 0, 2, Decimal(10), 2023, months=3),
        ...                       Cell("19", 3, 5, Decimal(19), 2023, months=6)))
        >>> row.cell(2023, months=3).text, row.cell(2023, months=6).text, row.cell(2023, months=9)
        ('10', '19', None)

        A question that names no period length asks for the fiscal year: a quarter's column does not answer it.

        >>> row.cell(2023) is None
        True

        Where the header gives no lengths, a 10-Q row holding the year twice is the quarter then the year to date.

        >>> row = Row("Revenue", (Cell("10", 0, 2, Decimal(10), 2023), Cell("9", 3, 4, Decimal(9), 2022),
        ...                       Cell("19", 5, 7, Decimal(19), 2023), Cell("17", 8, 10, Decimal(17), 2022)))
        >>> row.cell(2023, months=3).text, row.cell(2023, months=6).text, row.cell(2022, months=6).text
        ('10', '19', '17')
        """
        dated = [c for c in self.cells if c.year == year and not c.percent]
        if any(c.measure for c in dated):
            dated = [c for c in dated if item is not None and label_score(item, c.measure) >= STRONG_LABEL]
        if months is not None and any(c.months is not None for c in dated):
            dated = [c for c in dated if c.months == months]
        elif months is not None and len(dated) == 2:  # lengths not printed: a 10-Q's quarter, then year to date
            dated = dated[:1] if months == 3 else dated[1:]
        elif months is None:  # a fiscal year's figure: never a column that says it is a quarter, half or 9 months
            dated = [c for c in dated if c.months is None or c.months >= 12]
        if not dated:
            return None
        return dated[0] if dated[0].value is not None else None


STRONG_LABEL = 2.5  # a label score at least this names the item plainly (:func:`generation.line_items.label_score`)


def column_measures(table: Table) -> list[str]:
    """The line item each column prints, where the column header names two items or more before its periods and
    the periods repeat once per item ("Net Revenue Operating Profit | 2021 2020 2019 2021 2020 2019": the first
    three columns net revenue, the last three operating profit); [] for any other table.

    >>> from ingest.core.tables import Period
    >>> years = tuple(Period(str(y), y) for y in (2021, 2020, 2021, 2020))
    >>> column_measures(Table("Division results | Net Revenue Operating Profit 2021 2020 2021 2020", years, ()))
    ['Net Revenue', 'Net Revenue', 'Operating Profit', 'Operating Profit']
    >>> column_measures(Table("Results | Three Months Ended Six Months Ended 2021 2020 2021 2020", years, ()))
    []
    """
    head = table.caption.rsplit(" | ", 1)[-1]
    first_year = re.search(rf"\b{YEAR}\b", head)
    names = [head[a:b] for a, b, _ in items_named(head[:first_year.start() if first_year else len(head)])]
    n, k = len(table.periods), len(names)
    if k < 2 or n % k:
        return []
    size = n // k
    keys = [(p.year, p.months, p.month, p.day) for p in table.periods]
    if any(keys[i * size:(i + 1) * size] != keys[:size] for i in range(1, k)):
        return []
    return [names[i // size] for i in range(n)]


def year_groups(passage: Passage) -> list[str]:
    """The columns printed under each year where a header prints each year once over a group of columns ("2022
    2021 2020" over "Net sales (1) Long-lived assets (2)", once per year), in group order; [] for any other table
    (or a passage cut below the header). The names are split at their footnote marks, else before each capital.

    >>> from ingest.core.tables import Period, TableRow
    >>> text = ("By area | 2022 2021\\nNet sales (1) Long-lived assets (2) Net sales (1) Long-lived assets (2)"
    ...         "\\nChina 4 5 6 7")
    >>> t = Table("By area | 2022 2021", (Period("2022", 2022), Period("2021", 2021)),
    ...           (TableRow("China", (), text.index("China"), len(text)),))
    >>> year_groups(Passage(id="t", doc_id="d", source="a", kind="table", chars=(0, 0), text=text, table=t))
    ['Net sales (1)', 'Long-lived assets (2)']
    """
    table = passage.table
    n = len(table.periods) if table is not None else 0
    if table is None or n < 2 or not table.rows or len({p.year for p in table.periods}) < n:
        return []
    head = passage.text[:table.rows[0].start]
    years = list(re.finditer(rf"\b{YEAR}\b", head))
    words = head[years[-1].end():].split() if years else []
    for size in range(2, len(words) // n + 1):
        if words[:size * n] == words[:size] * n:
            group = " ".join(words[:size])
            names = [x.strip() for x in re.findall(r".+?\(\d\)", group)] if re.search(r"\(\d\)$", group) else \
                [x.strip() for x in re.split(r"\s(?=[A-Z])", group)]
            return names if len(names) >= 2 else []
    return []


def document_year(passage: Passage) -> int | None:
    """The fiscal year of the passage's document, from the "FY2019" of its header's document label."""
    return stated_fiscal_year(passage.header.split(" · ")[0])


def _section_path(passage: Passage) -> str:
    """The section path of a passage's header (between the document label and a table's caption), else "".

    >>> _section_path(Passage(id="t", doc_id="d", source="a", kind="table", chars=(0, 0), text="",
    ...                       header="ACME 10-K FY2015 · PART II › NOTE 5: Inventories · (In millions)"))
    'PART II › NOTE 5: Inventories'
    """
    parts = passage.header.split(" · ")
    return " · ".join(parts[1:-1] if passage.kind == "table" else parts[1:])


def _header_part(passage: Passage) -> str:
    """The caption and column header a table passage's header carries (its last " · " part), else ""."""
    parts = passage.header.split(" · ")
    return parts[-1] if passage.kind == "table" and len(parts) > 1 else ""


_CUT_LABEL = re.compile(r"(?:\b(?:and|or|of|to|at|for)|[-–,])\s*$", re.IGNORECASE)  # a label that goes on
MAX_UNPRINTED_YEARS = 3  # a statement shows at most three fiscal years; more columns with no year are not years


def _fit_years(years: Sequence[int], cells: int, fiscal_year: int | None) -> list[int]:
    """Years for ``cells`` columns: those given, extended with the document's later years when fewer than the
    cells and the given ones run down from below ``fiscal_year`` (a first column whose date sits in the text
    above the table); the document's year counting down when none are known.

    >>> _fit_years([2014, 2013], 3, 2015), _fit_years([], 2, 2019), _fit_years([2019, 2018], 3, 2019)
    ([2015, 2014, 2013], [2019, 2018], [2019, 2018])
    >>> _fit_years([2021], 4, 2021)  # "2021: U.S., Canada, Other International, Total"
    []
    >>> _fit_years([2019], 3, 2020)  # "Year Ended December 31, 2019: Cash App, Seller, Total" in a 2020 report
    []

    No year printed over more than three amount columns: the columns are not fiscal years (a statement of
    equity's shares, amount, paid-in capital, ...), and counting down would date them.

    >>> _fit_years([], 8, 2021)
    []
    """
    years = list(years)
    if not years:
        return [fiscal_year - i for i in range(cells)] if fiscal_year and cells <= MAX_UNPRINTED_YEARS else []
    if len(years) == 1 and cells >= 3:
        return []  # one year over three or more amount columns: the columns are segments or quarters, not years
    descending = all(a - b == 1 for a, b in zip(years, years[1:], strict=False))
    if fiscal_year and descending and len(years) < cells and fiscal_year > years[0] and \
            fiscal_year - years[0] <= cells - len(years):
        years = list(range(fiscal_year, years[0], -1)) + years
    if len(years) == 1 and cells >= 3:
        return []  # one year over three or more amount columns: the columns are segments or quarters, not years
    return years


def table_rows(passage: Passage, calendar: FiscalCalendar | None = None) -> list[Row]:
    """The rows of a table passage, from its table record, each cell under its column's fiscal year ([] for a
    passage without a record). With the filer's ``calendar`` (:func:`ingest.core.periods.fiscal_calendar`), a
    column printed with a date takes the fiscal year that date falls in as the filer names it ("January 28, 2023"
    is fiscal 2022 for a start-named year; "July 29, 2023" is fiscal 2024 for a year ending early in 2024).

    The years are those of the table's column periods (fitted by :func:`_fit_years` to the row's amount cells
    and the document's fiscal year); the first amount cells of a row take them in order; a percent cell never
    takes a year (a trailing "% change" column does not shift the years).

    >>> from ingest.core.tables import Period, Table, TableCell, TableRow
    >>> record = Table("BALANCE SHEETS | 2019 2018", (Period("2019", 2019), Period("2018", 2018)),
    ...                (TableRow("Net loss", (TableCell("(619)", 9, 14, Decimal(-619)), TableCell("—", 15, 16, None)),
    ...                          0, 16),))
    >>> p = Passage(id="t", doc_id="d", source="a.pdf", kind="table", chars=(0, 16), text="Net loss (619) —",
    ...             table=record)
    >>> [(r.label, [(c.text, c.year, c.value) for c in r.cells]) for r in table_rows(p)]
    [('Net loss', [('(619)', 2019, Decimal('-619')), ('—', 2018, None)])]

    A label cut before its end ("net of allowances of $650 and") goes on into the row's first amounts: the
    cells beyond the columns' count, at the start, are the label's, not figures.

    >>> from dataclasses import replace
    >>> cut = TableRow("Receivables, net of allowances of $650 and", (TableCell("$633", 0, 4, Decimal(633)),
    ...                TableCell("48,688", 5, 11, Decimal(48688)), TableCell("44,261", 12, 18, Decimal(44261))), 0, 18)
    >>> p2 = Passage(id="t", doc_id="d", source="a.pdf", kind="table", chars=(0, 18), text="x" * 18,
    ...              table=replace(record, rows=(cut,)))
    >>> [(c.text, c.year) for c in table_rows(p2)[0].cells]
    [('48,688', 2019), ('44,261', 2018)]
    """
    table = passage.table
    if table is None:
        return []
    fiscal_year = document_year(passage)
    side_by_side, quarters, measures = parts_as_columns(table), quarter_columns(table.caption), column_measures(table)
    groups = year_groups(passage) if table.periods else []
    rows: list[Row] = []
    heading, last_end = "", 0
    for r in table.rows:
        # the label lines above a run of rows, joined ("NET INCOME PER COMMON SHARE ATTRIBUTABLE TO" / "COSTCO:")
        above = " ".join(line.strip() for line in passage.text[last_end:r.start].split("\n") if line.strip())
        heading, last_end = (above.rstrip(":") if above else heading), r.end
        row_cells = list(r.cells)
        amounts = sum(not c.percent for c in row_cells)
        if table.years and amounts > len(table.years) and _CUT_LABEL.search(r.name):
            # "Accounts receivable, net of allowances of $650 and | $633 | 48,688 | 44,261": the label goes on
            # into the first amounts, which are not the columns' figures
            row_cells = row_cells[amounts - len(table.years):]
            amounts = len(table.years)
        years = _fit_years(table.years, amounts, fiscal_year)
        # a column's length is known when its years are the header's own, one per column
        own = years == list(table.years)
        lengths = [p.months for p in table.periods] if own else [None] * len(years)
        if own and calendar is not None:  # a dated column's fiscal year, as the filer names it
            years = [column_year(p, calendar) for p in table.periods]
        columns: list[tuple[int | None, int | None]] = list(zip(years, lengths, strict=True))
        if own and side_by_side:  # a segment's column is no figure of the company's year
            columns = [(None, None)] * len(columns)
        if own and quarters and amounts == len(quarters) + len(columns):  # "2Q22 1Q22 ... 2Q21 | 2022 2021"
            columns = [*quarters, *columns]
        grouped = bool(groups) and own and not (measures or side_by_side or quarters) and \
            len(groups) * len(columns) == amounts
        if grouped:  # each year over a group of columns: "2022 | 2021" over "Net sales  Long-lived assets" each
            columns = [c for c in columns for _ in groups]
        dated = iter(_slots(columns, amounts) if own else columns)
        if grouped:
            measured = iter(groups * (amounts // len(groups)))
        else:
            measured = iter(measures if own and amounts == len(columns) else ())
        # a column's date month, where each amount is one of the header's own columns
        dated_month = iter([p.month for p in table.periods] if own and amounts == len(columns) == len(table.periods)
                           else ())
        cells = []
        for c in row_cells:
            year, months = (None, None) if c.percent else next(dated, (None, None))
            measure = "" if c.percent else next(measured, "")
            month = None if c.percent else next(dated_month, None)
            cells.append(Cell(c.text, c.start, c.end, c.value, year, c.percent, months, measure, month))
        # "Diluted" under "Earnings per share": the row is its heading's, of that kind
        label = f"{heading or r.section} {r.name}" if _QUALIFIER_ONLY.fullmatch(norm_label(r.name)) else r.name
        rows.append(Row(label, tuple(cells), r.section))
    return rows


_QUALIFIER_ONLY = re.compile(r"(?:basic|diluted|basic and diluted|assuming dilution|(?:continuing|discontinued) "
                             r"operations)")


_QUARTER_TOKEN = re.compile(r"\b([1-4])Q(\d{2})\b")


def quarter_columns(caption: str) -> list[tuple[int | None, int | None]]:
    """The columns a header names as quarters ("2Q22") before its dated periods (a bank's five quarters, then the
    year to date), in order, so the periods date the cells after them; [] when it names none. A quarter's cell
    takes its year and length only when no other quarter of that year is printed (which of them a question asks,
    a year and a length cannot tell).

    >>> quarter_columns("Highlights | Six months ended June 30, 2Q22 1Q22 4Q21 3Q21 2Q21 2022 2021")
    [(None, None), (None, None), (None, None), (None, None), (None, None)]
    >>> quarter_columns("Highlights | 4Q21 4Q20 2021 2020")
    [(2021, 3), (2020, 3)]
    """
    years = [2000 + int(m.group(2)) for m in _QUARTER_TOKEN.finditer(caption.rsplit(" | ", 1)[-1])]
    return [(y, 3) if years.count(y) == 1 else (None, None) for y in years]


def parts_as_columns(table: Table) -> bool:
    """Whether a table's columns repeat one period ("2022 2021 Change | 2022 2021 Change" under three segments'
    names): its column groups are parts of the company printed side by side, not periods, and none of its cells is
    the company's figure for a year.

    >>> from ingest.core.tables import Period
    >>> parts_as_columns(Table("", (Period("2022", 2022, months=6), Period("2021", 2021, months=6),
    ...                             Period("2022", 2022, months=6)), ()))
    True
    >>> parts_as_columns(Table("", (Period("2022", 2022, months=3), Period("2022", 2022, months=6)), ()))
    False
    >>> parts_as_columns(Table("", (Period("June 30, 2023", 2023, 6, 30), Period("June 30, 2023", 2023, 6, 30)), ()))
    False
    """
    keys = [(p.year, p.months, p.month, p.day) for p in table.periods]
    # a period printed twice without its length is a 10-Q's quarter and year to date ("June 30, 2023" twice)
    return len(set(keys)) < len(keys) and all(p.months is not None for p in table.periods)


def _slots(columns: list[tuple[int | None, int | None]], amounts: int) -> list[tuple[int | None, int | None]]:
    """The (year, months) each of a row's ``amounts`` cells takes, in order. With more amounts than columns and
    the columns in groups of period lengths (three months, then six), the extra cells are a change column after
    each group ("2022 2021 Change | 2022 2021 Change"), when there is one per group; any other excess leaves the
    row's cells undated, since which cell is which year cannot be told. Otherwise the columns in order.

    >>> _slots([(2022, 3), (2021, 3), (2022, 6), (2021, 6)], 6)
    [(2022, 3), (2021, 3), (None, None), (2022, 6), (2021, 6), (None, None)]
    >>> _slots([(2022, 3), (2021, 3), (2022, 6), (2021, 6)], 5)
    [(None, None), (None, None), (None, None), (None, None), (None, None)]
    >>> _slots([(2021, None), (2020, None)], 3)  # a trailing extra column takes no year
    [(2021, None), (2020, None)]
    """
    groups: list[list[tuple[int | None, int | None]]] = []
    for year, months in columns:
        if groups and groups[-1][-1][1] == months:
            groups[-1].append((year, months))
        else:
            groups.append([(year, months)])
    extra = amounts - len(columns)
    if extra <= 0 or len(groups) < 2:
        return list(columns)
    if extra == len(groups):
        return [slot for group in groups for slot in (*group, (None, None))]
    return [(None, None)] * amounts


def column_year(period: Period, calendar: FiscalCalendar) -> int:
    """The fiscal year of a column, as the filer names it: from its date, or for a year's column printed without
    one, from the calendar's year end; a column with neither keeps the year printed.

    >>> from ingest.core.tables import Period
    >>> c = FiscalCalendar(1, start_named=True)
    >>> column_year(Period("January 28, 2023", 2023, 1, 28), c), column_year(Period("2023", 2023, months=12), c)
    (2022, 2022)
    >>> column_year(Period("2023", 2023, months=3), c)
    2023
    """
    if period.month is not None:
        return calendar.label(period.year, period.month, period.day)
    if period.months == 12:
        return calendar.label(period.year, calendar.end_month)
    return period.year


# ------------------------------------------------------------------------------------------- picking a cell

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
    against: bool = False  # negative where the row's other years are positive: a benefit, not an expense
    months: int | None = None  # the cell's column period length as its header prints it (None: not printed)
    month: int | None = None  # the month of its column's date ("March 31, 2021": 3), None when none is printed


def against_row(cell: Cell, row: Row) -> bool:
    """Whether ``cell`` is negative in a row whose other amounts are all positive: on an expense row ("Provision
    for (benefit from) income taxes (73,608) 73,829 19,244") that year is a benefit, and its sign counts.

    >>> r = Row("Tax", (Cell("(73)", 0, 4, Decimal(-73), 2017), Cell("73", 5, 7, Decimal(73), 2016)))
    >>> against_row(r.cells[0], r), against_row(r.cells[1], r)
    (True, False)
    """
    others = [c.value for c in row.cells if c is not cell and c.value and not c.percent]
    return cell.value is not None and cell.value < 0 and bool(others) and all(v > 0 for v in others)


def find_operand(item: LineItem, year: int, passages: Sequence[Passage], *,
                 statements: Iterable[Statement] = (), months: int | None = None,
                 titled: Collection[tuple[str, int | None]] = (),
                 calendar: FiscalCalendar | None = None, operations: str = "", month: int | None = None,
                 said: str = "") -> Found | None:
    """The best cell for ``item`` in ``year`` among ``passages`` (best first, as retrieved): the row whose label
    names the item best (:func:`generation.line_items.label_score`), preferring table passages, the statement
    the item is reported in or ``statements`` the question names (seen in the passage's header: section path and
    table caption), the earlier passage on a tie; the cell in the year's column. None when no row of a table
    record names the item with a value for the year. With ``months`` (the question's period length: a 10-Q's
    "six months ended"), a table whose columns say their lengths gives the cell of that length. A table on one
    of the ``titled`` pages (document id, page: a page that opens with the item's statement's title) counts as
    that statement (+1). With ``operations`` ("continuing"), a row of those operations where one is printed (a
    company without discontinued operations prints its one figure). With ``month``, the date's month the question
    names for the year: a column dated in another month is not the one asked. With ``said`` (the words the
    question names the item by: "net sales"), a row printing those words is preferred to another row of the item
    ("Total revenue" beside "Net sales").
    """
    ranked = (operations and rank_cells(item, year, passages, statements=statements, months=months, titled=titled,
                                        calendar=calendar, operations=operations, month=month, said=said)) or \
        rank_cells(item, year, passages, statements=statements, months=months, titled=titled, calendar=calendar,
                   month=month, said=said)
    return ranked[0] if ranked else None


_FORMAL = re.compile(r"balance sheets?|statements? of|statement of", re.IGNORECASE)  # the statement's own title
_NOT_STATEMENT = re.compile(r"discussion and analysis|selected (?:consolidated )?financial data|quarterly|"
                            r"unaudited|segments?\b|summary of|"
                            # selected data's captions: "Consolidated Statement of Operations Data:"
                            r"(?:statements? of (?:operations|income|earnings|cash flows?)|balance sheets?) data\b",
                            re.IGNORECASE)
SUMMARY_YEARS = 4  # a table of this many years or more is a multi-year summary: a statement prints two or three
_CONSOLIDATED = re.compile(r"\bconsolidated\b", re.IGNORECASE)
# a statement a caption's sentence refers to ("expense ... allocated in our consolidated statements of operations as
# follows"): the table breaks something down by the statement's lines, it is not the statement
_MENTIONED = re.compile(r"\b(?:in|on|to|from|within|across)\s+(?:our|the|its|these|those)\s+(?:accompanying\s+)?"
                        r"(?:condensed\s+)?(?:consolidated\s+)?(?:balance sheets?|statements? of (?:financial "
                        r"(?:position|condition)|operations|income|earnings|cash flows?)|income statements?|"
                        r"cash flows? statements?)", re.IGNORECASE)
# a note to the statements (its section path): a note table repeats or breaks down a statement's line
_NOTE = re.compile(r"\bnotes? to (?:the )?(?:condensed )?(?:consolidated )?financial statements\b|"
                   r"(?:^|[›·]\s*)note\s*\d+\b", re.IGNORECASE)
_COMPREHENSIVE = re.compile(r"\bcomprehensive income statements?\b|\bstatements? of comprehensive income\b",
                            re.IGNORECASE)
_TITLE = re.compile(r"\s*(?:condensed )?(?:consolidated )?(?:balance sheets?|statements? of)", re.IGNORECASE)


def context_score(p: Passage, wanted: set[Statement], table: Table, scale: str, rank: int) -> float:
    """How much a passage looks like the statement an operand is reported in: a table (+0.5) whose caption names
    a wanted statement (+1, +0.5 more for the statement's own title; another statement: -0.5), or whose section
    path does (+0.8, +0.5 for a title); a consolidated statement (+0.3) with a stated ``scale`` (+0.2); not a
    discussion, selected data, quarterly or segment table (-0.5), nor one whose columns repeat a year (-0.5) or
    span :data:`SUMMARY_YEARS` years or more (-0.5);
    -0.01 per place down the retrieved list; a table under a note to the statements (its section path; not one
    whose last section is a statement's own title) -0.6: a statement row beats the note row repeating or splitting
    it; a statement of comprehensive income, for an income-statement item, -0.6."""
    caption = f"{_header_part(p)}\n{p.text[:300]}"
    named = statements_named(_MENTIONED.sub(" ", caption))  # "recorded in our statements of operations": not one
    score = 0.5 if p.kind == "table" else 0.0
    if named & wanted:
        score += 1.5 if _FORMAL.search(caption) else 1.0
    elif named:
        score -= 0.5
    elif statements_named(p.header) & wanted:
        score += 1.3 if _FORMAL.search(p.header) else 0.8
    score += 0.3 if _CONSOLIDATED.search(caption) or _CONSOLIDATED.search(p.header) else 0.0
    score -= 0.5 if _NOT_STATEMENT.search(p.header) or _NOT_STATEMENT.search(p.text[:200]) else 0.0
    if _COMPREHENSIVE.search(caption) and "income" in wanted:
        score -= 0.6  # the statement of comprehensive income repeats net income: the income statement is its place
    path = _section_path(p)
    score -= 0.6 if _NOTE.search(path) and not _TITLE.match(path.split(" › ")[-1]) else 0.0
    score += 0.2 if scale else 0.0
    years = table.years
    score -= 0.5 if len(set(years)) < len(years) else 0.0  # quarters or periods of one year side by side
    score -= 0.5 if len(set(years)) >= SUMMARY_YEARS else 0.0  # five years of selected data
    return score - 0.01 * rank


#: A statement's own title on a line of its own: "Consolidated Balance Sheets", "CONSOLIDATED STATEMENTS OF
#: INCOME", "INCOME STATEMENTS", "Condensed Consolidated Statements of Cash Flows" (not comprehensive income).
_TITLE_LINE = re.compile(r"^[ \t]*(?:[\w.,&' ]{0,60}\n[ \t]*)?(?:condensed )?(?:consolidated )?"
                         r"(?:balance sheets?|statements? of (?:financial (?:position|condition)|operations|income|"
                         r"earnings|cash flows?)|income statements?|cash flows? statements?)"
                         r"(?! and comprehensive)[ \t]*(?:\(unaudited\))?[ \t]*$", re.IGNORECASE | re.MULTILINE)


_SCALE_NOTE = re.compile(r"\((?:(?:dollars|amounts) )?in (?:thousands|millions|billions)[^)]*\)", re.IGNORECASE)


def statement_title(passage: Passage) -> set[Statement]:
    """The statements a passage opens with the title of (its first lines, or the last section of its header
    path, or its table's caption with the scale said after it): where the statement itself is printed, not a note
    or a discussion that mentions it.

    >>> from dataclasses import replace
    >>> p = Passage(id="t", doc_id="d", source="a", kind="prose", chars=(0, 0), header="ACME 10-K FY2015 · ITEM 8",
    ...             text="Advanced Widgets, Inc.\\nConsolidated Balance Sheets\\nDecember 26,")
    >>> statement_title(p), statement_title(replace(p, text="See the consolidated balance sheets for more."))
    ({'balance'}, set())
    """
    path = _section_path(passage).split(" › ")[-1]
    if _NOTE.search(_section_path(passage)) or _COMPREHENSIVE.search(path):
        return set()
    head = passage.text[:300]
    found = [m.group() for m in _TITLE_LINE.finditer(head)]
    if _TITLE_LINE.fullmatch(path.strip()):
        found.append(path)
    if passage.table is not None:  # a caption that is the title, with its scale: "STATEMENTS OF OPERATIONS (In ...)"
        caption = _SCALE_NOTE.sub("", passage.table.caption.split(" | ")[0])
        if _TITLE_LINE.fullmatch(" ".join(caption.split())):
            found.append(caption)
    return {name for line in found for name in statements_named(line)}


def rank_cells(item: LineItem, year: int, passages: Sequence[Passage], *,
               statements: Iterable[Statement] = (), months: int | None = None,
               titled: Collection[tuple[str, int | None]] = (), calendar: FiscalCalendar | None = None,
               operations: str = "", month: int | None = None, said: str = "") -> list[Found]:
    """Every cell for ``item`` in ``year`` among ``passages``, best first (see :func:`find_operand`); with the
    filer's ``calendar``, ``year`` is a fiscal year as the filer names it (:func:`table_rows`). With ``month``
    (the question names the date: "at March 31, 2020"), a column dated in another month is another period.

    A cell's scale is the one its passage states ("(In millions)" in its text or header, which the calculation
    check reads there too), else its table's (stated above the rows of an earlier passage of the table).
    """
    wanted = set(statements) | ({item.statement} if item.statement else set())
    out: list[Found] = []
    for rank, p in enumerate(passages):
        if p.table is None:
            continue
        stated = passage_scale(p)
        context = context_score(p, wanted, p.table, stated or p.table.scale, rank)
        context += 1.0 if (p.doc_id, p.page) in titled else 0.0  # the statement's own page
        for row in table_rows(p, calendar):
            score = label_score(item, row.label)
            if operations and not re.search(rf"\b{operations}\s+operations\b", row.label, re.IGNORECASE):
                continue  # "from continuing operations" asked: the total of all operations is another figure
            cell = row.cell(year, months, item) if score > 0 else None
            if cell is None or (month is not None and cell.month is not None and cell.month != month):
                continue
            named = same_words(row.label, said) if said else None  # the row the question names by its words
            total = 0.3 if item.is_total and norm_label(row.label).startswith("total") and named is not False else 0.0
            if months is not None and cell.months == months:
                total += 0.6  # the period asked for, printed as such (outweighs the repeated-years penalty)
            total += 0.05 if named else 0.0  # "Net sales" asked beside "Total revenue"; the parent's net income
            # ("attributable to Acme") still beats "Net income" asked: it scores higher as a label
            out.append(Found(p, cell.text, (cell.start, cell.end), row.label, score + context + total,
                             cell.value if cell.value is not None else Decimal(0),
                             "" if stated else p.table.scale, against_row(cell, row), cell.months, cell.month))
    return sorted(out, key=lambda f: -f.score)


def same_words(label: str, said: str) -> bool:
    """Whether a row label prints the words a question names its line item by, "total" and plurals aside.

    >>> same_words("Net sales", "net sales"), same_words("Total revenues", "revenue")
    (True, True)
    >>> same_words("Total revenue", "net sales")
    False
    """
    def words(text: str) -> set[str]:
        return {w.rstrip("s") for w in re.findall(r"[a-z&]+", norm_label(text))} - {"total"}
    return words(label) == words(said)


# ----------------------------------------------------------------------------- one part of the company's cell

_PART_FILLER = frozenset({"the", "its", "our", "segment", "segments", "division", "divisions", "business",
                          "businesses", "unit", "units", "total", "and", "&", "of", "s", "operations"})


def part_words(text: str) -> frozenset[str]:
    """The words that name a part of a company in a row label or a section ("Latin America", "Total Optical
    Communications"), filler ("segment", "total", "the") left out.

    >>> sorted(part_words("Total Optical Communications segment"))
    ['communications', 'optical']
    >>> part_words("Canadian Operations") == part_words("Canadian")
    True
    """
    return frozenset(w for w in re.findall(r"[a-z0-9]+", norm_label(text).lower()) if w not in _PART_FILLER)


_DEFINED = re.compile(r"((?:[A-Z][\w'’.]*(?:-[A-Z][\w'’.]*)?,?\s+(?:(?:and|of|the|&)\s+)?){1,8})"
                      r"\(([A-Z][A-Za-z&]{1,7})\)")
_NAME_JOINERS = frozenset({"and", "of", "the", "&"})


def abbreviations(texts: Iterable[str]) -> dict[str, str]:
    """The abbreviations a document defines for names ("PepsiCo Beverages North America (PBNA)"), as
    abbreviation -> name: the name is the shortest run of capitalised words before the parentheses whose initials
    (a hyphenated word giving one each, "and"/"of" none) are the abbreviation's capitals.

    >>> abbreviations(["Our divisions are Frito-Lay North America (FLNA); PepsiCo Beverages North America (PBNA); "
    ...                "Latin America (LatAm); and Africa, Middle East and South Asia (AMESA). See (Note 3)."])
    {'FLNA': 'Frito-Lay North America', 'PBNA': 'PepsiCo Beverages North America', 'LatAm': 'Latin America', \
'AMESA': 'Africa, Middle East and South Asia'}
    """
    out: dict[str, str] = {}
    for text in texts:
        for m in _DEFINED.finditer(text):
            abbreviation = m.group(2)
            capitals = "".join(c for c in abbreviation if c.isupper())
            words = re.findall(r"[\w'’.&]+", m.group(1))
            for start in range(len(words) - 1, -1, -1):
                initials = "".join(p[0] for w in words[start:] if w.lower() not in _NAME_JOINERS
                                   for p in w.split("-") if p)
                if initials.upper() == capitals and words[start].lower() not in _NAME_JOINERS:
                    first = m.group(1).find(words[start])
                    out.setdefault(abbreviation, m.group(1)[first:].strip(" ,"))
                    break
    return out


def part_aliases(part: str, defined: dict[str, str]) -> list[str]:
    """Other names a document gives the part ``part`` names: the abbreviation of a defined name holding all of its
    words and at most one more (the issuer's name before a division's: "PepsiCo Beverages North America").

    >>> d = {"PBNA": "PepsiCo Beverages North America", "LatAm": "Latin America", "NA": "North America"}
    >>> part_aliases("Beverages North America", d), part_aliases("Latin America", d), part_aliases("Europe", d)
    (['PBNA'], ['LatAm'], [])
    """
    wanted = part_words(part)
    return [a for a, name in defined.items() if wanted and wanted <= part_words(name)
            and len(part_words(name) - wanted) <= 1 and len(part_words(name)) > 1 and part_words(a) != wanted]


_SEGMENT_PREFIX = re.compile(r"^\s*segment(?:['’]s)?\s+", re.IGNORECASE)


def own_label(label: str) -> str:
    """A part's row label without the word saying it is the part's ("Segment net income": net income).

    >>> own_label("Segment net income"), own_label("Net income")
    ('net income', 'Net income')
    """
    return _SEGMENT_PREFIX.sub("", label)


def last_section(header: str) -> str:
    """The innermost section a passage's header puts it in ("" when it names none): the header is the document's
    title, its section path and, for a table, its caption, joined by " · ".

    >>> last_section("ACME 10-Q Q2 2022 · Segment Results › Consumer Banking · Selected income statement data")
    'Consumer Banking'
    >>> last_section("ACME 10-K FY2021 · Selected data"), last_section("")
    ('', '')
    """
    parts = [x.strip() for x in header.split("·")]
    return parts[1].rsplit("›", 1)[-1].strip() if len(parts) >= 3 else ""


def part_column(header: str, part: str, amounts: int, known: Collection[frozenset[str]]) -> int | None:
    """The column of ``part`` in a table whose columns are parts of the company ("Optical Communications Display
    Technologies ... Total" over one year), or None: the header's words are cut into names the filing prints
    elsewhere (``known``: :func:`part_words` of its row labels and headings) outward from the part's own name,
    and the names must number the row's ``amounts`` (a "Total" column counts), so a header read wrong gives no
    column rather than another part's.

    >>> known = {frozenset({"optical", "communications"}), frozenset({"display", "technologies"}),
    ...          frozenset({"life", "sciences"})}
    >>> head = "Segment Information (in millions) Optical Communications Display Technologies Life Sciences Total"
    >>> part_column(head, "Display Technologies", 4, known), part_column(head, "Life Sciences", 4, known)
    (1, 2)
    >>> part_column(head, "Display Technologies", 5, known) is None  # the names do not number the amounts
    True
    >>> part_column("Cash App Seller Total", "Seller", 3, known)  # the last part, right before the total
    1
    """
    words = re.findall(r"[a-z0-9]+", norm_label(header))
    tokens = [w for w in words if w not in _PART_FILLER or w == "total"]
    wanted = part_words(part)
    names = set(known) | {wanted}
    at = next((i for i in range(len(tokens)) if frozenset(tokens[i:i + len(wanted)]) == wanted), None)
    if not wanted or at is None:
        return None
    left, i = 0, at
    while i > 0 and (k := next((k for k in range(0, i) if frozenset(tokens[k:i]) in names), None)) is not None:
        left, i = left + 1, k  # the longest known name ending right before position i
    right, j = 0, at + len(wanted)
    while j < len(tokens):
        if tokens[j] == "total":
            right, j = right + 1, j + 1
            break
        end = next((e for e in range(len(tokens), j, -1) if frozenset(tokens[j:e]) in names), None)
        if end is None:
            break
        right, j = right + 1, end
    if left + 1 + right == amounts and left + right > 0:
        return left
    if right == 1 and j == len(tokens) and amounts >= 3:
        return amounts - 2  # the names end "<part> Total": the column before the total ("Cash App Seller Total")
    return _delimited_column(words, wanted, amounts)


_DELIMITERS = frozenset({"operations", "segment", "division", "business"})


def _delimited_column(words: Sequence[str], wanted: frozenset[str], amounts: int) -> int | None:
    """The part's column in a header whose every name ends with the same word ("United States Operations
    Canadian Operations Other International Operations Total"): the names before the part's are those ends, and
    they and a "Total" must number the ``amounts``; None otherwise.

    >>> words = "united states operations canadian operations other international operations total 2021".split()
    >>> _delimited_column(words, frozenset({"other", "international"}), 4)
    2
    >>> _delimited_column(words, frozenset({"canadian"}), 3) is None
    True
    """
    at = next((i for i in range(len(words)) if frozenset(words[i:i + len(wanted)]) == wanted), None)
    end = at + len(wanted) if at is not None else len(words)
    if at is None or end >= len(words) or words[end] not in _DELIMITERS:
        return None
    ends = [i for i, w in enumerate(words) if w == words[end]]
    total = int(ends[-1] + 1 < len(words) and words[ends[-1] + 1] == "total")
    return ends.index(end) if len(ends) + total == amounts and len(ends) > 1 else None


_WHOLE_WORDS = frozenset({"segment", "segments", "reportable", "consolidated", "net", "company", "operating"})


def sub_line_rows(rows: Sequence[Row], item: LineItem) -> set[int]:
    """The indexes of the rows a total of a sub-line of ``item`` adds up ("Digital Media", "Print and Publishing"
    above "Total subscription revenue"): the rows since the previous total. Their figures are the parts' share of
    the sub-line, not of the item.

    >>> rows = [Row("Digital Media", ()), Row("Print", ()), Row("Total subscription revenue", ()),
    ...         Row("Digital Media", ()), Row("Total revenue", ())]
    >>> from generation.line_items import ITEMS
    >>> sorted(sub_line_rows(rows, ITEMS["revenue"]))
    [0, 1]
    >>> sub_line_rows([Row("Document Cloud", ()), Row("Total Digital Media revenue", ())], ITEMS["revenue"])
    set()
    """
    out: set[int] = set()
    start = 0
    for at, row in enumerate(rows):
        label = norm_label(row.label)
        if not label.startswith("total "):
            continue
        named = [a for a, _, i in items_named(label) if i is item]
        between = len(re.findall(r"[a-z]+", label[6:named[0]])) if named else 0
        words = re.findall(r"[A-Za-z]+", row.label)[1:1 + between]  # as printed, after "Total"
        # lower-case words narrow the item to a kind ("subscription"); a part's name is capitalised ("Digital Media")
        kind = {w for w in words if w.islower()} - _PART_FILLER - _WHOLE_WORDS
        if kind and all(w.islower() for w in words):
            out.update(range(start, at))
        start = at + 1
    return out


def names_only(text: str, item: LineItem) -> bool:
    """Whether ``text`` (a heading over rows) names ``item`` and no other line item: "Revenue, classified by
    significant product and service offerings, was as follows" heads rows of revenue.

    >>> from generation.line_items import ITEMS
    >>> names_only("Revenue, classified by product, was as follows", ITEMS["revenue"])
    True
    >>> names_only("Revenue and operating income by segment", ITEMS["revenue"])
    False
    """
    return [i for *_, i in items_named(text)] == [item]


def caption_of_a_kind(caption: str, item: LineItem) -> bool:
    """Whether a table's caption opens with ``item`` narrowed by a word or two before it ("Subscription revenue by
    reportable segment"): its rows are that kind of the item, not the item's whole figure.

    >>> from generation.line_items import ITEMS
    >>> caption_of_a_kind("Subscription revenue by reportable segment (dollars in millions):", ITEMS["revenue"])
    True
    >>> caption_of_a_kind("Total net revenue by segment", ITEMS["revenue"]), caption_of_a_kind("Revenue by segment",
    ...                                                                                          ITEMS["revenue"])
    (False, False)
    >>> caption_of_a_kind("offerings. Revenue by geographic area:", ITEMS["revenue"])  # another sentence's end
    False
    >>> caption_of_a_kind("Disaggregated Revenue The following table summarizes net sales", ITEMS["revenue"])
    False
    """
    head = re.sub(r"^\s*table of contents\s*", "", caption, flags=re.IGNORECASE)
    named = [a for a, _, i in items_named(head) if i is item]
    if not named:
        return False
    sentence = re.split(r"(?<=[.!?;:])\s+", head[:named[0]])[-1]  # "... offerings. Revenue by area": none before
    before = [w.lower() for w in re.findall(r"[A-Za-z]+", sentence)]
    return 0 < len(before) <= 2 and not set(before) & (_PART_FILLER | _WHOLE_WORDS | _BROKEN_DOWN)


_BROKEN_DOWN = frozenset({"by", "in", "for", "from", "disaggregated", "disaggregation", "geographic", "geographical"})


def titled_by_part(caption: str, part: str) -> bool:
    """Whether a table's caption says the table is one part's: it begins with the part's name (after a "Table of
    Contents" running head), or says it is "for the <part> segment".

    >>> titled_by_part("Table of Contents Optical Communications The following table provides net sales", "Optical "
    ...                "Communications")
    True
    >>> titled_by_part("Net sales by segment: Display and Optical Communications", "Optical Communications")
    False
    >>> titled_by_part("net income for the Optical Communications segment (in millions)", "Optical Communications")
    True
    """
    name = r"\s+".join(re.escape(w) for w in part.split())
    head = re.sub(r"^\s*table of contents\s*", "", caption, flags=re.IGNORECASE)
    return bool(re.match(rf"{name}\b", head, re.IGNORECASE) or
                re.search(rf"\b(?:for|of)\s+(?:the\s+|our\s+|its\s+)?{name}\s+(?:segment|division|business)\b",
                          caption, re.IGNORECASE))


def rank_part_cells(item: LineItem, year: int, part: str, passages: Sequence[Passage], *,
                    months: int | None = None, calendar: FiscalCalendar | None = None,
                    known: Collection[frozenset[str]] = ()) -> list[Found]:
    """Every cell of ``item`` for one part of the company (a segment, division or sub-line, named ``part``) in
    ``year``, best first: a row labelled by the part under a section (or a table caption) naming the item
    ("Net Revenue" › "Latin America") or in a column group the header names for the item ("Net Revenue | Operating
    Profit", :func:`column_measures`), else a row naming the item under a section naming the part ("Optical
    Communications" › "Net sales"), else the part's column of a row naming the item in a table of one period whose
    columns are the company's parts (:func:`part_column`, with the filing's ``known`` names).
    """
    wanted = part_words(part)
    if not wanted:
        return []
    out: list[Found] = []
    for rank, p in enumerate(passages):
        if p.table is None:
            continue
        stated = passage_scale(p)
        rows = table_rows(p, calendar)
        out += part_column_cells(item, year, part, p, rows, stated, months=months, calendar=calendar, known=known,
                                 rank=rank)
        named_in_caption = any(i is item for *_, i in items_named(p.table.caption)) and \
            not caption_of_a_kind(p.table.caption, item) or \
            not items_named(p.table.caption) and names_only(last_section(p.header), item)  # "Segment Information"
        # under "Results of Operations › Revenue"; "Subscription revenue by segment": not the part's revenue
        titled = titled_by_part(p.table.caption, part) or part_words(last_section(p.header)) == wanted
        summed = sub_line_rows(rows, item)
        for at, row in enumerate(rows):
            label = part_words(row.label)
            if at in summed and label == wanted:
                continue  # "Print and Publishing" over "Total subscription revenue": the part's subscriptions only
            if label == wanted and any(c.measure for c in row.cells):
                score = 2.0 + STRONG_LABEL  # the part's row, its cell in the item's column group (or none)
            elif label == wanted and (label_score(item, row.section) >= 2.5 or names_only(row.section, item) or
                                    (not items_named(row.section) and named_in_caption)):
                score = 2.0 + max(label_score(item, row.section), 0.0)
            elif wanted == part_words(row.section) and (s := label_score(item, own_label(row.label))) >= 2.5:
                score = 1.0 + s  # a full name of the item under the part's own heading
            elif titled and (s := label_score(item, own_label(row.label))) >= 2.5:
                score = 0.5 + s  # ... in a table the part's name titles, or in its section ("Optical Communications")
            else:
                continue
            cell = row.cell(year, months, item)
            if cell is None or cell.value is None:
                continue
            score += 0.6 if months is not None and cell.months == months else 0.0
            score -= 0.1 if not p.table.periods else 0.0  # its year guessed: a column printing the year comes first
            out.append(Found(p, cell.text, (cell.start, cell.end), f"{row.section} › {row.label}".strip(" ›"),
                             score - 0.01 * rank, cell.value, "" if stated else p.table.scale, against_row(cell, row),
                             cell.months))
    return sorted(out, key=lambda f: -f.score)


def part_column_cells(item: LineItem, year: int, part: str, passage: Passage, rows: Sequence[Row], stated: str, *,
                      months: int | None, calendar: FiscalCalendar | None, known: Collection[frozenset[str]],
                      rank: int) -> list[Found]:
    """The cells of ``part``'s column (:func:`part_column`) in the ``rows`` (the passage's :func:`table_rows`)
    naming ``item`` of a table of one period whose columns are parts of the company, when that period is ``year``
    (and ``months`` long, or a year)."""
    table = passage.table
    if table is None or len(table.periods) != 1 or not known:
        return []
    period = table.periods[0]
    if (column_year(period, calendar) if calendar is not None else period.year) != year or \
            (period.months or 12) != (months or 12):
        return []
    out: list[Found] = []
    heads = [table.caption.rsplit(" | ", 1)[-1], *column_lines(passage.text)]
    for row in rows:
        amounts = [c for c in row.cells if not c.percent]
        if len(amounts) < 3 or (s := label_score(item, own_label(row.label))) < STRONG_LABEL:
            continue
        at = next((a for head in heads if (a := part_column(head, part, len(amounts), known)) is not None), None)
        if at is None or (value := amounts[at].value) is None:
            continue
        cell = amounts[at]
        out.append(Found(passage, cell.text, (cell.start, cell.end), f"{part} › {row.label}", 0.5 + s - 0.01 * rank,
                         value, "" if stated else table.scale, False, period.months))
    return out



def column_lines(text: str) -> list[str]:
    """The lines of a table passage before its first row of amounts that print no number: the columns' names
    where they sit under the period line ("Year Ended December 31, 2020" over "Cash App Seller Total").

    >>> column_lines("Segments:\\nYear Ended December 31, 2020\\nCash App Seller Total\\nRevenue $ 5 $ 3")
    ['Segments:', 'Cash App Seller Total']
    """
    out = []
    for line in text.splitlines():
        if re.search(r"\d", _PERIOD_WORDS.sub(" ", line)):
            break  # the first row of amounts (a line of periods is no row)
        if not re.search(r"\d", line):
            out.append(line)
    return out


_PERIOD_WORDS = re.compile(rf"{MONTH}\.?\s+\d{{1,2}},?|\b{YEAR}\b", re.IGNORECASE)


# ------------------------------------------------------------------------------ an annual report's quarters

_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
            "q1": 1, "q2": 2, "q3": 3, "q4": 4}
_ORDINALS = re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th|q[1-4])\b", re.IGNORECASE)
_YEAR_HEADING = re.compile(rf"^\s*(?:fiscal\s+(?:year\s+)?)?({YEAR})(?:\s+quarters?)?\s*$", re.IGNORECASE)
_DATE_COLUMN = re.compile(rf"\b{MONTH}\.?\s+\d{{1,2}}\b", re.IGNORECASE)


def quarter_header(line: str) -> list[int]:
    """The quarter each column of a quarterly table's header line is, in order ([] for another line): ordinals
    ("Fourth Third Second First", "1st 2nd 3rd 4th Fiscal Year") or the four quarters' end dates of one fiscal
    year, in either order ("March 3 June 2 September 1 December 1").

    >>> quarter_header("Fourth Third Second First"), quarter_header("Quarter 1st 2nd 3rd 4th Fiscal Year")
    ([4, 3, 2, 1], [1, 2, 3, 4])
    >>> quarter_header("2019 First Quarter Second Quarter Third Quarter Fourth Quarter")
    [1, 2, 3, 4]
    >>> quarter_header("March 3 June 2 September 1 December 1"), quarter_header("Nov. 2 Aug. 3 May 4 Feb. 2")
    ([1, 2, 3, 4], [4, 3, 2, 1])
    >>> quarter_header("Revenue 1,681,646 1,772,190"), quarter_header("First quarter results were strong")
    ([], [])
    """
    if re.search(r"\d,\d{3}|\d{5,}", line):  # amounts: a row, not a header
        return []
    ordinals = [_ORDINAL[m.group(1).lower()] for m in _ORDINALS.finditer(line)]
    if len(ordinals) >= 3 and len(set(ordinals)) == len(ordinals) and \
            not re.sub(rf"\b(?:first|second|third|fourth|1st|2nd|3rd|4th|q[1-4]|quarters?|fiscal|year|total|{YEAR})\b",
                       "", line, flags=re.IGNORECASE).strip():
        return ordinals
    months = [month_number(m.group(1)) for m in _DATE_COLUMN.finditer(line)]
    if len(months) != 4 or re.sub(_DATE_COLUMN.pattern, "", line, flags=re.IGNORECASE).strip(" ,."):
        return []
    steps = {(b - a) % 12 for a, b in zip(months, months[1:], strict=False)}
    if steps <= {2, 3, 4}:
        return [1, 2, 3, 4]
    if steps <= {8, 9, 10}:
        return [4, 3, 2, 1]
    return []


def quarter_cell(passage: Passage, year: int, quarter: int, names: Callable[[str], bool]) -> Found | None:
    """The cell of ``quarter`` of fiscal ``year`` in a quarterly table's passage, on the first row whose name
    ``names`` accepts, or None. The passage's lines give its quarter columns (:func:`quarter_header`) and each
    section's year (a heading of its own: "2019 Quarters", "Fiscal 2019", "2017"); a row takes the columns and
    year above it, a fiscal year's total after the quarters is not a quarter's.
    """
    table = passage.table
    if table is None:
        return None
    states: list[tuple[int, list[int], int | None]] = []  # (offset, columns, year) from that line on
    columns: list[int] = []
    heading: int | None = None
    at = 0
    for line in passage.text.split("\n"):
        if m := _YEAR_HEADING.match(line):
            heading = int(m.group(1))
        elif found := quarter_header(line):
            columns = found
            if len(years := re.findall(rf"\b{YEAR}\b", line)) == 1:  # "2019 First Quarter ... Fourth Quarter"
                heading = int(years[0])
        states.append((at, columns, heading))
        at += len(line) + 1
    for row in table.rows:
        state = next((s for s in reversed(states) if s[0] <= row.start), None)
        if state is None or not state[1] or state[2] != year or not names(row.name):
            continue
        amounts = [c for c in row.cells if not c.percent]
        if quarter not in state[1] or len(amounts) not in (len(state[1]), len(state[1]) + 1):
            continue
        if (cell := _quarter_found(passage, amounts[state[1].index(quarter)], row.name)) is not None:
            return cell
    return None


def _quarter_found(passage: Passage, cell: TableCell, row: str) -> Found | None:
    """A quarter's cell of a passage's table as found (None for a cell without a value)."""
    if cell.value is None or passage.table is None:
        return None
    return Found(passage, cell.text, (cell.start, cell.end), row, STRONG_LABEL, cell.value,
                 "" if passage_scale(passage) else passage.table.scale, months=3)


def named_quarters(line: str) -> list[tuple[int, int]]:
    """The (year, quarter) of each column a header line names the way banks do ("2Q23 1Q23 4Q22 3Q22 2Q22"), in
    order; [] for fewer than two (see :func:`quarter_columns` for how such a table's other columns are dated).

    >>> named_quarters("Six months ended June 30, 2Q23 1Q23 4Q22 3Q22 2Q22 2023 2022")[:3]
    [(2023, 2), (2023, 1), (2022, 4)]
    >>> named_quarters("Net income rose in 2Q23")
    []
    """
    found = [(2000 + int(m.group(2)), int(m.group(1))) for m in _QUARTER_TOKEN.finditer(line)]
    return found if len(found) >= 2 else []


def quarter_column_cell(passage: Passage, year: int, quarter: int, names: Callable[[str], bool]) -> Found | None:
    """The cell of ``quarter`` of ``year`` in a table whose columns are named by quarter (a quarterly report's
    five-quarter highlights: "2Q23 1Q23 4Q22 3Q22 2Q22", then the year to date), on the first row whose name
    ``names`` accepts, or None. The quarter columns come first, in the header's order.
    """
    table = passage.table
    if table is None:
        return None
    columns = next((c for line in [table.caption, *passage.text.split("\n")[:6]] if (c := named_quarters(line))), [])
    if (year, quarter) not in columns:
        return None
    for row in table.rows:
        amounts = [c for c in row.cells if not c.percent]
        if not names(row.name) or len(amounts) < len(columns):
            continue
        if (found := _quarter_found(passage, amounts[columns.index((year, quarter))], row.name)) is not None:
            return found
    return None
