"""Routing: send a question that names an issuer and a period to the matching filings first.

:func:`route` is pure: it reads the question and each document's metadata (``meta`` "issuer", "form",
"period", "year", "title", and the file name, e.g. ``ADOBE_2016_10K``) and returns a
:class:`RouteDecision`. It is *confident* when the question names one or two issuers it can find among
the documents; then the search runs inside the routed documents. Otherwise (no issuer named, or too
many) it is unsure and the whole corpus is searched.

Names are compared normalised (lowercase, alphanumerics only, legal suffixes such as "Inc." dropped), so
"Activision Blizzard" matches the issuer "ACTIVISION BLIZZARD, INC." and the file stem
``ACTIVISIONBLIZZARD_2019_10K``; an all-capitals ticker-like word ("JPM") matches a name it begins.

Periods: a 10-K for FY2019 also reports FY2018 and FY2017, so a question is routed to the filings of the
*latest* year it names (a range "FY2015 - FY2017" is about the FY2017 filing) plus the next year's annual
filing of the same issuer; a named quarter ("Q2 2023", "2021 Q1", "second fiscal quarter of 2023")
prefers that quarter's filing, and a period shorter than a year named by its length and end date ("the three
months ended July 29, 2023") prefers the quarterly filings of that year or the next (a fiscal year that ends early
in the next calendar year labels its quarters by that next year). A question naming only an issuer goes to all of
that issuer's documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from ingest.core.periods import YEAR, FiscalPeriod, months_named, parse_period, periods_named
from ingest.core.records import RouteDecision

LEGAL_SUFFIXES = frozenset({"inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "plc",
                            "llc", "lp", "sa", "ag", "nv", "holdings", "group"})
# names that are ordinary words cannot route ("3M", "GE" and "HP" can: two characters are enough otherwise)
_COMMON = frozenset({"the", "and", "of", "for", "inc", "report", "annual", "notes", "data", "document", "file", "an",
                     "as", "at", "be", "by", "in", "is", "it", "no", "on", "or", "to", "us", "we"})
MAX_ISSUERS = 2  # more issuers named than this: routing is unsure


@dataclass(frozen=True)
class DocInfo:
    """What routing knows of one document: its id, the names it answers to, its period and form."""

    doc_id: str
    label: str  # for the reason: the file stem
    names: frozenset[str]  # normalised issuer names and aliases
    issuer: str | None  # the canonical normalised issuer (groups filings of one company)
    period: FiscalPeriod | None
    form: str = ""


def normalise(name: str) -> str:
    """Lowercase alphanumerics of a company name, legal suffixes and a leading "the" dropped.

    >>> normalise("ACTIVISION BLIZZARD, INC."), normalise("The Kraft Heinz Company"), normalise("Best Buy Co., Inc.")
    ('activisionblizzard', 'kraftheinz', 'bestbuy')
    """
    words = re.findall(r"[a-z0-9]+", name.lower().replace("&", " "))
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if words and words[0] == "the":
        words = words[1:]
    return "".join(words)


def stem_parts(source: str) -> tuple[str, FiscalPeriod | None, str]:
    """Issuer token, period and form from a filing's file name ``ISSUER_YEAR[Qn]_FORM[...]``; the issuer is
    "" when the name does not look like a filing (no year right after the first part).

    >>> stem_parts("reports/BESTBUY_2024Q2_10Q.pdf")
    ('bestbuy', FiscalPeriod(year=2024, quarter=2), '10Q')
    >>> stem_parts("FOOTLOCKER_2022_8K_dated-2022-05-20.pdf")
    ('footlocker', FiscalPeriod(year=2022, quarter=None), '8K')
    >>> stem_parts("notes.txt")
    ('', None, '')
    """
    parts = PurePath(source).stem.split("_")
    if len(parts) < 2:
        return "", None, ""
    m = re.fullmatch(rf"({YEAR})(?:Q([1-4]))?", parts[1], re.IGNORECASE)
    if not m:
        return "", None, ""
    period = FiscalPeriod(int(m[1]), int(m[2]) if m[2] else None)
    return normalise(parts[0]), period, (parts[2] if len(parts) > 2 else "")


def doc_info(doc_id: str, source: str, meta: Mapping[str, str]) -> DocInfo:
    """Routing facts of one document from its metadata, falling back to its file name."""
    stem_issuer, stem_period, stem_form = stem_parts(source)
    names = set()
    issuer = normalise(meta.get("issuer", "")) or stem_issuer or None
    for name in (issuer, stem_issuer):
        if name and len(name) >= 2 and name not in _COMMON:
            names.add(name)
    period = None
    if meta.get("period"):
        period = parse_period(meta["period"])
    if period is None and str(meta.get("year", "")).strip().isdigit():
        period = FiscalPeriod(int(str(meta["year"]).strip()))
    period = period or stem_period
    return DocInfo(doc_id, PurePath(source).stem, frozenset(names), issuer if names else None, period,
                   meta.get("form") or stem_form)


def written_tokens(question: str) -> list[str]:
    """Alphanumeric words of a question as written, possessive "'s" dropped.

    >>> written_tokens("What is Adobe's FY22 margin?")
    ['What', 'is', 'Adobe', 'FY22', 'margin']
    """
    return re.findall(r"[A-Za-z0-9]+", re.sub(r"['’]s\b", "", question, flags=re.IGNORECASE))


def question_tokens(question: str) -> list[str]:
    """Lowercase alphanumeric words of a question, possessive "'s" dropped.

    >>> question_tokens("What is Adobe's FY22 margin?")
    ['what', 'is', 'adobe', 'fy22', 'margin']
    """
    return [w.lower() for w in written_tokens(question)]


def find_issuers(question: str, docs: Sequence[DocInfo], *, span: int = 4) -> dict[str, set[str]]:
    """The issuers a question names: issuer -> doc ids. A name matches 1-``span`` consecutive question words
    joined ("Best Buy" -> "bestbuy"); an all-capitals word of 3+ letters matches a name it begins ("JPM"). Where
    the question writes some issuer's name with a capital, a name it only writes in lower case is an ordinary
    word ("Ulta Beauty's gross square footage" names no "Square").

    >>> docs = [DocInfo("u", "ULTA_2023_10K", frozenset({"ultabeauty"}), "ultabeauty", None),
    ...         DocInfo("s", "SQUARE_2016_10K", frozenset({"square"}), "square", None)]
    >>> sorted(find_issuers("Ulta Beauty's total gross square footage in 2022?", docs))
    ['ultabeauty']
    >>> sorted(find_issuers("square 2016 revenue vs ulta beauty", docs)), sorted(find_issuers("Square's revenue", docs))
    (['square', 'ultabeauty'], ['square'])
    """
    by_name: dict[str, set[str]] = {}
    for d in docs:
        for name in d.names:
            by_name.setdefault(name, set()).add(d.doc_id)
    written = written_tokens(question)
    words = [w.lower() for w in written]
    found: dict[str, set[str]] = {}
    capitalised: set[str] = set()  # names written as names somewhere in the question
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + span) + 1):
            joined = "".join(words[i:j])
            if joined in by_name:
                found.setdefault(joined, set()).update(by_name[joined])
                if not all(w.islower() for w in written[i:j]):
                    capitalised.add(joined)
    if capitalised:  # a name written as a name: lower-case words naming another issuer are ordinary words
        found = {name: ids for name, ids in found.items() if name in capitalised}
    for acronym in re.findall(r"\b[A-Z]{3,}\b", question):
        low = acronym.lower()
        for name, ids in by_name.items():
            if name != low and name.startswith(low):
                found.setdefault(name, set()).update(ids)
    return _merge_aliases(found)


def _merge_aliases(found: dict[str, set[str]]) -> dict[str, set[str]]:
    """One entry per company: two names that matched overlapping documents are one issuer."""
    merged: list[tuple[str, set[str]]] = []
    for name, ids in sorted(found.items(), key=lambda x: (-len(x[1]), x[0])):
        for _, group in merged:
            if group & ids:
                group |= ids
                break
        else:
            merged.append((name, set(ids)))
    return dict(merged)


ANNUAL_FORMS = frozenset({"10k", "10kt", "20f", "40f", "annual", "annualreport"})


def is_annual(doc: DocInfo) -> bool:
    """Whether a document is an annual report (it restates the previous year's figures): no quarter, and an
    annual form or none known.

    >>> is_annual(DocInfo("a", "X_2019_10K", frozenset(), None, FiscalPeriod(2019), "10-K"))
    True
    >>> is_annual(DocInfo("b", "X_2019_8K", frozenset(), None, FiscalPeriod(2019), "8K"))
    False
    """
    form = re.sub(r"[^a-z0-9]", "", doc.form.lower())
    return doc.period is not None and doc.period.quarter is None and (not form or form in ANNUAL_FORMS)


def _pick_period(docs: Sequence[DocInfo], periods: Sequence[FiscalPeriod],
                 months: int | None = None) -> tuple[list[DocInfo], str]:
    """The filings of the latest period named (and the next year's annual filing), best first; why. ``months``:
    the length of the period the question names (3, 6 or 9: its quarterly filings of that year or the next come
    first).

    >>> docs = [DocInfo("k", "X_2023_10K", frozenset(), None, FiscalPeriod(2023), "10-K"),
    ...         DocInfo("q", "X_2024Q2_10Q", frozenset(), None, FiscalPeriod(2024, 2), "10-Q")]
    >>> [d.doc_id for d in _pick_period(docs, [FiscalPeriod(2023)], months=3)[0]]
    ['q', 'k']
    >>> [d.doc_id for d in _pick_period(docs, [FiscalPeriod(2023)])[0]]
    ['k']
    """
    latest = max(periods, key=lambda p: (p.year, p.quarter or 0))
    if latest.quarter:
        exact = [d for d in docs if d.period == latest]
        if exact:
            return exact, f"{latest}"
    year = latest.year
    if months in (3, 6, 9) and not latest.quarter:
        quarterly = sorted((d for d in docs if d.period is not None and d.period.quarter
                            and d.period.year in (year, year + 1)),
                           key=lambda d: (d.period.year, d.period.quarter or 0))  # type: ignore[union-attr]
        if quarterly:
            rest, why = _pick_period(docs, periods)
            return quarterly + [d for d in rest if d not in quarterly], (
                f"{months} months of {year}: the quarterly filings of FY{year} or FY{year + 1} first, then {why}")
    same = [d for d in docs if d.period is not None and d.period.year == year]
    same.sort(key=lambda d: (d.period.quarter is not None, -(d.period.quarter or 0)))  # type: ignore[union-attr]
    following = [d for d in docs if d.period is not None and d.period.year == year + 1 and is_annual(d)]
    if same or following:
        why = f"FY{year}" + (f" (and FY{year + 1}'s annual filing, which restates it)" if following else "")
        return same + following, why
    later = sorted((d for d in docs if d.period is not None and year < d.period.year <= year + 2),
                   key=lambda d: d.period.year)  # type: ignore[union-attr]
    if later:
        return later, f"FY{year} (no filing of that year; later filings restate it)"
    return list(docs), f"no filing for FY{year}; all of the issuer's documents"


def _latest_first(doc: DocInfo) -> tuple[bool, int, int, str]:
    """Sort key for a question naming no period: annual filings first, the latest first (a figures plan reads
    the first routed filing), then the rest by period, latest first.

    >>> a = DocInfo("a", "X_2017_10K", frozenset(), None, FiscalPeriod(2017), "10-K")
    >>> b = DocInfo("b", "X_2023_10K", frozenset(), None, FiscalPeriod(2023), "10-K")
    >>> q = DocInfo("q", "X_2024Q2_10Q", frozenset(), None, FiscalPeriod(2024, 2), "10-Q")
    >>> [d.doc_id for d in sorted([a, q, b], key=_latest_first)]
    ['b', 'a', 'q']
    """
    year, quarter = (doc.period.year, doc.period.quarter or 0) if doc.period is not None else (0, 0)
    return not is_annual(doc), -year, -quarter, doc.label


def route(question: str, docs_meta: Sequence[Mapping[str, object]], *, max_issuers: int = MAX_ISSUERS) -> RouteDecision:
    """Route ``question`` to documents by issuer and period.

    :param docs_meta: one mapping per document with "doc_id", "source" and "meta" (the manifest's ``sources[]``).
    :param max_issuers: more issuers named than this: unsure.
    """
    docs = [doc_info(str(d["doc_id"]), str(d.get("source", "")), _meta(d.get("meta"))) for d in docs_meta]
    if not any(d.names for d in docs):
        return RouteDecision((), "no document names an issuer", False, applicable=False)
    issuers = find_issuers(question, docs)
    if not issuers:
        return RouteDecision((), "no issuer of the indexed documents is named", False)
    names = tuple(sorted(issuers))
    if len(issuers) > max_issuers:
        return RouteDecision((), f"{len(issuers)} issuers named ({', '.join(names)})", False, names)
    periods = periods_named(question)
    months = months_named(question)
    chosen: list[DocInfo] = []
    whys: list[str] = []
    for name in names:
        own = [d for d in docs if d.doc_id in issuers[name]]
        if periods:
            picked, why = _pick_period(own, periods, months)
        else:
            picked, why = sorted(own, key=_latest_first), "no period named: all of its documents, latest annual first"
        chosen += [d for d in picked if d not in chosen]
        whys.append(f"issuer {name}, {why}")
    reason = "; ".join(whys) + ": " + ", ".join(d.label for d in chosen)
    ids = set().union(*issuers.values())
    aliases = tuple(sorted({n for d in docs if d.doc_id in ids for n in d.names}))
    return RouteDecision(tuple(d.doc_id for d in chosen), reason, True, names, tuple(periods), aliases=aliases)


def _meta(value: object) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


class FilingsRouter:
    """The filings profile's :class:`~ingest.core.protocols.QueryRouter`: :func:`route` by issuer and period."""

    name = "filings"

    def route(self, question: str, documents: Sequence[Mapping[str, object]]) -> RouteDecision:
        return route(question, documents)
