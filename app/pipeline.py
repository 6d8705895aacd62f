"""The question-answering pipeline: one object made of injectable parts, used by every interface.

::

    question [+ history] ─► follow-up rewrite ─► retriever ─► shortcut ─┬─► Answer (answered directly)
                             (followup)          (retrieve)  (figures) │
      ┌────────────────────────────────────────────────────────────────┘
      └─► [whole documents fit?] ─► reranker ─► selector ─► generator ─► calculator ─► verifier ─► Answer
           selector.full_text        (rerank)    (select)    (prompt,     (compute)     (verify,
             (mode)                                          generate)                  answer_check)

Every part is injected (:class:`Pipeline`; protocols in ``app/parts.py``) and reports a
:class:`~ingest.core.records.StageTrace`; the :class:`Answer` carries them, the warnings, and the answer mode
that ran. :meth:`Pipeline.stream` returns an :class:`AnswerStream` (text pieces, then ``.answer``);
:meth:`Pipeline.run` returns the :class:`Answer`. The SDK (:class:`app.sdk.Index`), the CLI, the UI, the
servers and the evaluation all call one of them; ``app/factory.py`` builds the pipeline from settings.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

from app.parts import Calculator, Retriever, Shortcut
from generation.answer import Checked, Draft, Verifier
from generation.answer import Generator as AnswerGenerator
from generation.evidence import Excerpt
from generation.followup import MAX_TURNS, Rewrite, history_pairs, rewrite_question
from generation.number_check import NOTHING_ASKED, Asked
from generation.prompt import NOT_FOUND
from generation.select import ContextSelector
from ingest.core.protocols import Reranker
from ingest.core.records import Answer, Message, Passage, StageTrace
from ingest.core.settings import AnswerSettings, Order
from ingest.core.text import check_question
from retrieval.scope import Scope
from retrieval.search import Retrieval


class AnswerStream(Iterator[str]):
    """What :meth:`Pipeline.stream` returns: iterating it yields the answer's text pieces as the model writes
    them (the raw generation, before the citation check); once iteration ends, :attr:`answer` holds the final
    :class:`Answer`, whose ``text`` is the checked answer.

    Nothing runs until it is iterated. :attr:`rewrite` is set once a follow-up question has been rewritten
    (before the first piece).
    """

    def __init__(self, run: Callable[[AnswerStream], Generator[str, None, Answer]]) -> None:
        self.rewrite: Rewrite | None = None
        self._answer: Answer | None = None
        self._done: list[Callable[[Answer], None]] = []
        self._pieces = run(self)

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except StopIteration as end:
            if self._answer is None and end.value is not None:  # None: closed before the end
                self._answer = end.value
                for done in self._done:
                    done(end.value)
            raise

    @property
    def answer(self) -> Answer:
        """The final answer.

        :raises RuntimeError: the stream has not been read to its end.
        """
        if self._answer is None:
            raise RuntimeError("the answer is not ready: read the stream to its end first")
        return self._answer

    def finish(self) -> Answer:
        """Read the rest of the stream; the final answer."""
        for _ in self:
            pass
        return self.answer

    def on_answer(self, done: Callable[[Answer], None]) -> None:
        """Call ``done(answer)`` when the answer arrives (at once when it has)."""
        if self._answer is not None:
            done(self._answer)
        else:
            self._done.append(done)

    def close(self) -> None:
        """Stop early (the model stops generating)."""
        self._pieces.close()


def followup_trace(rewrite: Rewrite, history: Sequence[Message]) -> StageTrace:
    """The "followup" stage's trace: the history (the questions of the turns the rewrite saw), the question as
    asked and as answered.

    >>> t = followup_trace(Rewrite("When?", "When did Ada Works build it?", rewritten=True, tokens=9),
    ...                    [Message("user", "Who built the dam?"), Message("assistant", "Ada Works [1].")])
    >>> t.outcome, t.details[0], t.details[2]
    ('rewritten', "history: 1 turn(s): 'Who built the dam?'", "answered as: 'When did Ada Works build it?'")
    """
    pairs = history_pairs(history)
    used = "; ".join(repr(q) for q, _ in pairs[-MAX_TURNS:])
    details = [f"history: {len(pairs)} turn(s)" + (f": {used}" if used else ""), f"asked: {rewrite.asked!r}"]
    if rewrite.standalone != rewrite.asked:
        details.append(f"answered as: {rewrite.standalone!r}")
    if rewrite.note:
        details.append(f"the model's rewrite was not used: {rewrite.note}")
    outcome = "rewritten" if rewrite.rewritten else "fallback" if rewrite.note else "unchanged"
    return StageTrace("followup", "llm" if rewrite.tokens or rewrite.seconds else "none", seconds=rewrite.seconds,
                      prompt_tokens=rewrite.tokens, calls=1 if rewrite.tokens or rewrite.seconds else 0,
                      outcome=outcome, details=tuple(details))


@dataclass(frozen=True)
class Pipeline:
    """Follow-up rewrite, retrieval, a shortcut, context selection, reranking, generation, calculation and
    verification for one index; every decision is one of these injected parts."""

    settings: AnswerSettings
    retriever: Retriever
    shortcut: Shortcut
    selector: ContextSelector
    reranker: Reranker
    generator: AnswerGenerator
    verifier: Verifier
    calculator: Calculator

    def candidates_wanted(self) -> int:
        """First-stage candidates: the rerank/segment-scoring pool when either runs, else ``top_k``."""
        s = self.settings
        pool = s.rerank_candidates if s.rerank != "none" or s.select != "none" else s.top_k
        return max(s.top_k, pool)

    def _search(self, query: str, k: int, scope: Scope | None) -> Retrieval:
        return self.retriever.retrieve(query, k, scope=scope)

    def _retrieve(self, question: str, scope: Scope | None) -> tuple[Retrieval, ContextSelector, StageTrace]:
        """First-stage candidates with the search's account, the context selector for the scope, and the
        "retrieve" trace (with the scope and routing decisions)."""
        t = time.perf_counter()
        found = self.retriever.retrieve(question, self.candidates_wanted(), scope=scope)
        selector = (self.selector.scoped(found.scope.allows, found.scope.doc_ids) if found.scope is not None
                    else self.selector)
        return found, selector, StageTrace("retrieve", self.retriever.name, seconds=time.perf_counter() - t,
                                           details=(f"{len(found.hits)} candidates", *found.details))

    def _followup(self, question: str, history: Sequence[Message]) -> Rewrite:
        """The question rewritten to stand alone with the conversation (the answering model, one call)."""
        return rewrite_question(self.generator.llm, history_pairs(history), question)

    def _check(self, question: str, draft: Draft, asked: Asked = NOTHING_ASKED) -> Checked:
        """A requested calculation first (the calculator); when it computes nothing, the model's own text goes
        through the citation checks (the verifier; ``asked``: what a shortcut found the question asks for, see
        :class:`app.parts.Direct`)."""
        if not draft.compute:
            return self.verifier.check(question, draft, asked=asked)
        computed, draft = self.calculator.calculate(question, draft)
        if computed.calculation is not None:
            return computed
        checked = self.verifier.check(question, draft, asked=asked)
        return dataclasses.replace(checked, warnings=computed.warnings + checked.warnings,
                                   trace=computed.trace + checked.trace)

    def _answer(self, out: AnswerStream, question: str, scope: Scope | None,
                history: Sequence[Message]) -> Generator[str, None, Answer]:
        question = check_question(question)
        s = self.settings
        trace: list[StageTrace] = []
        if history:
            out.rewrite = self._followup(question, history)
            trace.append(followup_trace(out.rewrite, history))
            question = out.rewrite.standalone
        found, selector, retrieve_trace = self._retrieve(question, scope)
        candidates = found.hits
        trace.append(retrieve_trace)
        direct = self.shortcut.answer(question, search=self._search, retrieval=found, scope=scope,
                                      candidates=candidates, corpus=self.selector.corpus)
        pinned = tuple(Excerpt(p, (span,)) for p, span in found.stated)  # what a planned need is stated in
        asked = NOTHING_ASKED
        if direct is not None:
            trace.append(direct.trace)
            if direct.answer is not None:
                return dataclasses.replace(direct.answer, question=question,
                                           trace=(*trace, *direct.answer.trace))
            pinned, asked = (*direct.evidence, *pinned), direct.asked
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
        for piece in self.generator.stream(question, passages, order=order, compute=s.compute,
                                           evidence=full is None, pinned=pinned):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield piece
        assert draft is not None  # Generator.stream always ends with its Draft
        checked = self._check(question, draft, asked)
        if direct is not None and direct.fallback is not None and checked.text.startswith(NOT_FOUND):
            return dataclasses.replace(direct.fallback, question=question,
                                       trace=(*trace, *draft.trace, *checked.trace, *direct.fallback.trace),
                                       warnings=checked.warnings, model=self.generator.llm.name, draft=draft.raw)
        return Answer(question=question, text=checked.text, citations=checked.citations, passages=draft.context,
                      mode="full" if full is not None else "retrieve",
                      trace=(*trace, *draft.trace, *checked.trace), warnings=checked.warnings,
                      dropped_citations=draft.dropped, model=self.generator.llm.name, draft=draft.raw,
                      first_token_seconds=draft.first_token_seconds, calculation=checked.calculation)

    def stream(self, question: str, *, scope: Scope | None = None, history: Sequence[Message] = ()) -> AnswerStream:
        """Answer ``question`` (inside ``scope`` when given: retrieval and whole-document reading alike): iterate
        the returned :class:`AnswerStream` for text pieces as generated; its ``answer`` holds the result.

        :param history: the conversation so far, oldest first (user questions and assistant answers; system
            messages are skipped): a follow-up question is first rewritten to stand alone with it
            (``generation.followup``), and the rewrite and the history used are the "followup" stage's trace.
        :raises InputError: (while iterating) an empty question, or a scope that matches nothing.
        """
        turns = tuple(history)
        return AnswerStream(lambda out: self._answer(out, question, scope, turns))

    def run(self, question: str, *, scope: Scope | None = None, history: Sequence[Message] = ()) -> Answer:
        """The final :class:`Answer` of :meth:`stream`."""
        return self.stream(question, scope=scope, history=history).finish()
