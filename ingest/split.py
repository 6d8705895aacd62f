"""Prose and line splitting with exact provenance.

Prose goes through LangChain's recursive splitter with lengths counted by the
embedder's own tokenizer. Every passage records its character range in
``Document.text`` (so ``doc.text[a:b] == passage.text``), its page (PDFs) or
line span (everything else).

Cost stays linear in the text: a run without spaces or newlines that holds more than a
passage's worth of tokens (a 20 MB line, binary read as text, CJK prose) is cut into
character windows instead of going to LangChain's character level, which merges one
character at a time and is quadratic; line and page spans come from a per-document index
by binary search, not a count over the text before each passage.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from ingest.core.amounts import stated_scale
from ingest.core.protocols import Splitter
from ingest.core.records import Document, Passage, PassageKind, line_span, passage_id
from ingest.core.settings import SplitSettings
from ingest.headers import HEADER_SCHEME, add_headers
from ingest.table_rows import column_periods, head_text, table_record
from ingest.tables import (
    TABLE_SCHEME,
    TableBlock,
    TableTally,
    find_tables,
    introduced_scale,
    row_groups,
    table_header,
)

log = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
PROSE_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
DENSE_CHARS_PER_TOKEN = 10  # a run of no spaces this long per budget token is no word (a URL is ~100 characters)
MAX_CHARS_PER_TOKEN = 32  # character windows hold at most this many characters per budget token


def locate_chunks(text: str, chunks: list[str], *,
                  overlap_fits: Callable[[str], bool] | None = None) -> list[tuple[int, int]]:
    """Character ranges of in-order (possibly overlapping) chunks inside ``text``.

    Each chunk moves the text forward: it starts after the previous chunk's start and ends
    after its end, so repeated text maps to the right occurrence. ``overlap_fits(shared)`` says
    whether the text a candidate shares with the previous chunk is small enough to be the
    splitter's overlap; an occurrence that would share more is a repeat further back, not this chunk.

    >>> locate_chunks("ab ab ab", ["ab ab", "ab ab"])
    [(0, 5), (3, 8)]
    >>> locate_chunks("x y x", ["x y", "x"])
    [(0, 3), (4, 5)]
    >>> locate_chunks("a b x\\n\\nx\\n\\nx", ["a b x", "x\\n\\nx"])  # the last two "x", so the last is kept
    [(0, 5), (7, 11)]
    >>> text = "a b c d\\n\\nc d e"  # "c d" repeats: the second chunk is the second paragraph
    >>> locate_chunks(text, ["a b c d", "c d e"], overlap_fits=lambda shared: len(shared.split()) <= 1)
    [(0, 7), (9, 14)]
    """
    spans: list[tuple[int, int]] = []
    cursor, prev_end = 0, 0
    for k, chunk in enumerate(chunks):
        start = text.find(chunk, cursor)
        if start < 0:  # should not happen: splitters return substrings
            raise ValueError(f"chunk not found in text: {chunk[:40]!r}")
        while start + len(chunk) <= prev_end or (
                overlap_fits is not None and start < prev_end and not overlap_fits(text[start:prev_end])):
            later = text.find(chunk, start + 1)
            if later < 0:
                break
            start = later
        if start < prev_end and k == len(chunks) - 1:  # the last chunk read as an overlap; the same text right
            # after the previous chunk (only spaces between) is the chunk itself: there it loses no text at the end
            # (not for an earlier chunk: the chunks after it may overlap the text it would skip)
            after = text.find(chunk, prev_end)
            if after >= 0 and not text[prev_end:after].strip():
                start = after
        spans.append((start, start + len(chunk)))
        cursor, prev_end = start + 1, max(prev_end, start + len(chunk))
    return spans


class TextIndex:
    """Where a document's lines and pages start, so a passage's line or page is a binary search.

    >>> from ingest.core.records import line_span
    >>> doc = Document(doc_id="d", source="a.txt", text="a\\nbb\\nc", kind="text")
    >>> [TextIndex(doc).line_span(a, b) == line_span(doc.text, a, b) for a, b in [(2, 4), (0, 6), (5, 5)]]
    [True, True, True]
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.newlines = [m.start() for m in re.finditer("\n", doc.text)]
        self.page_starts = [s.start for s in doc.pages]

    def line_span(self, start: int, end: int) -> tuple[int, int]:
        """1-based inclusive lines of ``text[start:end]`` (as :func:`ingest.core.records.line_span`)."""
        before = bisect_left(self.newlines, start)
        return before + 1, bisect_left(self.newlines, max(start, end - 1)) + 1

    def page_at(self, offset: int) -> int | None:
        """The page holding ``offset`` (as :meth:`Document.page_at`)."""
        i = bisect_right(self.page_starts, offset) - 1
        if i >= 0:
            span = self.doc.pages[i]
            if offset < max(span.end, span.start + 1):
                return span.number
        return self.doc.page_at(offset)


