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

from sheetbrain.engine.ast import CellAddr, Chain, Func, Node, Ref, Unary
from sheetbrain.engine.refs import r1c1_pattern

# Ranges up to this many cells are written out as their cells inside a sum (SUM(B1:B3) = B1+B2+B3).
MAX_EXPANDED_CELLS = 64
# (the operator that keeps a term's side, the one that moves it) of each commutative level.
_LEVELS = {"+": ("+", "-"), "-": ("+", "-"), "*": ("*", "/"), "/": ("*", "/")}


def canonical(node: Node, row: int, col: int) -> str:
    """A text equal for two trees that differ only by commuted operands, ``+`` vs ``SUM`` or unary ``+``."""
    node = _strip_plus(node)
    if isinstance(node, Chain) and node.ops[0] in _LEVELS:
        keep, move = _LEVELS[node.ops[0]]
        kept, moved = _terms(node, keep, move)
        if keep == "+":
            return f"+({_sorted_cells(kept, row, col)})-({_sorted_cells(moved, row, col)})"
        return f"*({_sorted(kept, row, col)})/({_sorted(moved, row, col)})"
    if isinstance(node, Func) and node.base == "SUM" and node.args:
        return f"+({_sorted_cells(list(node.args), row, col)})-()"
    if isinstance(node, Ref):
        return _cells_text(node, row, col)
    return r1c1_pattern(node, row, col)


def reference_texts(node: Node, row: int, col: int) -> list[str]:
    """The references of a tree, relative to (row, col), sorted: what it reads, whatever it computes."""
    return sorted(r1c1_pattern(ref, row, col) for ref in node.walk() if isinstance(ref, Ref))


def _strip_plus(node: Node) -> Node:
    while isinstance(node, Unary) and node.op == "+":
        node = node.operand
    return node


def _terms(node: Chain, keep: str, move: str) -> tuple[list[Node], list[Node]]:
    # The operands of a chain and of the chains of its level inside it (``(B+C)``), split by the side
    # they end on: ``A-(B-C)`` keeps A and C, moves B. Sums also open their SUM calls.
    kept: list[Node] = []
    moved: list[Node] = []
    stack: list[tuple[Node, bool]] = [(node, True)]
    while stack:
        current, positive = stack.pop()
        current = _strip_plus(current)
        if isinstance(current, Chain) and current.ops[0] in (keep, move):
            signs = [positive] + [positive == (op == keep) for op in current.ops]
            stack.extend(zip(current.operands, signs, strict=True))
        elif keep == "+" and isinstance(current, Func) and current.base == "SUM" and current.args:
            stack.extend((arg, positive) for arg in current.args)
        else:
            (kept if positive else moved).append(current)
    return kept, moved


def _sorted(terms: list[Node], row: int, col: int) -> str:
    return ",".join(sorted(canonical(term, row, col) for term in terms))


def _sorted_cells(terms: list[Node], row: int, col: int) -> str:
    # Inside a sum a small range is its cells: B1:B2 and B1+B2 add the same.
    cells = [part for term in terms for part in canonical(term, row, col).split("|")]
    return ",".join(sorted(cells))


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
