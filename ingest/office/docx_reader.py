"""Word documents (python-docx): headings become the section path; paragraphs and whole tables keep their place.

Body paragraphs and tables are read in order. A paragraph styled "Heading N" opens a section at level N, numbered
as printed when its text starts with a number ("4.2 Termination" is section 4.2, "Termination") and otherwise by
its place in the outline (the second level-2 heading under the fourth level-1 heading is 4.2), so a citation
reads ``contract.docx §4.2 "Termination"``. Paragraphs are counted from 1 in body order, empty ones included
(the viewer and ``python-docx``'s ``Document.paragraphs`` agree); tables from 1. A table's rows are its blocks,
cells parted by `` | ``, its first row the header each of its passages repeats.
"""

from __future__ import annotations

import io
import re
import zipfile

from ingest.core.errors import EmptyDocumentError
from ingest.core.records import Document, Place, Section
from ingest.office.layout import TextBuilder, cell_text, header_row, row_line
from ingest.office.package import unreadable

_HEADING = re.compile(r"heading\s*(\d)$", re.IGNORECASE)
_NUMBERED = re.compile(r"(\d+(?:\.\d+)*)\.?\s+(\S.*)")


class Outline:
    """Section numbers from heading levels, as printed when a heading starts with its number.

    >>> o = Outline(); [o.open(1, "Scope"), o.open(2, "Terms"), o.open(1, "4 Ending"), o.open(2, "4.2 Termination")]
    ['1 "Scope"', '1.1 "Terms"', '4 "Ending"', '4.2 "Termination"']
    """

    def __init__(self) -> None:
        self.counters: list[int] = []

    def open(self, level: int, text: str) -> str:
        """The section label of a heading at ``level`` (1 = top): ``number "title"``."""
        del self.counters[level:]
        self.counters += [0] * (level - len(self.counters))
        self.counters[level - 1] += 1
        m = _NUMBERED.fullmatch(text)
        if m and m.group(1).count(".") + 1 == level:
            self.counters[:level] = [int(x) for x in m.group(1).split(".")]
            return f'{m.group(1)} "{m.group(2).strip()}"'
        return ".".join(str(c) for c in self.counters) + f' "{text}"'


def heading_level(style_name: str) -> int:
    """The outline level of a paragraph style: 1-9 for "Heading 1".."Heading 9", else 0.

    >>> heading_level("Heading 2"), heading_level("heading 1"), heading_level("Body Text")
    (2, 1, 0)
    """
    m = _HEADING.match(style_name.strip())
    return int(m.group(1)) if m and m.group(1) != "0" else 0


def table_rows(table: object) -> list[list[str]]:
    """A python-docx table's rows as cell texts; a merged cell (repeated across the grid) is read once."""
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell_text(cell.text))
        rows.append(cells)
    return rows


def read_docx(package: bytes, source: str, doc_id: str) -> Document:
    """A Word document's headings, paragraphs and tables, each with its place.

    :raises CorruptFileError: python-docx cannot read it.
    :raises EmptyDocumentError: no text.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import LxmlError

    builder, sections, outline = TextBuilder(), list[Section](), Outline()
    section, group, paragraph, tables = "", 1, 0, 0
    try:
        document = docx.Document(io.BytesIO(package))
        title = document.core_properties.title or ""
        names = {style.style_id: style.name or "" for style in document.styles}
        for item in document.iter_inner_content():
            group += 1 if isinstance(item, Table) or builder.blocks and builder.blocks[-1].kind == "table" else 0
            if isinstance(item, Table):
                tables += 1
                rows = [row_line(r) for r in table_rows(item)]
                header = header_row(next((r for r in rows if r.strip(" |")), ""))
                for line in rows:
                    builder.add(line, Place("table", tables, tables, section=section), group=group, kind="table",
                                header=header)
                continue
            paragraph += 1
            text = item.text
            # the style's id, named through a table read once: Paragraph.style looks the id up among every style
            # of the document per paragraph (90% of the reading time of a 600-paragraph document)
            level = heading_level(names.get(item._p.style or "", ""))
            if level and text.strip():
                section = outline.open(level, " ".join(text.split()))
                group += 1
                at = builder.add(text, Place("paragraphs", paragraph, paragraph, section=section), group=group)
                sections.append(Section(level, " ".join(text.split()), at))
                continue
            builder.add(text, Place("paragraphs", paragraph, paragraph, section=section), group=group)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, AttributeError,
            LxmlError, OSError, EOFError) as err:
        raise unreadable(source, "Word document", err) from err
    if not builder.blocks:
        raise EmptyDocumentError(f"{source}: no text in the Word document")
    return Document(doc_id=doc_id, source=source, text=builder.text(), kind="docx", blocks=tuple(builder.blocks),
                    sections=tuple(sections), meta={"title": title} if title else {})
