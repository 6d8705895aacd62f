"""Years, dates and fiscal periods as documents and questions print them: the one grammar of time.

Every stage that reads a period uses these pieces and nothing of its own: a cover page's "For the fiscal year
ended January 28, 2023" (``ingest/describe.py``), a table's column header "Three Months Ended June 30, 2019"
(``ingest/table_rows.py``), a question's "Q2 of FY24" (routing, ``retrieval/route.py``; the figures planner,
``generation/figures.py``).

- :data:`YEAR` is a printed year (1900-2099); :data:`STANDALONE_YEAR` one that stands alone, not part of an
  amount ("2,019", "$2019", "2019%", "2019.5").
- :data:`MONTH` a month name or abbreviation ("Sept."); :data:`DATE` "January 28, 2023" (month, day, year).
- :class:`FiscalPeriod` a fiscal year and, for quarters, the quarter; :func:`periods_named` every one a text
  names ("FY2019", "FY 22", "fiscal 2018", "2023Q1", "Q2 of FY24", "second fiscal quarter of 2023", "2019").

Neutral layer: imports nothing of ours outside ``ingest.core``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: A printed year, 1900-2099 (a pattern to compose, no groups).
YEAR = r"(?:19|20)\d\d"
_ALONE = r"(?<![\d,.$])({year})(?![\d%]|[,.]\d)"  # not inside a longer number nor an amount
#: A year standing alone: not part of an amount ("2,019", "$2019", "2019%", "2019.5"); "FY2019" holds one.
STANDALONE_YEAR = re.compile(_ALONE.format(year=YEAR))

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
#: A month's name or abbreviation with an optional period (one group: the name as printed).
MONTH = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|" \
        r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
#: A date "January 28, 2023" (three groups: month, day, year).
DATE = MONTH + r"\s+(\d{1,2})\s*,?\s*(\d{4})"
_FISCAL = r"(?:fiscal\s+(?:year\s+)?|FY\s?'?)"  # "fiscal year ", "FY", "FY'"
#: A range of years "FY2017 - FY2019", "2018 and 2019", "fiscal 2015 to fiscal 2017" (groups "a" and "b").
YEAR_RANGE = rf"{_FISCAL}?(?P<a>{YEAR})\s+(?:and|to|-|–)\s+{_FISCAL}?(?P<b>{YEAR})"

#: Quarter words: "second" quarter, "2nd" quarter, "Q2".
QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
                 "q1": 1, "q2": 2, "q3": 3, "q4": 4}


def month_number(name: str) -> int:
    """1-12 for a month name or abbreviation ("Sept." included).

    >>> month_number("Sept."), month_number("december")
    (9, 12)
    """
    key = name.lower().rstrip(".")[:3]
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(key))


def month_name(number: int) -> str:
    """The month's name, capitalised ("January" for 1).

    >>> month_name(9)
    'September'
    """
    return MONTHS[number - 1].title()


def dates_named(text: str) -> dict[int, int]:
    """The month of each year a text names by a full date ("March 31, 2020"), as year -> month; a year named by
    two dates of different months is left out (which one is meant cannot be told).

    >>> dates_named("Deposits grew from March 31, 2020 to March 31, 2021; revenue in 2019?")
    {2020: 3, 2021: 3}
    """
    months: dict[int, set[int]] = {}
    for m in re.finditer(DATE, text, re.IGNORECASE):
        months.setdefault(int(m.group(3)), set()).add(month_number(m.group(1)))
    return {year: next(iter(ms)) for year, ms in months.items() if len(ms) == 1}


def full_year(text: str) -> int:
    """A year as printed, two digits read as 20xx ("FY22").

    >>> full_year("2019"), full_year("22")
    (2019, 2022)
    """
    return int(text) if len(text) == 4 else 2000 + int(text)


@dataclass(frozen=True, slots=True)
class FiscalPeriod:
    """A fiscal year and, for a quarter, the quarter (1-4)."""

    year: int
    quarter: int | None = None

    def __str__(self) -> str:
        return f"FY{self.year}" + (f"Q{self.quarter}" if self.quarter else "")

# Most specific first: a later pattern never takes text an earlier one matched.
_PERIODS: tuple[tuple[re.Pattern[str], int, int | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), year_group, quarter_group) for pattern, year_group, quarter_group in (
        (rf"\b(?:FY\s?)?({YEAR})\s?Q([1-4])\b", 1, 2),  # 2023Q1, FY2023Q1, 2021 Q1
        (rf"\bQ([1-4])\s*(?:of\s+)?{_FISCAL}?({YEAR}|\d{{2}}\b)", 2, 1),  # Q2 2023, Q2 of FY24
        (rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\s+(?:of\s+)?{_FISCAL}?({YEAR})",
         2, 1),
        (rf"\bFY\s?'?({YEAR}|\d{{2}})\b", 1, None),  # FY2019, FY 2023, FY22, FY'19
        (rf"\bfiscal\s+(?:year\s+)?({YEAR})\b", 1, None),
        (_ALONE.format(year=YEAR), 1, None),
    ))


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "nine": 9, "twelve": 12, "thirteen": 13,
                 "twenty-six": 26, "thirty-nine": 39, "fifty-two": 52, "fifty-three": 53}
#: A period's length as a header or a question prints it: "Three Months", "13 weeks", "two quarters", or "Years" /
#: "Quarter" right before "ended" (groups: 1 the count, 2 its unit; 3 a bare "year(s)"/"quarter(s)").
PERIOD_LENGTH = re.compile(r"\b(\d{1,2}|one|two|three|four|six|nine|twelve|thirteen|twenty-six|thirty-nine|fifty-two|"
                           r"fifty-three)[- ](months?|weeks?|quarters?)\b|\b((?:fiscal )?years?|quarters?)(?= ended| "
                           r"ending)", re.IGNORECASE)
_HALF = re.compile(r"\b(?:first|1st) half\b|\bhalf[- ]year\b", re.IGNORECASE)


def period_months(m: re.Match[str]) -> int:
    """Months in a :data:`PERIOD_LENGTH` match ("Three Months": 3, "13 weeks": 3, "Years" ended: 12)."""
    if m.group(3):
        return 3 if m.group(3).lower().startswith("quarter") else 12
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else _NUMBER_WORDS[word]
    unit = m.group(2).lower()
    if unit.startswith("week"):
        return max(1, round(n / 52 * 12))
    return n * 3 if unit.startswith("quarter") else n


def months_named(text: str) -> int | None:
    """The length of the period a question asks about, when it says one: "six months ended" (6), "first half"
    (6), "three months" or a quarter (3); None when it names none (a fiscal year's figure, or any).

    >>> months_named("net revenue for the six months ended June 30, 2023"), months_named("in Q2 of FY2024")
    (6, 3)
    >>> months_named("What was FY2019 revenue?") is None, months_named("in the first half of 2023")
    (True, 6)
    >>> months_named("Adding up the quarterly figures, what was net income for calendar year 2020?") is None
    True
    """
    m = PERIOD_LENGTH.search(text)
    if m is not None:
        return period_months(m)
    if _HALF.search(text):
        return 6
    if any(p.quarter for p in periods_named(text)):
        return 3
    if re.search(r"\bquarter(?:ly)?\b", text, re.IGNORECASE) and not _WHOLE_YEAR.search(text):
        return 3  # "quarterly revenue"; not "the quarterly figures added up for calendar year 2020"
    return None


_WHOLE_YEAR = re.compile(r"\b(?:calendar|full|whole|entire|fiscal)[- ]year\b|\bfor the year\b", re.IGNORECASE)


def periods_named(text: str) -> list[FiscalPeriod]:
    """The fiscal years and quarters a text names, in order of appearance (each once).

    >>> [str(p) for p in periods_named("FY2015 - FY2017 average, FY22, fiscal 2019 and Q2 of FY2024")]
    ['FY2015', 'FY2017', 'FY2022', 'FY2019', 'FY2024Q2']
    >>> [str(p) for p in periods_named("In 2021 Q1 vs the second fiscal quarter of 2023, FY2023Q1")]
    ['FY2021Q1', 'FY2023Q2', 'FY2023Q1']
    >>> [str(p) for p in periods_named("$2019 of 2,018 units, up 2017%, in 2018, and 2016.")]
    ['FY2018', 'FY2016']
    """
    found: list[tuple[int, FiscalPeriod]] = []
    taken: list[tuple[int, int]] = []
    for pattern, year_group, quarter_group in _PERIODS:
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            quarter = m[quarter_group] if quarter_group else None
            q = None if not quarter else int(quarter) if quarter.isdigit() else QUARTER_WORDS[quarter.lower()]
            found.append((m.start(), FiscalPeriod(full_year(m[year_group]), q)))
    found.sort(key=lambda x: x[0])
    return list(dict.fromkeys(p for _, p in found))


def years_named(text: str) -> list[int]:
    """The fiscal years a text names, in order, each once (a quarter's year included).

    >>> years_named("What is the FY2017 - FY2019 3 year average?"), years_named("in fiscal 2018 and 2019")
    ([2017, 2019], [2018, 2019])
    """
    return list(dict.fromkeys(p.year for p in periods_named(text)))


def parse_period(text: str) -> FiscalPeriod | None:
    """A document's period from its metadata ("FY2019", "2023Q2", "Q2 2023", "2019"): its first quarter, else
    its first year.

    >>> [str(parse_period(text)) for text in ("FY2019", "2023Q2", "Q4 2023", "n/a")]
    ['FY2019', 'FY2023Q2', 'FY2023Q4', 'None']
    """
    periods = periods_named(text)
    if not periods:
        return None
    quarters = [p for p in periods if p.quarter]
    return quarters[0] if quarters else periods[0]


_STATED_FY = re.compile(rf"\bFY ?({YEAR})\b")


def stated_fiscal_year(label: str) -> int | None:
    """The fiscal year a document label states with "FY" ("3M 10-K FY2018", "ACME 10-Q Q2 FY2023"), or None.

    >>> stated_fiscal_year("3M 10-K FY2018"), stated_fiscal_year("ACME 8-K quarter ended July 29, 2023")
    (2018, None)
    """
    m = _STATED_FY.search(label)
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------------------- a fiscal year's calendar

@dataclass(frozen=True, slots=True)
class FiscalCalendar:
    """When a filer's fiscal year ends and how it names it: ``end_month`` (1-12, the month a year-end date falls
    in, a date in a month's first week counting as the month before: February 1 ends a January year), and
    ``start_named``: a year ending early in a calendar year named by the year it begins in ("fiscal 2022 ended
    January 28, 2023"), not the year it ends in ("fiscal 2019 ended February 2, 2019")."""

    end_month: int
    start_named: bool = False

    def label(self, year: int, month: int, day: int | None = None) -> int:
        """The fiscal year a period ending on a date (``year``, ``month``, ``day``) belongs to, as the filer names it.

        >>> c = FiscalCalendar(1, start_named=True)
        >>> c.label(2023, 1, 28), c.label(2022, 10, 29)  # the year ended January 28, 2023; its third quarter
        (2022, 2022)
        >>> c = FiscalCalendar(1)
        >>> c.label(2023, 7, 29), c.label(2019, 2, 2), FiscalCalendar(6).label(2021, 9, 30)
        (2024, 2019, 2022)
        """
        ends = year + (1 if _year_end_month(month, day) > self.end_month else 0)
        return ends - 1 if self.start_named else ends


def _year_end_month(month: int, day: int | None) -> int:
    """The month a date closes, a date in a month's first week closing the month before (52-53 week years)."""
    return (month - 2) % 12 + 1 if day is not None and day <= 7 else month


_YEAR_ENDED = re.compile(r"\b(?:fiscal years?|years?|(?:52|53|fifty-two|fifty-three)[- ]weeks?(?:[- ]period)?)"
                         rf"\W+(?:[\w“”\"]+\W+){{0,3}}?(?:ended|ending)\s+(?:on\s+)?{DATE}", re.IGNORECASE)
_PAIRED = (re.compile(rf"\bfiscal\s+(?:year\s+)?({YEAR})\b[^.;]{{0,60}}?\b(?:ended|ending)\s+(?:on\s+)?{DATE}",
                      re.IGNORECASE),  # "fiscal 2022 ended January 28, 2023"
           re.compile(rf"{DATE}[^.;]{{0,40}}?\b(?:of|in)\s+fiscal\s+(?:year\s+)?({YEAR})\b", re.IGNORECASE))
_ENDED = re.compile(r"\bend(?:ed|ing)\b", re.IGNORECASE)
_FISCAL_NAMED = re.compile(rf"\bfiscal\s+(?:year\s+)?({YEAR})\b", re.IGNORECASE)
_AHEAD = re.compile(r"\b(?:outlook|expects?|expected|plans?|will|guidance|anticipates?|forecasts?|move into|"
                    r"moving into|looking ahead|target)\b", re.IGNORECASE)


def fiscal_calendar(texts: Iterable[str]) -> FiscalCalendar | None:
    """A filing's fiscal calendar read from its text, or None for a calendar year (or when it never says).

    The year-end month is the most common one of "fiscal year ended / 52 weeks ended <date>". A year ending early
    in a calendar year is start-named when the text pairs a fiscal year with a later year-end date ("fiscal 2022
    ended January 28, 2023"), or, with no such pair, when it speaks of the fiscal year before the latest year end
    and never, except looking ahead, of the latest ("During fiscal 2022 ..." beside "53 weeks ended January 28,
    2023", "fiscal 2023" only in an outlook).

    >>> fiscal_calendar(["Fiscal 2019 included 52 weeks. Years ended February 2, 2019 and February 3, 2018."])
    FiscalCalendar(end_month=1, start_named=False)
    >>> fiscal_calendar(["Results for the fifty-two-week period (fiscal year) ended January 28, 2023. During "
    ...                  "fiscal 2022 we opened stores. Sales rose in fiscal 2022. Fiscal 2023 outlook: it expects "
    ...                  "growth in fiscal 2023."])
    FiscalCalendar(end_month=1, start_named=True)
    >>> fiscal_calendar(["For the fiscal year ended June 30, 2016."]), fiscal_calendar(["Year ended December 31, 2021"])
    (FiscalCalendar(end_month=6, start_named=False), None)
    """
    months: dict[int, int] = {}
    latest = 0
    pairs: list[int] = []
    named: dict[int, int] = {}
    texts = list(texts)
    for text in texts:
        if not _ENDED.search(text):  # most passages name no period's end: skip them cheaply
            continue
        for m in _YEAR_ENDED.finditer(text):
            month = _year_end_month(month_number(m.group(1)), int(m.group(2)))
            months[month] = months.get(month, 0) + 1
            if month <= 2:
                latest = max(latest, int(m.group(3)))
        for m in _PAIRED[0].finditer(text):
            pairs.append(int(m.group(1)) - int(m.group(4)))
        for m in _PAIRED[1].finditer(text):
            pairs.append(int(m.group(4)) - int(m.group(3)))
    if not months:
        return None
    end_month = max(months, key=lambda k: (months[k], -k))
    if end_month == 12:
        return None
    if end_month > 2:
        return FiscalCalendar(end_month)
    if pairs:
        return FiscalCalendar(end_month, start_named=sorted(pairs)[len(pairs) // 2] < 0)
    for text in texts:
        for m in _FISCAL_NAMED.finditer(text):  # "fiscal 2022", except in a sentence looking ahead
            start = max(text.rfind(c, 0, m.start()) for c in ".;!?") + 1
            ends = [e for e in (text.find(c, m.end()) for c in ".;!?") if e >= 0]
            if not _AHEAD.search(text, start, min(ends) if ends else len(text)):
                named[int(m.group(1))] = named.get(int(m.group(1)), 0) + 1
    start_named = bool(latest) and not named.get(latest) and named.get(latest - 1, 0) >= 2
    return FiscalCalendar(end_month, start_named=start_named)
