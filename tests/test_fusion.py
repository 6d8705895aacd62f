"""Reciprocal-rank fusion."""

from __future__ import annotations

import pytest

from ingest.core.records import Passage, Ranked
from retrieval.fusion import rrf


def test_rrf_rewards_agreement_and_keeps_inputs_unchanged():
    ps = [Passage(id=str(i), doc_id="d", source="s", text=str(i), chars=(0, 1)) for i in range(4)]
    dense = [Ranked(ps[0], 0.9), Ranked(ps[1], 0.8), Ranked(ps[2], 0.7)]
    sparse = [Ranked(ps[2], 12.0), Ranked(ps[1], 11.0), Ranked(ps[3], 3.0)]
    fused = rrf(dense, sparse, k=60)
    assert [r.passage.id for r in fused] == ["2", "1", "0", "3"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert dense[0].score == 0.9


def test_a_weighted_ranking_counts_more_and_the_default_weighs_keywords_twice():
    from ingest.core.settings import SearchSettings

    ps = [Passage(id=str(i), doc_id="d", source="s", text=str(i), chars=(0, 1)) for i in range(2)]
    dense, sparse = [Ranked(ps[0], 0.9), Ranked(ps[1], 0.8)], [Ranked(ps[1], 12.0), Ranked(ps[0], 3.0)]
    assert [r.passage.id for r in rrf(dense, sparse, k=60)] == ["0", "1"]  # a tie: first seen first
    fused = rrf(dense, sparse, k=60, weights=(1.0, SearchSettings().bm25_weight))
    assert [r.passage.id for r in fused] == ["1", "0"]
    assert fused[0].score == pytest.approx(1 / 62 + 2 / 61)
