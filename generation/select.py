"""Context selection: whole documents when they fit (long-document mode), else a key context.

:class:`ContextSelector` is the pipeline's context part. It makes two decisions:

- :meth:`~ContextSelector.full_text` decides, through the pure :func:`plan_full_text`, from token
  counts alone whether the model reads whole documents (``mode="auto" | "full" | "retrieve"``; see
  ``docs/METHODS.md``, long-document mode) and which ones;
- :meth:`~ContextSelector.key_context` turns ranked retrieval hits into the passages the model reads:
  segment relevance scoring (XL3M-style question likelihood, or embedding similarity) keeps the
  relevant ones in document order, neighbour expansion pulls in adjacent passages, overlaps are merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from generation.answer import PASSAGE_OVERHEAD_TOKENS, context_budget
from generation.context import expand_neighbours, merge_overlaps, trim_overlaps
from generation.scoring import score_segments_embedding, score_segments_llm, select_relevant
from ingest.core.protocols import LLM, Embedder, ScoringLLM, capable
from ingest.core.records import Passage, Ranked, StageTrace
from ingest.core.settings import AnswerModeSetting, AnswerSettings


@dataclass(frozen=True)
class FullTextPlan:
    """Whole documents to read (in this order), their prompt tokens, and how many documents were left out."""

    doc_ids: tuple[str, ...]
    tokens: int
    left_out: int

    def note(self, passages: int) -> str:
        """What was read, given how many numbered passages the documents made.

        >>> FullTextPlan(("a",), 900, 1).note(4)
        'whole documents: 1 document(s), 4 passages, ~900 tokens; 1 other document(s) left out'
        """
        return (f"whole documents: {len(self.doc_ids)} document(s), {passages} passages, ~{self.tokens} tokens"
                + (f"; {self.left_out} other document(s) left out" if self.left_out else ""))


def plan_full_text(mode: AnswerModeSetting, *, doc_ids: Sequence[str], hit_docs: Sequence[str], cap: int,
                   doc_tokens: Callable[[str, int], int]) -> FullTextPlan | None:
    """Which whole documents the model reads, or None to answer from retrieval.

    ``doc_tokens(doc_id, cap)`` gives a document's prompt tokens (or any number above ``cap`` when
    it clearly does not fit). "auto": every document if all fit ``cap``, else the documents of the
    top hits (``hit_docs``) if those fit. "full": the hits' documents first, then the others, as
    many as fit. "retrieve": never.

    >>> sizes = {"a": 300, "b": 500, "c": 900}
    >>> plan_full_text("auto", doc_ids="abc", hit_docs="b", cap=1000, doc_tokens=lambda d, c: sizes[d]).doc_ids
    ('b',)
    >>> plan_full_text("full", doc_ids="abc", hit_docs="c", cap=1300, doc_tokens=lambda d, c: sizes[d]).doc_ids
    ('c', 'a')
    >>> plan_full_text("auto", doc_ids="c", hit_docs="c", cap=800, doc_tokens=lambda d, c: sizes[d]) is None
    True
    """
    if mode == "retrieve":
        return None
    hits = list(dict.fromkeys(hit_docs))
    if mode == "auto":
        everything = cap + 1
        if len(doc_ids) > len(hits):  # stops at the first document past the cap: a large index is not read whole
            everything = 0
            for d in doc_ids:
                everything += doc_tokens(d, cap)
                if everything > cap:
                    break
        chosen = list(doc_ids) if everything <= cap else hits
        used = everything if everything <= cap else sum(doc_tokens(d, cap) for d in hits)
        if not chosen or used > cap:
            return None
    else:
        chosen, used = [], 0
        for doc_id in hits + [d for d in doc_ids if d not in hits]:
            cost = doc_tokens(doc_id, cap - used)
            if used + cost <= cap:
                chosen.append(doc_id)
                used += cost
        if not chosen:
            return None
    return FullTextPlan(tuple(chosen), used, len(doc_ids) - len(chosen))


def not_full_note(mode: AnswerModeSetting, cap: int) -> str:
    """Why retrieval ran instead of whole documents.

    >>> not_full_note("auto", 900)
    'retrieved passages (auto: the documents exceed 900 tokens)'
    """
    if mode == "retrieve":
        return "retrieved passages"
    if mode == "auto":
        return f"retrieved passages (auto: the documents exceed {cap} tokens)"
    return f"retrieved passages (whole documents asked for, but no document fits {cap} tokens)"


class Corpus(Protocol):
    """What context selection reads from an index: every passage of each document, in document order."""

    def doc_passages(self) -> Mapping[str, Sequence[Passage]]: ...


class ScopedCorpus:
    """The passages of a corpus that a scope allows (what whole-document reading and neighbours may use).

    A document's passages are filtered when it is asked for; the documents are listed (those with a passage
    the scope allows) on first iteration, among ``doc_ids`` when the scope names them.
    """

    def __init__(self, corpus: Corpus, allows: Callable[[Passage], bool],
                 doc_ids: Collection[str] | None = None) -> None:
        self.corpus, self.allows, self.doc_ids = corpus, allows, doc_ids
        self._by_doc: _Allowed | None = None

    def doc_passages(self) -> Mapping[str, Sequence[Passage]]:
        if self._by_doc is None:
            self._by_doc = _Allowed(self.corpus.doc_passages(), self.allows, self.doc_ids)
        return self._by_doc


class _Allowed(Mapping[str, Sequence[Passage]]):
    """A corpus's documents as the scope allows them, filtered one document at a time."""

    def __init__(self, by_doc: Mapping[str, Sequence[Passage]], allows: Callable[[Passage], bool],
                 doc_ids: Collection[str] | None) -> None:
        self.by_doc, self.allows, self.doc_ids = by_doc, allows, doc_ids
        self._kept: dict[str, list[Passage]] = {}
        self._keys: list[str] | None = None

    def __getitem__(self, doc_id: str) -> list[Passage]:
        if doc_id not in self._kept:
            if self.doc_ids is not None and doc_id not in self.doc_ids:
                raise KeyError(doc_id)
            self._kept[doc_id] = [p for p in self.by_doc[doc_id] if self.allows(p)]
        if not self._kept[doc_id]:
            raise KeyError(doc_id)
        return self._kept[doc_id]

    def _allowed(self, doc_id: str) -> bool:
        try:
            return bool(self[doc_id])
        except KeyError:
            return False

    def __iter__(self) -> Iterator[str]:
        if self._keys is None:
            candidates = self.by_doc if self.doc_ids is None else [d for d in self.by_doc if d in self.doc_ids]
            self._keys = [d for d in candidates if self._allowed(d)]
        return iter(self._keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ContextSelector:
    """Decides what the model reads: whole documents (when the answer mode asks and they fit), else a key context.

    :param settings: the answer settings (mode, top_k, select, neighbours, full_max_tokens).
    :param llm: the answering model: its tokenizer sizes whole documents, and with ``select="llm"`` it scores
        segments (when it can score text; else embeddings are used and a note says so).
    :param embedder: scores segments with ``select="embedding"``.
    :param corpus: the index's documents as passages.
    :param max_answer_tokens: reserved for the answer when sizing the context budget.
    """

    def __init__(self, settings: AnswerSettings, *, llm: LLM, embedder: Embedder, corpus: Corpus,
                 max_answer_tokens: int) -> None:
        self.settings, self.llm, self.embedder, self.corpus = settings, llm, embedder, corpus
        self.max_answer_tokens = max_answer_tokens
        self._tokens_by_doc: dict[str, int] = {}

    def scoped(self, allows: Callable[[Passage], bool], doc_ids: Collection[str] | None = None) -> ContextSelector:
        """This selector reading only the passages ``allows`` admits (a scoped question's documents, kinds and
        pages; ``doc_ids``: the documents it names, when it names them), with the same settings and models."""
        return ContextSelector(self.settings, llm=self.llm, embedder=self.embedder,
                               corpus=ScopedCorpus(self.corpus, allows, doc_ids),
                               max_answer_tokens=self.max_answer_tokens)

    def _doc_tokens(self, doc_id: str, cap: int) -> int:
        """Prompt tokens of a whole document as trimmed passages (``cap + 1`` when it clearly exceeds ``cap``)."""
        passages = self.corpus.doc_passages()[doc_id]
        if doc_id not in self._tokens_by_doc:
            if (passages[-1].chars[1] - passages[0].chars[0]) / 8 > cap:  # over cap even at 8 characters a token
                return cap + 1
            self._tokens_by_doc[doc_id] = sum(self.llm.count_tokens(p.text) + PASSAGE_OVERHEAD_TOKENS
                                              for p in trim_overlaps(passages))
        return self._tokens_by_doc[doc_id]

    def full_text(self, question: str, candidates: Sequence[Ranked]) -> tuple[list[Passage] | None, StageTrace]:
        """Whole documents as numbered passages in document order (overlaps trimmed) when the answer mode asks
        for them and they fit the context budget, else None; and the "mode" stage's trace saying which ran."""
        s = self.settings
        t = time.perf_counter()
        if s.mode == "retrieve":
            return None, StageTrace("mode", "retrieve", details=(not_full_note(s.mode, 0),))
        budget = context_budget(self.llm, question, self.max_answer_tokens)
        cap = min(budget, s.full_max_tokens) if s.mode == "auto" and s.full_max_tokens else budget
        by_doc = self.corpus.doc_passages()
        plan = plan_full_text(s.mode, doc_ids=list(by_doc), cap=cap, doc_tokens=self._doc_tokens,
                              hit_docs=[r.passage.doc_id for r in candidates[: s.top_k]])
        if plan is None:
            return None, StageTrace("mode", "retrieve", seconds=time.perf_counter() - t,
                                    details=(not_full_note(s.mode, cap),))
        passages = [p for doc_id in plan.doc_ids for p in trim_overlaps(by_doc[doc_id])]
        return passages, StageTrace("mode", "full", seconds=time.perf_counter() - t,
                                    details=(plan.note(len(passages)),))

    def key_context(self, question: str, ranked: Sequence[Passage]) -> tuple[list[Passage], bool, StageTrace]:
        """Passages for the prompt, best first; whether they must be numbered in document order; the trace.

        With ``select`` other than "none" the candidates are scored for relevance and the relevant ones
        kept (key context, document order); else the first ``top_k`` are kept. ``neighbours`` adds adjacent
        passages of hits at a boundary. Overlapping passages are merged.
        """
        s = self.settings
        t = time.perf_counter()
        kept = list(ranked)
        by_document = False
        details: list[str] = []
        method, llm_tokens, embedder_tokens = "top-k", 0, 0
        if s.select != "none" and kept:
            if s.select == "llm" and capable(self.llm, ScoringLLM):
                scores = score_segments_llm(self.llm, question, kept)  # type: ignore[arg-type]
            else:
                if s.select == "llm":
                    details.append(f"{self.llm.name} cannot score text; used embeddings")
                scores = score_segments_embedding(self.embedder, question, kept)
            keep = select_relevant(scores.scores, min_keep=min(3, s.top_k), max_keep=s.top_k)
            kept = [kept[i] for i in keep]
            by_document = True
            method = scores.method
            llm_tokens, embedder_tokens = (scores.tokens, 0) if scores.method == "llm" else (0, scores.tokens)
            details.append(f"kept {len(keep)} of {len(scores.scores)} candidates; key context in document order")
        else:
            kept = kept[: s.top_k]
        if s.neighbours:
            before = len(kept)
            kept = expand_neighbours(kept, self.corpus.doc_passages(), question)
            if len(kept) > before:
                details.append(f"added {len(kept) - before} neighbouring passage(s)")
        merged = merge_overlaps(kept)
        if len(merged) < len(kept):
            details.append(f"merged overlapping passages ({len(kept)} -> {len(merged)})")
        return merged, by_document, StageTrace("select", method, seconds=time.perf_counter() - t,
                                               prompt_tokens=llm_tokens, embedder_tokens=embedder_tokens,
                                               calls=len(ranked) if method == "llm" else 0, details=tuple(details))
