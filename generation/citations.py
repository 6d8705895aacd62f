"""Turn ``[n]`` markers in an answer into :class:`Citation` objects (pure functions).

A marker holds numbers, lists and ranges: ``[3]``, ``[1, 2]``, ``[1][2]``, ``[2-4]``, ``[2–4]``. Brackets in
code (```items[1]```, a fenced block) are not markers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from generation.prompt import NOT_FOUND
from ingest.core.records import Citation, Passage
from ingest.core.text import sub_markers

MAX_RANGE = 20  # a range marker ("[2-4]") expands to at most this many numbers; a longer one is read as its ends


def marker_numbers(inner: str) -> list[int]:
    """Numbers inside one marker's brackets, ranges expanded.

    >>> marker_numbers("1, 3-5")
    [1, 3, 4, 5]
    """
    out: list[int] = []
    for part in re.split(r"[,;]", inner):
        bounds = [int(x) for x in re.findall(r"\d+", part)]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= MAX_RANGE:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def parse_citations(answer: str, passages: Sequence[Passage]) -> tuple[str, list[Citation], list[int]]:
    """Resolve markers against the numbered passages.

    Returns the answer with out-of-range numbers removed from its markers, the
    citations in order of first mention (one per passage number), and the
    dropped numbers.

    >>> ps = [Passage(id=f"p{i}", doc_id="d", source="a.pdf", text="t", chars=(0, 1), page=i) for i in (1, 2)]
    >>> text, cites, dropped = parse_citations("Yes [2][7]. No [1, 9].", ps)
    >>> text, [(c.number, c.label) for c in cites], dropped
    ('Yes [2]. No [1].', [(2, 'a.pdf p.2'), (1, 'a.pdf p.1')], [7, 9])
    """
    cited: dict[int, Citation] = {}
    dropped: list[int] = []

    def sub(m: re.Match[str]) -> str:
        kept = []
        for n in marker_numbers(m.group(1)):
            if 1 <= n <= len(passages):
                kept.append(n)
                cited.setdefault(n, Citation(number=n, passage=passages[n - 1]))
            elif n not in dropped:
                dropped.append(n)
        return "[" + ", ".join(str(n) for n in dict.fromkeys(kept)) + "]" if kept else ""

    text = sub_markers(answer, sub)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip()
    return text, list(cited.values()), dropped


def is_abstention(answer: str) -> bool:
    """True when the model said the passages do not hold the answer.

    >>> is_abstention("The document does not say."), is_abstention("It is 5 [1].")
    (True, False)
    """
    norm = re.sub(r"[^a-z ]", "", answer.lower())
    return NOT_FOUND.lower().rstrip(".") in norm or norm.strip().startswith(("the passages do not", "i dont know"))
