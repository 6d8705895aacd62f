"""What a citation opens in the web UI: the PDF page with the quote's own character boxes, the code file
at its real line numbers, a sheet's cell range as a table with the quoted cells marked, or the passage (a slide,
a Word section) in its surrounding text. No Streamlit here (see ``app/ui.py``).

PDF text in the index comes from pypdf, page by page (``ingest/loaders.py``); the page image and the
character boxes come from PDFium, whose text of the same page can differ (line breaks, spacing). A quote
is therefore located again in PDFium's text of its page: exactly first, then with whitespace runs
treated as equal. Only when the quote's occurrence can be told apart (the same number of matches in both
texts) are its boxes drawn; otherwise nothing is drawn and the viewer says why (never a wrong highlight).

A scanned page has no characters for PDFium to box: its text came from OCR (:mod:`ingest.ocr`), which kept
each word's box in the same page space, so the quote's boxes are its words' boxes, merged into lines the
same way (:func:`ocr_quote_boxes`).

Every character taken from a document is HTML-escaped here; the HTML built is trusted markup around
escaped text.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import html
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.core.records import Citation, Document, OcrPage, PageSpan, Passage, Place, line_span
from ingest.pdf import PDFIUM_LOCK

PAGE_SCALE = 1.5  # pixels per PDF point of the rendered page (108 dpi)
CONTEXT_CHARS = 900  # surrounding text shown around a prose passage, each side
HIGHLIGHT_FILL = (255, 214, 0, 110)  # RGBA drawn over the quote's boxes in the page image
HIGHLIGHT_LINE = (230, 120, 0, 255)


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in PDF points, origin at the page's bottom left (PDFium's page space)."""

    left: float
    bottom: float
    right: float
    top: float

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        return Box(min(self.left, other.left), min(self.bottom, other.bottom), max(self.right, other.right),
                   max(self.top, other.top))


@dataclass(frozen=True)
class PageView:
    """A rendered PDF page and the highlight drawn on it.

    :param number: 1-based page number; ``label`` the printed page label ("" when the PDF defines none).
    :param boxes: the quote's line boxes in PDF points; ``pixel_boxes`` the same in image pixels (x0, y0, x1, y1).
    :param note: why nothing is highlighted ("" when ``boxes`` is not empty).
    """

    number: int
    page_count: int
    label: str
    png: bytes
    width_px: int
    height_px: int
    width_pt: float
    height_pt: float
    boxes: tuple[Box, ...] = ()
    pixel_boxes: tuple[tuple[int, int, int, int], ...] = ()
    note: str = ""


# -- where a quote is ---------------------------------------------------------------------------------------

def quote_range(citation: Citation) -> tuple[int, int] | None:
    """``[start, end)`` of the citation's supporting quote in its document's text (None when no quote).

    >>> p = Passage(id="p", doc_id="d", source="a.txt", text="xx quote", chars=(10, 18))
    >>> quote_range(Citation(1, p, quote="quote", quote_chars=(3, 8)))
    (13, 18)
    """
    if citation.quote_chars is None:
        return None
    start = citation.passage.chars[0]
    return start + citation.quote_chars[0], start + citation.quote_chars[1]


def highlight_range(citation: Citation) -> tuple[int, int] | None:
    """``[start, end)`` in the document's text that the viewer marks: the table cells inside the quote when it
    holds any (the cited figure, not its whole row or table: from the passage's Table record), else the quote.

    >>> from decimal import Decimal
    >>> from ingest.core.tables import Table, TableCell, TableRow
    >>> row = TableRow("Total assets", (TableCell("19,845", 13, 19, Decimal(19845)),), 0, 19)
    >>> p = Passage("p", "d", "r.pdf", "Total assets 19,845", (100, 119), kind="table", table=Table("", (), (row,)))
    >>> highlight_range(Citation(1, p, "Total assets 19,845", (0, 19)))
    (113, 119)
    """
    quote = quote_range(citation)
    table = citation.passage.table
    if quote is None or table is None or citation.quote_chars is None:
        return quote
    cells = [cell for _, cell in table.cells_in(*citation.quote_chars)]
    if not cells:
        return quote
    base = citation.passage.chars[0]
    return base + min(c.start for c in cells), base + max(c.end for c in cells)


