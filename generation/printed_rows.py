"""Line items the glossary does not know, read from the row labels a filing prints (pure functions).

No glossary is complete: a question may name a line item by the very label its filing prints ("transaction and loan
losses", "deferred revenues", "total noninterest revenue", "additions to property and equipment").
:func:`printed_row_named` finds the longest row label of the filing that a question names, in lower case and of two
words or more (a capitalised name is a part of the company, a single word too loose), and :func:`row_item` makes a
:class:`~generation.line_items.LineItem` of it, its labels the filing's own. :func:`plan_printed_row` plans the
question over that item as the planner plans a glossary item in the same place (a lookup, a share of revenue, a
growth), when the glossary names nothing there or only a word inside it ("revenue" in "total noninterest revenue").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from generation.counting import singular
from generation.figures import Operand, Plan, metric_named, plan_question
from generation.line_items import ITEMS, LineItem, Statement, items_named, label_score, norm_label
from generation.table_cells import STRONG_LABEL

MAX_WORDS = 8  # a longer row label is a sentence, not a line item's name
_WORD = re.compile(r"[A-Za-z][\w&'’-]*")
_LEADING = re.compile(r"^(?:(?:less|add|plus|deduct)\s+)?(?:total\s+)?")  # "Less: Transaction and loan losses"
_OPENING = re.compile(r"\bbeginning of (?:the )?(?:year|period)$")
_CLOSING = re.compile(r",?\s+(?:at\s+)?end of (?:the )?(?:year|period)$")  # "Cash ... at end of period": the balance
_JOINERS = frozenset({"and", "of", "the", "in", "to", "for", "on", "from", "or", "by", "with", "at"})
#: words that name a period or a column, not a line item ("Fiscal year", "First quarter", "Six months ended")
_PERIOD_WORDS = frozenset({"fiscal", "year", "quarter", "first", "second", "third", "fourth", "month", "week", "ended",
                           "ending", "end", "period", "six", "three", "nine", "twelve", "full", "prior", "current",
                           "high", "low", "change", "increase", "decrease", "total", "amount"})
#: a row that counts money going out: its figure is the amount however printed ("(8,343)")
_OUTFLOW = re.compile(r"\b(?:additions?|purchases?|payments?|repurchases?|paid|expenditures?|expenses?|costs?|"
                      r"charges?|losses|dividends)\b")
#: "how much of its inventory was ...": the row named next is a part of a glossary item, printed as its own row
_PART_OF = re.compile(r"\bhow much of (?:its|the|their)\s+(?P<whole>[\w&' -]+?)\s+(?:was|were|is|are)\s+$",
                      re.IGNORECASE)
#: a question asking for words about a row, not its figure
_NARRATIVE = re.compile(r"\b(?:which|why|when|who|whom|describe|explain|discuss|related to|consist(?:ed|s)? of|"
                        r"comprised?|reasons?|what (?:drove|caused|happened))\b", re.IGNORECASE)
#: the glossary item whose name stands in for the printed row while the question is planned: an amount of the
#: income statement that any phrasing of a lookup, a share or a growth accepts
_STAND_IN = ITEMS["research_and_development"]
#: what holds a line item, named after it: "deferred membership fees ... carried in current liabilities"
_CONTAINER = re.compile(r"\b(?:in|within|under|among|inside|as part of)\s+(?:its |the |their )?(?:total )?$",
                        re.IGNORECASE)


def label_key(label: str) -> tuple[str, ...]:
    """A row label's words for matching a question: lower case, singular, without a leading "Less:"/"Total"; ()
    for a label that cannot be a line item's name (a number in it, one word, or more than :data:`MAX_WORDS`).

    >>> label_key("Less:\\xa0Transaction\\xa0and\\xa0loan\\xa0losses"), label_key("Total noninterest revenue")
    (('transaction', 'and', 'loan', 'loss'), ('noninterest', 'revenue'))
    >>> label_key("Backlog"), label_key("Fiscal 2020"), label_key("First quarter"), label_key("Deferred revenues(1)")
    ((), (), (), ('deferred', 'revenue'))
    >>> label_key("Cash and restricted cash at end of period"), label_key("Cash and restricted cash, beginning of year")
    (('cash', 'and', 'restricted', 'cash'), ())
    """
    return _words_key(_LEADING.sub("", norm_label(label)))


def label_keys(label: str) -> set[tuple[str, ...]]:
    """A row label's keys for matching a question: :func:`label_key`, and without a word in brackets (the sign's
    other word: "Equity in (losses) earnings" is named "equity in earnings"), each when it can name a line item.

    >>> sorted(label_keys("Equity in (losses) earnings of affiliated companies (Note 3)"))[0]
    ('equity', 'in', 'earning', 'of', 'affiliated', 'company')
    """
    plain = _words_key(_LEADING.sub("", re.sub(r"\s*\([a-z ]+\)", "", norm_label(label))))
    return {k for k in (label_key(label), plain) if k}


def _words_key(text: str) -> tuple[str, ...]:
    if re.search(r"\d", text) or _OPENING.search(text):
        return ()  # a number in it; a balance at the start of the period (the end's is the balance asked)
    text = _CLOSING.sub("", text)
    words = tuple(singular(w.lower()) for w in _WORD.findall(text))
    content = [w for w in words if w not in _JOINERS]
    if len(content) < 2 or len(words) > MAX_WORDS or all(w in _PERIOD_WORDS for w in content):
        return ()
    return words


@dataclass(frozen=True, slots=True)
class Named:
    """A printed row a question names: where (``start``, ``end``), and the filing's labels of that name."""

    start: int
    end: int
    labels: tuple[str, ...]


