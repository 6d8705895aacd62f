"""The records every stage passes along, and the ingest protocols.

Records are frozen; update them with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

DocKind = Literal["pdf", "text", "markdown", "html", "code"]
PassageKind = Literal["prose", "code", "table"]


@dataclass(frozen=True, slots=True)
class PageSpan:
    """Where one PDF page sits inside :attr:`Document.text` (``text[start:end]``)."""

    number: int  # 1-based
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One loaded file: its extracted text and how that text maps back to the file.

    ``text`` is the whole extracted text. For PDFs, ``pages`` gives each page's
    character range in ``text`` (pages are joined by a blank line); for other
    kinds ``pages`` is empty and line numbers are counted in ``text`` itself.
    """

    doc_id: str  # sha256 of the file's bytes, first 16 hex digits
    source: str  # path as given by the user
    text: str
    kind: DocKind
    pages: tuple[PageSpan, ...] = ()
    language: str | None = None  # for code: "python", "javascript", ...
    empty_pages: tuple[int, ...] = ()  # PDF pages with no extractable text
    page_count: int = 0  # pages in the file (PDFs), including empty ones

    def page_at(self, offset: int) -> int | None:
        """1-based page holding character ``offset``, or None for non-PDFs."""
        for span in self.pages:
            if span.start <= offset < max(span.end, span.start + 1):
                return span.number
        return self.pages[-1].number if self.pages else None


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of a document with exact provenance.

    ``doc_text[chars[0]:chars[1]] == text`` always holds for the document it came from.
    """

    id: str  # "p-" + sha256(source, chars, text)[:16]
    doc_id: str
    source: str
    text: str
    chars: tuple[int, int]  # [start, end) offsets into Document.text
    page: int | None = None  # 1-based, PDFs
    lines: tuple[int, int] | None = None  # 1-based inclusive, text and code
    kind: PassageKind = "prose"
    symbol: str | None = None  # "module.Class.method" for code
    splitter: str = "recursive"  # which splitter made it ("recursive", "ast", "fallback:lines", ...)

    @property
    def label(self) -> str:
        """Human-readable location: ``report.pdf p.3`` or ``src/x.py:10-42``."""
        if self.page is not None:
            return f"{self.source} p.{self.page}"
        if self.lines is not None:
            a, b = self.lines
            return f"{self.source}:{a}-{b}" if b != a else f"{self.source}:{a}"
        return self.source


def passage_id(source: str, chars: tuple[int, int], text: str) -> str:
    """Stable passage id from where it sits and what it says.

    >>> passage_id("a.txt", (0, 5), "hello")
    'p-252957c8857f4ac3'
    """
    h = hashlib.sha256(f"{source}\x00{chars[0]}:{chars[1]}\x00{text}".encode()).hexdigest()
    return "p-" + h[:16]


def line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """1-based inclusive line numbers covered by ``text[start:end]``.

    >>> line_span("a\\nbb\\nc", 2, 4)
    (2, 2)
    >>> line_span("a\\nbb\\nc", 0, 6)
    (1, 3)
    """
    first = text.count("\n", 0, start) + 1
    last = first + text.count("\n", start, max(start, end - 1))
    return first, last


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading a set of paths found, beyond the documents themselves."""

    documents: tuple[Document, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (path, reason)


class Splitter(Protocol):
    """Cuts a document into passages."""

    def split(self, doc: Document) -> list[Passage]: ...


class Embedder(Protocol):
    """Turns text into L2-normalised vectors."""

    @property
    def dim(self) -> int: ...

    def identity(self) -> dict[str, object]:
        """Everything that changes the vectors; recorded in the index manifest."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...