def page_pieces(pages: Sequence[PageSpan], start: int, end: int) -> list[tuple[PageSpan, int, int]]:
    """The parts of document characters ``[start, end)`` on each page: ``(page, a, b)`` with ``a``/``b``
    offsets into that page's text.

    >>> pages = (PageSpan(1, 0, 10), PageSpan(2, 12, 30))
    >>> [(p.number, a, b) for p, a, b in page_pieces(pages, 5, 15)]
    [(1, 5, 10), (2, 0, 3)]
    """
    out = []
    for span in pages:
        a, b = max(start, span.start), min(end, span.end)
        if a < b:
            out.append((span, a - span.start, b - span.start))
    return out


def _matches(pattern: str, text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(pattern, text)]


def locate(page_text: str, start: int, end: int, target: str) -> tuple[tuple[int, int] | None, str]:
    """Where ``page_text[start:end]`` sits in ``target`` (another extraction of the same page).

    Exact match first, then one where whitespace runs match any whitespace. The quote's occurrence in
    ``page_text`` must be matched by the same occurrence in ``target``, which holds only when both have
    as many matches; otherwise the answer is None with the reason.

    >>> locate("The cat sat.\\nThe cat ran.", 13, 25, "The cat sat.\\r\\nThe cat ran.")
    ((14, 26), '')
    >>> locate("a b a b", 4, 7, "a  b a b")
    ((5, 8), '')
    >>> locate("fog at the pier", 0, 15, "fog at the harbour")
    (None, 'the quote is not in the text PDFium reads from this page')
    """
    needle = page_text[start:end]
    lead = len(needle) - len(needle.lstrip())
    words = needle.split()
    if not words:
        return None, "the quote is empty"
    patterns = [re.escape(needle), r"\s+".join(re.escape(w) for w in words)]
    why = "the quote is not in the text PDFium reads from this page"
    for i, pattern in enumerate(patterns):
        ours, theirs = _matches(pattern, page_text), _matches(pattern, target)
        if not theirs:
            continue
        at = start if i == 0 else start + lead
        k = next((j for j, (s, _) in enumerate(ours) if s == at), None)
        if k is not None and len(ours) == len(theirs):
            return theirs[k], ""
        why = (f"the quote occurs {len(ours)} times in the indexed text and {len(theirs)} times in PDFium's text "
               "of this page, so which one is meant cannot be told")
    return None, why


def line_boxes(chars: Sequence[tuple[str, Box]]) -> list[Box]:
    """Merge character boxes into one box per printed line (whitespace and empty boxes skipped).

    A character starts a new line when its box does not overlap the current line's box vertically or it
    sits left of the previous character. (Not "its middle lies outside": a comma's box dips below the
    digits beside it, and its middle can fall under theirs, which cut "2,915" into three boxes.)

    >>> line_boxes([("a", Box(0, 0, 5, 10)), ("b", Box(5, 0, 10, 10)), (" ", Box(0, 0, 0, 0)),
    ...             ("c", Box(0, -15, 5, -5))])
    [Box(left=0, bottom=0, right=10, top=10), Box(left=0, bottom=-15, right=5, top=-5)]
    >>> line_boxes([("2", Box(0, 2, 5, 10)), (",", Box(6, -1, 7, 2.5)), ("9", Box(8, 2, 13, 10))])
    [Box(left=0, bottom=-1, right=13, top=10)]
    """
    out: list[Box] = []
    current: Box | None = None
    previous_right = float("-inf")
    for ch, box in chars:
        if ch.isspace() or box.right <= box.left or box.top <= box.bottom:
            continue
        if current is not None and box.bottom < current.top and current.bottom < box.top \
                and box.left >= previous_right - 1:
            current = current.union(box)
        else:
            if current is not None:
                out.append(current)
            current = box
        previous_right = box.right
    if current is not None:
        out.append(current)
    return out


