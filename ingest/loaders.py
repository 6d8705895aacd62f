"""Turn files into :class:`Document`s: PDF (page by page), text, Markdown, HTML, source code, and Word,
PowerPoint, Excel and CSV files (:mod:`ingest.office`).

Errors name the file and the problem in one line. Directories are walked
recursively; hidden and VCS folders are skipped, binary files are skipped and
reported rather than raising, so one odd file does not stop a corpus.

File names are kept as text that SQLite and a terminal accept: a name that is not valid
UTF-8 (a POSIX walk hands it over surrogate-escaped) is written with ``\\xNN`` escapes
(:func:`source_name`), and :func:`source_path` maps that text back to the file. A document's
id hashes its bytes and its name, so identical files under two paths are two documents.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.core.errors import (
    CorruptFileError,
    EmptyDocumentError,
    FileMissingError,
    FileTooLargeError,
    InputError,
    UnsupportedFileError,
)
from ingest.core.protocols import DocumentDescriber
from ingest.core.records import DocKind, Document, LoadReport
from ingest.core.settings import PdfExtractor
from ingest.office import OFFICE_SUFFIXES

if TYPE_CHECKING:
    from ingest.ocr import OcrOptions

log = logging.getLogger(__name__)

# Extension -> language name (tree-sitter naming). Anything not here and not PDF/HTML/Markdown is plain text.
CODE_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "tsx", ".java": "java", ".go": "go", ".rs": "rust",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".scala": "scala", ".kt": "kotlin", ".lua": "lua",
    ".pl": "perl", ".sh": "bash", ".bash": "bash", ".swift": "swift", ".sql": "sql",
}
SHEBANG_LANGUAGES = {"python": "python", "node": "javascript", "bash": "bash", "sh": "bash", "ruby": "ruby",
                     "perl": "perl", "php": "php"}
MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdx", ".rst"}
HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".mypy_cache"}
MAX_FILE_BYTES = 50 * 1024 * 1024  # default for [ingest] max_file_mb

Skipped = list[tuple[str, str]]  # (source, reason) of files left out


def file_digest(data: bytes) -> str:
    """Content digest: sha256 of the file's bytes, 16 hex digits.

    >>> file_digest(b"hello")
    '2cf24dba5fb0a30e'
    """
    return hashlib.sha256(data).hexdigest()[:16]


def document_id(source: str, data: bytes) -> str:
    """Document id: the content digest, then 8 hex digits of the name, so equal bytes under two paths
    are two documents (each cited by its own path) and the content can still be checked from the id.

    >>> document_id("a.txt", b"hello"), document_id("b.txt", b"hello")
    ('2cf24dba5fb0a30e-18b7cb09', '2cf24dba5fb0a30e-ffa0da5d')
    """
    return f"{file_digest(data)}-{hashlib.sha256(source.encode()).hexdigest()[:8]}"


def source_name(path: str | os.PathLike[str]) -> str:
    """A path as readable, one-line text for citations, reports and the index.

    Names that are valid Unicode with no control character and no backslash are kept as given. Any
    other name is escaped: ``\\xNN`` for each byte that is not UTF-8 (``os.walk`` returns such bytes as
    lone surrogates, which SQLite and a UTF-8 terminal reject) and each control character (a newline
    would break a one-line message), ``\\\\`` for a backslash. Only escaped names hold a backslash, so
    no two paths share a source, and :func:`source_path` maps every source back to its path.

    >>> source_name("notes/caf\\udce9.txt"), source_name("a\\nb.txt"), source_name("notes/café.txt")
    ('notes/caf\\\\xe9.txt', 'a\\\\x0ab.txt', 'notes/café.txt')
    >>> source_name("caf\\\\xe9.txt")  # a literal backslash: escaped too, so it differs from the first
    'caf\\\\\\\\xe9.txt'
    """
    text = os.fsdecode(path)
    if not _ODD_NAME.search(text):
        return text
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a surrogate that no file-system name decodes to
        raw = text.encode("utf-8", "surrogatepass")
    escaped = raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", escaped)


_ODD_NAME = re.compile("[\\\\\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ESCAPE = re.compile(rb"\\\\|\\x([0-9a-f]{2})")


def source_path(source: str) -> Path:
    """The path a source names: the inverse of :func:`source_name`.

    >>> [source_path(source_name(p)) == Path(p) for p in ("/d/caf\\udce9.txt", "/d/a\\tb", "/d/a\\\\xe9", "/d/ok")]
    [True, True, True, True]
    """
    if "\\" not in source:
        return Path(source)
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\", source.encode())
    return Path(os.fsdecode(raw))


_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_BOMS = (*_UTF32_BOMS, b"\xff\xfe", b"\xfe\xff")  # UTF-32 first: its LE mark starts with UTF-16's


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: a NUL byte, or mostly control bytes, in the first 8 KiB.

    >>> looks_binary(b"plain text\\n"), looks_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00")
    (False, True)
    """
    if data.startswith(_UTF16_BOMS):  # UTF-16/32 text is full of NUL bytes, but it is text
        return False
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control / len(head) > 0.1