def make_passage(doc: Document, start: int, end: int, *, kind: PassageKind = "prose", symbol: str | None = None,
                 splitter: str = "recursive", with_lines: bool = True, index: TextIndex | None = None) -> Passage:
    """A passage for ``doc.text[start:end]`` with its page or line span filled in.

    :param index: the document's :class:`TextIndex`; give it when making many passages of one document.
    """
    text = doc.text[start:end]
    page = (index.page_at(start) if index else doc.page_at(start)) if doc.pages else None
    lines = None
    if with_lines and not doc.pages:
        lines = index.line_span(start, end) if index else line_span(doc.text, start, end)
    return Passage(
        id=passage_id(doc.source, (start, end), text), doc_id=doc.doc_id, source=doc.source, text=text,
        chars=(start, end), page=page, lines=lines, kind=kind, symbol=symbol, splitter=splitter,
    )


class MemoCounter:
    """A token counter that remembers the counts of short pieces.

    LangChain's splitter counts every piece it merges: in a long run of text with no sentence
    punctuation that is every word, one tokenizer call each (a million calls for 2 MB); words
    repeat, so remembering them makes that linear in distinct words.

    >>> calls = []
    >>> count = MemoCounter(lambda t: calls.append(t) or len(t.split()))
    >>> count("a b"), count("a b"), len(calls)
    (2, 2, 1)
    """

    def __init__(self, count_tokens: TokenCounter, *, max_chars: int = 64, max_entries: int = 200_000) -> None:
        self.count_tokens = count_tokens
        self.max_chars = max_chars
        self.max_entries = max_entries
        self._known: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if len(text) > self.max_chars:
            return self.count_tokens(text)
        n = self._known.get(text)
        if n is None:
            if len(self._known) >= self.max_entries:
                self._known.clear()
            n = self._known[text] = self.count_tokens(text)
        return n


