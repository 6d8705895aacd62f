"""Judgement questions over filings: the metrics that define a concept, computed and cited, and the section to read.

"Is the company capital-intensive?", "Does it have a healthy liquidity profile?", "Does it have an improving
operating margin?", "What drove the change in SG&A?" share few words with their evidence. :func:`plan_judgement`
turns such a question into a :class:`Judgement`: the metrics that define the concept (each a
:class:`generation.figures.Plan`, computed by the figures planner with every operand cited to its cell), the
definition line the answer states, a stated rule of thumb, and the narrative to search for on its own (MD&A's
results of operations for "what drove", the liquidity section for liquidity). :func:`verdict` and
:func:`judgement_text` write the answer's first lines from the computed figures: code writes the figures, the
definition and the rule, so the small model is never asked to do arithmetic or pick a definition.

Kinds: ``concept`` (a glossary of :data:`CONCEPTS`), ``trend`` (a metric's direction or consistency over years:
"improving", "declined", "consistent", "how much has ... changed"), ``sign`` ("positive working capital") and
``drivers`` ("what drove", "why": the narrative is the answer, the metrics only support it). Pure functions; the
searching and computing live in ``app/figures_stage.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from generation.figures import ITEMS, Operand, Plan, metric_named, names_segment, single_item
from ingest.core.periods import YEAR, months_named, years_named

__all__ = ["CONCEPTS", "Concept", "Judgement", "Measure", "Value", "judgement_text", "plan_judgement",
           "section_sentences", "verdict"]


@dataclass(frozen=True, slots=True)
class Measure:
    """One metric a concept is judged by: its glossary name, how the answer names it, its formula over line items
    (``{y}`` the year, ``{p}`` the year before), and whether it is stated in percent."""

    name: str
    title: str
    formula: str
    percent: bool = False


@dataclass(frozen=True, slots=True)
class Concept:
    """A judgement concept: what the question says, the measures that define it, and the rule of thumb.

    :param test: (measure name, ">=" or "<=", bound as a plain ratio): the concept holds when ``any_holds``
        and any test holds, or when all hold; a test whose measure was not computed is skipped.
    :param section: a query for the narrative that discusses it, searched on its own inside the filing.
    :param says: a pattern a narrative sentence must match to be quoted.
    """

    name: str
    pattern: str
    measures: tuple[Measure, ...]
    definition: str
    yes: str
    no: str
    test: tuple[tuple[str, str, float], ...]
    any_holds: bool
    rule: str
    section: str = ""
    says: str = ""
    inverse: str = ""  # a question asking whether the concept fails ("did it pay out more than it earned?")


_CAPEX_TO_REVENUE = Measure("capex_to_revenue", "capex / revenue", "capex_{y} / revenue_{y}", percent=True)
_PPE_TO_ASSETS = Measure("ppe_to_assets", "PP&E / total assets", "ppe_{y} / total_assets_{y}", percent=True)
_CURRENT = Measure("current_ratio", "current ratio", "total_current_assets_{y} / total_current_liabilities_{y}")
_QUICK = Measure("quick_ratio", "quick ratio",
                 "(cash_{y} + short_term_investments_{y} + receivables_{y}) / total_current_liabilities_{y}")
_CASH = Measure("cash", "cash and cash equivalents", "cash_{y}")
_LIAB_TO_EQUITY = Measure("debt_to_equity", "total liabilities / equity", "total_liabilities_{y} / equity_{y}")
_COVERAGE = Measure("interest_coverage", "interest coverage", "operating_income_{y} / interest_expense_{y}")
_GROSS = Measure("gross_margin", "gross margin", "(revenue_{y} - cogs_{y}) / revenue_{y}", percent=True)
_OPERATING = Measure("operating_margin", "operating margin", "operating_income_{y} / revenue_{y}", percent=True)
_NET = Measure("net_margin", "net margin", "net_income_{y} / revenue_{y}", percent=True)

_FCF = "(cfo_{y} - capex_{y})"
_FREE_CASH_FLOW = Measure("free_cash_flow", "free cash flow (operating cash flow - capex)", "cfo_{y} - capex_{y}")
_PAYOUTS_TO_FCF = Measure("payouts_to_fcf", "(buybacks + dividends) / free cash flow",
                          f"(buybacks_{{y}} + dividends_{{y}}) / {_FCF}", percent=True)
_BUYBACKS_TO_FCF = Measure("buybacks_to_fcf", "buybacks / free cash flow", f"buybacks_{{y}} / {_FCF}", percent=True)

_CASH_BACKING = Measure("cash_backing", "operating cash flow / net income", "cfo_{y} / net_income_{y}")
_PAYOUT = Measure("dividend_payout", "dividends / net income", "dividends_{y} / net_income_{y}", percent=True)
_DIVIDENDS_TO_FCF = Measure("dividends_to_fcf", "dividends / free cash flow", f"dividends_{{y}} / {_FCF}",
                            percent=True)

#: The glossary of judgement concepts. The rules of thumb are stated in every answer; they are not standards.
CONCEPTS: tuple[Concept, ...] = (
    Concept("dividend coverage",
            r"\bdividends?\b(?=.*\b(?:cover\w*|earn\w*|net income|profits?)\b)|"
            r"\b(?:cover\w*|earn\w*)\b(?=.*\bdividends?\b)",
            (_PAYOUT, _DIVIDENDS_TO_FCF),
            "dividend coverage here = dividends paid against net income (the payout ratio) and against free cash "
            "flow (operating cash flow less capital expenditures)",
            "covered its dividends out of earnings", "did not cover its dividends out of earnings",
            (("dividend_payout", "<=", 1.0),), False,
            "covered when dividends paid are at most 100% of net income",
            "dividends paid cash dividends declared per share", r"\bdividends?\b",
            inverse=r"\bmore\b[^?]*\bthan\b|\bexceed\w*"),
    Concept("shareholder payouts funded by cash flow",
            r"^(?=.*\b(?:buy ?backs?|repurchas\w*|dividends?|shareholders?)\b)(?=.*\b(?:free cash flow|cash flow|"
            r"cash (?:the business |it )?generat\w*|cash from operations|cover\w*|fund(?:ed|s)?|afford|pay for)\b)",
            (_FREE_CASH_FLOW, _PAYOUTS_TO_FCF, _BUYBACKS_TO_FCF),
            "funded by cash flow here = buybacks plus dividends against free cash flow (operating cash flow less "
            "capital expenditures)",
            "paid for its shareholder payouts out of free cash flow",
            "did not pay for its shareholder payouts out of free cash flow",
            (("payouts_to_fcf", "<=", 1.0), ("buybacks_to_fcf", "<=", 1.0)), False,
            "funded by cash flow when buybacks plus dividends are at most 100% of free cash flow",
            "repurchases of common stock dividends paid cash flows from operating activities",
            r"\brepurchas\w*|\bdividends?\b"),
    Concept("capital intensity", r"capital[- ]intensi(?:ve|ty)|asset[- ](?:heavy|light)",
            (_CAPEX_TO_REVENUE, _PPE_TO_ASSETS),
            "capital intensity here = capex / revenue and PP&E / total assets",
            "is capital-intensive", "is not capital-intensive",
            (("capex_to_revenue", ">=", 0.08), ("ppe_to_assets", ">=", 0.40)), True,
            "capital-intensive when capex is at least 8% of revenue or net PP&E at least 40% of total assets",
            "capital expenditures property and equipment investments", r"capital expenditures?|capex"),
    Concept("liquidity", r"\bliquidity\b|\bliquid\b|short[- ]term (?:solvency|obligations)",
            (_CURRENT, _QUICK, _CASH),
            "liquidity here = current ratio (current assets / current liabilities), quick ratio ((cash and cash "
            "equivalents + short-term investments + accounts receivable) / current liabilities) and cash",
            "has a healthy liquidity profile", "does not have a healthy liquidity profile",
            (("current_ratio", ">=", 1.0),), False,
            "healthy when current assets cover current liabilities (current ratio of at least 1.0)",
            "liquidity and capital resources sufficient to meet cash requirements",
            r"\bsufficient\b|\badequate\b|\bmeet\b[\w ,]{0,60}\b(?:needs|requirements|obligations)\b"),
    Concept("leverage", r"\blevera?ged?\b|\bleverage\b|\bindebted|\b(?:debt|interest) (?:load|burden|levels?)\b|"
                        r"\bsolven|\bdelever\w*|\bbalance sheet\b[^?]{0,30}\b(?:strong|weak|stronger|weaker|"
                        r"strength|strengthen\w*|weaken\w*)\b",
            (_LIAB_TO_EQUITY, _COVERAGE),
            "leverage here = total liabilities / shareholders' equity and interest coverage (operating income / "
            "interest expense)",
            "is highly leveraged", "is not highly leveraged",
            (("debt_to_equity", ">=", 2.0), ("interest_coverage", "<=", 3.0)), True,
            "highly leveraged when total liabilities are at least 2x equity or operating income covers interest "
            "at most 3x", "debt borrowings credit facility leverage", r"\bdebt\b|\bborrowings?\b"),
    Concept("earnings backed by cash",
            r"\b(?:earnings|profits?|net income)\b[^?]{0,40}\b(?:backed|supported|matched|converted|turned)\b"
            r"[^?]{0,20}\bcash\b|\bquality of (?:its |the )?earnings\b|\bearnings quality\b",
            (_CASH_BACKING, _FREE_CASH_FLOW),
            "earnings backed by cash here = operating cash flow / net income, with free cash flow (operating cash "
            "flow less capital expenditures)",
            "backed its earnings with cash", "did not back its earnings with cash",
            (("cash_backing", ">=", 1.0),), False,
            "backed by cash when operating cash flow is at least net income",
            "net cash provided by operating activities net earnings", r"\boperating activities\b|\bcash flows?\b"),
    Concept("profitability", r"\bprofitab(?:le|ility)\b",
            (_GROSS, _OPERATING, _NET),
            "profitability here = gross, operating and net margin (each over revenue)",
            "is profitable", "is not profitable", (("net_margin", ">=", 0.0),), False,
            "profitable when net income is positive (net margin above 0%)"),
)

#: A concept's measure a question names in words, not by the metric's name ("is its interest burden a problem?").
_FOCUS_WORDS: Mapping[str, re.Pattern[str]] = {
    "interest_coverage": re.compile(r"\binterest (?:burden|load|costs?|expense)\b|\bcover\w* (?:its |the )?interest\b",
                                    re.IGNORECASE),
}

#: Measures whose fall is a strengthening ("did its balance sheet get stronger": did leverage fall).
LOWER_IS_BETTER = frozenset({"debt_to_equity"})

#: Comparisons among line items: (name, what the question says, the measures compared).
COMPARISONS: tuple[tuple[str, str, tuple[Measure, ...]], ...] = (
    ("cash flow activities", r"\boperat\w*\b.*\binvesting\b.*\bfinancing\b|\binvesting\b.*\bfinancing\b.*\boperat",
     (Measure("cfo", "operating activities", "cfo_{y}"), Measure("cfi", "investing activities", "cfi_{y}"),
      Measure("cff", "financing activities", "cff_{y}"))),
)
_WHICH = re.compile(r"\bwhich\b|\bwhat\b", re.IGNORECASE)
_MOST = re.compile(r"\b(?:most|highest|largest|greatest|biggest|more)\b", re.IGNORECASE)
_LEAST = re.compile(r"\b(?:least|lowest|smallest|fewest)\b", re.IGNORECASE)

#: The test of a concept when the question names the one measure to judge it by ("based on its quick ratio").
FOCUS_TESTS: Mapping[str, tuple[str, float, str]] = {
    "current_ratio": (">=", 1.0, "a current ratio of at least 1.0"),
    "quick_ratio": (">=", 1.0, "a quick ratio of at least 1.0"),
    "debt_to_equity": (">=", 2.0, "total liabilities at least 2x equity"),
    "interest_coverage": ("<=", 3.0, "operating income covering interest at most 3x"),
    "capex_to_revenue": (">=", 0.08, "capex at least 8% of revenue"),
}

_YES_NO = re.compile(r"(?:^|^[^?:]{1,60}:)\W*(?:does|do|did|is|are|was|were|has|have|had|can|could|will|would)\b",
                     re.IGNORECASE)  # also after a heading ("Acme FY2017: is its ... improving?")
_ASSESS = re.compile(r"\b(?:assess|evaluate|how (?:healthy|strong|good|capital)|comment on|describe)\b", re.IGNORECASE)
_DRIVERS = re.compile(r"\bwhat (?:drove|drives|caused|led to|contributed to|explains?)\b|\bdriv(?:en|ers?)\b|"
                      r"\bwhy\b|\breasons? (?:for|behind)\b", re.IGNORECASE)
_UP = r"improv\w*|increas\w*|ris(?:e|en|ing)|rose|grow\w*|grew|expand\w*|higher"
_DOWN = r"declin\w*|decreas\w*|drop\w*|f[ae]ll\w*|shr[iu]nk\w*|contract\w*|deteriorat\w*|lower|reduc\w*|erod\w*"
# a concept's direction asked ("is its leverage rising?", "an improving liquidity position"), not its level
_BECOME = r"\b(?:get|gets|got|getting|become|becomes|became|becoming|grow|grows|grew)"  # "... get more leveraged"
_RISING = re.compile(rf"\b(?:{_UP}|{_DOWN})\b(?! (?:than|interest|rates?|prices?|sales|revenue|demand|volume))|"
                     rf"{_BECOME} (?:more|less)\b|\b(?:stronger|weaker|strengthen\w*|weaken\w*|delever\w*)\b",
                     re.IGNORECASE)
_DIRECTION = re.compile(rf"\b(?:{_UP}|{_DOWN}|chang\w*|trend\w*)\b", re.IGNORECASE)
_STEADY = re.compile(r"\b(?:consistent\w*|stable|steady|fluctuat\w*|volatil\w*|historical\w*)\b", re.IGNORECASE)
_SIGN = re.compile(r"\b(?:positive|negative)\b", re.IGNORECASE)
_HOW_MUCH_CHANGED = re.compile(r"\bhow (?:much|far) (?:has|have|did)\b.*\bchang", re.IGNORECASE)
# "If operating margin is not a useful metric for a company like this, then state that and explain why.": a caveat
# about the question, not what it asks
_CAVEAT = re.compile(r"\bif\b[^.?!]*\bnot\b[^.?!]*\b(?:useful|relevant|meaningful|applicable|appropriate)\b[^.?!]*"
                     r"[.?!]?", re.IGNORECASE)
_SHARE = re.compile(r"(?:%|\bper ?cent(?:age)?|\bshare|\bproportion|\bfraction) of\b", re.IGNORECASE)
_QUARTER = re.compile(r"\bQ[1-4]\b|\bquarters?\b|\bhalf\b", re.IGNORECASE)
_WITHIN = re.compile(r"(?:not|no) (?:fluctuat\w*|chang\w*|vary\w*|moving) (?:by )?more than (?:roughly |about |around |"
                     r"approximately |~)?(\d+(?:\.\d+)?)\s*(?:%|percent(?:age points?)?|points?)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A judgement question's plan: the figures to compute, the definition, and the narrative to search.

    :param kind: "concept", "trend", "sign" or "drivers" (see the module docstring).
    :param subject: what is judged ("capital intensity", "operating margin").
    :param plans: one figures plan per measure and year, in the order the answer states them.
    :param sections: queries for the narrative, each searched on its own inside the filing.
    :param says: a pattern a narrative sentence must match to be quoted ("" for none).
    :param within: for a consistency question, the largest year-to-year change it allows (percentage points).
    """

    kind: str
    subject: str
    definition: str
    plans: tuple[Plan, ...]
    sections: tuple[str, ...] = ()
    says: str = ""
    concept: Concept | None = None
    within: float | None = None
    percent: frozenset[str] = frozenset()  # the measures stated in percent
    most: bool = True  # a comparison asks for the largest (False: the smallest)
    focus: str = ""  # the one measure of the concept the question names ("based on its quick ratio"), if any
    titles: Mapping[str, str] = field(default_factory=dict)  # a comparison's measures, as the answer names them
    flipped: bool = False  # the question asks whether the concept fails: its "yes" is the concept's "no"

    def figure_question(self, plan: Plan) -> str:
        """The question a figure of the plan is computed for (how its result is stated: percent or ratio)."""
        if plan.source in self.percent:
            return f"{plan.label.replace('_', ' ')} (in percent, rounded to two decimal places)"
        if "/" in plan.formula:
            return f"{plan.label.replace('_', ' ')} (rounded to two decimal places)"
        return plan.label.replace("_", " ")

    def describe(self) -> tuple[str, ...]:
        """The plan, for the trace: one line for the judgement, one per figure and narrative search."""
        head = f"judgement ({self.kind}): {self.subject}" + (f"; {self.definition}" if self.definition else "")
        return (head, *(f"figure: {p.describe()}" for p in self.plans),
                *(f"narrative searched: {s!r}" for s in self.sections))