def decode_text(data: bytes) -> str:
    """Decode file bytes: UTF-16/32 when a byte-order mark says so, UTF-8 (BOM stripped), else Windows-1252,
    else UTF-8 with U+FFFD for bad bytes.

    Newlines are normalised to ``\\n`` so line numbers match what editors show.

    >>> decode_text("caf\\u00e9\\r\\n".encode("cp1252"))
    'café\\n'
    >>> decode_text("caf\\u00e9\\n".encode("utf-16")), looks_binary("text".encode("utf-16"))
    ('café\\n', False)
    """
    if data.startswith(_UTF16_BOMS):
        return clean_text(data.decode("utf-32" if data.startswith(_UTF32_BOMS) else "utf-16", errors="replace"))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 rejects only 5 byte values
        text = data.decode("utf-8", errors="replace")
    return clean_text(text)


def clean_text(text: str) -> str:
    """Text safe for tokenizers and SQLite: newlines normalised, lone UTF-16 surrogates (which some PDF
    fonts produce) and NUL characters (which SQLite's string functions stop at) replaced by U+FFFD.

    >>> clean_text("a\\ud835b\\r\\nc\\x00") == "a\\ufffdb\\nc\\ufffd"
    True
    """
    return _UNSAFE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def detect_language(path: Path, text: str) -> str | None:
    """Programming language from the extension, else from a ``#!`` line; None for prose.

    >>> detect_language(Path("x.py"), ""), detect_language(Path("run"), "#!/usr/bin/env python3\\n")
    ('python', 'python')
    """
    lang = CODE_EXTENSIONS.get(path.suffix.lower())
    if lang or not text.startswith("#!"):
        return lang
    first = text.split("\n", 1)[0]
    words = re.split(r"[\s/]+", first[2:].strip())
    for word in reversed(words):
        name = re.sub(r"[\d.]+$", "", word)
        if name in SHEBANG_LANGUAGES:
            return SHEBANG_LANGUAGES[name]
    return None


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page: no scripts, styles or head; one block per line."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg"]):
        tag.decompose()
    text = soup.get_text("\n")
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


_FILE_TYPES = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"))


