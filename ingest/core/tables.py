"""The table record: a statement table's structure, read once at ingest and carried with its passages.

A table passage (``Passage.kind == "table"``) carries a :class:`Table` in ``Passage.table``: the caption of the
table it was cut from, the periods its columns name (:class:`Period`), the scale its amounts are printed in, and
the rows printed in that passage, each a label and numeric cells with exact ``[start, end)`` offsets into the
passage's text and their ``Decimal`` values. Ingest writes it (``ingest/tables.py``, ``ingest/table_rows.py``);
the index stores it as JSON (:func:`table_to_json`, :func:`table_from_json`; never pickle); the figures planner
reads cells from it and never parses the passage text back.

Neutral layer: imports nothing of ours outside ``ingest.core``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Period:
    """What a column header says about one column: the year it names, and what it can tell of the period.

    :param text: the header words naming the column, as printed ("January 28, 2017", "2019").
    :param year: the year printed.
    :param month: the month of the date printed with the year (1-12), None when only a year is printed.
    :param day: the day of that date, None when none is printed.
    :param months: the length of the period the header names ("Three Months Ended": 3, "Years Ended": 12),
        None when it names none (a balance sheet's date, or no words at all).
    :param instant: the column is a point in time ("As of", "At December 31"), not a period.
    """

    text: str
    year: int
    month: int | None = None
    day: int | None = None
    months: int | None = None
    instant: bool = False


@dataclass(frozen=True, slots=True)
class TableCell:
    """One numeric cell: its text as printed, where that is in the passage text, and its value.

    ``passage.text[start:end] == text``. ``value`` is negative when printed in parentheses or after a minus sign;
    None for a dash or "NM".
    """

    text: str
    start: int
    end: int
    value: Decimal | None
    percent: bool = False


@dataclass(frozen=True, slots=True)
class TableRow:
    """A row printed in the passage: its label, its numeric cells, and the section label above it.

    ``start``/``end`` are the row's line in the passage text. ``label`` is as printed on that line (its leading
    and trailing spaces, dots, colons and "$" dropped); :attr:`name` joins it to its section where it is only
    "Total" or wraps on from the line above.
    """

    label: str
    cells: tuple[TableCell, ...]
    start: int
    end: int
    section: str = ""

    @property
    def name(self) -> str:
        """The row's full name: "Total Current liabilities" for a "Total" under "Current liabilities:", a wrapped
        label ("and equipment, net") after its section, else the label.

        >>> TableRow("Total", (), 0, 5, "Current liabilities").name, TableRow("Cash", (), 0, 4, "Assets").name
        ('Total Current liabilities', 'Cash')
        """
        if self.section and self.label.lower() == "total":
            return f"Total {self.section}"
        if self.section and self.label[:1].islower():
            return f"{self.section} {self.label}"
        return self.label


@dataclass(frozen=True, slots=True)
class Table:
    """The part of a statement table one passage holds, with what the whole table says about its columns.

    :param caption: the table's caption and column header lines, one line ("CONSOLIDATED BALANCE SHEETS |
        December 31, 2019 2018"); "" when it has none.
    :param periods: the periods the column header names, in the order printed (empty when it names none).
    :param rows: the rows printed in this passage, top to bottom.
    :param scale: the scale the table states for its amounts ("thousand", "million", "billion"; "" when unstated).
    :param span: where the whole table sits in ``Document.text`` (every passage of one table has the same).
    """

    caption: str
    periods: tuple[Period, ...]
    rows: tuple[TableRow, ...]
    scale: str = ""
    span: Span = (0, 0)

    def cells_in(self, start: int, end: int) -> list[tuple[TableRow, TableCell]]:
        """The cells printed inside ``[start, end)`` of the passage text (a cited quote), with their rows.

        >>> t = Table("", (), (TableRow("Cash", (TableCell("5", 5, 6, Decimal(5)), TableCell("7", 8, 9, Decimal(7))),
        ...                             0, 9),))
        >>> [(r.label, c.text) for r, c in t.cells_in(0, 7)]
        [('Cash', '5')]
        """
        return [(row, cell) for row in self.rows for cell in row.cells if start <= cell.start and cell.end <= end]

    @property
    def years(self) -> tuple[int, ...]:
        """The years of :attr:`periods`, in order."""
        return tuple(p.year for p in self.periods)


def _period_dict(p: Period) -> dict[str, Any]:
    return {"text": p.text, "year": p.year, "month": p.month, "day": p.day, "months": p.months, "instant": p.instant}


def table_to_dict(t: Table) -> dict[str, Any]:
    """Plain-JSON form of a table (values as decimal strings, exact)."""
    return {"caption": t.caption, "scale": t.scale, "span": list(t.span),
            "periods": [_period_dict(p) for p in t.periods],
            "rows": [{"label": r.label, "section": r.section, "span": [r.start, r.end],
                      "cells": [[c.text, c.start, c.end, None if c.value is None else str(c.value), c.percent]
                                for c in r.cells]} for r in t.rows]}


def table_from_dict(v: dict[str, Any]) -> Table:
    """The table :func:`table_to_dict` wrote."""
    rows = tuple(TableRow(r["label"], tuple(TableCell(text, a, b, None if value is None else Decimal(value), pct)
                                            for text, a, b, value, pct in r["cells"]),
                          r["span"][0], r["span"][1], r["section"]) for r in v["rows"])
    return Table(caption=v["caption"], periods=tuple(Period(**p) for p in v["periods"]), rows=rows,
                 scale=v["scale"], span=(v["span"][0], v["span"][1]))


def table_to_json(t: Table) -> str:
    """A table as JSON text (:func:`table_from_json` reads it back).

    >>> t = Table("BALANCE SHEETS | 2019 2018", (Period("2019", 2019), Period("December 31, 2018", 2018, 12, 31)),
    ...           (TableRow("Cash", (TableCell("$ (5)", 5, 10, Decimal("-5")), TableCell("—", 11, 12, None)), 0, 12),),
    ...           "million", (100, 160))
    >>> table_from_json(table_to_json(t)) == t
    True
    """
    return json.dumps(table_to_dict(t), ensure_ascii=False, separators=(",", ":"))


def table_from_json(text: str) -> Table:
    """The table :func:`table_to_json` wrote."""
    return table_from_dict(json.loads(text))
