"""The pointwise baseline: one yes/no relevance question per candidate, scored by P(Yes) from the logits."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from ingest.errors import GenerationError
from rerank.listwise import LLMReranker, fallback, keep_order, require_logits
from rerank.prompts import POINTWISE_ANSWERS, pointwise_messages
from rerank.types import Ranked, RerankCost


def yes_probability(logp_yes: float, logp_no: float) -> float:
    """P(Yes) renormalised over the two answers, from their log-probabilities.

    >>> round(yes_probability(math.log(0.3), math.log(0.1)), 3)
    0.75
    >>> yes_probability(-1e9, -1e9)
    0.5
    """
    top = max(logp_yes, logp_no)
    a, b = math.exp(logp_yes - top), math.exp(logp_no - top)
    return a / (a + b)


class PointwiseReranker(LLMReranker):
    """Scores each candidate alone by the model's P(Yes) to "does it answer the query?" (``pointwise``).

    One short forward pass per candidate; the system line and the query open every prompt, so a
    backend with prefix caching (llama.cpp) decodes them once.
    """

    name = "pointwise"

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], RerankCost]:
        """Score every candidate; return the best ``top_k`` (ties keep first-stage order) and the cost."""
        scorer = require_logits(self._llm_factory())
        scores: list[float] = []
        tokens = 0
        try:
            for c in candidates:
                scored = scorer.continuation_logprobs(
                    pointwise_messages(query, c.passage.text, words=self.settings.passage_words), POINTWISE_ANSWERS)
                scores.append(yes_probability(*scored.logprobs))
                tokens += scored.prompt_tokens + scored.extra_tokens
        except GenerationError as err:
            return fallback(self.name, candidates, top_k, err, start, self.settings)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        return keep_order(candidates, order, scores)[:top_k], RerankCost(
            method=self.name, llm_calls=len(candidates), input_tokens=tokens, output_tokens=0,
            seconds=time.perf_counter() - start)