def ocr_quote_boxes(page: OcrPage, start: int, end: int) -> list[Box]:
    """Line boxes of the OCR'd words that hold any of the page-text characters ``[start, end)`` (a word is
    the smallest thing OCR boxes).

    >>> from ingest.core.records import OcrWord
    >>> words = (OcrWord(0, 3, (10, 700, 30, 710), 0.9), OcrWord(4, 9, (34, 700, 60, 711), 0.9),
    ...          OcrWord(10, 14, (10, 680, 35, 690), 0.8))
    >>> ocr_quote_boxes(OcrPage(1, "tesseract", 0.9, words), 5, 12)
    [Box(left=34, bottom=700, right=60, top=711), Box(left=10, bottom=680, right=35, top=690)]
    """
    return line_boxes([("w", Box(*w.box)) for w in page.words if w.start < end and start < w.end])


# -- PDF pages ----------------------------------------------------------------------------------------------

def file_matches(path: Path, doc_id: str) -> bool:
    """Whether the file still holds the bytes that were indexed: a document id starts with 16 hex digits of
    their sha256 (``"<digest>"`` or ``"<digest>-<name hash>"``)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16] == doc_id.split("-", 1)[0]


def pdfium_text(textpage: object) -> str:
    """PDFium's text of a page, one character per character index (so offsets are char-box indices)."""
    import pypdfium2.raw as raw

    n = raw.FPDFText_CountChars(textpage)
    text = "".join(chr(raw.FPDFText_GetUnicode(textpage, i) or 0xFFFD) for i in range(n))
    # a hyphen that breaks a word at a line end is U+0002 here and "-" in the indexed text (ingest/pdf.py)
    return text.replace("\x02", "-")


def quote_boxes(path: Path, doc: Document, page_number: int, start: int, end: int) -> tuple[list[Box], str]:
    """Line boxes of document characters ``[start, end)`` on page ``page_number`` of the PDF at ``path``,
    or no boxes and the reason."""
    import pypdfium2 as pdfium

    span = next((s for s in doc.pages if s.number == page_number), None)
    if span is None:
        return [], f"page {page_number} has no indexed text"
    pieces = [(a, b) for s, a, b in page_pieces(doc.pages, start, end) if s.number == page_number]
    if not pieces:
        return [], f"the quote is not on page {page_number}"
    a, b = pieces[0]
    scanned = next((p for p in doc.ocr_pages if p.number == page_number), None)
    if scanned is not None:  # its text came from OCR: the words' boxes, no PDFium text to match
        boxes = ocr_quote_boxes(scanned, a, b)
        return boxes, "" if boxes else "the quote's words have no boxes on this OCR'd page"
    with PDFIUM_LOCK:  # PDFium is not thread-safe; Streamlit sessions are threads
        return _quote_boxes(pdfium.PdfDocument(str(path)), doc, span, page_number, a, b)


def _quote_boxes(pdf: Any, doc: Document, span: PageSpan, page_number: int, a: int, b: int
                 ) -> tuple[list[Box], str]:
    try:
        textpage = pdf[page_number - 1].get_textpage()
        target = pdfium_text(textpage)
        where, why = locate(doc.text[span.start:span.end], a, b, target)
        if where is None:
            return [], why
        chars = [(target[i], Box(*textpage.get_charbox(i))) for i in range(*where)]
        boxes = line_boxes(chars)
        return boxes, "" if boxes else "the quote's characters have no boxes on this page"
    finally:
        pdf.close()


