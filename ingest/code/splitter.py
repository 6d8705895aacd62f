"""AST-aware code splitting: syntax units, SEA statement blocks inside long units, fallbacks (``docs/METHODS.md``,
"Code splitting along the syntax tree (SEA)").

How a file is cut:

1. **Parse** with tree-sitter (grammars shipped in ``tree-sitter-language-pack``, offline).
2. **Units.** The top-level nodes become segments: a definition (function, class, method, impl
   block, ...) is a unit with a symbol path ``module.Class.method``; the comments, decorators and
   attributes right above it (no blank line between) stay with it. Containers (classes, impl blocks,
   namespaces) are opened: their header is one segment and each member is split the same way, so a
   method's symbol carries its class. Everything else (imports, constants, statements, unattached
   comments) is glue: consecutive glue of one scope is grouped up to the token budget. Glue with no
   word in it (``}``, ``end``, ``#endif``) joins the segment before it; a short container header
   (``class A(B):``) joins its first member, so that passage shows its class.
3. **Blocks (SEA).** A segment over the budget (``SplitSettings.chunk_tokens``, counted with the
   embedder's tokenizer, per line) is cut at statement boundaries: the start rows of internal nodes
   at most ``max_depth`` levels below the unit (3 below a function = the reference's depth 4 below
   the module root), at least ``min_line_gap + 1`` rows apart; the tail after the last boundary is
   kept (SEA's reference code drops it). Pieces still over the budget are cut at any row that starts a
   node outside strings and comments. Pieces are merged greedily back up to the budget; each block
   then starts earlier, at a node-start row, to share up to ``overlap_tokens`` with the block before
   (while staying within the budget).
4. **Passages** span whole lines (indentation kept), so every passage starts on a row whose first
   non-blank character starts a syntax node, never inside a multi-line string or comment, with one
   exception: a single node over the budget spanning many rows (a long docstring or literal) is cut
   into line windows, and the windows after its first are marked ``fallback:long-node``.

Every non-blank line lands in at least one passage. A single line longer than the budget stays
whole and goes over the budget (the embedder truncates it).

Fallbacks (``Passage.splitter`` says which): ``fallback:no-grammar`` (no language or no grammar),
``fallback:too-large`` (over ``max_bytes``, e.g. generated amalgamations), ``fallback:minified``
(lines over ``max_line_chars`` hold more than 20% of the text), ``fallback:syntax-error`` (ERROR
nodes cover more than ``max_error_share`` of the non-blank lines; below that the file is split by
syntax and the damaged regions are treated as glue), ``fallback:too-deep`` (a syntax tree deeper than
``max_tree_depth`` or definitions nested more than ``max_nesting`` levels: generated or hostile code; finding
where a row starts costs time in proportion to the depth, and the walk over definitions recurses). Fallback
files are cut into line windows of at most ``chunk_tokens`` tokens and ``code_lines`` lines; lines over
the budget are cut into character windows. Text arrives decoded by the loader (UTF-8, else Windows-1252;
newlines normalised).

Cost: whether a row starts inside a string or comment is looked up in a table built from one
query over the tree, not by climbing the row's ancestors (in tree-sitter a parent lookup descends
from the root, so climbing was cubic in the nesting depth).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.code.languages import (
    LanguageSpec,
    body_of,
    definition_name,
    get_parser,
    is_function_value,
    module_path,
    spec_for,
)
from ingest.code.rows import ParsedFile, TokenCounter, greedy_blocks, is_minified, split_line_windows
from ingest.core.records import Document, Passage
from ingest.core.settings import SplitSettings

log = logging.getLogger(__name__)

HEADER_TOKENS = 32  # container headers up to this long join their first member
CLOSERS = frozenset({"end", "endif", "fi", "done", "esac", "pass", "endwhile", "endfor", "endforeach",
                     "endswitch", "endfunction", "endclass", "endmodule", "wend", "loop", "next"})


@dataclass
class _Segment:
    """Rows ``start..end`` (0-based, inclusive) that become one or more passages."""

    start: int
    end: int
    symbol: str
    kind: str  # "unit" | "glue"
    nodes: list[Any] = field(default_factory=list)
    header: bool = False  # a container's header ("class A(B):", "impl X {")


def start_row(node: Any) -> int:
    """0-based row where ``node`` starts."""
    return int(node.start_point[0])


def end_row(node: Any) -> int:
    """0-based last row holding ``node``'s text (a node ending at column 0 ends on the row before)."""
    row, col = node.end_point
    return int(row) - 1 if col == 0 and row > node.start_point[0] else int(row)


