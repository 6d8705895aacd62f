"""Figures derived from reported numbers, computed by docqa rather than by the model (pure functions).

For a question that asks for a ratio, margin, growth, average, sum or difference
(:func:`is_derived_question`), the model is asked to choose the operands and the formula only, in a block
of lines it fills (``generation/prompt.py`` shows it one worked example)::

    OPERAND revenue_2019 = 6,489 [1]
    OPERAND ppe_2019 = 253 [2]
    OPERAND ppe_2018 = 282 [2]
    FORMULA fixed_asset_turnover_2019 = revenue_2019 / ((ppe_2019 + ppe_2018) / 2)

:func:`calculate` parses the block (:func:`parse_block`), checks that every operand's number is printed in
the text of the passage it cites (:func:`find_number`; commas, ``$``, parenthesised negatives and scale
words normalised; never the passage's header), evaluates the formula exactly over fractions with a small
evaluator that walks a Python ``ast`` allowing only numbers, the operand names, ``+ - * / **`` (bounded),
signs, parentheses and a few functions (:mod:`generation.formula`), carries units (``$``, ``%``, "in millions")
through, rounds as the question asks (:func:`rounding_places`), and returns a
:class:`~ingest.core.records.Calculation`. Anything wrong raises :class:`CalcError` with one line saying
what; the caller then falls back to the model's own text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from generation.context import content_words
from generation.formula import (
    AMOUNT,
    CONSTANTS,
    NUMBER,
    PERCENT,
    CalcError,
    Dim,
    Value,
    evaluate,
    format_decimal,
    parse_formula,
    render,
    state_result,
)
from ingest.core.amounts import DIGITS, SCALES, Amount, parse_amount, stated_scale
from ingest.core.periods import periods_named
from ingest.core.records import Calculation, Operand, Passage
from ingest.core.text import sentence_spans

# ---------------------------------------------------------------------------------------------- the question

# A question that says to compute ("calculate", "the sum of", "defined as") wants a computation whatever the text
# states; one that only names a derived figure ("what percentage", "the average salary", "the ratio of men to
# women") is as often a lookup of a figure the text states, and in general documents nearly always is.
_COMPUTE_SAID = re.compile(
    r"\bcalculat|\bcompute\b|\bdivided by\b|\bsum of\b|\bdifference between\b|\bdefined? (?:\w+ ){0,4}as\b"
    r"|\bcagr\b|\bcompound(?:ed)? annual\b", re.IGNORECASE)
_PERCENT_CUE = re.compile(r"%|\bper ?cent(?:s|age)?\b|\bas a (?:share|proportion|fraction) of\b", re.IGNORECASE)
_DERIVED = re.compile(
    rf"{_COMPUTE_SAID.pattern}|{_PERCENT_CUE.pattern}"
    r"|\bratios?\b|\bmargins?\b|\bturnover\b|\bgrowth\b|\baverage\b|\bavg\b|\byear[- ]over[- ]year\b|\byoy\b"
    r"|\b(?:increase|decrease|grow|decline|rise|fall|drop)(?:d|s)? by how much\b"
    r"|\bhow much (?:did|has|have|was|were)\b[^?]*\b(?:increase|decrease|grow|grew|decline|rise|rose|fall|fell|"
    r"drop|change)",
    re.IGNORECASE)
_CHANGE = re.compile(r"\bchange (?:in|from|between|of)\b", re.IGNORECASE)


def is_derived_question(question: str) -> bool:
    """Whether ``question`` asks for a figure computed from reported numbers (ratio, margin, growth, change,
    average, sum, difference, percent). A cheap cue test that prefers missing a derived question to
    triggering on a plain lookup.

    >>> is_derived_question("What is the FY2019 fixed asset turnover ratio for Activision Blizzard?")
    True
    >>> is_derived_question("What is the year end FY2019 total amount of inventories?")
    False
    >>> is_derived_question("What is the change in operating income from FY2015 to FY2016?")
    True
    >>> is_derived_question("Did the company change its auditor?")
    False
    """
    return bool(_DERIVED.search(question)) or (bool(_CHANGE.search(question)) and bool(periods_named(question)))


_PERCENT_FIGURE = re.compile(r"\d\s*(?:%|per ?cent\b)", re.IGNORECASE)
_FIGURE_WORDS = re.compile(r"\b(ratio|margin|turnover|growth|average|avg|increase|decrease|grow|grew|decline|rise|"
                           r"rose|fall|fell|drop|change)", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_RATIO_CUE = re.compile(r"\bratio\b", re.IGNORECASE)
_RATIO_FIGURE = re.compile(r"\b\d[\d,.]*\s*(?:to|:|in|out of)\s*\d[\d,.]*\b", re.IGNORECASE)  # "20 to 1", "3:2"


def _figure_words(text: str) -> set[str]:
    return {m.group(1).lower()[:4] for m in _FIGURE_WORDS.finditer(text)}


def asks_calculation(question: str, texts: Sequence[str]) -> bool:
    """Whether to ask the model for a calculation block: the question is derived (:func:`is_derived_question`)
    and either says to compute, or no sentence of ``texts`` (what the model reads) states the figure it names.

    >>> asks_calculation("What percentage of students attended private schools?",
    ...                  ["In 2008, 7.8% of students attended private schools."])
    False
    >>> asks_calculation("What is the FY2019 gross margin?", ["Net sales 6,489 5,200", "Cost of sales 3,100"])
    True
    >>> asks_calculation("What is the average salary in the UK?", ["The average salary in the UK was £26,719."])
    False
    >>> asks_calculation("What was the ratio of settlers to soldiers?", ["Settlers outnumbered soldiers 20 to 1."])
    False
    >>> asks_calculation("Calculate the average salary.", ["The average salary in the UK was £26,719."])
    True
    >>> asks_calculation("Who discovered oxygen?", ["Oxygen was discovered in 1774."])
    False
    """
    if not is_derived_question(question):
        return False
    if _COMPUTE_SAID.search(question):
        return True
    asked = content_words(_FIGURE_WORDS.sub(" ", _PERCENT_CUE.sub(" ", question)))  # what the figure is of
    percent, ratio, said = bool(_PERCENT_CUE.search(question)), bool(_RATIO_CUE.search(question)), \
        _figure_words(question)

    def states(sentence: str) -> bool:
        """A number in the form asked (a percent for a percentage, "20 to 1" for a ratio, beside the same figure
        word for an average, growth...) and one of the question's other content words."""
        if not _DIGIT.search(sentence) or not asked & content_words(sentence):
            return False
        return (percent and bool(_PERCENT_FIGURE.search(sentence))) or (ratio and bool(_RATIO_FIGURE.search(
            sentence))) or bool(said & _figure_words(sentence))

    return not any(states(text[a:b]) for text in texts for a, b in sentence_spans(text))


