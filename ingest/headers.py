"""Where a passage sits: its document's description and its section path, as one short header line.

A passage from page 87 of a filing does not say which company, year or section it comes from. The
header says it ("ACME, Inc. 10-K FY2019 · PART II › Item 8. Financial Statements"); it is embedded and
keyword-indexed with the passage text (:func:`ingest.split.embedding_text`), never quoted or cited.

Everything here is pure and bounded: :func:`describe` reads the first :data:`SCAN_CHARS` characters,
:func:`detect_sections` keeps at most :data:`MAX_SECTIONS` headings, and nothing raises on odd text.
Document text is data: it is matched against fixed patterns, never interpreted.

Description keys (each only where the file says it):

- ``title``: one already in ``meta`` (a PDF's metadata title, an HTML ``<title>``), else the first
  Markdown/HTML heading, else a title-like first line (not for SEC filings, whose first line is the
  Commission's name).
- ``issuer``: the registrant on an SEC cover page (the line before "(Exact name of registrant as specified
  in its charter)"), the company in an earnings-release headline, "Form 10-K for <issuer> filed ..." in the
  PDF title, else the first word of a report-like file name (``ACME_2019_10K.pdf``).
- ``form``: "10-K", "10-Q", "8-K", "20-F", ... or "earnings release".
- ``year`` and ``period``: the calendar year in which the reported period ends (as a 10-K cover says
  "For the fiscal year ended January 28, 2023": ``FY2023``). Periods read "FY2019", "Q4 FY2023" (a stated
  fiscal quarter), "Q2 2022" (a quarter ending on a calendar quarter's last day), "quarter ended July 29,
  2023" (any other quarter end), or the report date of an 8-K ("May 3, 2023"). A quarter the text only
  dates takes its fiscal label from the file name (``BESTBUY_2024Q2_10Q``) when the two agree within a year.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import PurePath

from ingest.core.records import Document, Passage, Section
from ingest.core.text import one_line

HEADER_SCHEME = 1  # recorded in the splitter identity: bump when the header text changes
SCAN_CHARS = 20_000  # describe() reads at most this much of the text
COVER_CHARS = 6_000  # an SEC cover page sits in the first pages
COVER_START_CHARS = 1_500  # ... and names the Commission at its top (a release citing it later is no cover)
HEADLINE_CHARS = 1_500  # an earnings release names itself in its first lines
MAX_SECTIONS = 3_000
MAX_HEADING_CHARS = 200  # longer lines are not headings
MAX_HEADER_CHARS = 200  # <= ~50 embedder tokens (measured: 240 let 10 of 3,724 filing passages overflow MiniLM 256)
MAX_DOC_LABEL_CHARS = 90
MAX_PATH_CHARS = 120
MAX_PATH_ITEM_CHARS = 70
MIN_YEAR, MAX_YEAR = 1990, 2100
RUNNING_HEADER_REPEATS = 3  # a capitals line seen more often than this is a page header, not a heading
TOC_RUN = 5  # this many headings each within TOC_GAP characters of the next: a table of contents
TOC_GAP = 120

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_MONTH = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|" \
         r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DATE = _MONTH + r"\s+(\d{1,2})\s*,?\s*(\d{4})"
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
             "q1": 1, "q2": 2, "q3": 3, "q4": 4}

_SEC_COVER = re.compile(r"securities\s+and\s+exchange\s+commission", re.I)
_FORM = re.compile(r"\bFORM\s+(10-KT?|10-QT?|8-K|20-F|40-F|6-K|11-K|S-1|DEF\s+14A)\b", re.I)
_ANNUAL = re.compile(r"for\s+the\s+(?:fiscal\s+)?year\s+ended\s*:?\s*" + _DATE, re.I)
_QUARTERLY = re.compile(r"for\s+the\s+quarterly\s+period\s+ended\s*:?\s*(?:.{0,40}?)" + _DATE, re.I)
_REPORT_DATE = re.compile(r"date\s+of\s+report[^:]{0,60}:\s*" + _DATE, re.I)
_REGISTRANT = re.compile(r"\(\s*exact\s+name\s+of\s+(?:the\s+)?registrants?\b", re.I)
_FILE_NUMBER = re.compile(r"commission\s+file\s+number:?\s*[\d-]+[ \t]*", re.I)
_DIGITS = re.compile(r"\d{3,}")
_SEPARATOR = re.compile(r"_{3,}|\s{3,}")
_LEGAL_SUFFIX = re.compile(r"(inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|l\.?p|n\.?v|s\.?a)\.?",
                           re.I)
_PDF_TITLE_FORM = re.compile(r"^form\s+(10-K|10-Q|8-K|20-F)\s+for\s+(.+?)\s+filed\b", re.I)
_HEADLINE = re.compile(
    r"((?:[A-Z][\w&.'’-]*,?\s+){0,4}[A-Z][\w&.'’-]*)\s+(?:Reports|Announces|Reported|Posts|Delivers)\s+"
    r"((?:[\w&,.'’-]+\s+){0,8}?)Results\b")
_ENDED = re.compile(r"\bended\s+" + _DATE, re.I)
_YEAR_RE = re.compile(r"(?<!\d)(\d{4})(?!\d)")

# file-name tokens: letters/digits runs, so "_" and "-" separate them
_NAME_FORM = re.compile(r"(?<![A-Za-z0-9])(10-?K|10-?Q|8-?K|20-?F|earnings)(?![A-Za-z0-9])", re.I)
_NAME_QUARTER = re.compile(r"(?<![A-Za-z0-9])(?:(\d{4})[-_ ]?Q([1-4])|Q([1-4])[-_ ]?(\d{4}))(?![A-Za-z0-9])", re.I)
_NAME_YEAR = re.compile(r"(?<![A-Za-z0-9])(\d{4})(?![0-9])")
_NAME_DATED = re.compile(r"dated[-_ ]?(\d{4})-(\d{2})-(\d{2})", re.I)
_NAME_WORDS = frozenset({"form", "annual", "report", "earnings", "dated", "quarterly", "filing", "sec", "the",
                         "fy", "q1", "q2", "q3", "q4", "10k", "10q", "8k", "20f", "draft", "final", "copy"})


# -- small pure pieces -------------------------------------------------------------------------------------

def year_ok(text: str) -> str | None:
    """``text`` as a year in [1990, 2100], else None.

    >>> year_ok("2019"), year_ok("1066"), year_ok("x")
    ('2019', None, None)
    """
    return text if text.isdigit() and MIN_YEAR <= int(text) <= MAX_YEAR else None


def month_number(name: str) -> int:
    """1-12 for a month name or abbreviation ("Sept." included).

    >>> month_number("Sept."), month_number("december")
    (9, 12)
    """
    key = name.lower().rstrip(".")[:3]
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(key))


def quarter_label(month: str, day: str, year: str) -> tuple[str, bool]:
    """The period of a quarter ending on a date, and whether it is only a date (a fiscal quarter the
    text does not name): "Q2 2022" for a calendar quarter's last day, else "quarter ended <date>".

    >>> quarter_label("June", "30", "2022"), quarter_label("July", "29", "2023")
    (('Q2 2022', False), ('quarter ended July 29, 2023', True))
    """
    m = month_number(month)
    if (m, int(day)) in ((3, 31), (6, 30), (9, 30), (12, 31)):
        return f"Q{(m - 1) // 3 + 1} {year}", False
    return f"quarter ended {MONTHS[m - 1].title()} {int(day)}, {year}", True


def _clean_name(line: str) -> str | None:
    """A registrant/issuer name from a line, or None when it does not look like one."""
    name = one_line(line).strip(" ,;:-–—_")
    if not (2 <= len(name) <= 100) or not any(ch.isalpha() for ch in name):
        return None
    if re.match(r"(commission\s+file|\(|for\s+the\s|or$|washington|form\s)", name, re.I):
        return None
    return name


# -- the document's description ----------------------------------------------------------------------------

def cover_facts(head: str) -> dict[str, str]:
    """Issuer, form, year and period from an SEC cover page (the first pages of a filing); {} when the
    text has none.

    >>> cover_facts("SECURITIES AND EXCHANGE COMMISSION\\nFORM 10-K\\nFor the fiscal year ended December 31, "
    ...             "2019\\nACME, INC.\\n(Exact name of registrant as specified in its charter)")
    {'form': '10-K', 'year': '2019', 'period': 'FY2019', 'issuer': 'ACME, INC.'}
    """
    head = head[:COVER_CHARS]
    if not _SEC_COVER.search(head[:COVER_START_CHARS]):
        return {}
    flat = " ".join(head.split())
    out: dict[str, str] = {}
    if form := _FORM.search(flat[:COVER_START_CHARS * 2]):
        out["form"] = " ".join(form.group(1).upper().split())
    if (annual := _ANNUAL.search(flat)) and (year := year_ok(annual.group(3))):
        out.update(year=year, period=f"FY{year}")
    elif (quarter := _QUARTERLY.search(flat)) and (year := year_ok(quarter.group(3))):
        period, dated_only = quarter_label(*quarter.groups())
        out.update(year=year, period=period)
        if dated_only:
            out["_dated"] = "1"
    elif (report := _REPORT_DATE.search(flat)) and (year := year_ok(report.group(3))):
        month = MONTHS[month_number(report.group(1)) - 1].title()
        out.update(year=year, period=f"{month} {int(report.group(2))}, {year}")
    if issuer := registrant(head):
        out["issuer"] = issuer
    return out


def registrant(head: str) -> str | None:
    """The name on the line(s) before "(Exact name of registrant as specified in its charter)", or on the
    same line before it; without that caption, a name-like line right after "Commission File Number ...".

    >>> registrant("Commission File Number 1-15839\\nACME CORP.\\n \\n(Exact name of registrant as specified)")
    'ACME CORP.'
    >>> registrant("File Number 001-37622\\nSQUARE,\\nINC.\\n(Exact name of registrant as specified in its charter)")
    'SQUARE, INC.'
    >>> registrant("Commission File Number 001-37622 _____ SQUARE, INC.\\n(Exact name of registrant as specified)")
    'SQUARE, INC.'
    >>> registrant("FORM 10-K\\nCommission File Number 001-37845\\nMICROSOFT CORPORATION\\nWASHINGTON 91-1144442")
    'MICROSOFT CORPORATION'
    >>> registrant("no cover here") is None
    True
    """
    found = _REGISTRANT.search(head)
    if not found:
        after = _FILE_NUMBER.search(head)
        line = head[after.end():].lstrip("\n").split("\n", 1)[0] if after else ""
        return _clean_name(line) if line.strip() and not _DIGITS.search(line) else None
    line_start = head.rfind("\n", 0, found.start()) + 1
    same = _SEPARATOR.split(head[line_start:found.start()])[-1]
    if name := _clean_name(same):
        return name
    lines = [line for line in head[:line_start].split("\n")[-6:] if line.strip()]
    name = _SEPARATOR.split(_FILE_NUMBER.sub("", lines.pop()))[-1] if lines else ""
    while lines and (_LEGAL_SUFFIX.fullmatch(name.strip()) or lines[-1].rstrip().endswith(",")) and len(name) < 80:
        name = f"{lines.pop().strip()} {name.strip()}"
    return _clean_name(name)


def earnings_facts(head: str) -> dict[str, str]:
    """Issuer, form, year and period from an earnings-release headline ("ACME Reports Fourth Quarter
    Fiscal 2022 Results"). The year is that of the period's end date when the release dates it ("... ended
    January 28, 2023"), as on a 10-K cover.

    >>> earnings_facts("March 9, 2023 Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results ... the "
    ...                "fifty-two-week period ended January 28, 2023")
    {'form': 'earnings release', 'title': 'Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results', \
'issuer': 'Ulta Beauty', 'year': '2023', 'period': 'Q4 FY2023'}
    >>> earnings_facts("PepsiCo Reports First-Quarter 2023 Results; Raises Guidance")["period"]
    'Q1 FY2023'
    """
    flat = " ".join(head[:HEADLINE_CHARS * 2].split())
    found = _HEADLINE.search(flat[:HEADLINE_CHARS])
    if not found:
        return {}
    issuer = _clean_name(found.group(1))
    out = {"form": "earnings release", "title": one_line(found.group(0), MAX_DOC_LABEL_CHARS)}
    if issuer:
        out["issuer"] = issuer
    what = found.group(2).lower()
    year = next((y for y in _YEAR_RE.findall(what) if year_ok(y)), None)
    ended = _ENDED.search(flat, found.end())
    if ended and (end_year := year_ok(ended.group(3))) and (year is None or abs(int(end_year) - int(year)) <= 1):
        year = end_year
    if year is None:
        return out
    out["year"] = year
    quarter = next((n for word, n in _ORDINALS.items() if re.search(rf"\b{word}\b", what)), None)
    out["period"] = f"Q{quarter} FY{year}" if quarter else f"FY{year}"
    return out


def title_facts(title: str) -> dict[str, str]:
    """Form and issuer from a PDF title such as "Form 10-K for Microsoft Corp filed 07/27/2023".

    >>> title_facts("Form 10-K for Microsoft Corp filed 07/27/2023")
    {'form': '10-K', 'issuer': 'Microsoft Corp'}
    >>> title_facts("Annual report")
    {}
    """
    found = _PDF_TITLE_FORM.match(one_line(title))
    if not found:
        return {}
    out = {"form": found.group(1).upper()}
    if issuer := _clean_name(found.group(2)):
        out["issuer"] = issuer
    return out


def filename_facts(source: str) -> dict[str, str]:
    """Issuer, form, year and period from a report-like file name (one with a form or a quarter token);
    {} for other names, so ``notes_2021.md`` says nothing.

    >>> filename_facts("data/JPMORGAN_2022Q2_10Q.pdf")
    {'form': '10-Q', 'year': '2022', 'period': 'Q2 FY2022', 'issuer': 'JPMORGAN'}
    >>> filename_facts("PEPSICO_2023_8K_dated-2023-05-05.pdf")
    {'form': '8-K', 'year': '2023', 'period': 'May 5, 2023', 'issuer': 'PEPSICO'}
    >>> filename_facts("ACME_2019_10K.pdf")["period"], filename_facts("notes_2021.md")
    ('FY2019', {})
    """
    stem = PurePath(source.replace("\\", "/")).stem
    form = _NAME_FORM.search(stem)
    quarter = _NAME_QUARTER.search(stem)
    if not form and not quarter:
        return {}
    out: dict[str, str] = {}
    if form:
        token = form.group(1).upper().replace("-", "")
        out["form"] = "earnings release" if token == "EARNINGS" else f"{token[:-1]}-{token[-1]}"
    dated = _NAME_DATED.search(stem)
    if quarter and (year := year_ok(quarter.group(1) or quarter.group(4))):
        out.update(year=year, period=f"Q{quarter.group(2) or quarter.group(3)} FY{year}")
    elif dated and year_ok(dated.group(1)) and 1 <= int(dated.group(2)) <= 12 and 1 <= int(dated.group(3)) <= 31:
        out.update(year=dated.group(1),
                   period=f"{MONTHS[int(dated.group(2)) - 1].title()} {int(dated.group(3))}, {dated.group(1)}")
    else:
        year = next((y for y in _NAME_YEAR.findall(stem) if year_ok(y)), None)
        if year:
            out.update(year=year)
            if out.get("form") in ("10-K", "20-F"):
                out["period"] = f"FY{year}"
    first = re.split(r"[\W_]+", stem, maxsplit=1)[0]
    if first.isalpha() and len(first) >= 2 and first.lower() not in _NAME_WORDS:
        out["issuer"] = first
    return out


def first_title(doc: Document) -> str | None:
    """The first level-1 (else any) section title, else a title-like first line of a text document.

    >>> first_title(Document("d", "a.md", "# Guide\\n\\ntext", "markdown", sections=(Section(1, "Guide", 0),)))
    'Guide'
    >>> first_title(Document("d", "a.txt", "Release Notes 2.0\\n\\nThis version adds...", "text"))
    'Release Notes 2.0'
    >>> first_title(Document("d", "a.txt", "This is a sentence that ends.\\nMore.", "text")) is None
    True
    """
    if doc.sections:
        top = min(s.level for s in doc.sections)
        return one_line(next(s.title for s in doc.sections if s.level == top), MAX_DOC_LABEL_CHARS)
    for line in doc.text[:2000].split("\n")[:5]:
        line = line.strip().lstrip("#").strip()
        if not line:
            continue
        words = line.split()
        if 3 <= len(line) <= 100 and len(words) <= 14 and line[-1] not in ".,;:!?" and \
                sum(ch.isalpha() for ch in line) >= len(line) / 2:
            return line
        return None
    return None


def describe(doc: Document) -> dict[str, str]:
    """What the document says about itself: title, and for reports issuer, form, year and period.

    Sources in order of trust: the SEC cover page, an earnings-release headline, the PDF title, the file
    name. Reads at most :data:`SCAN_CHARS` characters; never raises on odd text. Code has no description.

    >>> text = ("UNITED STATES\\nSECURITIES AND EXCHANGE COMMISSION\\nFORM 10-Q\\nFor the quarterly period ended "
    ...         "July 29, 2023\\nBEST BUY CO., INC.\\n(Exact name of registrant as specified in its charter)")
    >>> d = describe(Document("d", "BESTBUY_2024Q2_10Q.pdf", text, "pdf"))
    >>> d["issuer"], d["form"], d["period"], d["year"]
    ('BEST BUY CO., INC.', '10-Q', 'Q2 FY2024', '2024')
    """
    if doc.kind == "code":
        return {}
    head = doc.text[:SCAN_CHARS]
    meta_title = doc.meta.get("title", "")
    cover = cover_facts(head)
    sources = [cover, {} if cover.get("form") else earnings_facts(head), title_facts(meta_title),
               filename_facts(doc.source)]
    out: dict[str, str] = {}
    for facts in sources:
        for key, value in facts.items():
            out.setdefault(key, value)
    named = sources[-1]
    if out.pop("_dated", None) and "Q" in named.get("period", "") and \
            abs(int(named["year"]) - int(out["year"])) <= 1:  # the file name names the fiscal quarter
        out.update(year=named["year"], period=named["period"])
    title = meta_title or out.get("title") or (None if cover else first_title(doc))
    out.pop("title", None)
    if title:
        out["title"] = one_line(title, MAX_DOC_LABEL_CHARS * 2)
    return out


# -- sections ------------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_PART = re.compile(r"^(?:PART|Part)\s+(I{1,3}|IV|V)\b\.?(?:\s*[-–—:.]?\s*(.{0,100}))?$")
_ITEM = re.compile(r"^(?:ITEM|Item)\s+(\d{1,2}[A-Ca-c]?)\s*[.:—–-]?\s*(.{0,190})$")
_NOTE = re.compile(r"^(?:NOTE|Note)\s+(\d{1,2})\s*[.:—–-]\s*([A-Z].{2,100})$")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.?)\s+([A-Z][A-Za-z].{1,90})$")
_PAGE_REF = re.compile(r"\s(?:[A-Z]-)?\d{1,3}$")  # "Item 7. Management's Discussion 35", "SIGNATURES E-5"


def _title_case(words: Sequence[str]) -> bool:
    long = [w for w in words if len(w) > 3]
    return not long or sum(w[0].isupper() for w in long) >= 0.6 * len(long)


def heading_level(line: str) -> int | None:
    """The level of a heading line in plain or PDF text, or None for a line that is not one.

    PART I-V: 1; "Item 7." lines: 2; capitals lines ("CONSOLIDATED BALANCE SHEETS"): 3; "Note 3." lines: 4;
    numbered "3.2 Results" (or "3. Results" in title case): 3 plus the number's depth, so a filing's numbered
    notes sit under its Item and statement headings. Levels only order headings: a plain paper's "1. Intro"
    and "1.1 Scope" nest the same at 4 and 5. Table-of-contents lines (ending with a page number) and
    sentences are not headings.

    >>> [heading_level(t) for t in ("PART II", "Item 7. Management's Discussion and Analysis",
    ...  "CONSOLIDATED BALANCE SHEETS", "Note 3. Income Taxes", "3.2 Results", "2. Related Work")]
    [1, 2, 3, 4, 5, 4]
    >>> [heading_level(t) for t in ("Item 7. Management's Discussion 35", "Total assets $ 19,845",
    ...  "1 Please refer to the glossary.", "ACME, INC. AND", "The cat sat.", "2019 Annual Results", "SIGNATURES E-5")]
    [None, None, None, None, None, None, None]
    """
    line = line.strip()
    if not (2 <= len(line) <= MAX_HEADING_CHARS) or line.endswith((",", ";")):
        return None
    if _PART.match(line):
        return 1 if not _PAGE_REF.search(line) or line.split()[-1] in ("I", "II", "III", "IV", "V") else None
    if item := _ITEM.match(line):
        title = item.group(2)
        return 2 if not _PAGE_REF.search(line) and (not title or title[0].isupper()) else None
    if _NOTE.match(line):
        return None if _PAGE_REF.search(line) or line.endswith(".") else 4
    if len(line) > 100 or "$" in line or "%" in line or line.endswith("."):
        return None
    words = line.split()
    if numbered := _NUMBERED.match(line):
        depth = numbered.group(1).count(".") + 1
        first = int(numbered.group(1).split(".")[0])
        if first == 0 or first > 30 or len(words) > 12 or _PAGE_REF.search(line) or line.endswith(":"):
            return None
        if depth > 1 or (numbered.group(2) and _title_case(words[1:])):
            return 3 + depth
        return None
    letters = [ch for ch in line if ch.isalpha()]
    if (2 <= len(words) <= 12 and len(line) >= 6 and len(letters) >= 0.6 * len(line.replace(" ", ""))
            and not any(ch.islower() for ch in line) and any(len(w) >= 4 and w.isalpha() for w in words)
            and not _PAGE_REF.search(line) and words[-1] not in ("AND", "OF", "THE", "FOR", "IN", "TO")):
        return 3
    return None


def markdown_sections(text: str) -> list[Section]:
    """ATX (``## Title``) and setext (``Title`` over ``===``/``---``) headings outside fenced code.

    >>> [(s.level, s.title, s.start) for s in markdown_sections("# A\\n\\n```\\n# no\\n```\\nB\\n---\\nx")]
    [(1, 'A', 0), (2, 'B', 18)]
    """
    out: list[Section] = []
    fenced = False
    offset = 0
    prev: tuple[int, str] | None = None  # (start, line) of the previous line when it may be a setext title
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            prev = None
        elif not fenced:
            if atx := _ATX.match(line):
                out.append(Section(len(atx.group(1)), one_line(atx.group(2)), offset))
                prev = None
            elif prev is not None and (under := _SETEXT.match(line)):
                out.append(Section(1 if under.group(1)[0] == "=" else 2, one_line(prev[1]), prev[0]))
                prev = None
            else:
                candidate = line.strip() and len(line) <= MAX_HEADING_CHARS and not line.lstrip().startswith(
                    ("-", "*", "+", ">", "|"))
                prev = (offset, line) if candidate else None
        if len(out) >= MAX_SECTIONS:
            break
        offset += len(line) + 1
    return out


def text_sections(text: str) -> list[Section]:
    """Heading lines of plain, HTML or PDF text (:func:`heading_level`), without running page headers
    (capitals lines repeated more than :data:`RUNNING_HEADER_REPEATS` times), a heading repeated before any
    other (the later one is kept) or a table of contents (:data:`TOC_RUN` headings in a row with almost no text
    between them).

    >>> text = "PART I\\nItem 1. Business\\nWe sell.\\n\\nCONSOLIDATED BALANCE SHEETS\\nCash 5"
    >>> [(s.level, s.title, s.start) for s in text_sections(text)]
    [(1, 'PART I', 0), (2, 'Item 1. Business', 7), (3, 'CONSOLIDATED BALANCE SHEETS', 34)]
    """
    found: list[Section] = []
    offset = 0
    for line in text.split("\n"):
        if len(line) <= MAX_HEADING_CHARS * 2 and (level := heading_level(line)) is not None:
            found.append(Section(level, one_line(line), offset + len(line) - len(line.lstrip())))
        offset += len(line) + 1
    repeats = Counter(s.title for s in found if s.level == 3)
    kept: list[Section] = []
    for s in found:
        if s.level == 3 and repeats[s.title] > RUNNING_HEADER_REPEATS:
            continue
        if kept and (kept[-1].level, kept[-1].title) == (s.level, s.title):
            kept.pop()  # the same heading again before any other (a contents entry, then the heading): keep the last
        kept.append(s)
    return drop_runs(kept)[:MAX_SECTIONS]


def drop_runs(sections: list[Section], *, run: int = TOC_RUN, gap: int = TOC_GAP) -> list[Section]:
    """Sections without runs of ``run`` or more headings each within ``gap`` characters of the next (a table
    of contents, or a list of capitals lines in a table).

    >>> secs = [Section(2, f"Item {i}", i * 20) for i in range(6)] + [Section(2, "Item 9", 5000)]
    >>> [s.title for s in drop_runs(secs)]
    ['Item 9']
    """
    out: list[Section] = []
    group: list[Section] = []
    for s in sections:
        if group and s.start - group[-1].start > gap:
            out.extend(group if len(group) < run else ())
            group = []
        group.append(s)
    out.extend(group if len(group) < run else ())
    return out


def detect_sections(doc: Document) -> tuple[Section, ...]:
    """Headings found in a document's text: Markdown headings for Markdown, heading lines otherwise; none
    for code (its passages carry their symbol path). At most :data:`MAX_SECTIONS`.

    >>> detect_sections(Document("d", "a.md", "# Top\\n## Sub\\ntext", "markdown"))
    (Section(level=1, title='Top', start=0), Section(level=2, title='Sub', start=6))
    """
    if doc.kind == "code":
        return ()
    if doc.kind == "markdown":
        return tuple(markdown_sections(doc.text))
    return tuple(text_sections(doc.text))


_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.{0,2000}?)</h\1\s*>", re.I | re.S)
_HTML_TITLE = re.compile(r"<title\b[^>]*>(.{0,1000}?)</title\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]{0,2000}>")
HTML_LOCATE_WINDOW = 200_000  # a heading is looked for this far after the previous one


def html_outline(markup: str) -> tuple[str, list[tuple[int, str]]]:
    """The ``<title>`` and the ``<h1>``-``<h6>`` headings (level, text) of an HTML page, in order.

    >>> html_outline("<title>Guide &amp; FAQ</title><h1>Intro</h1><p>x</p><h2>Set <b>up</b></h2>")
    ('Guide & FAQ', [(1, 'Intro'), (2, 'Set up')])
    """
    title = _HTML_TITLE.search(markup[:65536])
    headings = []
    for found in _HTML_HEADING.finditer(markup):
        text = one_line(html.unescape(_TAG.sub(" ", found.group(2))))
        if text:
            headings.append((int(found.group(1)), text))
        if len(headings) >= MAX_SECTIONS:
            break
    return (one_line(html.unescape(_TAG.sub(" ", title.group(1)))) if title else ""), headings


def locate_headings(text: str, headings: Iterable[tuple[int, str]]) -> tuple[Section, ...]:
    """Sections for headings found, in order, in ``text`` (each at a line start within
    :data:`HTML_LOCATE_WINDOW` characters of the previous); a heading not found is left out.

    >>> locate_headings("Intro\\nsome text\\nSet up\\nmore", [(1, "Intro"), (2, "Gone"), (2, "Set up")])
    (Section(level=1, title='Intro', start=0), Section(level=2, title='Set up', start=16))
    """
    out: list[Section] = []
    cursor = 0
    for level, title in headings:
        pos = text.find(title, cursor, cursor + HTML_LOCATE_WINDOW)
        while pos > 0 and text[pos - 1] != "\n":
            pos = text.find(title, pos + 1, cursor + HTML_LOCATE_WINDOW)
        if pos >= 0:
            out.append(Section(level, title, pos))
            cursor = pos + len(title)
    return tuple(out)


class SectionIndex:
    """Section paths by offset: the enclosing headings of any character, by binary search.

    >>> idx = SectionIndex([Section(1, "A", 0), Section(2, "A.1", 10), Section(2, "A.2", 20), Section(1, "B", 30)])
    >>> idx.path(5), idx.path(15), idx.path(25), idx.path(35)
    (('A',), ('A', 'A.1'), ('A', 'A.2'), ('B',))
    """

    def __init__(self, sections: Iterable[Section]) -> None:
        ordered = sorted(sections, key=lambda s: s.start)
        self.starts = [s.start for s in ordered]
        self.paths: list[tuple[str, ...]] = []
        stack: list[Section] = []
        for s in ordered:
            while stack and stack[-1].level >= s.level:
                stack.pop()
            stack.append(s)
            self.paths.append(tuple(x.title for x in stack))

    def path(self, offset: int) -> tuple[str, ...]:
        """Titles of the headings enclosing ``offset``, outermost first (() before the first heading)."""
        i = bisect_right(self.starts, offset) - 1
        return self.paths[i] if i >= 0 else ()


def section_path(sections: Sequence[Section], offset: int) -> tuple[str, ...]:
    """The enclosing heading titles of ``offset``, by level (for many offsets use :class:`SectionIndex`).

    >>> section_path([Section(1, "Part II", 0), Section(2, "Item 8", 5), Section(3, "Notes", 9)], 7)
    ('Part II', 'Item 8')
    """
    return SectionIndex(sections).path(offset)


# -- the header line ---------------------------------------------------------------------------------------

def document_label(meta: Mapping[str, str]) -> str:
    """The document part of a header: "issuer form period" for reports, else the title.

    >>> document_label({"issuer": "3M", "form": "10-K", "period": "FY2018", "year": "2018", "title": "x"})
    '3M 10-K FY2018'
    >>> document_label({"title": "User Guide"}), document_label({"extractor": "pdfium"})
    ('User Guide', '')
    """
    if meta.get("issuer"):
        period = meta.get("period") or meta.get("year", "")
        parts = [meta["issuer"], meta.get("form", ""), period]
    else:
        parts = [meta.get("title", "")]
        if meta.get("form") or meta.get("period"):
            parts += [meta.get("form", ""), meta.get("period", "")]
    return one_line(" ".join(p for p in parts if p), MAX_DOC_LABEL_CHARS)


def path_label(path: Sequence[str]) -> str:
    """Section titles joined by " › ", outer ones dropped until it fits :data:`MAX_PATH_CHARS`.

    >>> path_label(["PART II", "Item 8. Financial Statements", "CONSOLIDATED BALANCE SHEETS"])
    'PART II › Item 8. Financial Statements › CONSOLIDATED BALANCE SHEETS'
    >>> path_label(["A" * 60, "B" * 60, "C"])
    'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB › C'
    """
    items = [one_line(t, MAX_PATH_ITEM_CHARS) for t in path if t.strip()]
    while len(items) > 1 and len(" › ".join(items)) > MAX_PATH_CHARS:
        items.pop(0)
    return one_line(" › ".join(items), MAX_PATH_CHARS)


def passage_header(meta: Mapping[str, str], path: Sequence[str], extra: str = "") -> str:
    """One short line naming where a passage sits: document, section path, and ``extra`` (a table's caption
    and header row), joined by " · ", at most :data:`MAX_HEADER_CHARS` characters.

    >>> passage_header({"issuer": "3M", "form": "10-K", "period": "FY2018"},
    ...                ["Item 8. Financial Statements", "Consolidated Statement of Cash Flows"])
    '3M 10-K FY2018 · Item 8. Financial Statements › Consolidated Statement of Cash Flows'
    >>> passage_header({}, [], "Revenue | 2019 | 2018"), passage_header({}, [])
    ('Revenue | 2019 | 2018', '')
    >>> passage_header({"title": "Guide"}, ["Guide", "Install"])
    'Guide · Install'
    """
    label = document_label(meta)
    path = list(path)
    while path and one_line(path[0]).lower() == label.lower():  # a Markdown title heading: named once
        path.pop(0)
    parts = [label, path_label(path), one_line(extra)]
    return one_line(" · ".join(p for p in parts if p), MAX_HEADER_CHARS)


def add_headers(doc: Document, passages: Iterable[Passage]) -> list[Passage]:
    """Passages with their header set from the document's description and section path; a header already
    there (a table's caption and header row) is kept after them. Code passages are left as they are.
    """
    index = SectionIndex(doc.sections)
    out: list[Passage] = []
    for p in passages:
        if p.kind == "code":
            out.append(p)
            continue
        header = passage_header(doc.meta, index.path(p.chars[0]), p.header)
        out.append(replace(p, header=header) if header != p.header else p)
    return out


def describe_document(doc: Document, *, markup: str | None = None) -> Document:
    """``doc`` with its description merged under the ``meta`` it has (what the loader set wins) and its
    sections detected when it has none; ``markup`` (an HTML page's source) gives the ``<title>`` and
    ``<h1>``-``<h6>`` headings. Code documents are returned as they are.
    """
    if doc.kind == "code":
        return doc
    meta = dict(doc.meta)
    sections = doc.sections
    if markup is not None:
        title, headings = html_outline(markup)
        if title:
            meta.setdefault("title", title)
        if not sections:
            sections = locate_headings(doc.text, headings)
    if not sections:
        sections = detect_sections(doc)
    described = replace(doc, meta=meta, sections=sections)
    return replace(described, meta={**describe(described), **meta})
