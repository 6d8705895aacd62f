"""OCR of scanned PDF pages (ingest/ocr.py) with the real engine (Debian's tesseract-ocr): a page rendered by
PDFium from a generated PDF and degraded like a scan (rotation, noise, blur) is read back; ``ocr = "off"``
keeps today's behaviour; a question about a scanned page is answered with a citation of that page; and in
Debian's chromium the highlight of an OCR'd quote covers the quoted words on the page image (the words'
true places come from the born-digital PDF's character boxes, carried through the scan's rotation)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ingest.core.errors import EmptyDocumentError
from ingest.loaders import load_file
from ingest.ocr import OcrOptions
from tests.scans import SCAN_DPI, Scan, scan_pdf, word_recall

OVERVIEW = ("Annual report of the Osterby harbour board. This page is an overview of the year and of the "
            "board's members.")
HARBOUR = ("The lighthouse was painted red in 1931. The Harbor Light survey was funded by the Maritime Trust "
           "in 2019. Cargo tonnage rose by eleven percent compared with the previous winter, mostly grain and "
           "timber. Repairs to the eastern breakwater were finished ahead of schedule.")
QUOTE = "funded by the Maritime Trust in 2019"
OTHER = "painted red in 1931"


def _need_tesseract() -> None:
    if shutil.which("tesseract") is None:
        why = "OCR tests need tesseract (apt-get install tesseract-ocr; .ci/setup does)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI=true)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """born.pdf (two born-digital A5 pages), scan.pdf (both scanned), mixed.pdf (page 1 born-digital, page 2
    its scan)."""
    _need_tesseract()
    import pypdfium2 as pdfium
    from fpdf import FPDF

    home = tmp_path_factory.mktemp("scans")
    pdf = FPDF(format=(148, 210))  # A5, in mm
    pdf.set_font("Helvetica", size=12)
    for text in (OVERVIEW, HARBOUR):
        pdf.add_page()
        pdf.multi_cell(0, 7, text)
    born = home / "born.pdf"
    pdf.output(str(born))
    scan = home / "scan.pdf"
    layout = scan_pdf(born, scan)
    mixed_pdf = pdfium.PdfDocument.new()
    mixed_pdf.import_pages(pdfium.PdfDocument(str(born)), [0])
    mixed_pdf.import_pages(pdfium.PdfDocument(str(scan)), [1])
    mixed = home / "harbour-board.pdf"
    mixed_pdf.save(str(mixed))
    return {"home": home, "born": born, "scan": scan, "mixed": mixed, "layout": layout}


def test_ocr_reads_a_degraded_scan_with_word_boxes(scans: dict[str, Any]) -> None:
    doc = load_file(scans["scan"])
    assert [p.number for p in doc.ocr_pages] == [1, 2] and not doc.empty_pages
    for truth, span, page in zip((OVERVIEW, HARBOUR), doc.pages, doc.ocr_pages, strict=True):
        text = doc.text[span.start:span.end]
        assert word_recall(truth, text) >= 0.95, text
        assert page.engine.startswith("tesseract ") and 0.5 < page.confidence <= 1
        assert [text[w.start:w.end] for w in page.words] == text.split()  # every word, in text order
        width, height = 148 / 25.4 * 72, 210 / 25.4 * 72  # A5 in points
        for w in page.words:
            left, bottom, right, top = w.box
            assert 0 <= left < right <= width and 0 <= bottom < top <= height, w


def test_ocr_off_keeps_pages_without_text_empty(scans: dict[str, Any]) -> None:
    off = OcrOptions("off")
    doc = load_file(scans["mixed"], ocr=off)
    assert doc.empty_pages == (2,) and not doc.ocr_pages and " ".join(doc.text.split()) == OVERVIEW
    with pytest.raises(EmptyDocumentError, match=r"scan\.pdf: no extractable text on any of its 2 pages"):
        load_file(scans["scan"], ocr=off)
    forced = load_file(scans["mixed"], ocr=OcrOptions("force"))  # force: every page, text layer or not
    assert [p.number for p in forced.ocr_pages] == [1, 2] and word_recall(OVERVIEW, forced.text) >= 0.95
    auto = load_file(scans["mixed"])  # auto: only the page without text is read by OCR
    assert [p.number for p in auto.ocr_pages] == [2] and auto.text.startswith(doc.text + "\n\n")
    assert word_recall(HARBOUR, auto.text[len(doc.text):]) >= 0.95


@pytest.mark.slow
def test_question_about_a_scanned_page_cites_it(scans: dict[str, Any], tmp_path: Path) -> None:
    from app import Index, Settings
    from app.cli import main

    index = Index.build([scans["mixed"]], tmp_path / "idx", settings=Settings())
    result = index.ask("Who funded the Harbor Light survey?")
    assert "Maritime Trust" in result.text, result.text
    cited = [c for c in result.citations if c.passage.page == 2]
    assert cited, (result.text, [c.label for c in result.citations])
    assert cited[0].passage.ocr is not None and cited[0].passage.ocr.engine.startswith("tesseract")
    assert 0.5 < cited[0].passage.ocr.confidence <= 1
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["status", "--index", str(tmp_path / "idx")]) == 0
    assert "1 read by OCR: [2]" in out.getvalue(), out.getvalue()


def _true_word_boxes(born: Path, page: int, words: str, scan: Scan) -> list[tuple[float, float, float, float]]:
    """Where each character of ``words`` is on the scanned image (pixels): the born-digital PDF's character
    boxes, carried through the scan's rotation."""
    import pypdfium2 as pdfium

    from app.ui_viewer import pdfium_text

    pdf = pdfium.PdfDocument(str(born))
    try:
        height = pdf[page - 1].get_height()
        textpage = pdf[page - 1].get_textpage()
        text = pdfium_text(textpage)
        m = re.search(r"\s+".join(map(re.escape, words.split())), text)
        assert m is not None, text
        out = []
        for i in range(m.start(), m.end()):
            if text[i].isspace():
                continue
            left, bottom, right, top = textpage.get_charbox(i)
            corners = [scan.to_scan_pixels(x, y, height) for x in (left, right) for y in (bottom, top)]
            out.append((min(x for x, _ in corners), min(y for _, y in corners), max(x for x, _ in corners),
                        max(y for _, y in corners)))
        return out
    finally:
        pdf.close()


