"""Check citations after generation: does each cited passage support its sentence? (pure where possible)

Every sentence of an answer is a claim with the ``[n]`` markers written after it. A citation is
kept when the passage holds enough of the claim's content words (a lexical overlap test: numbers,
names and terms of a short, direct answer appear verbatim in the passage that supports it). When
the overlap is borderline and a judge is given (an LLM yes/no check), the judge decides. Unsupported
citations are removed; a factual sentence left without a citation gets the context passage that
supports it best, if one clearly does, or is flagged. For every kept citation the supporting
sentence inside the passage is located and returned as the quote (text and character offsets), for
highlighting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from generation.citations import is_abstention, marker_numbers
from generation.context import content_words
from ingest.core.amounts import NUMBER_WORDS
from ingest.core.protocols import LogitsLLM
from ingest.core.records import Citation, Message, Passage
from ingest.core.text import citation_markers, line_spans, sentence_spans, strip_markers
from ingest.core.yesno import YesNo, ask_yes_no

Judge = Callable[[str, str], bool | None]  # (claim, passage text) -> supported? (None: could not tell)

# Words that answer sentences use whatever they say ("Yes, the document says ..."): not evidence of support.
_GENERIC = frozenset({"yes", "no", "also", "both", "only", "one", "answer", "document", "passage", "text", "say",
                      "says", "said", "mention", "state"})

SUPPORTED = 0.6  # share of a claim's content words found in a passage that counts as support
BORDERLINE = 0.3  # below this a citation is removed without asking the judge


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence of an answer and the passage numbers cited for it."""

    text: str  # the sentence without its markers
    start: int  # [start, end) of the sentence, markers included, in the answer text
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Verification:
    """The answer after the citation check."""

    text: str  # the answer with unsupported markers removed and repairs added
    citations: tuple[Citation, ...]  # in order of first mention, each with its quote and verdict
    removed: tuple[tuple[int, int], ...] = ()  # (claim index, passage number) citations taken out
    added: tuple[tuple[int, int], ...] = ()  # (claim index, passage number) citations put in
    flagged: tuple[str, ...] = ()  # factual sentences no passage was found to support
    judge_calls: int = 0
    factual: int = 0  # sentences that state something (content words, not an abstention)
    supported: int = 0  # factual sentences left with at least one supporting citation

    @property
    def unsupported(self) -> bool:
        """The answer states facts and no passage supports any of them (a likely answer from outside the context)."""
        return self.factual > 0 and self.supported == 0


def withhold_unsupported(v: Verification, not_found: str) -> Verification:
    """``v`` unless it is :attr:`~Verification.unsupported`; then an abstention (``not_found``) without citations,
    its flagged sentences kept for the notes.

    >>> withhold_unsupported(Verification(text="Paris.", citations=(), flagged=("Paris.",), factual=1), "No.").text
    'No.'
    >>> withhold_unsupported(Verification(text="Paris [1].", citations=(), factual=1, supported=1), "No.").text
    'Paris [1].'
    """
    return replace(v, text=not_found, citations=()) if v.unsupported else v


# A marker as the model may write it: any digits, commas, semicolons, dashes and spaces in brackets. Looser than
# CITATION_MARKER (which reads the numbers), because here it only has to tell where a sentence's markers end.
_ANY_MARKER = r"\[\s*\d[\d\s,;\-–]*\]"
# Where a sentence of an answer ends, for ingest.core.text.sentence_spans. It differs from SENTENCE_END (for
# passages) in three ways: markers written after the full stop ("long.[2] [3]") belong to the sentence before
# them; "]" does not close a sentence, since in an answer it closes a marker; spaces before a blank line stay
# in the sentence, so rewriting the sentence drops them.
# A full stop after a lone capital letter is an initial or part of an abbreviation ("Mary N. Dillon", "the U.S.
# market"), not a sentence's end, so the check never puts a marker inside a name.
_ANSWER_SENTENCE_END = re.compile(rf"(?:(?<![\s.(][A-Z])(?<!^[A-Z])\.|[!?])[\"')]*(?:\s*{_ANY_MARKER})*(?=\s|$)"
                                  r"|\n\s*\n")


