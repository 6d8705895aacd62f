"""Numbers an answer states, checked against where its cited passages print them (pure functions).

A number copied from the right passage can still be the wrong number: a cell of another row ("6,146" read from
"Unit counts at period end" for a question about employees), or of another year's column. The citation check
cannot see this, since the number *is* printed in the passage. For each number an answer sentence states,
:func:`check_sentence` finds where its cited passages print it: a table cell (the passage's
:class:`~ingest.core.tables.Table` record: the cell's row name and its column's year) or a sentence of prose.
Then:

- **what the number measures**: the answer's words around the number (:func:`measure_words`: "employees",
  "revenue"; names, period words and scale words left out) must share a word with the row's name, the section
  above it or the table's caption and column header (a results table's rows name systems, its columns the
  measures), or in prose with what the passage says the number counts (the words right after it; prose that
  says nothing there contradicts nothing). A domain may know more (a :data:`LabelMatcher`: a filing's
  "revenue" is printed as "Net sales"); it is asked first.
- **when**: a year the sentence names must be the cell's column year (a fiscal year ending in the first quarter
  of a calendar year may be labelled by either year).

A number printed in several places agrees when any of them agrees; a number the passages do not print, a year,
or a small count gets no verdict (the citation check judges the sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from generation.table_cells import table_rows
from generation.verify import claim_words, split_claims
from ingest.core.amounts import DIGITS, SCALES, scale_name
from ingest.core.periods import MONTHS, STANDALONE_YEAR, YEAR, years_named
from ingest.core.records import Passage
from ingest.core.text import strip_markers

#: A domain's opinion of whether the answer's words around a number (``window``) name what a row ``label`` (or a
#: printed sentence) holds: True (they do), False (they name something else), None (no opinion: the word overlap
#: decides).
LabelMatcher = Callable[[str, str], bool | None]

_NUMBER = re.compile(rf"(?<![\w.,])(?P<cur>\$\s*)?(?P<num>{DIGITS})(?![\w]|[.,]\d)\s*(?P<pct>%|percent\b)?\s*"
                     r"(?P<scale>thousand|million|billion|trillion|bn|mm|[mbk])?\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
WINDOW = 6  # words either side of a number that say what it measures
# Words that say nothing of what a number measures: function words, periods, scale and currency words.
_NOT_A_MEASURE = frozenset(
    """a an the and or of in on at to for from by with as is are was were be been being has have had its it this
    that these those their there which who whom whose what when where how than then about approximately around
    nearly roughly some over under up down more less most least per each every all any both total net company
    companys year years yearly fiscal fy quarter quarters quarterly month months ended ending end period periods
    date as-of day days week weeks annual annually reported report reports reporting stated states state amount
    amounts figure figures number numbers value values respectively compared increase increased decrease
    decreased grew rose fell declined change changed was approximately usd dollars dollar us thousand thousands
    million millions billion billions trillion trillions percent percentage rate first second third fourth
    full prior previous current same during while also point points times basis bps""".split()) | frozenset(MONTHS)  # noqa: SIM905


def _stem(word: str) -> str:
    """A crude stem: the plural dropped, then the first five letters; enough to match "employees"/"employee",
    "revenues"/"revenue", "scored"/"score", "counts"/"count".

    >>> [_stem(w) for w in ("Employees", "revenues", "counts", "liabilities", "sales", "taxes", "scored", "unit")]
    ['emplo', 'reven', 'count', 'liabi', 'sale', 'tax', 'score', 'unit']
    """
    w = word.lower().replace("’", "'").removesuffix("'s").rstrip("'")
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return w[:5]


def content_stems(text: str) -> set[str]:
    """The stems of ``text``'s words that can say what a number measures.

    >>> sorted(content_stems("Unit counts at period end"))
    ['count', 'unit']
    """
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in _NOT_A_MEASURE and len(w) > 1}


@dataclass(frozen=True, slots=True)
class StatedNumber:
    """A number an answer sentence states: as written, where, its value in units (scale applied), and the
    sentence's words around it that say what it measures."""

    text: str
    start: int
    end: int
    value: Decimal
    percent: bool
    measure: tuple[str, ...]  # stems of ``terms``
    step: Decimal = Decimal(1)  # the precision it is stated to, in units ("$1.2 billion": 0.1 billion)
    window: str = ""  # the sentence's words around it, as written
    terms: tuple[str, ...] = ()  # the words that say what it measures, as written
    scale: str = ""  # the scale word it is stated with ("million"), "" when none


