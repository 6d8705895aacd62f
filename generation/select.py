"""Context selection: whole documents when they fit (long-document mode), else a key context.

Two decisions, kept apart from the SDK that wires them to an index:

- :func:`plan_full_text` decides from token counts alone whether the model reads whole documents
  (``mode="auto" | "full" | "retrieve"``, METHODS §3) and which ones;
- :func:`key_context` turns ranked retrieval hits into the passages the model reads: segment
  relevance scoring (XL3M-style question likelihood, or embedding similarity) keeps the relevant
  ones in document order, neighbour expansion pulls in adjacent passages, overlaps are merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from generation.context import expand_neighbours, merge_overlaps
from generation.scoring import SELECTORS, score_segments_embedding, score_segments_llm, select_relevant
from generation.types import LLM, ScoringLLM
from ingest.types import Embedder, Passage

MODES = ("auto", "full", "retrieve")


@dataclass(frozen=True)
class FullTextPlan:
    """Whole documents to read (in this order), their prompt tokens, and how many documents were left out."""

    doc_ids: tuple[str, ...]
    tokens: int
    left_out: int

    def note(self, passages: int) -> str:
        """The answer's note on what ran, given how many numbered passages the documents made.

        >>> FullTextPlan(("a",), 900, 1).note(4)
        'mode: full text (1 document(s), 4 passages, ~900 tokens; 1 other document(s) left out)'
        """
        return (f"mode: full text ({len(self.doc_ids)} document(s), {passages} passages, ~{self.tokens} tokens"
                + (f"; {self.left_out} other document(s) left out" if self.left_out else "") + ")")


def plan_full_text(mode: str, *, doc_ids: Sequence[str], hit_docs: Sequence[str], cap: int,
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
    if mode not in MODES:
        raise ValueError(f"unknown answer mode {mode!r}; valid: {', '.join(MODES)}")
    if mode == "retrieve":
        return None
    hits = list(dict.fromkeys(hit_docs))
    if mode == "auto":
        everything = sum(doc_tokens(d, cap) for d in doc_ids) if len(doc_ids) > len(hits) else cap + 1
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


def not_full_note(mode: str, cap: int) -> str:
    """The note saying why retrieval ran instead of whole documents."""
    if mode == "retrieve":
        return "mode: retrieve"
    if mode == "auto":
        return f"mode: retrieve (auto: the documents exceed {cap} tokens)"
    return f"mode: retrieve (full text asked for, but no document fits {cap} tokens)"


def key_context(question: str, ranked: Sequence[Passage], *, select: str, top_k: int, neighbours: bool,
                llm: LLM, embedder: Embedder, doc_passages: Callable[[], Mapping[str, Sequence[Passage]]],
                timings: dict[str, float], tokens: dict[str, int], notes: list[str]) -> tuple[list[Passage], bool]:
    """Passages for the prompt, best first, and whether they must be numbered in document order.

    With ``select`` other than "none" the candidates are scored for relevance (by ``llm`` when it
    can score text, else by ``embedder``) and the relevant ones kept (key context, document order);
    else the first ``top_k`` are kept. ``neighbours`` adds adjacent passages of hits at a boundary.
    Overlapping passages are merged. Timings, token counts and notes are added to the given maps.
    """
    if select not in SELECTORS:
        raise ValueError(f"unknown segment selection {select!r}; valid: {', '.join(SELECTORS)}")
    kept = list(ranked)
    by_document = False
    if select != "none" and kept:
        t = time.perf_counter()
        if select == "llm" and isinstance(llm, ScoringLLM):
            scores = score_segments_llm(llm, question, kept)
        else:
            if select == "llm":
                notes.append(f"segment scoring: {llm.name} cannot score text; used embeddings")
            scores = score_segments_embedding(embedder, question, kept)
        keep = select_relevant(scores.scores, min_keep=min(3, top_k), max_keep=top_k)
        kept = [kept[i] for i in keep]
        by_document = True
        timings["select"] = time.perf_counter() - t
        tokens[f"select_{scores.method}"] = scores.tokens  # LLM tokens, or embedder tokens
        notes.append(f"segment scoring: {scores.method}, kept {len(keep)} of {len(scores.scores)} candidates "
                     f"({scores.tokens} tokens, {scores.seconds:.1f} s); key context in document order")
    else:
        kept = kept[:top_k]
    if neighbours:
        before = len(kept)
        kept = expand_neighbours(kept, doc_passages(), question)
        if len(kept) > before:
            notes.append(f"context: added {len(kept) - before} neighbouring passage(s)")
    merged = merge_overlaps(kept)
    if len(merged) < len(kept):
        notes.append(f"context: merged overlapping passages ({len(kept)} -> {len(merged)})")
    return merged, by_document