def split_claims(answer: str) -> list[Claim]:
    """Sentences of ``answer`` with their citation markers (markers opening a sentence belong to the one before).

    >>> [(c.text, c.numbers) for c in split_claims("It opened in 1932 [1]. It is long.[2, 3] [4] Red.")]
    [('It opened in 1932.', (1,)), ('It is long.', (2, 3, 4)), ('Red.', ())]
    >>> [c.text for c in split_claims("Mary N. Dillon leads it [1]. It sells in the U.S. and Canada. Plan B.")]
    ['Mary N. Dillon leads it.', 'It sells in the U.S. and Canada.', 'Plan B.']
    """
    claims: list[Claim] = []
    for a, b in sentence_spans(answer, ends=_ANSWER_SENTENCE_END):
        chunk = answer[a:b]
        lead = re.match(rf"(?:\s*{_ANY_MARKER})+", chunk)
        if lead and claims:
            prev = claims[-1]
            claims[-1] = replace(prev, end=a + lead.end(), numbers=_dedupe(prev.numbers + _numbers(lead.group())))
            a += lead.end()
            chunk = answer[a:b]
            if not chunk.strip():
                continue
        text = strip_markers(chunk)
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        claims.append(Claim(text=text, start=a, end=b, numbers=_numbers(chunk)))
    return claims


def _numbers(s: str) -> tuple[int, ...]:
    return _dedupe(tuple(n for m in citation_markers(s) for n in marker_numbers(m.group(1))))


def _dedupe(xs: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(xs))


def claim_words(claim: str) -> set[str]:
    """Content words a supporting passage must hold (generic answer words left out).

    >>> sorted(claim_words("Yes, the Denver Broncos won it."))
    ['bronco', 'denver', 'won']
    """
    return {w for w in content_words(claim) if w not in _GENERIC}


#: A small number spelled out is its digits ("lease three of these facilities" supports "3 leased").
# as content words stem them ("three": "thre")
_NUMERALS = {stem: str(n) for n, w in enumerate(NUMBER_WORDS) for stem in content_words(w)}


def support_score(claim: str, passage: str) -> float:
    """Share of the claim's content words that occur in the passage (1.0 for a claim with none), a small number
    spelled out counting as its digits.

    >>> support_score("The bridge opened in 1932.", "Work ended and the bridge was opened in 1932.")
    1.0
    >>> round(support_score("The bridge opened in 1941.", "Work ended and the bridge was opened in 1932."), 2)
    0.33
    >>> support_score("There are 3 plants.", "It runs three plants.")
    1.0
    """
    words = {_NUMERALS.get(w, w) for w in claim_words(claim)}
    if not words:
        return 1.0
    found = words & {_NUMERALS.get(w, w) for w in content_words(passage)}
    share = len(found) / len(words)
    numbers = {w for w in words if any(ch.isdigit() for ch in w)}
    return share / 2 if numbers - found else share  # a wrong number or date is not support


def locate_quote(claim: str, passage: str, *, rows: bool = False) -> tuple[int, int] | None:
    """``[start, end)`` of the sentence of ``passage`` (with ``rows``, the line: a table's row) that shares most
    content words and numbers with ``claim``.

    >>> t = "It is long. The bridge opened in 1932. It is red."
    >>> a, b = locate_quote("It opened in 1932.", t); t[a:b]
    'The bridge opened in 1932.'
    >>> locate_quote("Nothing shared", t) is None
    True
    >>> t = "Month | Visitors\\nJuly | 4,410\\nAugust | 4,810"
    >>> a, b = locate_quote("August had 4,810 visitors.", t, rows=True); t[a:b]
    'August | 4,810'
    """
    words = claim_words(claim) or content_words(claim)
    best, span = 0.0, None
    for a, b in (line_spans(passage) if rows else sentence_spans(passage)):
        sentence_words = content_words(passage[a:b])
        hits = len(words & sentence_words)
        score = hits - 0.01 * len(sentence_words)  # ties go to the shorter sentence
        if hits and score > best:
            best, span = score, (a, b)
    return span