class ProseSplitter:
    """Token-aware recursive splitting (LangChain) with provenance; PDF pages are split separately.

    :param settings: chunk size and overlap in tokens.
    :param count_tokens: the embedder's token counter.
    """

    def __init__(self, settings: SplitSettings, count_tokens: TokenCounter) -> None:
        self.settings = settings
        self._count_tokens = MemoCounter(count_tokens)
        self._splitter: Any = None  # LangChain's, built by warm_up (an up-to-date index never imports LangChain)
        # a run shorter than this cannot hold chunk_tokens tokens (a character is at most 4 tokens: UTF-8 bytes)
        self._dense = re.compile(f"[^ \n]{{{max(16, settings.chunk_tokens // 4)},}}")

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``, as the embedder counts them (short pieces remembered)."""
        return self._count_tokens(text)

    def warm_up(self) -> None:
        """Build LangChain's splitter (idempotent; the first split does it, a build does it before forking its
        readers)."""
        if self._splitter is not None:
            return
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=self.settings.chunk_tokens,
            chunk_overlap=self.settings.overlap_tokens,
            length_function=self._count_tokens,
            separators=PROSE_SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split_text(self, text: str) -> list[tuple[int, int]]:
        """Character ranges of the chunks of ``text``: LangChain's recursive split, except that a run with no
        space or newline that holds a chunk's worth of tokens, or is over ``DENSE_CHARS_PER_TOKEN`` characters
        per token of the budget long (however few tokens a tokenizer makes of it), is cut into character
        windows."""
        spans: list[tuple[int, int]] = []
        cursor = 0
        for run in self._dense.finditer(text):
            long = len(run.group()) > self.settings.chunk_tokens * DENSE_CHARS_PER_TOKEN
            if not long and self._count_tokens(run.group()) < self.settings.chunk_tokens:
                continue
            spans.extend(self._recursive(text, cursor, run.start()))
            budget, overlap = self.settings.chunk_tokens, self.settings.overlap_tokens
            spans.extend((run.start() + a, run.start() + b)
                         for a, b in char_windows(run.group(), budget, overlap, self._count_tokens))
            cursor = run.end()
        spans.extend(self._recursive(text, cursor, len(text)))
        return spans

    def _recursive(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        piece = text[start:end]
        if not piece.strip():
            return []
        self.warm_up()
        chunks = [c for c in self._splitter.split_text(piece) if c.strip()]
        overlap = self.settings.overlap_tokens
        spans = locate_chunks(piece, chunks, overlap_fits=lambda shared: self._count_tokens(shared) <= overlap)
        return [(start + a, start + b) for a, b in spans]

    def split(self, doc: Document) -> list[Passage]:
        """Passages of a prose document (PDF pages never share a passage; with ``tables`` on, a PDF's tables
        become table passages and ``doc.meta["tables"]`` says how many, and which were unsure)."""
        regions = [(s.start, s.end) for s in doc.pages] if doc.pages else [(0, len(doc.text))]
        index = TextIndex(doc)
        passages: list[Passage] = []
        tally = TableTally() if self.settings.tables and doc.kind == "pdf" else None
        for base, stop in regions:
            if tally is not None:
                passages.extend(self._page_with_tables(doc, base, stop, index, tally))
                continue
            for a, b in self.split_text(doc.text[base:stop]):
                passages.append(make_passage(doc, base + a, base + b, index=index))
        if tally is not None and tally.note():
            doc.meta["tables"] = tally.note()  # the record is frozen, its meta dict is not: read.py returns it
        return passages

    def _page_with_tables(self, doc: Document, base: int, stop: int, index: TextIndex,
                          tally: TableTally) -> list[Passage]:
        """One PDF page: each confident table as table passages, the text around them (and unsure tables)
        through the prose splitter."""
        passages: list[Passage] = []
        cursor = base
        for block in find_tables(doc.text[base:stop], base):
            if not block.confident:
                tally.unsure_pages.append(index.page_at(base) or 0)
                continue
            tally.kept += 1
            passages.extend(make_passage(doc, cursor + a, cursor + b, index=index)
                            for a, b in self.split_text(doc.text[cursor:block.start]))
            passages.extend(self._table_passages(doc, block, index, doc.text[cursor:block.start]))
            cursor = block.end
        passages.extend(make_passage(doc, cursor + a, cursor + b, index=index)
                        for a, b in self.split_text(doc.text[cursor:stop]))
        return passages

    def _table_passages(self, doc: Document, block: TableBlock, index: TextIndex, before: str = "") -> list[Passage]:
        """A table whole, or runs of whole rows when over the budget, each headed by "caption | header row" and
        carrying its :class:`ingest.core.tables.Table` (its rows; the table's periods and scale: the one it states,
        else the one the prose ``before`` it states in introducing it); a single row over the budget is cut by the
        prose splitter."""
        from dataclasses import replace

        budget = self.settings.chunk_tokens
        header = table_header(doc.text, block)
        whole = doc.text[block.start:block.end]
        periods, scale = column_periods(head_text(whole)), stated_scale(whole) or introduced_scale(before)
        passages: list[Passage] = []
        for a, b in row_groups(doc.text, block, self._count_tokens, budget):
            pieces = [(a, b)] if self._count_tokens(doc.text[a:b]) <= budget else \
                [(a + x, a + y) for x, y in self.split_text(doc.text[a:b])]
            passages.extend(replace(make_passage(doc, x, y, kind="table", splitter="table", index=index),
                                    header=header,
                                    table=table_record(doc.text[x:y], header, periods, scale, (block.start, block.end)))
                            for x, y in pieces)
        return passages


def char_windows(line: str, budget: int, overlap: int, count_tokens: TokenCounter) -> list[tuple[int, int]]:
    """Character ranges cutting one over-long line into pieces of about ``budget`` tokens.

    The chars-per-token ratio is measured on the line's start; cuts prefer whitespace or punctuation
    in the last fifth of a window. Windows overlap by about ``overlap`` tokens (at most half a window)
    and hold at most ``MAX_CHARS_PER_TOKEN * budget`` characters (a tokenizer may make one unknown token
    of thousands of characters).

    >>> char_windows("ab " * 10, 4, 0, lambda t: len(t.split()))
    [(0, 9), (9, 18), (18, 27), (27, 30)]
    """
    sample = line[:4000]
    ratio = len(sample) / max(1, count_tokens(sample))
    size = max(8, min(int(budget * ratio * 0.9), budget * MAX_CHARS_PER_TOKEN))
    step_back = min(int(overlap * ratio), size // 2)
    out: list[tuple[int, int]] = []
    a = 0
    while a < len(line):
        b = min(len(line), a + size)
        if b < len(line):
            cut = max(line.rfind(c, a + size * 4 // 5, b) for c in " \t,;)}]")
            if cut > a:
                b = cut + 1
        out.append((a, b))
        if b >= len(line):
            break
        a = max(a + 1, b - step_back)
    return out


def line_windows(line_starts: list[int], text_len: int, *, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character ranges of windows of ``size`` lines overlapping by ``overlap`` lines.

    >>> line_windows([0, 2, 4, 6], 8, size=2, overlap=1)
    [(0, 4), (2, 6), (4, 8)]
    """
    n = len(line_starts)
    bounds = line_starts + [text_len]
    out: list[tuple[int, int]] = []
    start = 0
    step = size - overlap
    while start < n:
        end = min(start + size, n)
        out.append((bounds[start], bounds[end]))
        if end == n:
            break
        start += step
    return out


