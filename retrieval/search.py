"""Dense, BM25 and hybrid search over an index (a :class:`~retrieval.store.Reader`: one index, or several read as
one by :class:`retrieval.multi.MultiReader`), inside a scope and routed by a profile's router.

:meth:`Searcher.retrieve` is the passage search with its account: the user's :class:`~retrieval.scope.Scope`
(resolved against the manifest; one that matches nothing is an :class:`InputError`) restricts dense search
to the allowed rows (FAISS ``IDSelectorBatch``) and BM25 by SQL; then, with ``[search] route`` on and no
documents named, the injected :class:`~ingest.core.protocols.QueryRouter` (the filings profile's routes by
issuer and period: :mod:`retrieval.route`) may narrow the search to the documents a question names
(coarse-to-fine: when the routed documents give fewer than ``k`` hits, the rest of the scope fills in).
With an evidence planner (a profile's :class:`~ingest.core.protocols.EvidencePlanner`: the filings profile's
plans the statements a figure's line items are reported in and the section a judgement reads), a question
routed to its documents (or asked inside documents the scope names) also gets each planned need searched on its
own inside the first of them, and the hits are fused by quota (:func:`retrieval.fusion.quota_fuse`: the
question's best hit, then each need's best, then the rest), so the ``k`` passages hold every piece the plan
names. Only questions are planned, not keyword queries (a shortcut's own searches stay as they are).
What was decided (the plan too: each need's query and what it found) is in :attr:`Retrieval.details`, for the
pipeline's "retrieve" trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.core.errors import InputError
from ingest.core.protocols import Embedder, EvidenceNeed, EvidencePlanner, QueryRouter
from ingest.core.records import Passage, Ranked, RouteDecision
from ingest.core.settings import SearchLevel, SearchMode, SearchSettings, choices
from ingest.core.text import sentence_spans
from retrieval.fusion import quota_fuse, rrf
from retrieval.scope import ResolvedScope, Scope, empty_scope_message, resolve_scope
from retrieval.store import Reader


@dataclass(frozen=True)
class Retrieval:
    """A passage search's hits and how they were found.

    :param hits: best first.
    :param details: one line each for the trace: the scope, the routing decision, fallbacks.
    :param scope: the user's scope as resolved (None: the whole index); whole-document reading respects it.
    :param route: the routing decision (None: routing off, or documents named in the scope).
    :param stated: the sentences that state what a planned need asks for (its ``states`` pattern matched them in
        its hits): each passage with the sentence's span; the context must show them.
    """

    hits: list[Ranked]
    details: tuple[str, ...] = ()
    scope: ResolvedScope | None = None
    route: RouteDecision | None = None
    planned: bool = False  # the hits fuse an evidence plan's searches with the question's own
    stated: tuple[tuple[Passage, tuple[int, int]], ...] = ()


log = logging.getLogger(__name__)
NEED_HITS = 20  # passages searched per planned need (a titled passage among them is moved first)
STATED_PASSAGES = 3  # passages read from a document for a need its search did not find stated (document order)
_QUESTION_START = re.compile(r"^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|has|"
                             r"have|had|can|could|should|would|will|if|based|using|according|in|from|assuming|"
                             r"give|list|name|describe|explain|calculate|compute|find|tell)\b", re.IGNORECASE)
Run = Callable[..., list[Ranked]]


def is_question(text: str) -> bool:
    """Whether ``text`` is a question (planned) rather than a keyword query (searched as it is): it has a
    question mark or starts as questions and requests do.

    >>> is_question("What was revenue in 2019?"), is_question("Calculate the current ratio for FY2020")
    (True, True)
    >>> is_question("total revenue consolidated statements of operations 2019")
    False
    """
    return "?" in text or bool(_QUESTION_START.search(text))


TITLE_WORDS = 16  # a title line is short, and names its title early (after a company name at most): a line that
TITLE_START = 8  # names it later, or a longer line, is a sentence mentioning it ("... included in our Statements of")
TITLE_LEAD = 6  # a title comes first or after short lines only (a company name, "Table of Contents")


def title_rank(passage: Passage, pattern: re.Pattern[str]) -> int:
    r"""How surely the passage is the piece ``pattern`` titles: 0 one of its first three lines is a short title
    line that matches (after short lines only), 1 its header's caption (a table's own title) matches, 2 the
    section its header puts it in does (a section path can still name the statement before it), 3 none.

    >>> from ingest.core.records import Passage
    >>> p = Passage(id="x", doc_id="d", source="s", text="Acme Inc.\nBALANCE SHEETS\nCash 5", chars=(0, 1))
    >>> title_rank(p, re.compile("balance sheets?", re.IGNORECASE))
    0
    >>> p = Passage(id="x", doc_id="d", source="s", text="Stock 1", chars=(0, 1), header="8 › BALANCE SHEETS · Cash")
    >>> title_rank(p, re.compile("balance sheets?", re.IGNORECASE)), title_rank(p, re.compile("cash", re.IGNORECASE))
    (2, 1)
    """
    for line in passage.text.replace("\xa0", " ").lstrip().split("\n", 3)[:3]:
        m = pattern.search(line)
        if m and len(line.split()) <= TITLE_WORDS and len(line[:m.start()].split()) < TITLE_START:
            return 0
        if len(line.split()) > TITLE_LEAD:  # a sentence or a row: the lines after it are not its title
            break
    *path, caption = [part.strip() for part in (passage.header or "").replace("\xa0", " ").split("·")] or [""]
    if path and pattern.search(caption):
        return 1
    section = (path[-1] if path else caption).rsplit("›", 1)[-1]
    return 2 if pattern.search(section) else 3


STATED_SENTENCES = 2  # sentences of a need's best hit kept in the context, as stating what it needs


def stating(passage: Passage, states: str) -> list[tuple[int, int]]:
    """The spans of ``passage``'s first sentences that ``states`` (a need's pattern) matches in.

    >>> p = Passage(id="x", doc_id="d", source="s", text="Employees. We had 3,700 employees. Offices.", chars=(0, 1))
    >>> [p.text[a:b] for a, b in stating(p, r"\d[\d,]* employees")]
    ['We had 3,700 employees.']
    """
    pattern = re.compile(states, re.IGNORECASE)
    return [(a, b) for a, b in sentence_spans(passage.text) if pattern.search(passage.text, a, b)][:STATED_SENTENCES]


class Searcher:
    """Runs the first stage against an index (or several read as one) with the embedder it was built with."""

    def __init__(self, reader: Reader, embedder: Embedder, settings: SearchSettings,
                 router: QueryRouter | None = None, planner: EvidencePlanner | None = None) -> None:
        self.reader, self.embedder, self.settings, self.router = reader, embedder, settings, router
        self.planner = planner
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
        return rrf(dense, self.bm25(query, n, doc_ids=doc_ids, kinds=kinds, pages=pages), k=self.settings.rrf_k,
                   weights=(1.0, self.settings.bm25_weight))[:k]

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
                 docs: int | None = None, plan: bool = True) -> Retrieval:
        """The best ``k`` passages inside ``scope``, routed when the question names an issuer, and fused with the
        searches of its evidence plan (``plan`` and a planner given); with the account of how (:class:`Retrieval`).

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
            stated: list[tuple[Passage, tuple[int, int]]] = []
            planned = self._planned(query, hits, decision.doc_ids[:1], run, k, kinds, pages, details, stated) \
                if plan else None
            return Retrieval(planned or hits, tuple(details), resolved, decision, planned is not None, tuple(stated))
        if doc_ids is None:
            coarse = self.coarse(query, self.settings.coarse_docs if docs is None else docs)
            if coarse is not None:
                doc_ids = coarse
                details.append(f"coarse-to-fine: {len(coarse)} document(s) by file vector")
        hits = run(query, k, doc_ids=doc_ids, kinds=kinds, pages=pages)
        planned, stated = None, []
        if plan and resolved is not None and resolved.names_documents and doc_ids:
            planned = self._planned(query, hits, doc_ids[:1], run, k, kinds, pages, details, stated)
        return Retrieval(planned or hits, tuple(details), resolved, decision, planned is not None, tuple(stated))

    def _planned(self, query: str, hits: list[Ranked], doc_ids: Sequence[str], run: Run, k: int,
                 kinds: Sequence[str], pages: tuple[int, int] | None, details: list[str],
                 stated: list[tuple[Passage, tuple[int, int]]]) -> list[Ranked] | None:
        """``hits`` fused with the planner's needs, each searched inside ``doc_ids`` (None: no plan, or not a
        question); the plan and what each need found go into ``details``, the sentences stating a need into
        ``stated``."""
        if self.planner is None or not doc_ids or not is_question(query):
            return None
        try:
            needs = list(self.planner.plan(query))
        except Exception as err:  # noqa: BLE001  (a profile's part: its failure leaves the search as it is)
            log.warning("evidence planner %s failed on %r: %s", self.planner.name, query, err)
            details.append(f"evidence plan ({self.planner.name}) failed ({type(err).__name__}: {err}); "
                           "the question's own search only")
            return None
        if not needs:
            return None
        found = [self._need(need, doc_ids, run, kinds, pages) for need in needs]
        fused = quota_fuse(hits, found, k)
        details.append(f"evidence plan ({self.planner.name}): {len(needs)} need(s), each searched in "
                       f"{', '.join(doc_ids)}; the question's best hit, then each need's, then the rest")
        for need, need_hits in zip(needs, found, strict=True):
            best = need_hits[0].passage.label if need_hits else "nothing"
            details.append(f"need {need.label}: {need.query!r} -> {best}")
            if need.states and need_hits and (spans := stating(need_hits[0].passage, need.states)):
                stated += [(need_hits[0].passage, span) for span in spans]
                details.append(f"need {need.label}: stated in {len(spans)} sentence(s) of "
                               f"{need_hits[0].passage.label}, kept in the context")
        return fused

    def _need(self, need: EvidenceNeed, doc_ids: Sequence[str], run: Run, kinds: Sequence[str],
              pages: tuple[int, int] | None) -> list[Ranked]:
        """One need's hits: its kinds (inside the scope's), a passage stating it first (searched, else read from
        the documents), then a titled one."""
        want = tuple(x for x in need.kinds if not kinds or x in kinds) or tuple(kinds)
        hits = run(need.query, NEED_HITS, doc_ids=list(doc_ids), kinds=want, pages=pages)
        if not hits and want != tuple(kinds):
            hits = run(need.query, NEED_HITS, doc_ids=list(doc_ids), kinds=kinds, pages=pages)
        if need.title:
            pattern = re.compile(need.title, re.IGNORECASE)
            hits = sorted(hits, key=lambda h: title_rank(h.passage, pattern))  # stable: titled first
        if need.states:
            stated = re.compile(need.states, re.IGNORECASE)
            found = [h for h in hits if stating(h.passage, need.states)]
            if not found:  # a fact in one line of a passage about something else: read the documents for it
                low = hits[-1].score if hits else 0.0
                found = [Ranked(p, low) for d in doc_ids for p in self.reader.document_passages(d)
                         if (not want or p.kind in want) and stated.search(p.text) and stating(p, need.states)
                         ][:STATED_PASSAGES]
            seen = {h.passage.id for h in found}
            hits = [*found, *(h for h in hits if h.passage.id not in seen)][:NEED_HITS]
        return hits

    def search(self, query: str, k: int, *, mode: SearchMode | None = None, level: SearchLevel = "passage",
               docs: int | None = None, scope: Scope | None = None) -> list[Ranked]:
        """Search with ``mode`` (default: the settings' mode) at ``level``: "passage" (blocks), "unit" or "file".

        Passage search is :meth:`retrieve` (scoped, routed, ``docs`` coarse-to-fine; no evidence plan: what
        the query finds). Unit and file search is
        dense only: ``mode`` must then be None or "dense", and a scope may name documents only.
        """
        if level not in choices(SearchLevel):
            raise InputError(f"unknown search level {level!r}; valid: {', '.join(choices(SearchLevel))}")
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if level == "passage":
            return self.retrieve(query, k, scope=scope, mode=mode, docs=docs, plan=False).hits
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
