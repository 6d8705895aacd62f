"""PDF files into :class:`Document`s: text page by page, the file's title, and its outline as sections.

Two extractors read the pages. PDFium (``pypdfium2``, the default) is about twenty times faster than pypdf
on long reports and keeps a table row on one line; pypdf is the fallback for a file PDFium refuses to open
(and can be chosen outright with ``[ingest] pdf_extractor = "pypdf"``). Either way each page's text is
cleaned the same way, pages are joined by a blank line, and :attr:`Document.pages` maps every page to its
characters, so a passage's offsets always point back to the page it came from.

From the file itself come ``meta["title"]`` (the metadata title when it is a real title, not an editor's
default or a file name) and :attr:`Document.sections` (the outline, bounded in size, each entry placed at
its title on the page it points to). Neither can fail a load: a broken outline or metadata dictionary
costs only the sections or the title.

Document text is data: nothing read from a file is ever interpreted.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import PurePath
from typing import TYPE_CHECKING

from ingest.core.errors import CorruptFileError, EmptyDocumentError, PasswordError
from ingest.core.records import Document, PageSpan, Section
from ingest.core.settings import PdfExtractor
from ingest.loaders import clean_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ingest.ocr import OcrOptions, OcrRead, PageOcr

log = logging.getLogger(__name__)

MAX_OUTLINE_ENTRIES = 5000  # a hostile outline is cut here (real books have a few hundred)
MAX_OUTLINE_DEPTH = 12
MAX_TITLE_CHARS = 300

# PDFium is not thread-safe (not even across documents): one PDFium call sequence at a time in this process.
PDFIUM_LOCK = threading.RLock()

OutlineEntry = tuple[int, str, int | None]  # (level from 1, title, 0-based page index or None)


@dataclass(frozen=True, slots=True)
class PdfRead:
    """What an extractor read from one PDF, before cleaning.

    ``pages`` holds one raw string per page ("" for a page without text or one that failed),
    ``failed`` the 1-based numbers of pages that could not be read.
    """

    extractor: str  # "pdfium" or "pypdf"
    pages: tuple[str, ...]
    failed: tuple[int, ...] = ()
    title: str = ""  # the metadata title as stored (judged by meaningful_title)
    outline: tuple[OutlineEntry, ...] = ()
    first_error: str = ""  # why the first failed page failed
    mended: tuple[int, ...] = ()  # pages of a PDFium read whose text pypdf gave (mend_exploded)


Reader = Callable[[bytes, str, str | None], PdfRead]  # (data, source, password) -> what it read


class PdfiumRejected(Exception):
    """PDFium could not open the file (not a password problem): read it with pypdf instead."""


# -- pure pieces -------------------------------------------------------------------------------------------

def pdfium_page_text(raw: str) -> str:
    """A page of PDFium text cleaned like every loader's text (:func:`ingest.loaders.clean_text`, then
    stripped). PDFium marks a hyphen that splits a word at a line end with U+FFFE and drops the line
    break; the printed hyphen is kept.

    >>> pdfium_page_text("Cash and cash equiva\\ufffelents $ 5,794\\r\\nTotal \\x00 \\r\\n")
    'Cash and cash equiva-lents $ 5,794\\nTotal \\ufffd'
    """
    return clean_text(raw.replace("\ufffe", "-")).strip()


def pypdf_page_text(raw: str) -> str:
    """A page of pypdf text, cleaned and stripped (as it always was).

    >>> pypdf_page_text(" Cash\\r\\n$\\n5,794\\n")
    'Cash\\n$\\n5,794'
    """
    return clean_text(raw).strip()


def looks_exploded(raw: str) -> bool:
    """Whether PDFium broke a page into one character per line, as it does for the odd page whose glyphs are
    placed one by one (0.2% of the pages of 35 10-K/10-Q filings): at least 20 lines, most of them at most
    two characters long.

    >>> looks_exploded("\\r\\n".join("RINC Ltd. Israel, Salpak Pty Ltd.")), looks_exploded("Item 7.\\r\\nRevenue.")
    (True, False)
    """
    lines = [line.strip() for line in raw.replace("\r", "\n").split("\n") if line.strip()]
    return len(lines) >= 20 and sum(1 for line in lines if len(line) <= 2) > len(lines) / 2


def join_pages(texts: Sequence[str]) -> tuple[str, tuple[PageSpan, ...], tuple[int, ...]]:
    """Cleaned page texts joined by a blank line: the text, each non-empty page's span, the empty pages.

    >>> join_pages(["one", "", "three"])
    ('one\\n\\nthree', (PageSpan(number=1, start=0, end=3), PageSpan(number=3, start=5, end=10)), (2,))
    """
    parts: list[str] = []
    spans: list[PageSpan] = []
    empty: list[int] = []
    offset = 0
    for number, text in enumerate(texts, start=1):
        if not text:
            empty.append(number)
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        spans.append(PageSpan(number, offset, offset + len(text)))
        parts.append(text)
        offset += len(text)
    return "".join(parts), tuple(spans), tuple(empty)


def clean_title(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Text as one line: control and format characters dropped, whitespace runs made one space, at most
    ``limit`` characters.

    >>> clean_title("  Annual\\r\\n Report\\x00 2023 \\ufeff")
    'Annual Report 2023'
    """
    kept = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:limit].strip()