def _plan(measure: Measure, year: int) -> Plan:
    formula = measure.formula.format(y=year, p=year - 1)
    names = dict.fromkeys(re.findall(r"\b([a-z_]+?)_(\d{4})\b", formula))
    operands = tuple(Operand(f"{k}_{y}", ITEMS[k], int(y)) for k, y in names)
    return Plan(f"{measure.name}_{year}", formula, operands, measure.name)


def _named_measure(question: str, concept: Concept) -> Measure:
    """The concept's measure the question names by its first word ("operating profitability": the operating
    margin), else its first.

    >>> _named_measure("Is its operating profitability improving?", CONCEPTS[-1]).name
    'operating_margin'
    """
    return next((m for m in concept.measures if re.search(rf"\b{m.name.split('_')[0]} {concept.pattern}", question,
                                                          re.IGNORECASE)), concept.measures[0])


def _subject_measure(question: str, year: int) -> Measure | None:
    """The metric or line item a trend, sign or drivers question is about, as a :class:`Measure`."""
    if metric := metric_named(question, year):
        name, formula = metric
        generic = re.sub(rf"_{year}\b", "_{y}", re.sub(rf"_{year - 1}\b", "_{p}", formula))
        percent = "/" in formula and (name.endswith(("margin", "_to_revenue", "rate", "conversion"))
                                      or name in {"roa", "roe"})
        return Measure(name, name.replace("_", " "), generic, percent)
    if _SHARE.search(question):
        return None  # "wages as a percent of net sales": a share of items the glossary does not both know
    if item := single_item(question):
        return Measure(item.key, item.title, f"{item.key}_{{y}}")
    return None


