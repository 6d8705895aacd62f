"""The :class:`~ingest.core.tables.Table` record of a sheet's or a Word table's passage, read from its cells.

A PDF table's rows are read back from printed lines (:mod:`ingest.table_rows`); a sheet's rows are cells already,
parted by `` | ``. Each line is a row: its label is the text of the cells before its first number, its cells the
cells that hold one amount each (:func:`ingest.core.amounts.parse_amount`), with their exact spans in the passage
text and their values. The caption is the header row, whose years give the columns' periods.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from ingest.core.amounts import cell_value, parse_amount, stated_scale
from ingest.core.tables import Table, TableCell, TableRow
from ingest.office.layout import header_row
from ingest.table_rows import column_periods

SEPARATOR = " | "
_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")


def grid_rows(text: str) -> tuple[TableRow, ...]:
    """The rows of a passage of cells: each line with at least one numeric cell.

    >>> [(r.label, [(c.text, c.start, c.value) for c in r.cells]) for r in grid_rows("Region | Q1\\nNorth | x | 1,200")]
    [('North x', [('1,200', 24, Decimal('1200'))])]
    """
    rows: list[TableRow] = []
    start = 0
    for line in text.split("\n"):
        labels: list[str] = []
        cells: list[TableCell] = []
        at = 0
        for piece in line.split(SEPARATOR):
            value = piece.strip()
            plain = _PLAIN.fullmatch(value)  # most cells of a sheet: a number as openpyxl or a CSV gives it
            if value and (plain or parse_amount(value) is not None):
                lead = len(piece) - len(piece.lstrip())
                number, percent = (Decimal(value), False) if plain else cell_value(value)
                a = start + at + lead
                cells.append(TableCell(value, a, a + len(value), number, percent))
            elif value and not cells:
                labels.append(value)
            at += len(piece) + len(SEPARATOR)
        if cells:
            rows.append(TableRow(" ".join(labels), tuple(cells), start, start + len(line)))
        start += len(line) + 1
    return tuple(rows)


def grid_caption(header: str, span: tuple[int, int]) -> Table:
    """What a grid's header row says of all its passages (read once per sheet or table): caption, the periods its
    columns name, the scale it states; no rows. A long header row is cut at a cell (:func:`header_row`).

    >>> t = grid_caption("Region | FY2019 | FY2020 (in thousands)", (0, 40)); t.years, t.scale
    ((2019, 2020), 'thousand')
    """
    header = header_row(header)
    return Table(header, column_periods(header.replace(SEPARATOR, " ")), (), stated_scale(header), span)


def grid_table(text: str, caption: Table) -> Table:
    """The table record of one passage of a grid: its rows, under its grid's :func:`grid_caption`.

    >>> t = grid_table("North | 10 | 12", grid_caption("Region | 2019 | 2020", (0, 30)))
    >>> t.years, t.rows[0].label, [c.value for c in t.rows[0].cells]
    ((2019, 2020), 'North', [Decimal('10'), Decimal('12')])
    """
    return replace(caption, rows=grid_rows(text))
