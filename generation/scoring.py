"""Segment relevance scoring: which candidate passages go into the key context (``docs/METHODS.md``,
"Long-document mode: full text or key context (XL3M)").

XL3M-style scoring asks the answering model itself how certain it is of the question once it has
read a segment: the mean log-likelihood per token of the question, teacher-forced after the
segment (higher = more relevant). The question's prior likelihood is the same for every segment,
so it cancels when segments are compared. A cheap variant scores by embedding similarity.
Relevant segments are those clearly above the pool's mean (``mean + z * std``), at least
``min_keep`` and at most ``max_keep`` of them; the caller restores document order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.core.protocols import Embedder, ScoringLLM
from ingest.core.records import Passage

SEGMENT_CHARS = 2400  # longest segment text scored by the LLM (a passage is ~200 tokens; longer ones are cut)


@dataclass(frozen=True, slots=True)
class SegmentScores:
    """One relevance score per segment (higher = more relevant) and what scoring cost."""

    scores: tuple[float, ...]
    method: str  # "llm" | "embedding"
    tokens: int  # tokens run through the scoring model
    seconds: float


def question_pairs(question: str, passages: Sequence[Passage]) -> list[tuple[str, str]]:
    """``(prefix, continuation)`` pairs that score ``question`` after each passage's text.

    >>> question_pairs("Who won?", [Passage(id="x", doc_id="d", source="s", text=" Denver won. ", chars=(0, 13))])
    [('Text: Denver won.\\n\\nA question answered by this text:', ' Who won?')]
    """
    return [(f"Text: {p.text.strip()[:SEGMENT_CHARS]}\n\nA question answered by this text:", " " + question.strip())
            for p in passages]


def score_segments_llm(scorer: ScoringLLM, question: str, passages: Sequence[Passage]) -> SegmentScores:
    """Mean token log-likelihood of ``question`` given each passage, from the answering model."""
    start = time.perf_counter()
    results = scorer.sequence_logprobs(question_pairs(question, passages))
    return SegmentScores(scores=tuple(r.mean_logprob for r in results), method="llm",
                         tokens=sum(r.evaluated_tokens for r in results), seconds=time.perf_counter() - start)


def score_segments_embedding(embedder: Embedder, question: str, passages: Sequence[Passage]) -> SegmentScores:
    """Cosine similarity of the question's and each passage's embeddings."""
    start = time.perf_counter()
    if not passages:
        return SegmentScores(scores=(), method="embedding", tokens=0, seconds=0.0)
    q = np.asarray(embedder.embed_queries([question]), dtype=np.float64)[0]
    ps = np.asarray(embedder.embed_passages([p.text for p in passages]), dtype=np.float64)
    norms = np.linalg.norm(ps, axis=1) * (np.linalg.norm(q) or 1.0)
    sims = ps @ q / np.where(norms == 0, 1.0, norms)
    tokens = embedder.count_tokens(question) + sum(embedder.count_tokens(p.text) for p in passages)
    return SegmentScores(scores=tuple(float(s) for s in sims), method="embedding", tokens=tokens,
                         seconds=time.perf_counter() - start)


def select_relevant(scores: Sequence[float], *, min_keep: int = 3, max_keep: int | None = None,
                    z: float = 0.5) -> list[int]:
    """Indices of the relevant segments, best first: those scoring at least ``mean + z * std``, topped up
    to ``min_keep`` and cut to ``max_keep`` by score.

    >>> select_relevant([-3.0, -1.0, -2.9, -3.1, -1.2], min_keep=1)
    [1, 4]
    >>> select_relevant([-3.0, -1.0, -2.9, -3.1, -1.2], min_keep=3, max_keep=4)
    [1, 4, 2]
    >>> select_relevant([0.5, 0.5], min_keep=1)
    [0, 1]
    """
    if not scores:
        return []
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    keep = [i for i in order if scores[i] >= mean + z * std - 1e-12]
    if len(keep) < min_keep:
        keep = order[: min_keep]
    return keep[: max_keep] if max_keep is not None else keep