_EDITOR_PREFIX = re.compile(r"^(microsoft\s+(word|powerpoint|excel|office\s+\w+)|word|powerpoint|excel)\s*-\s*", re.I)
_PLACEHOLDER = re.compile(
    r"(untitled|unnamed|no\s*title|title|document|doc|presentation|powerpoint\s+presentation|slide|"
    r"new\s+document|none|null|unknown|default|n/?a|draft|blank|test)[\s_\-]*\d*", re.I)
_FILE_SUFFIX = re.compile(
    r"\.(pdf|docx?|dotx?|pptx?|xlsx?|rtf|odt|odp|txt|md|tex|dvi|e?ps|indd|qxd|qxp|p65|pm\d|fm|wpd|pages|key|"
    r"numbers|html?|xml|ai|psd|tiff?|jpe?g|png|gif|bmp|vsdx?|pub|sxw|wps|xps|cdr)$", re.I)


def meaningful_title(raw: str, source: str = "") -> str | None:
    """The metadata title when it names the document; None for an empty title, an editor's default
    ("Untitled", "PowerPoint Presentation", "Microsoft Word - notes.docx"), a file name or path, the
    file's own name, or something without a letter.

    >>> meaningful_title("  Row and Column Access Control Support in IBM DB2 for i ")
    'Row and Column Access Control Support in IBM DB2 for i'
    >>> [meaningful_title(t, "reports/q3_report.pdf") for t in ("Microsoft Word - Q3 report.docx",
    ...  "PowerPoint Presentation", "Untitled-1", "C:\\\\work\\\\q3.pdf", "q3 report", "123-45", "ACME_10K_2019", "")]
    [None, None, None, None, None, None, None, None]
    """
    title = clean_title(raw)
    if len(title) < 3 or not any(ch.isalpha() for ch in title):
        return None
    if _EDITOR_PREFIX.match(title) or _PLACEHOLDER.fullmatch(title) or _FILE_SUFFIX.search(title):
        return None
    if " " not in title and ("/" in title or "\\" in title or "_" in title):  # a path or a file-name-like token
        return None
    if source and _name_key(title) == _name_key(PurePath(source.replace("\\", "/")).stem):
        return None
    return title


