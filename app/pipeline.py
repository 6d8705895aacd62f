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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from generation.answer import Draft, Generator, Verifier
from generation.select import ContextSelector
from ingest.core.protocols import Reranker
from ingest.core.records import Answer, Passage, Ranked, StageTrace, final_item
from ingest.core.settings import AnswerSettings, Order
from ingest.core.text import check_question

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

    def stream(self, question: str) -> AnswerStream:
        """Answer ``question``: yield text pieces as generated, then the final :class:`Answer` (see
        :data:`AnswerStream`).

        :raises InputError: an empty question.
        """
        question = check_question(question)
        s = self.settings
        t = time.perf_counter()
        candidates = self.searcher.search(question, self.candidates_wanted())
        trace = [StageTrace("retrieve", self.searcher.name,
                            seconds=time.perf_counter() - t, details=(f"{len(candidates)} candidates",))]
        full, mode_trace = self.selector.full_text(question, candidates)
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
            passages, by_document, select_trace = self.selector.key_context(question, [r.passage for r in ranked])
            trace.append(select_trace)
            order = "document" if by_document else s.order
        draft: Draft | None = None
        for piece in self.generator.stream(question, passages, order=order):
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
                     first_token_seconds=draft.first_token_seconds)

    def run(self, question: str) -> Answer:
        """The final :class:`Answer` of :meth:`stream`."""
        return final_item(self.stream(question), Answer)