def _years(question: str, hint: int | None, count: int) -> list[int]:
    named = years_named(question)
    if len(set(named)) >= 2:
        lo, hi = min(named), max(named)
        return list(range(lo, hi + 1)) if hi - lo <= 4 else [lo, hi]
    year = named[0] if named else hint
    return [] if year is None else list(range(year - count + 1, year + 1))


def plan_judgement(question: str, *, fiscal_year_hint: int | None = None) -> Judgement | None:
    """The judgement a question asks for, or None when it asks for none (or the filing's figures cannot say:
    no year, a quarter's comparison).

    >>> j = plan_judgement("Is the company capital-intensive based on FY2022 data?")
    >>> j.kind, [p.formula for p in j.plans]
    ('concept', ['capex_2022 / revenue_2022', 'ppe_2022 / total_assets_2022'])
    >>> j = plan_judgement("Does Acme have an improving operating margin profile as of FY2022?")
    >>> j.kind, [p.formula for p in j.plans]
    ('trend', ['operating_income_2021 / revenue_2021', 'operating_income_2022 / revenue_2022'])
    >>> j = plan_judgement("Is Acme's leverage rising, judging by its balance sheet at the end of 2020?")
    >>> j.kind, [p.formula for p in j.plans]
    ('trend', ['total_liabilities_2019 / equity_2019', 'total_liabilities_2020 / equity_2020'])
    >>> plan_judgement("Did Acme's profitability deteriorate in fiscal 2023 (the year ended January 28, 2023)?").kind
    'trend'
    >>> plan_judgement("What drove the reduction in SG&A expense as a percent of net sales in FY2023?").kind
    'drivers'
    >>> plan_judgement("What is the FY2019 current ratio?") is None
    True

    A caveat about the metric ("If operating margin is not a useful metric ..., explain why.") is not a question.

    >>> plan_judgement("Does Acme have positive working capital based on FY2022 data? If working capital is not a "
    ...                "useful metric for this company, then please state that and explain why.").kind
    'sign'
    """
    question = _CAVEAT.sub(" ", question)
    segment = names_segment(question)  # "the Blizzard segment": the company's figures do not say
    years_one = _years(question, fiscal_year_hint, 1)
    if _DRIVERS.search(question):
        measure = _subject_measure(question, years_one[-1]) if years_one else None
        years = _years(question, fiscal_year_hint, 2) if _DIRECTION.search(question) else years_one
        plans = tuple(_plan(measure, y) for y in years) if measure and not _QUARTER.search(question) \
            and not segment else ()
        subject = measure.title if measure else _topic(question)
        return Judgement("drivers", subject, "", plans, (f"{_topic(question)} primarily due to driven by "
                                                         "increase decrease compared to prior year",),
                         r"\b(?:due to|driven by|result(?:ed)? (?:of|from)|primarily|reflect\w*|offset|because|"
                         r"attributable)\b", percent=_percent(measure))
    if _WHICH.search(question) and (_MOST.search(question) or _LEAST.search(question)) and years_one:
        for name, pattern, measures in COMPARISONS:
            if re.search(pattern, question, re.IGNORECASE):
                wants_most = bool(_MOST.search(question))  # "the most (or lost the least)": the largest
                return Judgement("compare", name, f"{name}: the net cash each brought in (negative: used)",
                                 tuple(_plan(m, years_one[-1]) for m in measures), most=wants_most,
                                 titles={m.name: m.title for m in measures})
    if segment or not (_YES_NO.search(question) or _ASSESS.search(question) or _HOW_MUCH_CHANGED.search(question)):
        return None
    if _QUARTER.search(question) or months_named(question) not in (None, 12):
        return None  # a quarter against a year: the period model does not compare them here
    for concept in CONCEPTS:
        if re.search(concept.pattern, question, re.IGNORECASE):
            if not years_one:
                return None
            if _RISING.search(question):  # "is its leverage rising?": the concept's first measure, year on year
                measure = _named_measure(question, concept)
                years = _years(question, fiscal_year_hint, 2)
                return Judgement("trend", measure.title, f"{measure.title} here = {_shown_formula(measure)}",
                                 tuple(_plan(measure, y) for y in years), percent=_percent(measure))
            plans = tuple(_plan(m, years_one[-1]) for m in concept.measures)
            named = metric_named(question, years_one[-1])
            focus = named[0] if named else next((m for m, said in _FOCUS_WORDS.items() if said.search(question)), "")
            focus = focus if focus in FOCUS_TESTS and focus in {m.name for m in concept.measures} else ""
            flipped = bool(concept.inverse and re.search(concept.inverse, question, re.IGNORECASE))
            return Judgement("concept", concept.name, concept.definition, plans,
                             (concept.section,) if concept.section else (), concept.says, concept,
                             percent=frozenset(m.name for m in concept.measures if m.percent), focus=focus,
                             flipped=flipped)
    steady = _STEADY.search(question)
    if steady or _DIRECTION.search(question) or _HOW_MUCH_CHANGED.search(question):
        years = _years(question, fiscal_year_hint, 3 if steady else 2)
        measure = _subject_measure(question, years[-1]) if len(years) >= 2 else None
        if measure is None:
            return None
        within = float(m.group(1)) if (m := _WITHIN.search(question)) else None
        return Judgement("trend", measure.title, f"{measure.title} here = {_shown_formula(measure)}",
                         tuple(_plan(measure, y) for y in years), within=within,
                         percent=_percent(measure))
    if _SIGN.search(question) and years_one:
        measure = _subject_measure(question, years_one[-1])
        if measure is None:
            return None
        return Judgement("sign", measure.title, f"{measure.title} here = {_shown_formula(measure)}",
                         (_plan(measure, years_one[-1]),), percent=_percent(measure))
    return None


