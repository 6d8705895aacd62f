"""A table's rows, cells and column periods as records (:class:`ingest.core.tables.Table`), read once at ingest.

:func:`ingest.tables.find_tables` finds a table block in a page; the splitter cuts it into passages; for each
passage :func:`table_record` reads the rows that passage prints (label, numeric cells with exact spans in the
passage text and their ``Decimal`` values, the section label above), and gives it what the whole table says: its
caption, the periods its column header names (:func:`column_periods`) and the scale of its amounts. Pure
functions of text; nothing at question time parses table text again.
"""

from __future__ import annotations

import re

from ingest.core.amounts import DASHES, DIGITS, MINUS, SCALE_NOTE, cell_value
from ingest.core.periods import MONTH, PERIOD_LENGTH, STANDALONE_YEAR, month_number, period_months
from ingest.core.tables import Period, Table, TableCell, TableRow
from ingest.tables import numeric_cells

_CELL = re.compile(rf"\$?\s?\(?\s?[{MINUS}]?\$?\s?(?:{DIGITS})\s?\)?\s?%?|(?<!\S)[{DASHES}]{{1,3}}(?!\S)")
_FOOTNOTE = re.compile(r"\(\d\)")
_DATE_BEFORE = re.compile(rf"\b{MONTH}\s+(\d{{1,2}})\s*,?\s*$", re.IGNORECASE)  # "January 28," before a year
_BARE_DATE = re.compile(rf"\b{MONTH}\s+(\d{{1,2}})\b(?![ \t]*,?[ \t]*\d{{4}})", re.IGNORECASE)  # no year on its line
_INSTANT = re.compile(r"\b(?:as of|at)\b|\bbalance sheets?\b", re.IGNORECASE)


def line_cells(line: str, offset: int) -> tuple[str, list[TableCell]] | None:
    """A line's label and its numeric cells (offsets: ``offset`` plus the position in ``line``), or None when
    it does not end in cells.

    >>> label, cells = line_cells("Net loss $ (619) —", 10); label, [(c.text, c.start, c.value) for c in cells]
    ('Net loss', [('$ (619)', 19, Decimal('-619')), ('—', 27, None)])
    """
    count, label_end, _ = numeric_cells(line)
    if not count:
        return None
    cells = []
    for m in _CELL.finditer(line, label_end):
        text = m.group().strip()
        if not re.search(r"\d|[-—–−]", text):
            continue
        lead = len(m.group()) - len(m.group().lstrip())
        value, percent = cell_value(text)
        start = offset + m.start() + lead
        cells.append(TableCell(text, start, start + len(text), value, percent))
    if not cells:
        return None
    return line[:label_end].strip(" .:$"), cells


def _is_row(line: str) -> bool:
    """Whether a line is a row of amounts (cells after a label that is not a year), not a header line."""
    count, label_end, years_only = numeric_cells(line)
    label = line[:label_end].strip()
    return bool(count) and not years_only and bool(label) and not STANDALONE_YEAR.fullmatch(label.rstrip(",")) and \
        line_cells(line, 0) is not None


def head_text(text: str) -> str:
    """The lines of a table's text above its first row of amounts: caption, column header, labels.

    >>> head_text("BALANCE SHEETS\\n(In millions)\\n2019 2018\\nCash $ 5 $ 4\\nDebt 1 2")
    'BALANCE SHEETS\\n(In millions)\\n2019 2018'
    """
    head: list[str] = []
    for line in text.splitlines():
        if _is_row(line):
            break
        head.append(line)
    return "\n".join(head)


