"""Formulas over named operands, evaluated exactly (pure functions): the evaluator behind computed figures.

:func:`parse_formula` accepts a Python ``ast`` of numbers, operand names, ``+ - * / **`` (bounded), signs,
parentheses and a few functions (avg, sum, min, max, abs, round), nothing else (no ``eval``);
:func:`evaluate` computes it over fractions, carrying units (amounts, percents; :class:`Value`);
:func:`render` and :func:`state_result` write the formula and the result back for the answer.
:mod:`generation.compute` reads the model's calculation block and checks its operands against the passages.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction


class CalcError(ValueError):
    """The calculation block is missing or invalid; the message says why, in one line."""


MAX_FORMULA_CHARS = 400
MAX_NODES = 120
MAX_EXPONENT = 12
MAX_MAGNITUDE = Fraction(10) ** 18
# numbers a formula may hold besides its operands: small counts (2 for an average of two years, 100 for percent),
# day and month counts, and powers of ten (scale)
CONSTANTS = {Fraction(n) for n in range(101)} | {Fraction(n) for n in (360, 365, 366)} | {
    Fraction(10) ** k for k in range(3, 13, 3)}

Dim = tuple[int, int] | None  # exponents of (amount, percent); None: mixed units (a sum of $ and %)
AMOUNT: Dim = (1, 0)
PERCENT: Dim = (0, 1)
NUMBER: Dim = (0, 0)


@dataclass(frozen=True, slots=True)
class Value:
    """An exact value and its units."""

    number: Fraction
    dim: Dim


def _add(a: Dim, b: Dim) -> Dim:
    return a if a == b else None


def _times(a: Dim, b: Dim, sign: int) -> Dim:
    if a is None or b is None:
        return None
    return a[0] + sign * b[0], a[1] + sign * b[1]


def _round_half_up(x: Fraction, places: int) -> Fraction:
    """``x`` rounded to ``places`` decimals, halves away from zero (as financial statements round)."""
    q = Fraction(10) ** places
    n = x * q
    r = math.floor(abs(n) + Fraction(1, 2))
    return Fraction(r if n >= 0 else -r) / q


def _same_dims(args: Sequence[Value]) -> Dim:
    dims = {a.dim for a in args}
    return dims.pop() if len(dims) == 1 else None


def _mean(args: Sequence[Value]) -> Value:
    return Value(sum((a.number for a in args), Fraction(0)) / len(args), _same_dims(args))


def _round(args: Sequence[Value]) -> Value:
    if len(args) not in (1, 2) or (len(args) == 2 and (args[1].number.denominator != 1 or
                                                       not 0 <= args[1].number <= 10)):
        raise CalcError("round takes a value and 0 to 10 decimal places")
    return Value(_round_half_up(args[0].number, int(args[1].number) if len(args) == 2 else 0), args[0].dim)


FUNCTIONS: Mapping[str, Callable[[Sequence[Value]], Value]] = {
    "avg": _mean, "average": _mean, "mean": _mean,
    "sum": lambda a: Value(sum((x.number for x in a), Fraction(0)), _same_dims(a)),
    "min": lambda a: Value(min(x.number for x in a), _same_dims(a)),
    "max": lambda a: Value(max(x.number for x in a), _same_dims(a)),
    "abs": lambda a: Value(abs(a[0].number), a[0].dim) if len(a) == 1 else _arity("abs"),
    "round": _round,
}


def _arity(name: str) -> Value:
    raise CalcError(f"{name} takes one value")


def _is_literal(node: ast.AST, value: int) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def evaluate(tree: ast.Expression, names: Mapping[str, Value]) -> Value:
    """The exact value of a parsed formula over bound ``names`` (see :func:`parse_formula`).

    Units follow the arithmetic: amounts add to amounts, divide to plain numbers; multiplying a plain number
    by a literal 100 makes it a percent (and dividing a percent by 100 makes it a plain number).

    >>> v = evaluate(parse_formula("a / ((b + c) / 2)", {"a", "b", "c"}),
    ...              {"a": Value(Fraction(6489), AMOUNT), "b": Value(Fraction(253), AMOUNT),
    ...               "c": Value(Fraction(282), AMOUNT)})
    >>> v.number, v.dim
    (Fraction(12978, 535), (0, 0))

    :raises CalcError: division by zero, an exponent out of bounds, a result too large, a bad function call.
    """

    def ev(node: ast.AST) -> Value:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return Value(Fraction(str(node.value)), NUMBER)
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return Value(-v.number if isinstance(node.op, ast.USub) else v.number, v.dim)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [ev(a) for a in node.args]
            if not args:
                raise CalcError(f"{node.func.id}() needs values")
            return FUNCTIONS[node.func.id](args)
        assert isinstance(node, ast.BinOp)
        a, b = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Add):
            return Value(a.number + b.number, _add(a.dim, b.dim))
        if isinstance(node.op, ast.Sub):
            return Value(a.number - b.number, _add(a.dim, b.dim))
        if isinstance(node.op, ast.Mult):
            dim = _times(a.dim, b.dim, 1)
            if (_is_literal(node.right, 100) and a.dim == NUMBER) or (_is_literal(node.left, 100) and b.dim == NUMBER):
                dim = PERCENT
            return Value(a.number * b.number, dim)
        if isinstance(node.op, ast.Div):
            if b.number == 0:
                raise CalcError("division by zero")
            dim = NUMBER if _is_literal(node.right, 100) and a.dim == PERCENT else _times(a.dim, b.dim, -1)
            return Value(a.number / b.number, dim)
        return _power(a, b)

    out = ev(tree)
    if abs(out.number) > MAX_MAGNITUDE:
        raise CalcError("the result is too large")
    return out


def _power(a: Value, b: Value) -> Value:
    """``a ** b``: exact for whole exponents, floating point for roots (a compound growth rate)."""
    if abs(b.number) > MAX_EXPONENT or abs(a.number) > MAX_MAGNITUDE:
        raise CalcError(f"a power out of bounds (exponent {float(b.number):g})")
    if b.number.denominator == 1:
        if a.number == 0 and b.number < 0:
            raise CalcError("division by zero")
        e = int(b.number)
        return Value(a.number ** e, None if a.dim is None else (a.dim[0] * e, a.dim[1] * e))
    if a.number <= 0:
        raise CalcError("a fractional power of a number that is not positive")
    return Value(Fraction(float(a.number) ** float(b.number)), NUMBER if a.dim == NUMBER else None)


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load, ast.Add, ast.Sub,
            ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def parse_formula(formula: str, names: set[str]) -> ast.Expression:
    """Parse a formula, allowing only numbers, the given names, ``+ - * / **``, signs, parentheses and calls of
    :data:`FUNCTIONS` (no attributes, subscripts, keywords or anything else).

    >>> parse_formula("a.__class__", {"a"})
    Traceback (most recent call last):
    ...
    generation.formula.CalcError: not allowed in a formula: 'a.__class__' (Attribute)

    :raises CalcError: a syntax error, a construct not allowed, an unknown name, a formula too long.
    """
    if len(formula) > MAX_FORMULA_CHARS:
        raise CalcError(f"the formula is longer than {MAX_FORMULA_CHARS} characters")
    try:
        tree = ast.parse(formula, mode="eval")
    except (SyntaxError, ValueError) as e:
        raise CalcError(f"the formula {formula!r} does not parse ({getattr(e, 'msg', e)})") from None
    nodes = list(ast.walk(tree))
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    if len(nodes) > MAX_NODES:
        raise CalcError(f"the formula has more than {MAX_NODES} parts")
    for node in nodes:
        if not isinstance(node, _ALLOWED):
            part = ast.get_source_segment(formula, node) or type(node).__name__
            raise CalcError(f"not allowed in a formula: {part!r} ({type(node).__name__})")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or
                                               not isinstance(node.value, int | float)):
            raise CalcError(f"not a number in the formula: {node.value!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                func = ast.get_source_segment(formula, node.func) or "?"
                raise CalcError(f"unknown function {func!r} (allowed: {', '.join(sorted(FUNCTIONS))})")
        elif isinstance(node, ast.Name) and node.id not in names and id(node) not in called:
            raise CalcError(f"unknown name {node.id!r} in the formula")
    return tree


# ----------------------------------------------------------------------------------------------- formatting

_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 4}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}


def _precedence(node: ast.AST) -> int:
    if isinstance(node, ast.BinOp):
        return _PRECEDENCE[type(node.op)]
    return 3 if isinstance(node, ast.UnaryOp) else 5


def render(node: ast.AST, show: Callable[[str], str]) -> str:
    """A formula as text, names shown by ``show``, with only the parentheses it needs.

    >>> render(ast.parse("a / ((b + c) / 2)", mode="eval"), str.upper)
    'A / ((B + C) / 2)'
    >>> render(ast.parse("(a - b) / b * 100", mode="eval"), str)
    '(a - b) / b * 100'
    """
    if isinstance(node, ast.Expression):
        return render(node.body, show)
    if isinstance(node, ast.Name):
        return show(node.id)
    if isinstance(node, ast.Constant):
        return format_decimal(Decimal(str(node.value)))
    if isinstance(node, ast.UnaryOp):
        inner = render(node.operand, show)
        inner = f"({inner})" if _precedence(node.operand) < 3 else inner
        return ("-" if isinstance(node.op, ast.USub) else "+") + inner
    if isinstance(node, ast.Call):
        func = node.func.id if isinstance(node.func, ast.Name) else "?"
        return f"{func}({', '.join(render(a, show) for a in node.args)})"
    assert isinstance(node, ast.BinOp)
    p = _PRECEDENCE[type(node.op)]
    left, right = render(node.left, show), render(node.right, show)
    if _precedence(node.left) < p or (p == 4 and _precedence(node.left) <= p):
        left = f"({left})"
    if _precedence(node.right) < p or (_precedence(node.right) == p and isinstance(node.op, ast.Sub | ast.Div)):
        right = f"({right})"
    return f"{left} {_SYMBOL[type(node.op)]} {right}"


def format_decimal(d: Decimal, places: int | None = None) -> str:
    """``d`` with thousands separators, rounded half up to ``places`` (None: as it is).

    >>> format_decimal(Decimal("6489")), format_decimal(Decimal("24.2579"), 2), format_decimal(Decimal("-1234.5"))
    ('6,489', '24.26', '-1,234.5')
    """
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{d:,}"


def to_decimal(x: Fraction, digits: int = 28) -> Decimal:
    """A fraction as a decimal with ``digits`` significant digits."""
    with localcontext() as ctx:
        ctx.prec = digits
        return Decimal(x.numerator) / Decimal(x.denominator)


def state_result(x: Fraction, places: int | None) -> str:
    """The result's digits: rounded to ``places`` as asked, else to at most two decimals (trailing zeros cut).

    >>> state_result(Fraction(12978, 535), 2), state_result(Fraction(654, 10), None), state_result(Fraction(5), None)
    ('24.26', '65.4', '5')
    """
    if places is not None:
        return format_decimal(to_decimal(x), places)
    text = format_decimal(to_decimal(x), 2)
    return text.rstrip("0").rstrip(".") if "." in text else text