_PERCENT_WANTED = re.compile(r"%|\bper ?cent(?:s|age)?\b|\bmargins?\b|\bgross profit rate\b|\bgrowth rate\b|\bcagr\b|"
                             r"\bcompound(?:ed)? annual growth\b|\bhow (?:fast|quickly) did\b", re.IGNORECASE)


_PLACE_WORDS = {"no": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "1": 1, "2": 2, "3": 3, "4": 4,
                "0": 0, "single": 1}
_PLACES = re.compile(r"\b(no|zero|one|two|three|four|single|[0-4])[- ](?:decimal|dp\b)", re.IGNORECASE)

#: Figures stated in percent by convention (a tax rate, a return on assets, equity or capital, a dividend payout
#: ratio, an amount relative to revenue), unless the question asks for a ratio (other than "payout ratio"), a
#: decimal or a fraction.
_PERCENT_BY_CONVENTION = re.compile(r"\btax rate\b|\breturn on (?:average )?(?:total )?(?:assets|(?:shareholders'? |"
                                    r"stockholders'? )?equity|invested capital|capital)\b|\bro[aei]c?\b|"
                                    r"\b(?:what|which) (?:share|proportion|portion|fraction) of\b|\bpayout\b|"
                                    r"\bas an? (?:share|proportion|portion) of\b|"
                                    r"\bhow much of\b[^?]*\b(?:went|go|flowed|returned|spent|paid|devoted)\b|"
                                    r"\brelative to (?:its |the |their )?(?:total )?(?:net )?(?:revenues?|sales)\b|"
                                    r"\bgrowth\b|\bgr[eo]w\b",  # a growth is relative: "by how much did it grow"
                                    re.IGNORECASE)
