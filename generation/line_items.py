"""The line-item glossary of the figures planner: the standard statement line items, how statements print their
labels and how questions name them, and how well a row label names one (pure functions).

:data:`LINE_ITEMS` lists the items (revenue, cost of goods sold, total current assets, capital expenditures, ...),
each with the label patterns a statement row matches (:func:`label_score`), the names a question uses
(:func:`items_named`) and the statement it is reported in (:func:`statements_named`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------- line items

Statement = str  # "balance", "income", "cash" or "" (any)


@dataclass(frozen=True, slots=True)
class LineItem:
    """A standard statement line item: how statements print its label, and how questions name it.

    :param key: short name, used in operand names ("revenue", "ppe").
    :param labels: regexes a row label matches (full match after normalising, see :func:`norm_label`),
        most specific first.
    :param names: regexes that name the item in a question or a definition.
    :param statement: where it is reported ("balance", "income", "cash").
    :param outflow: may be printed negative, as a cash outflow or an expense in parentheses; its magnitude is the
        amount (capital expenditures "(4,625)", a provision for income taxes "(491)").
    :param optional: a filing that holds none prints no row (short-term investments): in a formula that adds it,
        its absence counts as 0, said so in the answer.
    :param reversed_by: a pattern of row labels that count the item the other way round ("Other expense
        (income), net" for other income): their figures change sign.
    :param per_share: an amount per share (earnings per share): a table's "in millions" is not its scale.
    """

    key: str
    title: str
    labels: tuple[str, ...]
    names: tuple[str, ...]
    statement: Statement
    outflow: bool = False
    optional: bool = False
    reversed_by: str = ""
    per_share: bool = False

    @property
    def is_total(self) -> bool:
        return any(p.startswith("total") for p in self.labels[:1])


#: A cash-flow total's verb printed both ways: "provided by (used in)", "(used for)/provided by" ("/(" reads " (").
_BOTH_WAYS = r"provided by \(used (?:in|for)\)|\(used (?:in|for)\) ?/? ?provided by"


def _item(key: str, title: str, labels: Iterable[str], names: Iterable[str], statement: Statement,
          outflow: bool = False, optional: bool = False, reversed_by: str = "", per_share: bool = False) -> LineItem:
    return LineItem(key, title, tuple(labels), tuple(names), statement, outflow, optional, reversed_by, per_share)


_PER_SHARE = r"(?:net )?(?:earnings|income|\(loss\) income|income \(loss\)|loss|earnings \(loss\))(?: \(loss\))?" \
             r"(?: attributable to [\w .,&'’-]+?)? per (?:common |ordinary )?share(?: data)?" \
             r"(?: attributable to [\w .,&'’-]+)?"


def _eps_labels(kind: str) -> list[str]:
    """Row labels of basic or diluted earnings per share: "Diluted earnings per share", "Earnings per share -
    diluted", or a bare "Diluted" under an "Earnings per share" heading (matched with its section before it)."""
    return [rf"{kind} {_PER_SHARE}", rf"{_PER_SHARE},? (?:[-–—] )?\(?{kind}\)?", rf"{kind} (?:eps|earnings)",
            rf"{_PER_SHARE}:? {kind}(?: net (?:income|earnings)(?: \(loss\))? per (?:common )?share)?"]


_ATTR = r"(?: attributable to [\w .,&'’-]+| applicable to [\w .,&'’-]+)?"
LINE_ITEMS: tuple[LineItem, ...] = (
    _item("revenue", "total revenue",
          [r"total net revenues?", r"total revenues?(?:, net)?", r"net revenues?", r"revenues?(?:, net)?", r"net sales",
           r"total net sales", r"sales", r"net sales and revenues?", r"total revenues? and other income"],
          [r"(?:total |net |unadjusted )*(?:revenues?|sales|top[- ]line)"], "income"),
    _item("cogs", "cost of goods sold",
          [r"total cost of (?:goods sold|sales|revenues?|products sold)", r"cost of (?:goods sold|sales|revenues?)",
           r"cost of products sold", r"cost of merchandise sold",
           r"cost of sales, including [\w ,]+", r"cost of sales(?: and occupancy)?"],
          [r"cogs", r"cost of (?:goods sold|sales|revenues?|products sold)"], "income", outflow=True),
    _item("gross_profit", "gross profit", [r"gross (?:profit|margin)"], [r"gross profit"], "income"),
    _item("operating_income", "operating income",
          [r"operating income(?: \(loss\))?", r"income(?: \(loss\))? from operations", r"operating (?:profit|loss)",
           r"operating income \(loss\)", r"(?:loss|income) from operations"],
          [r"(?:unadjusted )?operating (?:income|profit)", r"income from operations", r"\bebit\b(?!da)"], "income"),
    _item("net_income", "net income",
          [rf"net (?:income|earnings)(?: \(loss\))?{_ATTR}", rf"net (?:loss|income \(loss\)){_ATTR}",
           r"net (?:income|earnings) attributable to [\w .,&'’-]+"],
          [r"net (?:income|earnings|profit)", r"bottom[- ]line"], "income"),
    _item("pretax_income", "income before income taxes",
          [r"(?:income|earnings)(?: \(loss\))?(?: from continuing operations)? before (?:provision for )?income "
           r"tax(?:es| expense)?(?: and [\w ]+)?",
           r"(?:\(loss\) income|loss|\(loss\)) before (?:provision for )?income tax(?:es| expense)?(?: and [\w ]+)?"],
          [r"(?:income|earnings) before (?:income )?tax(?:es)?", r"pre-?tax (?:income|earnings)"], "income"),
    _item("income_tax", "income tax expense",
          [r"provision for income taxes", r"income tax expense(?: \(benefit\))?", r"(?:provision for|benefit from) "
           r"income taxes", r"income taxes", r"provision \(benefit\) for income taxes",
           r"provision for \(benefit from\) income taxes", r"\(benefit from\) provision for income taxes",
           r"income tax \(benefit\) expense"],
          [r"income tax(?:es| expense)?", r"provision for income taxes", r"tax expense"], "income", outflow=True),
    _item("interest_expense", "interest expense", [r"interest expense(?:, net)?", r"interest expense, net of [\w ]+"],
          [r"interest expense"], "income", outflow=True),
    _item("provision_credit_losses", "provision for credit losses",  # a bank's: printed as is (a release negative)
          [r"provision for (?:credit|loan) losses(?: \(benefit\))?", r"provision for loan and lease losses",
           r"provision \(benefit\) for (?:credit|loan) losses"],
          [r"provisions? for (?:credit|loan) losses", r"credit loss provisions?"], "income"),
    _item("net_interest_income", "net interest income", [r"net interest income(?: \([\w -]+\))?"],
          [r"net interest income"], "income"),
    _item("deposits", "total deposits", [r"total deposits", r"deposits"], [r"(?:total )?deposits"], "balance"),
    _item("noninterest_expense", "total noninterest expense",
          [r"total non-?interest expenses?", r"non-?interest expenses?"], [r"non-?interest expenses?"], "income",
          outflow=True),
    _item("marketing", "marketing", [r"marketing(?: expenses?)?"],
          [r"(?<!sales and )(?<!sales & )(?<!selling and )marketing (?:spend(?:ing)?|expenses?|costs?)"], "income",
          outflow=True),
    _item("share_based_compensation", "share-based compensation",
          [r"(?:share|stock)[- ]based compensation(?: expenses?)?"], [r"(?:share|stock)[- ]based compensation"],
          "cash"),
    _item("research_and_development", "research and development",
          [r"(?:total )?research and development(?: expenses?| costs?)?", r"r ?& ?d(?: expenses?)?",
           r"research, development and [\w ]+"],
          [r"research(?:,)? (?:and )?development(?:,? and engineering)?(?: expenses?| costs?| spend(?:ing)?)?",
           r"\br ?& ?d\b"], "income", outflow=True),
    _item("other_income", "other income (expense), net",
          [r"(?:total )?(?:interest and )?other (?:income|expense)s?(?: ?[/(]\(?(?:income|expense)s?\)?\)?)?"
           r"(?:,? net)?",
           r"(?:total )?(?:interest and )?other (?:income|expense)s?,? net(?: \((?:income|expense)\))?",
           r"other non-?operating (?:income|expense)(?: \((?:income|expense)\))?(?:,? net)?"],
          [r"(?:net )?(?:interest and )?other (?:income|expense)s?(?: ?[/(]\(?(?:income|expense)s?\)?\)?)?(?:,? net)?"],
          "income", reversed_by=r"^(?:total )?(?:interest and )?other (?:non-?operating )?expenses?\b"),
    _item("sga", "selling, general and administrative expenses",
          [r"(?:total )?selling, general(?:,)? and administrative(?: expenses?)?(?: \(sg&a\))?",
           r"sg ?& ?a(?: expenses?)?"],
          [r"selling, general(?:,)? (?:and|&) administrative(?: expenses?)?", r"sg ?& ?a(?: expenses?)?"], "income",
          outflow=True),
    _item("da", "depreciation and amortization",
          [r"depreciation(?:,| and) amortization(?: and [\w ]+)?", r"depreciation, depletion and amortization",
           r"depreciation and amortization expense", r"depreciation"],
          [r"depreciation (?:and|&) amortization", r"d ?& ?a", r"\bda\b"], "cash"),
    _item("cfo", "cash from operations",
          [rf"net cash (?:provided by|from|generated (?:by|from)|{_BOTH_WAYS}|"
           r"used (?:in|for)) operating activities", r"cash (?:provided by|from|generated by|used in) operations",
           rf"total cash (?:provided by|from|{_BOTH_WAYS}|used (?:in|for)) "
           r"operating activities", r"net cash provided by operating activities"],
          [r"cash (?:flows? )?from operati(?:ons|ng activities)", r"operating cash flows?",
           r"cash (?:provided|generated) by operati(?:ons|ng activities)", r"net cash from operating activities",
           r"cash flow from operating activities", r"\boperating activities\b"], "cash"),
    _item("cfi", "cash from investing activities",
          [rf"net cash (?:provided by|from|used (?:in|for)|{_BOTH_WAYS}|"
           r"(?:used in|provided by) \(?(?:used in|provided by)\)?) investing activities",
           rf"(?:total )?cash (?:used (?:in|for)|provided by|{_BOTH_WAYS}) "
           r"investing activities"],
          [r"cash (?:flows? )?(?:from|used in) investing activities", r"investing cash flows?",
           r"\binvesting activities\b"], "cash"),
    _item("cff", "cash from financing activities",
          [rf"net cash (?:provided by|from|used (?:in|for)|{_BOTH_WAYS}|"
           r"(?:used in|provided by) \(?(?:used in|provided by)\)?) financing activities",
           rf"(?:total )?cash (?:used (?:in|for)|provided by|{_BOTH_WAYS}) "
           r"financing activities"],
          [r"cash (?:flows? )?(?:from|used in) financing activities", r"financing cash flows?",
           r"\bfinancing activities\b"], "cash"),
    _item("capex", "capital expenditures",
          [r"capital expenditures", r"purchases? of property(?:,)? (?:plant )?and equipment(?: and [\w ]+)?",
           r"payments for (?:acquisition of )?property,? plant,? and equipment", r"capital spending",
           r"additions to property(?:,)? (?:plant )?and equipment", r"acquisitions? of property(?:,)? (?:plant )?and "
           r"equipment", r"purchases? of property(?:,)? equipment(?:,)? and [\w ]+", r"capital expenditure"],
          [r"capital expenditures?", r"capex", r"capital spending", r"purchases? of property(?:,)? (?:plant )?and "
           r"equipment"], "cash", outflow=True),
    _item("total_current_assets", "total current assets", [r"total current assets"], [r"(?:total )?current assets"],
          "balance"),
    _item("total_current_liabilities", "total current liabilities", [r"total current liabilities"],
          [r"(?:total )?current liabilities"], "balance"),
    _item("total_assets", "total assets", [r"total assets"], [r"total assets", r"\bassets\b"], "balance"),
    _item("total_liabilities", "total liabilities", [r"total liabilities"], [r"total liabilities"], "balance"),
    _item("equity", "total shareholders' equity",
          [r"total (?:stockholders|shareholders)['’]? equity(?: \(deficit\))?", r"total equity",
           r"total [\w ,.&'’-]+ (?:stockholders|shareholders)['’]? equity"],
          [r"(?:total )?(?:stockholders|shareholders)['’]? equity", r"(?:total |book )?equity"], "balance"),
    _item("inventories", "inventories",
          [r"(?:merchandise )?inventor(?:y|ies)(?:, net)?", r"inventories, net", r"total inventories"],
          [r"(?:merchandise )?inventor(?:y|ies)"], "balance"),
    _item("receivables", "accounts receivable, net",
          [r"(?:trade )?accounts receivable(?:, net)?(?: of [\w ,$]+)?", r"receivables?(?:, net)?",
           r"accounts and notes receivable(?:, net)?", r"trade receivables(?:, net)?"],
          [r"(?:accounts (?:and notes )?|notes and accounts |trade )?receivables?"], "balance"),
    _item("payables", "accounts payable",
          [r"(?:trade )?accounts payable(?: and [\w ]+)?", r"accounts payable, trade"],
          [r"(?:accounts |trade )?payables?"], "balance"),
    _item("ppe", "property and equipment, net",
          [r"(?:total )?property(?:,)? (?:plant )?and equipment(?:, net)?(?: of [\w ,$]+)?",
           r"net property(?:,)? (?:plant )?and equipment", r"property(?:,)? plant(?:,)? and equipment, net",
           r"property and equipment, at cost, net", r"(?:net )?pp&e"],
          [r"pp ?& ?e", r"property(?:,)? (?:plant )?(?:and|&) equipment", r"fixed assets"], "balance"),
    _item("cash", "cash and cash equivalents", [r"cash and (?:cash )?equivalents(?: at end of (?:year|period))?"],
          [r"cash and (?:cash )?equivalents"], "balance"),
    _item("short_term_investments", "short-term investments",
          [r"short[- ]term investments?", r"(?:short[- ]term )?marketable securities(?:, current)?",
           r"short[- ]term marketable (?:debt )?securities"],
          [r"short[- ]term investments?", r"marketable securities"], "balance", optional=True),
    _item("goodwill", "goodwill", [r"goodwill(?:, net)?"],  # the balance, not its impairment or an acquisition's
          [r"(?<!impairment of )(?<!impairments of )(?<!write-down of )"
           r"goodwill(?!\s+(?:(?:was|were|is) )?(?:and|impair|write|amorti|acquired|allocated|assigned|resulting|"
           r"arising|recogni[sz]ed|recorded|related|from))"], "balance"),
    _item("long_term_debt", "long-term debt",
          [r"long[- ]term debt(?:, net)?(?:, (?:less|excluding) current (?:portion|maturities))?",
           r"long[- ]term debt, net of current portion",
           # one line with the leases: "Debt and capital lease obligations, non-current"
           r"(?:long[- ]term )?debt and (?:capital|finance) lease obligations(?:, non-?current|"
           r" less current portion)?"],
          [r"long[- ]term debt(?: and (?:capital|finance) lease obligations)?"], "balance"),
    _item("current_debt", "current portion of long-term debt",
          [r"current (?:portion|maturities) of long[- ]term (?:debt|borrowings)(?: and [\w ]+)?",
           r"short[- ]term (?:debt|borrowings)(?: and current (?:portion|maturities) of long[- ]term debt)?",
           r"current (?:portion of )?(?:debt|borrowings)"],
          [r"current (?:portion|maturities)(?: of long[- ]term (?:debt|borrowings))?",
           r"short[- ]term (?:debt|borrowings)"],
          "balance"),
    _item("debt_issued", "proceeds from issuance of long-term debt",
          [r"(?:proceeds from )?(?:the )?issuances? of (?:long[- ]term )?(?:debt|notes|senior notes)"
           r"(?:, net(?: of [\w ]+)?)?",
           r"proceeds from (?:long[- ]term )?(?:debt|borrowings)(?:, net(?: of [\w ]+)?)?"],
          [r"issu(?:ed|ance of|ances of|ing) (?:new )?(?:long[- ]term )?debt",
           r"new (?:long[- ]term )?(?:debt|borrowings)", r"debt issu(?:ance|ances|ed)",
           r"proceeds from (?:the )?issuance of (?:long[- ]term )?debt"], "cash"),
    _item("dividends", "dividends paid",
          [r"(?:cash )?dividends paid(?: to [\w ]+)?", r"dividends paid on common stock", r"payments? of dividends",
           r"(?:cash )?dividends? payments?",
           r"dividends"], [r"dividends(?: paid)?"], "cash", outflow=True),
    _item("dividends_per_share", "cash dividends declared per share",
          [r"(?:cash )?dividends? (?:declared |paid )?per (?:common )?share(?: of common stock)?"],
          [r"(?:cash )?dividends? (?:declared |paid )?per (?:common )?share", r"\bdps\b"], "income", per_share=True),
    _item("eps_diluted", "diluted earnings per share", _eps_labels("diluted"),
          [r"diluted (?:net )?(?:earnings|income|loss)(?: \(loss\))? per (?:common )?share", r"diluted eps",
           r"(?:earnings per share|eps),? \(?diluted\)?",
           r"(?:net )?(?:earnings|income|loss)(?: \(loss\))? per (?:common )?share",
           r"\beps\b"], "income", per_share=True),
    _item("eps_basic", "basic earnings per share", _eps_labels("basic"),
          [r"basic (?:net )?(?:earnings|income|loss)(?: \(loss\))? per (?:common )?share", r"basic eps",
           r"(?:earnings per share|eps),? \(?basic\)?"], "income", per_share=True),
    _item("buybacks", "repurchases of common stock",
          [r"(?:repurchases?|purchases?) of (?:common |treasury )?stock", r"share repurchases?",
           r"repurchases? of (?:common )?shares", r"payments for repurchases? of common stock",
           r"common stock repurchased"],
          [r"(?:stock|share) repurchases?", r"repurchases? of (?:common )?(?:stock|shares)", r"buybacks?",
           r"purchases? of treasury stock", r"treasury stock purchases?"], "cash",
          outflow=True),
)
ITEMS: Mapping[str, LineItem] = {i.key: i for i in LINE_ITEMS}

# longest names first, so "total current assets" wins over "assets"
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], LineItem], ...] = tuple(sorted(
    ((re.compile(rf"(?<![\w-]){n}(?![\w])", re.IGNORECASE), item) for item in LINE_ITEMS for n in item.names),
    key=lambda pair: -len(pair[0].pattern)))


