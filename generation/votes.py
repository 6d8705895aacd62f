"""Shareholder vote results, read from the tallies a filing prints (an 8-K's "Submission of Matters to a Vote of
Security Holders"), and the count or share a question asks of one (pure functions).

A tally is a header of columns ("Votes For  Votes Against  Abstentions  Broker Non-Votes", or a frequency vote's
"Votes For 1 Year ... 3 Years") over one line of counts, or over one line per director nominee ("Dona D. Young
53,876,257 6,074,467 ..."). :func:`read_tallies` reads each with what it is a vote on (the proposal's own words
printed above it, or the nominee's name) and where each count is printed; :func:`plan_vote` picks the tally whose
subject the question names and writes the calculation it asks for (a count, or the share of the votes cast for or
against that were for), as the ``OPERAND``/``FORMULA`` block the calculation check reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.core.amounts import NUMBER_WORDS
from ingest.core.records import Passage

#: a column of a tally's header, as printed ("Votes For", "For 3 Years", "Abstentions", "Broker Non-Votes")
_N = r"(?:[1-3]|one|two|three)"
_COLUMN = re.compile(rf"(?:votes?\s+)?for\s+{_N}\s+years?|{_N}\s+years?|(?:votes?\s+)?for\b|"
                     r"(?:votes?\s+)?against\b|withheld\b|abstentions?\b|abstain(?:ed)?\b|broker\s+non-?\s?votes?\b",
                     re.IGNORECASE)
_HEADER_WORDS = re.compile(r"^(?:\s|name(?: of (?:the )?nominee)?|nominees?|director|votes?|for|against|withheld|"
                           r"abstentions?|abstain(?:ed)?|broker|non-?\s?votes?|[1-3]|one|two|three|years?)+$",
                           re.IGNORECASE)
_COUNT = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,]|\.\d)|(?<![\w.,])\d+(?![\w,.])")
_PROPOSAL = re.compile(r"\bproposal\s+(?:no\.\s*)?\d+\b|\bproposals? to\b|\bwith respect to\b|^\s*\(\d+\)",
                       re.IGNORECASE)
SUBJECT_CHARS = 600  # the words above a tally that say what it is a vote on


@dataclass(frozen=True, slots=True)
class Count:
    """One count of a tally: its column ("for", "against", "abstain", "broker", "1 year", "2 years", "3 years"),
    its value, and its exact span in the passage text."""

    column: str
    value: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts of one vote, the passage printing them, and what the vote is on: the proposal's words printed
    above it, and for a director's election the nominee's name."""

    passage: Passage
    subject: str
    counts: tuple[Count, ...]
    nominee: str = ""

    def count(self, column: str) -> Count | None:
        return next((c for c in self.counts if c.column == column), None)


def header_columns(line: str) -> list[str]:
    """The columns a tally's header names, in order, or [] for a line that is not a header.

    >>> header_columns("Votes For Votes Against Abstentions Broker Non-Votes")
    ['for', 'against', 'abstain', 'broker']
    >>> header_columns("Votes For 1 Year Votes For 2 Years Votes For 3 Years Abstentions Broker Non-Votes")
    ['1 year', '2 years', '3 years', 'abstain', 'broker']
    >>> header_columns("Name Votes For Votes Against Abstentions Broker Non-Votes")[:2], header_columns("For the year")
    (['for', 'against'], [])
    """
    if not _HEADER_WORDS.match(line) or not re.search(r"\bfor\b", line, re.IGNORECASE):
        return []
    columns: list[str] = []
    for m in _COLUMN.finditer(line):
        name = column_name(m.group(0))
        if name.endswith(("year", "years")) and columns and columns[-1] == "for":  # "Votes For\n1 Year": one column
            columns.pop()
        columns.append(name)
    return columns


def column_name(printed: str) -> str:
    """A column's name as printed, normalised: "for", "against", "abstain", "broker" or "<n> year(s)".

    >>> [column_name(x) for x in ("Votes For", "Withheld", "Abstentions", "Broker Non-Votes", "For 3 Years",
    ...                           "One Year")]
    ['for', 'against', 'abstain', 'broker', '3 years', '1 year']
    """
    word = printed.lower()
    if m := re.search(rf"({_N})\s+years?", word):
        return _years_column(m.group(1))
    return "broker" if "broker" in word else "abstain" if "abst" in word else \
        "against" if "against" in word or "withheld" in word else "for"


