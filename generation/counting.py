"""What a "how many ...?" question counts, and the words the same count may be written as (pure functions):
"How many people worked there?" counts employees too. The number check (``generation/number_check.py``) tells
an answer counting another thing apart; the evidence selection (``generation/evidence.py``) keeps the sentence
stating the count.
"""

from __future__ import annotations

import re

HOW_MANY = re.compile(r"\bhow many\s+(?P<what>[\w'’-]+(?:\s+[\w'’-]+){0,3}?)(?:\s*\((?P<also>[\w\s'’-]+)\))?"
                       r"(?=\s+(?:did|does|do|were|was|are|is|has|have|had|will|would|could|can|in|at|of|for|"
                       r"on|during|as|were)\b|\s*[?,.(])", re.IGNORECASE)
#: Words one count may be written as: an answer counting "people" counts the question's "employees".
SAME_COUNT: tuple[frozenset[str], ...] = (
    frozenset({"employee", "associate", "people", "person", "worker", "staff", "headcount", "team", "member",
               "resident", "inhabitant", "citizen", "individual"}),
    frozenset({"store", "location", "warehouse", "outlet", "restaurant", "branch", "club", "unit", "shop"}),
    frozenset({"share", "stock"}),
)


_AUX = frozenset({"were", "was", "are", "is", "did", "do", "does", "have", "has", "had", "will", "would", "can",
                  "could"})
_NOT_NOUNS = _AUX | {"of", "the", "more", "other", "total", "different", "major", "new", "in", "at"}


def singular(word: str) -> str:
    """A word's singular, crudely ("stores": "store", "companies": "company", "class": "class").

    >>> singular("Stores"), singular("companies"), singular("class"), singular("losses"), singular("was")
    ('store', 'company', 'class', 'loss', 'was')
    """
    w = word.lower().strip("'’")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("sses"):  # "losses": "loss"
        return w[:-2]
    return w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w


def counted_nouns(question: str) -> frozenset[str]:
    """The thing a "how many ...?" question counts (the last word before its verb, and a word in parentheses
    after it), with the words the same count may be written as; empty for any other question.

    >>> sorted(counted_nouns("How many associates (employees) did Ulta Beauty have at the end of fiscal 2022?"))[:3]
    ['associate', 'citizen', 'employee']
    >>> sorted(counted_nouns("How many major reportable business segments does it have?"))
    ['business', 'reportable', 'segment']
    >>> counted_nouns("What was revenue in 2023?")
    frozenset()
    """
    m = HOW_MANY.search(question)
    if m is None or m.group("what").split()[0].lower() in _AUX:  # "how many were killed": no noun
        return frozenset()
    heads = {singular(w) for w in m.group("what").split() if w.lower() not in _NOT_NOUNS}
    if m.group("also"):
        heads |= {singular(w) for w in m.group("also").split()}
    for group in SAME_COUNT:
        if heads & group:
            heads |= group
    return frozenset(heads)


def count_pattern(question: str) -> str | None:
    """For a "how many ...?" question, a regular expression (case-insensitive) of a number followed, within two
    words, by the thing it counts or a word for it ("37,000 employees" for "how many people"); None for any other
    question.

    >>> p = re.compile(count_pattern("How many people worked at Acme in 2019?"), re.IGNORECASE)
    >>> bool(p.search("We had approximately 37,000 full-time employees.")), bool(p.search("Sales rose 5%."))
    (True, False)
    >>> count_pattern("What was revenue in 2019?") is None, bool(p.search("Note 11. Employees' Stock Plans"))
    (True, False)
    """
    nouns = counted_nouns(question)
    if not nouns:
        return None
    words = "|".join(sorted((re.escape(n) for n in nouns), key=len, reverse=True))
    return rf"\d[\d,]*(?:\.\d+)?\s+(?:(?:million|thousand)\s+)?(?:[a-z-]+\s+){{0,2}}(?:{words})(?:e?s)?\b"
