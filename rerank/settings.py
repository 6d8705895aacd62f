"""Settings of the LLM rerankers (which one runs, and how many candidates, live in ``AnswerSettings``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RerankSettings:
    """How the LLM rerankers build prompts and treat failures.

    :param passage_words: words kept per passage in a prompt (METHODS §4.2: 100); shrunk per call if the
        prompt would not fit the model's context.
    :param window: passages per call of the sliding-window baseline (20).
    :param stride: step between windows (10), back to front.
    :param max_missing_fraction: above this share of ids missing from a generated ranking, the call is
        flagged in ``RerankCost.notes`` (the missing ids still follow in first-stage order).
    :param raise_on_failure: re-raise backend errors instead of keeping first-stage order.
    """

    passage_words: int = 100
    window: int = 20
    stride: int = 10
    max_missing_fraction: float = 0.2
    raise_on_failure: bool = False

    def __post_init__(self) -> None:
        if self.passage_words < 1:
            raise ValueError(f"passage_words must be >= 1, got {self.passage_words}")
        if not 0 < self.stride <= self.window:
            raise ValueError(f"need 0 < stride <= window, got stride={self.stride}, window={self.window}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        if not 0.0 <= self.max_missing_fraction <= 1.0:
            raise ValueError(f"max_missing_fraction must be in [0, 1], got {self.max_missing_fraction}")