class CodeSplitter:
    """Splits source files along their syntax (tree-sitter), with SEA blocks inside long units.

    :param settings: ``chunk_tokens`` is the block budget, ``overlap_tokens`` what neighbouring blocks of
        one unit share; ``code_lines``/``code_overlap_lines`` bound fallback line windows.
    :param count_tokens: the embedder's token counter.
    :param max_depth: SEA boundary depth below a unit node.
    :param min_line_gap: SEA boundaries closer than this many rows to the previous one are skipped.
    :param max_error_share: share of non-blank lines inside ERROR nodes above which a file falls back.
    :param max_bytes: files larger than this (UTF-8) fall back to line windows.
    :param max_line_chars: a line longer than this counts towards minified-file detection.
    :param max_nesting: files with definitions nested deeper than this fall back to line windows.
    :param max_tree_depth: files whose syntax tree is deeper than this fall back to line windows (real code
        stays under 100: 87 at most over 25,000 Python files of the standard library and site-packages).

    >>> from ingest.split import SplitSettings
    >>> s = CodeSplitter(SplitSettings(), lambda t: len(t.split()))
    >>> doc = Document(doc_id="d", source="retry.py", text="import os\\n\\ndef decide(n):\\n    return n < 3\\n",
    ...                kind="code", language="python")
    >>> [(p.label, p.symbol, p.splitter) for p in s.split(doc)]
    [('retry.py:1', 'retry', 'ast'), ('retry.py:3-4', 'retry.decide', 'ast')]
    """

    name = "ast"

    def __init__(self, settings: SplitSettings, count_tokens: TokenCounter, *, max_depth: int = 3,
                 min_line_gap: int = 3, max_error_share: float = 0.25, max_bytes: int = 1_000_000,
                 max_line_chars: int = 1000, max_nesting: int = 50, max_tree_depth: int = 400) -> None:
        if max_depth < 1 or min_line_gap < 0:
            raise ValueError(f"need max_depth >= 1 and min_line_gap >= 0, got {max_depth}, {min_line_gap}")
        if not 0 <= max_error_share <= 1:
            raise ValueError(f"max_error_share must be in [0, 1], got {max_error_share}")
        self.settings = settings
        self.count_tokens = count_tokens
        self.max_depth = max_depth
        self.min_line_gap = min_line_gap
        self.max_error_share = max_error_share
        self.max_bytes = max_bytes
        self.max_line_chars = max_line_chars
        self.max_nesting = max_nesting
        self.max_tree_depth = max_tree_depth

    # -- entry point -------------------------------------------------------
    def split(self, doc: Document) -> list[Passage]:
        """Passages of one source file (kind "code", symbol set, splitter "ast" or "fallback:<why>")."""
        if not doc.text.strip():
            return []
        reason = self._precheck(doc)
        if reason is not None:
            return self._fallback(doc, reason)
        parser = get_parser(doc.language or "")
        f = ParsedFile(doc, self.count_tokens)
        f.root, f.language = parser.parse(doc.text.encode("utf-8")).root_node, parser.language
        if f.root.has_error and error_share(f, parser.language) > self.max_error_share:
            return self._fallback(doc, "syntax-error", parsed=f)
        if deeper_than(f.root, self.max_tree_depth):
            return self._fallback(doc, "too-deep", parsed=f)
        spec = spec_for(doc.language or "", parser.language)
        walker = _Walker(f, spec, doc.language or "", max_nesting=self.max_nesting)
        segments: list[_Segment] = []
        try:
            walker.walk(f.root.named_children, module_path(doc.source), segments)
        except _TooDeep:
            return self._fallback(doc, "too-deep", parsed=f)
        segments = self._normalise(f, segments)
        passages: list[Passage] = []
        for seg in segments:
            for a, b, aligned in self._blocks(f, seg):
                splitter = "ast" if aligned else "fallback:long-node"
                passages.append(f.passage(a, b, symbol=seg.symbol, splitter=splitter))
        return passages

    def _precheck(self, doc: Document) -> str | None:
        if not doc.language or get_parser(doc.language) is None:
            return "no-grammar"
        if len(doc.text.encode("utf-8")) > self.max_bytes:
            return "too-large"
        if is_minified(doc.text.split("\n"), max_line_chars=self.max_line_chars):
            return "minified"
        return None

    # -- segments ----------------------------------------------------------
    def _normalise(self, f: ParsedFile, segments: list[_Segment]) -> list[_Segment]:
        """Order and merge segments so they tile the file: same-row overlaps merged, closers attached,
        glue grouped up to the budget, stray non-blank rows given to a neighbour."""
        merged: list[_Segment] = []
        for seg in segments:
            trimmed = f.trim(seg.start, seg.end)
            if trimmed is None:
                continue
            seg.start, seg.end = trimmed
            if merged and (seg.start <= merged[-1].end or not f.starts_node(seg.start)):
                prev = merged[-1]  # starts on a row the previous one holds, or inside a token: join it
                prev.end = max(prev.end, seg.end)
                prev.nodes.extend(seg.nodes)
                continue
            merged.append(seg)
        # closers ("}", "end", "#endif") join the segment before them (or after, at the file start)
        out: list[_Segment] = []
        carry: _Segment | None = None
        for seg in merged:
            if _is_closer(f, seg):
                if out:
                    out[-1].end = seg.end
                    out[-1].nodes.extend(seg.nodes)
                elif carry is None:
                    carry = seg
                else:
                    carry.end = seg.end
                continue
            if carry is not None:
                seg.start, seg.nodes = carry.start, carry.nodes + seg.nodes
                carry = None
            out.append(seg)
        if carry is not None:
            out.append(carry)
        # group consecutive glue of one scope up to the budget
        grouped: list[_Segment] = []
        budget = self.settings.chunk_tokens
        for seg in out:
            last = grouped[-1] if grouped else None
            if (last is not None and last.kind == seg.kind == "glue" and last.symbol == seg.symbol
                    and f.tokens(last.start, seg.end) <= budget):
                last.end = seg.end
                last.nodes.extend(seg.nodes)
                last.header = False  # a header grouped with docstrings or fields stands alone
            else:
                grouped.append(seg)
        # a short container header opens its first member's passage: "class A:" alone says little
        for i in range(len(grouped) - 2, -1, -1):
            seg, nxt = grouped[i], grouped[i + 1]
            if seg.header and f.tokens(seg.start, seg.end) <= HEADER_TOKENS and (
                    f.tokens(seg.start, nxt.end) <= budget or f.tokens(nxt.start, nxt.end) > budget):
                nxt.start, nxt.nodes = seg.start, seg.nodes + nxt.nodes
                del grouped[i]
        # rows no segment holds (stray tokens outside named nodes) go to the segment before them
        for i, seg in enumerate(grouped):
            next_start = grouped[i + 1].start if i + 1 < len(grouped) else len(f.lines)
            tail = f.trim(seg.end + 1, next_start - 1)
            if tail is not None:
                seg.end = tail[1]
        if grouped:
            head = f.trim(0, grouped[0].start - 1)
            if head is not None:
                grouped[0].start = head[0]
        return grouped

    # -- blocks --------------------------------------------------------------
    def _blocks(self, f: ParsedFile, seg: _Segment) -> list[tuple[int, int, bool]]:
        """Row ranges of the passages of one segment (the whole segment, or SEA blocks), each with
        whether it starts on a syntax boundary (False: a line window inside one over-long node)."""
        budget = self.settings.chunk_tokens
        if f.tokens(seg.start, seg.end) <= budget:
            return [(seg.start, seg.end, True)]
        rows = self._boundaries(f, seg)
        pieces: list[tuple[int, int, bool]] = []
        for i, a in enumerate(rows):
            b = rows[i + 1] - 1 if i + 1 < len(rows) else seg.end  # the tail is kept
            if f.tokens(a, b) > budget:
                pieces.extend(self._refine(f, a, b))
            else:
                pieces.append((a, b, True))
        tokens = [f.tokens(a, b) for a, b, _ in pieces]
        blocks: list[tuple[int, int, bool]] = []
        for i, j in greedy_blocks(tokens, budget, 0):
            span = f.trim(pieces[i][0], pieces[j][1])
            if span is None:
                continue
            a, b = span
            aligned = pieces[i][2]
            if blocks:  # overlap: start earlier, at a node-start row, by up to overlap_tokens
                prev_start = blocks[-1][0]
                r = a - 1
                while r > prev_start and f.tokens(r, a - 1) <= self.settings.overlap_tokens:
                    if f.starts_node(r) and f.tokens(r, b) <= budget:
                        a, aligned = r, True
                    r -= 1
            blocks.append((a, b, aligned))
        return blocks

    def _boundaries(self, f: ParsedFile, seg: _Segment) -> list[int]:
        """SEA boundary rows of a segment: node starts down to ``max_depth``, ``min_line_gap`` apart."""
        found = {seg.start}
        stack = [(node, 0) for node in seg.nodes]
        while stack:
            node, depth = stack.pop()
            if node.type not in ("comment", "line_comment", "block_comment") or depth == 0:
                found.add(start_row(node))
            if depth < self.max_depth and end_row(node) > start_row(node):
                stack.extend((child, depth + 1) for child in node.named_children if child.child_count > 0)
        rows: list[int] = []
        for r in sorted(found):
            if seg.start <= r <= seg.end and (not rows or (r - rows[-1] > self.min_line_gap and f.starts_node(r))):
                rows.append(r)
        return rows

    def _refine(self, f: ParsedFile, a: int, b: int) -> list[tuple[int, int, bool]]:
        """Cut rows ``a..b`` at every row that starts a node; a piece still over the budget that spans
        several rows (a long docstring or literal) is cut into single rows, marked as not aligned."""
        cuts = [a] + [r for r in range(a + 1, b + 1) if f.starts_node(r)]
        out: list[tuple[int, int, bool]] = []
        for i, r in enumerate(cuts):
            end = cuts[i + 1] - 1 if i + 1 < len(cuts) else b
            if end > r and f.tokens(r, end) > self.settings.chunk_tokens:
                out.append((r, r, True))
                out.extend((x, x, False) for x in range(r + 1, end + 1))
            else:
                out.append((r, end, True))
        return out

    # -- fallbacks -----------------------------------------------------------
    def _fallback(self, doc: Document, reason: str, *, parsed: ParsedFile | None = None) -> list[Passage]:
        log.info("%s: %s; splitting by lines", doc.source, reason.replace("-", " "))
        return split_line_windows(doc, self.settings, parsed or ParsedFile(doc, self.count_tokens),
                                  self.count_tokens, splitter=f"fallback:{reason}")


