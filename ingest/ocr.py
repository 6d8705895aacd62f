"""OCR of scanned PDF pages: Tesseract (Debian's ``tesseract-ocr``, offline, on the CPU) reads a page image
into words with boxes and confidences.

Only pages that need it are read (``[ingest] ocr``): ``auto`` reads the pages with no extractable text (a
scanned page is an image), ``force`` every page (its text layer ignored), ``off`` none. A page is rendered by
PDFium at :data:`OCR_DPI`, Tesseract returns its words (TSV: block, paragraph, line, box, confidence, text),
and :func:`layout` lays them out as the page's text: one space between the words of a line, a line break
between lines, a blank line between paragraphs. Each word keeps its characters in that text and its box,
turned back into PDF points with PDFium's own device-to-page transform (rotation included), so the viewer
highlights a quote on a scanned page with the same geometry as on a born-digital one
(:class:`~ingest.core.records.OcrPage`).

Bounds: Tesseract is a child process of the reading worker (:mod:`ingest.worker`), started with one thread,
an address-space cap of ``memory_mb`` and a wall-clock limit of ``timeout_seconds`` per page; the worker
counts its children's CPU time against the file's bound. A page Tesseract cannot read (time-out, crash) is
left as it was, with a warning; a machine without Tesseract indexes as before OCR (pages stay empty) and
says how to install it.

Document text is data: the image's words are only ever stored and shown, never interpreted.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ingest.core.records import Document, OcrNote, OcrPage, OcrWord, Passage
from ingest.core.settings import OcrMode
from ingest.loaders import clean_text
from ingest.pdf import PDFIUM_LOCK, why

log = logging.getLogger(__name__)

OCR_DPI = 300  # Tesseract reads 10-12 pt print best at about 300 dpi
MAX_PIXELS = 36_000_000  # a page rendered larger is rendered at a lower resolution (A3 at 300 dpi: 17.4 Mpx)
LANGUAGES = "eng"
TESSERACT = "tesseract"
INSTALL_HINT = "install Tesseract (Debian: apt-get install tesseract-ocr) or set [ingest] ocr = \"off\""


class OcrUnavailable(Exception):
    """No OCR engine on this machine (the message says how to install one)."""


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """How pages are OCR'd: which (``mode``), and each page's bounds (the file's ``[ingest]`` bounds)."""

    mode: OcrMode = "auto"
    languages: str = LANGUAGES  # Tesseract's names joined by "+" ([ingest] ocr_languages)
    timeout_seconds: float = 60.0
    memory_mb: int = 2048
    dpi: int = OCR_DPI


@dataclass(frozen=True, slots=True)
class TsvWord:
    """One word of Tesseract's TSV output: its block, paragraph and line numbers, its box in image pixels
    (left, top, width, height), its confidence (0 to 1) and its text."""

    block: int
    paragraph: int
    line: int
    left: int
    top: int
    width: int
    height: int
    confidence: float
    text: str


@dataclass(frozen=True, slots=True)
class OcrRead:
    """What OCR read from one page: its text and the page's record (words with offsets into that text)."""

    text: str
    page: OcrPage


# -- pure pieces -------------------------------------------------------------------------------------------

def parse_tsv(tsv: str) -> list[TsvWord]:
    """The words of Tesseract's TSV output (level 5 rows with text), in reading order.

    >>> tsv = lambda rows: "\\n".join(["level page block par line word left top width height conf text", *rows])
    >>> rows = ["4 1 1 1 1 0 10 20 90 12 -1 ", "5 1 1 1 1 1 10 20 40 12 96.5 Cash", "5 1 1 1 1 2 55 20 45 12 91 flow",
    ...         "5 1 1 1 1 3 99 20 4 12 95 "]
    >>> [(w.text, w.left, w.confidence) for w in parse_tsv(tsv(r.replace(" ", "\\t") for r in rows))]
    [('Cash', 10, 0.965), ('flow', 55, 0.91)]
    """
    out: list[TsvWord] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = clean_text(cols[11]).strip()
        if not text:
            continue
        try:
            block, paragraph, line, left, top, width, height = (int(c) for c in cols[2:5] + cols[6:10])
            confidence = max(0.0, min(1.0, float(cols[10]) / 100))
        except ValueError:
            continue
        out.append(TsvWord(block, paragraph, line, left, top, width, height, round(confidence, 4), text))
    return out


def layout(words: Sequence[TsvWord]) -> tuple[str, list[tuple[int, int]]]:
    """The page's text from its words, and each word's ``[start, end)`` in it: words of one line joined by a
    space, lines by a line break, paragraphs and blocks by a blank line.

    >>> w = lambda b, p, l, t: TsvWord(b, p, l, 0, 0, 1, 1, 0.9, t)
    >>> text, spans = layout([w(1, 1, 1, "Net"), w(1, 1, 1, "sales"), w(1, 1, 2, "rose"), w(2, 1, 1, "Notes")])
    >>> text, spans
    ('Net sales\\nrose\\n\\nNotes', [(0, 3), (4, 9), (10, 14), (16, 21)])
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    previous: TsvWord | None = None
    for word in words:
        if previous is not None:
            if (word.block, word.paragraph) != (previous.block, previous.paragraph):
                sep = "\n\n"
            elif word.line != previous.line:
                sep = "\n"
            else:
                sep = " "
            parts.append(sep)
            offset += len(sep)
        parts.append(word.text)
        spans.append((offset, offset + len(word.text)))
        offset += len(word.text)
        previous = word
    return "".join(parts), spans


def render_dpi(width_pt: float, height_pt: float, dpi: int, max_pixels: int = MAX_PIXELS) -> float:
    """The resolution a page is rendered at: ``dpi``, or less when that would exceed ``max_pixels`` (a hostile
    or poster-sized page must not become a multi-gigabyte bitmap).

    >>> render_dpi(595, 842, 300), round(render_dpi(14400, 14400, 300), 2)
    (300, 30.0)
    """
    area = max(width_pt, 1.0) * max(height_pt, 1.0) / 72**2
    return dpi if area * dpi**2 <= max_pixels else (max_pixels / area) ** 0.5


def looks_blank(histogram: Sequence[int], *, dark: int = 160, share: float = 1e-4) -> bool:
    """Whether a greyscale page image (its 256-bin histogram) is blank: fewer than ``share`` of its pixels
    darker than ``dark``. Tesseract is not run on a blank page (a blank A4 page at 300 dpi is 8.7 million
    pixels of nothing to segment).

    >>> white = [0] * 255 + [1000]
    >>> looks_blank(white), looks_blank([0] * 20 + [50] + [0] * 234 + [950])
    (True, False)
    """
    total = sum(histogram)
    return total == 0 or sum(histogram[:dark]) < share * total


def pages_to_read(texts: Sequence[str], failed: Sequence[int], mode: OcrMode) -> list[int]:
    """The 1-based pages OCR reads: ``auto``: those with no text (a page that failed to load is not rendered
    either); ``force``: every page that loaded; ``off``: none.

    >>> pages_to_read(["text", "", "", " "], [3], "auto"), pages_to_read(["a", ""], [], "force")
    ([2, 4], [1, 2])
    """
    if mode == "off":
        return []
    bad = set(failed)
    return [n for n, text in enumerate(texts, start=1) if n not in bad and (mode == "force" or not text.strip())]


def mean(values: Sequence[float]) -> float:
    """The mean, 0.0 for nothing.

    >>> mean([0.9, 0.7]), mean([])
    (0.8, 0.0)
    """
    return round(sum(values) / len(values), 4) if values else 0.0


def note_ocr(doc: Document, passages: Sequence[Passage]) -> list[Passage]:
    """``passages`` of ``doc``, each one with text on an OCR'd page noted (:class:`OcrNote`: the engine and the
    mean confidence of its OCR'd words).

    >>> from ingest.core.records import PageSpan
    >>> page = OcrPage(1, "tesseract 5", 0.8, (OcrWord(0, 3, (0, 0, 1, 1), 0.9), OcrWord(4, 8, (0, 0, 1, 1), 0.7)))
    >>> doc = Document("d", "s.pdf", "Net rose", "pdf", pages=(PageSpan(1, 0, 8),), ocr_pages=(page,))
    >>> note_ocr(doc, [Passage("p", "d", "s.pdf", "Net rose", (0, 8), page=1)])[0].ocr
    OcrNote(engine='tesseract 5', confidence=0.8)
    """
    if not doc.ocr_pages:
        return list(passages)
    starts = {span.number: span.start for span in doc.pages}
    placed = [(page, starts[page.number]) for page in doc.ocr_pages if page.number in starts]
    out = []
    for p in passages:
        confidences: list[float] = []
        engine = ""
        for page, base in placed:
            inside = [w.confidence for w in page.words if base + w.start < p.chars[1] and p.chars[0] < base + w.end]
            if inside:
                confidences.extend(inside)
                engine = engine or page.engine
        out.append(replace(p, ocr=OcrNote(engine, mean(confidences))) if confidences else p)
    return out


# -- Tesseract ---------------------------------------------------------------------------------------------

@functools.cache
def tesseract_engine() -> str:
    """The engine's name and version, "tesseract 5.3.0".

    :raises OcrUnavailable: no ``tesseract`` on the PATH, or it does not run.
    """
    exe = shutil.which(TESSERACT)
    if exe is None:
        raise OcrUnavailable(f"no OCR engine: {INSTALL_HINT}")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        raise OcrUnavailable(f"tesseract does not run ({err}): {INSTALL_HINT}") from err
    m = re.search(r"tesseract\s+v?(\d[\w.\-]*)", out.stdout + out.stderr)
    return f"tesseract {m.group(1)}" if m else "tesseract"


@functools.cache
def installed_languages() -> frozenset[str]:
    """The languages Tesseract has models for here (``tesseract --list-langs``; empty when it does not run)."""
    exe = shutil.which(TESSERACT)
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())


def missing_languages(wanted: str, installed: frozenset[str]) -> list[str]:
    """The languages of ``wanted`` ("eng+deu") that have no model.

    >>> missing_languages("eng+deu+fra", frozenset({"eng", "fra", "osd"}))
    ['deu']
    """
    return [lang for lang in wanted.split("+") if lang not in installed]


def _child_limits(memory_mb: int) -> Callable[[], None]:
    def limit() -> None:  # runs in the child between fork and exec
        import resource
        import signal
        import sys

        if sys.platform.startswith("linux"):  # a worker killed over a bound takes its OCR with it
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        cap = memory_mb * 2**20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    return limit


def run_tesseract(image: Any, *, dpi: int, timeout_seconds: float, memory_mb: int, languages: str = LANGUAGES) -> str:
    """Tesseract's TSV of a greyscale PIL image, in one thread, under a wall-clock limit and a memory cap.

    :raises OcrUnavailable: no Tesseract.
    :raises subprocess.SubprocessError: it timed out or failed (the page is left unread).
    """
    exe = shutil.which(TESSERACT)
    if exe is None:
        raise OcrUnavailable(f"no OCR engine: {INSTALL_HINT}")
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # PGM for a greyscale image: no compression to pay for
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per file: the pool reads several files at once
    out = subprocess.run([exe, "stdin", "stdout", "-l", languages, "--psm", "3", "--dpi", str(dpi), "tsv"],
                         input=buffer.getvalue(), capture_output=True, timeout=timeout_seconds, check=True, env=env,
                         preexec_fn=_child_limits(memory_mb))  # noqa: PLW1509 - rlimits before exec, no threads used
    return out.stdout.decode("utf-8", "replace")


# -- pages of a PDF ----------------------------------------------------------------------------------------

PageOcr = Callable[[bytes, str, "str | None", Sequence[int], OcrOptions], Mapping[int, OcrRead]]


def ocr_pdf_pages(data: bytes, source: str, password: str | None, numbers: Sequence[int],
                  options: OcrOptions) -> dict[int, OcrRead]:
    """OCR of pages ``numbers`` (1-based) of a PDF: each page's text and words with boxes in PDF points.

    A page that cannot be rendered or read is left out with a warning; so is every page when there is no
    engine (one warning) or PDFium cannot open the file.
    """
    if not numbers or options.mode == "off":
        return {}
    try:
        engine = tesseract_engine()
        missing = missing_languages(options.languages, installed_languages())
        if missing:
            raise OcrUnavailable(f"no Tesseract model for {', '.join(missing)} (Debian: apt-get install "
                                 + " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
                                 + ")")
    except OcrUnavailable as err:
        log.warning("%s: %d pages without text left unread: %s", source, len(numbers), err)
        return {}
    import pypdfium2 as pdfium

    out: dict[int, OcrRead] = {}
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data, password=password or None)
        except pdfium.PdfiumError as err:
            log.warning("%s: cannot render pages for OCR (%s)", source, why(err))
            return {}
    try:
        for number in numbers:
            try:
                out[number] = _ocr_page(pdf, number, engine, options)
            except (pdfium.PdfiumError, subprocess.SubprocessError, OSError, ValueError, MemoryError) as err:
                log.warning("%s: page %d: OCR failed (%s); left as it was", source, number, why(err))
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    return out


def _ocr_page(pdf: Any, number: int, engine: str, options: OcrOptions) -> OcrRead:
    """One page rendered, read by Tesseract, laid out, and its word boxes put in PDF points."""
    with PDFIUM_LOCK:
        page = pdf[number - 1]
    try:
        with PDFIUM_LOCK:
            width_pt, height_pt = page.get_size()
            dpi = render_dpi(width_pt, height_pt, options.dpi)
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            image = bitmap.to_pil().convert("L")
            bitmap.close()
        size = image.size
        words = [] if looks_blank(image.histogram()) else parse_tsv(run_tesseract(
            image, dpi=max(1, round(dpi)), timeout_seconds=options.timeout_seconds, memory_mb=options.memory_mb,
            languages=options.languages))
        del image
        text, spans = layout(words)
        with PDFIUM_LOCK:
            boxes = [_to_points(page, w, size) for w in words]
    finally:
        with PDFIUM_LOCK:
            page.close()
    ocr_words = tuple(OcrWord(a, b, box, w.confidence) for (a, b), box, w in zip(spans, boxes, words, strict=True))
    return OcrRead(text, OcrPage(number, engine, mean([w.confidence for w in words]), ocr_words))


def _to_points(page: Any, word: TsvWord, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A word's pixel box as (left, bottom, right, top) in the page's points (PDFium's transform: rotation-aware)."""
    import ctypes

    import pypdfium2.raw as raw

    xs, ys = [], []
    for x, y in ((word.left, word.top), (word.left + word.width, word.top + word.height)):
        px, py = ctypes.c_double(), ctypes.c_double()
        raw.FPDF_DeviceToPage(page, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(px), ctypes.byref(py))
        xs.append(px.value)
        ys.append(py.value)
    return (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2))
