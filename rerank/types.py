"""The reranking protocol and its record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingest.types import Passage


@dataclass(frozen=True, slots=True)
class Ranked:
    """A passage with a score from some stage (higher is better)."""

    passage: Passage
    score: float


@dataclass(frozen=True, slots=True)
class RerankCost:
    """What one rerank call cost."""

    method: str
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    outcome: str = "ok"  # "ok" | "wrong_format" | "repetition" | "missing" | "fallback"
    notes: tuple[str, ...] = field(default=())


class Reranker(Protocol):
    """Reorders first-stage candidates for a query."""

    name: str

    def rank(self, query: str, candidates: Sequence[Ranked], *, top_k: int) -> tuple[list[Ranked], RerankCost]: ...
