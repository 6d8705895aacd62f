"""A cited table cell, highlighted exactly on the rendered PDF page: from a generated 10-K (cover page and balance
sheet, laid out in columns) through ingest (``Table`` record), the index (fake embedder), the filings profile's
figures shortcut (no model call) and the citation's cells (the API form), to the viewer's boxes
(``app/ui_viewer.py``), checked against PDFium's own character boxes and the rectangles the PDF was drawn in."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from app.figures_stage import MODEL_NAME
from app.sdk import Index
from app.ui_viewer import Box, file_matches, highlight_range, page_pieces, quote_boxes, render_page
from ingest.core.records import Answer, Citation, Document, Passage
from ingest.core.serialize import quoted_cells
from ingest.core.settings import Settings
from ingest.core.tables import TableRow
from tests.fakes import FakeEmbedder, ScriptedLLM

ISSUER = "HARBORLIGHT INDUSTRIES, INC."
COVER = ("UNITED STATES", "SECURITIES AND EXCHANGE COMMISSION", "Washington, D.C. 20549", "FORM 10-K",
         "ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934",
         "For the fiscal year ended December 31, 2019", "Commission File Number 1-15839", ISSUER,
         "(Exact name of registrant as specified in its charter)", "Delaware 95-4803544")
ROWS = (("Current assets:", "", ""), ("Cash and cash equivalents", "$ 1,794", "$ 1,225"),
        ("Accounts receivable, net", "1,408", "1,353"), ("Inventories", "1,918", "2,292"),
        ("Total current assets", "5,120", "4,870"), ("Property and equipment, net", "2,530", "2,482"),
        ("Total assets", "$ 9,845", "$ 8,890"), ("Current liabilities:", "", ""),
        ("Accounts payable", "1,292", "1,253"), ("Accrued expenses", "1,623", "1,389"),
        ("Total current liabilities", "2,915", "2,642"), ("Long-term debt", "1,250", "1,750"),
        ("Total liabilities", "4,165", "4,392"))
LABEL, CELL, OTHER = "Total current liabilities", "2,915", "2,642"  # the row asked about; its 2019 and 2018 cells
PAGE = 2  # the balance sheet's page
QUESTION = "What is the FY2019 total current liabilities of Harborlight Industries?"


@dataclass(frozen=True)
class Filing:
    """The PDF and the rectangles (PDF points, origin bottom left) its balance sheet's rows were drawn in."""

    path: Path
    drawn: dict[tuple[str, str], Box]  # (row label, "label" | "2019" | "2018") -> the cell fpdf drew


