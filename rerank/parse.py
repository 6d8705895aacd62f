"""Parse and repair a generated ranking, after rank_llm (``docs/METHODS.md``, "LLM reranking"): pure functions
that never raise."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# a well-formed reply: only identifiers and separators ("[3] > [1] > [2]")
_WELL_FORMED = re.compile(r"^\s*\[\d+\](\s*>\s*\[\d+\])*\s*$")


@dataclass(frozen=True, slots=True)
class ParsedRanking:
    """A repaired ranking and what was wrong with the reply.

    :param order: a full permutation of ``range(n)``, 0-based, best first.
    :param outcome: ``ok``, ``wrong_format``, ``repetition`` or ``missing`` (first that applies, in that order).
    :param missing: valid ids the reply never named (appended in first-stage order).
    :param dropped: ids dropped as repeated or out of range.
    """

    order: tuple[int, ...]
    outcome: str
    missing: int
    dropped: int


def _ascii_digit(ch: str) -> str:
    """Unicode digits ("３", "٣") as ASCII; anything else unchanged."""
    if ch.isascii():
        return ch
    value = unicodedata.digit(ch, None)
    return str(value) if value is not None else ch


def clean_response(reply: str) -> str:
    """Drop reasoning up to ``</think>``, map Unicode digits to ASCII; keep brackets and ``>``.

    >>> clean_response("<think>[9] first?</think> [３] > [1]")
    '[3] > [1]'
    """
    reply = reply.rsplit("</think>", 1)[-1]
    return "".join(_ascii_digit(ch) for ch in reply).strip()


def parse_ranking(reply: str, n: int) -> ParsedRanking:
    """Repair ``reply`` into a permutation of ``n`` items and classify it.

    Numbers are read in order; repeats and ids outside ``1..n`` are dropped; missing ids are
    appended in their first-stage order.

    >>> p = parse_ranking("[3] > [1] > [3] > [7] > [2]", 5)
    >>> [i + 1 for i in p.order], p.outcome, p.missing, p.dropped
    ([3, 1, 2, 4, 5], 'repetition', 2, 2)
    >>> parse_ranking("[2] > [1] > [3]", 3).outcome
    'ok'
    >>> parse_ranking("Passage 2 is best, then 1.", 3)
    ParsedRanking(order=(1, 0, 2), outcome='wrong_format', missing=1, dropped=0)
    >>> parse_ranking("[2] > [3]", 3).outcome, parse_ranking("[2] > [3] > [9]", 3).outcome
    ('missing', 'missing')
    >>> parse_ranking("", 2).order
    (0, 1)
    """
    text = clean_response(reply)
    ids = [int(token) - 1 for token in re.findall(r"\d+", text)]
    seen = dict.fromkeys(i for i in ids if 0 <= i < n)
    dropped = len(ids) - len(seen)
    missing = [i for i in range(n) if i not in seen]
    if not _WELL_FORMED.match(text):
        outcome = "wrong_format"
    elif len(set(ids)) < len(ids) or len(ids) > n:  # rank_llm's response_analysis: repeats or too many ids
        outcome = "repetition"
    elif missing:
        outcome = "missing"
    else:
        outcome = "ok"
    return ParsedRanking(order=tuple(seen) + tuple(missing), outcome=outcome, missing=len(missing), dropped=dropped)
