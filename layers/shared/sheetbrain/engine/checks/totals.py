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
Totals are sums: SUM, or SUBTOTAL(9, ...) / SUBTOTAL(109, ...), one kind along the whole line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sheetbrain.engine.ast import Func, Number
from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.copies import move_tree
from sheetbrain.engine.evaluate import agrees, as_float
from sheetbrain.engine.grid import is_data
from sheetbrain.engine.printer import to_formula
from sheetbrain.engine.refs import a1, ref_bounds

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import CellHit, SheetContext

Key = tuple[int, int]
Box = tuple[int, int, int, int]
# (across a row?, the line, first and last position, the kind of total) -> the totals' spans, or None
Members = dict[tuple[bool, int, int, int, str], list[tuple[Key, tuple[int, int]]] | None]

MIN_TOTALS = 2  # totals beside it, each adding its own line: a line of one is no line of totals
MIN_FIGURES = 2  # typed figures in its own line: one figure is no column of them
# Typed figures compared with the sum of their own line: a typed total column shows in its first
# rows; comparing every row would walk a line per figure.
MAX_COMPARED = 3
_SUBTOTAL_SUMS = ("9", "109")  # SUBTOTAL's function numbers for SUM (with and without hidden rows)


def check_total_across(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX39: see the module docstring. Work: one aggregate read per formula, one unit per cell of
    a line walked (the totals a total adds, once per line and kind; its own figures; their lines)."""
    members: Members = {}
    for key in sorted(ctx.trees):
        total = _sole_total(ctx, key)
        if total is None:
            continue
        kind, box = total
        row, col = key
        r1, c1, r2, c2 = box
        if r1 == r2 == row and not c1 <= col <= c2:
            found = _omitted(ctx, members, key, kind, box, across_row=True)
        elif c1 == c2 == col and not r1 <= row <= r2:
            found = _omitted(ctx, members, key, kind, box, across_row=False)
        else:
            continue
        if found is not None:
            yield row, col, found


def _sole_total(ctx: SheetContext, key: Key) -> tuple[str, Box] | None:
    # The kind ("SUM", "SUBTOTAL(9)"...) and range of a formula that is one sum of one local range.
    shape = ctx.shape_at(key)  # a copy's tree of the same shape: no tree is built per cell
    if not isinstance(shape, Func):
        return None
    if shape.base == "SUM" and len(shape.args) == 1:
        kind = "SUM"
    elif (
        shape.base == "SUBTOTAL"
        and len(shape.args) == 2
        and isinstance(shape.args[0], Number)
        and shape.args[0].text in _SUBTOTAL_SUMS
    ):
        kind = f"SUBTOTAL({shape.args[0].text})"
    else:
        return None
    pairs = ctx.aggregates_at(key)
    if len(pairs) != 1 or pairs[0][0].base != shape.base:
        return None  # no local range, several, or one inside another function's argument
    return kind, ref_bounds(pairs[0][1], ctx.max_row, ctx.max_col)


def _omitted(ctx: SheetContext, members: Members, key: Key, kind: str, box: Box, *, across_row: bool) -> Hit | None:
    # ``key`` adds the cells of ``box``, a stretch of its own row (``across_row``) or column. Each
    # data cell there must be a total of the same kind over its own column (row), ending before
    # ``key``'s line; ``key``'s own column (row) must hold typed figures, and no formula, over the
    # lines those totals add, and the figures must not be totals of their own line.
    row, col = key
    lo, hi = (box[1], box[3]) if across_row else (box[0], box[2])
    line = (across_row, row if across_row else col, lo, hi, kind)
    if line not in members:
        members[line] = _totals_in(ctx, key, kind, lo, hi, across_row=across_row)
    totals = members[line]
    if totals is None:
        return None
    spans = [span for _, span in totals]
    if any(end >= (row if across_row else col) for _, end in spans):
        return None  # a total beside it reads as far as its own line: no table above (left of) it
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    figures = []
    for at in _line(ctx, key, key, first, last, across=not across_row):
        cell = ctx.cells[at]
        if cell.is_formula:
            return None
        if cell.is_number:
            figures.append(at)
    if len(figures) < MIN_FIGURES or _typed_totals(ctx, key, lo, hi, figures, across_row=across_row):
        return None
    nearest = min((at for at, _ in totals), key=lambda m: abs(m[1] - col) + abs(m[0] - row))
    suggestion = to_formula(move_tree(ctx.trees[nearest], row - nearest[0], col - nearest[1]))
    own = (first, col, last, col) if across_row else (row, first, row, last)
    along, where = ("row", "column") if across_row else ("column", "row")
    return Hit(
        "FX39",
        f"adds the totals {_box_text(box)} across its {along}, but its own {where} holds "
        f"{len(figures)} typed figures in {_box_text(own)}, which it leaves out",
        suggestion,
    )


def _totals_in(
    ctx: SheetContext, key: Key, kind: str, lo: int, hi: int, *, across_row: bool
) -> list[tuple[Key, tuple[int, int]]] | None:
    # The data cells at lo..hi of ``key``'s row (column), each a total of ``kind`` over its own
    # column (row), with the rows (columns) it adds; None if one is anything else, or too few.
    found: list[tuple[Key, tuple[int, int]]] = []
    for member in _line(ctx, key, key, lo, hi, across=across_row):
        if not is_data(ctx.cells[member]):
            continue
        # The first figure or other formula ends the walk: a total of figures is no total of totals.
        total = _sole_total(ctx, member) if member in ctx.trees else None
        if total is None or total[0] != kind:
            return None
        m1, n1, m2, n2 = total[1]
        if across_row and n1 == n2 == member[1]:
            found.append((member, (m1, m2)))
        elif not across_row and m1 == m2 == member[0]:
            found.append((member, (n1, n2)))
        else:
            return None
    return found if len(found) >= MIN_TOTALS else None


def _line(ctx: SheetContext, key: Key, origin: Key, lo: int, hi: int, *, across: bool) -> Iterator[Key]:
    # The non-empty cells at positions lo..hi of ``origin``'s row (``across``) or column, one unit
    # each, charged to ``key``; past the sheet's last row or column nothing is walked (=SUM(B2:XFD2)
    # reads as far as the data).
    for position in range(lo, min(hi, ctx.max_col if across else ctx.max_row) + 1):
        ctx.budget.spend(1, key)
        at = (origin[0], position) if across else (position, origin[1])
        if at in ctx.cells:
            yield at


def _typed_totals(ctx: SheetContext, key: Key, lo: int, hi: int, figures: list[Key], *, across_row: bool) -> bool:
    # Whether one of the first figures is the sum of its own line over lo..hi, the span ``key``
    # adds (a typed column of row totals, which the totals row may add across).
    for at in figures[:MAX_COMPARED]:
        typed = as_float(ctx.cells[at].value)
        total = _line_sum(ctx, key, at, lo, hi, across=across_row)
        if typed is not None and total is not None and agrees(typed, total):
            return True
    return False


def _line_sum(ctx: SheetContext, key: Key, origin: Key, lo: int, hi: int, *, across: bool) -> float | None:
    # What SUM gives over lo..hi of ``origin``'s line (text and booleans skipped, as SUM skips
    # them), read cell by cell and charged to ``key``; None past what a float holds.
    numbers = []
    for at in _line(ctx, key, origin, lo, hi, across=across):
        value = ctx.cells[at].value
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = as_float(value)
            if number is None:
                return None
            numbers.append(number)
    return math.fsum(numbers)


def _box_text(box: Box) -> str:
    # Never one cell: a total of one total, or one figure, is no line of them.
    return f"{a1(box[0], box[1])}:{a1(box[2], box[3])}"