def stated_numbers(sentence: str) -> list[StatedNumber]:
    """The numbers of an answer sentence worth checking: amounts, counts and percentages; not years, not
    citation markers, not small bare integers (a count of items, a day).

    >>> [(n.text, str(n.value), n.measure) for n in stated_numbers("Walmart had 6,146 units in fiscal 2020 [2].")]
    [('6,146', '6146', ('unit',))]
    >>> [(n.text, str(n.value)) for n in stated_numbers("Revenue was $1.2 billion, up 5% in 3 years.")]
    [('$1.2 billion', '1200000000.0'), ('5%', '5')]
    """
    out = []
    for m in _NUMBER.finditer(sentence):
        num = m.group("num")
        if sentence[max(0, m.start() - 1): m.start()] == "[" or STANDALONE_YEAR.fullmatch(num) and not m.group("cur"):
            continue
        try:
            value = Decimal(num.replace(",", ""))
        except InvalidOperation:
            continue
        pct = bool(m.group("pct"))
        scale = scale_name(m.group("scale") or "")
        if not (pct or m.group("cur") or scale or "," in num or "." in num) and value < 10:
            continue
        factor = SCALES.get(scale, Decimal(1))
        decimals = len(num.split(".")[1]) if "." in num else 0
        text = m.group(0).strip()
        a, b = _window(sentence, m.start(), m.end())
        terms = measure_terms(sentence, m.start(), m.end())
        out.append(StatedNumber(text, m.start(), m.start() + len(text), value * factor, pct,
                                tuple(dict.fromkeys(_stem(w) for w in terms)), factor / Decimal(10) ** decimals,
                                sentence[a:b], tuple(terms), scale))
    return out


def measure_words(sentence: str, start: int, end: int) -> tuple[str, ...]:
    """Stems of :func:`measure_terms` (what the number ``sentence[start:end]`` measures).

    >>> measure_words("Apple had 154,000 full-time employees at the end of 2022.", 10, 17)
    ('full-', 'emplo')
    """
    return tuple(dict.fromkeys(_stem(w) for w in measure_terms(sentence, start, end)))


def measure_terms(sentence: str, start: int, end: int) -> list[str]:
    """The words that say what the number ``sentence[start:end]`` measures: the noun phrase right after it when
    there is one ("6,146 *employees*", "210,000 *people*"), else the lower-case content words within
    :data:`WINDOW` words of it in its clause ("*revenue* was $5 million"). Names (capitalised words) are left
    out, since they say whose, not what.

    >>> measure_terms("Net sales were $5 million in 2020.", 15, 25)
    ['sales']
    """
    def measures(words: list[str]) -> list[str]:
        return [w for w in words if w[0].islower() and w.lower() not in _NOT_A_MEASURE and len(w) > 1]

    a, b = _window(sentence, start, end)
    after = _WORD.findall(sentence[end:b])
    unit: list[str] = []
    for word in after[:2]:  # the noun phrase right after the number ("full-time employees")
        if not measures([word]):
            break
        unit.append(word)
    return unit or measures(_WORD.findall(sentence[a:start]) + after)


def _window(sentence: str, start: int, end: int) -> tuple[int, int]:
    """``[a, b)`` of the :data:`WINDOW` words either side of ``sentence[start:end]``, within its clause."""
    clause_start = max((sentence.rfind(c, 0, start) for c in ";:"), default=-1) + 1
    ends = [i for i in (sentence.find(c, end) for c in ";:") if i >= 0]
    clause_end = min(ends) if ends else len(sentence)
    before = list(_WORD.finditer(sentence, clause_start, start))[-WINDOW:]
    after = list(_WORD.finditer(sentence, end, clause_end))[:WINDOW]
    return (before[0].start() if before else start), (after[-1].end() if after else end)