def _percent(measure: Measure | None) -> frozenset[str]:
    return frozenset({measure.name}) if measure is not None and measure.percent else frozenset()


def _shown_formula(measure: Measure) -> str:
    """A measure's formula for the definition line, in line items' titles ("operating income / revenue")."""
    text = re.sub(r"\b([a-z_]+?)_\{[yp]\}", lambda m: ITEMS[m.group(1)].title if m.group(1) in ITEMS else m.group(1),
                  measure.formula)
    return re.sub(r"\bavg\(", "average(", text)


def _topic(question: str) -> str:
    """The words a drivers question asks about, for the narrative search ("SG&A expense as a percent of net
    sales")."""
    text = _DRIVERS.sub(" ", question)
    text = re.sub(r"(?<![\w&])(?:the|a|an|in|of|for|at|end|as|to|by|its|their|what|was|were|is|are|did|does|this|"
                  rf"that|company's|fiscal|year|balance)(?![\w&])|\bFY\s?\d{{2,4}}\b|\b{YEAR}\b|[?.,]", " ",
                  text, flags=re.IGNORECASE)
    return " ".join(text.split())


# ----------------------------------------------------------------------------------------------- the answer

@dataclass(frozen=True, slots=True)
class Value:
    """One computed figure of a judgement: its measure's name, year, exact result and unit, and its statement
    (formula, worked, result; each operand cited, markers already numbered for the answer)."""

    measure: str
    year: int
    result: float
    unit: str
    statement: str