def printed_rows_named(question: str, labels: Iterable[str]) -> list[Named]:
    """The row labels among ``labels`` that ``question`` names in lower case (see :func:`label_key`), longest
    first; a "total" before the name is part of it.

    >>> [(n.start, n.labels) for n in printed_rows_named("What did Acme record as transaction and loan losses "
    ...  "for 2020?", ["Net revenues", "Less: Transaction and loan losses", "Loan losses", "Transaction losses"])]
    [(24, ('Less: Transaction and loan losses',)), (40, ('Loan losses',))]
    >>> printed_rows_named("What was revenue in North America in 2020?", ["North America"])  # a name
    []
    >>> [(n.start, n.labels) for n in printed_rows_named("Acme's total deferred revenues?",
    ...                                                    ["Deferred revenues", "Total deferred revenues"])]
    [(7, ('Total deferred revenues',))]
    """
    keys: dict[tuple[str, ...], list[str]] = {}
    for label in labels:
        for key in label_keys(label):
            keys.setdefault(key, []).append(label)
    tokens = list(_WORD.finditer(question))
    found: list[Named] = []
    for i in range(len(tokens)):
        if not tokens[i].group(0)[0].islower():
            continue
        for j in range(min(len(tokens), i + MAX_WORDS), i + 1, -1):
            if any(not t.group(0)[0].islower() for t in tokens[i:j]):
                continue
            key = tuple(singular(t.group(0).lower()) for t in tokens[i:j])
            if key in keys:
                total = i > 0 and tokens[i - 1].group(0).lower() == "total"
                printed = keys[key]
                totals = [x for x in printed if norm_label(x).startswith("total")]
                found.append(Named(tokens[i - 1 if total else i].start(), tokens[j - 1].end(),
                                   tuple(dict.fromkeys(totals if total and totals else printed))))
                break
    return sorted(found, key=lambda n: n.start - n.end)


def _narrowing(question: str, word: re.Match[str]) -> bool:
    """Whether ``word``, right before a printed row's name, narrows it: a code ("CET1", "GAAP") or a capitalised
    name inside the sentence ("the Xbox deferred revenue"); not a possessive, a year or a sentence's first word.

    >>> q = "What was the CET1 capital ratio? What deferred revenue did Acme's Xbox deferred revenue"
    >>> [_narrowing(q, m) for m in _WORD.finditer(q) if m.group(0) in ("CET1", "What", "Xbox", "Acme's")]
    [False, True, False, False, True]
    """
    text = word.group(0)
    if re.search(r"['’]s?$|^(?:FY|Q[1-4])?\d+$", text) or not re.search(r"[A-Z\d]", text):
        return False
    return bool(re.search(r"[A-Z\d]", text[1:])) or not re.search(r"(?:^|[.?!:;]\s*)$", question[:word.start()])