@dataclass(frozen=True, slots=True)
class Printed:
    """Where a cited passage prints a stated number: the passage, the exact span, and what it is printed as: a
    table cell's row name and column year, or the prose sentence around it."""

    passage: Passage
    start: int
    end: int
    label: str  # the row's name (with its section), or in prose the noun phrase after it ("" when none)
    caption: str = ""  # a table's caption and column header (what its columns measure)
    year: int | None = None
    month: int | None = None
    in_table: bool = False
    scale: str = ""  # in prose, the scale word printed right after the number ("billion"), "" when none


def _same_value(stated: StatedNumber, printed: Decimal, scale: str) -> bool:
    """Whether a value printed in a table (its amounts in ``scale``) is the stated one, to the stated precision.

    >>> n = stated_numbers("Revenue was $6.1 billion.")[0]
    >>> _same_value(n, Decimal(6146), "million"), _same_value(n, Decimal(6246), "million")
    (True, False)
    """
    printed, value = abs(printed), abs(stated.value)
    if printed == value:
        return True
    factor = SCALES.get(scale)
    if factor is None or stated.percent:
        return False
    return abs(printed * factor - value) * 2 <= stated.step


def where_printed(stated: StatedNumber, passage: Passage) -> list[Printed]:
    """Every place ``passage`` prints ``stated``: table cells of equal value (scale allowed for), and prose
    occurrences of its digits (outside table rows). Code is not read: its numbers are literals whose meaning is
    in names and docstrings around them, not in a sentence."""
    out: list[Printed] = []
    if passage.kind == "code":
        return out
    table = passage.table
    if table is not None:
        periods = {p.year: p for p in table.periods}
        for row in table_rows(passage):
            for cell in row.cells:
                if cell.value is not None and cell.percent == stated.percent and \
                        _same_value(stated, cell.value, table.scale):
                    period = periods.get(cell.year) if cell.year is not None else None
                    out.append(Printed(passage, cell.start, cell.end, f"{row.section} {row.label}".strip(),
                                       table.caption, cell.year, period.month if period else None, in_table=True))
    digits = re.escape(re.search(DIGITS, stated.text).group(0))  # type: ignore[union-attr]
    rows = [(r.start, r.end) for r in table.rows] if table is not None else []
    for m in re.finditer(rf"(?<![\d,.]){digits}(?![\d]|[.,]\d)", passage.text):
        if any(a <= m.start() < b for a, b in rows):
            continue
        unit = _unit_after(passage.text, m.end())
        scale = _SCALE_AFTER.match(passage.text, m.end())
        out.append(Printed(passage, m.start(), m.end(), unit, scale=scale_name(scale.group(1)) if scale else ""))
    return out


_SCALE_AFTER = re.compile(r"\s*(thousand|million|billion|trillion)\b", re.IGNORECASE)


def _scale_agrees(stated: StatedNumber, printed: Printed) -> bool:
    """Whether prose prints the stated digits at the stated scale ("1.1 million" is not "1.1 billion"); a number
    printed or stated without a scale word agrees."""
    return not stated.scale or not printed.scale or stated.scale == printed.scale


_GENERIC = re.compile(r"\s+(?:people|persons|individuals)\b", re.IGNORECASE)  # says who, not which of them


def _unit_after(text: str, end: int) -> str:
    """The noun phrase a passage prints right after a number ("6,146 *stores*"), "" when none (a scale word, a
    unit word or punctuation first): what prose says the number counts.

    >>> _unit_after("We operate 6,146 stores worldwide.", 17), _unit_after("It returned 11.", 14)
    ('stores worldwide', '')
    >>> _unit_after("We employed 221,000 people as full-time employees.", 19)  # people: any kind of them
    ''
    """
    if _GENERIC.match(text, end):
        return ""
    words: list[tuple[str, int]] = []
    for m in _WORD.finditer(text, end, min(len(text), end + 40)):
        between = text[end if not words else words[-1][1]:m.start()]
        word = m.group()
        if between.strip() or not word[0].islower() or word.lower() in _NOT_A_MEASURE or len(word) < 2:
            break
        words.append((word, m.end()))
        if len(words) == 2:
            break
    return " ".join(w for w, _ in words)


