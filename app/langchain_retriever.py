"""A LangChain ``BaseRetriever`` over a docqa index, so the index drops into LangChain apps.

Usage::

    retriever = Index.open("idx/").as_retriever(k=5)
    docs = retriever.invoke("What dataset do they use?")

Each hit becomes a LangChain ``Document`` whose ``page_content`` is the passage text and whose
metadata carries its provenance (source, page, line span, character span, symbol, citation label)
and the first-stage score, so a LangChain chain can cite the way docqa does.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ingest.core.records import Ranked


def to_langchain(hit: Ranked) -> LCDocument:
    """A docqa hit as a LangChain document (provenance in the metadata)."""
    p = hit.passage
    meta: dict[str, Any] = {"source": p.source, "label": p.label, "passage_id": p.id, "doc_id": p.doc_id,
                            "char_start": p.chars[0], "char_end": p.chars[1], "kind": p.kind, "score": hit.score}
    if p.page is not None:
        meta["page"] = p.page
    if p.lines is not None:
        meta["line_start"], meta["line_end"] = p.lines
    if p.symbol:
        meta["symbol"] = p.symbol
    return LCDocument(page_content=p.text, metadata=meta)


class DocqaRetriever(BaseRetriever):
    """Retrieves passages from an opened :class:`app.sdk.Index`.

    :param index: the opened index (``Index.open(path)``).
    :param k: passages per query.
    :param mode: "dense", "bm25" or "hybrid" (default: the index's search settings).
    :param level: "passage", "unit" (whole functions/classes) or "file".
    :param docs: coarse-to-fine: search only the best ``docs`` documents (default: the settings').
    :param scope: only these documents, kinds and pages (:class:`retrieval.scope.Scope`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = 5
    mode: str | None = None
    level: str = "passage"
    docs: int | None = None
    scope: Any = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.index.search(query, self.k, mode=self.mode, level=self.level, docs=self.docs, scope=self.scope)
        return [to_langchain(h) for h in hits]
