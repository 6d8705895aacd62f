"""Context assembly: which passages the model reads, and in what order (pure functions).

Everything here takes and returns :class:`Passage` lists and never mutates its input:

- :func:`merge_overlaps` joins passages of one document whose character spans overlap or touch
  (the splitter's overlap would otherwise show the model the same sentences twice);
- :func:`trim_overlaps` cuts the shared prefix off consecutive passages in document order, so a
  whole document reads once, still numbered passage by passage for citation;
- :func:`expand_neighbours` pulls in the adjacent passage when a hit's best-matching sentence sits
  at its first or last sentence (the answer may continue across the boundary);
- :func:`pack_passages` fits whole passages into a token budget, cutting the last one only at a
  sentence end and saying so;
- :func:`edges_first` and :func:`document_order` order the final list (``docs/METHODS.md``, "Edges-first
  ordering").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from ingest.core.records import Passage, passage_id
from ingest.core.settings import Order, choices
from ingest.core.text import STOPWORDS, sentence_spans

T = TypeVar("T")

_WORD = re.compile(r"[a-z0-9]+")
# Content words are what a claim and the passage that supports it must share: besides the function words,
# pronouns and a few prepositions are left out (they match between sentences about different things).
_STOP = STOPWORDS | {"about", "after", "before", "being", "during", "he", "her", "his", "over", "under", "whose"}


def edges_first(items: Sequence[T]) -> list[T]:
    """Best items at both edges of the context: ``d[0::2] + reversed(d[1::2])``.

    The first item always stays first and the second goes last, for odd and even lengths
    (LangChain's ``LongContextReorder`` puts the best one last when the length is even).

    >>> edges_first([1, 2, 3, 4, 5])
    [1, 3, 5, 4, 2]
    >>> edges_first([1, 2, 3, 4])
    [1, 3, 4, 2]
    >>> edges_first([]), edges_first([1])
    ([], [1])
    """
    return list(items[0::2]) + list(reversed(items[1::2]))


def document_order(passages: Sequence[Passage], doc_rank: Mapping[str, int] | None = None) -> list[Passage]:
    """Passages grouped by document (in ``doc_rank`` order, else first appearance) and by position inside it.

    >>> ps = [_demo("b", 50), _demo("a", 10), _demo("b", 0)]
    >>> [(p.doc_id, p.chars[0]) for p in document_order(ps)]
    [('b', 0), ('b', 50), ('a', 10)]
    """
    rank = dict(doc_rank or {})
    for p in passages:
        rank.setdefault(p.doc_id, len(rank))
    return sorted(passages, key=lambda p: (rank[p.doc_id], p.chars[0], p.chars[1]))


def order_passages(passages: Sequence[Passage], order: str) -> list[Passage]:
    """Apply one of the orders of :data:`ingest.core.settings.Order` to passages given best first.

    :raises ValueError: an unknown order (lists the valid ones).
    """
    if order == "rank":
        return list(passages)
    if order == "edges":
        return edges_first(passages)
    if order == "document":
        return document_order(passages)
    raise ValueError(f"unknown order {order!r}; valid: {', '.join(choices(Order))}")


def _join(a: Passage, b: Passage) -> Passage:
    """One passage covering ``a`` and ``b`` (same document, overlapping or touching spans)."""
    first, second = (a, b) if a.chars[0] <= b.chars[0] else (b, a)
    if second.chars[1] <= first.chars[1]:
        return first
    start, end = first.chars[0], second.chars[1]
    text = first.text + second.text[first.chars[1] - second.chars[0]:]
    lines = (first.lines[0], second.lines[1]) if first.lines and second.lines else None
    return replace(first, id=passage_id(first.source, (start, end), text), text=text, chars=(start, end),
                   lines=lines, symbol=first.symbol if first.symbol == second.symbol else None,
                   splitter=first.splitter if first.splitter == second.splitter else "merged")


def merge_overlaps(passages: Sequence[Passage]) -> list[Passage]:
    """Merge passages of the same document whose character spans overlap or touch.

    A merged passage takes the place of its best-ranked part; a passage contained in another one
    simply disappears. Relies on ``passage.text == document.text[start:end]`` (true for indexed
    passages); passages with a gap between them stay apart (the text in between is not at hand).

    >>> ps = [_demo("d", 100, "x" * 50), _demo("d", 0, "y" * 120), _demo("d", 300, "z" * 10), _demo("d", 120, "x" * 30)]
    >>> [(p.chars, len(p.text)) for p in merge_overlaps(ps)]
    [((0, 150), 150), ((300, 310), 10)]
    """
    out: list[Passage] = []
    for p in passages:
        for i, q in enumerate(out):
            if q.doc_id == p.doc_id and q.source == p.source and p.chars[0] <= q.chars[1] \
                    and q.chars[0] <= p.chars[1]:
                out[i] = _join(q, p)
                break
        else:
            out.append(p)
    if len(out) < len(passages):  # a merge may have made two kept passages overlap
        again = merge_overlaps(out)
        if len(again) < len(out):
            return again
    return out


def trim_overlaps(passages: Sequence[Passage]) -> list[Passage]:
    """Cut from each passage the characters the previous passage of its document already covers.

    Meant for a whole document in document order: the text then reads once. A passage wholly
    covered by the previous one is dropped. Line spans are moved by the newlines cut.

    >>> a, b = _demo("d", 0, "one two three"), _demo("d", 8, "three four")
    >>> [(p.chars, p.text) for p in trim_overlaps([a, b])]
    [((0, 13), 'one two three'), ((13, 18), ' four')]
    """
    out: list[Passage] = []
    last_end: dict[str, int] = {}
    for p in passages:
        end = last_end.get(p.doc_id, -1)
        if end > p.chars[0]:
            if end >= p.chars[1]:
                continue
            cut = end - p.chars[0]
            text = p.text[cut:]
            lines = (p.lines[0] + p.text[:cut].count("\n"), p.lines[1]) if p.lines else None
            p = replace(p, id=passage_id(p.source, (end, p.chars[1]), text), text=text, chars=(end, p.chars[1]),
                        lines=lines)
        out.append(p)
        last_end[p.doc_id] = max(end, p.chars[1])
    return out


def content_words(text: str) -> set[str]:
    """Lower-cased words minus stop words, crudely stemmed (plural/verb ``s``, ``ed``, ``ing``, then a final
    ``e``: "lease", "leases", "leased" and "leasing" are one word).

    >>> sorted(content_words("The ferries were launched in 1932"))
    ['1932', 'ferry', 'launch']
    >>> sorted({w for t in ("lease", "leases", "leased", "leasing") for w in content_words(t)})
    ['leas']
    """
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP}


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suffix in ("ing", "ed", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix) and not w.endswith("ss"):
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) >= 4 and w.endswith("e") else w


def best_sentence(query: str, text: str) -> int | None:
    """Index of the sentence of ``text`` sharing most content words with ``query`` (None: no overlap).

    >>> best_sentence("When did the bridge open?", "It is long. The bridge opened in 1932. It is red.")
    1
    """
    q = content_words(query)
    best, best_i = 0, None
    for i, (a, b) in enumerate(sentence_spans(text)):
        score = len(q & content_words(text[a:b]))
        if score > best:
            best, best_i = score, i
    return best_i


def expand_neighbours(hits: Sequence[Passage], doc_passages: Mapping[str, Sequence[Passage]], query: str, *,
                      max_added: int = 2) -> list[Passage]:
    """Hits, each followed by the passage next to it when the hit's best sentence for ``query`` is its first
    (previous passage) or last (next passage) sentence.

    :param hits: passages, best first.
    :param doc_passages: every passage of each document (``doc_id`` key), in document order.
    :param max_added: most neighbours added in all (best hits first).

    >>> doc = [_demo("d", 0, "Intro. The bridge"), _demo("d", 17, " opened in 1932. Then more."),
    ...        _demo("d", 44, "End.")]
    >>> [p.chars[0] for p in expand_neighbours([doc[1]], {"d": doc}, "When did the bridge open?")]
    [17, 0]
    """
    present = {p.id for p in hits}
    out: list[Passage] = []
    added = 0
    for hit in hits:
        out.append(hit)
        if added >= max_added:
            continue
        siblings = list(doc_passages.get(hit.doc_id, ()))
        pos = next((i for i, p in enumerate(siblings) if p.chars == hit.chars), None)
        best = best_sentence(query, hit.text)
        if pos is None or best is None:
            continue
        n_sentences = len(sentence_spans(hit.text))
        sides = ([pos - 1] if best == 0 else []) + ([pos + 1] if best == n_sentences - 1 else [])
        for j in sides:
            if 0 <= j < len(siblings) and siblings[j].id not in present and added < max_added:
                out.append(siblings[j])
                present.add(siblings[j].id)
                added += 1
    return out


@dataclass(frozen=True, slots=True)
class Packed:
    """Passages that fit a token budget, and what did not."""

    passages: tuple[Passage, ...]
    tokens: int  # budget used
    dropped: tuple[Passage, ...] = ()  # whole passages left out
    trimmed: tuple[str, ...] = ()  # ids of passages (as packed) cut at a sentence end to fit


def pack_passages(passages: Sequence[Passage], budget_tokens: int, count_tokens: Callable[[str], int], *,
                  overhead_tokens: int = 12, trim: bool = True, min_trim_tokens: int = 40) -> Packed:
    """Whole passages, best first, while they fit ``budget_tokens``; a passage that does not fit is
    skipped (later, smaller ones may still go in) or, with ``trim``, cut after its last sentence that
    fits when at least ``min_trim_tokens`` of it would remain. Cuts are reported, never silent.

    :param overhead_tokens: tokens each passage costs besides its text (number, label, blank lines).

    >>> count = lambda t: len(t.split())
    >>> ps = [_demo("d", 0, "a b c d e f"), _demo("d", 10, "One two. Three four five. Six seven eight nine ten.")]
    >>> r = pack_passages(ps, 14, count, overhead_tokens=1, min_trim_tokens=2)
    >>> [p.text for p in r.passages], r.tokens, len(r.trimmed)
    (['a b c d e f', 'One two. Three four five.'], 13, 1)
    >>> pack_passages(ps, 14, count, overhead_tokens=1, trim=False).dropped[0].text[:8]
    'One two.'
    """
    chosen: list[Passage] = []
    dropped: list[Passage] = []
    trimmed: list[str] = []
    used = 0
    for p in passages:
        cost = count_tokens(p.text) + overhead_tokens
        if used + cost <= budget_tokens:
            chosen.append(p)
            used += cost
            continue
        cut = _trim_to_fit(p, budget_tokens - used - overhead_tokens, count_tokens) if trim else None
        if cut is not None and count_tokens(cut.text) >= min_trim_tokens:
            chosen.append(cut)
            trimmed.append(cut.id)
            used += count_tokens(cut.text) + overhead_tokens
        else:
            dropped.append(p)
    return Packed(passages=tuple(chosen), tokens=used, dropped=tuple(dropped), trimmed=tuple(trimmed))


def _trim_to_fit(p: Passage, budget: int, count_tokens: Callable[[str], int]) -> Passage | None:
    """``p`` cut after its longest run of leading sentences that fits ``budget`` tokens (None: not even one)."""
    if budget <= 0:
        return None
    end = None
    for _, b in sentence_spans(p.text):
        if count_tokens(p.text[:b]) > budget:
            break
        end = b
    if end is None or end >= len(p.text.rstrip()):
        return None
    text = p.text[:end]
    lines = (p.lines[0], p.lines[0] + text.count("\n")) if p.lines else None
    chars = (p.chars[0], p.chars[0] + end)
    return replace(p, id=passage_id(p.source, chars, text), text=text, chars=chars, lines=lines)


def _demo(doc: str, start: int, text: str = "t") -> Passage:
    """A passage for the examples above."""
    return Passage(id=f"{doc}{start}", doc_id=doc, source=f"{doc}.txt", text=text, chars=(start, start + len(text)))
