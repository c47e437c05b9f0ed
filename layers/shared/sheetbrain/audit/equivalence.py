"""Formulas that compute the same thing although written differently.

A region check compares a cell's formula with the copy its region expects there. Two spellings of
one computation are no inconsistency: operands of ``+`` and ``*`` in another order
(``=C97+D97`` for ``=D95+C95`` copied), a sum written with ``+`` or with ``SUM`` (``=D5+D6+D7`` for
``=SUM(D5:D7)``), a leading unary ``+`` (``=+B2``). ``canonical`` writes a tree in a form where such
spellings coincide, with references relative to the cell (R1C1), so copies of one computation in
different cells agree too. Chains are flattened with an explicit stack: a 300-term sum costs no
recursion per term.
"""

from __future__ import annotations

from sheetbrain.audit.ast import Binary, CellAddr, Func, Node, Ref, Unary
from sheetbrain.audit.printer import Printer
from sheetbrain.audit.refs import r1c1_pattern

# Ranges up to this many cells are written out as their cells inside a sum (SUM(B1:B3) = B1+B2+B3).
MAX_EXPANDED_CELLS = 64
_COMMUTATIVE = {"+": "+", "*": "*"}


def canonical(node: Node, row: int, col: int) -> str:
    """A text equal for two trees that differ only by commuted operands, ``+`` vs ``SUM`` or unary ``+``."""
    node = _strip_plus(node)
    if isinstance(node, Binary) and node.op in _COMMUTATIVE:
        terms = _flatten(node, node.op)
        if node.op == "+":
            return _sum_text(terms, row, col)
        return "*(" + ",".join(sorted(canonical(t, row, col) for t in terms)) + ")"
    if isinstance(node, Func) and node.base == "SUM" and node.args:
        return _sum_text(list(node.args), row, col)
    if isinstance(node, Ref):
        return _cells_text(node, row, col)
    return r1c1_pattern(node, row, col)


def skeleton(node: Node) -> str:
    """The formula with every reference blanked (``R`` for a cell, ``R:R`` for a range): what it computes, not where."""
    return Printer(_blank).print(node)


def _blank(ref: Ref) -> str:
    return "R" if ref.end is None else "R:R"


def reference_texts(node: Node, row: int, col: int) -> list[str]:
    """The references of a tree, relative to (row, col), sorted: what it reads, whatever it computes."""
    return sorted(r1c1_pattern(ref, row, col) for ref in node.walk() if isinstance(ref, Ref))


def _strip_plus(node: Node) -> Node:
    while isinstance(node, Unary) and node.op == "+":
        node = node.operand
    return node


def _flatten(node: Node, op: str) -> list[Node]:
    # Operands of a chain of one associative operator, in any grouping: ((a+b)+c), (a+(b+c)).
    out: list[Node] = []
    stack = [node]
    while stack:
        current = _strip_plus(stack.pop())
        if isinstance(current, Binary) and current.op == op:
            stack.append(current.right)
            stack.append(current.left)
        else:
            out.append(current)
    return out


def _sum_text(terms: list[Node], row: int, col: int) -> str:
    parts: list[str] = []
    for term in terms:
        term = _strip_plus(term)
        if isinstance(term, Func) and term.base == "SUM" and term.args:
            parts.extend(canonical(arg, row, col) for arg in term.args)
        elif isinstance(term, Binary) and term.op == "+":
            parts.extend(canonical(t, row, col) for t in _flatten(term, "+"))
        else:
            parts.append(canonical(term, row, col))
    cells = [p for part in parts for p in part.split("|")]
    return "+(" + ",".join(sorted(cells)) + ")"


def _cells_text(ref: Ref, row: int, col: int) -> str:
    # A small range as its cells joined by "|" (split again inside sums), else the range itself.
    start, end = ref.start, ref.end
    if end is None or None in (start.row, start.col, end.row, end.col):
        return r1c1_pattern(ref, row, col)
    assert start.row is not None and start.col is not None and end.row is not None and end.col is not None
    r1, r2 = sorted((start.row, end.row))
    c1, c2 = sorted((start.col, end.col))
    mixed = start.row_abs != end.row_abs or start.col_abs != end.col_abs
    if mixed or (r2 - r1 + 1) * (c2 - c1 + 1) > MAX_EXPANDED_CELLS:
        return r1c1_pattern(ref, row, col)
    return "|".join(
        r1c1_pattern(Ref(CellAddr(c, r, start.col_abs, start.row_abs), None, ref.sheet, book=ref.book), row, col)
        for r in range(r1, r2 + 1)
        for c in range(c1, c2 + 1)
    )
