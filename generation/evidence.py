"""Evidence-dense context: the sentences of the chosen passages that bear on the question, and their neighbours.

A small model answering on a CPU pays for every prompt token and is distracted by most of them. So the prompt
holds, of each passage, only its *units* (a prose sentence, a table row line, a code passage whole) that score
best against the question, plus the sentence before and after each (to read a pronoun or a continued figure),
within a token budget. Passages stay grouped and numbered as before (a passage none of whose units is kept is
left out), so every ``[n]`` still resolves to its passage; the units are exact ``[start, end)`` spans of the
passage text, so every quote the citation check finds still maps to exact characters of the source.

Scoring is cheap and pure: :func:`lexical_scores` weights the question's content words by how rare they are
among the candidate units (an IDF over the context), with stems, and a bonus for a unit holding a number or a
capitalised name when the question asks for one, and a larger one for a unit stating a count of what a "how many
...?" question counts, in its words or another word for it. An embedder's cosine (:func:`blend`) can be mixed in.

Everything here is pure; ``generation/answer.py`` calls :func:`select_evidence` with the model's token counter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generation.context import content_words
from generation.counting import count_pattern
from ingest.core.records import Passage
from ingest.core.text import line_spans, sentence_spans

Span = tuple[int, int]
TokenCounter = Callable[[str], int]

GAP = " … "  # between two kept spans of one passage that are not adjacent
_NUMBER = re.compile(r"\d")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_WANTS_NUMBER = re.compile(r"\b(?:how (?:many|much|long|old|far|large|big)|what (?:year|percent(?:age)?|number)|"
                           r"when|in which year|what date)\b", re.IGNORECASE)
_WANTS_NAME = re.compile(r"\b(?:who|whom|whose|which (?:person|company|city|country)|where)\b", re.IGNORECASE)
COUNT_BONUS = 1.0  # a unit stating a count of what a "how many ...?" question counts: as if it held all its words


@dataclass(frozen=True, slots=True)
class Excerpt:
    """What the prompt shows of one passage: sorted, disjoint spans of ``passage.text`` (all of it when whole)."""

    passage: Passage
    spans: tuple[Span, ...]

    @classmethod
    def whole(cls, passage: Passage) -> Excerpt:
        return cls(passage, ((0, len(passage.text)),))

    @property
    def is_whole(self) -> bool:
        return self.spans == ((0, len(self.passage.text)),)

    def text(self) -> str:
        """The kept spans in order, joined by :data:`GAP` where text was left out between them.

        >>> p = Passage(id="x", doc_id="d", source="a", text="One. Two. Three.", chars=(0, 16))
        >>> Excerpt(p, ((0, 4), (10, 16))).text(), Excerpt(p, ((0, 4), (5, 9))).text()
        ('One. … Three.', 'One. Two.')
        """
        out: list[str] = []
        end = None
        for a, b in self.spans:
            if end is not None:
                between = self.passage.text[end:a]
                out.append(between if not between.strip() else GAP)
            out.append(self.passage.text[a:b])
            end = b
        return "".join(out).strip()


def units(passage: Passage) -> list[Span]:
    """The units a passage is cut into for scoring: its lines for a table, the whole of a code passage, else
    its sentences.

    >>> units(Passage(id="x", doc_id="d", source="a", text="Ann sat. Bob ran.", chars=(0, 17)))
    [(0, 8), (9, 17)]
    >>> units(Passage(id="x", doc_id="d", source="a", text="Cash 5\\nDebt 2", chars=(0, 13), kind="table"))
    [(0, 6), (7, 13)]
    """
    text = passage.text
    if passage.kind == "code" or not text.strip():
        return [(0, len(text))]
    if passage.kind == "table":
        return wrapped_rows(passage, line_spans(text))
    return [(a, b) for a, b in sentence_spans(text) if text[a:b].strip()]


def wrapped_rows(passage: Passage, lines: list[Span]) -> list[Span]:
    """A table's lines with each row whose label wraps onto lines above its figures joined to them, as its
    record reads it ("Average monthly revenue per paying" / "membership $ 8.66 $ 7.81"): one unit, not a label
    without figures and figures without their label.

    >>> from ingest.core.tables import Table, TableCell, TableRow
    >>> text = "Memberships:\\nAverage monthly revenue per paying\\nmembership $ 8.66 $ 7.81"
    >>> row = TableRow("Average monthly revenue per paying membership", (TableCell("$ 8.66", 59, 65, None),), 48,
    ...                len(text))
    >>> p = Passage(id="t", doc_id="d", source="a", kind="table", text=text, chars=(0, len(text)),
    ...             table=Table("", (), (row,)))
    >>> [p.text[a:b] for a, b in units(p)]
    ['Memberships:', 'Average monthly revenue per paying\\nmembership $ 8.66 $ 7.81']
    """
    if passage.table is None:
        return lines
    text = passage.text
    joined = list(lines)
    for row in passage.table.rows:
        at = next((i for i, (a, b) in enumerate(joined) if a <= row.start < b), None)
        own = " ".join(text[row.start:row.cells[0].start if row.cells else row.end].split())
        name = " ".join(row.name.split())
        missing = name[:-len(own)].strip() if own and name.endswith(own) else ""
        while at and missing:  # the label's first words, on the lines above
            above = " ".join(text[joined[at - 1][0]:joined[at - 1][1]].split())
            if not above or not missing.endswith(above):
                break
            joined[at - 1:at + 1] = [(joined[at - 1][0], joined[at][1])]
            at, missing = at - 1, missing[:-len(above)].strip()
    return joined


def _stems(words: set[str]) -> set[str]:
    return {w[:5] if len(w) > 5 else w for w in words}


def lexical_scores(question: str, texts: Sequence[str]) -> list[float]:
    """How well each unit text answers to the question: the IDF-weighted share of the question's content
    stems it holds (IDF over ``texts``), plus 0.1 when it holds a number (or a capitalised name) the question
    asks for.

    >>> s = lexical_scores("When did the lighthouse keeper retire?",
    ...                    ["The keeper retired in 1931.", "The lighthouse is red.", "Gulls nest here."])
    >>> s[0] > s[1] > s[2] == 0.0
    True
    """
    wanted = _stems(content_words(question))
    if not wanted or not texts:
        return [0.0] * len(texts)
    unit_stems = [_stems(content_words(t)) for t in texts]
    n = len(texts)
    idf = {w: math.log(1 + n / (1 + sum(w in s for s in unit_stems))) for w in wanted}
    total = sum(idf.values())
    wants_number, wants_name = bool(_WANTS_NUMBER.search(question)), bool(_WANTS_NAME.search(question))
    count = count_pattern(question)
    counted = re.compile(count, re.IGNORECASE) if count else None
    scores = []
    for text, stems in zip(texts, unit_stems, strict=True):
        score = sum(idf[w] for w in wanted & stems) / total
        if counted is not None and counted.search(text):
            score += COUNT_BONUS  # "How many people worked there?": "we had 37,000 employees" counts them
        if score and ((wants_number and _NUMBER.search(text)) or (wants_name and _NAME.search(text))):
            score += 0.1
        scores.append(score)
    return scores


def blend(lexical: Sequence[float], cosine: Sequence[float], weight: float = 0.5) -> list[float]:
    """``(1 - weight) * lexical + weight * cosine``, unit by unit.

    >>> blend([1.0, 0.0], [0.0, 1.0], 0.25)
    [0.75, 0.25]
    """
    return [(1 - weight) * a + weight * b for a, b in zip(lexical, cosine, strict=True)]


@dataclass(frozen=True, slots=True)
class Evidence:
    """The excerpts for the prompt (in the passages' order) and what was kept."""

    excerpts: tuple[Excerpt, ...]
    tokens: int  # tokens of the kept text
    source_tokens: int  # tokens of the passages' whole text
    kept_units: int
    units: int


Scorer = Callable[[str, Sequence[str]], list[float]]


def select_evidence(question: str, passages: Sequence[Passage], budget_tokens: int, count_tokens: TokenCounter,
                    *, scorer: Scorer = lexical_scores, neighbours: int = 1,
                    min_score: float = 0.0, pinned: Sequence[Excerpt] = ()) -> Evidence:
    """The best units of ``passages`` (scored by ``scorer``) and up to ``neighbours`` units either side of each,
    within ``budget_tokens``; the passages' order is kept and a passage with nothing kept is left out.

    Units a ``pinned`` excerpt touches (what a plan found the question needs, such as an operand's table row) are
    taken first. Then units are taken best first (a unit scoring ``min_score`` or less only when nothing scores
    higher, so the model is never left with nothing); then the neighbours of the taken units, nearest first,
    while they fit. The best unit is always taken, even over the budget.

    >>> a = Passage(id="a", doc_id="d", source="s", text="Ann rows. Ann keeps the light. Bob sells fish.",
    ...             chars=(0, 46))
    >>> b = Passage(id="b", doc_id="d", source="s", text="The bell is old.", chars=(50, 66))
    >>> e = select_evidence("Who keeps the light?", [a, b], 8, lambda t: len(t.split()))
    >>> [x.text() for x in e.excerpts], e.tokens, e.source_tokens
    (['Ann rows. Ann keeps the light.'], 6, 13)
    >>> e = select_evidence("Who keeps the light?", [a, b], 8, lambda t: len(t.split()), pinned=[Excerpt(b, ((0, 3),))])
    >>> [x.text() for x in e.excerpts]
    ['Ann keeps the light.', 'The bell is old.']
    """
    cuts = [units(p) for p in passages]
    flat = [(i, j) for i, spans in enumerate(cuts) for j in range(len(spans))]
    texts = [passages[i].text[slice(*cuts[i][j])] for i, j in flat]
    scores = scorer(question, texts)
    cost = [count_tokens(t) for t in texts]
    order = sorted(range(len(flat)), key=lambda k: (-scores[k], k))
    taken: set[int] = set()
    used = 0
    must = {(e.passage.id, span) for e in pinned for span in e.spans}
    for k, (i, j) in enumerate(flat):  # units a pinned span touches come first, within the budget
        a, b = cuts[i][j]
        if any(pid == passages[i].id and a < y and x < b for pid, (x, y) in must) and \
                used + cost[k] <= budget_tokens:
            taken.add(k)
            used += cost[k]
    for k in order:
        if taken and (scores[k] <= min_score or used + cost[k] > budget_tokens):
            continue
        taken.add(k)
        used += cost[k]
    index = {pair: k for k, pair in enumerate(flat)}
    for distance in range(1, neighbours + 1):
        for k in sorted(taken, key=lambda k: (-scores[k], k)):
            i, j = flat[k]
            for near in (j - distance, j + distance):
                n = index.get((i, near))
                if n is not None and n not in taken and used + cost[n] <= budget_tokens:
                    taken.add(n)
                    used += cost[n]
    excerpts = []
    for i, p in enumerate(passages):
        spans = tuple(cuts[i][j] for j in range(len(cuts[i])) if index[(i, j)] in taken)
        if spans:
            excerpts.append(Excerpt(p, spans))
    return Evidence(tuple(excerpts), used, sum(cost), len(taken), len(flat))
