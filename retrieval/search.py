"""Dense, BM25 and hybrid search over an :class:`IndexReader`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingest.core.errors import InputError
from ingest.core.protocols import Embedder
from ingest.core.records import Ranked
from ingest.core.settings import SearchLevel, SearchMode, SearchSettings, choices
from retrieval.fusion import rrf
from retrieval.store import IndexReader


class Searcher:
    """Runs the first stage against one index with the embedder it was built with."""

    def __init__(self, reader: IndexReader, embedder: Embedder, settings: SearchSettings) -> None:
        self.reader, self.embedder, self.settings = reader, embedder, settings
        self._last: tuple[str, np.ndarray] | None = None

    @property
    def name(self) -> str:
        """The default search mode, as the pipeline's trace names it."""
        return self.settings.mode

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's vector, kept for the next call (coarse-to-fine embeds each query once)."""
        last = self._last  # one read: another thread may replace it
        if last is None or last[0] != query:
            last = (query, self.embedder.embed_queries([query])[0])
            self._last = last
        return last[1]

    def dense(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[Ranked]:
        """Nearest passages by inner product of normalised vectors (inside ``doc_ids`` when given)."""
        rows = None if doc_ids is None else self.reader.document_rows(doc_ids)
        return self._ranked(self.reader.dense(self._query_vector(query), k, rows=rows))

    def bm25(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[Ranked]:
        """Best passages by FTS5 BM25 (inside ``doc_ids`` when given)."""
        return self._ranked(self.reader.bm25(query, k, doc_ids=doc_ids))

    def hybrid(self, query: str, k: int, *, doc_ids: Sequence[str] | None = None) -> list[Ranked]:
        """RRF of dense and BM25, each contributing ``max(k, candidates)``."""
        n = max(k, self.settings.candidates)
        return rrf(self.dense(query, n, doc_ids=doc_ids), self.bm25(query, n, doc_ids=doc_ids),
                   k=self.settings.rrf_k)[:k]

    def units(self, query: str, k: int, *, level: str = "unit") -> list[Ranked]:
        """Best whole functions/classes (``level="unit"``) or files (``"file"``) by their unit vectors.

        Each hit is a passage spanning the unit (``splitter`` is "unit" or "file", ``symbol`` set for units).
        """
        if level not in ("unit", "file"):
            raise InputError(f"unknown unit level {level!r}; valid: unit, file")
        hits = self.reader.unit_dense(self._query_vector(query), k, level=level)
        passages = self.reader.unit_passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]

    def coarse(self, query: str, docs: int) -> list[str] | None:
        """doc_ids of the ``docs`` best documents by file vector; None when the index has no more than that."""
        if docs <= 0 or self.reader.manifest.counts.get("documents", 0) <= docs or not self.reader.has_units:
            return None
        hits = self.reader.unit_dense(self._query_vector(query), docs, level="file")
        return [u.doc_id for u in self.reader.units([r for r, _ in hits])]

    def search(self, query: str, k: int, *, mode: SearchMode | None = None, level: SearchLevel = "passage",
               docs: int | None = None) -> list[Ranked]:
        """Search with ``mode`` (default: the settings' mode) at ``level``: "passage" (blocks), "unit" or "file".

        ``docs`` (default: the settings' ``coarse_docs``) > 0 searches passages coarse-to-fine: only inside
        the best ``docs`` documents by file vector. Unit and file search is dense only: ``mode`` must then be
        None or "dense".
        """
        if level not in choices(SearchLevel):
            raise InputError(f"unknown search level {level!r}; valid: {', '.join(choices(SearchLevel))}")
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if level != "passage":
            if mode not in (None, "dense"):
                raise InputError(f"{level} search is dense only; got mode {mode!r}")
            return self.units(query, k, level=level)
        mode = mode or self.settings.mode
        run = {"dense": self.dense, "bm25": self.bm25, "hybrid": self.hybrid}.get(mode)
        if run is None:
            raise InputError(f"unknown search mode {mode!r}; valid: {', '.join(choices(SearchMode))}")
        return run(query, k, doc_ids=self.coarse(query, self.settings.coarse_docs if docs is None else docs))

    def _ranked(self, hits: list[tuple[int, float]]) -> list[Ranked]:
        passages = self.reader.passages([r for r, _ in hits])
        return [Ranked(p, s) for p, (_, s) in zip(passages, hits, strict=True)]
