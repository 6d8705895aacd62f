"""Dense, BM25 and hybrid search over an :class:`IndexReader`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ingest.types import Embedder
from rerank.types import Ranked
from retrieval.fusion import rrf
from retrieval.store import IndexReader
from retrieval.units import LEVELS

SearchMode = Literal["dense", "bm25", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class SearchSettings:
    """First-stage retrieval.

    :param mode: "dense", "bm25" or "hybrid" (reciprocal-rank fusion of both).
    :param candidates: how many each retriever contributes before fusion.
    :param rrf_k: the fusion constant.
    """

    mode: str = "hybrid"
    candidates: int = 50
    rrf_k: int = 60

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {self.mode!r}; valid: {', '.join(SEARCH_MODES)}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")


class Searcher:
    """Runs the first stage against one index with the embedder it was built with."""

    def __init__(self, reader: IndexReader, embedder: Embedder, settings: SearchSettings) -> None:
        self.reader, self.embedder, self.settings = reader, embedder, settings

    def dense(self, query: str, k: int) -> list[Ranked]:
        """Nearest passages by inner product of normalised vectors."""
        hits = self.reader.dense(self.embedder.embed_queries([query])[0], k)
        return self._ranked(hits)

    def bm25(self, query: str, k: int) -> list[Ranked]:
        """Best passages by FTS5 BM25."""
        return self._ranked(self.reader.bm25(query, k))

    def hybrid(self, query: str, k: int) -> list[Ranked]:
        """RRF of dense and BM25, each contributing ``max(k, candidates)``."""
        n = max(k, self.settings.candidates)
        return rrf(self.dense(query, n), self.bm25(query, n), k=self.settings.rrf_k)[:k]

    def units(self, query: str, k: int, *, level: str = "unit") -> list[Ranked]:
        """Best whole functions/classes (``level="unit"``) or files (``"file"``) by their mean block vector.

        Each hit is a passage spanning the unit (``splitter`` is "unit" or "file", ``symbol`` set for units).
        """
        if level not in ("unit", "file"):
            raise ValueError(f"unknown unit level {level!r}; valid: unit, file")
        hits = self.reader.unit_dense(self.embedder.embed_queries([query])[0], k, level=level)
        passages = self.reader.unit_passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]

    def search(self, query: str, k: int, *, mode: str | None = None, level: str = "passage") -> list[Ranked]:
        """Search with ``mode`` (default: the settings' mode) at ``level``: "passage" (blocks), "unit" or "file".

        Unit and file search is dense only: ``mode`` must then be None or "dense".
        """
        if level not in LEVELS:
            raise ValueError(f"unknown search level {level!r}; valid: {', '.join(LEVELS)}")
        if level != "passage":
            if mode not in (None, "dense"):
                raise ValueError(f"{level} search is dense only; got mode {mode!r}")
            return self.units(query, k, level=level)
        mode = mode or self.settings.mode
        if mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {mode!r}; valid: {', '.join(SEARCH_MODES)}")
        return getattr(self, mode)(query, k)

    def _ranked(self, hits: list[tuple[int, float]]) -> list[Ranked]:
        passages = self.reader.passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]