def _not_regular(mode: int) -> str | None:
    """What a non-regular, non-directory file is ("a named pipe", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _FILE_TYPES if test(mode)), "not a regular file")


def read_file_bytes(path: Path, source: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    The file is opened without blocking and checked on the open descriptor, so a named pipe or a device
    never hangs the read, and a file swapped for one after a directory walk is still refused.

    :raises InputError: missing, a broken or looping link, a directory, not a regular file, too large,
        or unreadable (permissions, I/O error); the message names the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as err:
        if path.is_symlink():
            raise FileMissingError(f"{source}: broken symbolic link") from err
        raise FileMissingError(f"{source}: no such file") from err
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InputError(f"{source}: symbolic link loop") from err
        raise InputError(f"{source}: cannot read ({err.strerror or err})") from err
    except (UnicodeEncodeError, ValueError) as err:  # a name no file system can hold (lone surrogate, NUL)
        raise FileMissingError(f"{source}: no such file (the name cannot exist on this file system)") from err
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{source}: is a directory (use load_paths)")
        what = _not_regular(mode)
        if what is not None:
            raise UnsupportedFileError(f"{source}: {what}, not a file to read")
        try:
            data = f.read(max_bytes + 1)
        except OSError as err:
            raise InputError(f"{source}: cannot read ({err.strerror or err})") from err
    if len(data) > max_bytes:
        raise FileTooLargeError(f"{source}: larger than {max_bytes / 2**20:g} MiB (the [ingest] max_file_mb bound)")
    return data


def load_file(path: str | os.PathLike[str], *, password: str | None = None,
              max_bytes: int = MAX_FILE_BYTES, pdf_extractor: PdfExtractor = "pdfium",
              describer: DocumentDescriber | None = None, ocr: OcrOptions | None = None) -> Document:
    """Load one file.

    :param path: the file; its text form (:func:`source_name`) becomes :attr:`Document.source`.
    :param password: for encrypted PDFs and password-protected Office files.
    :param max_bytes: larger files are refused (:class:`FileTooLargeError`).
    :param pdf_extractor: what reads a PDF's text ("pdfium", or "pypdf"; see :mod:`ingest.pdf`).
    :param describer: a profile's describer (a filing's issuer, form, period); None: the general description.
    :param ocr: which PDF pages OCR reads and their bounds (:mod:`ingest.ocr`; None: pages with no text).
    :raises InputError: missing, empty, binary, too large, corrupt, locked or unreadable file, or not a
        regular file (message names the file).
    """
    p = Path(path)
    source = source_name(path)
    data = read_file_bytes(p, source, max_bytes=max_bytes)
    if not data.strip():
        raise EmptyDocumentError(f"{source}: empty file (no text to index)")
    doc_id = document_id(source, data)
    suffix = p.suffix.lower()
    from ingest.headers import describe_document  # title (or a profile's facts) and sections; meta kept

    if suffix == ".pdf" or data[:5] == b"%PDF-":
        from ingest.pdf import load_pdf  # ingest.pdf cleans its text with clean_text from here

        return describe_document(load_pdf(data, source, password, doc_id, extractor=pdf_extractor, ocr=ocr),
                                 describer=describer)
    if suffix in OFFICE_SUFFIXES:  # Word, PowerPoint, Excel, CSV: cited by section, slide, cell range
        from ingest.office.read import load_office

        return describe_document(load_office(data, source, doc_id, suffix=suffix, password=password,
                                             max_bytes=max_bytes), describer=describer)
    if looks_binary(data):
        raise UnsupportedFileError(f"{source}: binary file, not text, code or PDF")
    text = decode_text(data)
    kind: DocKind = "text"
    language = detect_language(p, text)
    if language:
        kind = "code"
    elif suffix in MARKDOWN_EXTENSIONS:
        kind = "markdown"
    elif suffix in HTML_EXTENSIONS:
        kind = "html"
        try:
            text = html_to_text(text)
        except RecursionError as err:
            raise CorruptFileError(f"{source}: cannot read HTML (nested too deeply)") from err
    if not text.strip():
        raise EmptyDocumentError(f"{source}: no visible text")
    return describe_document(Document(doc_id=doc_id, source=source, text=text, kind=kind, language=language),
                             markup=decode_text(data) if kind == "html" else None, describer=describer)


def walk(root: Path, *, skipped: Skipped | None = None) -> Iterator[Path]:
    """Regular files under ``root`` in sorted order, skipping hidden and VCS/build folders and hidden files.

    Symbolic links to files are followed; links to directories are not (no loops). Entries that are not
    regular files (named pipes, sockets, devices, broken or looping links, links to directories) and
    directories that cannot be listed are left out, and listed in ``skipped`` when it is given.
    """
    def note(path: str | os.PathLike[str], reason: str) -> None:
        if skipped is not None:
            skipped.append((source_name(path), reason))

    def unlisted(err: OSError) -> None:
        note(err.filename or root, f"cannot list directory ({err.strerror or err})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
        kept = []
        for d in sorted(dirnames):
            if d.startswith(".") or d in SKIP_DIRS:
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                note(os.path.join(dirpath, d), "symbolic link to a directory (not followed)")
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            why = _entry_problem(path)
            if why is None:
                yield path
            else:
                note(path, why)


def _entry_problem(path: Path) -> str | None:
    """Why a directory entry is not a file to read, or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "broken symbolic link" if path.is_symlink() else "vanished during the walk"
    except OSError as err:
        return "symbolic link loop" if err.errno == errno.ELOOP else f"cannot read ({err.strerror or err})"
    if stat.S_ISDIR(mode):
        return "symbolic link to a directory (not followed)"
    what = _not_regular(mode)
    return f"{what}, not a file to read" if what else None


