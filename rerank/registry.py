"""Rerankers by name: a small explicit registry; the built-ins register through the same path."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ingest.errors import UnknownBackendError
from rerank.identity import IdentityReranker
from rerank.listwise import FullListwiseReranker, LLMFactory, SinglePassListwiseReranker
from rerank.pointwise import PointwiseReranker
from rerank.settings import RerankSettings
from rerank.types import Reranker
from rerank.window import SlidingWindowReranker

Factory = Callable[[LLMFactory, RerankSettings], Reranker]
F = TypeVar("F", bound=Factory)
_RERANKERS: dict[str, Factory] = {}


def register_reranker(name: str) -> Callable[[F], F]:
    """Register ``factory(llm_factory, settings) -> Reranker`` under ``name``."""

    def deco(factory: F) -> F:
        if name in _RERANKERS:
            raise ValueError(f"duplicate reranker {name!r}")
        _RERANKERS[name] = factory
        return factory

    return deco


def reranker_names() -> list[str]:
    """Registered names.

    >>> reranker_names()
    ['full', 'full-logits', 'none', 'pointwise', 'window']
    """
    return sorted(_RERANKERS)


def make_reranker(name: str, llm_factory: LLMFactory, settings: RerankSettings) -> Reranker:
    """The reranker called ``name``; the LLM is only built (by ``llm_factory``) when it first ranks.

    :raises UnknownBackendError: an unknown name (lists the known ones).
    """
    if name not in _RERANKERS:
        raise UnknownBackendError(f"unknown reranker {name!r}; known: {', '.join(reranker_names())}")
    return _RERANKERS[name](llm_factory, settings)


register_reranker("none")(lambda llm_factory, settings: IdentityReranker())
register_reranker("full")(FullListwiseReranker)
register_reranker("full-logits")(SinglePassListwiseReranker)
register_reranker("window")(SlidingWindowReranker)
register_reranker("pointwise")(PointwiseReranker)
