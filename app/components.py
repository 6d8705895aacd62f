"""The only place backends are chosen: build (and cache) embedders, splitters, LLMs and rerankers from settings."""

from __future__ import annotations

import functools
from typing import Any

from app.settings import Settings
from generation.llm import LLMSettings, make_llm
from generation.types import LLM
from ingest.embed import EmbedSettings, SentenceTransformerEmbedder
from ingest.errors import UnknownBackendError
from ingest.split import DocumentSplitter, ProseSplitter, SplitSettings
from rerank.identity import IdentityReranker
from rerank.types import Reranker


@functools.lru_cache(maxsize=4)
def get_embedder(settings: EmbedSettings) -> SentenceTransformerEmbedder:
    """One loaded embedder per settings value, shared across indexes and calls."""
    return SentenceTransformerEmbedder(settings)


@functools.lru_cache(maxsize=2)
def get_llm(settings: LLMSettings) -> LLM:
    """One LLM per settings value (models are big: load once)."""
    return make_llm(settings)


def make_splitter(settings: SplitSettings, embedder: SentenceTransformerEmbedder) -> DocumentSplitter:
    """Prose by the embedder's tokens; code by syntax when the AST splitter is available, else by lines."""
    code: Any = None
    try:
        from ingest.code import CodeSplitter  # AST-aware splitting (optional module)
    except ImportError:
        CodeSplitter = None  # noqa: N806
    if CodeSplitter is not None:
        code = CodeSplitter(settings, embedder.count_tokens)
    return DocumentSplitter(settings, ProseSplitter(settings, embedder.count_tokens), code)


def make_reranker(settings: Settings, llm_factory: Any = None) -> Reranker:
    """The reranker the settings name.

    :raises UnknownBackendError: an unknown name (lists the known ones).
    """
    name = settings.answer.rerank
    if name == "none":
        return IdentityReranker()
    try:
        from rerank.registry import make_reranker as make_llm_reranker
    except ImportError as err:
        raise UnknownBackendError(f"unknown reranker {name!r}; known: none") from err
    return make_llm_reranker(name, llm_factory or (lambda: get_llm(settings.llm)), settings.rerank)