_PAYOUT_RATIO = re.compile(r"\bpayout ratio\b", re.IGNORECASE)
_AS_RATIO = re.compile(r"\bdecimal\b|\bratio\b|\b(?:as|in) (?:a )?fractions?\b|\btimes\b", re.IGNORECASE)


def wants_percent(question: str) -> bool:
    """Whether the question asks for its figure in percent: it says so, or it asks for a figure stated in percent
    by convention (a tax rate, a return on assets or equity) and not for a ratio or a decimal.

    >>> wants_percent("year-over-year change in operating income (in percents)"), wants_percent("asset turnover")
    (True, False)
    >>> wants_percent("What was the effective tax rate in 2017?"), wants_percent("What is ROE as a decimal?")
    (True, False)
    >>> wants_percent("What share of its 2020 net sales did it spend on capital expenditures?")
    True
    >>> wants_percent("What was the 2019 dividend payout ratio?"), wants_percent("payout ratio as a decimal")
    (True, False)
    >>> wants_percent("How large was share-based compensation relative to its total net revenue in 2016?")
    True
    >>> wants_percent("By how much did its pre-provision profit grow in the first half of 2023?")
    True
    >>> wants_percent("Its effective tax rate for fiscal 2019, to one decimal?")  # rounding, not "as a decimal"
    True
    >>> wants_percent("What fraction of its net earnings did it pay out?"), wants_percent("payout, as a fraction")
    (True, False)
    >>> wants_percent("How much of its operating cash flow went back to shareholders through buybacks?")
    True
    >>> wants_percent("FY2019: SG&A as a share of net sales? One decimal.")  # rounding, not "as a decimal"
    True
    """
    if _PERCENT_WANTED.search(question):
        return True
    unrounded = _PLACES.sub("", _PAYOUT_RATIO.sub("", question))
    return bool(_PERCENT_BY_CONVENTION.search(question)) and not _AS_RATIO.search(unrounded)


_NEAREST = re.compile(r"\bnearest (whole|integer|dollar|cent|percent|percentage point|tenth|hundredth|thousandth)",
                      re.IGNORECASE)
_NEAREST_PLACES = {"tenth": 1, "hundredth": 2, "thousandth": 3, "cent": 2}


def rounding_places(question: str) -> int | None:
    """Decimal places the question asks its answer rounded to (None when it does not say).

    >>> rounding_places("... Round your answer to two decimal places."), rounding_places("to 1 decimal place")
    (2, 1)
    >>> rounding_places("rounded to the nearest whole number"), rounding_places("What is the ratio?")
    (0, None)
    """
    if m := _PLACES.search(question):
        return _PLACE_WORDS[m.group(1).lower()]
    if m := _NEAREST.search(question):
        return _NEAREST_PLACES.get(m.group(1).lower(), 0)
    return None


# ------------------------------------------------------------------------------------------ numbers in text

_PASSAGE_NUMBER = re.compile(rf"(?<![\d.,])(?:{DIGITS})(?![\d])")


def parse_value(text: str) -> Amount:
    """The one number in an operand's value, with its sign, unit and scale (:func:`parse_amount`).

    >>> parse_value("$6,489 million")
    Amount(value=Decimal('6489'), unit='$', scale='million')

    :raises CalcError: not exactly one number.
    """
    amount = parse_amount(text)
    if amount is None:
        raise CalcError(f"{text.strip()!r} is not one number")
    return amount


def passage_scale(passage: Passage) -> str:
    """The scale a passage states for its amounts ("in millions" in its text or header), or "".

    >>> passage_scale(Passage(id="x", doc_id="d", source="a", text="(in millions) 6,489", chars=(0, 19)))
    'million'
    """
    return stated_scale(passage.text) or stated_scale(passage.header)


