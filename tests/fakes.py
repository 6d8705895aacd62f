"""Deterministic stand-ins for models, for tests that check mechanics only."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import re
import time
from collections.abc import Iterator, Sequence

import numpy as np

from app.factory import build_pipeline
from app.pipeline import Pipeline
from ingest.core.errors import InputError
from ingest.core.records import Completion, Message, Passage, Ranked
from ingest.core.registry import Registry
from ingest.core.settings import Settings
from retrieval.scope import Scope
from retrieval.search import Retrieval


class FakeEmbedder:
    """Bag-of-words hashing embedder: texts sharing words get similar unit vectors; same text, same vector."""

    def __init__(self, dim: int = 64, name: str = "fake") -> None:
        self._dim = dim
        self.name = name
        self.calls = 0
        self.embedded = 0

    @property
    def dim(self) -> int:
        return self._dim

    def identity(self) -> dict[str, object]:
        return {"model": self.name, "dim": self._dim}

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
            v[h % self._dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self._dim), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])


class ScriptedLLM:
    """Replies with scripted texts in order; records the messages it was sent."""

    name = "scripted"

    def __init__(self, *replies: str, context_tokens: int = 4096) -> None:
        self.replies = list(replies)
        self.calls: list[list[Message]] = []
        self._context = context_tokens

    @property
    def context_tokens(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Completion:
        *_, final = self.stream(messages, max_tokens=max_tokens)
        assert isinstance(final, Completion)
        return final

    def stream(self, messages: Sequence[Message], *, max_tokens: int) -> Iterator[str | Completion]:
        self.calls.append(list(messages))
        reply = self.replies.pop(0)
        start = time.perf_counter()
        yield from re.findall(r"\S+\s*", reply)
        yield Completion(text=reply, prompt_tokens=sum(self.count_tokens(m.content) for m in messages),
                         completion_tokens=self.count_tokens(reply), seconds=time.perf_counter() - start,
                         first_token_seconds=0.0)


class ScoringScriptedLLM(ScriptedLLM):
    """A :class:`ScriptedLLM` that can also score text (``ScoringLLM``): a continuation is likelier the more
    of its words the prefix holds; records the pairs it scored."""

    def __init__(self, *replies: str, context_tokens: int = 4096) -> None:
        super().__init__(*replies, context_tokens=context_tokens)
        self.scored: list[tuple[str, str]] = []

    def sequence_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list:
        from ingest.core.records import SequenceScore

        out = []
        for prefix, continuation in pairs:
            self.scored.append((prefix, continuation))
            words = re.findall(r"\w+", continuation.lower())
            known = set(re.findall(r"\w+", prefix.lower()))
            out.append(SequenceScore(logprob=sum(-0.5 if w in known else -5.0 for w in words), tokens=len(words),
                                     evaluated_tokens=len(prefix.split()) + len(words)))
        return out


class StaticSearcher:
    """A first stage that returns the given passages in order (scores descending), whatever the query."""

    name = "static"

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)

    def search(self, query: str, k: int) -> list[Ranked]:
        return [Ranked(p, float(len(self.passages) - i)) for i, p in enumerate(self.passages[:k])]

    def retrieve(self, query: str, k: int, *, scope: Scope | None = None) -> Retrieval:
        """Its passages in order; inside a scope, those the scope allows (documents by doc id or fnmatch on the
        source, kinds, pages), as an index would. A scope matching none of them is an InputError."""
        if not scope:
            return Retrieval(self.search(query, k))
        kept = [p for p in self.passages if _allows(scope, p)]
        if not kept:
            raise InputError(f"scope: nothing in the {self.name} retriever's passages matches {scope}")
        return Retrieval([Ranked(p, float(len(kept) - i)) for i, p in enumerate(kept[:k])])

    def doc_passages(self) -> dict[str, list[Passage]]:
        by_doc: dict[str, list[Passage]] = {}
        for p in sorted(self.passages, key=lambda p: (p.doc_id, p.chars)):
            by_doc.setdefault(p.doc_id, []).append(p)
        return by_doc


def _allows(scope: Scope, p: Passage) -> bool:
    docs = not scope.documents or any(p.doc_id == d or fnmatch.fnmatch(p.source, d) for d in scope.documents)
    pages = scope.pages is None or (p.page is not None and scope.pages[0] <= p.page <= scope.pages[1])
    return docs and pages and (not scope.kinds or p.kind in scope.kinds)


def pipeline_over(passages: Sequence[Passage], llm: object, *, max_answer_tokens: int = 384,
                  embedder: object = None, **answer: object) -> Pipeline:
    """The real pipeline with injected parts: a static first stage over ``passages`` and the given LLM.

    The model reads whole passages unless ``evidence_tokens`` is given: a scripted answer cites passages by
    number, and the evidence selection (tested in tests/test_evidence.py) would leave unrelated ones out."""
    settings = Settings().replace(answer={"evidence_tokens": 0, **answer}, llm={"max_answer_tokens": max_answer_tokens})
    searcher = StaticSearcher(passages)
    return build_pipeline(settings, retriever=searcher, corpus=searcher, embedder=embedder or FakeEmbedder(),
                          llm=llm)  # type: ignore[arg-type]


@contextlib.contextmanager
def registered(registry: Registry, name: str, factory: object) -> Iterator[None]:
    """Register a test part under ``name`` for the duration of a block (as a plugin would), then remove it."""
    from app.factory import register_builtins
    from app.runtime import default_runtime

    register_builtins()
    registry.register(name, factory)  # type: ignore[arg-type]
    try:
        yield
    finally:
        registry.unregister(name)
        default_runtime().close()  # models built with the test part are let go with it
