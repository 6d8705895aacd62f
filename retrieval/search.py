"""Dense, BM25 and hybrid search over an index (a :class:`~retrieval.store.Reader`: one index, or several read as
one by :class:`retrieval.multi.MultiReader`), inside a scope and routed by a profile's router.

:meth:`Searcher.retrieve` is the passage search with its account: the user's :class:`~retrieval.scope.Scope`
(resolved against the manifest; one that matches nothing is an :class:`InputError`) restricts dense search
to the allowed rows (FAISS ``IDSelectorBatch``) and BM25 by SQL; then, with ``[search] route`` on and no
documents named, the injected :class:`~ingest.core.protocols.QueryRouter` (the filings profile's routes by
issuer and period: :mod:`retrieval.route`) may narrow the search to the documents a question names
(coarse-to-fine: when the routed documents give fewer than ``k`` hits, the rest of the scope fills in).
What was decided is in :attr:`Retrieval.details`, for the pipeline's "retrieve" trace.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.core.errors import InputError
from ingest.core.protocols import Embedder, QueryRouter
from ingest.core.records import Ranked, RouteDecision
from ingest.core.settings import SearchLevel, SearchMode, SearchSettings, choices
from retrieval.fusion import rrf
from retrieval.scope import ResolvedScope, Scope, empty_scope_message, resolve_scope
from retrieval.store import Reader


@dataclass(frozen=True)
class Retrieval:
    """A passage search's hits and how they were found.

    :param hits: best first.
    :param details: one line each for the trace: the scope, the routing decision, fallbacks.
    :param scope: the user's scope as resolved (None: the whole index); whole-document reading respects it.
    :param route: the routing decision (None: routing off, or documents named in the scope).
    """

    hits: list[Ranked]
    details: tuple[str, ...] = ()
    scope: ResolvedScope | None = None
    route: RouteDecision | None = None


class Searcher:
    """Runs the first stage against an index (or several read as one) with the embedder it was built with."""

    def __init__(self, reader: Reader, embedder: Embedder, settings: SearchSettings,
                 router: QueryRouter | None = None) -> None:
        self.reader, self.embedder, self.settings, self.router = reader, embedder, settings, router
        self._last: tuple[str, np.ndarray] | None = None

    @property
    def name(self) -> str:
        """The default search mode, as the pipeline's trace names it."""
        return self.settings.mode

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's vector, kept for the next call (coarse-to-fine embeds each query once)."""
        last = self._last  # one read: another thread may replace it
        if last is None or last[0] != query:
            last = (query, self.embedder.embed_queries([query])[0])
            self._last = last
        return last[1]

    def dense(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
              pages: tuple[int, int] | None = None) -> list[Ranked]:
        """Nearest passages by inner product of normalised vectors (inside ``doc_ids``, ``kinds``, ``pages`` when
        given)."""
        rows = None
        if doc_ids is not None or kinds or pages is not None:
            rows = self.reader.scope_rows(doc_ids=doc_ids, kinds=kinds, pages=pages)
        return self._ranked(self.reader.dense(self._query_vector(query), k, rows=rows))

    def bm25(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
             pages: tuple[int, int] | None = None) -> list[Ranked]:
        """Best passages by FTS5 BM25 (inside ``doc_ids``, ``kinds``, ``pages`` when given, by SQL)."""
        if kinds or pages is not None:
            return self._ranked(self.reader.bm25_scoped(query, k, doc_ids=doc_ids, kinds=kinds, pages=pages))
        return self._ranked(self.reader.bm25(query, k, doc_ids=doc_ids))

    def hybrid(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] = (),
               pages: tuple[int, int] | None = None) -> list[Ranked]:
        """RRF of dense and BM25, each contributing ``max(k, candidates)`` (both inside the same scope)."""
        n = max(k, self.settings.candidates)
        dense = self.dense(query, n, doc_ids=doc_ids, kinds=kinds, pages=pages)
        return rrf(dense, self.bm25(query, n, doc_ids=doc_ids, kinds=kinds, pages=pages), k=self.settings.rrf_k)[:k]

    def units(self, query: str, k: int, *, level: str = "unit", doc_ids: Collection[str] | None = None) -> list[Ranked]:
        """Best whole functions/classes (``level="unit"``) or files (``"file"``) by their unit vectors (of the
        documents ``doc_ids`` when given: every unit is ranked, then filtered).

        Each hit is a passage spanning the unit (``splitter`` is "unit" or "file", ``symbol`` set for units).
        """
        if level not in ("unit", "file"):
            raise InputError(f"unknown unit level {level!r}; valid: unit, file")
        hits = self.reader.unit_dense(self._query_vector(query), k if doc_ids is None else 1 << 30, level=level)
        if doc_ids is not None:
            records = self.reader.units([r for r, _ in hits])
            hits = [h for h, u in zip(hits, records, strict=True) if u.doc_id in doc_ids][:k]
        passages = self.reader.unit_passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]

    def coarse(self, query: str, docs: int) -> list[str] | None:
        """doc_ids of the ``docs`` best documents by file vector; None when the index has no more than that."""
        if docs <= 0 or self.reader.manifest.counts.get("documents", 0) <= docs or not self.reader.has_units:
            return None
        hits = self.reader.unit_dense(self._query_vector(query), docs, level="file")
        return [u.doc_id for u in self.reader.units([r for r, _ in hits])]

    def default_scope(self) -> Scope | None:
        """The scope the settings give (``[search] documents``, ``kinds``, ``pages``), used when a search names
        none; None when they give none."""
        s = self.settings
        if not (s.documents or s.kinds or s.pages):
            return None
        return Scope.of(s.documents, s.kinds, s.pages or None)

    def resolve(self, scope: Scope | None) -> ResolvedScope | None:
        """``scope`` resolved against this index (None for no scope).

        :raises InputError: a document pattern matching no document, an unknown kind, a bad page range, or a
            scope whose documents hold no passage of its kinds and pages.
        """
        scope = scope or self.default_scope()
        if not scope:
            return None
        resolved = resolve_scope(scope, self.reader.manifest.sources)
        if resolved.filters_passages and not self.reader.scope_has_rows(
                doc_ids=None if resolved.doc_ids is None else sorted(resolved.doc_ids), kinds=resolved.kinds,
                pages=resolved.pages):
            raise InputError(empty_scope_message(resolved))
        return resolved

    def route(self, query: str, scope: ResolvedScope | None = None) -> RouteDecision | None:
        """Where the router (a profile's, e.g. the filings profile's issuer and period routing) sends ``query``
        among the scope's documents; None without a router, with ``[search] route`` off, or when the scope
        names documents (the user already chose)."""
        if self.router is None or not self.settings.route or (scope is not None and scope.names_documents):
            return None
        sources = self.reader.manifest.sources
        if scope is not None and scope.doc_ids is not None:
            sources = [s for s in sources if s.get("doc_id") in scope.doc_ids]
        return self.router.route(query, sources)

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None, mode: SearchMode | None = None,
                 docs: int | None = None) -> Retrieval:
        """The best ``k`` passages inside ``scope``, routed when the question names an issuer; with the account of
        how (:class:`Retrieval`).

        ``docs`` (default: the settings' ``coarse_docs``) > 0 searches coarse-to-fine by file vector when neither
        the scope nor routing chose the documents.

        :raises InputError: ``k < 1``, an unknown mode, or a scope that matches nothing (see :meth:`resolve`).
        """
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        mode = mode or self.settings.mode
        run = {"dense": self.dense, "bm25": self.bm25, "hybrid": self.hybrid}.get(mode)
        if run is None:
            raise InputError(f"unknown search mode {mode!r}; valid: {', '.join(choices(SearchMode))}")
        resolved = self.resolve(scope)
        details: list[str] = [resolved.describe()] if resolved is not None else []
        kinds, pages = (resolved.kinds, resolved.pages) if resolved is not None else ((), None)
        doc_ids = None if resolved is None or resolved.doc_ids is None else sorted(resolved.doc_ids)
        decision = self.route(query, resolved)
        if decision is not None and decision.applicable:
            details.append(decision.note())
        if decision is not None and decision.confident:
            hits = run(query, k, doc_ids=list(decision.doc_ids), kinds=kinds, pages=pages)
            if len(hits) < k:  # coarse-to-fine: the rest of the scope fills in
                seen = {h.passage.id for h in hits}
                more = [h for h in run(query, k, doc_ids=doc_ids, kinds=kinds, pages=pages)
                        if h.passage.id not in seen]
                if more:
                    details.append(f"{len(hits)} hit(s) in the routed documents; {len(more[: k - len(hits)])} more "
                                   "from the rest of the scope")
                hits += more[: k - len(hits)]
            return Retrieval(hits, tuple(details), resolved, decision)
        if doc_ids is None:
            coarse = self.coarse(query, self.settings.coarse_docs if docs is None else docs)
            if coarse is not None:
                doc_ids = coarse
                details.append(f"coarse-to-fine: {len(coarse)} document(s) by file vector")
        return Retrieval(run(query, k, doc_ids=doc_ids, kinds=kinds, pages=pages), tuple(details), resolved, decision)

    def search(self, query: str, k: int, *, mode: SearchMode | None = None, level: SearchLevel = "passage",
               docs: int | None = None, scope: Scope | None = None) -> list[Ranked]:
        """Search with ``mode`` (default: the settings' mode) at ``level``: "passage" (blocks), "unit" or "file".

        Passage search is :meth:`retrieve` (scoped, routed, ``docs`` coarse-to-fine). Unit and file search is
        dense only: ``mode`` must then be None or "dense", and a scope may name documents only.
        """
        if level not in choices(SearchLevel):
            raise InputError(f"unknown search level {level!r}; valid: {', '.join(choices(SearchLevel))}")
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if level == "passage":
            return self.retrieve(query, k, scope=scope, mode=mode, docs=docs).hits
        if mode not in (None, "dense"):
            raise InputError(f"{level} search is dense only; got mode {mode!r}")
        resolved = self.resolve(scope)
        if resolved is None or resolved.doc_ids is None:
            if resolved is not None:
                raise InputError(f"scope: {level} search can be restricted to documents only, not kinds or pages")
            return self.units(query, k, level=level)
        if resolved.filters_passages:
            raise InputError(f"scope: {level} search can be restricted to documents only, not kinds or pages")
        return self.units(query, k, level=level, doc_ids=resolved.doc_ids)

    def _ranked(self, hits: list[tuple[int, float]]) -> list[Ranked]:
        passages = self.reader.passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]
