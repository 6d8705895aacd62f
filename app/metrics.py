"""Evaluation metrics (pure functions): SQuAD answer scores, retrieval ranks, citation precision/recall.

Answers are compared after SQuAD normalisation (lower case, no punctuation, no articles, single
spaces) with citation markers removed. A passage *holds* an evidence item when it is on the given
PDF page, or when its character / line span covers at least half of the evidence span (or half of
itself, for evidence longer than the passage).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from generation.citations import is_abstention
from ingest.core.records import Passage
from ingest.core.text import strip_markers


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where the answer is: one of ``page`` (1-based), ``chars`` ([start, end) in the document text) or
    ``lines`` (1-based inclusive); ``source`` names the document when a question has several."""

    page: int | None = None
    chars: tuple[int, int] | None = None
    lines: tuple[int, int] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.page, self.chars, self.lines)) != 1:
            raise ValueError("evidence needs exactly one of page, chars, lines")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation.

    >>> normalize_answer("The  Denver Broncos!")
    'denver broncos'
    """
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer.

    >>> exact_match("Denver Broncos [1].", ["Denver Broncos", "Broncos"])
    1.0
    """
    pred = normalize_answer(strip_markers(prediction))
    return float(any(pred == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best bag-of-tokens F1 against the gold answers (SQuAD).

    >>> round(token_f1("The Broncos of Denver [2]", ["Denver Broncos"]), 3)
    0.8
    >>> token_f1("", ["x"])
    0.0
    """
    pred = normalize_answer(strip_markers(prediction)).split()
    best = 0.0
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def contains_gold(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer occurs in the normalised prediction (on word boundaries).

    >>> contains_gold("The game was won by the Denver Broncos [1].", ["Denver Broncos"])
    1.0
    >>> contains_gold("Denverite", ["Denver"])
    0.0
    """
    pred = f" {normalize_answer(strip_markers(prediction))} "
    return float(any(normalize_answer(g) and f" {normalize_answer(g)} " in pred for g in golds))


def abstained(prediction: str) -> bool:
    """The model said the document does not hold the answer.

    >>> abstained("The document does not say."), abstained("1932 [1].")
    (True, False)
    """
    return is_abstention(prediction)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def holds(passage: Passage, evidence: Evidence) -> bool:
    """The passage holds the evidence item (see the module docstring for the rule).

    >>> p = Passage(id="x", doc_id="d", source="a.txt", text="t" * 100, chars=(100, 200), lines=(5, 9), page=2)
    >>> holds(p, Evidence(chars=(150, 160))), holds(p, Evidence(chars=(195, 260))), holds(p, Evidence(page=2))
    (True, False, True)
    >>> holds(p, Evidence(lines=(9, 30))), holds(p, Evidence(lines=(8, 10))), holds(p, Evidence(chars=(0, 1000)))
    (False, True, True)
    """
    if evidence.source is not None and not _same_source(passage.source, evidence.source):
        return False
    if evidence.page is not None:
        return passage.page == evidence.page
    if evidence.chars is not None:
        span, own = evidence.chars, passage.chars
    else:
        if passage.lines is None or evidence.lines is None:
            return False
        span, own = (evidence.lines[0], evidence.lines[1] + 1), (passage.lines[0], passage.lines[1] + 1)
    need = min(span[1] - span[0], own[1] - own[0])
    return need > 0 and _overlap(own, span) * 2 >= need


def _same_source(a: str, b: str) -> bool:
    from pathlib import Path

    return a == b or Path(a).resolve() == Path(b).resolve()


def first_relevant_rank(ranked: Sequence[Passage], evidence: Sequence[Evidence]) -> int | None:
    """1-based rank of the first passage holding any evidence item (None: not in the list).

    >>> ps = [Passage(id=str(i), doc_id="d", source="a", text="", chars=(i * 10, i * 10 + 10)) for i in range(3)]
    >>> first_relevant_rank(ps, [Evidence(chars=(21, 25))]), first_relevant_rank(ps, [Evidence(chars=(90, 95))])
    (3, None)
    """
    for rank, p in enumerate(ranked, 1):
        if any(holds(p, e) for e in evidence):
            return rank
    return None


def citation_precision(cited: Sequence[Passage], evidence: Sequence[Evidence]) -> tuple[int, int]:
    """(cited passages holding some evidence item, cited passages).

    >>> ps = [Passage(id=str(i), doc_id="d", source="a", text="", chars=(i * 10, i * 10 + 10)) for i in range(3)]
    >>> citation_precision(ps[:2], [Evidence(chars=(12, 18))])
    (1, 2)
    """
    return sum(any(holds(p, e) for e in evidence) for p in cited), len(cited)


def citation_recall(cited: Sequence[Passage], evidence: Sequence[Evidence]) -> float:
    """Share of evidence items held by some cited passage (multi-hop questions need every item).

    >>> ps = [Passage(id=str(i), doc_id="d", source="a", text="", chars=(i * 10, i * 10 + 10)) for i in range(3)]
    >>> citation_recall(ps[:1], [Evidence(chars=(2, 8)), Evidence(chars=(22, 28))])
    0.5
    """
    if not evidence:
        return 0.0
    return sum(any(holds(p, e) for p in cited) for e in evidence) / len(evidence)


def mean(xs: Sequence[float]) -> float | None:
    """Arithmetic mean, None for no values.

    >>> mean([1, 0, 1, 0]), mean([])
    (0.5, None)
    """
    return sum(xs) / len(xs) if xs else None
