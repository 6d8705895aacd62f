"""The pointwise baseline: one yes/no relevance question per candidate, scored by P(Yes) from the logits."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ingest.core.errors import GenerationError
from ingest.core.records import Ranked, StageTrace
from ingest.core.yesno import ask_yes_no
from rerank.listwise import LLMReranker, fallback, keep_order, require_logits
from rerank.prompts import pointwise_messages


class PointwiseReranker(LLMReranker):
    """Scores each candidate alone by the model's P(Yes) to "does it answer the query?" (``pointwise``).

    One short forward pass per candidate; the system line and the query open every prompt, so a
    backend with prefix caching (llama.cpp) decodes them once.
    """

    name = "pointwise"

    def _rank(self, query: str, candidates: Sequence[Ranked], top_k: int, start: float
              ) -> tuple[list[Ranked], StageTrace]:
        """Score every candidate; return the best ``top_k`` (ties keep first-stage order) and the cost."""
        scorer = require_logits(self._llm_factory())
        scores: list[float] = []
        tokens = 0
        try:
            for c in candidates:
                scored = ask_yes_no(scorer, pointwise_messages(query, c.passage.text,
                                                               words=self.settings.passage_words))
                scores.append(scored.probability)
                tokens += scored.tokens
        except GenerationError as err:
            return fallback(self.name, candidates, top_k, err, start, self.settings)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        return keep_order(candidates, order, scores)[:top_k], StageTrace(
            "rerank", self.name, calls=len(candidates), prompt_tokens=tokens, completion_tokens=0,
            seconds=time.perf_counter() - start)