@dataclass(frozen=True, slots=True)
class NumberVerdict:
    """A stated number and whether where it is printed agrees with what the sentence says of it."""

    number: StatedNumber
    agrees: bool
    reason: str  # why not, e.g. "printed in row 'Unit counts at period end', not as employee"
    printed: Printed | None = None


def _label_agrees(stated: StatedNumber, printed: Printed, matcher: LabelMatcher | None) -> bool:
    if not printed.in_table and not printed.label:
        return True  # prose printing the number without saying what it counts: nothing to contradict
    if matcher is not None:
        opinion = matcher(stated.window, printed.label)
        if opinion is not None:
            return opinion
    return not stated.measure or bool(set(stated.measure) & content_stems(f"{printed.label} {printed.caption}"))


def _year_agrees(years: Sequence[int], printed: Printed) -> bool:
    if len(years) != 1 or printed.year is None:
        return True
    year = years[0]
    return year == printed.year or (printed.month is not None and printed.month <= 3 and year == printed.year - 1)


_SEGMENT = re.compile(r"\b([A-Z][\w&'’-]*(?:\s+[A-Z][\w&'’-]*)*|[a-z]+)\s+(?:business\s+)?segments?\b")
_NOT_A_PART = frozenset({"each", "our", "its", "their", "the", "a", "reportable", "operating", "business", "all",
                         "by", "total", "other", "two", "three", "four", "five", "six", "both", "these", "those",
                         "of", "per", "and"})


def part_printed(printed: Printed) -> str | None:
    """The segment a table cell belongs to, when its table says ("our Domestic segment stores", a section
    "International segment"), else None.

    >>> t = Printed(Passage(id="a", doc_id="d", source="r", text="", chars=(0, 0)), 0, 1, "Total stores",
    ...             "The following table reconciles our Domestic segment stores open", in_table=True)
    >>> part_printed(t)
    'Domestic'
    >>> part_printed(Printed(t.passage, 0, 1, "Revenue", "Net sales by reportable segment", in_table=True)) is None
    True
    """
    if not printed.in_table:
        return None
    for m in _SEGMENT.finditer(f"{printed.caption} {printed.label}"):
        words = [w for w in m.group(1).split() if w.lower() not in _NOT_A_PART]
        if words:
            return " ".join(words)
    return None


def _part_agrees(sentence: str, printed: Printed) -> bool:
    """Whether a sentence stating a number names the segment whose table prints it (a company's figure is not
    one segment's: "1,026 stores" read from the Domestic segment's table)."""
    part = part_printed(printed)
    return part is None or all(w.lower() in sentence.lower() for w in part.split())


def check_number(stated: StatedNumber, years: Sequence[int], passages: Sequence[Passage],
                 matcher: LabelMatcher | None = None, sentence: str = "") -> NumberVerdict | None:
    """The verdict on one stated number over the cited ``passages`` (None: they do not print it); with the
    ``sentence`` stating it, a cell of one segment's table must be said to be that segment's."""
    places = [p for passage in passages for p in where_printed(stated, passage)]
    if not places:
        return None
    for place in places:
        if _label_agrees(stated, place, matcher) and (not place.in_table or _year_agrees(years, place)) \
                and (not sentence or _part_agrees(sentence, place)) and _scale_agrees(stated, place):
            return NumberVerdict(stated, True, "", place)
    place = places[0]
    if not _scale_agrees(stated, place):
        printed = place.passage.text[place.start:place.end]
        return NumberVerdict(stated, False, f"{stated.text} is printed as {printed} {place.scale}", place)
    what = " ".join(stated.terms)
    if not _label_agrees(stated, place, matcher):
        where = f"in row '{place.label}'" if place.in_table else f"as '{place.label}'"
        return NumberVerdict(stated, False, f"{stated.text} is printed {where}, not as {what}", place)
    if place.in_table and not _year_agrees(years, place):
        return NumberVerdict(stated, False, f"{stated.text} is printed in the {place.year} column, not for "
                                            f"{years[0]}", place)
    return NumberVerdict(stated, False, f"{stated.text} is printed in the {part_printed(place)} segment's table, "
                                        "not as the company's", place)


