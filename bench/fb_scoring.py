"""Pure scoring for the FinanceBench benchmark (``bench/financebench.py``): evidence-page ranks, numbers in
answers, numeric match, citation precision/recall. No models, no I/O.

A *location* is ``(filing stem, 1-based page or None)``; a question's gold is its filing stem and the set of
0-based evidence pages (``page0``, pypdf order, which PDFium shares).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

Location = tuple[str, int | None]  # (filing stem, 1-based page)
TOP = 10  # ranks beyond this do not count (MRR@10)

SCALES = {"thousand": 1e3, "thousands": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6,
          "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "trillions": 1e12}
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<open>\()?\s*(?P<minus1>[-−–])?\s*(?P<cur>[$€£])?\s*(?P<minus2>[-−–])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\w,]\d)"
    r"(?P<close>\))?"
    r"(?:\s*(?P<pct>%|percent\b|per\s+cent\b))?"
    r"(?:\s*\(?\s*(?:in\s+)?(?P<scale>thousands?|millions?|billions?|trillions?|bn|mn|[kmb])\b\)?)?",
    re.IGNORECASE)
_MARKER = re.compile(r"\[(\d+(?:\s*[-–,]\s*\d+)*)\]")


@dataclass(frozen=True, slots=True)
class Number:
    """A number as written: its value, whether it is a percent, and its scale word (1.0 when none)."""

    value: float
    percent: bool = False
    scale: float = 1.0
    places: int | None = field(default=None, compare=False, repr=False)  # decimals a gold prints ("3.1%": 1)

    def magnitudes(self) -> set[float]:
        """Absolute values this number may stand for: as written, with its scale applied, and in millions
        (financial tables' unit) when it is scaled or at least a million.

        >>> sorted(Number(5.409, scale=1e9).magnitudes())
        [5.409, 5409.0, 5409000000.0]
        >>> sorted(Number(400_000_000.0).magnitudes())
        [400.0, 400000000.0]
        >>> sorted(Number(-24.26).magnitudes())
        [24.26]
        """
        written = abs(self.value)
        absolute = written * self.scale
        out = {written, absolute}
        if self.scale > 1 or absolute >= 1e6:
            out.add(absolute / 1e6)
        return out


def numbers_in(text: str) -> list[Number]:
    """Every number in ``text`` (citation markers, and digits glued to letters such as FY2019 or Q2, skipped).

    Handles ``$5,409.00``, ``1.9%``, ``-$473 million``, ``(473)`` (accounting negative), ``$2.5bn``, ``24.26``,
    ``1,577 (in millions)``.

    >>> numbers_in("Revenue was $5,409.00 (in millions) in FY2019 [1].")
    [Number(value=5409.0, percent=False, scale=1000000.0)]
    >>> numbers_in("Margin fell to -1.9% from (2.5)%; debt down $2.5bn, 10 percent.")
    [Number(value=-1.9, percent=True, scale=1.0), Number(value=-2.5, percent=True, scale=1.0), \
Number(value=2.5, percent=False, scale=1000000000.0), Number(value=10.0, percent=True, scale=1.0)]
    >>> numbers_in("Q2 FY2024 and 10-K")
    [Number(value=10.0, percent=False, scale=1.0)]
    """
    text = _MARKER.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        value = float(m["num"].replace(",", ""))
        negative = bool(m["minus1"] or m["minus2"]) or bool(m["open"] and m["close"])
        word = (m["scale"] or "").lower()
        if len(word) == 1 and not (m["cur"] and m.end("num") == m.start("scale")):
            word = ""  # a lone letter scales only when glued to a currency amount: $5M, $2.5B
        scale = SCALES.get(word, 1.0)
        out.append(Number(-value if negative else value, percent=bool(m["pct"]), scale=scale))
    return out


def gold_number(answer: str) -> Number | None:
    """The gold number of an answer that *is* a number (possibly followed by words): ``"24.26"``, ``"1.9%"``,
    ``"$5409.00"``, ``"36%. The answer here assumes ..."``, ``"$400,000,000 increase."``; None for an answer
    that starts with words (``"Yes, ... 42%"``): those are scored by reading, not by numeric match.

    >>> gold_number("$5409.00"), gold_number("1.9%").percent, gold_number("Yes, a decline of ~42%.")
    (Number(value=5409.0, percent=False, scale=1.0), True, None)
    >>> gold_number("-$473 million").value
    -473.0
    """
    stripped = answer.strip()
    m = _NUMBER.match(stripped)
    if not m or not m["num"]:
        return None
    found = numbers_in(stripped[:m.end()])
    places = len(m["num"].partition(".")[2])
    return replace(found[0], places=places) if found else None


def _close(a: float, b: float, tolerance: float, places: int | None = None) -> bool:
    """Within ``tolerance`` (relative) of ``b``, or equal to it at the ``places`` it is printed with (a gold of
    "3.1%" is 3.06% rounded)."""
    if places is not None and abs(a - b) <= 0.5 * 10 ** -places + 1e-9:
        return True
    return a == b if b == 0 else abs(a - b) <= tolerance * abs(b)


def numeric_match(prediction: str, gold: Number, *, tolerance: float = 0.01) -> bool:
    """Some number in ``prediction`` is within ``tolerance`` (relative) of the gold number.

    Magnitudes are compared (a loss written "a decrease of $473 million" matches gold -473); scale words are
    applied (``$5.409 billion`` matches gold ``5409`` in millions). Percent vs fraction: a gold percent ``1.9%``
    matches ``1.9``, ``1.9%`` and the fraction ``0.019``; a gold ratio ``0.66`` matches ``0.66`` and ``66%``.

    >>> numeric_match("The ratio is 24.3 [1].", gold_number("24.26"))
    True
    >>> numeric_match("It grew 0.019 year over year.", gold_number("1.9%")), numeric_match("66%", gold_number("0.66"))
    (True, True)
    >>> numeric_match("$5.409 billion", gold_number("$5409.00")), numeric_match("$5.5 billion", gold_number("$5409"))
    (True, False)
    >>> numeric_match("No figure given.", gold_number("1.9%"))
    False

    A gold printed with fewer decimals is matched at its precision: "3.06%" is the gold "3.1%" rounded.

    >>> numeric_match("3.06%", gold_number("3.1% (capex / net sales)")), numeric_match("3.2%", gold_number("3.1%"))
    (True, False)
    """
    targets = gold.magnitudes()
    for n in numbers_in(prediction):
        candidates = set(n.magnitudes())
        if gold.percent and not n.percent:
            candidates |= {abs(n.value) * 100}
        if not gold.percent and n.percent:
            candidates |= {abs(n.value) / 100}
        if any(_close(c, t, tolerance, gold.places if t == abs(gold.value) else None)
               for c in candidates for t in targets):
            return True
    return False


def is_evidence(loc: Location, gold_doc: str, gold_pages0: Sequence[int]) -> bool:
    """The location is an evidence page of the gold filing.

    >>> is_evidence(("ADOBE_2016_10K", 62), "ADOBE_2016_10K", [61]), is_evidence(("ADOBE_2016_10K", 61), "X", [61])
    (True, False)
    """
    return loc[0] == gold_doc and loc[1] is not None and loc[1] - 1 in gold_pages0


def first_hit(ranked: Sequence[Location], gold_doc: str, gold_pages0: Sequence[int], *, top: int = TOP) -> int | None:
    """1-based rank of the first retrieved location on an evidence page, within the first ``top``.

    >>> first_hit([("A", 3), ("B", 5), ("A", 5)], "A", [4]), first_hit([("A", 3)], "A", [4])
    (3, None)
    """
    for rank, loc in enumerate(ranked[:top], 1):
        if is_evidence(loc, gold_doc, gold_pages0):
            return rank
    return None


def retrieval_summary(ranks: Sequence[int | None], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float | int]:
    """hit@k and MRR@10 over questions' first-hit ranks.

    >>> retrieval_summary([1, 3, None, 7])
    {'questions': 4, 'hit@1': 0.25, 'hit@5': 0.5, 'hit@10': 0.75, 'mrr': 0.369047619047619}
    """
    n = len(ranks)
    out: dict[str, float | int] = {"questions": n}
    for k in ks:
        out[f"hit@{k}"] = sum(r is not None and r <= k for r in ranks) / n if n else 0.0
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None and r <= TOP) / n if n else 0.0
    return out


def citation_scores(cited: Sequence[Location], gold_doc: str, gold_pages0: Sequence[int]) -> tuple[int, int, bool]:
    """(cited locations on an evidence page, cited locations, some evidence page is cited).

    >>> citation_scores([("A", 5), ("A", 9), ("B", 5)], "A", [4])
    (1, 3, True)
    """
    hits = sum(is_evidence(c, gold_doc, gold_pages0) for c in cited)
    return hits, len(cited), hits > 0


def cited_numbers(text: str, n_passages: int) -> list[int]:
    """1-based passage numbers cited as ``[n]``, ``[n, m]`` or ``[n-m]`` in ``text`` (in range, first use order).

    >>> cited_numbers("A [2]. B [1, 3] and [2-4] [9].", 4)
    [2, 1, 3, 4]
    """
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"\s*,\s*", m[1]):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part)]
            for n in range(bounds[0], bounds[-1] + 1):
                if 1 <= n <= n_passages and n not in out:
                    out.append(n)
    return out
