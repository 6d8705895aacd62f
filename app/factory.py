"""The only place parts are chosen: the built-in plugins, and factories from settings to parts.

Built-in parts register in the one registry (:mod:`ingest.core.registry`) by path, exactly as a
third-party package does through its entry points, so nothing heavy is imported before it is used.
:func:`build_pipeline` turns :class:`Settings` into a :class:`~app.pipeline.Pipeline`; any part can be
passed in instead (tests, servers that share one model). Models are owned by :class:`app.runtime.Runtime`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from app.parts import Calculator, NoShortcut, Retriever, Shortcut
from app.pipeline import Pipeline
from app.profiles import Profile, profile_for
from generation.answer import FormulaCalculator, Generator, Verifier, offers_not_found
from generation.select import ContextSelector, Corpus
from ingest.core.errors import InputError
from ingest.core.protocols import LLM, Embedder, Reranker
from ingest.core.registry import EMBEDDERS, LLMS, PROFILES, RERANKERS, SPLITTERS
from ingest.core.settings import CacheSettings, EmbedSettings, LLMSettings, RerankSettings, Settings, SplitSettings
from ingest.split import DocumentSplitter, ProseSplitter

if TYPE_CHECKING:
    from app.runtime import Runtime

T = TypeVar("T")

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
    PROFILES: {"general": "app.profiles:general_profile", "filings": "app.profiles:filings_profile"},
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


def build_pipeline(settings: Settings, *, retriever: Retriever, corpus: Corpus | None = None,
                   embedder: Embedder | None = None, llm: LLM | None = None, runtime: Runtime | None = None,
                   shortcut: Shortcut | None = None, selector: ContextSelector | None = None,
                   reranker: Reranker | None = None, generator: Generator | None = None,
                   verifier: Verifier | None = None, calculator: Calculator | None = None,
                   profile: Profile | None = None) -> Pipeline:
    """The question-answering pipeline for one index, from settings; every part given is used as it is.

    :param retriever: the first stage (``retrieval.search.Searcher`` for an index).
    :param corpus: the index's passages by document (for the selector built here).
    :param embedder: the index's embedder (segment scoring, for the selector built here).
    :param llm: the answering model for the parts built here (default: the runtime's for ``settings.llm``).
    :param runtime: where the default model comes from (default: the process's, ``app.runtime``).
    :param shortcut: a direct answerer (default: the profile's, with ``[answer] compute``; else none).
    :param calculator: checks a calculation the model asks for (default: the profile's, else the formula one).
    :param profile: the domain profile (default: ``[profile] name``; for ``auto`` every registered profile's
        parts, since the documents are not known here: :class:`app.sdk.Index` passes the one that recognises
        the index's documents, :func:`app.profiles.profile_for`).
    :raises InputError: no ``selector`` and no ``corpus`` and ``embedder`` to build one from.

    Nothing loads here: backends load their models on first use.
    """
    s = settings.answer
    if selector is None and (corpus is None or embedder is None):
        raise InputError("build_pipeline: give a selector, or the corpus and embedder to build one")
    if llm is None and any(part is None for part in (selector, reranker, generator, verifier)):
        from app.runtime import default_runtime  # app.runtime builds models with this module's make_llm

        llm = (runtime or default_runtime()).llm(settings.llm, settings.cache)
    profile = profile or profile_for(settings.profile.name, None)
    if shortcut is None:
        shortcut = profile.shortcut if s.compute and profile.shortcut is not None else NoShortcut()
    model = llm
    max_answer = settings.llm.max_answer_tokens
    return Pipeline(
        settings=s,
        retriever=retriever,
        shortcut=shortcut,
        selector=selector or ContextSelector(s, llm=_given(model), embedder=_given(embedder),
                                             corpus=_given(corpus), max_answer_tokens=max_answer),
        reranker=reranker or make_reranker(s.rerank, lambda: _given(model), settings.rerank),
        generator=generator or Generator(_given(model), max_answer_tokens=max_answer,
                                         offer_not_found=offers_not_found(s.verify, s.unsupported),
                                         evidence_tokens=s.evidence_tokens),
        verifier=verifier or Verifier(_given(model), s, labels=profile.labels),
        calculator=calculator or profile.calculator or FormulaCalculator(),
    )


def _given(part: T | None) -> T:
    assert part is not None  # checked by build_pipeline before any part is built
    return part