def _ratio(v: Value) -> float:
    return v.result / 100 if v.unit == "%" else v.result


def _shown(v: Value) -> str:
    if v.unit == "%":
        return f"{v.result:.1f}%"
    if v.unit.startswith("$"):
        return f"{'-' if v.result < 0 else ''}${abs(v.result):,.0f}{v.unit[1:]}"
    if abs(v.result) < 100 and v.result != int(v.result):
        return f"{v.result:,.2f}"
    return f"{v.result:,.0f}{' ' + v.unit if v.unit else ''}"


def verdict(judgement: Judgement, values: Sequence[Value], asks_up: bool | None = None) -> str:
    """The judgement's first sentence, written from the computed values by the stated rule ("" when the values
    cannot decide it). ``asks_up``: the question asks whether the figure rose (True) or fell (False).

    >>> j = plan_judgement("Is the company capital-intensive based on FY2022 data?")
    >>> print(verdict(j, [Value("capex_to_revenue", 2022, 2.75, "%", ""), Value("ppe_to_assets", 2022, 20.0, "%", "")]))
    ... # doctest: +NORMALIZE_WHITESPACE
    No: by the rule used here, the company is not capital-intensive in 2022
    (capex / revenue 2.8%, PP&E / total assets 20.0%).
    >>> j = plan_judgement("Does Acme have an improving operating margin profile as of FY2022?")
    >>> verdict(j, [Value("operating_margin", 2021, 36.8, "%", ""), Value("operating_margin", 2022, 34.6, "%", "")],
    ...         asks_up=True)
    'No: operating margin fell from 36.8% in 2021 to 34.6% in 2022 (-2.2 percentage points).'
    """
    if not values:
        return ""
    if judgement.kind == "concept" and judgement.concept is not None:
        c = judgement.concept
        by = {v.measure: v for v in values}
        rules = ((judgement.focus, *FOCUS_TESTS[judgement.focus][:2]),) if judgement.focus else c.test
        tests = [(by[m], op, bound) for m, op, bound in rules if m in by]
        if not tests:
            return ""
        held = [(_ratio(v) >= bound) if op == ">=" else (_ratio(v) <= bound) for v, op, bound in tests]
        holds = any(held) if c.any_holds else all(held)
        figures = ", ".join(f"{m.title} {_shown(by[m.name])}" for m in c.measures if m.name in by)
        return (f"{'Yes' if holds != judgement.flipped else 'No'}: by the rule used here, the company "
                f"{c.yes if holds else c.no} in {values[-1].year} ({figures}).")
    if judgement.kind == "sign":
        v = values[0]
        sign = "positive" if v.result > 0 else "negative" if v.result < 0 else "zero"
        return f"{'Yes' if v.result > 0 else 'No'}: {judgement.subject} was {_shown(v)} in {v.year} ({sign})."
    if judgement.kind == "compare":
        if len(values) < len(judgement.plans):
            return ""
        pick = max(values, key=lambda v: v.result) if judgement.most else min(values, key=lambda v: v.result)
        others = ", ".join(f"{judgement.titles.get(v.measure, v.measure)} {_shown(v)}" for v in values if v is not pick)
        return (f"{judgement.titles.get(pick.measure, pick.measure).capitalize()}: {_shown(pick)} in {pick.year}, "
                f"the {'largest' if judgement.most else 'smallest'} (against {others}).")
    if judgement.kind not in {"trend", "drivers"} or len(values) < 2:  # "what drove": the change it asks about
        return ""
    first, last = values[0], values[-1]
    points = last.unit == "%"
    unit = " percentage points" if points else ""
    delta = round(last.result, 1) - round(first.result, 1) if points else last.result - first.result
    path = ", ".join(f"{_shown(v)} in {v.year}" for v in values)
    if len(values) > 2 or judgement.within is not None:
        most = max(abs(b.result - a.result) for a, b in zip(values, values[1:], strict=False))
        if judgement.within is not None:
            ok = most <= judgement.within
            return (f"{'Yes' if ok else 'No'}: {judgement.subject} was {path}; the largest year-to-year change is "
                    f"{most:.1f}{unit} ({'within' if ok else 'more than'} {judgement.within:g}{unit}).")
        return f"{judgement.subject.capitalize()} was {path}; the largest year-to-year change is {most:.1f}{unit}."
    moved = "rose" if delta > 0 else "fell" if delta < 0 else "was unchanged"
    moved_by = Value(last.measure, last.year, abs(delta), last.unit, "")
    change = (f"{delta:+.1f}{unit}" if points else
              f"{'+' if delta >= 0 else '-'}{_shown(moved_by)}, {delta / abs(first.result) * 100:+.1f}%" if first.result
              else f"{delta:+,.2f}")
    text = f"{judgement.subject} {moved} from {_shown(first)} in {first.year} to {_shown(last)} in {last.year} " \
           f"({change})."
    if asks_up is None or delta == 0:
        return text[0].upper() + text[1:]
    return ("Yes: " if (delta > 0) == asks_up else "No: ") + text