def items_named(text: str) -> list[tuple[int, int, LineItem]]:
    """The line items ``text`` names, with their spans, left to right (longest names first; no overlaps).

    >>> [(a, i.key) for a, _, i in items_named("total current assets divided by total current liabilities")]
    [(0, 'total_current_assets'), (32, 'total_current_liabilities')]
    >>> [i.key for *_, i in items_named("average PP&E between FY2018 and FY2019")]
    ['ppe']
    >>> [i.key for *_, i in items_named("365 times average accounts payable divided by cost of sales")]
    ['payables', 'cogs']
    """
    found = [(m.start(), m.end(), n, item) for n, (pattern, item) in enumerate(_NAME_PATTERNS)
             for m in pattern.finditer(text)]
    taken: list[tuple[int, int, LineItem]] = []
    for a, b, _, item in sorted(found, key=lambda f: (f[0] - f[1], f[2])):  # the longest match first
        if not any(a < y and x < b for x, y, _ in taken):
            taken.append((a, b, item))
    return sorted(taken, key=lambda t: t[0])



# ------------------------------------------------------------------------------------ naming a row

def norm_label(label: str) -> str:
    """A row label for matching: lower case, footnote marks and notes dropped, spaces single.

    >>> norm_label("Total shareholders’ equity (Note 12)"), norm_label("Net revenues(1)")
    ("total shareholders' equity", 'net revenues')
    >>> norm_label("Net income/(loss) attributable to common shareholders")  # "/(loss)" is "(loss)"
    'net income (loss) attributable to common shareholders'
    """
    text = label.lower().replace("’", "'").replace("/(", " (")
    text = re.sub(r"\((?:note|notes) [^)]*\)|\(\d\)|\([a-z]\)|[*†‡]", " ", text)
    return " ".join(text.replace(":", " ").split()).strip(" ,.")


