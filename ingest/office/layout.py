"""Building an Office file's text and its blocks: each unit (slide, paragraph, row) appended with where it sits."""

from __future__ import annotations

import re

from ingest.core.records import Block, PassageKind, Place
from ingest.loaders import clean_text


class TextBuilder:
    """Appends units to one text, one :class:`Block` each; groups are parted by a blank line, units of one group by
    a newline.

    >>> b, one, two = TextBuilder(), Place("slide", 1, 1), Place("slide", 2, 2)
    >>> _ = b.add("Title", one, group=1); _ = b.add("Body", one, group=1); _ = b.add("Next", two, group=2)
    >>> b.text(), [(x.start, x.end) for x in b.blocks]
    ('Title\\nBody\\n\\nNext', [(0, 5), (6, 10), (12, 16)])
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []

    def add(self, text: str, place: Place, *, group: int, kind: PassageKind = "prose", header: str = "") -> int:
        """Append ``text`` (cleaned; trimmed, but a table row only of newlines; nothing when blank) and return where
        it starts (-1 when blank)."""
        text = clean_text(text)
        if not text.strip():
            return -1
        text = text.strip("\n") if kind == "table" else text.strip()  # a row's leading empty cell stays " | x"
        if self.blocks:
            sep = "\n" if self.blocks[-1].group == group else "\n\n"
            self._parts.append(sep)
            self._length += len(sep)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        self.blocks.append(Block(start, self._length, place, group, kind, header))
        return start

    @property
    def length(self) -> int:
        """Characters so far (where the next unit starts, before its separator)."""
        return self._length

    def text(self) -> str:
        """The text so far."""
        return "".join(self._parts)


_MESSY = re.compile(r"\||\s\s|[^\S ]|^\s|\s$")  # a "|", two spaces, a space that is not " ", or an edge one


def cell_text(value: object) -> str:
    """A cell's value as one line of text: numbers without a needless ``.0``, newlines and ``|`` made spaces
    (cells are parted by `` | ``).

    >>> cell_text(12.0), cell_text(0.125), cell_text(None), cell_text("a|b\\nc"), cell_text(True), cell_text(" x  y ")
    ('12', '0.125', '', 'a b c', 'TRUE', 'x y')
    """
    if type(value) is str:  # most cells: kept as they are unless they hold a "|" or odd whitespace
        return " ".join(value.replace("|", " ").split()) if _MESSY.search(value) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:-9] if text.endswith("T00:00:00") else text
    return " ".join(str(value).replace("|", " ").split())


MAX_HEADER_ROW_CHARS = 1000  # a header row of thousands of columns is cut: every passage of its sheet repeats it


def header_row(line: str, limit: int = MAX_HEADER_ROW_CHARS) -> str:
    """A row as a header every passage of its grid repeats: cut after the last whole cell within ``limit``.

    >>> header_row("a | b | c", 6), header_row("a | b", 6)
    ('a | b …', 'a | b')
    """
    if len(line) <= limit:
        return line
    cut = line.rfind(" | ", 0, limit + 3)  # the separator after the last whole cell may end past it
    return line[:cut if cut > 0 else limit] + " …"


def row_line(cells: list[str]) -> str:
    """A row as a line: its cells parted by `` | `` (trailing empty cells dropped).

    >>> row_line(["Region", "Q1", "", ""]), row_line(["", "x"])
    ('Region | Q1', ' | x')
    """
    while cells and not cells[-1]:
        cells = cells[:-1]
    return " | ".join(cells)