def _name_key(text: str) -> str:
    """Letters and digits only, lower case: "Q3_report" and "q3 report" are one name."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


_NUMBERING = re.compile(r"^\s*(?:(?:\d+[.)]?)+|[ivxlc]+[.)]|[A-Z][.)]|(?:chapter|part|section|item)\s+\w+[.:]?)\s+",
                        re.I)


def title_offset(page_text: str, title: str) -> int | None:
    """Where ``title`` is printed on a page: the first occurrence that starts a line, else the first
    anywhere, matched case-insensitively with any whitespace between words; then the same without a
    leading number ("2.1 Scope" is printed "Scope"). None when it is not on the page.

    >>> title_offset("Running head: Scope\\n2.1  SCOPE\\nThe scope is...", "2.1 Scope")
    20
    >>> title_offset("Intro\\n\\nScope of work", "3 Scope of work"), title_offset("nothing here", "Scope")
    (7, None)
    """
    tries = [title]
    bare = _NUMBERING.sub("", title, count=1)
    if bare != title and any(ch.isalpha() for ch in bare):
        tries.append(bare)
    for attempt in tries:
        words = attempt.split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.I)
        first: int | None = None
        for m in pattern.finditer(page_text):
            before = page_text[:m.start()].rstrip(" \t")
            if not before or before.endswith("\n"):
                return m.start()
            if first is None:
                first = m.start()
        if first is not None:
            return first
    return None


def outline_sections(outline: Iterable[OutlineEntry], text: str, spans: Sequence[PageSpan],
                     page_count: int) -> tuple[Section, ...]:
    """The outline as sections of ``text``, in text order.

    Each entry starts at its title on the page it points to when the title is printed there, else at that
    page's start (a page without text: the next page with text). An entry that points nowhere starts with
    its first child that points somewhere; one without children (a web link), one past the last text, and
    one without a title are left out.

    >>> text, spans, _ = join_pages(["Contents", "1 Intro\\nSome words", "Method in detail"])
    >>> outline = [(1, "Visit us on the web", None), (1, "Part A", None), (2, "1 Intro", 1), (2, "Method", 2),
    ...            (1, "Gone", 7), (1, " ", 0)]
    >>> [(s.level, s.title, s.start) for s in outline_sections(outline, text, spans, 3)]
    [(1, 'Part A', 10), (2, '1 Intro', 10), (2, 'Method', 30)]
    """
    by_number = {s.number: s for s in spans}
    resolved: list[tuple[int, str, int | None]] = []
    for level, raw_title, index in outline:
        title = clean_title(raw_title)
        if not title:
            continue
        start: int | None = None
        if index is not None and 0 <= index < page_count:
            span = by_number.get(index + 1)
            if span is not None:
                found = title_offset(text[span.start:span.end], title)
                start = span.start + (found if found is not None else 0)
            else:  # an empty page: the next page with text
                start = next((s.start for s in spans if s.number > index + 1), None)
                if start is None:
                    continue
        resolved.append((max(1, level), title, start))
    out: list[Section] = []
    pending: list[tuple[int, str]] = []
    for i, (level, title, start) in enumerate(resolved):
        if start is None:
            if i + 1 < len(resolved) and resolved[i + 1][0] > level:  # a parent: it starts with its children
                pending.append((level, title))
            continue
        out.extend(Section(lv, t, start) for lv, t in pending)
        pending.clear()
        out.append(Section(level, title, start))
    out.sort(key=lambda s: s.start)  # stable: outline order among equal starts
    return tuple(out)


def assemble(read: PdfRead, source: str, doc_id: str, ocr: Mapping[int, OcrRead] | None = None) -> Document:
    """The document from what an extractor read: cleaned pages joined, spans, empty pages, title, sections;
    a page OCR read (``ocr``, by page number) has OCR's text, and its words in :attr:`Document.ocr_pages`.

    :raises CorruptFileError: no page could be read.
    :raises EmptyDocumentError: no page has text.
    """
    ocr = ocr or {}
    count = len(read.pages)
    if read.failed and len(read.failed) == count:
        raise CorruptFileError(f"{source}: cannot read PDF ({read.first_error or 'no page could be read'})")
    if read.failed:
        log.warning("%s: %d of %d pages could not be read (%s): %s", source, len(read.failed), count,
                    read.first_error, list(read.failed))
    cleaned = [pdfium_page_text(raw) if read.extractor == "pdfium" and n not in read.mended else pypdf_page_text(raw)
               for n, raw in enumerate(read.pages, start=1)]
    for number, page in ocr.items():
        if page.text or not cleaned[number - 1]:  # force: a page OCR finds nothing on keeps its text layer
            cleaned[number - 1] = page.text
    read_by_ocr = tuple(ocr[n].page for n in sorted(ocr) if ocr[n].text and cleaned[n - 1] == ocr[n].text)
    text, spans, empty = join_pages(cleaned)
    if not spans:
        hint = "OCR found no words either" if ocr else 'scanned? set [ingest] ocr = "auto" and install tesseract-ocr'
        raise EmptyDocumentError(f"{source}: no extractable text on any of its {count} pages ({hint})")
    if empty:
        log.warning("%s: %d of %d pages have no extractable text: %s", source, len(empty), count, list(empty))
    if read_by_ocr:
        log.info("%s: %d pages read by OCR: %s", source, len(read_by_ocr), [p.number for p in read_by_ocr])
    meta = {"extractor": read.extractor}
    title = meaningful_title(read.title, source)
    if title:
        meta["title"] = title
    return Document(doc_id=doc_id, source=source, text=text, kind="pdf", pages=spans, empty_pages=empty,
                    page_count=count, meta=meta, sections=outline_sections(read.outline, text, spans, count),
                    ocr_pages=read_by_ocr)


def why(err: BaseException) -> str:
    """An exception as a short one-line reason.

    >>> why(ValueError("bad\\n  xref")), why(RecursionError())
    ('ValueError: bad xref', 'nested too deeply')
    """
    if isinstance(err, RecursionError):
        return "nested too deeply"
    text = " ".join(str(err).split())[:120]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def password_message(source: str, password: str | None) -> str:
    """The one-line error for a locked PDF, missing or wrong password alike for both extractors."""
    return (f"{source}: PDF is password-protected; "
            + ("wrong password" if password else "give the password with --password"))


# -- PDFium ------------------------------------------------------------------------------------------------

def read_pdfium(data: bytes, source: str, password: str | None) -> PdfRead:
    """Pages, title and outline through PDFium; every PDFium object is closed before returning.

    :raises PasswordError: the file needs a password, or another one.
    :raises PdfiumRejected: PDFium cannot open the file, or read none of its pages (read it with pypdf instead).
    """
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data, password=password or None)
        except pdfium.PdfiumError as err:
            if getattr(err, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
                raise PasswordError(password_message(source, password)) from err
            raise PdfiumRejected(why(err)) from err
        try:
            try:
                count = len(pdf)
            except (pdfium.PdfiumError, ValueError, OSError) as err:
                raise PdfiumRejected(why(err)) from err
            pages: list[str] = []
            failed: list[int] = []
            first_error = ""
            for index in range(count):
                try:  # one damaged page costs that page, not the document
                    pages.append(_pdfium_page(pdf, index))
                except (pdfium.PdfiumError, AssertionError, ValueError, IndexError, OSError, UnicodeError) as err:
                    failed.append(index + 1)
                    first_error = first_error or why(err)
                    pages.append("")
            if failed and len(failed) == count:
                raise PdfiumRejected(f"no page could be read ({first_error})")
            return PdfRead("pdfium", tuple(pages), tuple(failed), _pdfium_title(pdf, source),
                           _pdfium_outline(pdf, source), first_error)
        finally:
            pdf.close()


def _pdfium_page(pdf: object, index: int) -> str:
    """The raw text of one page (lone surrogates kept for :func:`clean_text` to mark)."""
    page = pdf[index]  # type: ignore[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_range(errors="surrogatepass")
        finally:
            textpage.close()
    finally:
        page.close()


def _pdfium_title(pdf: object, source: str) -> str:
    try:
        return pdf.get_metadata_value("Title") or ""  # type: ignore[attr-defined]
    except Exception as err:  # noqa: BLE001 - the title is optional; a broken info dictionary never fails a load
        log.debug("%s: no metadata title (%s)", source, why(err))
        return ""


def _pdfium_outline(pdf: object, source: str) -> tuple[OutlineEntry, ...]:
    """The bookmarks as (level, title, page index), at most :data:`MAX_OUTLINE_ENTRIES` of them."""
    out: list[OutlineEntry] = []
    try:
        toc = pdf.get_toc(max_depth=MAX_OUTLINE_DEPTH)  # type: ignore[attr-defined]
        for bookmark in islice(toc, MAX_OUTLINE_ENTRIES):
            try:
                title = bookmark.get_title()
            except (UnicodeError, ValueError, OSError):
                continue
            out.append((bookmark.level + 1, title[:MAX_TITLE_CHARS * 2], _bookmark_page(pdf, bookmark)))
    except Exception as err:  # noqa: BLE001 - the outline is optional; a broken one never fails a load
        log.warning("%s: outline left out after %d entries (%s)", source, len(out), why(err))
    return tuple(out)


def _bookmark_page(pdf: object, bookmark: object) -> int | None:
    """The 0-based page a bookmark points to: its destination, else its GoTo action's; None if neither."""
    import pypdfium2.raw as raw

    dest = bookmark.get_dest()  # type: ignore[attr-defined]
    if dest is not None:
        return dest.get_index()
    action = raw.FPDFBookmark_GetAction(bookmark)
    if not action or raw.FPDFAction_GetType(action) != raw.PDFACTION_GOTO:
        return None
    raw_dest = raw.FPDFAction_GetDest(pdf, action)
    if not raw_dest:
        return None
    index = raw.FPDFDest_GetDestPageIndex(pdf, raw_dest)
    return index if index >= 0 else None