def column_periods(head: str) -> tuple[Period, ...]:
    """The periods a table's column header names, one per year printed, in order.

    Each year printed is a column; a date right before it ("January 28, 2017") gives its month and day; a
    length ("Three Months Ended", "Years Ended", "13 weeks") goes to the years after it (several lengths
    share the years evenly, in order); with no length, "As of" / "At" or a balance sheet makes the columns
    points in time.

    >>> [(p.text, p.year, p.months) for p in column_periods("Fiscal Years Ended January 28, 2017 January 30, 2016")]
    [('January 28, 2017', 2017, 12), ('January 30, 2016', 2016, 12)]
    >>> [(p.year, p.months) for p in column_periods("Three Months Ended Six Months Ended\\n2019 2018 2019 2018")]
    [(2019, 3), (2018, 3), (2019, 6), (2018, 6)]
    >>> column_periods("At December 31, 2019 2018")[1]
    Period(text='2018', year=2018, month=None, day=None, months=None, instant=True)

    Dates printed apart from their years ("January 28, January 29," above "2023 2022") go to the years in order.

    >>> [(p.year, p.month, p.day) for p in column_periods("13 Weeks Ended January 28, January 29,\\n2023 2022")]
    [(2023, 1, 28), (2022, 1, 29)]

    Each year on the line under its own date is that date's.

    >>> [(p.text, p.month) for p in column_periods("March 31,\\n2021\\nDecember 31,\\n2020 Change")]
    [('March 31, 2021', 3), ('December 31, 2020', 12)]
    """
    years = list(STANDALONE_YEAR.finditer(head))
    bare = list(_BARE_DATE.finditer(head))
    bare = bare if len(bare) == len(years) and bare and bare[-1].end() <= years[0].start() else []
    lengths = list(PERIOD_LENGTH.finditer(head))
    instant = not lengths and bool(_INSTANT.search(head))
    dates = [_DATE_BEFORE.search(head, 0, y.start()) for y in years]  # the date right before each year, if any
    # each year printed on the line under its own date ("March 31,\n2021\nDecember 31,\n2020"): dated all
    stacked = all(d is not None for d in dates)
    out: list[Period] = []
    for i, (y, date) in enumerate(zip(years, dates, strict=True)):
        month = day = None
        text = y.group()
        if date is not None and ("\n" not in head[date.start():y.start()] or stacked):
            month, day, text = month_number(date.group(1)), int(date.group(2)), " ".join(head[date.start():y.end()]
                                                                                         .split())
        elif bare:
            month, day = month_number(bare[i].group(1)), int(bare[i].group(2))
            text = f"{bare[i].group(0).rstrip(', ')}, {y.group()}"
        months = None
        if len(lengths) == 1 or (lengths and len(years) % len(lengths) == 0):
            months = period_months(lengths[min(i * len(lengths) // len(years), len(lengths) - 1)])
        out.append(Period(text, int(y.group()), month, day, months, instant))
    return tuple(out)


def read_rows(text: str, columns: int) -> tuple[TableRow, ...]:
    """The rows of a table passage's text: each line that ends in numeric cells after a label (not a header line
    of years), with its cells and the last label line above it (its section).

    :param columns: how many periods the table's header names: a leading "(1)" is a footnote, not a cell, when
        the row has more cells than that.

    >>> rows = read_rows("2019 2018\\nCurrent liabilities:\\nAccounts payable $ 292 $ 253\\nTotal (1) 2,915 2,642", 2)
    >>> [(r.name, [c.text for c in r.cells]) for r in rows]
    [('Accounts payable', ['$ 292', '$ 253']), ('Total Current liabilities', ['2,915', '2,642'])]
    """
    rows: list[TableRow] = []
    section = ""
    offset = 0
    for line in text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        parsed = line_cells(line, start)
        if parsed is None:
            if line.strip() and not SCALE_NOTE.search(line):
                section = line.strip().rstrip(":")
            continue
        label, cells = parsed
        if not label or numeric_cells(line)[2] or STANDALONE_YEAR.fullmatch(label.rstrip(",")):
            continue  # a header line of years
        while cells and _FOOTNOTE.fullmatch(cells[0].text) and (len(cells) == 1 or len(cells) > columns):
            cells = cells[1:]  # "Revenues (2) 6,489 7,500": a footnote number, not a cell
        if cells:
            rows.append(TableRow(label, tuple(cells), start, start + len(line), section))
    return tuple(rows)


def table_record(passage_text: str, caption: str, periods: tuple[Period, ...], scale: str,
                 span: tuple[int, int]) -> Table:
    """The :class:`Table` of one passage of a table: its own rows, and what the whole table says.

    :param caption: the table's "caption | column header" line (:func:`ingest.tables.table_header`).
    :param periods: :func:`column_periods` of the whole table's head (:func:`head_text`).
    :param scale: :func:`ingest.core.amounts.stated_scale` of the whole table's text.
    :param span: the whole table in ``Document.text``.
    """
    return Table(caption, periods, read_rows(passage_text, len(periods)), scale, span)