def row_item(name: str, labels: Sequence[str], statement: Statement = "") -> LineItem:
    """A line item of the rows printed as ``labels``, named ``name`` in the question, reported in ``statement``
    ("" for none known).

    >>> item = row_item("deferred revenues", ["Deferred revenues", "Total deferred revenues"])
    >>> item.key, item.labels[0], item.outflow, item.is_total
    ('deferred_revenues', '(?:(?:less|add|plus|deduct) )?deferred\\\\ revenues', False, False)
    >>> row_item("product development costs", ["Product development costs"]).outflow
    True
    """
    normed = list(dict.fromkeys(re.sub(r"^(?:less|add|plus|deduct) ", "", norm_label(x)) for x in labels))
    patterns = tuple(rf"(?:(?:less|add|plus|deduct) )?{re.escape(x)}" for x in normed)
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return LineItem(key, " ".join(name.split()), patterns, (re.escape(name),), statement,
                    outflow=_OUTFLOW.search(name.lower()) is not None)


def plan_printed_row(question: str, labels: Mapping[str, Statement], *, planned: Plan | None,
                     fiscal_year_hint: int | None = None) -> Plan | None:
    """The question planned over a row label its filing prints, or None. ``labels``: the filing's row labels, each
    with the statement whose pages print it ("" for a note's table or a discussion's).

    Only where the glossary does not name the same words: the printed row must hold every glossary name it
    overlaps, and one strictly inside it when the glossary planned the question already (``planned``).

    >>> p = plan_printed_row("How much did Acme carry in deferred revenues at December 31, 2019?",
    ...                      {"Deferred revenues": "balance"}, planned=None)
    >>> p.formula, p.operands[0].item.labels[0], p.as_of
    ('deferred_revenues_2019', '(?:(?:less|add|plus|deduct) )?deferred\\\\ revenues', ((2019, 12),))
    >>> plan_printed_row("How much did Acme carry in deferred revenues (current liabilities) at December 31, 2019?",
    ...                  {"Deferred revenues": "balance"}, planned=None).formula
    'deferred_revenues_2019'
    >>> q = "What was Acme's total noninterest revenue for the six months ended June 30, 2022?"
    >>> p = plan_printed_row(q, {"Total noninterest revenue": "income"}, planned=plan_question(q))
    >>> p.formula, p.months
    ('total_noninterest_revenue_2022', 6)
    >>> q = "What balance of deferred revenues did Acme carry in current liabilities at December 31, 2019?"
    >>> plan_printed_row(q, {"Deferred revenues": "balance"}, planned=plan_question(q)).formula  # what holds it
    'deferred_revenues_2019'
    >>> plan_printed_row("What was its gross profit rate in 2019?", {"Gross profit rate": ""}, planned=None) is None
    True
    >>> plan_printed_row("What was the CET1 capital ratio in 2021?", {"Capital ratio": ""}, planned=None) is None
    True
    >>> plan_printed_row("How much did Acme spend on acquisitions and investments in affiliates in 2020?",
    ...                  {"Investments in affiliates": "balance"}, planned=None) is None
    True
    >>> plan_printed_row("Acme, end of 2019: how much of its inventory was finished product?",
    ...                  {"Finished product": ""}, planned=None).formula
    'finished_product_2019'
    >>> plan_printed_row("How much finished goods inventory did Acme hold at the end of 2019?",
    ...                  {"Finished goods": ""}, planned=None).formula
    'finished_goods_2019'
    >>> plan_printed_row("Why did deferred revenues rise in 2019?", {"Deferred revenues": ""}, planned=None) is None
    True
    >>> q = "What were Acme's total net revenues in 2019?"  # the glossary's own name
    >>> plan_printed_row(q, {"Total net revenues": "income"}, planned=plan_question(q)) is None
    True
    >>> p = plan_printed_row("What share of its 2019 net revenues did Acme spend on product development?",
    ...                      {"Product development": "income", "Net revenues": "income"}, planned=None)
    >>> p.formula, p.label, p.operands[0].item.statement
    ('product_development_2019 / revenue_2019', 'product_development_to_revenue_2019', 'income')
    """
    if _NARRATIVE.search(question):
        return None  # "why did deferred revenue rise", "which brands ... intangible assets": words, not a figure
    glossary = items_named(question)
    if any(i is _STAND_IN for *_, i in glossary):
        return None
    # a glossary name's span -> where the words saying it holds the row start ("in current liabilities")
    holding = {(x, y): m.start() for x, y, _ in glossary if (m := _CONTAINER.search(question[:x]))}

    def beyond_glossary(named: Named) -> bool:
        a, b = named.start, named.end
        inside = [(x, y, i) for x, y, i in glossary if a <= x and y <= b]
        if any(x < b and a < y and (x, y, i) not in inside for x, y, i in glossary):
            return False  # a glossary name across its edge: the question's words are read two ways
        # not the glossary's own name, nor beside a glossary item the question is planned over already (one that
        # holds it, named after it, aside: "deferred membership fees in current liabilities"; and one right after it
        # says what kind of row it is: "membership fee revenue")
        return not any(x <= a and b <= y for x, y, _ in glossary) and \
            (planned is None or bool(inside) or all((x, y) in holding and x > b for x, y, _ in glossary)
             or any(re.fullmatch(r"\s+", question[b:x]) for x, _, _ in glossary))  # "membership fee revenue"

    beyond = [n for n in printed_rows_named(question, labels) if beyond_glossary(n)]
    if not beyond or metric_named(question[beyond[0].start:beyond[0].end], 0):
        return None  # none, or a row printing a metric the glossary computes ("Gross profit rate")
    named = beyond[0]
    if (preceding := list(_WORD.finditer(question[:named.start]))) and _narrowing(question, preceding[-1]):
        return None  # narrowed by a name or a code right before it ("CET1 capital ratio", "Xbox deferred revenue")
    if len(preceding) >= 2 and preceding[-1].group(0).lower() in ("and", "or") and preceding[-2].group(0).islower() \
            and preceding[-2].group(0).lower() not in _JOINERS | {"did", "was", "were", "is", "are", "much", "many"}:
        return None  # the end of a longer name ("acquisitions and investments in noncontrolled affiliates")
    if any((n.end <= named.start or named.end <= n.start) and any(n.start <= x and y <= n.end for x, y, _ in glossary)
           for n in beyond[1:]):
        return None  # a second one the glossary would misread ("additions to streaming content assets")
    a, b = named.start, named.end
    name = question[a:b]
    if item_end := next((y for x, y, _ in glossary if re.fullmatch(r"\s+", question[b:x])), None):
        b = item_end  # "finished goods inventory": the row "Finished goods", of the item after it
    after = re.sub(r"^\s*\([^)\d]*\)", "", question[b:])  # what it is, in brackets: "(current liabilities)"
    for (x, y), held in sorted(holding.items(), reverse=True):  # what holds it: "... carry in current liabilities"
        if x >= b:
            after = after[:held - b] + after[y - b:]
    before = question[:a]
    if (part_of := _PART_OF.search(before)) and items_named(part_of.group("whole")):
        before = f"{before[:part_of.start()]}how much "  # "how much of its inventory was finished product": the row
    stand_in = plan_question(f"{before}{_STAND_IN.title}{after}", fiscal_year_hint=fiscal_year_hint)
    if stand_in is None or not any(o.item is _STAND_IN for o in stand_in.operands):
        return None
    statements = {labels[x] for x in named.labels} - {""}
    item = row_item(name, named.labels, statements.pop() if len(statements) == 1 else "")
    # a row of a glossary item named more closely ("net income (loss) attributable to common shareholders"): the
    # item's reading (its statement, sign, per-share figures), the printed row's labels
    kind = next((i for x, y, i in glossary if a <= x and y <= b and
                 any(label_score(i, label) >= STRONG_LABEL for label in named.labels)), None)
    if kind is not None:
        item = replace(kind, key=item.key, title=item.title, labels=item.labels, names=item.names)

    def renamed(text: str) -> str:
        return re.sub(rf"(?<![a-z0-9]){_STAND_IN.key}(?![a-z0-9])", item.key, text)

    operands = tuple(Operand(renamed(o.name), item, o.year) if o.item is _STAND_IN else o
                     for o in stand_in.operands)
    return replace(stand_in, label=renamed(stand_in.label), formula=renamed(stand_in.formula), operands=operands,
                   source=renamed(stand_in.source), printed=True)
