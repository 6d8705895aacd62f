"""The parts a :class:`~app.pipeline.Pipeline` is made of, as protocols, and the parts that do nothing.

A pipeline is ``Pipeline(retriever, shortcut, selector, reranker, generator, verifier, calculator)``: every
decision it makes is one of these parts, injected (``app/factory.py::build_pipeline`` builds the ones not
given from the settings). The selector, reranker, generator and verifier are the stage packages' own
classes (``generation.select.ContextSelector``, :class:`ingest.core.protocols.Reranker`,
``generation.answer.Generator`` and ``Verifier``); the protocols below are the parts the app layer joins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from generation.answer import Checked, Draft
from generation.evidence import Excerpt
from generation.number_check import NOTHING_ASKED, Asked
from generation.select import Corpus
from ingest.core.records import Answer, Ranked, StageTrace
from retrieval.scope import Scope
from retrieval.search import Retrieval

Search = Callable[[str, int, Scope | None], Retrieval]
"""``search(query, k, scope)``: the best ``k`` passages for ``query`` inside ``scope`` (None: the whole index),
with the account of how they were found. What a :class:`Shortcut` may search with."""


class Retriever(Protocol):
    """The first stage: the best passages for a query, inside a scope (``retrieval.search.Searcher`` fits).

    A retriever that cannot restrict a search raises :class:`~ingest.core.errors.InputError` for a scope.
    """

    @property
    def name(self) -> str:
        """What runs ("hybrid", "dense", "bm25", ...), for the trace."""
        ...

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval: ...


@dataclass(frozen=True)
class Direct:
    """What a :class:`Shortcut` did with a question it took up.

    :param trace: its own stage's trace (it goes into the answer's trace either way).
    :param answer: the finished answer (its ``trace`` holds the stages after the shortcut's own, such as the
        calculation check); None: the pipeline goes on to read and generate as usual.
    :param evidence: without an answer, what the shortcut found the question needs (an operand's table row):
        the model's context holds these first.
    :param asked: without an answer, what it found the question asks for, for the number check: the part of the
        whole ("Brazil", "Xbox"), whose sentences must cite a place naming it, and the line item of a figure
        looked up ("operating income").
    :param fallback: without an answer, one the shortcut wrote itself from what it found (a "what drove" question's
        figures and the filing's own words, quoted), given when every sentence of the model's is withheld.
    """

    trace: StageTrace
    answer: Answer | None = None
    evidence: tuple[Excerpt, ...] = ()
    asked: Asked = NOTHING_ASKED
    fallback: Answer | None = None


class Shortcut(Protocol):
    """A direct answerer: may answer a question after retrieval, before any context is selected or a model
    generates (the figures planner, ``app/figures_stage.py``, answers a figure from statement tables).

    Returns None when the question is not one it answers.
    """

    name: str

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None: ...


class NoShortcut:
    """The general shortcut: answers nothing directly (every question is read and generated)."""

    name = "general"

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        return None


class Calculator(Protocol):
    """Computes the figure a draft's calculation block asks for (``generation.answer.FormulaCalculator``).

    Returns what was checked (``calculation`` set on success; on failure a warning and the "compute" trace) and
    the draft that the citation check reads when nothing was computed (its block removed).
    """

    def calculate(self, question: str, draft: Draft) -> tuple[Checked, Draft]: ...