# -- pypdf -------------------------------------------------------------------------------------------------

def pypdf_failures() -> tuple[type[BaseException], ...]:
    """What pypdf raises on damaged, hostile or unsupported PDFs (found by fuzzing: tests/fuzz).

    Besides its own errors (``LimitReachedError`` for cyclic objects and decompression bombs, ``ParseError``,
    ``PdfReadError``), ``DependencyError`` (JBIG2 without jbig2dec, AES without cryptography) and
    ``DeprecationError`` (an abbreviated filter name such as ``/Fl``, which pypdf 7 refuses), a broken
    file surfaces as assertion, lookup, type, arithmetic, decoding and recursion errors from deep inside
    the parser.
    """
    from pypdf.errors import DependencyError, DeprecationError, PyPdfError

    return (PyPdfError, DependencyError, DeprecationError, ValueError, LookupError, TypeError, AttributeError,
            AssertionError, ArithmeticError, RuntimeError, OSError, EOFError, zlib.error, struct.error)


def read_pypdf(data: bytes, source: str, password: str | None) -> PdfRead:
    """Pages, title and outline through pypdf.

    :raises PasswordError: the file needs a password, or another one.
    :raises CorruptFileError: pypdf cannot open the file.
    """
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    failures = pypdf_failures()
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are "encrypted" with an empty user password and open without one.
        if reader.is_encrypted and reader.decrypt(password or "") == 0:
            raise PasswordError(password_message(source, password))
        pages = reader.pages
        count = len(pages)
    except FileNotDecryptedError as err:
        raise PasswordError(password_message(source, None)) from err
    except NotImplementedError as err:
        raise CorruptFileError(f"{source}: unsupported PDF feature ({str(err)[:120]})") from err
    except failures as err:
        raise CorruptFileError(f"{source}: cannot read PDF ({why(err)})") from err

    texts: list[str] = []
    failed: list[int] = []
    first_error = ""
    for number in range(1, count + 1):
        try:  # one damaged page costs that page, not the document
            texts.append(pages[number - 1].extract_text() or "")
        except failures as err:
            failed.append(number)
            first_error = first_error or why(err)
            texts.append("")
    return PdfRead("pypdf", tuple(texts), tuple(failed), _pypdf_title(reader, source),
                   _pypdf_outline(reader, source), first_error)


