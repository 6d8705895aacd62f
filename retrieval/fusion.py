"""Reciprocal-rank fusion of several rankings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ingest.core.records import Passage, Ranked

RRF_K = 60  # Cormack et al. 2009; ranks are 1-based, so the top item scores 1/61


def rrf(*rankings: Sequence[Ranked], k: int = RRF_K, weights: Sequence[float] = ()) -> list[Ranked]:
    """Fuse rankings by ``sum w/(k + rank)`` (1-based ranks; ``weights`` one per ranking, 1 where not given);
    returns new :class:`Ranked` objects.

    Ties keep the order in which passages were first seen.

    >>> from ingest.core.records import Passage
    >>> p = {n: Passage(id=n, doc_id="d", source="s", text=n, chars=(0, 1)) for n in "abc"}
    >>> fused = rrf([Ranked(p["a"], 9), Ranked(p["b"], 8)], [Ranked(p["b"], 5), Ranked(p["c"], 4)], k=60)
    >>> [r.passage.id for r in fused]
    ['b', 'a', 'c']
    >>> [r.passage.id for r in rrf([Ranked(p["a"], 9)], [Ranked(p["c"], 4)], k=60, weights=(1, 2))]
    ['c', 'a']
    """
    scores: dict[str, float] = defaultdict(float)
    by_id: dict[str, Passage] = {}
    for at, ranking in enumerate(rankings):
        weight = weights[at] if at < len(weights) else 1.0
        for rank, item in enumerate(ranking, start=1):
            scores[item.passage.id] += weight / (k + rank)
            by_id.setdefault(item.passage.id, item.passage)
    order = {pid: i for i, pid in enumerate(by_id)}
    return sorted((Ranked(by_id[pid], s) for pid, s in scores.items()),
                  key=lambda r: (-r.score, order[r.passage.id]))


def quota_fuse(main: Sequence[Ranked], needs: Sequence[Sequence[Ranked]], k: int, *, lead: int = 1) -> list[Ranked]:
    """``k`` hits holding each need's best: the first ``lead`` hits of ``main``, then each need's best hit not
    taken yet (in the needs' order), then the rest of ``main``, then the needs' other hits in turn.

    Scores are the fused rank's ``1/(RRF_K + rank)``, so they decrease down the list.

    >>> from ingest.core.records import Passage
    >>> p = {n: Passage(id=n, doc_id="d", source="s", text=n, chars=(0, 1)) for n in "abcdef"}
    >>> r = lambda *ids: [Ranked(p[i], 1.0) for i in ids]
    >>> [h.passage.id for h in quota_fuse(r("a", "b", "c"), [r("a", "d"), r("e", "f")], 4)]
    ['a', 'd', 'e', 'b']
    """
    out: dict[str, Passage] = {}

    def take(hit: Ranked) -> None:
        if len(out) < k:
            out.setdefault(hit.passage.id, hit.passage)

    for hit in main[:lead]:
        take(hit)
    for ranking in needs:
        best = next((h for h in ranking if h.passage.id not in out), None)
        if best is not None:
            take(best)
    for hit in main[lead:]:
        take(hit)
    for depth in range(max((len(r) for r in needs), default=0)):
        for ranking in needs:
            if depth < len(ranking):
                take(ranking[depth])
    return [Ranked(p, 1.0 / (RRF_K + rank)) for rank, p in enumerate(out.values(), start=1)]