def _years_column(count: str) -> str:
    """The column of a frequency vote, from its count in digits or words ("three": "3 years")."""
    n = count if count.isdigit() else str(NUMBER_WORDS.index(count.lower()))
    return f"{n} year{'s' if n != '1' else ''}"


def _lines(text: str) -> list[tuple[int, str]]:
    out, at = [], 0
    for line in text.split("\n"):
        out.append((at, line))
        at += len(line) + 1
    return out


def read_tallies(passages: Sequence[Passage]) -> list[Tally]:
    """Every tally one filing's ``passages`` (in document order) print, with what each is a vote on.

    Two layouts: a header of columns over a line of counts or one line per nominee (a header that wraps over
    several lines, "Votes For / 1 Year / Votes For / 2 Years ...", is read whole, and rows of nominees that go on
    into the next passage keep it); or one line per column ("For 1,125,448,378", "Against 65,112,424", ...). A
    passage repeating the end of the one before (an overlap) gives no tally twice.
    """
    tallies: list[Tally] = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    columns: list[str] = []
    history = ""  # the text read so far (its end): what the next vote is on

    def add(p: Passage, label: str, counts: list[Count], subject: str) -> None:
        key = (label, tuple(c.value for c in counts))
        if key not in seen and counts:
            seen.add(key)
            tallies.append(Tally(p, _subject(subject), tuple(counts), label))

    for p in passages:
        lines = _lines(p.text)
        header: list[str] = []
        vertical: list[Count] = []
        for at, line in lines:
            text = line.strip()
            joined = " ".join([*header, text])
            if text and _HEADER_WORDS.match(joined) and re.search(r"\bfor\b|\byears?\b|\bagainst\b", joined,
                                                                  re.IGNORECASE):
                header.append(text)
                continue
            if header:
                if found := header_columns(" ".join(header)):
                    columns, subject = found, f"{history}\n{p.text[:at]}"
                header = []
            counts = list(_COUNT.finditer(line))
            if (one := _ONE_COLUMN.match(line)) and len(counts) == 1:  # "Against 65,112,424"
                columns = []
                if not vertical:
                    subject = f"{history}\n{p.text[:at]}"
                vertical.append(Count(column_name(one.group(1)), int(counts[0].group(0).replace(",", "")),
                                      at + counts[0].start(), at + counts[0].end()))
                continue
            if vertical:
                add(p, "", vertical, subject)
                vertical = []
            if columns and counts and len(counts) == len(columns):
                label = line[:counts[0].start()].strip()
                if not label or re.fullmatch(r"[A-Z][\w.,'’ -]+", label):
                    add(p, label, [Count(c, int(m.group(0).replace(",", "")), at + m.start(), at + m.end())
                                   for c, m in zip(columns, counts, strict=True)], subject)
            elif text and not counts and _PROPOSAL.search(line):
                columns = []  # a new proposal's words: the next header is its own
        if vertical:
            add(p, "", vertical, subject)
        history = (history + "\n" + p.text)[-2 * SUBJECT_CHARS:]
    return tallies


_ONE_COLUMN = re.compile(r"^\s*((?:votes?\s+)?(?:for|against|withheld)|abstentions?|abstain(?:ed)?|"
                         rf"broker\s+non-?\s?votes?|(?:votes?\s+for\s+)?{_N}\s+years?)\s+\d", re.IGNORECASE)


def _subject(text: str) -> str:
    """The words above a tally that say what the vote is on: from the last proposal's opening ("Proposal 4.",
    "(2) The shareholders ratified ..."), at most :data:`SUBJECT_CHARS`."""
    text = text[-SUBJECT_CHARS:]
    starts = [m.start() for m in re.finditer(r"\bproposal\s+(?:no\.\s*)?\d+\b|(?m:^\s*\(\d+\))", text,
                                             re.IGNORECASE)]
    return " ".join(text[starts[-1] if starts else 0:].split())


_STOP = frozenset({"the", "a", "an", "of", "to", "for", "on", "in", "at", "and", "or", "as", "its", "by", "with",
                   "was", "were", "is", "are", "be", "how", "many", "what", "which", "did", "votes", "vote", "voted",
                   "cast", "shares",
                   "proposal", "annual", "meeting", "shareholders", "stockholders", "company", "percentage", "share",
                   "against", "favor", "support", "supported", "backed", "that", "this", "held", "fiscal", "year"})


