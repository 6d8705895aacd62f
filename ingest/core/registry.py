"""One registry for the pluggable parts: LLM backends, rerankers, splitters, embedders and domain profiles.

Each kind is a :class:`Registry` of factories by name. Built-in parts register lazily, by a
``"module:attribute"`` path (``app/factory.py`` lists them), so nothing heavy is imported until a
part is used; third-party packages register through entry points, one group per kind
(``docqa.llms``, ``docqa.rerankers``, ``docqa.splitters``, ``docqa.embedders``, ``docqa.profiles``), whose
value is the factory's ``"module:attribute"`` path too.

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable
from typing import Any

from ingest.core.errors import UnknownBackendError

log = logging.getLogger(__name__)


def load_path(path: str) -> Any:
    """The object at ``"package.module:attribute"``.

    >>> load_path("ingest.core.registry:load_path") is load_path
    True
    """
    module, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attribute', got {path!r}")
    return getattr(importlib.import_module(module), attr)


class Registry:
    """Factories of one kind of part, by name.

    >>> r = Registry("widget", "docqa.test-widgets")
    >>> r.register("plain", lambda: "a widget")
    >>> r.get("plain")()
    'a widget'
    >>> r.get("fancy")
    Traceback (most recent call last):
    ...
    ingest.core.errors.UnknownBackendError: unknown widget 'fancy'; known: plain
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind, self.group = kind, group
        self._factories: dict[str, Callable[..., Any] | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, factory: Callable[..., Any] | str) -> None:
        """Register ``factory`` (or its lazy ``"module:attribute"`` path) under ``name``.

        :raises ValueError: ``name`` is taken.
        """
        if name in self._factories:
            raise ValueError(f"duplicate {self.kind} {name!r}")
        self._factories[name] = factory

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests register and remove their own parts)."""
        self._factories.pop(name, None)

    def refresh(self) -> None:
        """Read the entry points again on next use (after installing a plugin into a running process)."""
        self._entry_points_loaded = False

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in importlib.metadata.entry_points(group=self.group):
            if ep.name in self._factories:
                log.warning("%s %r from %s ignored: the name is taken", self.kind, ep.name, ep.value)
            else:
                self._factories[ep.name] = ep.value

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_entry_points()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under ``name`` (imported now if it was registered by path).

        :raises UnknownBackendError: an unknown name (lists the known ones).
        """
        self._load_entry_points()
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownBackendError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        if isinstance(factory, str):
            factory = self._factories[name] = load_path(factory)
        return factory


LLMS = Registry("LLM backend", "docqa.llms")  # factory(LLMSettings, CacheSettings) -> LLM
RERANKERS = Registry("reranker", "docqa.rerankers")  # factory(llm_factory, RerankSettings) -> Reranker
SPLITTERS = Registry("splitter", "docqa.splitters")  # factory(SplitSettings, count_tokens) -> Splitter (code)
EMBEDDERS = Registry("embedder", "docqa.embedders")  # factory(EmbedSettings, CacheSettings) -> Embedder
PROFILES = Registry("profile", "docqa.profiles")  # factory() -> app.profiles.Profile (domain knowledge)