@pytest.mark.slow
def test_browser_highlight_of_an_ocr_quote_covers_the_words_on_the_image(scans: dict[str, Any]) -> None:
    from tests.test_ui_browser import CHROMIUM, _need_browser

    _need_browser()
    from playwright.sync_api import sync_playwright

    from app.ui_viewer import page_html, quote_boxes, render_page

    path = scans["mixed"]
    doc = load_file(path)
    span = doc.pages[1]
    start = span.start + doc.text[span.start:span.end].index(QUOTE.split()[0])
    end = span.start + doc.text[span.start:span.end].index(QUOTE.split()[-1]) + len(QUOTE.split()[-1])
    boxes, note = quote_boxes(path, doc, 2, start, end)
    assert boxes and not note
    view = render_page(path, 2, boxes)
    assert view.pixel_boxes
    html = f"<html><body style='margin:0'><div style='width:900px'>{page_html(view)}</div></body></html>"
    scan = scans["layout"][1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.set_content(html)
            page.wait_for_function("document.querySelector('.docqa-page-img').complete")
            image = page.locator(".docqa-page-img").bounding_box()
            highlights = [page.locator(".docqa-highlight").nth(i).bounding_box()
                          for i in range(page.locator(".docqa-highlight").count())]
        finally:
            browser.close()
    scale = image["width"] / scan.width_px  # scanned-image pixels to screen pixels

    def on_screen(box: tuple[float, float, float, float]) -> tuple[float, float]:
        return image["x"] + scale * (box[0] + box[2]) / 2, image["y"] + scale * (box[1] + box[3]) / 2

    def covered(point: tuple[float, float]) -> bool:
        x, y = point
        return any(h["x"] - 1 <= x <= h["x"] + h["width"] + 1 and h["y"] - 1 <= y <= h["y"] + h["height"] + 1
                   for h in highlights)

    quoted = _true_word_boxes(scans["born"], 2, QUOTE, scan)
    assert all(covered(on_screen(box)) for box in quoted), (highlights, [on_screen(b) for b in quoted])
    assert not any(covered(on_screen(box)) for box in _true_word_boxes(scans["born"], 2, OTHER, scan))
    assert round(scan.width_px / (148 / 25.4)) == SCAN_DPI  # the scan's geometry is what the test assumes


def test_turning_ocr_on_rereads_only_pdfs(scans: dict[str, Any], tmp_path: Path) -> None:
    from ingest.core.settings import IngestSettings, SplitSettings
    from ingest.split import DocumentSplitter, ProseSplitter
    from retrieval.build import build_index
    from retrieval.plan import plan_build
    from retrieval.store import IndexReader, document
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    split = SplitSettings(chunk_tokens=60, overlap_tokens=5)
    splitter = DocumentSplitter(split, ProseSplitter(split, embedder.count_tokens))
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe harbour board meets on Tuesdays.\n")
    born = tmp_path / "born.pdf"  # every page has text: OCR "auto" would read it the same, so it is not re-read
    born.write_bytes(scans["born"].read_bytes())
    idx = tmp_path / "idx"
    off, auto = IngestSettings(ocr="off"), IngestSettings()
    build_index([scans["mixed"], note, born], idx, embedder=embedder, splitter=splitter, ingest=off)
    plan = plan_build([scans["mixed"], note, born], idx, embedder_id=embedder.identity(),
                      splitter_id=splitter.identity(), ingest=auto)
    reasons = {Path(f.source).name: (f.action, f.reason) for f in plan.files}
    assert reasons == {"harbour-board.pdf": ("update", "OCR setting changed (now auto, eng)"),
                       "note.md": ("skip", "unchanged"), "born.pdf": ("skip", "unchanged")}, reasons
    report = build_index([scans["mixed"], note, born], idx, embedder=embedder, splitter=splitter, ingest=auto)
    assert report.parsed == 1 and report.unchanged == 2
    reader = IndexReader(idx)
    try:
        doc = next(d for d in reader.documents() if d.source.endswith("harbour-board.pdf"))
        assert [p.number for p in doc.ocr_pages] == [2] and doc.empty_pages == ()
        assert document(reader, doc.doc_id) == doc  # the words' boxes come back whole
        scanned = [p for p in reader.document_passages(doc.doc_id) if p.page == 2]
        assert scanned and all(p.ocr is not None and p.ocr.engine.startswith("tesseract") for p in scanned)
        assert all(p.ocr is None for p in reader.document_passages(doc.doc_id) if p.page == 1)
    finally:
        reader.close()


def _burn_in_children(runs: int) -> int:
    """Run ``runs`` child processes that each burn 0.4 s of CPU (as Tesseract burns it, page by page)."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4:\n    pass\n"
    for _ in range(runs):
        subprocess.run([sys.executable, "-c", burn], check=True)
    return runs


def test_the_worker_bound_counts_the_cpu_time_of_the_programs_a_task_runs() -> None:
    from ingest.worker import BoundedWorker, BoundTripped

    with BoundedWorker(_burn_in_children, timeout_seconds=1.0, memory_mb=512) as worker:
        assert worker.run(1) == 1  # 0.4 s: within the bound
        with pytest.raises(BoundTripped) as tripped:
            worker.run(12)  # 4.8 s of the children's CPU, the worker itself asleep on them
    assert tripped.value.kind == "timeout" and "of CPU time" in tripped.value.reason, tripped.value.reason


def test_a_timed_out_pdf_says_ocr_counts_against_the_bound(tmp_path: Path) -> None:
    from ingest.read import _finish, _Job
    from ingest.worker import BoundTripped

    tripped = BoundTripped("timeout", "timed out: used its 60 s of CPU time (CPU 60.0 s, wall 75.2 s)")
    scan, text = tmp_path / "scan.pdf", tmp_path / "notes.txt"
    read = _finish(_Job(scan, None, 2**20), tripped, False, 75.2)
    assert read.outcome.outcome == "timeout" and "raise [ingest] timeout_seconds for a long scan" in read.outcome.reason
    off = _finish(_Job(scan, None, 2**20, ocr=OcrOptions("off")), tripped, False, 75.2)
    assert off.outcome.reason == tripped.reason
    assert _finish(_Job(text, None, 2**20), tripped, False, 75.2).outcome.reason == tripped.reason


def test_ocr_languages_are_checked(scans: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    from ingest.core.settings import IngestSettings

    with pytest.raises(ValueError, match="ocr_languages"):
        IngestSettings(ocr_languages="eng; rm -rf /")
    with pytest.raises(EmptyDocumentError, match=r"scan\.pdf: no extractable text"):
        load_file(scans["scan"], ocr=OcrOptions(languages="eng+zzz"))  # no model: nothing read, and why
    assert "no Tesseract model for zzz (Debian: apt-get install tesseract-ocr-zzz)" in caplog.text