@functools.lru_cache(maxsize=64)
def _error_query(ts_language: Any) -> Any:
    from tree_sitter import Query

    return Query(ts_language, "(ERROR) @error")


def deeper_than(root: Any, limit: int) -> bool:
    """Whether the tree below ``root`` has a node more than ``limit`` levels down (stops at the first).

    >>> from ingest.code.languages import get_parser
    >>> tree = get_parser("python").parse(b"x = [[[1]]]\\n")
    >>> deeper_than(tree.root_node, 4), deeper_than(tree.root_node, 5)  # module > assignment > list x3 > integer
    (True, False)
    """
    cursor = root.walk()
    depth = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            if depth > limit:
                return True
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return False
            depth -= 1


def error_share(f: ParsedFile, ts_language: Any) -> float:
    """Share of non-blank rows inside ERROR nodes (MISSING tokens alone do not count)."""
    from tree_sitter import QueryCursor

    rows: set[int] = set()
    for node in QueryCursor(_error_query(ts_language)).captures(f.root).get("error", []):
        rows.update(r for r in range(start_row(node), end_row(node) + 1) if not f.blank(r))
    nonblank = sum(1 for r in range(len(f.lines)) if not f.blank(r))
    return len(rows) / nonblank if nonblank else 0.0


def _is_closer(f: ParsedFile, seg: _Segment) -> bool:
    """Glue with no word but closing keywords: ``}``, ``end``, ``#endif``, ``);``."""
    if seg.kind != "glue":
        return False
    text = "\n".join(f.lines[seg.start:seg.end + 1])
    return all(w.lower() in CLOSERS for w in re.findall(r"[A-Za-z_]\w*", text))