def check_sentence(sentence: str, passages: Sequence[Passage],
                   matcher: LabelMatcher | None = None) -> list[NumberVerdict]:
    """Verdicts on the numbers one answer sentence states, against the passages it cites.

    >>> p = Passage(id="a", doc_id="d", source="r.txt", text="We had 6,146 stores and 2.2 million associates.",
    ...             chars=(0, 47))
    >>> [(v.number.text, v.agrees) for v in check_sentence("The company had 6,146 employees [1].", [p])]
    [('6,146', False)]
    >>> [(v.number.text, v.agrees) for v in check_sentence("It had 6,146 stores [1].", [p])]
    [('6,146', True)]
    >>> from ingest.core.tables import Period, Table, TableCell, TableRow
    >>> seg = Table("Our Domestic segment stores open at the end of each year | 2019", (Period("2019", 2019),),
    ...             (TableRow("Total stores", (TableCell("1,026", 13, 18, Decimal(1026)),), 0, 18),))
    >>> q = Passage(id="s", doc_id="d", source="r.pdf", kind="table", text="Total stores 1,026", chars=(0, 18),
    ...             table=seg)
    >>> [(v.agrees, v.reason) for v in check_sentence("It had 1,026 stores in 2019 [1].", [q])]
    [(False, "1,026 is printed in the Domestic segment's table, not as the company's")]
    >>> [v.agrees for v in check_sentence("Its Domestic segment had 1,026 stores in 2019 [1].", [q])]
    [True]
    >>> b = Passage(id="b", doc_id="d", source="r.txt", text="Cloud revenue was $1.1 billion.", chars=(0, 31))
    >>> [(v.agrees, v.reason) for v in check_sentence("It had 1.1 million cloud subscribers [1].", [b])]
    [(False, '1.1 million is printed as 1.1 billion')]
    """
    years = years_named(sentence)
    return [v for n in stated_numbers(sentence)
            if (v := check_number(n, years, passages, matcher, sentence)) is not None]


@dataclass(frozen=True, slots=True)
class NumbersChecked:
    """An answer after the number check: its text without the sentences whose numbers disagree ("" when no
    factual sentence is left), how many numbers were checked, and each withheld sentence with its reasons."""

    text: str
    checked: int
    withheld: tuple[tuple[str, tuple[str, ...]], ...]


def withhold_wrong_numbers(answer: str, cited: Callable[[int], Passage | None],
                           matcher: LabelMatcher | None = None) -> NumbersChecked:
    """``answer`` without its sentences stating a number that their cited passages (``cited(n)`` for a marker
    ``[n]``) print as something else.

    >>> p = Passage(id="a", doc_id="d", source="r.txt", text="We run 6,146 stores.", chars=(0, 20))
    >>> r = withhold_wrong_numbers("It has 6,146 employees [1]. It is big [1].", lambda n: p)
    >>> r.text, r.checked, r.withheld[0][0]
    ('It is big [1].', 1, 'It has 6,146 employees.')
    """
    kept: list[str] = []
    withheld: list[tuple[str, tuple[str, ...]]] = []
    checked = 0
    for claim in split_claims(answer):
        passages = [p for n in claim.numbers if (p := cited(n)) is not None]
        verdicts = check_sentence(claim.text, passages, matcher) if passages else []
        checked += len(verdicts)
        wrong = tuple(v.reason for v in verdicts if not v.agrees)
        if wrong:
            withheld.append((claim.text, wrong))
        else:
            kept.append(answer[claim.start:claim.end])
    if not withheld:
        return NumbersChecked(answer, checked, ())
    text = "".join(kept).strip()
    if not any(claim_words(c.text) for c in split_claims(text)):
        text = ""
    return NumbersChecked(text, checked, tuple(withheld))