def _words(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP and len(w) > 2}


def asks_votes(question: str) -> bool:
    """Whether a question asks a vote's count or share.

    >>> asks_votes("How many votes were cast in favor of ratifying KPMG?"), asks_votes("Who won the vote?")
    (True, False)
    >>> asks_votes("How many shares were voted in favor of re-electing director Jane Q. Doe?")
    True
    """
    return re.search(r"\bvot(?:e|es|ed|ing)\b", question, re.IGNORECASE) is not None and \
        re.search(r"\bhow many\b|\bpercent(?:age)?\b|\bshare\b|\bproportion\b|\bnumber of\b|\bwhat portion\b",
                  question, re.IGNORECASE) is not None


def column_asked(question: str) -> str:
    """The column a question asks for: a frequency ("every three years": "3 years"), against, abstentions,
    broker non-votes, else the votes for.

    >>> column_asked("How many votes were cast for holding the vote every three years?")
    '3 years'
    >>> column_asked("How many votes against Ms. Young?"), column_asked("How many shares backed the merger?")
    ('against', 'for')
    """
    if m := re.search(r"\bevery\s+(one|two|three|[123])\s+years?\b", question, re.IGNORECASE):
        return _years_column(m.group(1))
    if re.search(r"\bannual(?:ly)?\b.*\b(?:frequency|say[- ]on[- ]pay)\b|\bevery year\b", question, re.IGNORECASE):
        return "1 year"
    for column, pattern in (("against", r"\bagainst\b(?! votes)(?!\s*(?:or|and)\b)"),
                            ("abstain", r"\babstain|\babstention"), ("broker", r"\bbroker")):
        if re.search(pattern, question, re.IGNORECASE) and not _SHARE_OF_CAST.search(question):
            return column
    return "for"


_SHARE_OF_CAST = re.compile(r"\b(?:percent(?:age)?|share|proportion|portion)\b", re.IGNORECASE)


def best_tally(question: str, tallies: Sequence[Tally], column: str) -> Tally | None:
    """The tally whose nominee the question names, else whose proposal words it shares most (at least two),
    among those with the ``column`` asked; None when none stands out."""
    held = [t for t in tallies if t.count(column) is not None]
    named = [t for t in held if t.nominee and all(w.lower() in question.lower() for w in t.nominee.split()
                                                  if len(w) > 2 and not w.endswith("."))]
    if named:
        return named[0] if len(named) == 1 else None
    asked = _words(question)
    scored = sorted(((len(asked & _words(t.subject)), i) for i, t in enumerate(held) if not t.nominee), reverse=True)
    if not scored or scored[0][0] < 2 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return held[scored[0][1]]


@dataclass(frozen=True, slots=True)
class VotePlan:
    """The calculation a vote question asks: operands (name, count) and the formula over them."""

    tally: Tally
    operands: tuple[tuple[str, Count], ...]
    formula: str
    label: str

    def block(self, number: int) -> str:
        """The ``OPERAND``/``FORMULA`` block, each count cited as passage ``[number]``."""
        lines = [f"OPERAND {name} = {self.tally.passage.text[c.start:c.end]} [{number}]" for name, c in self.operands]
        return "\n".join([*lines, f"FORMULA {self.label} = {self.formula}"])


def plan_vote(question: str, tallies: Sequence[Tally]) -> VotePlan | None:
    """The count or share a vote question asks of the tally it names, or None.

    A share ("what percentage of the votes cast for or against backed ...") is of the votes for and against:
    abstentions and broker non-votes are not votes cast.
    """
    if not asks_votes(question):
        return None
    share = _SHARE_OF_CAST.search(question) is not None
    column = "for" if share else column_asked(question)
    tally = best_tally(question, tallies, column)
    if tally is None:
        return None
    if not share:
        count = tally.count(column)
        assert count is not None
        name = f"votes_{column.replace(' ', '_')}"
        return VotePlan(tally, ((name, count),), name, name)
    yes, no = tally.count("for"), tally.count("against")
    if yes is None or no is None:
        return None
    return VotePlan(tally, (("votes_for", yes), ("votes_against", no)), "votes_for / (votes_for + votes_against)",
                    "share_of_votes_cast_for")