def expand_paths(paths: Iterable[str | os.PathLike[str]], *, skipped: Skipped | None = None
                 ) -> list[tuple[Path, bool]]:
    """Files named or found under directories, each with whether the user named it explicitly.

    A file reached twice (named twice, or named and found in a walk) is listed once, first come first
    kept. Walks leave out entries that are not regular files (see :func:`walk`), listing them in
    ``skipped`` when given.

    :raises FileMissingError: a named path that does not exist (a broken link named explicitly is kept:
        reading it gives the reason).
    """
    out: list[tuple[Path, bool]] = []
    seen: set[str] = set()

    def add(path: Path, explicit: bool) -> None:
        key = os.path.abspath(path)  # "a/./b" and "a//b" are one file; links stay distinct paths
        if key not in seen:
            seen.add(key)
            out.append((path, explicit))

    for path in paths:
        p = Path(path)
        if not p.exists() and not p.is_symlink():
            raise FileMissingError(f"{source_name(path)}: no such file or directory")
        if p.is_dir():
            for f in walk(p, skipped=skipped):
                add(f, False)
        else:
            add(p, True)
    return out


def strict_single(paths: Sequence[object], files: Sequence[tuple[Path, bool]]) -> bool:
    """Whether a load is of one explicitly named file, whose failure is an error rather than a skip.

    >>> strict_single(["a.txt"], [(Path("a.txt"), True)]), strict_single(["a.txt", "b.txt"], [])
    (True, False)
    """
    return len(paths) == 1 and len(files) == 1 and files[0][1]


def skip_reason(err: InputError, source: str) -> str:
    """The reason part of a loader error (its message without the leading ``<source>: ``).

    >>> skip_reason(InputError("a: b.txt: empty file"), "a: b.txt")
    'empty file'
    """
    text = str(err)
    return text[len(source) + 2:] if text.startswith(source + ": ") else text


def load_paths(paths: Iterable[str | os.PathLike[str]], *, password: str | None = None,
               max_bytes: int = MAX_FILE_BYTES, describer: DocumentDescriber | None = None) -> LoadReport:
    """Load files and directories in this process (no time or memory bound: see :mod:`ingest.read`).

    One file named alone must load (else :class:`InputError`). Among several paths, or in a directory
    walk, a file that is binary, empty, too large, unreadable or corrupt is skipped and listed in
    :attr:`LoadReport.skipped`, so one bad file never stops a corpus.
    """
    path_list = list(paths)
    skipped: Skipped = []
    files = expand_paths(path_list, skipped=skipped)
    strict = strict_single(path_list, files)
    docs: list[Document] = []
    for path, _ in files:
        try:
            docs.append(load_file(path, password=password, max_bytes=max_bytes, describer=describer))
        except InputError as err:
            if strict:
                raise
            source = source_name(path)
            skipped.append((source, skip_reason(err, source)))
    return LoadReport(documents=tuple(docs), skipped=tuple(skipped))
