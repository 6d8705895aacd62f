"""Domain profiles: what docqa knows of one kind of document, switched on and off as one unit.

A :class:`Profile` brings up to six parts, each plugged into a general stage through a seam of its own:

- a **describer** at ingest (:class:`~ingest.core.protocols.DocumentDescriber`): the facts a document states
  about itself (a filing's issuer, form and period), written into its ``meta`` and its passages' headers;
- a **router** at retrieval (:class:`~ingest.core.protocols.QueryRouter`): which documents a question is about;
- an **evidence planner** at retrieval (:class:`~ingest.core.protocols.EvidencePlanner`): what a question needs
  besides its own search (the statements a figure's line items are in, the section a judgement reads), each
  searched on its own inside the routed filing and fused by the general searcher;
- a **shortcut** in the pipeline (:class:`~app.parts.Shortcut`): a direct answerer that may answer before any
  context is selected (the figures planner answers a figure from the statement tables);
- a **calculator** at generation (:class:`~app.parts.Calculator`): the policy that checks a calculation the
  model asks for (None: the general one, :class:`generation.answer.FormulaCalculator`);
- a **label matcher** for the number check (:data:`~generation.number_check.LabelMatcher`): whether the words an
  answer puts around a number name the table row it is printed in (a filing's "revenue" is its "Net sales" row);

and ``recognises(documents)``: whether an index holds documents of its domain. ``general`` brings nothing;
``filings`` is the SEC-filings knowledge. Profiles are registered in :data:`ingest.core.registry.PROFILES`
(a package adds one through the ``docqa.profiles`` entry point, a factory with no arguments returning a
:class:`Profile`); nothing in the pipeline names one.

``[profile] name`` picks one by name, or ``auto`` (the default): at ingest every registered profile's
describer is tried on each document in turn and the first that recognises it describes it (a 10-K gets the
filings description, a novel the general one); at question time the first registered profile (by name) that
recognises the index's documents answers, else the general one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.parts import Calculator, Direct, Search, Shortcut
from generation.select import Corpus
from ingest.core.protocols import DocumentDescriber, EvidenceNeed, EvidencePlanner, QueryRouter
from ingest.core.records import Document, Ranked, RouteDecision
from ingest.core.registry import PROFILES
from retrieval.scope import Scope
from retrieval.search import Retrieval

if TYPE_CHECKING:
    from generation.number_check import LabelMatcher

AUTO, GENERAL = "auto", "general"
Documents = Sequence[Mapping[str, object]]  # the manifest's ``sources``: "doc_id", "source", "meta"


def _never(documents: Documents) -> bool:
    return False


@dataclass(frozen=True)
class Profile:
    """One domain's parts (see the module docstring); a part left None leaves the general stage as it is."""

    name: str
    describer: DocumentDescriber | None = None
    router: QueryRouter | None = None
    planner: EvidencePlanner | None = None
    shortcut: Shortcut | None = None
    calculator: Calculator | None = None
    labels: LabelMatcher | None = None
    recognises: Callable[[Documents], bool] = field(default=_never)


def general_profile() -> Profile:
    """No domain knowledge: titles and section paths only, the whole corpus searched, every answer generated."""
    return Profile(GENERAL)


def meta_of(document: Mapping[str, object]) -> Mapping[str, object]:
    """A manifest source's ``meta`` (empty when it has none).

    >>> meta_of({"doc_id": "a", "meta": {"form": "10-K"}}), meta_of({"doc_id": "b"})
    ({'form': '10-K'}, {})
    """
    meta = document.get("meta")
    return meta if isinstance(meta, Mapping) else {}


def has_reports(documents: Documents) -> bool:
    """Whether any document was described as a report (an issuer, form or period in its meta).

    >>> has_reports([{"meta": {"title": "Moby-Dick"}}]), has_reports([{"meta": {"form": "10-K"}}])
    (False, True)
    """
    return any(meta_of(d).get(key) for d in documents for key in ("issuer", "form", "period"))


def filings_profile() -> Profile:
    """SEC filings and earnings releases: the cover-page description, issuer and period routing, and figures
    answered from the statement tables."""
    from app.figures_stage import FiguresShortcut
    from generation.line_items import line_item_agreement
    from ingest.describe import FilingsDescriber
    from retrieval.route import FilingsRouter

    return Profile("filings", describer=FilingsDescriber(), router=FilingsRouter(), planner=FilingsEvidence(),
                   shortcut=FiguresShortcut(), labels=line_item_agreement, recognises=has_reports)