def _to_pixels(page: object, box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A box in page points as (x0, y0, x1, y1) pixels of a rendering ``width`` x ``height`` (rotation-aware)."""
    import pypdfium2.raw as raw

    xs, ys = [], []
    for x, y in ((box.left, box.bottom), (box.right, box.top)):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page, 0, 0, width, height, 0, ctypes.c_double(x), ctypes.c_double(y),
                              ctypes.byref(dx), ctypes.byref(dy))
        xs.append(dx.value)
        ys.append(dy.value)
    return min(xs), min(ys), max(xs), max(ys)


def render_page(path: Path, page_number: int, boxes: Sequence[Box] = (), *, note: str = "",
                scale: float = PAGE_SCALE) -> PageView:
    """Page ``page_number`` of the PDF at ``path`` as a PNG with ``boxes`` drawn over it."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        return _render(pdfium.PdfDocument(str(path)), page_number, boxes, note, scale)


def _render(pdf: Any, page_number: int, boxes: Sequence[Box], note: str, scale: float) -> PageView:
    from PIL import Image, ImageDraw

    try:
        page = pdf[page_number - 1]
        width_pt, height_pt = page.get_size()
        image = page.render(scale=scale).to_pil().convert("RGBA")
        pixel_boxes = []
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            x0, y0, x1, y1 = _to_pixels(page, box, *image.size)
            pixel_boxes.append((x0, y0, x1, y1))
            draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_LINE, width=2)
        image = Image.alpha_composite(image, overlay).convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return PageView(number=page_number, page_count=len(pdf), label=pdf.get_page_label(page_number - 1) or "",
                        png=out.getvalue(), width_px=image.size[0], height_px=image.size[1], width_pt=width_pt,
                        height_pt=height_pt, boxes=tuple(boxes), pixel_boxes=tuple(pixel_boxes),
                        note="" if boxes else note)
    finally:
        pdf.close()


def page_caption(view: PageView, *, cited_page: int | None = None, ocr: OcrPage | None = None) -> str:
    """"page 2 of 5 · printed page ii", and whether OCR read the page.

    >>> page_caption(PageView(2, 5, "ii", b"", 1, 1, 1.0, 1.0), cited_page=2)
    'page 2 of 5 · printed page ii · the cited page'
    >>> page_caption(PageView(1, 1, "", b"", 1, 1, 1.0, 1.0), ocr=OcrPage(1, "tesseract 5.3.0", 0.913))
    'page 1 of 1 · scanned: text read by OCR (tesseract 5.3.0, mean confidence 0.91)'
    """
    parts = [f"page {view.number} of {view.page_count}"]
    if view.label and view.label != str(view.number):
        parts.append(f"printed page {view.label}")
    if cited_page == view.number:
        parts.append("the cited page")
    if ocr is not None:
        parts.append(f"scanned: text read by OCR ({ocr.engine}, mean confidence {ocr.confidence:.2f})")
    return " · ".join(parts)


def page_html(view: PageView) -> str:
    """The page image with one absolutely placed element per highlight box; the boxes (points and pixels)
    are in data attributes so a browser test can compare them with PDFium's character boxes."""
    png = base64.b64encode(view.png).decode()
    marks = []
    for box, (x0, y0, x1, y1) in zip(view.boxes, view.pixel_boxes, strict=True):
        left, top = 100 * x0 / view.width_px, 100 * y0 / view.height_px
        width, height = 100 * (x1 - x0) / view.width_px, 100 * (y1 - y0) / view.height_px
        marks.append(
            f'<div class="docqa-highlight" data-box-pt="{box.left:.2f},{box.bottom:.2f},{box.right:.2f},{box.top:.2f}"'
            f' data-box-px="{x0},{y0},{x1},{y1}" style="position:absolute;left:{left:.3f}%;top:{top:.3f}%;'
            f'width:{width:.3f}%;height:{height:.3f}%;outline:2px solid rgba(230,120,0,0.9);'
            'pointer-events:none"></div>')
    return (f'<div class="docqa-page" data-page="{view.number}" data-page-label="{html.escape(view.label)}" '
            f'data-page-count="{view.page_count}" data-width-pt="{view.width_pt:.2f}" '
            f'data-height-pt="{view.height_pt:.2f}" data-highlights="{len(marks)}" '
            f'style="position:relative;width:100%;max-width:{view.width_px}px;border:1px solid #ddd">'
            f'<img class="docqa-page-img" alt="page {view.number}" src="data:image/png;base64,{png}" '
            f'style="display:block;width:100%;height:auto">{"".join(marks)}</div>')


