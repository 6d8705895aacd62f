"""The only place parts are chosen: the built-in plugins, and factories from settings to parts.

Built-in parts register in the one registry (:mod:`ingest.core.registry`) by path, exactly as a
third-party package does through its entry points, so nothing heavy is imported before it is used.
:func:`build_pipeline` turns :class:`Settings` into a :class:`~app.pipeline.Pipeline`; any part can be
passed in instead (tests, servers that share one model).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from app.pipeline import Pipeline
from generation.answer import Generator, Verifier, offers_not_found
from generation.select import ContextSelector, Corpus
from ingest.core.protocols import LLM, Embedder, Reranker
from ingest.core.registry import EMBEDDERS, LLMS, RERANKERS, SPLITTERS
from ingest.core.settings import CacheSettings, EmbedSettings, LLMSettings, RerankSettings, Settings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter
from retrieval.search import Searcher

BUILTINS: dict[Any, dict[str, str]] = {
    LLMS: {"llama-cpp": "generation.llamacpp:LlamaCppLLM", "transformers": "generation.hf:TransformersLLM",
           "openai": "generation.openai_llm:OpenAILLM"},
    RERANKERS: {"none": "rerank.identity:IdentityReranker", "full": "rerank.listwise:FullListwiseReranker",
                "full-logits": "rerank.listwise:SinglePassListwiseReranker",
                "window": "rerank.window:SlidingWindowReranker", "pointwise": "rerank.pointwise:PointwiseReranker"},
    SPLITTERS: {"ast": "ingest.code.splitter:CodeSplitter"},
    EMBEDDERS: {"sentence-transformers": "ingest.embed:SentenceTransformerEmbedder",
                "onnx": "ingest.onnx_embed:OnnxEmbedder", "onnx-int8": "ingest.onnx_embed:onnx_int8",
                "openvino": "ingest.onnx_embed:openvino", "auto": "ingest.onnx_embed:auto_embedder"},
}
CODE_SPLITTER = "ast"  # the code splitter documents are routed to (prose: the token-aware recursive splitter)
_registered = threading.Lock()
_done = False


def register_builtins() -> None:
    """Register docqa's own parts (once per process)."""
    global _done  # noqa: PLW0603  (a one-time registration, guarded by a lock)
    with _registered:
        if _done:
            return
        for registry, parts in BUILTINS.items():
            for name, path in parts.items():
                registry.register(name, path)
        _done = True


def llm_names() -> list[str]:
    """Registered LLM backends."""
    register_builtins()
    return LLMS.names()


def reranker_names() -> list[str]:
    """Registered rerankers.

    >>> reranker_names()
    ['full', 'full-logits', 'none', 'pointwise', 'window']
    """
    register_builtins()
    return RERANKERS.names()


def make_llm(settings: LLMSettings, cache: CacheSettings | None = None) -> LLM:
    """Build (but do not load) the backend the settings name.

    :raises UnknownBackendError: lists the known names.
    """
    register_builtins()
    return LLMS.get(settings.backend)(settings, cache or CacheSettings())


def make_embedder(settings: EmbedSettings, cache: CacheSettings | None = None) -> Embedder:
    """Build (but do not load) the embedder the settings name."""
    register_builtins()
    return EMBEDDERS.get(settings.backend)(settings, cache or CacheSettings())


def make_reranker(name: str, llm_factory: Callable[[], LLM], settings: RerankSettings) -> Reranker:
    """The reranker called ``name``; the LLM is only built (by ``llm_factory``) when it first ranks.

    :raises UnknownBackendError: an unknown name (lists the known ones).
    """
    register_builtins()
    return RERANKERS.get(name)(llm_factory, settings)


def make_splitter(settings: SplitSettings, embedder: Any) -> DocumentSplitter:
    """Prose by the embedder's tokens; code along its syntax tree."""
    register_builtins()
    code = SPLITTERS.get(CODE_SPLITTER)(settings, embedder.count_tokens)
    return DocumentSplitter(settings, ProseSplitter(settings, embedder.count_tokens), code)


@functools.lru_cache(maxsize=4)
def shared_embedder(settings: EmbedSettings, cache: CacheSettings | None = None) -> Embedder:
    """One embedder per settings value, shared by the indexes of a process (models are loaded once)."""
    return make_embedder(settings, cache)


@functools.lru_cache(maxsize=2)
def shared_llm(settings: LLMSettings, cache: CacheSettings) -> LLM:
    """One LLM per settings value, shared by the indexes of a process (models are big: load once)."""
    return make_llm(settings, cache)


def build_pipeline(settings: Settings, *, searcher: Searcher, corpus: Corpus, embedder: Embedder,
                   llm: LLM | None = None, reranker: Reranker | None = None) -> Pipeline:
    """The question-answering pipeline for one index, from settings; parts given are used as they are.

    Nothing loads here: backends load their models on first use.
    """
    llm = llm or shared_llm(settings.llm, settings.cache)
    s = settings.answer
    return Pipeline(
        settings=s,
        searcher=searcher,
        reranker=reranker or make_reranker(s.rerank, lambda: llm, settings.rerank),
        selector=ContextSelector(s, llm=llm, embedder=embedder, corpus=corpus,
                                 max_answer_tokens=settings.llm.max_answer_tokens),
        generator=Generator(llm, max_answer_tokens=settings.llm.max_answer_tokens,
                            offer_not_found=offers_not_found(s.verify, s.unsupported)),
        verifier=Verifier(llm, s),
    )
