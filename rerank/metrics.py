"""Ranking metrics for judging rerankers: pure functions over ids and graded judgements."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k as trec_eval's ``ndcg_cut.k`` computes it.

    Gains are the relevance grades themselves (trec_eval's default, not ``2**rel - 1``); an unjudged
    or negatively judged document gains 0; the ideal ranking sorts all judged grades; position ``i``
    (1-based) is discounted by ``log2(i + 1)``. A query with no relevant document scores 0.

    :param ranking: document ids, best first (repeats are not expected).
    :param judged: id -> graded relevance (qrels of one query).

    >>> ndcg_at_k(["a", "c", "b"], {"a": 3, "b": 0, "c": 1})
    1.0
    >>> round(ndcg_at_k(["c", "x", "a"], {"a": 3, "c": 1}), 4)  # (1 + 3/2) / (3 + 1/log2(3))
    0.6885
    >>> ndcg_at_k(["x"], {"a": 0})
    0.0
    """
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def read_qrels(lines: Sequence[str]) -> dict[str, dict[str, int]]:
    """TREC qrels lines (``qid iter docid grade``) as ``{qid: {docid: grade}}``.

    >>> read_qrels(["19335 Q0 1017759 0", "19335 Q0 1082489 3", ""])
    {'19335': {'1017759': 0, '1082489': 3}}
    """
    out: dict[str, dict[str, int]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4:
            out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out