_STATEMENTS: Mapping[Statement, re.Pattern[str]] = {
    "balance": re.compile(r"balance sheets?|financial position|financial condition", re.IGNORECASE),
    "income": re.compile(r"statements? of (?:consolidated )?(?:operations|income|earnings)(?! and comprehensive)|"
                         r"income statements?|\bp ?& ?l\b|profit and loss|statements? of operations",
                         re.IGNORECASE),
    "cash": re.compile(r"cash flows?", re.IGNORECASE),
}


def statements_named(text: str) -> set[Statement]:
    """The financial statements ``text`` names.

    >>> sorted(statements_named("the P&L statement and the statement of cash flows"))
    ['cash', 'income']
    """
    return {name for name, pattern in _STATEMENTS.items() if pattern.search(text)}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z&]+", text.lower()) if w not in {"and", "of", "the", "net", "total", "in"}}


_QUALIFIED = re.compile(r"\b(?:non|other|less|excluding|per|before|after|deferred|discontinued)\b")


_MINORITY = re.compile(r"non-?controlling|minority", re.IGNORECASE)


#: words that make a row a change of an item, not the item ("Total revenue impact", "Revenue growth")
_CHANGE_WORDS = r"impact|effect|change|growth|increase|decrease|variance"
_CHANGE = re.compile(rf"\b(?:{_CHANGE_WORDS})\b")
#: words after an item's name that make the row another figure of it ("Net income per share", "Total revenue impact")
_NOT_THE_ITEM = re.compile(rf"\s*(?:per|{_CHANGE_WORDS})\b")