class _TooDeep(Exception):
    """Definitions nest deeper than the splitter follows."""


class _Walker:
    """Turns sibling nodes into segments, opening containers and attaching comments."""

    def __init__(self, f: ParsedFile, spec: LanguageSpec, language: str, *, max_nesting: int) -> None:
        self.f, self.spec, self.language = f, spec, language
        self.max_nesting = max_nesting
        self.depth = 0

    def role(self, node: Any) -> tuple[str, Any]:
        """(role, definition node): prefix, unit, container, transparent, scope or glue."""
        t, spec = node.type, self.spec
        if t in spec.prefixes:
            return "prefix", node
        if t in spec.scope_setters and body_of(node) is None:
            return "scope", node
        if t in spec.units:
            return "unit", node
        if t in spec.containers:
            return "container", node
        if t in ("lexical_declaration", "variable_declaration") and is_function_value(node):
            return "unit", node
        if t in spec.wrappers or (t == "expression_statement" and spec.wrappers):
            for child in node.named_children:
                role, inner = self.role(child)
                if role in ("unit", "container"):
                    return role, inner
            return "glue", node
        if t in spec.transparent:
            return "transparent", node
        return "glue", node

    def walk(self, nodes: Sequence[Any], scope: str, out: list[_Segment]) -> None:
        """Append the segments of sibling ``nodes`` at ``scope`` to ``out``."""
        run: list[Any] = []  # glue and prefix nodes not yet emitted
        for node in nodes:
            role, inner = self.role(node)
            if role in ("prefix", "glue"):
                run.append(node)
                continue
            if role == "scope":
                self._glue(run + [node], scope, out)
                run = []
                name = definition_name(node, self.language)
                scope = f"{scope}.{name}" if name else scope
                continue
            if role == "transparent":
                self._glue(run, scope, out)
                run = []
                self._open(node, None, scope, out)
                continue
            attached = self._attached(run, node)
            self._glue(run[:len(run) - len(attached)], scope, out)
            run = []
            name = definition_name(inner, self.language)
            symbol = f"{scope}.{name}" if name else scope
            first = start_row(attached[0]) if attached else start_row(node)
            if role == "container" and self._open(node, inner, symbol, out, first=first, attached=attached):
                continue
            out.append(_Segment(first, end_row(node), symbol, "unit", [*attached, node]))
        self._glue(run, scope, out)

    def _attached(self, run: list[Any], node: Any) -> list[Any]:
        """The prefix nodes at the end of ``run`` that sit right above ``node`` (no blank line between)."""
        attached: list[Any] = []
        below = start_row(node)
        for prev in reversed(run):
            if self.role(prev)[0] != "prefix" or end_row(prev) < below - 1:
                break
            attached.insert(0, prev)
            below = start_row(prev)
        return attached

    def _glue(self, nodes: list[Any], scope: str, out: list[_Segment]) -> None:
        out.extend(_Segment(start_row(n), end_row(n), scope, "glue", [n]) for n in nodes)

    def _open(self, node: Any, inner: Any, symbol: str, out: list[_Segment], *, first: int | None = None,
              attached: Sequence[Any] = ()) -> bool:
        """Emit a container's (or transparent node's) header, members and tail; False if it has no members."""
        holder = inner if inner is not None else node
        body = body_of(holder) if inner is not None else holder.child_by_field_name("body")
        # the header ends with the last named field before the body (name, bases, parameters) or with
        # the body's opening delimiter ("{"), so comments above the first member go to that member
        header_end = start_row(holder) if inner is not None else start_row(holder) - 1
        for i, child in enumerate(holder.children):
            if body is not None and child.start_byte >= body.start_byte:
                break
            if holder.field_name_for_child(i) is not None:
                header_end = max(header_end, end_row(child))
        if body is not None and body.child_count > 0 and not body.children[0].is_named:  # "{", "do", ":"
            header_end = max(header_end, start_row(body))
        kids = [c for c in holder.named_children if c != body and start_row(c) > header_end]
        if body is not None:
            kids += [c for c in body.named_children if start_row(c) > header_end]
        kids.sort(key=lambda c: c.start_byte)
        if not kids:
            if inner is not None:
                return False
            out.append(_Segment(start_row(node), end_row(node), symbol, "glue", [node]))
            return True
        start = first if first is not None else start_row(node)
        if header_end >= start:
            out.append(_Segment(start, header_end, symbol, "glue", [*attached], header=True))
        if self.depth >= self.max_nesting:
            raise _TooDeep(symbol)
        self.depth += 1
        self.walk(kids, symbol, out)
        self.depth -= 1
        last = max(end_row(c) for c in kids)
        if end_row(node) > last:
            out.append(_Segment(last + 1, end_row(node), symbol, "glue", []))
        return True