def find_number(amount: Amount, passage: Passage) -> tuple[int, int] | None:
    """``[start, end)`` of the first number in ``passage.text`` equal to ``amount`` (sign ignored: tables print
    negatives as "(6)" or, cut off, "(6"), compared as written or with both scales applied; None if absent.

    >>> p = Passage(id="x", doc_id="d", source="a", text="Revenue (in millions) $ 6,489 and (6", chars=(0, 36))
    >>> a, b = find_number(Amount(Decimal("6489")), p); p.text[a:b]
    '6,489'
    >>> find_number(Amount(Decimal("-6")), p), find_number(Amount(Decimal("6.489"), "$", "billion"), p)
    ((35, 36), (24, 29))
    >>> find_number(Amount(Decimal("6488")), p) is None
    True
    """
    want = abs(amount.value)
    want_scaled = want * SCALES.get(amount.scale, Decimal(1))
    factor = SCALES.get(passage_scale(passage), Decimal(1))
    for m in _PASSAGE_NUMBER.finditer(passage.text):
        found = Decimal(m.group().replace(",", ""))
        if found == want or found * factor == want_scaled:
            return m.start(), m.end()
    return None


def line_at(text: str, start: int, end: int) -> str:
    """The line of ``text`` holding ``[start, end)``, stripped.

    >>> line_at("a\\n  Revenue 6,489 \\nb", 12, 17)
    'Revenue 6,489'
    """
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return text[a: b if b >= 0 else len(text)].strip()


# ---------------------------------------------------------------------------------------------- the block

_OPERAND_LINE = re.compile(r"^\W*operand\s*\d*\s*[:\-]?\s*(?P<name>[^=:]+?)\s*[=:]\s*(?P<value>.+?)\s*"
                           r"\[\s*(?P<n>\d+)\s*\][\s.,;]*$", re.IGNORECASE)
_OPERAND_START = re.compile(r"^\W*operand\b", re.IGNORECASE)
_FORMULA_LINE = re.compile(r"^\W*formula\b\s*[:\-]?\s*(?P<body>.+?)\s*$", re.IGNORECASE)
_NUMBER_ONLY = re.compile(rf"^[-$(]*(?:{DIGITS})\)?\s*%?$")
_TRAILING_MARKERS = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;\-–]\s*\d+)*\s*\])+[\s.]*$")  # "a / b [1]."
MAX_OPERANDS = 12


@dataclass(frozen=True, slots=True)
class RawOperand:
    """An ``OPERAND name = value [n]`` line, parsed."""

    name: str
    amount: Amount
    citation: int


@dataclass(frozen=True, slots=True)
class Block:
    """The calculation block of a model's answer, and the answer's other text."""

    operands: tuple[RawOperand, ...]
    label: str  # the formula's left-hand side ("" when it had none)
    formula: str
    rest: str  # the answer without the block's lines


def parse_block(text: str) -> Block:
    """The ``OPERAND`` lines and the ``FORMULA`` line in ``text`` (case, bullets and backticks tolerated).

    >>> b = parse_block("OPERAND rev = 6,489 [1]\\nOPERAND cost = $2.5 million [2]\\nFORMULA margin = rev / cost\\nOk.")
    >>> [(o.name, o.amount.value, o.citation) for o in b.operands], b.label, b.formula, b.rest
    ([('rev', Decimal('6489'), 1), ('cost', Decimal('2.5'), 2)], 'margin', 'rev / cost', 'Ok.')

    :raises CalcError: no block, a malformed operand line, no formula or more than one.
    """
    operands: list[RawOperand] = []
    formulas: list[str] = []
    rest: list[str] = []
    for line in text.splitlines():
        clean = line.strip().strip("`").strip()
        if _OPERAND_START.match(clean):
            m = _OPERAND_LINE.match(clean)
            if not m:
                raise CalcError(f"operand line {clean[:80]!r} is not 'OPERAND name = number [n]'")
            operands.append(RawOperand(m.group("name").strip(" `*"), parse_value(m.group("value")), int(m.group("n"))))
        elif m := _FORMULA_LINE.match(clean):
            formulas.append(_TRAILING_MARKERS.sub("", m.group("body")).strip("` "))
        elif clean not in ("", "```"):
            rest.append(line.rstrip())
    if not operands and not formulas:
        raise CalcError("the answer has no OPERAND and FORMULA lines")
    if not formulas:
        raise CalcError("the answer has no FORMULA line")
    if len(formulas) > 1:
        raise CalcError(f"the answer has {len(formulas)} FORMULA lines, not one")
    if not operands:
        raise CalcError("the answer has no OPERAND lines")
    if len(operands) > MAX_OPERANDS:
        raise CalcError(f"{len(operands)} operands, more than {MAX_OPERANDS}")
    label, formula = "", formulas[0]
    if formula.count("=") == 1:
        left, right = (part.strip() for part in formula.split("="))
        if _NUMBER_ONLY.match(right):  # "a / b = 24.26": the model's own result is not used
            formula = left
        else:
            label, formula = left, right
    return Block(tuple(operands), label, formula, "\n".join(rest).strip())