def label_score(item: LineItem, label: str) -> float:
    """How well a row label names ``item``: 3 for a full match of one of its label patterns (more for the first,
    most specific), 2.5 for a label that starts with one of two words or more, else the share of the item's title
    words it holds
    (0 below one half).

    >>> item = ITEMS["total_current_liabilities"]
    >>> label_score(item, "Total current liabilities"), label_score(item, "Other current liabilities")
    (3.2, 0.0)
    >>> label_score(ITEMS["revenue"], "Total revenue impact")  # a currency effect on revenue, not revenue
    0.0

    Net income is the parent's: the total including noncontrolling interests scores below it, their share 0.

    >>> n = ITEMS["net_income"]
    >>> [round(label_score(n, x), 1) for x in ("Net income attributable to Acme", "Net income", "Net income "
    ...     "including noncontrolling interests", "Net income attributable to noncontrolling interests")]
    [3.3, 3.2, 1.0, 0.0]
    """
    text = norm_label(label)
    if item.key == "net_income" and _MINORITY.search(text):
        # the minority holders' share is another figure; the total including it is not the parent's net income
        return 0.0 if re.search(r"attributable to|applicable to", text) else 1.0
    for i, pattern in enumerate(item.labels):
        if re.fullmatch(pattern, text):
            # the parent's net income, said so, beats a bare "Net income" that includes noncontrolling interests
            parents = item.key == "net_income" and re.search(r"attributable to (?!common)", text) is not None
            return 3.0 + 0.2 * (i == 0) + 0.1 * parents
    for pattern in item.labels:  # "Depreciation and amortization of property and equipment"
        m = re.match(pattern + r"\b", text)
        if m and len(m.group().split()) >= 2 and not _NOT_THE_ITEM.match(text[m.end():]):
            return 2.5  # not "... per share", "... impact": another figure of the item
    if item.is_total and not text.startswith("total"):
        return 0.0  # "Other current liabilities" is not the total
    if _QUALIFIED.search(text) or _CHANGE.search(text):
        return 0.0  # "Non-operating income", "Other revenues", "Revenue impact": another line item or figure
    want = _words(item.title)
    overlap = len(want & _words(text)) / len(want) if want else 0.0
    extra = len(_words(text) - want)
    return overlap - 0.1 * extra if overlap >= 0.99 else 0.0