# -- code and text ------------------------------------------------------------------------------------------

def _style_of(token_type: object, style: object) -> str:
    spec = style.style_for_token(token_type)  # type: ignore[attr-defined]
    css = []
    if spec.get("color"):
        css.append(f"color:#{spec['color']}")
    if spec.get("bold"):
        css.append("font-weight:600")
    if spec.get("italic"):
        css.append("font-style:italic")
    return ";".join(css)


def highlighted_lines(text: str, language: str | None, filename: str = "") -> list[str]:
    """One HTML string per line of ``text``, syntax-coloured by Pygments (inline styles, text escaped).

    >>> highlighted_lines("x = '<b>'\\n", "python")[0]
    'x <span style="color:#666666">=</span> <span style="color:#BA2121">&#x27;</span><span style="color:#BA2121">\
&lt;b&gt;</span><span style="color:#BA2121">&#x27;</span>'
    """
    from pygments.lexers import TextLexer, get_lexer_by_name, get_lexer_for_filename
    from pygments.styles import get_style_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language) if language else get_lexer_for_filename(filename)
    except ClassNotFound:
        lexer = TextLexer()
    lexer.stripnl = lexer.stripall = False
    lexer.ensurenl = False
    style = get_style_by_name("default")
    lines: list[list[str]] = [[]]
    for token_type, value in lexer.get_tokens(text):
        css = _style_of(token_type, style)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if piece:
                escaped = html.escape(piece)
                lines[-1].append(f'<span style="{css}">{escaped}</span>' if css else escaped)
    count = text.count("\n") + (0 if text.endswith("\n") else 1)
    return ["".join(parts) for parts in lines[:max(count, 1)]]


def code_html(text: str, *, language: str | None, filename: str, cited: tuple[int, int],
              quote: tuple[int, int] | None = None, symbol: str | None = None) -> str:
    """The whole file with real line numbers; the cited lines (and the quote's lines) marked, the first
    cited line the scroll target. ``cited`` and ``quote`` are 1-based inclusive line spans."""
    rows = []
    for number, body in enumerate(highlighted_lines(text, language, filename), 1):
        classes = ["docqa-line"]
        if cited[0] <= number <= cited[1]:
            classes.append("docqa-cited")
        if quote and quote[0] <= number <= quote[1]:
            classes.append("docqa-quote")
        if number == cited[0]:
            classes.append("docqa-target")
        rows.append(f'<div class="{" ".join(classes)}" data-line="{number}"><span class="docqa-ln">{number}</span>'
                    f'<span class="docqa-src">{body or " "}</span></div>')
    head = html.escape(filename) + (f" · {html.escape(symbol)}" if symbol else "")
    return (f'<div class="docqa-code" data-first="{cited[0]}" data-last="{cited[1]}" '
            f'data-symbol="{html.escape(symbol or "")}"><div class="docqa-code-head">{head} · lines '
            f'{cited[0]}–{cited[1]}</div><div class="docqa-scroll">{"".join(rows)}</div></div>')