def split_lines(doc: Document, settings: SplitSettings, *, splitter: str = "lines") -> list[Passage]:
    """Line windows for code (or anything line-oriented) when no syntax-aware splitter applies."""
    text = doc.text
    index = TextIndex(doc)
    starts = [0] + [i + 1 for i in index.newlines if i + 1 < len(text)]
    passages = []
    for a, b in line_windows(starts, len(text), size=settings.code_lines, overlap=settings.code_overlap_lines):
        # trim trailing newline and blank lines so the span names real lines
        while b > a and text[b - 1] in "\n \t":
            b -= 1
        if b > a and text[a:b].strip():
            passages.append(make_passage(doc, a, b, kind="code", splitter=splitter, index=index))
    return passages


def embedding_text(p: Passage) -> str:
    """The text embedded for a passage: code blocks start with their symbol path, which names what the
    block belongs to (measured +0.07 MRR on stdlib code search, bench/RESULTS.md); prose and table passages
    start with their header (document, section path, table caption: :mod:`ingest.headers`) when they have one.

    >>> embedding_text(Passage(id="x", doc_id="d", source="a.py", text="return 1", chars=(0, 8), kind="code",
    ...                        symbol="pkg.mod.f"))
    'pkg.mod.f\\nreturn 1'
    >>> embedding_text(Passage(id="x", doc_id="d", source="a.pdf", text="Cash 5", chars=(0, 6), header="ACME 10-K"))
    'ACME 10-K\\nCash 5'
    """
    if p.kind == "code":
        return f"{p.symbol}\n{p.text}" if p.symbol else p.text
    return f"{p.header}\n{p.text}" if p.header else p.text


class DocumentSplitter:
    """Routes each document to the splitter for its kind: code to ``code``, everything else to ``prose``.

    :param prose: splitter for prose documents (PDF, text, Markdown, HTML).
    :param code: splitter for source files; defaults to line windows.
    :param settings: recorded in the manifest as the splitter identity.
    """

    def __init__(self, settings: SplitSettings, prose: ProseSplitter, code: Splitter | None = None) -> None:
        self.settings = settings
        self.prose = prose
        self.code = code

    def warm_up(self) -> None:
        """Build what splitting needs before it is needed (a build calls it before forking its readers)."""
        self.prose.warm_up()

    def identity(self) -> dict[str, object]:
        """What changes the passages; recorded in the manifest."""
        from dataclasses import asdict

        return {**asdict(self.settings), "code": getattr(self.code, "name", "lines"), "code_header": "symbol",
                "header_scheme": HEADER_SCHEME if self.settings.headers else 0,
                "table_scheme": TABLE_SCHEME if self.settings.tables else 0}  # not "tables": that is the flag

    def split(self, doc: Document) -> list[Passage]:
        """Passages of one document."""
        if doc.kind == "code":
            return self.code.split(doc) if self.code is not None else split_lines(doc, self.settings)
        if doc.blocks:  # Office files and CSVs: slides, paragraphs and rows, each passage with its place
            from ingest.office.passages import block_passages

            budget, count = self.settings.chunk_tokens, self.prose.count_tokens
            passages = block_passages(doc, budget=budget, count_tokens=count, split_text=self.prose.split_text,
                                      cut_line=lambda line: char_windows(line, budget, 0, count))
            return add_headers(doc, passages) if self.settings.headers else passages
        passages = self.prose.split(doc)
        return add_headers(doc, passages) if self.settings.headers else passages
