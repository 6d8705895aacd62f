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
  of a calendar year may be labelled by either year), and a period length it names ("the first six months") the
  column's, when the table prints one.
- **a level, not a change**: prose that prints the number as a change ("revenue increased $764 million") does not
  support a sentence stating it as a level ("revenue was $764 million").
- **whose**: given the part of the whole the question asks about (``part``: a segment, a country, a product), a
  sentence naming that part must cite a place that names it too (a row, its section, the table's caption or the
  passage's section path; in prose, the printed sentence): a company total is not Brazil's.

A number printed in several places agrees when any of them agrees; a number the passages do not print, a year,
or a small count gets no verdict (the citation check judges the sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from generation.counting import HOW_MANY, SAME_COUNT, counted_nouns, singular
from generation.table_cells import parts_as_columns, table_rows
from generation.verify import claim_words, split_claims
from ingest.core.amounts import DIGITS, NUMBER_WORDS, SCALES, scale_name
from ingest.core.periods import MONTHS, STANDALONE_YEAR, YEAR, months_named, periods_named, years_named
from ingest.core.records import Passage
from ingest.core.text import sentence_spans, strip_markers

#: A domain's opinion of whether the answer's words around a number (``window``) name what a row ``label`` (or a
#: printed sentence) holds: True (they do), False (they name something else), None (no opinion: the word overlap
#: decides).
LabelMatcher = Callable[[str, str], bool | None]


@dataclass(frozen=True, slots=True)
class Asked:
    """What a planner found a question asks for, for the number check of the model's answer.

    :param part: the part of the whole asked about by name ("Brazil", "Xbox"): a sentence naming it must cite a
        place that names it.
    :param measure: the one line item a looked-up figure is ("operating income"): a sentence that does not say
        what its number is must not cite a row or table that plainly holds another item.
    :param in_passage: prose may name the part anywhere in the passage, not only in the number's sentence (a name
        the question asks about with nothing planned: a person's agreement, a program; a table's row must still).
    """

    part: str = ""
    measure: str = ""
    in_passage: bool = False


NOTHING_ASKED = Asked()

_NUMBER = re.compile(rf"(?<![\w.,])(?<![A-Za-z]-)(?P<cur>\$\s*)?(?P<num>{DIGITS})(?![\w]|[.,]\d)\s*"
                     r"(?P<pct>%|percent\b)?"
                     r"(?:\s*(?P<scale>thousand|million|billion|trillion|bn|mm|[mbk])\b)?", re.IGNORECASE)
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
    including includes included excluding excludes compared versus due
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

    @property
    def digits(self) -> str:
        """Its digits as written ("$1.2 billion": "1.2"), to find where a passage prints them."""
        return re.search(DIGITS, self.text).group(0)  # type: ignore[union-attr]


_AFTER_MONTH = re.compile(rf"\b(?:{'|'.join(MONTHS)})\.?\s+$", re.IGNORECASE)


def stated_numbers(sentence: str) -> list[StatedNumber]:
    """The numbers of an answer sentence worth checking: amounts, counts and percentages; not years, not
    citation markers, not small bare integers (a count of items, a day).

    >>> [(n.text, str(n.value), n.measure) for n in stated_numbers("Walmart had 6,146 units in fiscal 2020 [2].")]
    [('6,146', '6146', ('unit',))]
    >>> [(n.text, str(n.value)) for n in stated_numbers("Revenue was $1.2 billion, up 5% in 3 years.")]
    [('$1.2 billion', '1200000000.0'), ('5%', '5')]
    >>> [n.text for n in stated_numbers("As of December 31, 2017, it had 49% of them.")]
    ['49%']
    >>> [(n.text, n.percent) for n in stated_numbers("The rate for 2022 was 14.2% [4].")]  # a percent at the end
    [('14.2%', True)]
    >>> [n.text for n in stated_numbers("Its F-35 backlog was 356 aircraft.")]  # a model's name is no figure
    ['356']
    """
    out = []
    for m in _NUMBER.finditer(sentence):
        num = m.group("num")
        if sentence[max(0, m.start() - 1): m.start()] == "[" or STANDALONE_YEAR.fullmatch(num) and not m.group("cur"):
            continue
        if not m.group("cur") and _AFTER_MONTH.search(sentence, 0, m.start()):  # "December 31": a date's day
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
    length: int | None = None  # a cell's column period length in months (3, 6, 9, 12); in prose, the length the
    # sentence prints after it ("... for the six months ended"); None when not printed
    parts: bool = False  # a cell of a table whose columns are parts of the company (segments side by side)
    context: str = ""  # in prose, the words around it in its sentence's clause (:data:`WINDOW` either side)


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
        parts = parts_as_columns(table)
        for row in table_rows(passage):
            for cell in row.cells:
                if cell.value is not None and cell.percent == stated.percent and \
                        _same_value(stated, cell.value, table.scale):
                    period = periods.get(cell.year) if cell.year is not None else None
                    # a cell of a column group printing one line item is that item's ("Operating Profit PBNA")
                    label = " ".join(x for x in (cell.measure, row.section, row.label) if x)
                    out.append(Printed(passage, cell.start, cell.end, label,
                                       table.caption, cell.year, period.month if period else None, in_table=True,
                                       length=cell.months, parts=parts))
    digits = re.escape(stated.digits)
    rows = [(r.start, r.end) for r in table.rows] if table is not None else []
    for m in re.finditer(rf"(?<![\d,.]){digits}(?![\d]|[.,]\d)", passage.text):
        if any(a <= m.start() < b for a, b in rows):
            continue
        if not stated.percent and _PERCENT_AFTER.match(passage.text, m.end()):
            continue  # "42%" does not print the count "42"
        unit = _unit_after(passage.text, m.end())
        scale = _SCALE_AFTER.match(passage.text, m.end())
        a, b = _sentence_at(passage.text, m.start())
        near = _window(passage.text[a:b], m.start() - a, m.end() - a)  # its clause's words around it
        length = _LENGTH_AFTER.search(passage.text, m.end(), b)
        out.append(Printed(passage, m.start(), m.end(), unit, scale=scale_name(scale.group(1)) if scale else "",
                           context=passage.text[a + near[0]:a + near[1]],
                           length=_MONTHS[length.group(1).lower()] if length else None))
    return out


def _sentence_at(text: str, position: int) -> tuple[int, int]:
    """``[start, end)`` of the sentence of ``text`` that holds ``position`` (all of it when none does)."""
    return next(((a, b) for a, b in sentence_spans(text) if a <= position < b), (0, len(text)))


_PERCENT_AFTER = re.compile(r"\s?(?:%|per ?cent\b)", re.IGNORECASE)
#: the period length prose prints after a number, in its sentence ("$2.0 billion ... for the six months ended")
_LENGTH_AFTER = re.compile(r"\b(three|six|nine|twelve|3|6|9|12)[- ]months? ended\b", re.IGNORECASE)
_MONTHS = {"three": 3, "six": 6, "nine": 9, "twelve": 12, "3": 3, "6": 6, "9": 9, "12": 12}
_SCALE_AFTER = re.compile(r"\s*(thousand|million|billion|trillion)\b", re.IGNORECASE)


def _scale_agrees(stated: StatedNumber, printed: Printed) -> bool:
    """Whether prose prints the stated digits at the stated scale ("1.1 million" is not "1.1 billion"); a number
    printed or stated without a scale word agrees."""
    return not stated.scale or not printed.scale or stated.scale == printed.scale


_SCALE_WORD = r"(?:thousand|million|billion|trillion)\b"
_AMOUNT_OF = re.compile(rf"((?:\s*{_SCALE_WORD})?(?:\s*,?\s*(?:and\s+)?\$?\s*\(?-?\d[\d,.]*\)?(?:\s*{_SCALE_WORD})?)*)"
                        r"\s+of\s+(?:the\s+|our\s+|its\s+)?", re.IGNORECASE)
_GENERIC = re.compile(r"\s+(?:people|persons|individuals)\b", re.IGNORECASE)  # says who, not which of them


def _unit_after(text: str, end: int) -> str:
    """The noun phrase a passage prints right after a number ("6,146 *stores*"), "" when none (a scale word, a
    unit word or punctuation first): what prose says the number counts.

    >>> _unit_after("We operate 6,146 stores worldwide.", 17), _unit_after("It returned 11.", 14)
    ('stores worldwide', '')
    >>> _unit_after("We employed 221,000 people as full-time employees.", 19)  # people: any kind of them
    ''

    An amount with its scale, or a list of amounts, followed by "of" says what it is after the "of".

    >>> t = "Includes $30 million, $17 million and $(1) million of restructuring charges recorded in 2019."
    >>> _unit_after(t, 12), _unit_after("Revenue was $5 million in 2020.", 14)
    ('restructuring charges', '')
    """
    if _GENERIC.match(text, end):
        return ""
    if (listed := _AMOUNT_OF.match(text, end)) and listed.group(1):  # "$30 million, $17 million ... of X"
        end = listed.end()
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


def _label_agrees(stated: StatedNumber, printed: Printed, matcher: LabelMatcher | None, unsaid: str = "") -> bool:
    """Whether where a number is printed is what the sentence says it is; with ``unsaid`` (the line item asked, of a
    sentence that does not say what its number is), not another item's."""
    if matcher is not None and unsaid and _holds_another(unsaid, printed, matcher):
        return False
    if not printed.in_table and not printed.label:  # prose not saying what it counts right after the number:
        # only a domain that knows the words around it are plainly another item's contradicts ("diluted earnings
        # per share ... $6.68" cited as compensation); a shared word would miss paraphrases ("cut" for "reduction")
        opinion = matcher(stated.window, printed.context) if matcher is not None and printed.context else None
        return opinion is not False
    if matcher is not None:
        opinion = matcher(stated.window, printed.label)
        if opinion is not None:
            return opinion
    # prose: what follows the number, or its clause around it ("a $750,000,000 swing line subfacility for
    # Euro-denominated borrowings": "euro borrowings" share a word with it though the unit is "swing line")
    return not stated.measure or bool(set(stated.measure) &
                                      content_stems(f"{printed.label} {printed.caption} {printed.context}"))


def _says_item(text: str, matcher: LabelMatcher) -> bool:
    """Whether ``text`` names a line item the domain knows (the matcher has an opinion on it against itself)."""
    return bool(text) and matcher(text, text) is not None


def _holds_another(measure: str, printed: Printed, matcher: LabelMatcher) -> bool:
    """Whether where a number is printed plainly holds another item than ``measure``: its row, or, for a row
    naming no item (a segment's, a product's), the table's caption ("revenue by reportable segment"), when it
    names items and not this one; in prose, the words around it when the matcher says they are another's, or
    when it has no opinion and they share no word with the item ("an out of period adjustment of $6.0 million to
    transaction losses" is no revenue)."""
    if not printed.in_table:
        if not printed.context:
            return False
        opinion = matcher(measure, printed.context)
        return opinion is False or opinion is None and not content_stems(measure) & content_stems(printed.context)
    for text in (printed.label, printed.caption.split(" | ")[0]):
        opinion = matcher(measure, text)
        if opinion is not None or _says_item(text, matcher):
            return opinion is not True
    return False


def _length_agrees(months: int | None, printed: Printed) -> bool:
    """Whether a cell's column (or the prose sentence printing the number) is of the period length the sentence
    names ("the first six months": 6), when both say one."""
    return months is None or printed.length is None or printed.length == months


def _year_agrees(years: Sequence[int], printed: Printed) -> bool:
    if len(years) != 1 or printed.year is None:
        return True
    year = years[0]
    return year == printed.year or (printed.month is not None and printed.month <= 3 and year == printed.year - 1)


def other_names(sentence: str, question: str) -> set[str]:
    """The capitalised words of an answer sentence that its question does not write, function words aside, and the
    words placing a figure elsewhere or over the whole (:data:`_ELSEWHERE`): names the answer brings in.

    >>> sorted(other_names("Europe's net revenue was $1,886 million [1].", "What was Acme's revenue in Russia?"))
    ['Europe']
    >>> other_names("Net Revenue $ 17,846 million [2]", "How much net revenue did Acme make in Russia?")
    set()
    >>> other_names("It had 57,834 paid members abroad [1].", "How many members did it have in Brazil?")
    {'abroad'}
    """
    asked = {w.lower() for w in _WORD.findall(question)} | _NOT_A_MEASURE - _ELSEWHERE
    names = {re.sub(r"['’]s?$", "", w) for w in _WORD.findall(strip_markers(sentence))
             if w[0].isupper() or w.lower() in _ELSEWHERE}
    return {w for w in names if w.lower() not in asked}


#: words that place a figure elsewhere or over the whole ("57,834 members abroad", "total net revenue"), as a name does
_ELSEWHERE = frozenset({"abroad", "international", "internationally", "domestic", "domestically", "overseas",
                        "foreign", "worldwide", "global", "globally", "total", "consolidated", "firmwide",
                        "company-wide", "companywide", "overall"})


def names_period(text: str) -> bool:
    """Whether a sentence names a period: a year, a length ("six months") or a quarter.

    >>> names_period("Revenue was $2.0 billion in 2022 [1]."), names_period("$2.0 billion [1]")
    (True, False)
    """
    return bool(years_named(text) or months_named(text) or quarters_named(text))


def quarters_named(text: str) -> set[tuple[int, int]]:
    """The quarters ``text`` names, as (year, quarter).

    >>> sorted(quarters_named("net income in the fourth quarter of 2022, against Q2 2023"))
    [(2022, 4), (2023, 2)]
    """
    return {(p.year, p.quarter) for p in periods_named(text) if p.quarter is not None}


def _printed_sentence(printed: Printed) -> str:
    start, end = _sentence_at(printed.passage.text, printed.start)
    return printed.passage.text[start:end]


def _quarter_agrees(quarters: set[tuple[int, int]], printed: Printed) -> bool:
    """Whether prose printing the number is about a quarter the sentence names, when both name quarters ("For the
    second quarter of 2023, ... net income of $14.5 billion" does not say what the fourth quarter of 2022 earned)."""
    if not quarters or printed.in_table:
        return True
    named = quarters_named(_printed_sentence(printed))
    return not named or bool(named & quarters)


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
    one segment's: "1,026 stores" read from the Domestic segment's table); for a table printing its segments as
    columns, whether the sentence names one of the names its caption prints besides the document's own."""
    if printed.parts:
        title = printed.passage.header.split("·")[0]
        names = {w.lower() for w in _CAPITALISED.findall(printed.caption)} - {w.lower() for w in
                                                                             _CAPITALISED.findall(title)}
        said = {w.lower() for w in _CAPITALISED.findall(sentence)}
        return bool(names - _NOT_A_NAME & said)
    part = part_printed(printed)
    return part is None or all(w.lower() in sentence.lower() for w in part.split())


_CAPITALISED = re.compile(r"\b[A-Z][\w&'’-]+")
_NOT_A_NAME = frozenset(MONTHS) | {"three", "six", "nine", "twelve", "months", "month", "year", "years", "ended",
                                   "in", "millions", "thousands", "except", "total", "change", "as", "of", "for",
                                   "the", "quarter", "fiscal"}


#: Words that make a number a change rather than a level, before it ("increased $764 million", "an increase of",
#: "up 5%", "grew by") or after it ("$500 million higher").
_CHANGE_WORD = (r"(?:increase[sd]?|decrease[sd]?|grew|grow(?:s|n)?|growth|rose|rise[sn]?|fell|falls?|declined?|"
                r"declines|dropped|drops?|improved|improvement|up|down|higher|lower|gain(?:ed|s)?)")
_APPROX = r"(?:(?:approximately|about|roughly|nearly|almost|some|around)\s+)?"
_CHANGE_BEFORE = re.compile(rf"(?:(?<!made )(?<!make )(?<!makes )\b{_CHANGE_WORD}\s+(?:(?:of|by)\s+)?|"
                            rf"(?<!divided )(?<!multiplied )\bby\s+)"  # not "made up of", "divided by"
                            rf"{_APPROX}\$?\s*$", re.IGNORECASE)
_CHANGE_AFTER = re.compile(rf"(?:\s*(?:%|percent))?(?:\s*(?:thousand|million|billion))?\s+(?:{_CHANGE_WORD}|more)\b",
                           re.IGNORECASE)


def as_change(text: str, start: int, end: int) -> bool:
    """Whether ``text`` writes the number ``text[start:end]`` as a change, not a level.

    >>> t = "Xbox content revenue increased $764 million, or 5%."
    >>> as_change(t, 32, 35), as_change("Revenue was $764 million.", 13, 16)
    (True, False)
    >>> as_change("an increase of $2.1 billion", 16, 19), as_change("$500 million higher", 1, 4)
    (True, True)
    >>> as_change("Revenue grew to $5 billion.", 17, 18), as_change("divided by 365 days", 11, 14)
    (False, False)
    >>> as_change("a workforce made up of approximately 114,000 employees", 37, 44)
    False
    """
    return bool(_CHANGE_BEFORE.search(text[max(0, start - 40):start]) or _CHANGE_AFTER.match(text, end))


def _kind_agrees(stated: StatedNumber, printed: Printed, sentence: str) -> bool:
    """Whether prose printing the number as a change is cited for a change (a table's cells are levels)."""
    return printed.in_table or not sentence or not as_change(printed.passage.text, printed.start, printed.end) \
        or as_change(sentence, stated.start, stated.end)


def names_part(part: str, printed: Printed, in_passage: bool = False) -> bool:
    """Whether where a number is printed names ``part``: the cell's row, section, caption or the passage's
    section path; in prose, the printed sentence (with ``in_passage``, the passage) or the section path.

    >>> p = Passage(id="a", doc_id="d", source="r.txt", text="Sales grew. Brazil sales were 812.", chars=(0, 34),
    ...             header="Results")
    >>> names_part("Brazil", Printed(p, 30, 33, "")), names_part("Canada", Printed(p, 30, 33, ""))
    (True, False)
    """
    wanted = content_stems(part)
    if printed.in_table:
        where = f"{printed.label} {printed.caption} {printed.passage.header}"
    else:
        a, b = (0, len(printed.passage.text)) if in_passage else _sentence_at(printed.passage.text, printed.start)
        where = f"{printed.passage.text[a:b]} {printed.passage.header}"
    return wanted <= content_stems(where)


def check_number(stated: StatedNumber, years: Sequence[int], passages: Sequence[Passage],
                 matcher: LabelMatcher | None = None, sentence: str = "", part: str = "",
                 months: int | None = None, measure: str = "", in_passage: bool = False,
                 quarters: set[tuple[int, int]] | None = None) -> NumberVerdict | None:
    """The verdict on one stated number over the cited ``passages`` (None: they do not print it); with the
    ``sentence`` stating it, a cell of one segment's table must be said to be that segment's, and prose printing
    it as a change must be cited for a change; with ``part`` (what the sentence says the number is of), the place
    must name that part; with ``months`` (the period length the sentence names), a cell must be of that length;
    with ``measure`` (the line item asked), a number whose sentence does not say what it is must not be printed
    as another item."""
    places = [p for passage in passages for p in where_printed(stated, passage)]
    if not places:
        if not stated.percent and (shown := printed_as_percent(stated, passages)):
            return NumberVerdict(stated, False, f"{stated.text} is printed only as a percentage ({shown})")
        return None
    # the item asked, when the sentence's words do not say what the number is
    unsaid = measure if matcher is not None and measure and not _says_item(stated.window, matcher) else ""
    quarters = quarters_named(sentence) if quarters is None else quarters
    for place in places:
        if _label_agrees(stated, place, matcher, unsaid) and (not place.in_table or _year_agrees(years, place)) \
                and _length_agrees(months, place) and _quarter_agrees(quarters, place) \
                and (not sentence or _part_agrees(sentence, place)) and _scale_agrees(stated, place) \
                and _kind_agrees(stated, place, sentence) and (not part or names_part(part, place, in_passage)):
            return NumberVerdict(stated, True, "", place)
    place = places[0]
    if part and not any(names_part(part, p, in_passage) for p in places):
        where = f"in row '{place.label}'" if place.in_table else "in a sentence"
        return NumberVerdict(stated, False, f"{stated.text} is printed {where} that does not name {part}", place)
    if not _kind_agrees(stated, place, sentence):
        text = place.passage.text
        return NumberVerdict(stated, False, f"{stated.text} is printed as a change "
                                            f"('{text[max(0, place.start - 30):place.end].split(' ', 1)[-1]}'), "
                                            "not as a level", place)
    if not _scale_agrees(stated, place):
        printed = place.passage.text[place.start:place.end]
        return NumberVerdict(stated, False, f"{stated.text} is printed as {printed} {place.scale}", place)
    what = " ".join(stated.terms)
    if matcher is not None and unsaid and _holds_another(unsaid, place, matcher):
        where = f"in row '{place.label}'" if place.in_table else "in a sentence"
        of = f" of a table of {place.caption.split(' | ')[0][:60]!r}" if place.in_table and place.caption else ""
        return NumberVerdict(stated, False, f"{stated.text} is printed {where}{of}, not as the {measure} asked",
                             place)
    if not _label_agrees(stated, place, matcher):
        where = f"in row '{place.label}'" if place.in_table else f"as '{place.label}'" if place.label else \
            "in a sentence that does not say so"
        return NumberVerdict(stated, False, f"{stated.text} is printed {where}, not as {what}", place)
    if place.in_table and not _year_agrees(years, place):
        return NumberVerdict(stated, False, f"{stated.text} is printed in the {place.year} column, not for "
                                            f"{years[0]}", place)
    if not _quarter_agrees(quarters, place):
        printed = ", ".join(f"Q{q} {y}" for y, q in sorted(quarters_named(_printed_sentence(place))))
        return NumberVerdict(stated, False, f"{stated.text} is printed for {printed}, not for "
                                            f"{', '.join(f'Q{q} {y}' for y, q in sorted(quarters))}", place)
    if not _length_agrees(months, place):
        return NumberVerdict(stated, False, f"{stated.text} is printed in a {place.length} months column, not for "
                                            f"{months} months", place)
    if place.parts:
        return NumberVerdict(stated, False, f"{stated.text} is printed in a column of one of the parts the table "
                                            "prints side by side, and the sentence names none of them", place)
    return NumberVerdict(stated, False, f"{stated.text} is printed in the {part_printed(place)} segment's table, "
                                        "not as the company's", place)


def printed_as_percent(stated: StatedNumber, passages: Sequence[Passage]) -> str:
    """Where the cited passages print a stated plain number's digits only as a percentage ("42% of total GPV"
    cited for "42 active sellers"), that percentage, else "".

    >>> p = Passage(id="p", doc_id="d", source="a", text="Larger sellers were 42% of GPV.", chars=(0, 31))
    >>> printed_as_percent(stated_numbers("It had 42 active sellers.")[0], [p])
    '42%'
    >>> printed_as_percent(stated_numbers("It had 43 active sellers.")[0], [p])
    ''
    """
    digits = re.escape(stated.digits)
    for passage in passages:
        if passage.kind == "code":
            continue
        if m := re.search(rf"(?<![\d,.]){digits}\s?%", passage.text):
            return m.group(0)
    return ""


def check_sentence(sentence: str, passages: Sequence[Passage],
                   matcher: LabelMatcher | None = None, asked: Asked = NOTHING_ASKED,
                   given: Collection[Decimal] = (), question: str = "") -> list[NumberVerdict]:
    """Verdicts on the numbers one answer sentence states, against the passages it cites; a sentence naming
    ``asked.part`` (the part of the whole the question asks about) must cite places that name it, and a number
    whose sentence does not say what it is must not be printed as another item than ``asked.measure``. A number
    the cited passages print nowhere (in any form: "$1.1 billion" for "1,096.2" million is printed) does not
    agree, unless the question gave it (``given``: its own numbers) or it points to a place ("Note 10"). A sentence
    that names no period (no year, length or quarter: "$2.0 billion [1].") answers for the ``question``'s.

    >>> n = Passage(id="n", doc_id="d", source="r.txt", text="Net sales were $2,500 million.", chars=(0, 30))
    >>> [(v.agrees, v.reason) for v in check_sentence("Net sales were $3,100 million [1].", [n])]
    [(False, '$3,100 million is printed in none of the passages the sentence cites')]
    >>> check_sentence("Net sales were $2.5 billion [1].", [n])  # printed, at another scale: the citation check's
    []

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
    >>> c = Passage(id="c", doc_id="d", source="r.txt", text="Xbox revenue increased $764 million.", chars=(0, 36))
    >>> [(v.agrees, v.reason) for v in check_sentence("Xbox revenue was $764 million [1].", [c])]
    [(False, "$764 million is printed as a change ('revenue increased $764'), not as a level")]
    >>> [v.agrees for v in check_sentence("Xbox revenue rose $764 million [1].", [c])]
    [True]
    >>> e = Passage(id="e", doc_id="d", source="r.txt", text="Diluted earnings per share rose to $6.68, including a "
    ...             "benefit.", chars=(0, 62))
    >>> eps = lambda window, label: False if "per share" in label and "income" in window else None
    >>> [v.reason for v in check_sentence("Net income was $6.68 [1].", [e], eps)]
    ['$6.68 is printed in a sentence that does not say so, not as income']
    >>> h = Table("Three months ended | Six months ended | 2022 | 2022", (Period("2022", 2022, months=3),
    ...           Period("2022", 2022, months=6)), (TableRow("Provision for credit losses", (TableCell("1,101", 28,
    ...           33, Decimal(1101)), TableCell("2,564", 34, 39, Decimal(2564))), 0, 39),))
    >>> r = Passage(id="h", doc_id="d", source="r.pdf", kind="table", text="Provision for credit losses 1,101 2,564",
    ...             chars=(0, 39), table=h)
    >>> [v.reason for v in check_sentence("Its provision for credit losses was 1,101 in the first six months [1].",
    ...                                   [r])]
    ['1,101 is printed in a 3 months column, not for 6 months']
    >>> [v.agrees for v in check_sentence("Its provision for credit losses was 2,564 in the first half [1].", [r])]
    [True]
    >>> [v.reason for v in check_sentence("Net sales in Brazil were 1,026 [1].", [q], asked=Asked("Brazil"))]
    ["1,026 is printed in row 'Total stores' that does not name Brazil"]

    A sentence that does not say what its number is, of a figure asked as one line item, cited from a segment's
    row in a table of another item:

    >>> from generation.line_items import line_item_agreement as items
    >>> by_seg = Table("revenue by reportable segment (in millions) | 2017", (Period("2017", 2017),),
    ...                (TableRow("Digital Marketing", (TableCell("1,609.5", 18, 25, Decimal("1609.5")),), 0, 25),),
    ...                scale="million")
    >>> g = Passage(id="g", doc_id="d", source="r.pdf", kind="table", text="Digital Marketing 1,609.5",
    ...             chars=(0, 25), table=by_seg)
    >>> [v.reason for v in check_sentence("Digital Marketing earned $1,609.5 million in 2017 [1].", [g], items,
    ...                                   Asked(measure="operating income"))]
    ["$1,609.5 million is printed in row 'Digital Marketing' of a table of 'revenue by reportable segment (in \
millions)', not as the operating income asked"]
    >>> [v.agrees for v in check_sentence("Its revenue was $1,609.5 million in 2017 [1].", [g], items,
    ...                                   Asked(measure="operating income"))]
    [True]
    """
    period = sentence if question == "" or names_period(sentence) else question
    years, months = years_named(period), months_named(period)
    part = asked.part
    # the part asked, where the sentence names it, or names no other name (it answers for the part unsaid:
    # "Net revenue was $17,846 million [2]." asked of Russia)
    named = part if part and (content_stems(part) <= content_stems(sentence) or
                              not other_names(sentence, question)) else ""
    out = []
    for n in stated_numbers(sentence):
        v = check_number(n, years, passages, matcher, sentence, named, months, asked.measure, asked.in_passage,
                         quarters_named(period))
        if v is None and passages and all(p.kind != "code" for p in passages) and n.value not in given \
                and not _REFERENCE.search(sentence, 0, n.start) \
                and not any(printed_at_any_scale(n, p) for p in passages):
            v = NumberVerdict(n, False, f"{n.text} is printed in none of the passages the sentence cites")
        if v is not None:
            out.append(v)
    return out


_PRINTED_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def printed_at_any_scale(stated: StatedNumber, passage: Passage) -> bool:
    """Whether ``passage`` prints the stated number's digits at some scale, to the precision stated, rounded or cut
    ("$2.5 billion" in "2,500 million" or in a table "in thousands": 2,503,100; "$5.771 billion" for 5,771,652
    thousand), whether or not it says what the number is.

    >>> p = Passage(id="n", doc_id="d", source="r.txt", text="Net sales were $2,503 million, costs 5,771,652.",
    ...             chars=(0, 47))
    >>> [printed_at_any_scale(n, p) for n in stated_numbers("Sales were $2.5 billion and $3.1 billion.")]
    [True, False]
    >>> [printed_at_any_scale(n, p) for n in stated_numbers("Costs were $5.771 billion.")]
    [True]
    """
    for m in _PRINTED_NUMBER.finditer(passage.text):
        try:
            value = Decimal(m.group(0).replace(",", ""))
        except InvalidOperation:
            continue
        for factor in (1, 1_000, 1_000_000, 1_000_000_000):
            if abs(value * factor - stated.value) < stated.step:  # rounded or cut to the digits stated
                return True
    return False


# a number that points to a place, not a figure: "Note 10", "Item 7", "page 45", "10-K"
_REFERENCE = re.compile(r"\b(?:notes?|items?|parts?|pages?|p\.|sections?|exhibits?|schedules?|rules?)\s*$",
                        re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NumbersChecked:
    """An answer after the number check: its text without the sentences whose numbers disagree ("" when no
    factual sentence is left), how many numbers were checked, and each withheld sentence with its reasons."""

    text: str
    checked: int
    withheld: tuple[tuple[str, tuple[str, ...]], ...]


_NOT_SCALED = re.compile(r"\bper\b|\bshares?\b|\beps\b|%|\bratio\b", re.IGNORECASE)


def with_table_scales(sentence: str, verdicts: Sequence[NumberVerdict]) -> str:
    """``sentence`` with the scale of the table each of its amounts was verified in written after it, where the
    sentence gives none ("$2,006,595" read from a table "in thousands": "$2,006,595 thousand"): the same number,
    in its unit. Only whole amounts of four digits or more, not per-share figures, share counts or ratios.

    >>> from ingest.core.tables import Period, Table, TableCell, TableRow
    >>> t = Table("Quarterly data (in thousands) | 2017", (Period("2017", 2017),),
    ...           (TableRow("Revenue", (TableCell("2,006,595", 8, 17, Decimal(2006595)),), 0, 17),), "thousand")
    >>> p = Passage(id="q", doc_id="d", source="r.pdf", kind="table", text="Revenue 2,006,595", chars=(0, 17), table=t)
    >>> with_table_scales("Revenue was $2,006,595 [1].", check_sentence("Revenue was $2,006,595 [1].", [p]))
    'Revenue was $2,006,595 thousand [1].'
    """
    for v in verdicts:
        printed, stated = v.printed, v.number
        table = printed.passage.table if printed is not None else None
        if not v.agrees or printed is None or table is None or not printed.in_table or stated.scale or \
                stated.percent or not table.scale or abs(stated.value) < 1000 or stated.value != int(stated.value) or \
                _NOT_SCALED.search(f"{printed.label} {stated.window}"):
            continue
        sentence = re.sub(rf"{re.escape(stated.text)}(?!\s*(?:thousand|million|billion|trillion|[mbk]n?)\b)",
                          f"{stated.text} {table.scale}", sentence, count=1)
    return sentence


def withhold_wrong_numbers(answer: str, cited: Callable[[int], Passage | None],
                           matcher: LabelMatcher | None = None, asked: Asked = NOTHING_ASKED,
                           question: str = "") -> NumbersChecked:
    """``answer`` without its sentences stating a number that their cited passages (``cited(n)`` for a marker
    ``[n]``) print as something else or nowhere (or, for a sentence naming ``asked.part``, print where that part is
    not named; see :func:`check_sentence`); a number the ``question`` states may be restated.

    >>> p = Passage(id="a", doc_id="d", source="r.txt", text="We run 6,146 stores.", chars=(0, 20))
    >>> r = withhold_wrong_numbers("It has 6,146 employees [1]. It is big [1].", lambda n: p)
    >>> r.text, r.checked, r.withheld[0][0]
    ('It is big [1].', 1, 'It has 6,146 employees.')
    """
    kept: list[str] = []
    withheld: list[tuple[str, tuple[str, ...]]] = []
    checked = 0
    scaled, at = [], 0  # the whole answer, each amount given its table's scale
    given = {n.value for n in stated_numbers(question)} | _values(question)
    for claim in split_claims(answer):
        passages = [p for n in claim.numbers if (p := cited(n)) is not None]
        verdicts = check_sentence(claim.text, passages, matcher, asked, given, question) if passages else []
        checked += len(verdicts)
        wrong = tuple(v.reason for v in verdicts if not v.agrees)
        if wrong:
            withheld.append((claim.text, wrong))
        else:
            kept.append(with_table_scales(answer[claim.start:claim.end], verdicts))
            scaled += [answer[at:claim.start], kept[-1]]
            at = claim.end
    if not withheld:
        return NumbersChecked("".join(scaled) + answer[at:], checked, ())
    text = "".join(kept).strip()
    if not any(claim_words(c.text) for c in split_claims(text)):
        text = ""
    return NumbersChecked(text, checked, tuple(withheld))


# ------------------------------------------------------------------------------------------ what is counted

_ANY_NUMBER = re.compile(r"(?<![\w.\[$])\$?\d[\d,]*(?:\.\d+)?(?![\w\]])")
_ASKS_QUANTITY = re.compile(r"\bhow (?:many|much)\b|\bwhat (?:percentage|percent|share|portion|amount|number)\b",
                            re.IGNORECASE)


def _digits(text: str) -> set[Decimal]:
    """The values of the numbers ``text`` prints in digits, years aside."""
    return {Decimal(m.group(0).lstrip("$").replace(",", "")) for m in _ANY_NUMBER.finditer(text)
            if not STANDALONE_YEAR.fullmatch(m.group(0))}


def _values(text: str) -> set[Decimal]:
    """:func:`_digits`, and the small numbers ``text`` spells out ("three")."""
    return _digits(text) | {Decimal(NUMBER_WORDS.index(w)) for w in re.findall(r"[a-z]+", text.lower())
                            if w in NUMBER_WORDS}


def echoes_question(question: str, answer: str) -> str | None:
    """Why an answer to a "how many / how much" question does not answer it (None: it may): every number it states
    is one the question states itself ("how many votes were cast for a vote every three years?" answered "3").

    >>> echoes_question("How many votes were cast for holding the vote every three years?", "3 [1]")
    "the answer's only number (3) is the question's own"
    >>> echoes_question("How many votes were cast for holding the vote every three years?", "4,352,683 votes [1]")
    >>> echoes_question("Is the current ratio above 2?", "Yes, 2 [1].") is None  # no quantity asked
    True
    """
    if not _ASKS_QUANTITY.search(question):
        return None
    stated = _digits(answer)
    if not stated or not stated <= _values(question):
        return None
    return f"the answer's only number ({', '.join(sorted(str(v) for v in stated))}) is the question's own"


def counts_something_else(question: str, answer: str) -> str | None:
    """Why an answer to a "how many ...?" question does not answer it (None: it may): it never names the thing
    asked, and its number counts another kind of thing ("How many employees?" answered "it operated 1,355
    stores"). Only the kinds :data:`SAME_COUNT` knows (people, stores, shares) are told apart.

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
    said = {singular(w) for w in re.findall(r"[A-Za-z][\w'’-]*", answer)}
    counted = {singular(m.group(1)) for m in _COUNTED.finditer(strip_markers(answer))
               if m.group(1).lower() not in _NOT_THINGS}
    if said & nouns or not counted:  # a bare number ("5,000 [1].") contradicts nothing
        return None
    asked_kinds = {g for g in SAME_COUNT if g & nouns}
    counted_kinds = {g for g in SAME_COUNT if g & counted}
    if not asked_kinds or not counted_kinds or asked_kinds & counted_kinds:
        return None  # only a known kind of count against another ("picks" vs "interceptions" decides nothing)
    what = HOW_MANY.search(question).group("what")  # type: ignore[union-attr]
    return f"the question counts {what}; the answer counts {', '.join(sorted(counted))}"


#: A number and the plural word that says what it counts ("1,355 stores", "2.1 million members").
_COUNTED = re.compile(rf"(?<![\w.$])(?!{YEAR}\b)\d[\d,]*(?:\.\d+)?\s+(?:(?:million|thousand|billion)\s+)?"
                      r"([A-Za-z][a-z-]*s)\b")
_NOT_THINGS = frozenset({"years", "months", "weeks", "days", "hours", "percent", "times", "points", "dollars",
                         "basis", "cents"})


# ------------------------------------------------------------------------------------------ what kind is asked

#: A question asking for a share, a rate, a ratio or a change, not an amount ("what percentage", "by how much did
#: it grow", "operating margin", "days sales outstanding", "per share").
_ASKS_RELATIVE = re.compile(
    r"%|\b(?:percent(?:age)?s?|margins?|ratios?|rates?|shares?|proportions?|portions?|fractions?|times|multiples?|"
    r"per|days|turnover|yields?|returns?|coverage|cagr|growth|grow|grew|grown|change[sd]?|increase[sd]?|"
    r"decrease[sd]?|declined?|differ\w*|compare[sd]?|compared|versus|vs|more|less|higher|lower|rise|rose|fell|"
    r"drop\w*|trend\w*|average|split|mix|breakdown)\b", re.IGNORECASE)
#: A question asking for an amount of money ("What were net sales in 2022?", "How much did it spend, in dollars?").
_ASKS_MONEY = re.compile(
    r"\$|\b(?:revenues?|sales|income|expenses?|costs?|compensation|salary|cash|capex|expenditures?|debt|assets|"
    r"liabilities|equity|earnings|profits?|loss(?:es)?|spend|spent|sell|sold|dollars?|usd|paid|charges?|provisions?|"
    r"dividends?|repurchases?|buybacks?)\b", re.IGNORECASE)


#: A count of things right after a number ("6 million additional restricted stock units", "1,355 stores").
_COUNT_AFTER = re.compile(r"\s+(?:[a-z-]+\s+){0,3}(?:units|shares|stores|locations|warehouses|members|subscribers|"
                          r"customers|users|accounts|employees|associates|people|vehicles|aircraft|patents|"
                          r"restaurants|clubs|orders|transactions)\b", re.IGNORECASE)
_POINTS = re.compile(r"\s*(?:basis points?|bps|percentage points?)\b", re.IGNORECASE)
#: An answer that is a length of time and nothing else ("1 Year [1]"): not a count of the things a question counts.
_BARE_DURATION = re.compile(r"\W*(?:about |approximately )?\d[\d,.]*\s+(?:years?|months?|weeks?|days?|hours?)\W*",
                            re.IGNORECASE)


def asked_kind(question: str) -> str | None:
    """What kind of number a question asks for, when it is plain: "count" ("how many ...?"), "amount" (a sum of
    money), or None (a share, a rate, a ratio, a change, or anything else).

    >>> asked_kind("What were Acme's net sales in Brazil in 2019?"), asked_kind("How many members did it have?")
    ('amount', 'count')
    >>> asked_kind("What was its operating margin in 2019?") is None, asked_kind("By how much did sales grow?")
    (True, None)
    """
    if _ASKS_RELATIVE.search(question):
        return None
    if re.search(r"\bhow many\b", question, re.IGNORECASE):
        return "count"
    return "amount" if _ASKS_MONEY.search(question) else None


_DURATIONS_COUNTED = frozenset({"year", "month", "week", "day", "hour", "term", "period"})


def states_another_kind(question: str, answer: str) -> str | None:
    """Why an answer does not state the kind of number its question asks for (None: it may): asked an amount or
    a count, it states numbers, and every one of them is a percentage or a change, for a count an amount of money,
    for an amount a count of things ("How much revenue did Xbox Live generate?" answered "Xbox Live revenue
    increased $500 million"; "How many members?" answered "49% of members"; "How many people worked there?"
    answered "$25 billion"; "How much revenue did Figma add?" answered "6 million restricted stock units").

    >>> states_another_kind("How much revenue did the app generate in 2016?", "Its revenue increased $500 million [1].")
    'the question asks for an amount; the answer states only a change, a percentage or a count ($500 million)'
    >>> states_another_kind("How much revenue did it add in 2022?", "It added 6 million restricted stock units [1].")
    'the question asks for an amount; the answer states only a change, a percentage or a count (6 million)'
    >>> states_another_kind("How many members did it have?", "Members were 49% of the total [1].")[:60]
    'the question asks for a count; the answer states only a chan'
    >>> states_another_kind("How many people worked there?", "Net sales were about $25 billion [1].")[-30:]
    ' amount of money ($25 billion)'
    >>> states_another_kind("How much did it sell in 2021?", "It sold by $2,759, or 169 basis points [1].")[-20:]
    ' count ($2,759, 169)'
    >>> states_another_kind("How many votes were cast for him?", "1 Year [1]")[-30:]  # a length of time
    'only a length of time (1 Year)'
    >>> states_another_kind("How many years is the term?", "5 years [1]") is None
    True
    >>> states_another_kind("What was the dollar value of its backlog?", "356 aircraft [1]")[-8:]
    'nt (356)'
    >>> states_another_kind("What were net sales in 2022?", "Net sales were $5.1 billion, up 5% [1].") is None
    True
    >>> states_another_kind("What were net sales in 2022?", "Sales rose in 2022 [1].") is None  # no number
    True
    """
    kind = asked_kind(question)
    if kind is None:
        return None
    if kind == "count" and _BARE_DURATION.fullmatch(strip_markers(answer)) and \
            not _DURATIONS_COUNTED & counted_nouns(question):
        said = strip_markers(answer).strip()
        return f"the question asks for a count; the answer states only a length of time ({said})"
    stated: list[tuple[StatedNumber, bool]] = []
    for claim in split_claims(answer):
        stated += [(n, n.percent or as_change(claim.text, n.start, n.end) or bool(_POINTS.match(claim.text, n.end))
                    or kind == "count" and n.text.startswith("$")
                    or kind == "amount" and not n.text.startswith("$") and bool(_COUNT_AFTER.match(claim.text, n.end)))
                   for n in stated_numbers(claim.text)]
    if not stated or not all(other for _, other in stated):
        return None
    said = "a change, a percentage or a count" if kind == "amount" else \
        "a change, a percentage or an amount of money"
    return (f"the question asks for {'an amount' if kind == 'amount' else 'a count'}; the answer states only {said} "
            f"({', '.join(n.text for n, _ in stated)})")
