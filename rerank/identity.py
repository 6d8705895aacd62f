"""The "no rerank" baseline: keep the first-stage order."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.core.records import Ranked, StageTrace


class IdentityReranker:
    """Returns the first ``top_k`` candidates unchanged."""

    name = "none"

    def __init__(self, llm_factory: object = None, settings: object = None) -> None:
        """Takes (and ignores) the reranker factory arguments, so it registers like the others."""

    def rank(self, query: str, candidates: Sequence[Ranked], *, top_k: int) -> tuple[list[Ranked], StageTrace]:
        """Keep first-stage order.

        :param query: unused.
        :param candidates: first-stage results, best first.
        :param top_k: how many to keep.
        """
        return list(candidates[:top_k]), StageTrace("rerank", self.name)