#: Each financial statement: the words of its title (the query a need searches with) and the pattern a passage's
#: title matches when it is the statement itself ("Condensed Consolidated Statements of Earnings"), not a note
#: or an MD&A table repeating its labels.
STATEMENTS: Mapping[str, tuple[str, str]] = {
    "income": ("consolidated statements of operations income earnings",
               r"\bstatements? of (?:consolidated )?(?:operations|income|earnings)\b(?! data)|"
               r"(?<!comprehensive )\bincome statements?\b"),
    "balance": ("consolidated balance sheets",
                r"\bbalance sheets?\b(?! (?:information|components|data|details))|"
                r"\bstatements? of (?:consolidated )?financial (?:position|condition)\b"),
    "cash": ("consolidated statements of cash flows", r"\bstatements? of (?:consolidated )?cash\b"),
}
# a question asking a period's amount whose line item the glossary does not know: the statement its words point to
_AMOUNT = re.compile(r"\bhow much\b|\bwhat (?:was|were|is|are)\b|\bamount\b|\bvalue\b", re.IGNORECASE)
_STATEMENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cash", re.compile(r"\bcash flows?\b|\bpurchases? of\b|\bproceeds from\b|\bpaid\b", re.IGNORECASE)),
    ("balance", re.compile(r"\bassets?\b|\bliabilit|\bdebt\b|\bequity\b|\bgoodwill\b|\bbalance\b", re.IGNORECASE)),
    ("income", re.compile(r"\bexpenses?\b|\bspen[dt]\b|\bincome\b|\bearnings\b|\brevenues?\b|\bsales\b|"
                          r"\bper share\b|\bresearch and development\b|\bprofit\b", re.IGNORECASE)),
)
#: Topics a filing discusses in a section of their own: (what the question says, the need's label, its query, how
#: a passage states it: one line of a long passage about the business, read from the filing when the search misses).
_TOPICS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"\bemployees?\b|\bheadcount\b|\bworkforce\b|\bstaff\b|\bpersonnel\b|"
                r"\bpeople (?:work|worked|working|were employed|employed)\b|\bhow many people\b.*\bemploy\b",
                re.IGNORECASE), "human capital",
     "human capital employees workforce headcount number of employees",
     r"\b\d[\d,]*(?:\.\d+)?\s+(?:(?:million|thousand)\s+)?(?:[a-z-]+\s+){0,2}"
     r"(?:employees|associates|team members|people|persons|workers)\b|"
     r"\bemploy(?:ed|s)?\s+(?:approximately|about|over|more than|nearly|some)?\s*\d"),
    (re.compile(r"\bpatents?\b", re.IGNORECASE), "intellectual property",
     "intellectual property patents patent applications pending issued",
     r"\b\d[\d,]*\s+(?:(?:U\.S\.|United States|issued|granted|active|pending)\s+)*patent(?:s| applications)\b"),
)
_PLACEHOLDER_YEAR = 2000  # plans a judgement naming no year, for its line items and sections only (never searched)


class FilingsEvidence:
    """The filings profile's :class:`~ingest.core.protocols.EvidencePlanner`: the statements a question's
    figures are reported in (from the figures planner's plan and the judgement's metrics, the line items the
    question names, the statements it names, else the statement its words point to), each a table need whose
    statement title ranks first, and the narrative sections a judgement reads ("what drove": results of
    operations; liquidity: the liquidity section), each a prose need, and the section a topic has of its own (the
    workforce: human capital), or for another "how many ...?" question the count itself, each found by how it is
    stated."""

    name = "filings"

    def plan(self, question: str) -> list[EvidenceNeed]:
        from generation.counting import HOW_MANY, count_pattern
        from generation.figures import items_named, plan_question, statements_named
        from generation.judgement import plan_judgement
        from ingest.core.periods import years_named

        years = years_named(question)
        judgement = plan_judgement(question, fiscal_year_hint=None if years else _PLACEHOLDER_YEAR)
        plans = list(judgement.plans) if judgement is not None else []
        if (figure := plan_question(question)) is not None:
            plans.append(figure)
        items: dict[str, list[str]] = {}
        for plan in plans:
            for operand in plan.operands:
                items.setdefault(operand.item.statement, []).append(operand.item.title)
        for *_, item in items_named(question):
            items.setdefault(item.statement, []).append(item.title)
        for statement in sorted(statements_named(question)):
            items.setdefault(statement, [])
        if not items and years and _AMOUNT.search(question):
            cue = next((name for name, pattern in _STATEMENT_CUES if pattern.search(question)), None)
            if cue is not None:
                items[cue] = []
        when = str(max(years)) if years else ""
        needs = [EvidenceNeed(f"{name} statement", " ".join([words, *dict.fromkeys(titles), when]).strip(), ("table",),
                              title)
                 for name, titles in items.items() if name in STATEMENTS for words, title in [STATEMENTS[name]]]
        if judgement is not None:
            needs += [EvidenceNeed(f"narrative ({judgement.kind}: {judgement.subject})", section, ("prose",))
                      for section in judgement.sections]
        topics = [EvidenceNeed(f"section ({label})", query, states=states) for pattern, label, query, states in _TOPICS
                  if pattern.search(question)]
        if not topics and (count := count_pattern(question)) and (m := HOW_MANY.search(question)):
            # "how many Executive members ...?": the sentence or row that states the count
            topics.append(EvidenceNeed(f"count ({m.group('what')})", f"number of {m.group('what')}", states=count))
        return needs + topics