def asked_direction(question: str, lower_better: bool = False) -> bool | None:
    """Whether a yes/no question asks about a rise (True) or a fall (False) of its figure; None when it asks
    neither. A question asking whether it got "stronger" asks for a fall of a figure where ``lower_better``
    (leverage); "deleverage" asks for a fall of leverage.

    >>> asked_direction("Does it have an improving margin?"), asked_direction("Was there any drop in cash?")
    (True, False)
    >>> asked_direction("How much has the tax rate changed?") is None
    True
    >>> asked_direction("Did its balance sheet get more leveraged in 2016?")
    True
    >>> asked_direction("Did its balance sheet get stronger in 2021?", lower_better=True)
    False
    """
    if not _YES_NO.search(question):
        return None
    if re.search(r"\bdelever\w*", question, re.I):
        return False  # less debt: the leverage figure falls
    if re.search(r"\b(?:stronger|strengthen\w*)\b", question, re.I):  # better, whichever way the figure moves
        return not lower_better
    if re.search(r"\b(?:weaker|weaken\w*)\b", question, re.I):
        return lower_better
    up = re.search(rf"\b(?:{_UP})\b|{_BECOME} more\b", question, re.I)
    down = re.search(rf"\b(?:{_DOWN})\b|{_BECOME} less\b", question, re.I)
    if up and not down:
        return True
    if down and not up:
        return False
    return None