# ------------------------------------------------------------------------------------------ what is counted

_HOW_MANY = re.compile(r"\bhow many\s+(?P<what>[\w'’-]+(?:\s+[\w'’-]+){0,3}?)(?:\s*\((?P<also>[\w\s'’-]+)\))?"
                       r"(?=\s+(?:did|does|do|were|was|are|is|has|have|had|will|would|could|can|in|at|of|for|"
                       r"on|during|as|were)\b|\s*[?,.(])", re.IGNORECASE)
#: Words one count may be written as: an answer counting "people" counts the question's "employees".
_SAME_COUNT: tuple[frozenset[str], ...] = (
    frozenset({"employee", "associate", "people", "person", "worker", "staff", "headcount", "team", "member",
               "resident", "inhabitant", "citizen", "individual"}),
    frozenset({"store", "location", "warehouse", "outlet", "restaurant", "branch", "club", "unit", "shop"}),
    frozenset({"share", "stock"}),
)


_AUX = frozenset({"were", "was", "are", "is", "did", "do", "does", "have", "has", "had", "will", "would", "can",
                  "could"})
_NOT_NOUNS = _AUX | {"of", "the", "more", "other", "total", "different", "major", "new", "in", "at"}


def _singular(word: str) -> str:
    w = word.lower().strip("'’")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
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
    m = _HOW_MANY.search(question)
    if m is None or m.group("what").split()[0].lower() in _AUX:  # "how many were killed": no noun
        return frozenset()
    heads = {_singular(w) for w in m.group("what").split() if w.lower() not in _NOT_NOUNS}
    if m.group("also"):
        heads |= {_singular(w) for w in m.group("also").split()}
    for group in _SAME_COUNT:
        if heads & group:
            heads |= group
    return frozenset(heads)


def counts_something_else(question: str, answer: str) -> str | None:
    """Why an answer to a "how many ...?" question does not answer it (None: it may): it never names the thing
    asked, and its number counts another kind of thing ("How many employees?" answered "it operated 1,355
    stores"). Only the kinds :data:`_SAME_COUNT` knows (people, stores, shares) are told apart.

    >>> counts_something_else("How many workers did it have?", "It operated 1,355 stores [1].")
    'the question counts workers; the answer counts store'
    >>> counts_something_else("How many employees did it have?", "About 116,000 people work there [1].") is None
    True
    >>> counts_something_else("How many warehouses?", "It operated 815 membership warehouses [1].") is None
    True
    >>> counts_something_else("How many students attended?", "About 5,000 [1].") is None
    True
    >>> counts_something_else("How many picks did he throw?", "He threw 17 interceptions [1].") is None
    True
    """
    nouns = counted_nouns(question)
    if not nouns:
        return None
    said = {_singular(w) for w in re.findall(r"[A-Za-z][\w'’-]*", answer)}
    counted = {_singular(m.group(1)) for m in _COUNTED.finditer(strip_markers(answer))
               if m.group(1).lower() not in _NOT_THINGS}
    if said & nouns or not counted:  # a bare number ("5,000 [1].") contradicts nothing
        return None
    asked_kinds = {g for g in _SAME_COUNT if g & nouns}
    counted_kinds = {g for g in _SAME_COUNT if g & counted}
    if not asked_kinds or not counted_kinds or asked_kinds & counted_kinds:
        return None  # only a known kind of count against another ("picks" vs "interceptions" decides nothing)
    what = _HOW_MANY.search(question).group("what")  # type: ignore[union-attr]
    return f"the question counts {what}; the answer counts {', '.join(sorted(counted))}"


#: A number and the plural word that says what it counts ("1,355 stores", "2.1 million members").
_COUNTED = re.compile(rf"(?<![\w.$])(?!{YEAR}\b)\d[\d,]*(?:\.\d+)?\s+(?:(?:million|thousand|billion)\s+)?"
                      r"([A-Za-z][a-z-]*s)\b")
_NOT_THINGS = frozenset({"years", "months", "weeks", "days", "hours", "percent", "times", "points", "dollars",
                         "basis", "cents"})
