"""Pure text helpers shared by several stages: questions, citation markers, passage defanging,
stop words, sentence spans.

Neutral layer (see :mod:`ingest.core.records`): imports no stage.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.core.errors import InputError

#: A citation marker as answers write it: ``[3]``, ``[1, 2]``, ``[1; 3]``, ``[2-4]`` or ``[2–4]`` (en dash).
#: Group 1 holds what is inside the brackets.
CITATION_MARKER = re.compile(r"\[(\s*\d+(?:\s*(?:,|-|–|;)\s*\d+)*\s*)\]")
#: The same marker with the whitespace before it: deleting it leaves no gap before the punctuation.
SPACED_CITATION_MARKER = re.compile(r"\s*" + CITATION_MARKER.pattern)

_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")

#: English function words that say nothing about what a text is about; keyword search and the lexical
#: answer checks each drop these (and a few more of their own, see their modules).
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "did", "do", "does", "for", "from", "had", "has",
    "have", "how", "i", "in", "into", "is", "it", "its", "no", "not", "of", "on", "or", "our", "she", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "was", "we", "were", "what",
    "when", "where", "which", "who", "whom", "why", "with", "you", "your"
})

#: Where a sentence ends: ``.``, ``!`` or ``?`` (plus closing quotes or brackets) before whitespace or the end of
#: the text, or a blank line (together with any spaces before it).
SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)|\s*\n\s*\n")


def check_question(question: str, *, what: str = "question", max_chars: int | None = None) -> str:
    """The stripped question (or query: ``what`` names it in errors).

    >>> check_question("  Who?  ")
    'Who?'
    >>> check_question("x" * 9, what="query", max_chars=4)
    Traceback (most recent call last):
    ingest.core.errors.InputError: query: 9 characters; the limit is 4

    :raises InputError: an empty question, or one longer than ``max_chars``.
    """
    q = (question or "").strip()
    if not q:
        raise InputError(f"{what}: empty {what}")
    if max_chars is not None and len(q) > max_chars:
        raise InputError(f"{what}: {len(q)} characters; the limit is {max_chars}")
    return q


#: Code in an answer: a fenced block (to its closing fence, or the end) or an inline code span. Brackets in code
#: are indexing (``items[1]``, ``a[2-4]``), never citation markers.
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)


def _in_code(text: str) -> Callable[[re.Match[str]], bool]:
    spans = [m.span() for m in _CODE.finditer(text)] if "`" in text else []
    return lambda m: any(a <= m.end() - 1 < b for a, b in spans)


def citation_markers(text: str) -> list[re.Match[str]]:
    """The citation markers (:data:`CITATION_MARKER` matches) of ``text``, those inside code left out.

    >>> [m.group() for m in citation_markers("Use `args[1]` [2], not ```\\nx[3]\\n``` [4-5].")]
    ['[2]', '[4-5]']
    """
    in_code = _in_code(text)
    return [m for m in CITATION_MARKER.finditer(text) if not in_code(m)]


def sub_markers(text: str, repl: Callable[[re.Match[str]], str], *, spaced: bool = False) -> str:
    """``text`` with each citation marker outside code replaced by ``repl(match)`` (with ``spaced``, the match
    holds the whitespace before the marker too: :data:`SPACED_CITATION_MARKER`)."""
    in_code = _in_code(text)
    return (SPACED_CITATION_MARKER if spaced else CITATION_MARKER).sub(
        lambda m: m.group() if in_code(m) else repl(m), text)


def strip_markers(text: str) -> str:
    """``text`` without its citation markers (and the spaces before them), stripped; code keeps its brackets.

    >>> strip_markers("It opened in 1932 [1], [2-3].")
    'It opened in 1932,.'
    >>> strip_markers("It returns `items[1]` [2].")
    'It returns `items[1]`.'
    """
    return sub_markers(text, lambda m: "", spaced=True).strip()


def defang(text: str) -> str:
    """Rewrite bracketed numbers as ``(n)``, so a document quoted in a prompt cannot fake a citation marker or a
    passage identifier. Only single numbers are rewritten (as rank_llm does): ``[1, 2]`` and ``[2-4]`` stay.

    >>> defang("see [3] and [12], not [12a] or [a]")
    'see (3) and (12), not [12a] or [a]'
    """
    return _BRACKETED_NUMBER.sub(r"(\1)", text)


def sentence_spans(text: str, *, ends: re.Pattern[str] = SENTENCE_END) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence of ``text``, without the whitespace before it.

    :param ends: what ends a sentence. A match that is all whitespace (a blank line) separates two
        sentences; any other match is the last part of the sentence before it.

    >>> t = 'It rained. "Really?" Yes.\\n\\nNew para'
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['It rained.', '"Really?"', 'Yes.', 'New para']
    >>> sentence_spans("  \\n\\n "), sentence_spans("Dr. No  \\n\\nEnd.")
    ([], [(0, 3), (4, 6), (10, 14)])
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in ends.finditer(text):
        end = m.start() if m.group().isspace() else m.end()
        sentence = text[start:end]
        if sentence.strip():
            spans.append((start + len(sentence) - len(sentence.lstrip()), end))
        start = m.end()
    rest = text[start:]
    if rest.strip():
        spans.append((start + len(rest) - len(rest.lstrip()), len(text.rstrip())))
    return spans


def line_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each non-empty line of ``text``, without its surrounding spaces (a table's rows).

    >>> line_spans("Cash 5\\n\\n  Debt 2 ")
    [(0, 6), (10, 16)]
    """
    spans, start = [], 0
    for line in text.split("\n"):
        if line.strip():
            lead = len(line) - len(line.lstrip())
            spans.append((start + lead, start + len(line.rstrip())))
        start += len(line) + 1
    return spans


def one_line(text: str, limit: int | None = None) -> str:
    """Whitespace runs made one space, stripped, clipped to ``limit`` characters at a word with "…".

    >>> one_line("  Item 7.\\n  Management's  Discussion ")
    "Item 7. Management's Discussion"
    >>> one_line("Consolidated Statements of Cash Flows", 20)
    'Consolidated…'
    """
    flat = " ".join(text.split())
    if limit is None or len(flat) <= limit:
        return flat
    cut = flat[:max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:·›-") + "…"
