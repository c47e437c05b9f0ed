"""A small evaluator for the arithmetic core of formulas, over the cached values of one sheet.

It answers one question the region checks ask: what would this formula give here? Only numbers,
local references, arithmetic and a few aggregates are understood; anything else (other sheets,
text, lookups, errors) makes the answer unknown (``None``) rather than a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from sheetbrain.engine.ast import ARITHMETIC_OPS, Chain, Func, Node, Number, Percent, Ref, Unary
from sheetbrain.engine.grid import Cell

MAX_CELLS = 10_000  # larger ranges are not summed: the answer is unknown
# Published figures are rounded line by line, so a typed total may differ from the sum of its typed
# lines by a unit or two; a relative difference this small is rounding, not a wrong result.
MATERIALITY = 1e-4


class _Unknown(Exception):
    pass


def _number(cell: Cell | None) -> float:
    # Empty cells count as 0, like Excel's arithmetic; text or errors make the result unknown.
    if cell is None:
        return 0.0
    value = cell.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unknown
    return float(value)


def _range_numbers(ref: Ref, cells: dict[tuple[int, int], Cell]) -> Iterator[float]:
    # Aggregates skip text and empty cells, as Excel's SUM does over a range.
    start, end = ref.start, ref.end or ref.start
    if None in (start.row, start.col, end.row, end.col):
        raise _Unknown
    r1, r2 = sorted((start.row or 0, end.row or 0))
    c1, c2 = sorted((start.col or 0, end.col or 0))
    if (r2 - r1 + 1) * (c2 - c1 + 1) > MAX_CELLS:
        raise _Unknown
    for r in range(r1, r2 + 1):
        for c in range(c1, c2 + 1):
            value = cells[(r, c)].value if (r, c) in cells else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield float(value)


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "SUM": math.fsum,
    "MIN": lambda xs: min(xs, default=0.0),
    "MAX": lambda xs: max(xs, default=0.0),
    "COUNT": lambda xs: float(len(xs)),
    "AVERAGE": lambda xs: math.fsum(xs) / len(xs) if xs else math.nan,
}


def _eval(node: Node, cells: dict[tuple[int, int], Cell], local: Callable[[Ref], bool]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        if not local(node) or node.end is not None or node.start.row is None or node.start.col is None:
            raise _Unknown
        return _number(cells.get((node.start.row, node.start.col)))
    if isinstance(node, Unary) and node.op in "+-":
        value = _eval(node.operand, cells, local)
        return -value if node.op == "-" else value
    if isinstance(node, Percent):
        return _eval(node.operand, cells, local) / 100
    if isinstance(node, Chain) and node.ops[0] in ARITHMETIC_OPS:
        # Left to right, as the chain is written (and as Excel evaluates it).
        value = _eval(node.operands[0], cells, local)
        for op, operand in zip(node.ops, node.operands[1:], strict=True):
            value = _apply(op, value, _eval(operand, cells, local))
        return value
    if isinstance(node, Func) and node.base in _AGGREGATES:
        values: list[float] = []
        for arg in node.args:
            if isinstance(arg, Ref) and arg.end is not None:
                if not local(arg):
                    raise _Unknown
                values.extend(_range_numbers(arg, cells))
            else:
                values.append(_eval(arg, cells, local))
        return _AGGREGATES[node.base](values)
    raise _Unknown


def _apply(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if right == 0:
            raise _Unknown
        return left / right
    try:
        return float(left**right)
    except (OverflowError, ZeroDivisionError, TypeError) as exc:
        raise _Unknown from exc


def evaluate(node: Node, cells: dict[tuple[int, int], Cell], local: Callable[[Ref], bool]) -> float | None:
    """The number ``node`` gives over the cached ``cells``, or ``None`` when it cannot be told.

    ``local`` says whether a reference points into this sheet (others are unknown).
    """
    try:
        value = _eval(node, cells, local)
    except (_Unknown, OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def as_float(value: Any) -> float | None:
    """A value as a finite float, else ``None``: text that is no number, an integer of 400 digits,
    infinities (callers that take no booleans check for them: ``float(True)`` is 1.0)."""
    # Python integers have no bound: one of 400 digits is no float (and equals no formula result).
    try:
        number = float(value)
    except (OverflowError, TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def figure(cell: Cell | None) -> float | None:
    """A cell's number, typed or a formula's current value, as a finite float; text (even "855"),
    booleans, errors and empty cells are none."""
    if cell is None or isinstance(cell.value, bool) or not isinstance(cell.value, int | float):
        return None
    return as_float(cell.value)


# A value pasted keeps every digit a double holds (up to the order of its additions): MATERIALITY
# would take 1668.33, the cents the screen shows, for 1668.3333... pasted.
EVERY_DIGIT = 1e-9


def pasted(typed: float, computed: float) -> bool:
    """Whether a typed number is ``computed`` to every digit, as a value pasted over a formula
    keeps it (no allowance for rounding to the digits typed: 1 is no pasted 0.6). Never 0, which
    agrees with too much to tell."""
    return bool(typed) and math.isclose(typed, computed, rel_tol=EVERY_DIGIT)


def agrees(typed: float, computed: float) -> bool:
    """Whether a typed number is the computed one, allowing for rounding to the typed digits."""
    if math.isclose(typed, computed, rel_tol=MATERIALITY, abs_tol=1e-9):
        return True
    return abs(typed - computed) <= rounding(typed) + 1e-9


def rounding(typed: float) -> float:
    """Half a unit of the last digit a typed number shows: how far rounding may have moved it.

    Only values typed with few digits can be rounded copies: a long fraction (or one written with an
    exponent) was not rounded by hand, and its allowance is 0.
    """
    text = repr(float(typed))
    if "e" in text or "E" in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0**-decimals if decimals <= 4 else 0.0
