"""The runtime: the one object that owns loaded models (embedders and LLMs) and each model's answer queue.

Models are big: an index, the UI's sessions, a server and the evaluation ask the runtime for the model their
settings name and share it (one per settings value). The runtime builds a model on first request (the model
itself loads its weights on first use), keeps the most recent ``max_llms`` LLMs and ``max_embedders``
embedders, and :meth:`Runtime.close` frees them. Every LLM it hands out has one
:class:`~app.jobs.AnswerQueue` (:meth:`Runtime.answer_queue`): answering with a shared model is serialized
there (llama.cpp must not run two generations at once).

A process has a default runtime (:func:`default_runtime`); pass a runtime of your own to
:class:`app.sdk.Index` to keep models apart or to close them at a moment of your choosing.

>>> from ingest.core.settings import CacheSettings, LLMSettings
>>> with Runtime() as rt:
...     rt.llm(LLMSettings(), CacheSettings()) is rt.llm(LLMSettings(), CacheSettings())
True
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from app.factory import make_embedder, make_llm
from app.jobs import AnswerQueue
from ingest.core.protocols import LLM, Embedder
from ingest.core.settings import CacheSettings, EmbedSettings, LLMSettings

M = TypeVar("M")


class Runtime:
    """Loaded models, shared by settings value, with one answer queue per LLM.

    :param max_llms: LLMs kept; the least recently requested one beyond this is let go (not closed: an index
        may still hold it; it is freed with the last user).
    :param max_embedders: embedders kept, likewise.
    """

    def __init__(self, *, max_llms: int = 2, max_embedders: int = 4) -> None:
        self._lock = threading.Lock()
        self._llms: OrderedDict[Hashable, LLM] = OrderedDict()
        self._embedders: OrderedDict[Hashable, Embedder] = OrderedDict()
        self._limits = {"llm": max_llms, "embedder": max_embedders}
        self._queues: dict[int, tuple[Callable[[], object], AnswerQueue]] = {}  # id(llm) -> (ref to llm, queue)

    def _get(self, table: OrderedDict[Hashable, M], kind: str, key: Hashable, build: Callable[[], M]) -> M:
        with self._lock:
            if key in table:
                table.move_to_end(key)
                return table[key]
            model = table[key] = build()
            while len(table) > self._limits[kind]:
                table.popitem(last=False)
            return model

    def llm(self, settings: LLMSettings, cache: CacheSettings | None = None) -> LLM:
        """The LLM ``settings`` name, built on first request (it loads on first use) and shared after."""
        cache = cache or CacheSettings()
        return self._get(self._llms, "llm", (settings, cache), lambda: make_llm(settings, cache))

    def embedder(self, settings: EmbedSettings, cache: CacheSettings | None = None) -> Embedder:
        """The embedder ``settings`` name, built on first request and shared after."""
        cache = cache or CacheSettings()
        return self._get(self._embedders, "embedder", (settings, cache), lambda: make_embedder(settings, cache))

    def answer_queue(self, llm: object, capacity: int) -> AnswerQueue:
        """The one queue of answering jobs for ``llm`` (made with ``capacity`` on first request): every use of a
        shared model (an answer, a follow-up rewrite) holds its turn there. The queue lives as long as the model
        (a model let go while an index still answers with it keeps its queue)."""
        with self._lock:
            for key, (held_ref, _) in list(self._queues.items()):
                if held_ref() is None:
                    del self._queues[key]
            held = self._queues.get(id(llm))
            if held is None or held[0]() is not llm:
                ref: Callable[[], object]
                try:
                    ref = weakref.ref(llm)
                except TypeError:  # not weakly referable: held for the runtime's life
                    ref = functools.partial(lambda x: x, llm)
                held = self._queues[id(llm)] = (ref, AnswerQueue(capacity))
            return held[1]

    def held(self) -> dict[str, int]:
        """How many models are held, by kind."""
        with self._lock:
            return {"llms": len(self._llms), "embedders": len(self._embedders)}

    def close(self) -> None:
        """Free every model held (those with a ``close`` method are closed) and forget them and their queues."""
        with self._lock:
            models: list[Any] = [*self._llms.values(), *self._embedders.values()]
            self._llms.clear()
            self._embedders.clear()
            self._queues.clear()
        for model in models:
            close = getattr(model, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # freeing one model must not keep the others
                    close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: Runtime | None = None
_default_lock = threading.Lock()


def default_runtime() -> Runtime:
    """The process's runtime (made on first use), which indexes, the UI, servers and the evaluation share unless
    given one of their own."""
    global _default  # noqa: PLW0603  (one per process, made under a lock)
    with _default_lock:
        if _default is None:
            _default = Runtime()
        return _default