def _render(claim: Claim, numbers: Sequence[int]) -> str:
    """The claim's sentence with markers before its final punctuation: ``It opened in 1932 [1].``"""
    text = claim.text
    if not numbers:
        return text
    marker = "[" + ", ".join(str(n) for n in numbers) + "]"
    m = re.search(r"[.!?][\"')\]]*$", text)
    return f"{text[: m.start()]} {marker}{text[m.start():]}" if m else f"{text} {marker}"


def verify_citations(answer: str, passages: Sequence[Passage], *, judge: Judge | None = None,
                     supported: float = SUPPORTED, borderline: float = BORDERLINE, repair: bool = True) -> Verification:
    """Check every sentence's citations against the numbered ``passages`` ([1] is ``passages[0]``).

    :param judge: asked about citations whose overlap lies in ``[borderline, supported)``.
    :param repair: give an uncited (or stripped) factual sentence the passage that best supports it,
        when one reaches ``supported``.

    >>> ps = [Passage(id="a", doc_id="d", source="s.txt", text="The bridge opened in 1932. It is red.", chars=(0, 37)),
    ...       Passage(id="b", doc_id="d", source="s.txt", text="Tolls were cut in 1950.", chars=(40, 63))]
    >>> v = verify_citations("It opened in 1932 [2]. Tolls were cut in 1950 [2].", ps)
    >>> v.text, v.removed, v.added
    ('It opened in 1932 [1]. Tolls were cut in 1950 [2].', ((0, 2),), ((0, 1),))
    >>> [(c.number, c.quote) for c in v.citations]
    [(1, 'The bridge opened in 1932.'), (2, 'Tolls were cut in 1950.')]
    """
    if is_abstention(answer):
        return Verification(text=strip_markers(answer), citations=())
    claims = split_claims(answer)
    kept_numbers: list[list[int]] = []
    removed: list[tuple[int, int]] = []
    added: list[tuple[int, int]] = []
    flagged: list[str] = []
    judge_calls = n_factual = n_supported = 0
    verdicts: dict[int, bool] = {}
    for ci, claim in enumerate(claims):
        keep: list[int] = []
        for n in claim.numbers:
            if not 1 <= n <= len(passages):
                removed.append((ci, n))
                continue
            score = support_score(claim.text, passages[n - 1].text)
            ok = score >= supported
            if not ok and judge is not None and score >= borderline:
                judge_calls += 1
                ok = bool(judge(claim.text, passages[n - 1].text))
            if ok:
                keep.append(n)
                verdicts[n] = True
            else:
                removed.append((ci, n))
        factual = bool(claim_words(claim.text)) and not is_abstention(claim.text)
        n_factual += factual
        if not keep and factual:
            best = _best_support(claim.text, passages) if repair else None
            if best is not None and best >= 0:
                keep.append(best + 1)
                added.append((ci, best + 1))
                verdicts[best + 1] = True
            else:
                flagged.append(claim.text)
        n_supported += factual and bool(keep)
        kept_numbers.append(keep)
    parts: list[str] = []
    cursor = 0
    for claim, numbers in zip(claims, kept_numbers, strict=True):
        parts.append(answer[cursor: claim.start])
        parts.append(_render(claim, numbers))
        cursor = claim.end
    parts.append(answer[cursor:])
    text = "".join(parts).strip()
    citations: dict[int, Citation] = {}
    for claim, numbers in zip(claims, kept_numbers, strict=True):
        for n in numbers:
            if n in citations:
                continue
            p = passages[n - 1]
            span = locate_quote(claim.text, p.text, rows=p.kind == "table")
            citations[n] = Citation(number=n, passage=p, quote=p.text[span[0]: span[1]] if span else None,
                                    quote_chars=span, supported=verdicts.get(n, False))
    return Verification(text=text, citations=tuple(citations.values()), removed=tuple(removed), added=tuple(added),
                        flagged=tuple(flagged), judge_calls=judge_calls, factual=n_factual, supported=n_supported)


