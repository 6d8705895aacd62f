"""Turn files into :class:`Document`s: PDF (page by page), text, Markdown, HTML, source code.

Errors name the file and the problem in one line. Directories are walked
recursively; hidden and VCS folders are skipped, binary files are skipped and
reported rather than raising, so one odd file does not stop a corpus.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.core.errors import (
    CorruptFileError,
    EmptyDocumentError,
    FileMissingError,
    InputError,
    PasswordError,
    UnsupportedFileError,
)
from ingest.core.records import DocKind, Document, LoadReport, PageSpan

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
MAX_FILE_BYTES = 50 * 1024 * 1024  # files above this are skipped in directory walks


def file_digest(data: bytes) -> str:
    """Document id: sha256 of the file's bytes, 16 hex digits.

    >>> file_digest(b"hello")
    '2cf24dba5fb0a30e'
    """
    return hashlib.sha256(data).hexdigest()[:16]


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: a NUL byte, or mostly control bytes, in the first 8 KiB.

    >>> looks_binary(b"plain text\\n"), looks_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00")
    (False, True)
    """
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control / len(head) > 0.1


def decode_text(data: bytes) -> str:
    """Decode file bytes: UTF-8 (BOM stripped), else Windows-1252, else UTF-8 with U+FFFD for bad bytes.

    Newlines are normalised to ``\\n`` so line numbers match what editors show.

    >>> decode_text("caf\\u00e9\\r\\n".encode("cp1252"))
    'café\\n'
    """
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
    fonts produce) replaced by U+FFFD.

    >>> clean_text("a\\ud835b\\r\\nc") == "a\\ufffdb\\nc"
    True
    """
    return _SURROGATE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _load_pdf(path: Path, data: bytes, source: str, password: str | None) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are "encrypted" with an empty user password and open without one.
        if reader.is_encrypted and reader.decrypt(password or "") == 0:
            raise PasswordError(
                f"{source}: PDF is password-protected; "
                + ("wrong password" if password else "give the password with --password")
            )
        raw_pages = [page.extract_text() or "" for page in reader.pages]
    except PasswordError:
        raise
    except FileNotDecryptedError as err:
        raise PasswordError(f"{source}: PDF is password-protected; give the password with --password") from err
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as err:
        raise CorruptFileError(f"{source}: cannot read PDF ({type(err).__name__}: {str(err)[:120]})") from err
    except NotImplementedError as err:
        raise CorruptFileError(f"{source}: unsupported PDF feature ({str(err)[:120]})") from err

    parts: list[str] = []
    spans: list[PageSpan] = []
    empty: list[int] = []
    offset = 0
    for number, raw in enumerate(raw_pages, start=1):
        text = clean_text(raw).strip()
        if not text:
            empty.append(number)
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        spans.append(PageSpan(number, offset, offset + len(text)))
        parts.append(text)
        offset += len(text)
    if not spans:
        raise EmptyDocumentError(
            f"{source}: no extractable text on any of its {len(raw_pages)} pages (scanned? run OCR first)"
        )
    if empty:
        log.warning("%s: %d of %d pages have no extractable text: %s", source, len(empty), len(raw_pages), empty)
    return Document(
        doc_id=file_digest(data), source=source, text="".join(parts), kind="pdf",
        pages=tuple(spans), empty_pages=tuple(empty), page_count=len(raw_pages),
    )


def load_file(path: str | os.PathLike[str], *, password: str | None = None) -> Document:
    """Load one file.

    :param path: the file; its string form becomes :attr:`Document.source`.
    :param password: for encrypted PDFs.
    :raises InputError: missing, empty, binary, corrupt or locked file (message names the file).
    """
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise FileMissingError(f"{source}: no such file")
    if p.is_dir():
        raise InputError(f"{source}: is a directory (use load_paths)")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{source}: cannot read ({err.strerror})") from err
    if not data.strip():
        raise EmptyDocumentError(f"{source}: empty file (no text to index)")
    suffix = p.suffix.lower()
    if suffix == ".pdf" or data[:5] == b"%PDF-":
        return _load_pdf(p, data, source, password)
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
        text = html_to_text(text)
    if not text.strip():
        raise EmptyDocumentError(f"{source}: no visible text")
    return Document(doc_id=file_digest(data), source=source, text=text, kind=kind, language=language)


def walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order, skipping hidden and VCS/build folders and hidden files."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Files named or found under directories, each with whether the user named it explicitly.

    :raises FileMissingError: a path that does not exist.
    """
    out: list[tuple[Path, bool]] = []
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise FileMissingError(f"{path}: no such file or directory")
        if p.is_dir():
            out.extend((f, False) for f in walk(p))
        else:
            out.append((p, True))
    return out


def load_paths(paths: Iterable[str | os.PathLike[str]], *, password: str | None = None) -> LoadReport:
    """Load files and directories.

    Files named explicitly must load (else :class:`InputError`); files found by walking a
    directory that are binary, empty, too large or unreadable are skipped and listed in
    :attr:`LoadReport.skipped`.
    """
    docs: list[Document] = []
    skipped: list[tuple[str, str]] = []
    for path, explicit in expand_paths(paths):
        if not explicit:
            try:
                size = path.stat().st_size
            except OSError:
                size = 0
            if size > MAX_FILE_BYTES:
                skipped.append((str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB"))
                continue
        try:
            docs.append(load_file(path, password=password))
        except InputError as err:
            if explicit:
                raise
            skipped.append((str(path), str(err).split(": ", 1)[-1]))
    return LoadReport(documents=tuple(docs), skipped=tuple(skipped))