def judgement_text(question: str, judgement: Judgement, values: Sequence[Value],
                   narrative: Sequence[tuple[str, int]] = ()) -> str:
    """The answer: the verdict, the definition used (and the rule of thumb), each figure's statement with its
    operands cited, then the narrative sentences quoted with their markers.

    >>> j = plan_judgement("Does Acme have a healthy liquidity profile based on FY2022 data?")
    >>> text = judgement_text("Does Acme have a healthy liquidity profile based on FY2022 data?", j,
    ...     [Value("current_ratio", 2022, 1.5, "", "current ratio 2022 = 3 / 2 = 1.50 [1]")],
    ...     [("We believe our cash will be sufficient.", 2)])
    >>> for line in text.split(chr(10)):
    ...     print(line[:50])
    Yes: by the rule used here, the company has a heal
    Definition used: liquidity here = current ratio (c
    current ratio 2022 = 3 / 2 = 1.50 [1]
    quick ratio: not computed (an operand was not foun
    cash and cash equivalents: not computed (an operan
    The filing says: "We believe our cash will be suff
    """
    lower_better = bool(judgement.plans) and judgement.plans[0].source in LOWER_IS_BETTER
    first = verdict(judgement, values, asked_direction(question, lower_better))
    rule = f"; {judgement.concept.rule}" if judgement.concept is not None else ""
    if judgement.concept is not None and judgement.focus:
        rule = f"; judged here on {judgement.focus.replace('_', ' ')} as the question asks: " \
               f"{judgement.concept.yes.split(' ', 1)[-1]} with {FOCUS_TESTS[judgement.focus][2]}"
    lines = [first] if first else []
    if judgement.definition:
        lines.append(f"Definition used: {judgement.definition}{rule}.")
    lines += [v.statement for v in values]
    computed = {v.measure for v in values}
    if judgement.concept is not None:
        lines += [f"{m.title}: not computed (an operand was not found in the filing's tables)"
                  for m in judgement.concept.measures if m.name not in computed]
    lines += [f'The filing says: "{s}" [{n}]' for s, n in narrative]
    return "\n".join(lines)


def section_sentences(text: str, spans: Sequence[tuple[int, int]], words: set[str], says: str,
                      limit: int = 2) -> list[tuple[int, int]]:
    """The spans (of ``spans`` over ``text``) of the best narrative sentences: those matching ``says`` (when
    given), ranked by how many of ``words`` they hold; at most ``limit``, in text order.

    >>> t = "Sales rose. Margin fell due to higher costs. We believe cash is sufficient to meet our needs."
    >>> s = [(0, 11), (12, 44), (45, 94)]
    >>> [t[a:b] for a, b in section_sentences(t, s, {"margin"}, r"due to")]
    ['Margin fell due to higher costs.']
    """
    scored = []
    for a, b in spans:
        sentence = text[a:b]
        if len(sentence) < 25 or len(sentence) > 600 or (says and not re.search(says, sentence, re.IGNORECASE)):
            continue
        lower = sentence.lower()
        scored.append((sum(w in lower for w in words), a, b))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return sorted((a, b) for _, a, b in scored[:limit])


def values_by(values: Sequence[Value]) -> Mapping[str, Value]:
    """The values by measure name (the last year's wins)."""
    return {v.measure: v for v in values}