def profile_names() -> list[str]:
    """The registered profiles' names (``auto`` is not one: it chooses among them).

    >>> profile_names()
    ['filings', 'general']
    """
    from app.factory import register_builtins  # the one list of built-in parts (it imports this module)

    register_builtins()
    return PROFILES.names()


def get_profile(name: str) -> Profile:
    """The profile registered as ``name``.

    :raises UnknownBackendError: an unknown name (lists the known ones).
    """
    from app.factory import register_builtins

    register_builtins()
    profile = PROFILES.get(name)()
    if not isinstance(profile, Profile):
        raise TypeError(f"profile {name!r}: its factory returned {type(profile).__name__}, not a Profile")
    return profile


def _domain_profiles() -> list[Profile]:
    """Every registered profile but the general one, by name (the order ``auto`` tries them in)."""
    return [get_profile(n) for n in profile_names() if n != GENERAL]


def profile_for(name: str, documents: Documents | None) -> Profile:
    """The profile answering questions over ``documents``: the one named, or for ``auto`` the first that
    recognises them (else the general one). ``auto`` over documents not known (a pipeline built from parts)
    combines every profile's parts, each tried in turn."""
    if name != AUTO:
        return get_profile(name)
    domain = _domain_profiles()
    if documents is not None:
        return next((p for p in domain if p.recognises(documents)), get_profile(GENERAL))
    if len(domain) <= 1:
        return domain[0] if domain else get_profile(GENERAL)
    shortcuts = [p.shortcut for p in domain if p.shortcut is not None]
    routers = [p.router for p in domain if p.router is not None]
    return Profile(AUTO, describer=describer_for(AUTO), router=FirstRouter(routers) if routers else None,
                   planner=next((p.planner for p in domain if p.planner is not None), None),
                   shortcut=FirstShortcut(shortcuts) if shortcuts else None,
                   calculator=next((p.calculator for p in domain if p.calculator is not None), None),
                   labels=next((p.labels for p in domain if p.labels is not None), None),
                   recognises=lambda docs: any(p.recognises(docs) for p in domain))


class FirstShortcut:
    """Several profiles' shortcuts: the first that takes a question up answers it."""

    def __init__(self, shortcuts: Sequence[Shortcut]) -> None:
        self.shortcuts = list(shortcuts)
        self.name = "+".join(s.name for s in self.shortcuts)

    def answer(self, question: str, *, search: Search, retrieval: Retrieval, scope: Scope | None,
               candidates: Sequence[Ranked], corpus: Corpus | None) -> Direct | None:
        for shortcut in self.shortcuts:
            direct = shortcut.answer(question, search=search, retrieval=retrieval, scope=scope,
                                     candidates=candidates, corpus=corpus)
            if direct is not None:
                return direct
        return None


class FirstRouter:
    """Several profiles' routers: the first confident decision, else the first one's."""

    def __init__(self, routers: Sequence[QueryRouter]) -> None:
        self.routers = list(routers)
        self.name = "+".join(r.name for r in self.routers)

    def route(self, question: str, documents: Documents) -> RouteDecision:
        decisions = [r.route(question, documents) for r in self.routers]
        return next((d for d in decisions if d.confident), decisions[0])


class AutoDescriber:
    """``auto`` at ingest: each profile's describer in turn, the first to recognise a document describes it."""

    def __init__(self, describers: Sequence[DocumentDescriber]) -> None:
        self.describers = list(describers)
        self.name = "auto:" + "+".join(d.name for d in self.describers)  # another set of profiles re-reads

    def describe(self, doc: Document) -> Mapping[str, str] | None:
        for describer in self.describers:
            facts = describer.describe(doc)
            if facts is not None:
                return facts
        return None


def describer_for(name: str) -> DocumentDescriber | None:
    """The describer a build uses under ``[profile] name`` (None: the general description only)."""
    if name != AUTO:
        return get_profile(name).describer
    describers = [p.describer for p in _domain_profiles() if p.describer is not None]
    return AutoDescriber(describers) if describers else None