def _pypdf_title(reader: object, source: str) -> str:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = meta.title if meta is not None else None
        return title if isinstance(title, str) else ""
    except Exception as err:  # noqa: BLE001 - the title is optional; a broken info dictionary never fails a load
        log.debug("%s: no metadata title (%s)", source, why(err))
        return ""


def _pypdf_outline(reader: object, source: str) -> tuple[OutlineEntry, ...]:
    """pypdf's outline flattened to (level, title, page index), bounded like PDFium's."""
    out: list[OutlineEntry] = []

    def walk(items: list[object], level: int) -> None:
        for item in items:
            if len(out) >= MAX_OUTLINE_ENTRIES:
                return
            if isinstance(item, list):
                if level < MAX_OUTLINE_DEPTH:
                    walk(item, level + 1)
                continue
            title = getattr(item, "title", None)
            if not isinstance(title, str):
                continue
            try:
                index = reader.get_destination_page_number(item)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - a destination that resolves to nothing points nowhere
                index = None
            out.append((level, title[:MAX_TITLE_CHARS * 2], index if isinstance(index, int) and index >= 0 else None))

    try:
        walk(reader.outline, 1)  # type: ignore[attr-defined]
    except Exception as err:  # noqa: BLE001 - the outline is optional; a broken one never fails a load
        log.warning("%s: outline left out after %d entries (%s)", source, len(out), why(err))
    return tuple(out)


