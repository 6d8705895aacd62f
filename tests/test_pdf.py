"""PDF loading (ingest.pdf): PDFium and pypdf agree page by page, passwords, empty pages, the metadata title,
the outline as sections, exact provenance, and the fall back to pypdf for a file PDFium refuses."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ingest.core.errors import CorruptFileError, EmptyDocumentError, PasswordError
from ingest.core.settings import SplitSettings
from ingest.loaders import document_id, load_file
from ingest.pdf import (
    MAX_OUTLINE_ENTRIES,
    PdfiumRejected,
    PdfRead,
    load_pdf,
    meaningful_title,
    read_pdfium,
    read_pypdf,
)
from tests.conftest import write_pdf
from tests.fakes import FakeEmbedder
from tests.fuzz.pdfs import page_objects, raw_pdf, stream

EXTRACTORS = ("pdfium", "pypdf")
PAGES = [
    "The harbour master logs every ship that enters the port. Lantern oil is stored in the north shed, "
    "away from the copper wire and the signal flags.",
    "",
    "Tide tables for March:\nHigh water 06:14 and 18:40.\nLow water 00:02 and 12:27.",
    "The keeper, Ida Marsh, was paid 41 shillings a week; the assistant earned 27.",
]


def words(text: str) -> list[str]:
    return text.split()


def build_pdf(path: Path, sections: list[tuple[int, str, str]], *, title: str | None = None) -> Path:
    """One page per (level, heading, body): the heading printed above the body and put in the outline."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    if title is not None:
        pdf.set_title(title)
    for level, heading, body in sections:
        pdf.add_page()
        if body:
            pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
        pdf.start_section(heading, level=level)
        pdf.multi_cell(0, 6, heading.upper() if level == 0 else heading, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, "Text under the heading follows here.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def rootless_pdf() -> bytes:
    """A file whose trailer names a catalog that does not exist: PDFium refuses it, pypdf finds the catalog."""
    content = b"BT /F1 12 Tf 72 700 Td (Harbour lantern ledger) Tj ET"
    return raw_pdf(page_objects(content)[:4] + [stream(content)], root=9)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_pages_numbers_and_empty_pages(make_pdf, extractor: str):
    doc = load_file(make_pdf("r.pdf", PAGES), pdf_extractor=extractor)
    assert doc.meta["extractor"] == extractor
    assert doc.page_count == 4 and doc.empty_pages == (2,)
    assert [s.number for s in doc.pages] == [1, 3, 4]
    assert doc.text[doc.pages[1].start:doc.pages[1].end].startswith("Tide tables for March:\nHigh water")
    assert all(doc.text[s.end:s.end + 2] == "\n\n" for s in doc.pages[:-1])  # pages joined by a blank line
    assert doc.page_at(doc.text.index("Ida Marsh")) == 4
    assert "\r" not in doc.text


def test_pdfium_and_pypdf_agree_page_by_page(tmp_path: Path):
    pages = PAGES + ["Ledger: copper 12, quartz 7, marble 3.\n" * 30, "A single line on the last page."]
    path = write_pdf(tmp_path / "agree.pdf", pages)
    a, b = (load_file(path, pdf_extractor=x) for x in EXTRACTORS)
    assert (a.page_count, a.empty_pages, [s.number for s in a.pages]) == \
        (b.page_count, b.empty_pages, [s.number for s in b.pages])
    for sa, sb in zip(a.pages, b.pages, strict=True):
        assert words(a.text[sa.start:sa.end]) == words(b.text[sb.start:sb.end]), sa.number


def test_a_table_row_stays_on_one_line(tmp_path: Path):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    with pdf.table() as table:
        for row in (("Item", "2023", "2022"), ("Cash and cash equivalents", "$ 5,794", "$ 4,225")):
            cells = table.row()
            for cell in row:
                cells.cell(cell)
    pdf.output(str(tmp_path / "table.pdf"))
    lines = load_file(tmp_path / "table.pdf").text.split("\n")
    assert any(all(part in line for part in ("Cash and cash equivalents", "5,794", "4,225")) for line in lines)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_no_text_at_all_is_an_error(make_pdf, extractor: str):
    with pytest.raises(EmptyDocumentError, match=r"blank\.pdf: no extractable text on any of its 2 pages"):
        load_file(make_pdf("blank.pdf", ["", ""]), pdf_extractor=extractor)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_password_missing_wrong_and_right(make_pdf, extractor: str):
    path = make_pdf("locked.pdf", ["Secret page about the vault code."], password="1234")
    with pytest.raises(PasswordError, match=r"^.*locked\.pdf: PDF is password-protected; give the password with "
                                            r"--password$"):
        load_file(path, pdf_extractor=extractor)
    with pytest.raises(PasswordError, match=r"locked\.pdf: PDF is password-protected; wrong password$"):
        load_file(path, password="nope", pdf_extractor=extractor)
    doc = load_file(path, password="1234", pdf_extractor=extractor)
    assert doc.text == "Secret page about the vault code." and doc.meta["extractor"] == extractor


def test_pypdf_gives_the_verdict_when_pdfium_asks_for_a_password():
    asked: list[str | None] = []

    def pypdf(data: bytes, source: str, password: str | None) -> PdfRead:
        asked.append(password)
        return read_pypdf(data, source, password)

    data = write_pdf_bytes(["Locked."], password="pw")
    with pytest.raises(PasswordError, match=r"^x\.pdf: PDF is password-protected; wrong password$"):
        load_pdf(data, "x.pdf", "bad", "id", pypdf=pypdf)
    assert asked == ["bad"]
    assert load_pdf(data, "x.pdf", "pw", "id", pypdf=pypdf).meta["extractor"] == "pdfium" and asked == ["bad"]
    broken = data.replace(b"/V 4", b"/V 99")  # an encryption scheme nobody knows: not a password problem
    assert broken != data
    with pytest.raises(CorruptFileError, match=r"^x\.pdf: unsupported PDF feature"):
        load_pdf(broken, "x.pdf", None, "id")


def write_pdf_bytes(pages: list[str], *, password: str | None = None) -> bytes:
    from tests.fuzz.pdfs import fpdf_bytes

    return fpdf_bytes(pages, password=password)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_metadata_title_when_meaningful(tmp_path: Path, extractor: str):
    def title_of(title: str) -> str | None:  # the loader's own verdict (load_file adds titles from the text too)
        data = build_pdf(tmp_path / "t.pdf", [(0, "Overview", "")], title=title).read_bytes()
        return load_pdf(data, "reports/q3_review.pdf", None, "id", extractor=extractor).meta.get("title")

    assert title_of("Harbour Authority Annual Review 1911") == "Harbour Authority Annual Review 1911"
    for junk in ("Microsoft Word - review.docx", "PowerPoint Presentation", "", "   ", "q3_review.pdf", "b",
                 "Q3 Review", "Untitled-3"):
        assert title_of(junk) is None, junk
    assert meaningful_title("Annual\x00 review\n of the port", "x.pdf") == "Annual review of the port"


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_outline_becomes_sections_at_their_printed_titles(tmp_path: Path, extractor: str):
    path = build_pdf(tmp_path / "o.pdf", [
        (0, "Overview", ""),
        (1, "1.1 Lantern fuel", "Running text that mentions lanterns first."),
        (1, "1.2 Signal flags", ""),
        (0, "Finances", "Income rose in the second year."),
    ])
    doc = load_file(path, pdf_extractor=extractor)
    assert [(s.level, s.title) for s in doc.sections] == [
        (1, "Overview"), (2, "1.1 Lantern fuel"), (2, "1.2 Signal flags"), (1, "Finances")]
    for section in doc.sections:  # each starts at its heading, matched case-insensitively
        assert doc.text[section.start:section.start + len(section.title)].lower() == section.title.lower()
    assert [doc.page_at(s.start) for s in doc.sections] == [1, 2, 3, 4]
    assert [s.start for s in doc.sections] == sorted(s.start for s in doc.sections)


def test_a_section_whose_title_is_not_printed_starts_at_its_page(tmp_path: Path):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    for heading, text in (("Front matter", "Preface text."), ("Appendix B", "Tables of tides.")):
        pdf.add_page()
        pdf.start_section(heading)
        pdf.multi_cell(0, 6, text)
    pdf.output(str(tmp_path / "p.pdf"))
    doc = load_file(tmp_path / "p.pdf")
    assert [(s.title, s.start) for s in doc.sections] == [("Front matter", 0), ("Appendix B", doc.pages[1].start)]


def hostile_outline_pdf(*, cycle: bool, count: int = 3) -> bytes:
    """One page; an outline of ``count`` items chained by /Next, the last pointing back at the first if ``cycle``."""
    content = b"BT /F1 12 Tf 72 700 Td (Harbour lantern ledger) Tj ET"
    objects = page_objects(content)[:4] + [stream(content)]
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R >>"
    first = 7
    objects.append(b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (first, first + count - 1, count))
    for i in range(count):
        number = first + i
        nxt = number + 1 if i + 1 < count else (first if cycle else None)
        link = b"/Next %d 0 R " % nxt if nxt else b""
        objects.append(b"<< /Title (Item %d) /Parent 6 0 R /Dest [3 0 R /Fit] %s>>" % (i, link))
    return raw_pdf(objects)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_a_cyclic_outline_neither_hangs_nor_fails_the_load(extractor: str, caplog):
    caplog.set_level(logging.ERROR)
    doc = load_pdf(hostile_outline_pdf(cycle=True), "cyclic.pdf", None, "id", extractor=extractor)
    assert doc.text == "Harbour lantern ledger"
    assert len(doc.sections) <= MAX_OUTLINE_ENTRIES
    assert {s.title for s in doc.sections} <= {"Item 0", "Item 1", "Item 2"}


def test_the_outline_is_bounded():
    doc = load_pdf(hostile_outline_pdf(cycle=False, count=MAX_OUTLINE_ENTRIES + 50), "long.pdf", None, "id")
    assert len(doc.sections) == MAX_OUTLINE_ENTRIES
    assert doc.text == "Harbour lantern ledger"


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_every_passage_points_back_at_its_text_and_page(tmp_path: Path, extractor: str):
    from app.factory import make_splitter

    pages = [" ".join(f"Sentence {i} on page {n} about the harbour ledger." for i in range(40)) for n in range(1, 4)]
    path = write_pdf(tmp_path / "long.pdf", pages[:1] + [""] + pages[1:])
    doc = load_file(path, pdf_extractor=extractor)
    passages = make_splitter(SplitSettings(chunk_tokens=40, overlap_tokens=8), FakeEmbedder()).split(doc)
    assert len(passages) > 6
    written_on = {1: 1, 3: 2, 4: 3}  # PDF page number -> the page string it was written from (page 2 is empty)
    seen = set()
    for p in passages:
        a, b = p.chars
        assert doc.text[a:b] == p.text
        for m in re.finditer(r"on page (\d)", p.text):  # every offset maps to the page it was printed on
            page = doc.page_at(a + m.start())
            assert page is not None and written_on[page] == int(m.group(1))
            seen.add(page)
    assert seen == {1, 3, 4}


def test_a_file_pdfium_refuses_is_read_by_pypdf(tmp_path: Path):
    data = rootless_pdf()
    with pytest.raises(PdfiumRejected):
        read_pdfium(data, "rootless.pdf", None)
    (tmp_path / "rootless.pdf").write_bytes(data)
    doc = load_file(tmp_path / "rootless.pdf")
    assert doc.text == "Harbour lantern ledger" and doc.meta["extractor"] == "pypdf"
    assert doc.doc_id == document_id(str(tmp_path / "rootless.pdf"), data)


def test_an_injected_pdfium_failure_falls_back_to_pypdf():
    calls: list[str] = []

    def refuses(data: bytes, source: str, password: str | None) -> PdfRead:
        calls.append(source)
        raise PdfiumRejected("injected")

    data = write_pdf_bytes(["Copper and quartz."])
    doc = load_pdf(data, "x.pdf", None, "id", pdfium=refuses)
    assert calls == ["x.pdf"] and doc.meta["extractor"] == "pypdf" and doc.text == "Copper and quartz."
    assert load_pdf(data, "x.pdf", None, "id", extractor="pypdf", pdfium=refuses).meta["extractor"] == "pypdf"
    assert calls == ["x.pdf"]  # pypdf chosen outright: PDFium is not asked


def test_a_file_both_refuse_gives_pypdfs_one_line_error(tmp_path: Path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n2 0 R\nendobj\n2 0 obj\n1 0 R\nendobj\n%%EOF")
    with pytest.raises((CorruptFileError, EmptyDocumentError), match=r"broken\.pdf: ") as info:
        load_file(tmp_path / "broken.pdf")
    assert "\n" not in str(info.value)


def test_pdfium_reads_pages_like_pypdf_on_damaged_page_numbers():
    read = read_pdfium(write_pdf_bytes(["One.", "", "Three."]), "x.pdf", None)
    assert (read.extractor, read.pages, read.failed) == ("pdfium", ("One.", "", "Three."), ())
    assert read_pypdf(write_pdf_bytes(["One.", "", "Three."]), "x.pdf", None).pages == ("One.", "", "Three.")


def test_a_page_pdfium_breaks_into_single_characters_is_read_by_pypdf():
    good = "Salpak Pty Ltd. Australia\nSeven Seas Foods, Inc. Delaware"
    exploded = "\r\n".join(good.replace(" ", "").replace("\n", ""))

    def pdfium(data: bytes, source: str, password: str | None) -> PdfRead:
        return PdfRead("pdfium", ("Subsidiaries of the company", exploded, "\r\n".join("short")))

    asked: list[list[int]] = []

    def pages(data: bytes, source: str, password: str | None, numbers) -> dict[int, str]:
        asked.append(list(numbers))
        return {2: good + "\r\n"}

    doc = load_pdf(b"%PDF-", "s.pdf", None, "id", pdfium=pdfium, pypdf_pages=pages)
    assert asked == [[2]]  # only the broken page, and not the short one of five lines
    assert doc.text == "Subsidiaries of the company\n\n" + good + "\n\ns\nh\no\nr\nt"
    assert doc.meta["extractor"] == "pdfium"
    kept = load_pdf(b"%PDF-", "s.pdf", None, "id", pdfium=pdfium, pypdf_pages=lambda *a: {2: exploded})
    assert kept.text.split("\n\n")[1] == exploded.replace("\r\n", "\n")  # pypdf no better: PDFium's text stays