_MARGIN = re.compile(r"\b(gross|operating|net|pre-?tax|ebitda|ebit|contribution)(?: profit| income| earnings)? "
                     r"(?:%|percent(?:age)? )?margins?\b", re.IGNORECASE)


def margins_named(text: str) -> frozenset[str]:
    """The kinds of margin ``text`` names ("gross", "operating", "net", "pretax", ...).

    >>> sorted(margins_named("Operating margin fell while the gross profit margin rose"))
    ['gross', 'operating']
    """
    return frozenset(m.group(1).lower().replace("-", "") for m in _MARGIN.finditer(text))


def line_item_agreement(window: str, label: str) -> bool | None:
    """Whether the words an answer puts around a number (``window``) name the line item a row ``label`` (or a
    printed sentence) holds: True when they name an item the label is printed as, False when they name items
    and the label is plainly another one, None otherwise (``generation.number_check`` uses it as a
    :data:`~generation.number_check.LabelMatcher`).

    >>> line_item_agreement("total revenue was", "Net sales"), line_item_agreement("total revenue was", "Cost of sales")
    (True, False)
    >>> line_item_agreement("employees at year end", "Unit counts at period end") is None
    True
    >>> line_item_agreement("the segment's gross margin was", "Operating margin")
    False
    """
    said, printed = margins_named(window), margins_named(label)
    if said and printed and not said & printed:
        return False  # "gross margin was 9.1%" from an "Operating margin" row
    named = {item.key for *_, item in items_named(window.lower())}
    if not named:
        return None
    scores = {item.key: label_score(item, label) for item in LINE_ITEMS}
    if any(scores[key] > 0 for key in named):
        return True
    if max(scores.values()) >= 2.5:  # the row is plainly another line item
        return False
    return True if named & {item.key for *_, item in items_named(label.lower())} else None
