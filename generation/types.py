"""Records and the LLM backend protocol for answer generation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, runtime_checkable

from ingest.types import Passage

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished generation and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    finish_reason: str = "stop"


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


@dataclass(frozen=True, slots=True)
class ContinuationScores:
    """Log-probabilities of candidate continuations of one prompt, and what computing them cost."""

    logprobs: tuple[float, ...]  # log P(continuation | chat prompt + assistant prefix), one per candidate
    prompt_tokens: int  # tokens of the chat prompt plus the assistant prefix
    extra_tokens: int  # continuation tokens fed to score multi-token candidates (0 if all are single tokens)
    seconds: float


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


@dataclass(frozen=True, slots=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the passage it points at."""

    number: int  # as written in the answer, 1-based over the prompt's passages
    passage: Passage
    quote: str | None = None  # supporting span inside the passage, when located
    quote_chars: tuple[int, int] | None = None  # [start, end) of ``quote`` inside ``passage.text``
    supported: bool | None = None  # the citation check's verdict (None: not checked)

    @property
    def label(self) -> str:
        """``report.pdf p.3`` or ``src/x.py:10-42``."""
        return self.passage.label


@dataclass(frozen=True, slots=True)
class Answer:
    """What docqa returns for a question."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]  # the numbered context the model saw, [1] first
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion / rerank ...
    dropped_citations: tuple[int, ...] = ()  # [n] markers that pointed at no passage
    model: str = ""
    notes: tuple[str, ...] = ()  # e.g. which reranker ran, mode used
    draft: str = ""  # the model's text as generated, before the citation check changed or withheld it

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form for ``--json`` output and reports."""
        return {
            "question": self.question,
            "answer": self.text,
            "citations": [
                {
                    "n": c.number,
                    "passage_id": c.passage.id,
                    "source": c.passage.source,
                    "page": c.passage.page,
                    "lines": list(c.passage.lines) if c.passage.lines else None,
                    "label": c.label,
                    "quote": c.quote,
                    "quote_chars": list(c.quote_chars) if c.quote_chars else None,
                    "supported": c.supported,
                }
                for c in self.citations
            ],
            "passages": [
                {"n": i, "id": p.id, "label": p.label, "text": p.text} for i, p in enumerate(self.passages, 1)
            ],
            "dropped_citations": list(self.dropped_citations),
            "timings": self.timings,
            "tokens": self.tokens,
            "model": self.model,
            "notes": list(self.notes),
            "draft": self.draft,
        }


@dataclass(frozen=True, slots=True)
class SequenceScore:
    """How likely a backend finds a continuation after a prefix (teacher forcing), and what it cost."""

    logprob: float  # sum over the continuation's tokens of log P(token | prefix, earlier tokens)
    tokens: int  # continuation tokens scored
    evaluated_tokens: int  # tokens run through the model for this pair (prefix not already cached + continuation)

    @property
    def mean_logprob(self) -> float:
        """Per-token log-likelihood (0.0 for an empty continuation)."""
        return self.logprob / self.tokens if self.tokens else 0.0


@runtime_checkable
class ScoringLLM(Protocol):
    """A backend that scores given text instead of generating it (segment relevance, XL3M-style)."""

    name: str

    def sequence_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[SequenceScore]:
        """``log P(continuation | prefix)`` for each ``(prefix, continuation)`` pair, on raw text (no chat template)."""
        ...


T = TypeVar("T")


def final_item(stream: Iterable[object], kind: type[T]) -> T:
    """The last item of type ``kind`` in a stream; streams of text pieces end with their result.

    >>> final_item(["a", "b", 3], int)
    3
    """
    final = None
    for item in stream:
        if isinstance(item, kind):
            final = item
    if final is None:
        raise ValueError(f"stream ended without a {kind.__name__}")
    return final