def read_pypdf_pages(data: bytes, source: str, password: str | None, numbers: Sequence[int]) -> dict[int, str]:
    """The raw pypdf text of some pages (1-based ``numbers``); a page pypdf cannot read is left out, and so is
    every page when pypdf cannot open the file."""
    from pypdf import PdfReader

    failures = pypdf_failures()
    out: dict[int, str] = {}
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt(password or "") == 0:
            return out
        for number in numbers:
            try:
                out[number] = reader.pages[number - 1].extract_text() or ""
            except failures as err:
                log.debug("%s: pypdf cannot read page %d either (%s)", source, number, why(err))
    except failures + (NotImplementedError,) as err:
        log.debug("%s: pypdf cannot open it for the pages PDFium broke up (%s)", source, why(err))
    return out


PageReader = Callable[[bytes, str, str | None, Sequence[int]], dict[int, str]]


def mend_exploded(read: PdfRead, data: bytes, source: str, password: str | None, pages: PageReader) -> PdfRead:
    """``read`` (PDFium's) with each page it broke into single characters (:func:`looks_exploded`) replaced
    by pypdf's text of that page, where pypdf reads it whole; the extractor stays "pdfium"."""
    numbers = [n for n, raw in enumerate(read.pages, start=1) if looks_exploded(raw)]
    if not numbers:
        return read
    better = {n: text for n, text in pages(data, source, password, numbers).items()
              if text.strip() and not looks_exploded(text)}
    if not better:
        return read
    log.info("%s: pages %s read with pypdf (PDFium put one character per line)", source, sorted(better))
    texts = tuple(better.get(n, raw) for n, raw in enumerate(read.pages, start=1))
    return replace(read, pages=texts, mended=tuple(sorted(better)))


# -- the loader --------------------------------------------------------------------------------------------

def load_pdf(data: bytes, source: str, password: str | None, doc_id: str, *, extractor: PdfExtractor = "pdfium",
             pdfium: Reader = read_pdfium, pypdf: Reader = read_pypdf,
             pypdf_pages: PageReader = read_pypdf_pages, ocr: OcrOptions | None = None,
             ocr_pages: PageOcr | None = None) -> Document:
    """One PDF as a document, read by ``extractor``; a file PDFium refuses is read by pypdf, and so is a page
    PDFium breaks into one character per line (:func:`mend_exploded`).

    ``meta["extractor"]`` says which one produced the text. When PDFium asks for a (another) password,
    pypdf gives the verdict: the same password error for a locked file, "unsupported PDF feature" for an
    encryption scheme neither knows, or the text when pypdf can decrypt what PDFium cannot.

    :param pdfium: reads a file through PDFium (raises :class:`PdfiumRejected` to hand it to pypdf).
    :param pypdf: reads a file through pypdf.
    :param pypdf_pages: reads some pages through pypdf.
    :param ocr: which pages OCR reads (:mod:`ingest.ocr`; default: ``auto``, the pages with no text).
    :param ocr_pages: reads some pages by OCR (default :func:`ingest.ocr.ocr_pdf_pages`).
    :raises PasswordError: missing or wrong password.
    :raises CorruptFileError: damaged or unsupported file.
    :raises EmptyDocumentError: no page has text.
    """
    from ingest.ocr import OcrOptions, ocr_pdf_pages, pages_to_read

    def with_ocr(read: PdfRead) -> Document:
        options = ocr or OcrOptions()
        clean = pdfium_page_text if read.extractor == "pdfium" else pypdf_page_text
        numbers = pages_to_read([clean(raw) for raw in read.pages], read.failed, options.mode)
        found = (ocr_pages or ocr_pdf_pages)(data, source, password, numbers, options) if numbers else {}
        return assemble(read, source, doc_id, found)

    if extractor == "pdfium":
        try:
            read = pdfium(data, source, password)
            return with_ocr(mend_exploded(read, data, source, password, pypdf_pages))
        except PdfiumRejected as err:
            log.info("%s: PDFium cannot open it (%s); reading it with pypdf", source, err)
        except PasswordError:
            log.debug("%s: PDFium asks for a password; pypdf gives the verdict", source)
    return with_ocr(pypdf(data, source, password))