def _best_support(claim: str, passages: Sequence[Passage], *, supported: float = SUPPORTED) -> int | None:
    """Index of the one passage that best supports ``claim`` (None when none reaches ``supported``)."""
    scores = [support_score(claim, p.text) for p in passages]
    if not scores or max(scores) < supported:
        return None
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


JUDGE_SYSTEM = "You check whether a passage supports a statement. Reply with one word: Yes or No."


def judge_messages(claim: str, passage: str) -> list[Message]:
    """The yes/no prompt for :func:`llm_judge`.

    >>> judge_messages("It opened in 1932.", "The bridge opened in 1932.")[1].content.splitlines()[-1]
    'Does the passage support the statement? Answer Yes or No.'
    """
    return [Message("system", JUDGE_SYSTEM),
            Message("user", f"Passage: {passage.strip()}\n\nStatement: {claim.strip()}\n\n"
                            "Does the passage support the statement? Answer Yes or No.")]


def llm_judge(llm: LogitsLLM) -> Judge:
    """A :data:`Judge` that compares the model's log-probabilities of "Yes" and "No" (one forward pass each check)."""

    def judge(claim: str, passage: str) -> bool | None:
        return ask_yes_no(llm, judge_messages(claim, passage)).margin > 0

    return judge


ANSWERS_SYSTEM = "You check whether a passage answers a question. Reply with one word: Yes or No."


def answers_messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    """The yes/no prompt of :func:`answers_margin`: the cited passages and the question (not the answer, so
    the model judges the passages rather than agreeing with a fluent draft).

    >>> p = Passage(id="a", doc_id="d", source="s.txt", text="The bridge opened in 1932.", chars=(0, 26))
    >>> print(answers_messages("When did it open?", [p])[1].content)
    Passage: The bridge opened in 1932.
    <BLANKLINE>
    Question: When did it open?
    <BLANKLINE>
    Does the passage answer the question? Answer Yes or No.
    """
    text = "\n\n".join(p.text.strip() for p in passages)
    return [Message("system", ANSWERS_SYSTEM),
            Message("user", f"Passage: {text}\n\nQuestion: {question.strip()}\n\n"
                            "Does the passage answer the question? Answer Yes or No.")]


#: The folded answer check's question, asked after the model's answer in the same conversation.
FOLDED_CHECK = ("Check your answer: do the passages above state it, and does it answer the question? Reply with one "
                "word: Yes or No.")


def folded_messages(messages: Sequence[Message], draft: str) -> list[Message]:
    """The answer's own prompt and answer, then :data:`FOLDED_CHECK`: the check reads only what follows the
    answer, the rest is in the model's cache from the answer call.

    >>> [m.role for m in folded_messages([Message("system", "s"), Message("user", "u")], "Ann [1].")]
    ['system', 'user', 'assistant', 'user']
    """
    return [*messages, Message("assistant", draft.strip()), Message("user", FOLDED_CHECK)]


def folded_margin(llm: LogitsLLM, messages: Sequence[Message], draft: str) -> YesNo:
    """log P(Yes) − log P(No) of :data:`FOLDED_CHECK` after the answer (and the tokens read and reused)."""
    return ask_yes_no(llm, folded_messages(messages, draft))


def answers_margin(llm: LogitsLLM, question: str, passages: Sequence[Passage]) -> tuple[float, int]:
    """log P(Yes) − log P(No) that ``passages`` answer ``question``, from one forward pass of the model,
    and the prompt tokens that pass read.

    Catches the answer the lexical check cannot: a sentence copied from a passage that is about something
    else (bench/RESULTS.md, issue 6: it withholds made-up answers to questions the document does not cover).
    """
    scored = ask_yes_no(llm, answers_messages(question, passages))
    return scored.margin, scored.tokens
