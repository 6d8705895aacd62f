"""The LangChain retriever adapter returns the index's hits with their provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.retrievers import BaseRetriever

from ingest.core.settings import Settings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.build import build_index
from tests.fakes import FakeEmbedder


@pytest.fixture
def index(tmp_path: Path):  # noqa: ANN201
    import app.sdk

    embedder = FakeEmbedder()
    (tmp_path / "ferry.txt").write_text("The ferry Kittiwake carries 210 passengers and a crew of six between the two "
                                        "harbours every day.\n\nIts captain is Ida Marsh.\n")
    (tmp_path / "tolls.py").write_text("def toll(n):\n    return 3 * n\n")
    s = SplitSettings(chunk_tokens=16, overlap_tokens=0)
    build_index([tmp_path / "ferry.txt", tmp_path / "tolls.py"], tmp_path / "idx", embedder=embedder,
                splitter=DocumentSplitter(s, ProseSplitter(s, embedder.count_tokens), None))
    idx = app.sdk.Index(app.sdk.IndexReader(tmp_path / "idx"), Settings(), embedder=embedder)
    yield idx
    idx.close()


def test_retriever_returns_passages_with_provenance(index) -> None:  # noqa: ANN001
    retriever = index.as_retriever(k=2, mode="bm25")
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Who is the captain?")
    assert docs and "Ida Marsh" in docs[0].page_content
    meta = docs[0].metadata
    assert meta["source"].endswith("ferry.txt") and meta["line_start"] == meta["line_end"] == 3
    assert meta["label"].endswith("ferry.txt:3") and meta["score"] > 0
    hit = index.search("Who is the captain?", 1, mode="bm25")[0]
    assert (meta["char_start"], meta["char_end"]) == hit.passage.chars and meta["passage_id"] == hit.passage.id
    code = index.as_retriever(k=1, mode="bm25").invoke("toll")
    assert code[0].metadata["source"].endswith("tolls.py") and code[0].metadata["kind"] == "code"
    assert len(index.as_retriever(k=5, level="file").invoke("ferry passengers")) == 2


def test_retriever_stays_inside_a_scope(index) -> None:  # noqa: ANN001
    from retrieval.scope import Scope

    docs = index.as_retriever(k=5, mode="bm25", scope=Scope(documents=("*tolls.py",))).invoke("captain toll")
    assert docs and {d.metadata["source"].rsplit("/", 1)[-1] for d in docs} == {"tolls.py"}
