"""Yes/no questions answered from a model's logits: how likely "Yes" is, against "No", as the first word
of the reply (one forward pass over the prompt, nothing generated).

The pointwise reranker ranks passages by P(Yes) to "does the passage answer the query?"; the citation
judge and the answer check compare log P(Yes) with log P(No).

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.core.protocols import LogitsLLM
from ingest.core.records import Message

#: the two replies scored, in this order
YES_NO = ("Yes", "No")


@dataclass(frozen=True, slots=True)
class YesNo:
    """The log-probabilities of the replies "Yes" and "No", and the tokens the model read to score them."""

    logp_yes: float
    logp_no: float
    tokens: int  # prompt tokens plus any extra single-token steps
    cached_tokens: int = 0  # of the prompt's tokens, those reused from the backend's cache

    @property
    def margin(self) -> float:
        """log P(Yes) - log P(No): above 0 the model leans to "Yes".

        >>> YesNo(-0.5, -2.0, 10).margin
        1.5
        """
        return self.logp_yes - self.logp_no

    @property
    def probability(self) -> float:
        """P(Yes) renormalised over the two replies.

        >>> round(YesNo(math.log(0.3), math.log(0.1), 10).probability, 3)
        0.75
        >>> YesNo(-1e9, -1e9, 10).probability
        0.5
        """
        top = max(self.logp_yes, self.logp_no)
        yes, no = math.exp(self.logp_yes - top), math.exp(self.logp_no - top)
        return yes / (yes + no)


def ask_yes_no(llm: LogitsLLM, messages: Sequence[Message]) -> YesNo:
    """Score "Yes" and "No" as the reply to ``messages`` (the prompt should ask for one of the two words).

    :raises GenerationError: from the backend.
    """
    scores = llm.continuation_logprobs(messages, YES_NO)
    return YesNo(scores.logprobs[0], scores.logprobs[1], scores.prompt_tokens + scores.extra_tokens,
                 scores.cached_tokens)
