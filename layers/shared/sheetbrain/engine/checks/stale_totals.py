"""FX42: a typed total its figures no longer add up to (the reading ``check_regions`` asks of a typed
number where copies of a total would be).

Rationale: CUSTODES' "missing formula" smell made specific by arithmetic. A total typed among copied
totals is a hard-coded value; when it is no longer the sum of the figures it stands for, beyond what
rounding them explains, the sheet is wrong today, not only fragile (Panko's "hard-coded total left
stale" error). The grid is read as Excel's SUM would read it, or the total is not judged.
"""

from __future__ import annotations

import math

from sheetbrain.engine.ast import Chain, Func, Node, Ref
from sheetbrain.engine.checks.context import SheetContext, aggregate_ranges
from sheetbrain.engine.checks.excel_rules import error_value, is_numeric_text
from sheetbrain.engine.evaluate import MAX_CELLS as EVALUATED_CELLS
from sheetbrain.engine.evaluate import agrees, figure, rounding
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.refs import ref_bounds

# The ranges each formula among the figures aggregates, read once a check (see ``_known_result``).
Summaries = dict[tuple[int, int], list[tuple[int, int, int, int]]]


def shown(number: float) -> str:
    # A figure as a spreadsheet shows it: grouped thousands, no exponent below 10**15 (74,000,000,000,
    # not 7.4e+10), ten significant digits (float noise gone: 0.3, not 0.30000000000000004), but never
    # fewer decimals than a number typed with a few of them has (74,000,000,000.5 keeps its .5).
    number += 0.0  # -0.0 shows as 0
    if not 1e-6 <= abs(number) < 1e15:
        return f"{number:,.10g}"
    whole = len(str(int(abs(number))))
    typed = rounding(number)
    decimals = max(10 - whole, round(-math.log10(2 * typed)) if typed else 0)
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def stale_total(
    ctx: SheetContext,
    expected: Node,
    typed: float,
    value: float,
    at: tuple[int, int],
    summaries: Summaries,
) -> bool:
    # Where the copies add a block of figures (a SUM of ranges of this sheet, or its cells joined by
    # +), a typed number larger than each of them stands for their total: a code, a rate or an
    # average is no larger than every line. Not their sum, beyond what rounding its typed lines and
    # itself explains, it is a total typed in and left behind when a line changed: wrong today.
    if isinstance(expected, Func) and expected.base == "SUM":
        parts = expected.args
    elif isinstance(expected, Chain) and all(op == "+" for op in expected.ops):
        parts = expected.operands  # =G14+G15+G16: a SUM written by hand
    else:
        return False
    if not all(isinstance(part, Ref) and ctx.is_local(part) for part in parts):
        return False
    lines: list[float] = []
    typed_lines: list[float] = []
    blocks = [ref_bounds(ref, ctx.max_row, ctx.max_col) for ref in ctx.local_refs(expected)]
    cells = ctx.cells
    for r1, c1, r2, c2 in blocks:
        for row in range(r1, r2 + 1):
            for col in range(c1, c2 + 1):
                line = cells.get((row, col))
                if line is None or isinstance(line.value, bool):
                    continue
                if line.formula is not None and not _known_result(ctx, line, blocks, summaries):
                    return False
                number = figure(line)
                if number is not None:
                    lines.append(number)
                    if line.formula is None:
                        typed_lines.append(number)
                elif isinstance(line.value, str) and (error_value(line.value) or is_numeric_text(line.value)):
                    # Excel's SUM gives the error; or it skips a number typed as text that the
                    # typed total counts: either way the sum here is not the sheet's.
                    return False
    # A total left behind when a figure changed is still at least the sum of the others (the figures
    # are not negative): a date among dates, a code or a rate is larger than each but far below that,
    # and so is the grand total beside copies that also add the sections' subtotals typed in.
    if len(lines) < 2 or min(lines) < 0 or typed <= max(lines) or typed < value - max(lines):
        return False
    gap = abs(typed - value) - rounding(typed) - 1e-9
    # Each typed figure may be off by up to half a unit (rounding() is at most 0.5): only a gap in
    # that band needs their digits read, the costly part of a long column.
    if gap <= 0 or (gap <= 0.5 * len(typed_lines) and gap <= math.fsum(rounding(n) for n in typed_lines)):
        return False
    return not _stops_short(ctx, blocks, typed, value, at)


def _stops_short(
    ctx: SheetContext, blocks: list[tuple[int, int, int, int]], typed: float, value: float, at: tuple[int, int]
) -> bool:
    # Whether the typed total is the sum of a line of figures the copies' one range stops short of
    # (or starts late in): then the copies are wrong (FX28's finding), the typed total right.
    if len(blocks) != 1 or (blocks[0][0] != blocks[0][2] and blocks[0][1] != blocks[0][3]):
        return False
    r1, c1, r2, c2 = blocks[0]
    dr, dc = (1, 0) if c1 == c2 else (0, 1)
    # No further than the range is long: the cells read stay within those charged for evaluating it.
    most = r2 - r1 + c2 - c1 + 1
    before = _run_past(ctx, (r1, c1), -dr, -dc, at, most)
    after = _run_past(ctx, (r2, c2), dr, dc, at, most)
    return any(agrees(typed, value + extra) for extra in (before, after, before + after) if extra)


def _run_past(ctx: SheetContext, end: tuple[int, int], dr: int, dc: int, at: tuple[int, int], most: int) -> float:
    # The sum of the numbers right past ``end`` in a line (typed, or formulas' cached values), up to
    # the first cell that holds none, or ``at``; at most ``most`` of them.
    total = 0.0
    row, col = end
    for _ in range(min(most, EVALUATED_CELLS)):
        row, col = row + dr, col + dc
        line = ctx.cells.get((row, col))
        if (row, col) == at or line is None or isinstance(line.value, bool):
            break
        number = figure(line)
        if number is None:
            break
        total += number
    return total


def _known_result(
    ctx: SheetContext,
    line: Cell,
    blocks: list[tuple[int, int, int, int]],
    summaries: Summaries,
) -> bool:
    # Whether a formula among the figures counts in the sum here as in the sheet's own total. Not so
    # without a cached value (its figure is unknown), or for a subtotal (an aggregate of a range the
    # same SUM adds: it counts those figures twice; the copies are wrong then, FX29's finding, not the
    # typed total). An error it shows is a text value, turned down with the typed ones.
    if line.value is None:
        return False
    key = (line.row, line.col)
    ranges = summaries.get(key)
    if ranges is None:
        # Once a cell for the whole check, and off the check's work budget: the cells read here are
        # within the allowance charged for evaluating the copies (a formula with no call has none).
        ranges = summaries[key] = (
            [ref_bounds(ref, ctx.max_row, ctx.max_col) for _, ref in aggregate_ranges(ctx, ctx.trees[key])]
            if line.formula is not None and "(" in line.formula
            else []
        )
    return not any(
        r1 <= br2 and br1 <= r2 and c1 <= bc2 and bc1 <= c2
        for r1, c1, r2, c2 in ranges
        for br1, bc1, br2, bc2 in blocks
    )