def marked_html(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """``text`` escaped, with each ``(start, end, css_class)`` span wrapped in ``<span class>`` (spans may nest).

    >>> marked_html("a <b> quote here", [(2, 16, "docqa-passage"), (6, 11, "docqa-quote")])
    'a <span class="docqa-passage">&lt;b&gt; </span><span class="docqa-passage docqa-quote">quote</span>\
<span class="docqa-passage"> here</span>'
    """
    cuts = sorted({0, len(text), *(p for s, e, _ in spans for p in (s, e) if 0 <= p <= len(text))})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        classes = [c for s, e, c in spans if s <= a and b <= e]
        piece = html.escape(text[a:b])
        out.append(f'<span class="{" ".join(classes)}">{piece}</span>' if classes else piece)
    return "".join(out)


def text_html(doc_text: str, passage: tuple[int, int], quote: tuple[int, int] | None, *,
              context: int = CONTEXT_CHARS) -> str:
    """The passage in its surrounding text (whole lines, ``context`` characters each side), the quote marked
    and made the scroll target."""
    start = doc_text.rfind("\n", 0, max(0, passage[0] - context)) + 1
    end = doc_text.find("\n", min(len(doc_text), passage[1] + context))
    end = len(doc_text) if end < 0 else end
    spans = [(passage[0] - start, passage[1] - start, "docqa-passage")]
    if quote:
        spans.append((quote[0] - start, quote[1] - start, "docqa-quote docqa-target"))
    body = marked_html(doc_text[start:end], spans)
    return (f'<div class="docqa-text"><div class="docqa-scroll">{"… " if start else ""}{body}'
            f'{" …" if end < len(doc_text) else ""}</div></div>')


def table_cells(text: str) -> list[list[tuple[int, int]]]:
    """``[start, end)`` of each cell of each line of a table passage's text (cells parted by `` | ``).

    >>> table_cells("Region | Q1\\nNorth | 10")
    [[(0, 6), (9, 11)], [(12, 17), (20, 22)]]
    """
    rows, start = [], 0
    for line in text.split("\n"):
        cells, at = [], 0
        for piece in line.split(" | "):
            cells.append((start + at, start + at + len(piece)))
            at += len(piece) + 3
        rows.append(cells)
        start += len(line) + 1
    return rows


def header_row(passage: Passage) -> str:
    """The header row a table passage repeats in its header (the last `` · `` part holding `` | ``), or "".

    >>> header_row(Passage("p", "d", "m.xlsx", "R9 | 9", (0, 6), kind="table", header="m · Sheet1 · Region | Q1"))
    'Region | Q1'
    """
    last = passage.header.rsplit(" · ", 1)[-1]
    return last if " | " in last else ""


def row_numbers(place: Place | None, lines: int) -> list[str]:
    """The sheet row number of each line of a cell-range passage: all of them when its rows are consecutive,
    else the first and last (empty rows between are not in the text); "" for a passage without a cell range.

    >>> row_numbers(Place("cells", 12, 14), 3), row_numbers(Place("cells", 2, 9), 3), row_numbers(None, 2)
    (['12', '13', '14'], ['2', '', '9'], ['', ''])
    """
    if place is None or place.unit != "cells":
        return [""] * lines
    if place.last - place.first + 1 == lines:
        return [str(n) for n in range(place.first, place.last + 1)]
    return [str(place.first)] + [""] * (lines - 2) + [str(place.last)] if lines > 1 else [str(place.first)]


def sheet_html(passage: Passage, quote: tuple[int, int] | None) -> str:
    """A table passage (a sheet's cell range, a CSV's rows, a Word table) as an HTML table: the sheet's column
    letters and row numbers where its place gives them, its header row, every cited row marked, and the cells the
    quote (``[start, end)`` in the passage text) covers marked as the quote, the first made the scroll target."""
    from ingest.core.records import column_letters

    place = passage.place
    rows = table_cells(passage.text)
    width = max(len(r) for r in rows)
    head = header_row(passage)
    out = []
    if place is not None and place.columns is not None:
        first = place.columns[0]
        out.append("<tr><th></th>" + "".join(f"<th>{column_letters(first + i)}</th>" for i in range(width)) + "</tr>")
    if head:
        out.append('<tr class="docqa-head-row"><th></th>'
                   + "".join(f"<td>{html.escape(c)}</td>" for c in head.split(" | ")) + "</tr>")
    target = False
    for number, cells in zip(row_numbers(place, len(rows)), rows, strict=True):
        tds = []
        for a, b in cells:
            marked = quote is not None and a < quote[1] and quote[0] < b and a < b
            cls = "docqa-cell docqa-quote" + (" docqa-target" if not target else "") if marked else "docqa-cell"
            target = target or marked
            tds.append(f'<td class="{cls}">{html.escape(passage.text[a:b])}</td>')
        out.append(f'<tr class="docqa-cited" data-row="{number}"><th>{number}</th>{"".join(tds)}</tr>')
    data = (f' data-sheet="{html.escape(place.sheet)}" data-first="{place.first}" data-last="{place.last}"'
            if place is not None else "")
    return (f'<div class="docqa-sheet"{data}><div class="docqa-scroll"><table>{"".join(out)}</table></div></div>')


def quote_lines(doc_text: str, quote: tuple[int, int] | None) -> tuple[int, int] | None:
    """1-based lines of the quote in a text document.

    >>> quote_lines("a\\nbb\\nc", (2, 4))
    (2, 2)
    """
    return line_span(doc_text, *quote) if quote else None


def answer_html(text: str, numbers: Sequence[int], *, turn: int) -> str:
    """An answer's text, escaped, with each ``[n]`` of a known citation made a link (``data-cite="turn:n"``).

    >>> answer_html("It is <red> [1], [2, 9].", [1, 2], turn=0)
    '<div class="docqa-answer">It is &lt;red&gt; <a href="#" class="docqa-cite" data-cite="0:1">[1]</a>, \
[<a href="#" class="docqa-cite" data-cite="0:2">2</a>, 9].</div>'
    """
    from ingest.core.text import citation_markers

    known = set(numbers)

    def link(n: str, label: str) -> str:
        return f'<a href="#" class="docqa-cite" data-cite="{turn}:{n}">{label}</a>' if int(n) in known else label

    out, last = [], 0
    for m in citation_markers(text):
        out.append(html.escape(text[last:m.start()]))
        inner = m.group(1).strip()
        if inner.isdigit():
            out.append(link(inner, f"[{inner}]"))
        else:
            out.append("[" + "".join(link(p, p) if p.isdigit() else html.escape(p)
                                     for p in re.split(r"(\d+)", inner)) + "]")
        last = m.end()
    out.append(html.escape(text[last:]))
    return f'<div class="docqa-answer">{"".join(out)}</div>'


# -- names shown to users -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Names:
    """How sources are shown: files under an upload folder by their path inside it, never the server path."""

    roots: tuple[str, ...] = field(default=())

    def source(self, source: str) -> str:
        """The name to show for ``source``.

        >>> Names(("/srv/up",)).source("/srv/up/report.pdf"), Names(("/srv/up",)).source("docs/a.md")
        ('report.pdf', 'docs/a.md')
        """
        for root in self.roots:
            prefix = root.rstrip(os.sep) + os.sep
            if source.startswith(prefix):
                return source[len(prefix):]
        return source

    def label(self, passage: Passage) -> str:
        """``report.pdf p.3`` or ``src/x.py:10-42`` with the shown name."""
        shown = self.source(passage.source)
        return shown + passage.label[len(passage.source):]

    def scrub(self, text: str) -> str:
        """``text`` (an error, an answer) with every upload folder path removed.

        >>> Names(("/srv/up",)).scrub("/srv/up/a.pdf: cannot read PDF")
        'a.pdf: cannot read PDF'
        """
        for root in self.roots:
            text = text.replace(root.rstrip(os.sep) + os.sep, "").replace(root, "…")
        return text
