"""A source file as rows: each row's characters and tokens, whole-row passages, and the line-window split.

:class:`ParsedFile` is what the syntax splitter (:mod:`ingest.code.splitter`) cuts along; the line windows
(:func:`split_line_windows`) are its fallback for text it cannot parse, and :func:`greedy_blocks` groups rows
or lines into blocks within a token budget for both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from ingest.core.records import Document, Passage
from ingest.core.settings import SplitSettings
from ingest.split import TextIndex, char_windows, make_passage

TokenCounter = Callable[[str], int]
_TOKENISH = re.compile(r"string|comment|heredoc|nowdoc|template_literal")


def greedy_blocks(tokens: Sequence[int], budget: int, overlap: int, *, max_items: int | None = None,
                  overlap_items: int | None = None) -> list[tuple[int, int]]:
    """Group consecutive pieces into blocks of at most ``budget`` tokens (inclusive index ranges).

    After a block, the next one starts with the last pieces of that block whose tokens add up to at
    most ``overlap``, provided the next new piece still fits, so every block holds at least one piece
    the previous did not. A piece over the budget is a block alone. ``max_items`` caps the pieces per
    block and ``overlap_items`` the pieces shared with the previous block.

    >>> greedy_blocks([3, 3, 3, 3], budget=6, overlap=3)
    [(0, 1), (1, 2), (2, 3)]
    >>> greedy_blocks([3, 9, 3], budget=6, overlap=3)
    [(0, 0), (1, 1), (2, 2)]
    >>> greedy_blocks([1] * 5, budget=100, overlap=10, max_items=3, overlap_items=1)
    [(0, 2), (2, 4)]
    >>> greedy_blocks([5, 5, 9], budget=10, overlap=5, max_items=3, overlap_items=1)  # no window of old lines only
    [(0, 1), (2, 2)]
    """
    cap = max_items or len(tokens)
    shared_cap = min(overlap_items if overlap_items is not None else cap, cap - 1)
    n = len(tokens)
    out: list[tuple[int, int]] = []
    i = 0
    while i < n:
        j, total = i, tokens[i]
        while j + 1 < n and j + 1 - i < cap and total + tokens[j + 1] <= budget:
            j += 1
            total += tokens[j]
        out.append((i, j))
        if j == n - 1:
            break
        k, shared = j + 1, 0
        while (k - 1 > i and j + 1 - (k - 1) <= shared_cap and shared + tokens[k - 1] <= overlap
               and shared + tokens[k - 1] + tokens[j + 1] <= budget):
            k -= 1
            shared += tokens[k]
        i = k
    return out


def is_minified(lines: Sequence[str], *, max_line_chars: int) -> bool:
    """True when lines longer than ``max_line_chars`` hold over 20% of the text (bundles, minified code).

    >>> is_minified(["x" * 5000, "y"], max_line_chars=1000), is_minified(["a = 1"] * 9, max_line_chars=1000)
    (True, False)
    """
    total = sum(len(line) + 1 for line in lines)
    long = sum(len(line) for line in lines if len(line) > max_line_chars)
    return total > 0 and long > 0.2 * total


class ParsedFile:
    """Per-document state: rows, their char offsets and token counts, the syntax tree."""

    def __init__(self, doc: Document, count_tokens: TokenCounter) -> None:
        self.doc = doc
        self.lines = doc.text.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1
        cache: dict[str, int] = {}
        self.row_tokens = []
        for line in self.lines:
            if not line.strip():
                self.row_tokens.append(0)
                continue
            if line not in cache:
                cache[line] = count_tokens(line)
            self.row_tokens.append(cache[line])
        self.prefix = [0]
        for t in self.row_tokens:
            self.prefix.append(self.prefix[-1] + t)
        self.root: Any = None
        self.language: Any = None  # the tree-sitter Language of root
        self.index = TextIndex(doc)
        self._covered: tuple[list[int], dict[int, int]] | None = None

    def tokens(self, a: int, b: int) -> int:
        """Tokens in rows ``a..b`` (inclusive), counted line by line."""
        return self.prefix[b + 1] - self.prefix[a] if b >= a else 0

    def blank(self, row: int) -> bool:
        return not self.lines[row].strip()

    def starts_node(self, row: int) -> bool:
        """True when the first non-blank character of ``row`` is where a syntax node starts."""
        line = self.lines[row]
        stripped = line.lstrip()
        if not stripped:
            return False
        col = len(line) - len(stripped)  # leading whitespace is ASCII: chars == bytes
        node = self.root.descendant_for_point_range((row, col), (row, col))
        if node is None or tuple(node.start_point) != (row, col):
            return False
        # a node inside a string or comment (the closing quotes of a docstring) is no place to cut
        whole, ends = self._token_cover()
        return not whole[row] and col >= ends.get(row, 0)

    def _token_cover(self) -> tuple[list[int], dict[int, int]]:
        """Rows wholly inside a string or comment that began on an earlier row (count per row), and for
        the row where such a token ends, the column it ends at."""
        if self._covered is None:
            diff = [0] * (len(self.lines) + 1)
            ends: dict[int, int] = {}
            query = token_query(self.language)
            if query is not None:
                from tree_sitter import QueryCursor

                for node in QueryCursor(query).captures(self.root).get("token", []):
                    (a, _), (b, col) = node.start_point, node.end_point
                    if b > a:
                        diff[a + 1] += 1
                        diff[b] -= 1
                        ends[b] = max(ends.get(b, 0), col)
            whole, depth = [], 0
            for d in diff[:-1]:
                depth += d
                whole.append(depth)
            self._covered = (whole, ends)
        return self._covered

    def trim(self, a: int, b: int) -> tuple[int, int] | None:
        """Rows ``a..b`` without leading and trailing blank rows; None if all blank."""
        while a <= b and self.blank(a):
            a += 1
        while b >= a and self.blank(b):
            b -= 1
        return (a, b) if a <= b else None

    def passage(self, a: int, b: int, *, symbol: str | None, splitter: str) -> Passage:
        """The passage of whole rows ``a..b``."""
        return make_passage(self.doc, self.starts[a], self.starts[b] + len(self.lines[b]), kind="code",
                            symbol=symbol, splitter=splitter, index=self.index)


@functools.lru_cache(maxsize=64)
def token_query(ts_language: Any) -> Any:
    """A query capturing every string- or comment-like node of a grammar (None if it has none)."""
    from tree_sitter import Query, QueryError

    kinds = set()
    for i in range(ts_language.node_kind_count):
        name = ts_language.node_kind_for_id(i)
        if name and ts_language.node_kind_is_named(i) and ts_language.node_kind_is_visible(i) \
                and _TOKENISH.search(name):
            kinds.add(name)
    valid = []
    for kind in sorted(kinds):
        try:  # a kind that only occurs as an alias cannot be queried by name
            Query(ts_language, f"({kind})")
        except QueryError:
            continue
        valid.append(kind)
    return Query(ts_language, "[" + " ".join(f"({k})" for k in valid) + "] @token") if valid else None


def split_line_windows(doc: Document, settings: SplitSettings, f: ParsedFile, count_tokens: TokenCounter, *,
                       splitter: str) -> list[Passage]:
    """Line windows of at most ``chunk_tokens`` tokens and ``code_lines`` lines, overlapping by up to
    ``overlap_tokens``/``code_overlap_lines``; a line over the budget is cut into character windows."""
    budget, passages = settings.chunk_tokens, []
    rows: list[int] = []

    def flush() -> None:
        if not rows:
            return
        tokens = [f.row_tokens[r] for r in rows]
        for i, j in greedy_blocks(tokens, budget, settings.overlap_tokens, max_items=settings.code_lines,
                                  overlap_items=settings.code_overlap_lines):
            span = f.trim(rows[i], rows[j])
            if span is not None:
                passages.append(f.passage(*span, symbol=None, splitter=splitter))
        rows.clear()

    for r, line in enumerate(f.lines):
        if f.row_tokens[r] > budget:
            flush()
            for a, b in char_windows(line, budget, settings.overlap_tokens, count_tokens):
                start = f.starts[r]
                passages.append(make_passage(doc, start + a, start + b, kind="code", splitter=splitter,
                                             index=f.index))
        else:
            rows.append(r)
    flush()
    return passages
