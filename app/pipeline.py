"""The question-answering pipeline: one object made of injectable parts, used by every interface.

::

    question ─► searcher ─► [whole documents fit?] ─► reranker ─► selector ─► generator ─► verifier ─► Answer
                 (retrieve)   selector.full_text         (rerank)    (select)    (prompt,       (verify,
                                (mode)                                            generate)      answer_check)

Each part reports a :class:`~ingest.core.records.StageTrace`; the :class:`Answer` carries them, the
warnings, and the answer mode that ran. The SDK (:class:`app.sdk.Index`), the CLI, the UI and the
evaluation all call :meth:`Pipeline.stream` or :meth:`Pipeline.run`; ``app/factory.py`` builds it
from settings.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.figures_stage import MODEL_NAME, answer_figures
from generation.answer import Draft, Generator, Verifier
from generation.select import ContextSelector, Corpus
from ingest.core.errors import InputError
from ingest.core.protocols import Reranker
from ingest.core.records import Answer, Passage, Ranked, StageTrace, final_item
from ingest.core.settings import AnswerSettings, Order
from ingest.core.text import check_question
from retrieval.scope import Scope
from retrieval.search import Retrieval

AnswerStream = Iterator[str | Answer]
"""What :meth:`Pipeline.stream` yields: answer text pieces as the model writes them (the raw generation,
before the citation check), then exactly one final :class:`Answer` whose ``text`` is the checked answer."""


class Retriever(Protocol):
    """The first stage: best passages for a query (``retrieval.search.Searcher`` fits)."""

    @property
    def name(self) -> str:
        """What runs ("hybrid", "dense", "bm25", ...), for the trace."""
        ...

    def search(self, query: str, k: int) -> list[Ranked]: ...


@runtime_checkable
class ScopedRetriever(Protocol):
    """A first stage that can search inside a :class:`Scope` and say how it searched (``Searcher`` fits)."""

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval: ...


class ScopedCorpus:
    """The passages of a corpus that a scope allows (what whole-document reading and neighbours may use)."""

    def __init__(self, corpus: Corpus, allows: Callable[[Passage], bool]) -> None:
        self.corpus, self.allows = corpus, allows
        self._by_doc: dict[str, list[Passage]] | None = None

    def doc_passages(self) -> Mapping[str, Sequence[Passage]]:
        if self._by_doc is None:
            kept = {d: [p for p in ps if self.allows(p)] for d, ps in self.corpus.doc_passages().items()}
            self._by_doc = {d: ps for d, ps in kept.items() if ps}
        return self._by_doc


@dataclass(frozen=True)
class Pipeline:
    """Retrieval, reranking, context selection, generation and verification for one index."""

    settings: AnswerSettings
    searcher: Retriever
    reranker: Reranker
    selector: ContextSelector
    generator: Generator
    verifier: Verifier

    def candidates_wanted(self) -> int:
        """First-stage candidates: the rerank/segment-scoring pool when either runs, else ``top_k``."""
        s = self.settings
        pool = s.rerank_candidates if s.rerank != "none" or s.select != "none" else s.top_k
        return max(s.top_k, pool)

    def _retrieve(self, question: str, scope: Scope | None
                  ) -> tuple[list[Ranked], ContextSelector, StageTrace, Retrieval | None]:
        """First-stage candidates, the context selector for the scope, the "retrieve" trace (with the scope
        and routing decisions) and the search's own account (None for a retriever without scopes)."""
        t = time.perf_counter()
        selector: ContextSelector = self.selector
        details: tuple[str, ...] = ()
        found: Retrieval | None = None
        if isinstance(self.searcher, ScopedRetriever):
            found = self.searcher.retrieve(question, self.candidates_wanted(), scope=scope)
            candidates, details = found.hits, found.details
            if found.scope is not None:
                sel = self.selector
                selector = ContextSelector(sel.settings, llm=sel.llm, embedder=sel.embedder,
                                           corpus=ScopedCorpus(sel.corpus, found.scope.allows),
                                           max_answer_tokens=sel.max_answer_tokens)
        elif scope:
            raise InputError(f"the {self.searcher.name} retriever cannot restrict a search to a scope")
        else:
            candidates = self.searcher.search(question, self.candidates_wanted())
        return candidates, selector, StageTrace("retrieve", self.searcher.name, seconds=time.perf_counter() - t,
                                                details=(f"{len(candidates)} candidates", *details)), found

    def stream(self, question: str, *, scope: Scope | None = None) -> AnswerStream:
        """Answer ``question`` (inside ``scope`` when given: retrieval and whole-document reading alike): yield
        text pieces as generated, then the final :class:`Answer` (see :data:`AnswerStream`).

        :raises InputError: an empty question, or a scope that matches nothing.
        """
        question = check_question(question)
        s = self.settings
        candidates, selector, retrieve_trace, found = self._retrieve(question, scope)
        trace = [retrieve_trace]
        if s.compute:  # a figure the statement tables give: answered without the model (app/figures_stage.py)
            figures = answer_figures(question, self.searcher, found, scope, candidates, self.selector.corpus)
            if figures is not None:
                trace.append(figures.trace)
                if figures.checked is not None and figures.draft is not None:
                    yield Answer(question=question, text=figures.checked.text, citations=figures.checked.citations,
                                 passages=figures.draft.context, mode="retrieve",
                                 trace=(*trace, *figures.checked.trace), model=MODEL_NAME, draft=figures.draft.raw,
                                 calculation=figures.checked.calculation)
                    return
        full, mode_trace = selector.full_text(question, candidates)
        trace.append(mode_trace)
        passages: list[Passage]
        order: Order = "rank"
        if full is not None:
            passages = full
        else:
            t = time.perf_counter()
            ranked, cost = self.reranker.rank(question, candidates,
                                              top_k=len(candidates) if s.select != "none" else s.top_k)
            calls = (f"{cost.calls} LLM calls",) if cost.calls else ()
            trace.append(dataclasses.replace(cost, seconds=time.perf_counter() - t, details=calls + cost.details))
            passages, by_document, select_trace = selector.key_context(question, [r.passage for r in ranked])
            trace.append(select_trace)
            order = "document" if by_document else s.order
        draft: Draft | None = None
        for piece in self.generator.stream(question, passages, order=order, compute=s.compute):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield piece
        assert draft is not None  # Generator.stream always ends with its Draft
        checked = self.verifier.check(question, draft)
        yield Answer(question=question, text=checked.text, citations=checked.citations, passages=draft.context,
                     mode="full" if full is not None else "retrieve",
                     trace=(*trace, *draft.trace, *checked.trace), warnings=checked.warnings,
                     dropped_citations=draft.dropped, model=self.generator.llm.name, draft=draft.raw,
                     first_token_seconds=draft.first_token_seconds, calculation=checked.calculation)

    def run(self, question: str, *, scope: Scope | None = None) -> Answer:
        """The final :class:`Answer` of :meth:`stream`."""
        return final_item(self.stream(question, scope=scope), Answer)