# ------------------------------------------------------------------------------------------ the calculation

def display_name(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip()


def _bind_names(formula: str, operands: Sequence[RawOperand]) -> str:
    """The formula with each operand's name (as written, or with ``_`` for spaces) replaced by ``v0``, ``v1``...,
    longest names first, and with ``×÷−^$`` and thousands commas read as Python."""
    text = formula.replace("×", "*").replace("÷", "/").replace("−", "-").replace("–", "-").replace("^", "**")
    text = text.replace("$", "")
    order = sorted(range(len(operands)), key=lambda i: -len(operands[i].name))
    for i in order:
        name = operands[i].name
        for form in dict.fromkeys((name, re.sub(r"\W+", "_", name).strip("_"), display_name(name))):
            if form:
                text = re.sub(rf"(?<![\w.]){re.escape(form)}(?![\w])", f"__v{i}", text, flags=re.IGNORECASE)
    values = {abs(o.amount.value) for o in operands}

    def uncomma(m: re.Match[str]) -> str:  # "6,489" is one number when it is an operand's; else a list "1,2"
        joined = m.group().replace(",", "")
        return joined if Decimal(joined) in values else m.group()

    return re.sub(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])", uncomma, text)


def _operands_for_literals(tree: ast.Expression, operands: Sequence[RawOperand]) -> ast.Expression:
    """Literal numbers that are an operand's value become that operand's name; any other literal must be a
    small constant (:data:`CONSTANTS`), never a number the model worked out itself.

    :raises CalcError: a literal that is neither.
    """
    by_value = {abs(o.amount.value): i for i, o in reversed(list(enumerate(operands)))}

    class Bind(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            value = Decimal(str(node.value))
            if value in by_value and Fraction(str(node.value)) not in CONSTANTS:
                return ast.copy_location(ast.Name(id=f"__v{by_value[value]}", ctx=ast.Load()), node)
            if Fraction(str(node.value)) not in CONSTANTS:
                raise CalcError(f"the formula uses {format_decimal(value)}, which is not one of the operands")
            return node

    return ast.fix_missing_locations(Bind().visit(tree))


def check_operands(operands: Sequence[RawOperand], passages: Sequence[Passage]) -> list[Operand]:
    """Each operand found in the text of the passage it cites, as an :class:`Operand` (scale from the passage
    when the model gave none; a ``$`` printed right before the number counts as its unit). A number its passage
    does not print but exactly one other passage does is cited to that one (the caller notes the change).

    :raises CalcError: a citation to no passage, or a number neither its passage nor exactly one other prints.
    """
    out: list[Operand] = []
    for o in operands:
        if not 1 <= o.citation <= len(passages):
            raise CalcError(f"operand {o.name!r} cites [{o.citation}], which is not a passage")
        cited, p = o.citation, passages[o.citation - 1]
        span = find_number(o.amount, p)
        if span is None:  # a wrong number in brackets: repaired only when exactly one other passage prints it
            found = [(i, s) for i, q in enumerate(passages, 1) if (s := find_number(o.amount, q)) is not None]
            if len(found) != 1:
                raise CalcError(f"operand {o.name!r} = {format_decimal(o.amount.value)} is not in passage "
                                f"[{o.citation}]" + (f" (but in {len(found)} others)" if found else ""))
            (cited, span), p = found[0], passages[found[0][0] - 1]
        unit = o.amount.unit or ("$" if p.text[max(0, span[0] - 4): span[0]].rstrip(" (").endswith("$") else "")
        unit = unit or ("%" if ratio_in_percent(line_at(p.text, *span), p) else "")
        scale = o.amount.scale
        if not scale and unit != "%" and not per_share_amount(o.name, p):
            scale = passage_scale(p)
        out.append(Operand(name=display_name(o.name), value=format_decimal(o.amount.value), citation=cited,
                           unit=unit, scale=scale, quote=line_at(p.text, *span), span=span))
    return out


_PER_SHARE = re.compile(r"share|eps|dividend", re.IGNORECASE)
_EPS = re.compile(r"(?<![a-z])eps(?![a-z])|per_?share", re.IGNORECASE)
_EXCEPT_PER_SHARE = re.compile(r"except (?:for )?per[- ]share", re.IGNORECASE)


def per_share_amount(name: str, passage: Passage) -> bool:
    """Whether an operand is an amount per share, which a table's "in millions" does not scale: earnings per share
    by its name, or a share or dividend figure in a passage whose scale note excepts per-share data.

    >>> p = Passage(id="x", doc_id="d", source="a", text="Diluted 22.76", chars=(0, 13), header="(In millions)")
    >>> per_share_amount("eps_diluted_2021", p), per_share_amount("dividends_2021", p)
    (True, False)
    """
    return bool(_EPS.search(name)) or bool(_PER_SHARE.search(name) and (
        _EXCEPT_PER_SHARE.search(passage.text) or _EXCEPT_PER_SHARE.search(passage.header)))


_EXPLICIT_PERCENT = re.compile(r"%|\bper ?cent(?:s|age)?\b", re.IGNORECASE)
_EXCEPT_RATIOS = re.compile(r"\bexcept\b[^)]{0,60}\bratios\b", re.IGNORECASE)
_PERCENT_ROW = re.compile(r"^\W*(?:[\w-]+ ){0,3}(?:return on|margin\b|rate\b|yield\b)", re.IGNORECASE)


def ratio_in_percent(row: str, passage: Passage) -> bool:
    """Whether a table row is a return, margin or rate in percent that the table's scale note excepts ("in
    millions, except per share data and ratios"), its "%" printed on the block's first row only.

    >>> p = Passage(id="x", doc_id="d", source="a", text="(in millions, except per share data and ratios)\\n"
    ...             "Return on common equity 23 % 4 %\\nReturn on tangible common equity 29 5", chars=(0, 1))
    >>> ratio_in_percent("Return on tangible common equity 29 5", p), ratio_in_percent("Net income 14,300", p)
    (True, False)
    """
    return bool(_PERCENT_ROW.search(row)) and bool(_EXCEPT_RATIOS.search(passage.text) or
                                                   _EXCEPT_RATIOS.search(passage.header))


def _scale_factor(scale: str, common: str) -> Fraction:
    """What to multiply an amount quoted in ``scale`` by to express it in ``common`` ("" for either: as is)."""
    if not scale or not common or scale == common:
        return Fraction(1)
    return Fraction(SCALES[scale]) / Fraction(SCALES[common])


def calculate(question: str, answer: str, passages: Sequence[Passage]) -> Calculation:
    """Parse the calculation block in ``answer``, check its operands against the numbered ``passages``
    ([1] is ``passages[0]``), evaluate it and state the result as ``question`` asks (percent, rounding).

    An amount's scale is the one the model wrote ("6.5 billion") or else its passage states ("in millions";
    not for a per-share figure in a table "except per share"); amounts of different scales are brought to
    the most common one first, and an amount result carries that scale.

    :raises CalcError: the block is missing or invalid, an operand is not in its passage, the formula
        cannot be evaluated.
    """
    block = parse_block(answer)
    checked = check_operands(block.operands, passages)
    ids = {f"__v{i}" for i in range(len(block.operands))}
    try:
        tree = _operands_for_literals(parse_formula(_bind_names(block.formula, block.operands), ids),
                                      block.operands)
    except CalcError as e:  # name the operands as the model did
        raise CalcError(re.sub(r"__v(\d+)", lambda m: block.operands[int(m.group(1))].name, str(e))) from None
    said = [o.scale for o in checked if o.scale and o.unit != "%"]
    common = max(sorted(set(said), key=SCALES.__getitem__), key=said.count) if said else ""  # ties: the smaller
    names = {f"__v{i}": Value(Fraction(o.amount.value) * _scale_factor(c.scale, common),
                              PERCENT if c.unit == "%" else AMOUNT)
             for i, (o, c) in enumerate(zip(block.operands, checked, strict=True))}
    value = evaluate(tree, names)
    number, dim = value.number, value.dim
    if dim == NUMBER and wants_percent(question):
        number, dim = number * 100, PERCENT
    if dim == AMOUNT and _EXPLICIT_PERCENT.search(question):
        raise CalcError(f"the question asks for a percent, but the formula {block.formula!r} gives an amount")
    unit = _unit(dim, checked, common)
    places = rounding_places(question)
    digits = state_result(number, places)
    text = (f"{digits} percentage points" if unit == "%" and points_difference(tree) else
            f"{digits}%" if unit == "%" else
            _dollars(digits) + unit[1:] if unit.startswith("$") else f"{digits} {unit}".strip())
    label_of = {f"__v{i}": c.name for i, c in enumerate(checked)}
    value_of = {f"__v{i}": c.value for i, c in enumerate(checked)}
    return Calculation(label=display_name(block.label), formula=render(tree, label_of.__getitem__),
                       worked=render(tree, value_of.__getitem__), operands=tuple(checked),
                       result=float(number), unit=unit, text=text, places=places)


def points_difference(tree: ast.Expression) -> bool:
    """Whether a formula is one ratio less another (a margin this year less last year's): stated in percent, its
    result is a change in percentage points, not a percent.

    >>> points_difference(ast.parse("a / b - c / d", mode="eval"))
    True
    >>> points_difference(ast.parse("(a - c) / c", mode="eval"))
    False
    """
    body = tree.body
    return (isinstance(body, ast.BinOp) and isinstance(body.op, ast.Sub) and
            all(isinstance(side, ast.BinOp) and isinstance(side.op, ast.Div) for side in (body.left, body.right)))


def _unit(dim: Dim, operands: Sequence[Operand], scale: str) -> str:
    """The result's unit: "%", "$ million", "$", "million" or "" (plain number, or units that do not add up)."""
    if dim == PERCENT:
        return "%"
    if dim != AMOUNT:
        return ""
    amounts = [o for o in operands if o.unit != "%"]
    currency = "$" if any(o.unit == "$" for o in amounts) else ""
    return (currency + (f" {scale}" if scale else "")).strip()


def statement(calc: Calculation) -> str:
    """The answer text for a computed figure: the formula, worked, with the result; then each operand cited. A
    figure read off one row (a lookup) is stated once, not as a formula equal to itself.

    >>> op = Operand(name="revenue", value="6,489", citation=1)
    >>> print(statement(Calculation(label="turnover", formula="revenue / 2", worked="6,489 / 2", operands=(op,),
    ...                             result=3244.5, unit="", text="3,244.5")))
    turnover = revenue / 2 = 6,489 / 2 = 3,244.5
    revenue 6,489 [1]
    >>> print(statement(Calculation(label="revenue", formula="revenue", worked="6,489", operands=(op,),
    ...                             result=6489, unit="$ million", text="$6,489 million")))
    revenue = $6,489 million
    revenue 6,489 [1]
    """
    parts = [calc.label] if calc.label else []
    lookup = calc.formula in {o.name for o in calc.operands}
    if calc.formula != calc.label and not (lookup and calc.formula in calc.label):
        parts.append(calc.formula)  # "principal transactions revenue 2023 = revenue 2023": the row once
    if calc.worked != calc.formula and not lookup:
        parts.append(calc.worked)  # a lookup's worked form is its value, which the result states
    first = " = ".join([*parts, calc.text])
    cited = "; ".join(f"{o.name} {_with_unit(o)} [{o.citation}]" for o in calc.operands)
    return f"{first}\n{cited}"


def _with_unit(o: Operand) -> str:
    return f"{o.value}%" if o.unit == "%" else _dollars(o.value) if o.unit == "$" else o.value


def _dollars(digits: str) -> str:
    """An amount in dollars, its sign before the currency.

    >>> _dollars("1,019"), _dollars("-1,019")
    ('$1,019', '-$1,019')
    """
    return f"-${digits[1:]}" if digits.startswith("-") else f"${digits}"


def strip_block(answer: str) -> str:
    """``answer`` without the lines of a calculation block (OPERAND, FORMULA, code fences).

    >>> strip_block("OPERAND a = 1 [1]\\nFORMULA a\\nIt is 1 [1].")
    'It is 1 [1].'
    """
    keep = [line for line in answer.splitlines()
            if not _OPERAND_START.match(line.strip().strip("`")) and not _FORMULA_LINE.match(line.strip().strip("`"))
            and line.strip() != "```"]
    return "\n".join(keep).strip()
