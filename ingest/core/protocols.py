"""The protocols of the parts a pipeline is made of: splitter, embedder, LLM backends, reranker, and the three
parts a domain profile brings to ingest and retrieval (document describer, query router, evidence planner).

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ingest.core.records import (
    Completion,
    ContinuationScores,
    Document,
    Message,
    Passage,
    Ranked,
    RouteDecision,
    SequenceScore,
    StageTrace,
)


class Splitter(Protocol):
    """Cuts a document into passages."""

    def split(self, doc: Document) -> list[Passage]: ...


class Embedder(Protocol):
    """Turns text into L2-normalised vectors."""

    @property
    def dim(self) -> int: ...

    def identity(self) -> dict[str, object]:
        """Everything that changes the vectors; recorded in the index manifest."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class LLM(Protocol):
    """A chat model backend (llama.cpp, transformers, ...)."""

    name: str

    @property
    def context_tokens(self) -> int:
        """Tokens the backend can hold: prompt plus answer."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Completion:
        """Greedy completion of a chat."""
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        """Yield text pieces as they are generated, then one final :class:`Completion`."""
        ...


@runtime_checkable
class LogitsLLM(Protocol):
    """A backend that scores continuations from its logits, without generating (single-token decoding)."""

    name: str

    def continuation_logprobs(self, messages: Sequence[Message], continuations: Sequence[str], *,
                              assistant_prefix: str = "") -> ContinuationScores:
        """Log-probability of each continuation right after the chat prompt and ``assistant_prefix``.

        Single-token continuations cost one forward pass over the prompt (their next-token
        log-probabilities). A multi-token continuation is scored by the chain rule, one extra
        one-token step per distinct prefix shared through the prompt's KV cache.
        """
        ...


@runtime_checkable
class ScoringLLM(Protocol):
    """A backend that scores given text instead of generating it (segment relevance, XL3M-style)."""

    name: str

    def sequence_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[SequenceScore]:
        """``log P(continuation | prefix)`` for each ``(prefix, continuation)`` pair, on raw text (no chat template)."""
        ...


class Reranker(Protocol):
    """Reorders first-stage candidates for a query."""

    name: str

    def rank(self, query: str, candidates: Sequence[Ranked], *, top_k: int) -> tuple[list[Ranked], StageTrace]: ...


class DocumentDescriber(Protocol):
    """What a document of one domain says about itself (a filing's issuer, form and period), read at ingest.

    The facts go under the document's ``meta`` (what the loader set wins) and into its passages' headers. A
    describer answers None for a document that is not of its domain: the general description (a title) is
    used instead, so one profile can be on for a corpus that mixes its documents with others.
    """

    name: str

    def describe(self, doc: Document) -> Mapping[str, str] | None: ...


class QueryRouter(Protocol):
    """Which documents a question is about, from the documents' descriptions (the manifest's ``sources``:
    mappings with "doc_id", "source" and "meta"); an unsure decision searches the whole scope."""

    name: str

    def route(self, question: str, documents: Sequence[Mapping[str, object]]) -> RouteDecision: ...


@dataclass(frozen=True)
class EvidenceNeed:
    """One piece of evidence a question needs, searched on its own inside the question's documents.

    :param label: what it is, for the trace ("income statement", "narrative: liquidity").
    :param query: the search query that finds it.
    :param kinds: the passage kinds it is found in (empty: any).
    :param title: a regular expression (case-insensitive) the passage's title matches when it is the piece
        itself (a statement's own table, not a note repeating its labels): such hits rank first ("": no title).
    :param states: a regular expression (case-insensitive) a passage's text matches when it states the piece
        (a count of employees: "we had approximately 37,000 employees"): such hits rank first, before titled
        ones, and when the search finds none the documents are read for it ("": none). A fact stated in one line
        of a long passage about something else ranks low on the words of a query.
    """

    label: str
    query: str
    kinds: tuple[str, ...] = ()
    title: str = ""
    states: str = ""


class EvidencePlanner(Protocol):
    """What a question needs besides its own search (a domain profile's: the statements that report a figure's
    line items, the section a judgement reads); each need is searched on its own and the hits fused, so the
    context holds every piece. An empty plan leaves the search as it is."""

    name: str

    def plan(self, question: str) -> Sequence[EvidenceNeed]: ...


def capable(llm: object, protocol: type) -> bool:
    """Whether ``llm`` implements ``protocol`` (``LogitsLLM``, ``ScoringLLM``) and can use it now.

    A backend whose support depends on something outside it (a remote server that may or may not return
    log-probabilities) defines ``supports(protocol_name) -> bool``, detected on first call; others are
    taken at their word.
    """
    if not isinstance(llm, protocol):
        return False
    supports = getattr(llm, "supports", None)
    return bool(supports(protocol.__name__)) if callable(supports) else True
