"""Does the cited evidence answer the question? An evidence check on a checked answer (pure functions).

Questions written to look answerable (SQuAD v2.0) share most of their words with a passage; a small model then
answers them from that passage, and the lexical citation check passes the answer. What gives such a question
away is in the evidence: the passage holds nothing of the kind the question asks for (a date for "when", a
number for "how many", a name for "who"), or the sentence the answer comes from lacks the question's specific
terms (a swapped name or number, an added negation).

:func:`assess_answer` measures that for one answer; :func:`abstain_reason` turns the measures into a decision
with the thresholds of :class:`AnswerabilitySettings` (chosen on tuning articles, bench/answerable.py).

- **Question type** (:func:`question_type`): from the question's wording alone ("when", "what year",
  "how many", "who", ...). A question of no recognised type is not checked for a candidate.
- **Candidate** (:func:`has_candidate`): the answer's own words (those not in the question) hold a value of that
  type, and a cited passage holds it too.
- **Anchor** (:func:`anchor_window`): the sentence of a cited passage that holds most of the answer's own words,
  with its neighbours. The question's key terms (:func:`key_terms`) and specific terms (:func:`specific_terms`:
  names and numbers) are looked up there: a specific term found nowhere near the answer, or a negation the
  anchor does not make, means the passage answers a different question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from generation.context import content_words
from ingest.core.text import sentence_spans, strip_markers

QuestionType = Literal["date", "number", "person", "place", "any"]

# Checked in order: the first match wins ("how many years" asks for a number, "in what year" for a date).
_TYPE_RULES: tuple[tuple[QuestionType, re.Pattern[str]], ...] = (
    ("number", re.compile(r"\bhow (many|much|long|far|old|large|big|high|tall|deep|wide|often|fast)\b|"
                          r"\bwhat (percent|percentage|proportion|fraction|number|amount|share)\b|"
                          r"\b(what|which) (was|is) the (number|population|amount|cost|size)\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\b(until|since|by|from|to) when\b|\bwhen\s*\?\s*$|"
                        r"\b(what|which) (year|years|date|day|month|decade|century|era|period|time)\b|"
                        r"\bwhat time\b", re.I)),
    ("person", re.compile(r"^\s*(who|whom|whose)\b|\b(by|to|for|from|with) (who|whom)\b", re.I)),
    ("place", re.compile(r"^\s*where\b|\b(in|from|to|at) where\b|\b(what|which) (country|city|state|town|region|"
                         r"continent|province|county|island|place|location)\b", re.I)),
)

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_NUMBER_WORDS = frozenset({"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                           "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "hundreds", "thousand",
                           "thousands", "million", "millions", "billion", "billions", "trillion", "dozen", "dozens",
                           "half", "quarter", "third", "once", "twice", "percent", "several", "single", "both"})
_DATE_WORDS = frozenset({*_MONTHS, "century", "centuries", "decade", "decades", "year", "years", "bc", "ad", "bce",
                         "ce", "today", "now", "currently", "present", "ago", "era", "age", "period", "reign",
                         "war", "spring", "summer", "autumn", "fall", "winter"})
_NEGATION = re.compile(r"\b(not|never|no|none|nor|neither|cannot|without|non)\b|n't\b", re.I)
# Words of a question that say what is asked, not what it is about.
_ASKING = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much", "name",
                     "named", "call", "called", "kind", "type", "year", "date", "one", "some", "did", "does", "do",
                     "mean", "term", "word", "refer", "used", "use"})
MIN_SPECIFIC_CHARS = 4  # shorter names and numbers are not looked up (acronyms, small counts)
_PREFIX = 5  # a name matches a word of the passage with the same first letters ("India" for "Indian")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*|\b\d[\d,.]*\b")
_VALUE = re.compile(r"\d")


def question_type(question: str) -> QuestionType:
    """What kind of value the question asks for, from its wording ("any": none recognised).

    >>> [question_type(q) for q in ("When did it open?", "In what year was it built?", "How many ships sank?",
    ...                            "Who designed it?", "Where was he born?", "What is it called when it rains?")]
    ['date', 'date', 'number', 'person', 'place', 'any']
    """
    for kind, pattern in _TYPE_RULES:
        if pattern.search(question):
            return kind
    return "any"


def own_words(answer: str, question: str) -> str:
    """The answer's text without the words it repeats from the question (markers removed), for finding the value
    it gives.

    >>> own_words("The bridge opened in 1932 [1].", "When did the bridge open?")
    'in 1932'
    """
    asked = content_words(question) | {w.lower() for w in re.findall(r"\w+", question)}
    kept = [w for w in re.findall(r"[\w'’.,-]+", strip_markers(answer))
            if w.strip(".,").lower() not in asked and not (content_words(w) and content_words(w) <= asked)]
    return " ".join(w.strip(".,") for w in kept if w.strip(".,"))


def has_candidate(kind: QuestionType, text: str) -> bool:
    """Whether ``text`` (the answer's own words) holds a value of the asked kind.

    >>> has_candidate("date", "in 1932"), has_candidate("date", "in the spring"), has_candidate("date", "by Tesla")
    (True, True, False)
    >>> has_candidate("number", "about forty"), has_candidate("number", "many"), has_candidate("person", "the king")
    (True, False, True)
    >>> has_candidate("person", ""), has_candidate("any", "")
    (False, True)
    """
    if kind == "any":
        return True
    words = {w.lower() for w in re.findall(r"[\w']+", text)}
    if kind == "number":
        return bool(_VALUE.search(text) or words & _NUMBER_WORDS)
    if kind == "date":
        return bool(_VALUE.search(text) or words & _DATE_WORDS)
    # person, place: not checked. Their answers are as often roles and directions ("an architect", "the
    # north": a third of the "who" answers of the tuning articles hold no capitalised name) as names.
    return bool(text.strip())


def key_terms(question: str) -> frozenset[str]:
    """The question's content words less those that only say what is asked (stemmed as
    :func:`generation.context.content_words`).

    >>> sorted(key_terms("In what year did the residents of Baghdad first suffer the plague?"))
    ['baghdad', 'first', 'plagu', 'resident', 'suffer']
    """
    return frozenset(w for w in content_words(question) if w not in _ASKING)


def specific_terms(question: str) -> frozenset[str]:
    """Names and numbers of the question: capitalised words after its first word, and numbers; not short ones
    (acronyms such as "US" or "EU" are as often spelled out in the passage: "the European Union").

    >>> sorted(specific_terms("What did Tesla sell to Westinghouse's sons in the US in 1888?"))
    ['1888', 'tesla', 'westinghouse']
    """
    found = [m.group() for m in _CAPITALISED.finditer(question)]
    first = re.match(r"\s*([\w'’-]+)", question)
    if found and first and found[0] == first.group(1):
        found = found[1:]
    terms = (re.sub(r"['’]s?$", "", t.lower().strip(".,")) for t in found if content_words(t) - _ASKING)
    return frozenset(t for t in terms if len(t) >= MIN_SPECIFIC_CHARS)


def _mentioned(term: str, words: set[str]) -> bool:
    """Whether ``term`` (a name or number) occurs among ``words``, up to its ending.

    >>> _mentioned("indian", {"india", "war"}), _mentioned("1888", {"1889"}), _mentioned("tesla", {"tes"})
    (True, False, False)
    >>> _mentioned("kraków", {"krak", "w"}), _mentioned("kraków", {"warsaw"})
    (True, False)
    """
    if any(ch.isdigit() for ch in term):
        return content_words(term) <= words
    # split as content_words splits (a name with letters outside a-z is looked up by its a-z parts)
    return all(any(w.startswith(part[:_PREFIX]) for w in words if len(w) >= min(len(part), _PREFIX))
               for part in re.findall(r"[a-z0-9]+", term))


def anchor_window(answer_words: frozenset[str], passage: str, *, reach: int = 1) -> str:
    """The sentence of ``passage`` that holds most of ``answer_words``, with ``reach`` sentences either side
    ("" when it shares none of them).

    >>> anchor_window(frozenset({"1932"}), "It is long. The bridge opened in 1932. It is red. Tolls came.")
    'It is long. The bridge opened in 1932. It is red.'
    """
    spans = sentence_spans(passage)
    best, best_i = 0, -1
    for i, (a, b) in enumerate(spans):
        hits = len(answer_words & content_words(passage[a:b]))
        if hits > best:
            best, best_i = hits, i
    if best_i < 0:
        return ""
    lo, hi = max(0, best_i - reach), min(len(spans), best_i + reach + 1)
    return passage[spans[lo][0]: spans[hi - 1][1]]


# Words an answer adds that carry nothing of its own ("As stated, ...", "It was observed that ...").
_REPORTING = frozenset({"stat", "state", "say", "said", "note", "observ", "mention", "accord", "document", "passage",
                        "text", "source", "indicat", "describ", "report", "found", "show", "shown"})
# Questions whose answer may rightly repeat their words: yes/no ("Are both ...?") and a choice ("A or B?").
_REPEATABLE = re.compile(r"^\s*(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|may)\b"
                         r"|\bor\b", re.I)


def echoes(question: str, answer: str) -> bool:
    """Whether ``answer`` only repeats ``question``: none of its own words carries content (a yes/no or "A or
    B" question, whose answer may repeat it, never echoes).

    >>> echoes("What are refineries often called?", "Refineries are often called refineries [1].")
    True
    >>> echoes("How many museums comprise Harvard Art Museums?", "Harvard Art Museums comprise three museums.")
    False
    >>> echoes("Which band formed first, Duran Duran or The Fratellis?", "Duran Duran formed first [1].")
    False
    """
    if _REPEATABLE.search(question):
        return False
    return not content_words(own_words(answer, question)) - _REPORTING


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the evidence says about one answer (see the module's docstring)."""

    kind: QuestionType
    candidate: bool  # the answer's own words hold a value of the asked kind, and a cited passage holds it
    coverage: float  # share of the question's key terms found near the answer in a cited passage (1.0: none)
    missing: tuple[str, ...]  # key terms found near the answer in no cited passage
    missing_specific: tuple[str, ...]  # names and numbers of the question found in no cited passage at all
    negation_unmatched: bool  # the question negates; the sentences near the answer do not
    missing_specific_near: tuple[str, ...] = ()  # names and numbers found near the answer in no cited passage
    echo: bool = False  # the answer only repeats the question (:func:`echoes`)


def assess_answer(question: str, answer: str, passages: Sequence[str], *, headers: Sequence[str] = ()) -> Assessment:
    """Measure how well the cited ``passages`` (their texts) answer ``question`` with ``answer``.

    :param headers: the cited passages' header lines (document title, section path): a name found there counts
        as mentioned around the answer, since a document's own subject is implied in each of its sentences.

    >>> p = "Work began in 1928. The bridge over the bay opened in 1932. It is red."
    >>> a = assess_answer("When did the bridge over the bay open?", "It opened in 1932 [1].", [p])
    >>> a.kind, a.candidate, a.coverage, a.missing, a.negation_unmatched
    ('date', True, 1.0, (), False)
    >>> b = assess_answer("When did the tunnel under the bay not open?", "It opened in 1932 [1].", [p])
    >>> b.missing, b.negation_unmatched
    (('tunnel',), True)
    >>> assess_answer("How many tolls were paid?", "It opened in the spring [1].", [p]).candidate
    False
    """
    kind = question_type(question)
    own = own_words(answer, question)
    own_set = frozenset(content_words(own))
    windows = [anchor_window(own_set, p) or p for p in passages]
    near = set().union(*(content_words(w) for w in windows)) if windows else set()
    everywhere = set().union(*(content_words(p) for p in passages)) if passages else set()
    candidate = has_candidate(kind, own) and (kind == "any" or any(has_candidate(kind, w) for w in windows))
    key = key_terms(question)
    missing = tuple(sorted(key - near))
    coverage = 1.0 - len(missing) / len(key) if key else 1.0
    specific = specific_terms(question)
    titled = set().union(*(content_words(h) for h in headers)) if headers else set()
    negation = bool(_NEGATION.search(question)) and not any(_NEGATION.search(w) for w in windows)
    return Assessment(kind=kind, candidate=candidate, coverage=round(coverage, 4), missing=missing,
                      missing_specific=tuple(sorted(t for t in specific if not _mentioned(t, everywhere | titled))),
                      missing_specific_near=tuple(sorted(t for t in specific if not _mentioned(t, near | titled))),
                      negation_unmatched=negation, echo=echoes(question, answer))


@dataclass(frozen=True, slots=True)
class AnswerabilitySettings:
    """When the evidence check withholds an answer (bench/RESULTS.md, session 9: chosen on the tuning articles of
    bench/answerable.py, less the name rule, see ``specific_terms``); ``enabled=False`` turns the check off.

    :param require_candidate: withhold when a question of a recognised type gets an answer holding no value of
        that type (or one its cited passages do not hold).
    :param min_coverage: withhold when fewer than this share of the question's key terms occur near the answer in
        its cited passages (0: never on coverage alone).
    :param specific_terms: withhold when a name or number of the question occurs in none of the cited passages.
    :param specific_near: ... in none of the sentences around the answer, rather than nowhere in the passages.
    :param negation: withhold when the question negates and the sentences near the answer do not.
    :param echo: withhold an answer that only repeats the question ("Refineries are often called refineries").
    """

    enabled: bool = True
    require_candidate: bool = True
    min_coverage: float = 0.0
    # Off by default: best on the tuning half, but it withholds right answers when the question names the
    # document's own subject and the sentence the answer comes from does not repeat it (bench/RESULTS.md, session 9).
    specific_terms: bool = False
    specific_near: bool = True
    negation: bool = True
    echo: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ValueError(f"min_coverage must lie in [0, 1], got {self.min_coverage}")


def abstain_reason(a: Assessment, s: AnswerabilitySettings) -> str | None:
    """Why the evidence does not answer the question (None: it may).

    >>> a = Assessment("date", candidate=False, coverage=0.5, missing=("tunnel",), missing_specific=(),
    ...                negation_unmatched=False)
    >>> abstain_reason(a, AnswerabilitySettings())
    'the question asks for a date; the answer and its cited passages give none'
    >>> abstain_reason(a, AnswerabilitySettings(require_candidate=False)) is None
    True
    >>> abstain_reason(a, AnswerabilitySettings(require_candidate=False, min_coverage=0.6))
    "only 50% of the question's key terms occur near the answer (missing: tunnel)"
    """
    if not s.enabled:
        return None
    if s.echo and a.echo:
        return "the answer only repeats the question"
    if s.require_candidate and not a.candidate:
        return f"the question asks for a {a.kind}; the answer and its cited passages give none"
    if s.specific_terms and s.specific_near and a.missing_specific_near:
        return f"the cited sentences around the answer do not mention {', '.join(a.missing_specific_near)}"
    if s.specific_terms and a.missing_specific:
        return f"the cited passages never mention {', '.join(a.missing_specific)}"
    if s.negation and a.negation_unmatched:
        return "the question is negated; the cited sentences are not"
    if a.coverage < s.min_coverage:
        return (f"only {a.coverage:.0%} of the question's key terms occur near the answer "
                f"(missing: {', '.join(a.missing)})")
    return None
