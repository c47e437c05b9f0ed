"""FX39: a total in a line of totals that adds the totals beside it instead of its own figures.

A totals row under a table adds each column: ``C7 =SUM(C3:C6)``, ``D7 =SUM(D3:D6)``. When the
next column's cell reads ``E7 =SUM(C7:D7)`` -- the row's totals added across -- while ``E3:E5`` hold
typed figures, those figures are in no total: the formula was written for a total column, or
copied from one, into a column of data. The same holds turned by a quarter (a column of row totals
in which one adds the totals above it, its own row's figures left out).

Rationale: Excel's rule "formula inconsistent with other formulas in the region" and ExceLint's
reference shapes (the totals read R[-4]C:R[-1]C, this one RC[-2]:RC[-1]), made specific by what
the grid says the cell should add: figures stand in its own column, over the rows its neighbours
add, and nothing there is computed. A column of row totals (``E3 =SUM(C3:D3)``, or typed numbers
equal to those sums) is a total column, and adding the totals across is then right: no finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sheetbrain.engine.ast import Func, Node
from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.copies import move_tree
from sheetbrain.engine.evaluate import agrees, evaluate
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.printer import to_formula
from sheetbrain.engine.refs import a1, ref_bounds

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import CellHit, SheetContext

Key = tuple[int, int]
Box = tuple[int, int, int, int]

# Typed figures compared with the across-total copied beside them: a typed total column shows in
# its first rows; comparing every row would cost a range read per figure.
MAX_COMPARED = 3
MIN_TOTALS = 2  # totals beside it, each adding its own line: a line of one is no line of totals


def check_total_across(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX39: see the module docstring. Work: one aggregate read per total and per total it adds,
    one unit per cell of a line walked (the totals it adds, its own figures), budgeted."""
    for key in sorted(ctx.trees):
        total = _sole_total(ctx, key)
        if total is None:
            continue
        func, box = total
        row, col = key
        r1, c1, r2, c2 = box
        if r1 == r2 == row and not c1 <= col <= c2:
            found = _omitted(ctx, key, func, box, across_row=True)
        elif c1 == c2 == col and not r1 <= row <= r2:
            found = _omitted(ctx, key, func, box, across_row=False)
        else:
            continue
        if found is not None:
            yield row, col, found


def _sole_total(ctx: SheetContext, key: Key) -> tuple[str, Box] | None:
    # The function and range of a formula that is one aggregate of one local range and nothing else.
    shape = ctx.shape_at(key)  # a copy's tree of the same shape: no tree is built per cell
    if not isinstance(shape, Func):
        return None
    pairs = ctx.aggregates_at(key)
    if len(pairs) != 1 or len(shape.args) != (2 if shape.base == "SUBTOTAL" else 1):
        return None
    func, ref = pairs[0]
    if func.base != shape.base:
        return None  # an aggregate nested in another function's argument
    return func.base, ref_bounds(ref, ctx.max_row, ctx.max_col)


def _omitted(ctx: SheetContext, key: Key, func: str, box: Box, *, across_row: bool) -> Hit | None:
    # ``key`` adds the cells of ``box``, a stretch of its own row (``across_row``) or column. Each
    # data cell there must be a total of the same function over its own column (row), ending
    # before ``key``'s line; ``key``'s own column (row) must hold typed figures, and no formula,
    # over the lines those totals add, and the figures must not be totals of their own line.
    row, col = key
    lo, hi = (box[1], box[3]) if across_row else (box[0], box[2])
    members: list[Key] = []
    spans: list[tuple[int, int]] = []
    for member in _line(ctx, key, lo, hi, across=across_row):
        if not _is_data(ctx.cells[member]):
            continue
        # The first figure or other formula ends the walk: a total of figures is no total of totals.
        total = _sole_total(ctx, member) if member in ctx.trees else None
        if total is None or total[0] != func:
            return None
        m1, n1, m2, n2 = total[1]
        if across_row and n1 == n2 == member[1] and m2 < row:
            spans.append((m1, m2))
        elif not across_row and m1 == m2 == member[0] and n2 < col:
            spans.append((n1, n2))
        else:
            return None
        members.append(member)
    if len(members) < MIN_TOTALS:
        return None
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    own = (lo, col, hi, col) if across_row else (row, lo, row, hi)
    figures = []
    for at in _line(ctx, key, lo, hi, across=not across_row):
        cell = ctx.cells[at]
        if cell.is_formula:
            return None
        if cell.is_number:
            figures.append(at)
    if len(figures) < MIN_TOTALS or _typed_totals(ctx, key, figures):
        return None
    nearest = min(members, key=lambda m: abs(m[1] - col) + abs(m[0] - row))
    suggestion = to_formula(move_tree(ctx.trees[nearest], row - nearest[0], col - nearest[1]))
    kind, where = ("row", "column") if across_row else ("column", "row")
    return Hit(
        "FX39",
        f"adds the totals {_box_text(box)} across its {kind}, but its own {where} holds "
        f"{len(figures)} typed figures in {_box_text(own)}, which it leaves out",
        suggestion,
    )


def _line(ctx: SheetContext, key: Key, lo: int, hi: int, *, across: bool) -> Iterator[Key]:
    # The non-empty cells at positions lo..hi of ``key``'s row (``across``) or column, one unit each;
    # past the sheet's last row or column nothing is walked (=SUM(B2:XFD2) reads as far as the data).
    for position in range(lo, min(hi, ctx.max_col if across else ctx.max_row) + 1):
        ctx.budget.spend(1, key)
        at = (key[0], position) if across else (position, key[1])
        if at in ctx.cells:
            yield at


def _is_data(cell: Cell) -> bool:
    return cell.is_formula or cell.is_number


def _typed_totals(ctx: SheetContext, key: Key, figures: list[Key]) -> bool:
    # Whether the first figures equal the total of their own line (the formula at ``key`` moved
    # there): a typed column of row totals, which the totals row may add across.
    tree: Node = ctx.trees[key]
    for at in figures[:MAX_COMPARED]:
        ctx.budget.spend(1, key)
        value = evaluate(move_tree(tree, at[0] - key[0], at[1] - key[1]), ctx.cells, ctx.is_local)
        typed = ctx.cells[at].value
        if value is not None and agrees(float(typed), value):
            return True
    return False


def _box_text(box: Box) -> str:
    # Never one cell: a total of one total, or one figure, is no line of them.
    return f"{a1(box[0], box[1])}:{a1(box[2], box[3])}"
