"""Scoped search: restrict a search or a question to some documents, passage kinds and pages.

A :class:`Scope` is what a user asks for (source paths, globs or doc ids; kinds; a page range). It is
resolved against the index's manifest (``sources[]``: source, doc_id, meta) into a :class:`ResolvedScope`
by the pure :func:`resolve_scope`; a pattern that matches no document, an unknown kind or a bad page
range is a one-line :class:`InputError`. The resolved scope filters passages (:meth:`ResolvedScope.allows`)
and gives the store the filters for SQL and FAISS (``retrieval.store.IndexReader.scope_rows``).

Pages are 1-based and inclusive; a passage is on the page where it starts, and passages without a page
(text, Markdown, code) fall outside any page range.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ingest.core.errors import InputError
from ingest.core.records import Passage, PassageKind
from ingest.core.settings import choices

KINDS: tuple[str, ...] = choices(PassageKind)
INDEX_SCOPE = "index:"  # a document pattern naming every document of one of several indexes searched as one
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Scope:
    """What a search or question is restricted to; the empty scope (the default) is the whole index.

    :param documents: source paths, globs (``reports/*2019*.pdf``, fnmatch on the stored source) or doc ids.
    :param kinds: passage kinds ("prose", "code", "table").
    :param pages: an inclusive 1-based page range.
    """

    documents: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    pages: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # callers may hand lists (JSON, argparse); keep the record hashable and frozen
        object.__setattr__(self, "documents", tuple(self.documents))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        if self.pages is not None:
            object.__setattr__(self, "pages", tuple(self.pages))

    def __bool__(self) -> bool:
        return bool(self.documents or self.kinds or self.pages is not None)

    @classmethod
    def of(cls, documents: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
           pages: str | Sequence[int] | None = None) -> Scope:
        """A scope from loose inputs (CLI flags, request fields): ``pages`` may be "A-B", "A" or ``[A, B]``.

        >>> Scope.of(["a.pdf"], pages="3-5")
        Scope(documents=('a.pdf',), kinds=(), pages=(3, 5))
        """
        if isinstance(pages, str):
            span: tuple[int, int] | None = parse_pages(pages)
        elif pages is None:
            span = None
        else:
            if len(pages) != 2:
                raise InputError(f"scope: pages must be [first, last], got {list(pages)}")
            span = (int(pages[0]), int(pages[1]))
        return cls(tuple(documents or ()), tuple(kinds or ()), span)


def parse_pages(text: str) -> tuple[int, int]:
    """An inclusive 1-based page range from "A-B" or "A".

    >>> parse_pages("3-7"), parse_pages(" 4 ")
    ((3, 7), (4, 4))
    >>> parse_pages("7-3")
    Traceback (most recent call last):
    ...
    ingest.core.errors.InputError: scope: pages '7-3': the first page is after the last
    """
    m = re.fullmatch(r"\s*(\d+)\s*(?:[-–:]\s*(\d+)\s*)?", text)
    if not m:
        raise InputError(f"scope: pages {text!r}: expected A-B (e.g. 3-7) or one page number")
    first, last = int(m[1]), int(m[2] or m[1])
    return check_pages((first, last), text)


def check_pages(pages: tuple[int, int], shown: str | None = None) -> tuple[int, int]:
    """``pages`` when it is a valid inclusive 1-based range.

    :raises InputError: a page below 1, or the first page after the last.
    """
    first, last = pages
    what = shown if shown is not None else f"{first}-{last}"
    if first < 1:
        raise InputError(f"scope: pages {what!r}: pages are numbered from 1")
    if first > last:
        raise InputError(f"scope: pages {what!r}: the first page is after the last")
    return first, last


@dataclass(frozen=True)
class ResolvedScope:
    """A scope resolved against an index: the doc ids it allows (None: every document), kinds, pages."""

    doc_ids: frozenset[str] | None
    kinds: tuple[str, ...] = ()
    pages: tuple[int, int] | None = None
    names_documents: bool = False  # the user named documents (routing then stays out of the way; ``index:NAME``
    # alone names an index, not documents, so routing still chooses among that index's documents)

    def allows(self, passage: Passage) -> bool:
        """Whether ``passage`` is inside the scope."""
        if self.doc_ids is not None and passage.doc_id not in self.doc_ids:
            return False
        if self.kinds and passage.kind not in self.kinds:
            return False
        if self.pages is not None:
            return passage.page is not None and self.pages[0] <= passage.page <= self.pages[1]
        return True

    @property
    def filters_passages(self) -> bool:
        """Whether it restricts more than whole documents (kinds or pages)."""
        return bool(self.kinds) or self.pages is not None

    def describe(self) -> str:
        """One line for the trace.

        >>> ResolvedScope(frozenset({"a", "b"}), ("table",), (2, 4)).describe()
        'scope: 2 document(s), kinds table, pages 2-4'
        """
        parts = ["all documents" if self.doc_ids is None else f"{len(self.doc_ids)} document(s)"]
        if self.kinds:
            parts.append(f"kinds {', '.join(self.kinds)}")
        if self.pages is not None:
            parts.append(f"pages {self.pages[0]}-{self.pages[1]}")
        return "scope: " + ", ".join(parts)


def matches_source(pattern: str, source: Mapping[str, Any]) -> bool:
    """Whether a document pattern names a manifest source: its doc id, its path, its file name, or a glob
    on either (``*`` crosses ``/``, as fnmatch does). A relative pattern also matches the end of a path
    (``reports/*2016*`` names ``/data/reports/ADOBE_2016_10K.pdf``).

    ``index:NAME`` names every document of the index NAME when several are searched as one
    (:mod:`retrieval.multi`).

    >>> src = {"source": "/data/reports/ADOBE_2016_10K.pdf", "doc_id": "ab12-cd"}
    >>> [matches_source(p, src) for p in ("ab12-cd", "/data/reports/ADOBE_2016_10K.pdf", "*2016*",
    ...                                   "ADOBE_2016_10K.pdf", "reports/ADOBE_2016_10K.pdf", "reports/*2016*",
    ...                                   "reports/*2017*", "ports/ADOBE_2016_10K.pdf")]
    [True, True, True, True, True, True, False, False]
    >>> matches_source("index:team-a", {"source": "x.pdf", "index": "team-a"}), matches_source("index:b", src)
    (True, False)
    """
    if pattern.startswith(INDEX_SCOPE):
        return source.get("index") == pattern[len(INDEX_SCOPE):]
    path = str(source.get("source", ""))
    name = PurePath(path).name
    if pattern in (source.get("doc_id"), path, name) or _same_path(pattern, path):
        return True
    relative = not PurePath(pattern).is_absolute()
    if relative and not _GLOB.search(pattern) and PurePath(path).parts[-len(PurePath(pattern).parts):] == \
            PurePath(pattern).parts:
        return True
    if _GLOB.search(pattern):
        return (fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern)
                or (relative and fnmatch.fnmatchcase(path, "*/" + pattern)))
    return False


def _candidates(pattern: str, sources: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The sources ``pattern`` can match: all for a glob; else those whose doc id is the pattern or whose path
    holds the pattern's file name (every other way a plain pattern matches ends with that name). A cheap
    string test per document, so that naming one document of 50,000 takes milliseconds.

    >>> [s["doc_id"] for s in _candidates("a/x.pdf", [{"doc_id": "1", "source": "/d/a/x.pdf"},
    ...                                                {"doc_id": "2", "source": "/d/y.pdf"}])]
    ['1']
    """
    if _GLOB.search(pattern) or pattern.startswith(INDEX_SCOPE):
        return sources
    name = PurePath(pattern).name
    return [s for s in sources if s.get("doc_id") == pattern or name in str(s.get("source", ""))]


def _same_path(pattern: str, path: str) -> bool:
    """Equal paths once normalised ("./a/b.pdf" and "a/b.pdf"); both relative or both absolute."""
    return bool(pattern) and PurePath(pattern) == PurePath(path)


def resolve_scope(scope: Scope, sources: Sequence[Mapping[str, Any]]) -> ResolvedScope:
    """Resolve ``scope`` against the manifest's ``sources``.

    :raises InputError: a document pattern that matches no indexed document, an unknown kind, or a bad page
        range (one line naming it).
    """
    bad_kinds = [k for k in scope.kinds if k not in KINDS]
    if bad_kinds:
        raise InputError(f"scope: unknown passage kind {bad_kinds[0]!r}; valid: {', '.join(KINDS)}")
    pages = check_pages(scope.pages) if scope.pages is not None else None
    doc_ids: frozenset[str] | None = None
    if scope.documents:
        chosen: set[str] = set()
        for pattern in scope.documents:
            hits = {str(s["doc_id"]) for s in _candidates(pattern, sources) if matches_source(pattern, s)}
            if not hits and pattern.startswith(INDEX_SCOPE):
                raise InputError(f"scope: {pattern!r}: no index of that name is searched ({_index_names(sources)})")
            if not hits:
                raise InputError(f"scope: document {pattern!r} matches none of the {len(sources)} indexed documents "
                                 f"(give a source path, a glob such as 'reports/*2019*', or a doc id)")
            chosen |= hits
        doc_ids = frozenset(chosen)
    names = any(not pattern.startswith(INDEX_SCOPE) for pattern in scope.documents)
    return ResolvedScope(doc_ids, tuple(dict.fromkeys(scope.kinds)), pages, names_documents=names)


def _index_names(sources: Sequence[Mapping[str, Any]]) -> str:
    """The names of the indexes searched, for an error ("one index" when only one is).

    >>> _index_names([{"index": "a"}, {"index": "b"}, {"index": "a"}]), _index_names([{}])
    ('indexes: a, b', 'one index, unnamed')
    """
    names = [str(n) for n in dict.fromkeys(s.get("index") for s in sources) if n is not None]
    return f"indexes: {', '.join(names)}" if names else "one index, unnamed"


def empty_scope_message(resolved: ResolvedScope) -> str:
    """The error for a scope whose documents hold no passage of its kinds and pages.

    >>> empty_scope_message(ResolvedScope(frozenset({"a"}), ("table",), (3, 4)))
    'scope: no passage of kind table on pages 3-4 in the 1 scoped document(s)'
    """
    what = "no passage"
    if resolved.kinds:
        what += f" of kind {' or '.join(resolved.kinds)}"
    if resolved.pages is not None:
        what += f" on pages {resolved.pages[0]}-{resolved.pages[1]}"
    where = "in the index" if resolved.doc_ids is None else f"in the {len(resolved.doc_ids)} scoped document(s)"
    return f"scope: {what} {where}"
