"""PowerPoint decks (python-pptx): one unit per slide, its title, body text, tables and speaker notes.

Shapes are read top to bottom, then left to right (group shapes opened); a table's rows become lines with cells
parted by `` | ``; the notes follow after "Notes:". Each slide is one block, cited ``deck.pptx slide 7``, and its
title opens a section, so passages carry the deck's and the slide's titles in their header.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator

from ingest.core.errors import EmptyDocumentError
from ingest.core.records import Document, Place, Section
from ingest.office.layout import TextBuilder, cell_text, row_line
from ingest.office.package import unreadable

MAX_GROUP_DEPTH = 32  # group shapes nested deeper than this are not opened (a crafted file could nest without end)


def _in_reading_order(shapes: Iterable[object]) -> list[object]:
    return sorted(shapes, key=lambda s: (getattr(s, "top", None) or 0, getattr(s, "left", None) or 0))


def shape_lines(shapes: Iterable[object], *, skip: object = None, depth: int = 0) -> Iterator[str]:
    """The text of shapes in reading order: text frames line by line, tables row by row, groups opened."""
    for shape in _in_reading_order(shapes):
        if shape is skip or (skip is not None and getattr(shape, "shape_id", None) == getattr(skip, "shape_id", 0)):
            continue
        if getattr(shape, "shape_type", None) == 6 and depth < MAX_GROUP_DEPTH:  # MSO_SHAPE_TYPE.GROUP
            yield from shape_lines(shape.shapes, depth=depth + 1)  # type: ignore[attr-defined]
        elif getattr(shape, "has_table", False):
            for row in shape.table.rows:  # type: ignore[attr-defined]
                yield row_line([cell_text(c.text) for c in row.cells])
        elif getattr(shape, "has_text_frame", False):
            yield from (p for p in shape.text_frame.text.splitlines() if p.strip())  # type: ignore[attr-defined]


def slide_text(slide: object) -> tuple[str, str]:
    """A slide's title and its whole text (title, body, tables, then its notes)."""
    title_shape = slide.shapes.title  # type: ignore[attr-defined]
    title = " ".join(title_shape.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
    lines = [title] if title else []
    lines += shape_lines(slide.shapes, skip=title_shape)  # type: ignore[attr-defined]
    if slide.has_notes_slide:  # type: ignore[attr-defined]
        frame = slide.notes_slide.notes_text_frame  # type: ignore[attr-defined]
        notes = frame.text.strip() if frame is not None else ""
        if notes:
            lines.append("Notes: " + notes)
    return title, "\n".join(lines)


def read_pptx(package: bytes, source: str, doc_id: str) -> Document:
    """A deck's slides, one block each.

    :raises CorruptFileError: python-pptx cannot read it.
    :raises EmptyDocumentError: no slide holds text.
    """
    import pptx
    from lxml.etree import LxmlError
    from pptx.exc import PythonPptxError

    builder, sections = TextBuilder(), list[Section]()
    try:
        deck = pptx.Presentation(io.BytesIO(package))
        title = deck.core_properties.title or ""
        for number, slide in enumerate(deck.slides, 1):
            heading, text = slide_text(slide)
            at = builder.add(text, Place("slide", number, number), group=number)
            if heading and at >= 0:
                sections.append(Section(1, heading, at))
    except (PythonPptxError, zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, AttributeError,
            LxmlError, OSError, EOFError) as err:
        raise unreadable(source, "PowerPoint deck", err) from err
    if not builder.blocks:
        raise EmptyDocumentError(f"{source}: no text on any slide")
    return Document(doc_id=doc_id, source=source, text=builder.text(), kind="pptx", blocks=tuple(builder.blocks),
                    sections=tuple(sections), meta={"title": title} if title else {})