def write_filing(path: Path) -> Filing:
    """A two-page 10-K: the cover the filings describer reads, then the balance sheet as three columns."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for line in COVER:
        pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.add_page()
    for line in (ISSUER, "CONSOLIDATED BALANCE SHEETS", "(In millions)"):
        pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT", align="C")
    drawn: dict[tuple[str, str], Box] = {}
    for label, current, prior in (("December 31,", "2019", "2018"), *ROWS):
        for column, text, width, align in (("label", label, 100, "L"), ("2019", current, 35, "R"),
                                           ("2018", prior, 35, "R")):
            x, y = pdf.get_x(), pdf.get_y()
            drawn[label, column] = Box(x * pdf.k, (pdf.h - y - 7) * pdf.k, (x + width) * pdf.k, (pdf.h - y) * pdf.k)
            pdf.cell(width, 7, text, align=align)
        pdf.ln(7)
    pdf.multi_cell(0, 6, "The accompanying notes are an integral part of these consolidated financial statements.")
    pdf.output(str(path))
    return Filing(path, drawn)


@dataclass(frozen=True)
class Indexed:
    filing: Filing
    index: Index
    llm: ScriptedLLM


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    """The filing indexed with the default profile (``auto``), a fake embedder and a model with no replies (any
    model call fails the test)."""
    root = tmp_path_factory.mktemp("filing")
    (root / "docs").mkdir()
    filing = write_filing(root / "docs" / "harborlight-2019-10k.pdf")
    llm = ScriptedLLM()
    settings = Settings().replace(ingest={"isolate": False})
    index = Index.build([root / "docs"], root / "idx", settings=settings, embedder=FakeEmbedder(), llm=llm)
    try:
        yield Indexed(filing, index, llm)
    finally:
        index.close()


def _document(indexed: Indexed) -> Document:
    (doc,) = indexed.index.documents()
    return doc


def _table_passage(indexed: Indexed) -> Passage:
    (table,) = [p for p in indexed.index.passages() if p.kind == "table"]
    return table


def _row(passage: Passage, label: str) -> TableRow:
    assert passage.table is not None
    return next(r for r in passage.table.rows if r.label == label)


def _pdfium_box(path: Path, page: int, text: str) -> Box:
    """The union of PDFium's character boxes of ``text``'s only occurrence on the page (PDFium's own search)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        textpage = pdf[page - 1].get_textpage()
        searcher = textpage.search(text, match_case=True)
        start, count = searcher.get_next()
        assert searcher.get_next() is None, f"{text!r} occurs more than once on page {page}"
        boxes = [Box(*textpage.get_charbox(i)) for i in range(start, start + count)]
    finally:
        pdf.close()
    out = boxes[0]
    for box in boxes[1:]:
        out = out.union(box)
    return out


def _text_in(path: Path, page: int, box: Box) -> str:
    """The text PDFium reads inside ``box`` on the page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return str(pdf[page - 1].get_textpage().get_text_bounded(box.left, box.bottom, box.right, box.top)).strip()
    finally:
        pdf.close()


def _overlaps(a: Box, b: Box) -> bool:
    return a.left < b.right and b.left < a.right and a.bottom < b.top and b.bottom < a.top


def _inside(inner: Box, outer: Box, slack: float = 0.01) -> bool:
    return (outer.left - slack <= inner.left and inner.right <= outer.right + slack
            and outer.bottom - slack <= inner.bottom and inner.top <= outer.top + slack)


def _highlight(indexed: Indexed, citation: Citation) -> tuple[tuple[int, int], list[Box]]:
    """What the UI's PDF viewer draws for ``citation`` (``app/ui_chat.py::_pdf``): the range and its boxes."""
    doc = _document(indexed)
    where = highlight_range(citation)
    assert where is not None
    assert [s.number for s, _, _ in page_pieces(doc.pages, *where)] == [PAGE]
    boxes, why = quote_boxes(Path(doc.source), doc, PAGE, *where)
    assert why == "" and boxes
    return where, boxes


def _ask(indexed: Indexed, question: str) -> Answer:
    answer = indexed.index.ask(question)
    assert indexed.llm.calls == [] and answer.model == MODEL_NAME  # the figures shortcut, no model call
    figures = answer.stage("figures")
    assert figures is not None and figures.outcome == "ok"
    return answer


def test_the_filing_is_described_and_its_balance_sheet_is_one_table_record(indexed: Indexed):
    doc = _document(indexed)
    assert (doc.meta["issuer"], doc.meta["form"], doc.meta["period"]) == (ISSUER, "10-K", "FY2019")
    assert indexed.index.profile.name == "filings"  # auto: the filings profile recognises the index
    assert file_matches(Path(doc.source), doc.doc_id) and doc.kind == "pdf"
    table = _table_passage(indexed)
    assert table.page == PAGE and table.table is not None
    assert table.table.years == (2019, 2018) and table.table.scale == "million"
    row = _row(table, LABEL)
    assert [(c.text, c.value) for c in row.cells] == [(CELL, Decimal(2915)), (OTHER, Decimal(2642))]
    assert all(table.text[c.start:c.end] == c.text for c in row.cells)
    assert len([r for r in table.table.rows if r.cells]) == len([r for r in ROWS if r[1]])


def test_a_figures_answer_cites_the_cell_and_the_viewer_highlights_it(indexed: Indexed):
    answer = _ask(indexed, QUESTION)
    assert answer.calculation is not None and answer.calculation.result == 2915
    table = _table_passage(indexed)
    (citation,) = answer.citations
    assert citation.passage.id == table.id and citation.quote_chars is not None

    # the citation carries the cell, in the records and in the API form (HTTP, CLI --json, MCP)
    row = _row(table, LABEL)
    cell = row.cells[0]
    assert (row, cell) in citation.passage.table.cells_in(*citation.quote_chars)  # type: ignore[union-attr]
    (cited,) = answer.to_dict()["citations"]
    assert cited["cells"] == quoted_cells(citation)
    assert {"row": LABEL, "text": CELL, "chars": [cell.start, cell.end], "value": "2915"} in cited["cells"]

    # the viewer's range starts at the cell, not at the row's label
    doc = _document(indexed)
    (start, end), boxes = _highlight(indexed, citation)
    assert doc.text[start:end].startswith(CELL) and start == table.chars[0] + cell.start

    # its boxes cover every character box PDFium gives the cell, and none of the label's
    path = Path(doc.source)
    cell_box, label_box = _pdfium_box(path, PAGE, CELL), _pdfium_box(path, PAGE, LABEL)
    assert any(_inside(cell_box, b) for b in boxes)
    assert not any(_overlaps(b, label_box) for b in boxes)
    assert not any(_overlaps(b, indexed.filing.drawn[LABEL, "label"]) for b in boxes)
    assert abs(min(b.left for b in boxes) - cell_box.left) < 0.01  # begins exactly where the cell's ink does


def test_a_figures_answer_leaves_the_other_years_cell_unhighlighted(indexed: Indexed):
    (citation,) = _ask(indexed, QUESTION).citations
    _, boxes = _highlight(indexed, citation)
    other = _pdfium_box(Path(_document(indexed).source), PAGE, OTHER)
    assert not any(_overlaps(b, other) for b in boxes)


@pytest.mark.parametrize("quoted", ["cell", "label and cell"])
def test_a_quoted_cell_is_highlighted_exactly_and_alone(indexed: Indexed, quoted: str):
    """A quote of one cell (a model's citation located by the citation check), alone or after its row label:
    one box, PDFium's own box of the cell, in the column it was drawn in; neither the label nor the 2018 cell."""
    table = _table_passage(indexed)
    row = _row(table, LABEL)
    cell = row.cells[0]
    start = cell.start if quoted == "cell" else row.start
    citation = Citation(1, table, table.text[start:cell.end], (start, cell.end), supported=True)
    assert [c["text"] for c in quoted_cells(citation)] == [CELL]
    where, boxes = _highlight(indexed, citation)
    assert where == (table.chars[0] + cell.start, table.chars[0] + cell.end)

    path, drawn = indexed.filing.path, indexed.filing.drawn
    cell_box = _pdfium_box(path, PAGE, CELL)
    (box,) = boxes  # one box for the one printed line (the comma does not cut it)
    assert all(abs(a - b) < 0.01 for a, b in zip((box.left, box.bottom, box.right, box.top),
                                                   (cell_box.left, cell_box.bottom, cell_box.right, cell_box.top),
                                                   strict=True))
    assert _text_in(path, PAGE, box) == CELL
    assert _inside(box, drawn[LABEL, "2019"])  # inside the 2019 column of its row, as the PDF was drawn
    for text, column in ((LABEL, "label"), (OTHER, "2018")):
        assert not _overlaps(box, _pdfium_box(path, PAGE, text)) and not _overlaps(box, drawn[LABEL, column])

    # the rendered page draws it there and nowhere else
    from PIL import Image, ImageChops

    view = render_page(path, PAGE, boxes)
    plain = render_page(path, PAGE)
    assert view.boxes == (box,) and view.note == "" and len(view.pixel_boxes) == 1
    x0, y0, x1, y1 = view.pixel_boxes[0]
    changed = ImageChops.difference(Image.open(io.BytesIO(view.png)).convert("RGB"),
                                    Image.open(io.BytesIO(plain.png)).convert("RGB")).getbbox()
    assert changed is not None
    pad = 4  # the outline is drawn 2 px outside the box, 2 px wide
    assert x0 - pad <= changed[0] and y0 - pad <= changed[1] and changed[2] <= x1 + pad and changed[3] <= y1 + pad
