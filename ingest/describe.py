"""What a document says about itself: its title and, for reports, issuer, form, year and period.

:func:`general_description` is the title any document gets; :class:`FilingsDescriber` is the filings
profile's :class:`~ingest.core.protocols.DocumentDescriber` (:func:`describe`, for the documents it
recognises as reports: those with an issuer, form or period).

:func:`describe` reads the first :data:`SCAN_CHARS` characters; it is pure, bounded, and never raises on odd
text. Document text is data: it is matched against fixed patterns, never interpreted.

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

import re
from pathlib import PurePath

from ingest.core.periods import DATE, QUARTER_WORDS, month_name, month_number
from ingest.core.records import Document
from ingest.core.text import one_line

SCAN_CHARS = 20_000  # describe() reads at most this much of the text
COVER_CHARS = 6_000  # an SEC cover page sits in the first pages
COVER_START_CHARS = 1_500  # ... and names the Commission at its top (a release citing it later is no cover)
HEADLINE_CHARS = 1_500  # an earnings release names itself in its first lines
MAX_DOC_LABEL_CHARS = 90
MIN_YEAR, MAX_YEAR = 1990, 2100  # a filing's own year: every cover also prints 1934 (the Exchange Act)

_SEC_COVER = re.compile(r"securities\s+and\s+exchange\s+commission", re.I)
_FORM = re.compile(r"\bFORM\s+(10-KT?|10-QT?|8-K|20-F|40-F|6-K|11-K|S-1|DEF\s+14A)\b", re.I)
_ANNUAL = re.compile(r"for\s+the\s+(?:fiscal\s+)?year\s+ended\s*:?\s*" + DATE, re.I)
_QUARTERLY = re.compile(r"for\s+the\s+quarterly\s+period\s+ended\s*:?\s*(?:.{0,40}?)" + DATE, re.I)
_REPORT_DATE = re.compile(r"date\s+of\s+report[^:]{0,60}:\s*" + DATE, re.I)
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
_ENDED = re.compile(r"\bended\s+" + DATE, re.I)
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


def quarter_label(month: str, day: str, year: str) -> tuple[str, bool]:
    """The period of a quarter ending on a date, and whether it is only a date (a fiscal quarter the
    text does not name): "Q2 2022" for a calendar quarter's last day, else "quarter ended <date>".

    >>> quarter_label("June", "30", "2022"), quarter_label("July", "29", "2023")
    (('Q2 2022', False), ('quarter ended July 29, 2023', True))
    """
    m = month_number(month)
    if (m, int(day)) in ((3, 31), (6, 30), (9, 30), (12, 31)):
        return f"Q{(m - 1) // 3 + 1} {year}", False
    return f"quarter ended {month_name(m)} {int(day)}, {year}", True


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
        month = month_name(month_number(report.group(1)))
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
    quarter = next((n for word, n in QUARTER_WORDS.items() if re.search(rf"\b{word}\b", what)), None)
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
                   period=f"{month_name(int(dated.group(2)))} {int(dated.group(3))}, {dated.group(1)}")
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

    >>> from ingest.core.records import Section
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


def general_description(doc: Document) -> dict[str, str]:
    """The description any document gets, whatever its domain: its title (the loader's, else the first heading
    or a title-like first line). Code has none.

    >>> general_description(Document("d", "a.txt", "Release Notes 2.0\\n\\nThis version adds...", "text"))
    {'title': 'Release Notes 2.0'}
    """
    if doc.kind == "code":
        return {}
    title = doc.meta.get("title") or first_title(doc)
    return {"title": one_line(title, MAX_DOC_LABEL_CHARS * 2)} if title else {}


REPORT_KEYS = ("issuer", "form", "period", "year")  # what makes a description a report's


class FilingsDescriber:
    """The filings profile's describer: :func:`describe` for a document it recognises as a report (an issuer,
    form or period found on its cover, in its headline, PDF title or file name), None for any other.

    >>> text = "SECURITIES AND EXCHANGE COMMISSION\\nFORM 10-K\\nFor the fiscal year ended June 30, 2022"
    >>> FilingsDescriber().describe(Document("d", "x.pdf", text, "pdf"))["form"]
    '10-K'
    >>> FilingsDescriber().describe(Document("d", "moby.txt", "Call me Ishmael.", "text")) is None
    True
    """

    name = "filings"

    def describe(self, doc: Document) -> dict[str, str] | None:
        facts = describe(doc)
        return facts if any(k in facts for k in REPORT_KEYS) else None
