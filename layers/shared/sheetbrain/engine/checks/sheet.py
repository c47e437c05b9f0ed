"""Checks that need the grid around a formula: regions, ranges, dependencies."""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from sheetbrain.engine.ast import CellAddr, Func, Node, Number, Ref
from sheetbrain.engine.budget import WorkBudget, check_budget
from sheetbrain.engine.checks.catalogue import CHECKS
from sheetbrain.engine.checks.context import CellHit, SheetCheck, SheetContext, aggregate_ranges
from sheetbrain.engine.checks.cycles import check_circular
from sheetbrain.engine.checks.excel_rules import check_error_results, check_numbers_as_text, check_two_digit_years
from sheetbrain.engine.checks.formula import Hit, Params, replace
from sheetbrain.engine.checks.links import check_pasted_links
from sheetbrain.engine.checks.omissions import check_omitted_cells
from sheetbrain.engine.checks.stale_totals import Summaries, shown, stale_total
from sheetbrain.engine.checks.totals import check_total_across
from sheetbrain.engine.equivalence import canonical, reference_texts
from sheetbrain.engine.evaluate import MAX_CELLS as EVALUATED_CELLS
from sheetbrain.engine.evaluate import agrees, as_float, evaluate, pasted
from sheetbrain.engine.grid import is_data
from sheetbrain.engine.printer import format_ref, to_formula
from sheetbrain.engine.refs import a1, ref_bounds
from sheetbrain.engine.regions import Deviation, find_deviations, is_aggregate, pinned_cells, skeleton_of, structure_of
from sheetbrain.engine.vocabulary import RANGE_AGGREGATES
from sheetbrain.severity import STRENGTH

MAX_RANGE_CELLS = 20_000  # larger ranges are not read cell by cell (whole columns)
MAX_RANGE_COLUMNS = 1_000  # wider ranges (whole rows) count as reading numbers, unknown which


_RULE_OF_KIND = {
    "typed-line": "FX31",
    "constant": "FX31",
    "trailing-constant": "FX31",
    "pattern": "FX30",
    "inconsistent-region": "FX33",
}
_TYPED_KINDS = ("typed-line", "constant", "trailing-constant")


def check_regions(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX30/FX31/FX33: cells that break the formula region around them.

    Rationale: Excel's error-checking rule "formula inconsistent with other formulas in the region",
    ExceLint's reference shapes (a cell whose R1C1 shape differs from a large uniform region is
    likely wrong) and CUSTODES' "missing formula" smell (a typed number among copies of a formula).
    Each rule asks for its own number of copies in the region (FX30/FX31 ``min_region``, FX33
    ``min_run``); a half-typed line (FX31) is judged by its share of typed values instead.

    Severity follows the strength of the evidence, not the rule: a *lone break* -- the only cell of
    its run that differs, among at least ``min_region`` copies, and not part of a line of its own
    across the run (the same formula beside it, or a typed number beside a typed number, is a
    deliberate column or row) -- is what a slip leaves (a reference moved, an operator swapped, a
    value pasted over a formula) and is reported high. Other breaks (several in one run, a half-typed
    line, interleaved computations) are often deliberate layout and stay advice (medium).
    """
    # One finding per cell and rule: a cell met along its row and down its column keeps the
    # stronger (a lone break down its column outranks advice along its row, whichever came first).
    kept: dict[tuple[int, int, str], Hit] = {}
    least = {
        "FX30": int(params["FX30"]["min_region"]),
        "FX31": int(params["FX31"]["min_region"]),
        "FX33": int(params["FX33"]["min_run"]),
    }
    deviations = [
        dev
        for dev in find_deviations(ctx.cells, ctx.patterns, min(least.values()))
        if dev.kind == "typed-line" or dev.copies >= least[_RULE_OF_KIND[dev.kind]]
    ]
    agreeing, pasted_values, stale = _typed_copies_of_results(ctx, deviations)
    lone = _lone_breaks(ctx, deviations)
    # How often each other formula breaks its run: one that recurs (a deduction row in every
    # section, shares of a second total) is a kind of row written on purpose, not a slip.
    recurring = Counter(_break_of_run(ctx, dev) for dev in deviations if dev.kind == "pattern")
    for dev in deviations:
        severity: str | None = None
        example = ctx.cells[dev.example]
        copy = _copy_at(ctx, dev)
        suggestion = to_formula(copy) if copy is not None else None
        where = f"{dev.axis} region like {a1(*dev.example)}"
        is_lone = dev in lone
        reason = agreeing.get((dev.row, dev.col), "")
        if (dev.row, dev.col) in stale:
            rule, severity = "FX42", "high"
            typed, total = stale[(dev.row, dev.col)]
            message = (
                f"typed total {shown(typed)}, but {suggestion} copied from {a1(*dev.example)} gives {shown(total)}"
            )
        elif dev.kind == "typed-line":
            cell = ctx.cells[(dev.row, dev.col)]
            rule, severity = "FX31", "medium"
            message = (
                f"typed value in a {dev.axis} computed by copies of {example.formula}"
                if cell.is_number
                else f"this {dev.axis} mixes copies of this formula with typed values"
            )
            if is_lone and reason != _READS_NOTHING:
                severity, message = "high", message + reason + _LONE
            else:
                message += reason
        elif dev.kind == "trailing-constant":
            # Past the copies, only a figure that is their formula's result here is a pasted value;
            # even then it may be the line's own total typed in: advice. Zero agrees with too much.
            if reason != _AGREES or not as_float(ctx.cells[(dev.row, dev.col)].value):
                continue
            rule, severity = "FX31", "medium"
            message = f"typed value just past a {where}" + _AGREES
        elif dev.kind == "constant":
            rule, message = "FX31", f"typed value inside a {where}; a formula is expected"
            if is_lone and reason != _READS_NOTHING:
                severity, message = "high", message + reason + _LONE
            elif (dev.row, dev.col) in pasted_values and _between_exact_copies(ctx, dev):
                # Other breaks elsewhere in the run do not explain this one: copies on both sides
                # and every digit of what the copy gives here. A copy pasted as its value.
                severity, message = "high", message + reason + _BETWEEN
            else:
                severity, message = "medium", message + reason
        elif dev.kind == "pattern":
            rule, message = "FX30", f"formula differs from its {where} ({example.formula})"
            expected = copy
            if expected is None:
                continue  # (unreached: a region's example is a parsed formula)
            actual = ctx.trees[(dev.row, dev.col)]
            if canonical(actual, dev.row, dev.col) == canonical(expected, dev.row, dev.col):
                continue  # the same computation spelled otherwise (operands commuted, + for SUM)
            label = _label_read(ctx, expected)
            if is_lone and label is not None:
                message += f" (copied here, the region's formula would read the label in {a1(*label)})"
            elif is_lone and _slipped_aggregate(ctx, dev) and _covers_more(ctx, actual, expected):
                # The one total that adds more than its copies: they may all stop short (the lone
                # one the only right one), or it overreaches; which, the grid cannot tell.
                for row, col in _run_members(ctx, dev):
                    _keep(kept, row, col, Hit("FX33", _WIDER.format(a1(dev.row, dev.col), dev.axis), None, "high"))
                severity, message = "high", message + _LONE
            elif is_lone and (
                skeleton_of(ctx.patterns.get((dev.row, dev.col), ""))
                in (skeleton_of(dev.expected), skeleton_of(ctx.patterns.get(dev.example, "")))
                or reference_texts(actual, dev.row, dev.col) == reference_texts(expected, dev.row, dev.col)
            ):
                # The same computation over other cells (a reference moved, a range resized), or
                # another operator or function over the same cells: what a slip leaves. Both
                # changed is another computation, often deliberate (a ratio among totals).
                severity, message = "high", message + _LONE
            elif _slipped_aggregate(ctx, dev):
                # A copied total whose range slipped is an error even among other breaks.
                severity = "high"
            elif (
                recurring[_break_of_run(ctx, dev)] == 1
                and _between_exact_copies(ctx, dev)
                and (slip := _slip_between_copies(ctx, dev, actual, expected))
            ):
                # Other breaks elsewhere in the run (a row computed otherwise on purpose) do not
                # explain this one: copies on both sides and one thing changed.
                severity, message = "high", message + slip
        else:
            rule, message = (
                "FX33",
                f"{dev.axis} region around {a1(*dev.example)} mixes patterns, ranges or typed values",
            )
        _keep(kept, dev.row, dev.col, Hit(rule, message, suggestion, severity))
    for (row, col, _), hit in kept.items():
        yield row, col, hit


def _keep(kept: dict[tuple[int, int, str], Hit], row: int, col: int, hit: Hit) -> None:
    # The first finding of a cell and rule, unless a later one is more severe.
    key = (row, col, hit.rule)
    before = kept.get(key)
    if before is None or STRENGTH[_severity(hit)] > STRENGTH[_severity(before)]:
        kept[key] = hit


def _severity(hit: Hit) -> str:
    return hit.severity or CHECKS[hit.rule].severity


_LONE = " (the only cell of the run that breaks it)"
_BETWEEN = " (between copies, it is what they give here, to every digit)"
_MOVED = " (between copies, the same computation over other cells: a reference moved)"
_OPERATOR = " (between copies, over the same cells, constants and functions: an operator changed)"
_WIDER = "the totals of this {1} disagree on their span: {0} adds more cells than the others"


def _break_of_run(ctx: SheetContext, dev: Deviation) -> tuple[str, tuple[int, int], str | None]:
    # A run (its axis and example) and the formula, as written, that breaks it.
    return dev.axis, dev.example, ctx.patterns.get((dev.row, dev.col))


def _between_exact_copies(ctx: SheetContext, dev: Deviation) -> bool:
    # Both neighbours along the run are copies of the region's formula, as written, and the break
    # is no part of a line of its own across the run: a break on its own, whatever else the run holds.
    dr, dc = (1, 0) if dev.axis == "column" else (0, 1)
    return all(
        ctx.patterns.get((dev.row + s * dr, dev.col + s * dc)) == dev.expected for s in (-1, 1)
    ) and not _in_line_across(ctx, dev)


def _slip_between_copies(ctx: SheetContext, dev: Deviation, actual: Node, expected: Node) -> str:
    # What a slip leaves between copies, named: another operator over the same cells, constants and
    # functions (another function, AVERAGE for SUM, is a choice of statistic: no keystroke slips
    # into it), or the same computation over other cells (a reference moved) that is not computed
    # from the copies' results (a subtotal of the rows below among row totals). Else "".
    if _only_operators_differ(actual, expected, dev):
        return _OPERATOR
    if skeleton_of(ctx.patterns.get((dev.row, dev.col), "")) == skeleton_of(dev.expected):
        return "" if _computed_from_copies(ctx, dev) else _MOVED
    return ""


def _computed_from_copies(ctx: SheetContext, dev: Deviation) -> bool:
    # Whether the break is computed from the copies' results: it reads its own line (a subtotal of
    # the rows below, an "of which" line over totals further up) where the copies do not. Every
    # copy of a running balance reads its own line: a break there that reads another row slipped.
    return any(
        _crosses_line(box, dev.axis, (dev.row, dev.col)) for box in ctx.bounds_at((dev.row, dev.col))
    ) and not any(_crosses_line(box, dev.axis, dev.example) for box in ctx.bounds_at(dev.example))


def _crosses_line(box: tuple[int, int, int, int], axis: str, at: tuple[int, int]) -> bool:
    # Whether a range holds a cell of the column (or row) through ``at``, other than ``at``.
    if axis == "column":
        return box[1] <= at[1] <= box[3] and (box[0] != at[0] or box[2] != at[0])
    return box[0] <= at[0] <= box[2] and (box[1] != at[1] or box[3] != at[1])


def _only_operators_differ(actual: Node, expected: Node, dev: Deviation) -> bool:
    # The same references, constants and functions: what differs is how they are combined.
    return (
        reference_texts(actual, dev.row, dev.col) == reference_texts(expected, dev.row, dev.col)
        and sorted(n.text for n in actual.walk() if isinstance(n, Number))
        == sorted(n.text for n in expected.walk() if isinstance(n, Number))
        and sorted(n.base for n in actual.walk() if isinstance(n, Func))
        == sorted(n.base for n in expected.walk() if isinstance(n, Func))
    )


def _covers_more(ctx: SheetContext, actual: Node, expected: Node) -> bool:
    # Every range of ``actual`` holds the matching range of ``expected``, and one holds more.
    mine = [ref_bounds(r, ctx.max_row, ctx.max_col) for _, r in aggregate_ranges(ctx, actual)]
    theirs = [ref_bounds(r, ctx.max_row, ctx.max_col) for _, r in aggregate_ranges(ctx, expected)]
    if not mine or len(mine) != len(theirs):
        return False
    holds = all(
        a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3] for a, b in zip(mine, theirs, strict=True)
    )
    return holds and mine != theirs


def _between_copies(
    ctx: SheetContext, dev: Deviation, runs: dict[tuple[str, tuple[int, int]], list[tuple[int, int]]]
) -> bool:
    # ``runs`` keeps each run's copies once: a long half-typed line has as many breaks as cells.
    key = (dev.axis, dev.example)
    members = runs.get(key)
    if members is None:
        members = runs[key] = _run_members(ctx, dev)
    here = (dev.row, dev.col)
    return bool(members) and members[0] < here < members[-1]


def _run_members(ctx: SheetContext, dev: Deviation) -> list[tuple[int, int]]:
    # The cells of the deviation's run (adjacent numbers and formulas along its axis) of the region's shape.
    dr, dc = (1, 0) if dev.axis == "column" else (0, 1)
    shape = structure_of(dev.expected)
    lo = (dev.row, dev.col)
    while is_data(ctx.cells.get((lo[0] - dr, lo[1] - dc))):
        lo = (lo[0] - dr, lo[1] - dc)
    out = []
    at = lo
    while is_data(ctx.cells.get(at)):
        pattern = ctx.patterns.get(at)
        if pattern is not None and structure_of(pattern) == shape:
            out.append(at)
        at = (at[0] + dr, at[1] + dc)
    return out


def _lone_breaks(ctx: SheetContext, deviations: list[Deviation]) -> set[Deviation]:
    # Breaks that are alone in their run and not part of a line of their own across it.
    # A break is a formula of another pattern or a typed number (in a half-typed line, its numbers).
    breaks = [
        dev
        for dev in deviations
        if dev.kind in ("pattern", "constant") or (dev.kind == "typed-line" and ctx.cells[(dev.row, dev.col)].is_number)
    ]
    # Only a break between copies is a lone break: a typed figure that opens or closes a line (a
    # prior year before computed years) is another quantity as often as a pasted value.
    runs: dict[tuple[str, tuple[int, int]], list[tuple[int, int]]] = {}
    breaks = [dev for dev in breaks if dev.kind != "typed-line" or _between_copies(ctx, dev, runs)]
    per_run = Counter((dev.axis, dev.example) for dev in breaks)
    return {dev for dev in breaks if per_run[(dev.axis, dev.example)] == 1 and not _in_line_across(ctx, dev)}


def _in_line_across(ctx: SheetContext, dev: Deviation) -> bool:
    # Whether a break is part of a line of its own across its run: a typed number beside a typed
    # number (a row of typed actuals through computed columns), a formula beside the same formula.
    across = ((0, -1), (0, 1)) if dev.axis == "column" else ((-1, 0), (1, 0))
    cell = ctx.cells[(dev.row, dev.col)]
    neighbours = [ctx.cells.get((dev.row + dr, dev.col + dc)) for dr, dc in across]
    if cell.is_number:
        along = ((-1, 0), (1, 0)) if dev.axis == "column" else ((0, -1), (0, 1))
        return any(
            n is not None
            and n.is_number
            and all((m := ctx.cells.get((n.row + dr, n.col + dc))) is not None and m.is_formula for dr, dc in along)
            for n in neighbours
        )
    own = ctx.patterns.get((dev.row, dev.col))
    return own is not None and any(n is not None and ctx.patterns.get((n.row, n.col)) == own for n in neighbours)


_AGREES = " (the typed value equals the formula's result today, but will not follow its inputs)"
_READS_NOTHING = " (the formula copied here would read no number: likely another quantity)"


class _TypedReadings(NamedTuple):
    # ``reasons``: typed numbers that are no stale result, with the reason: equal (up to the digits
    # typed) to what the region's formula gives in their cell (a pasted value, right today), or
    # standing where that formula would read no number at all (a count or code column beside the
    # computed ones). ``pasted_values``: those that are that result to every digit
    # (``evaluate.pasted``). ``stale``: typed totals that are stale (``stale_totals.stale_total``):
    # the typed figure and the sum of its figures.
    reasons: dict[tuple[int, int], str]
    pasted_values: set[tuple[int, int]]
    stale: dict[tuple[int, int], tuple[float, float]]


def _typed_copies_of_results(ctx: SheetContext, deviations: list[Deviation]) -> _TypedReadings:
    out: dict[tuple[int, int], str] = {}
    pasted_keys: set[tuple[int, int]] = set()
    stale: dict[tuple[int, int], tuple[float, float]] = {}
    summaries: Summaries = {}
    data_rows: dict[int, list[int]] | None = None
    allowance = check_budget(len(ctx.cells))
    for dev in deviations:
        key = (dev.row, dev.col)
        cell = ctx.cells[key]
        if dev.kind not in _TYPED_KINDS or not cell.is_number or dev.example not in ctx.trees:
            continue
        expected = _copy_at(ctx, dev)
        if expected is None:
            continue
        if data_rows is None:
            data_rows = _data_rows(ctx)
        if not _reads_numbers(ctx, expected, data_rows):
            out[key] = _READS_NOTHING
            continue
        # Evaluating reads the formula's ranges cell by cell (up to evaluate.MAX_CELLS each): past
        # an allowance of one check budget, later typed values are not compared (no "equals the
        # formula's result" note), rather than the whole region check stopping.
        allowance -= sum(_cells_of_ranges(ctx, expected))
        value = evaluate(expected, ctx.cells, ctx.is_local) if allowance >= 0 else None
        typed = as_float(cell.value)
        if value is None or typed is None:
            continue
        if agrees(typed, value):
            out[key] = _AGREES
            if pasted(typed, value):
                pasted_keys.add(key)
        elif stale_total(ctx, expected, typed, value, key, summaries):
            stale[key] = (typed, value)
    return _TypedReadings(out, pasted_keys, stale)


def _reads_numbers(ctx: SheetContext, tree: Node, data_rows: dict[int, list[int]]) -> bool:
    # Whether a formula reads any number or formula result (other sheets count as unknown: yes).
    # ``data_rows``: rows of the data cells of each column, sorted; a range is one bisection a column.
    for ref in tree.walk():
        if not isinstance(ref, Ref):
            continue
        if not ctx.is_local(ref):
            return True
        r1, c1, r2, c2 = ref_bounds(ref, ctx.max_row, ctx.max_col)
        if c2 - c1 + 1 > MAX_RANGE_COLUMNS:
            return True
        for c in range(c1, c2 + 1):
            rows = data_rows.get(c)
            if rows and bisect_left(rows, r1) < bisect_right(rows, r2):
                return True
    return False


def _cells_of_ranges(ctx: SheetContext, tree: Node) -> Iterator[int]:
    for ref in ctx.local_refs(tree):
        r1, c1, r2, c2 = ref_bounds(ref, ctx.max_row, ctx.max_col)
        yield min((r2 - r1 + 1) * (c2 - c1 + 1), EVALUATED_CELLS)


def _data_rows(ctx: SheetContext) -> dict[int, list[int]]:
    by_col: dict[int, list[int]] = {}
    for (row, col), cell in ctx.cells.items():
        if is_data(cell):
            by_col.setdefault(col, []).append(row)
    for rows in by_col.values():
        rows.sort()
    return by_col


def _slipped_aggregate(ctx: SheetContext, dev: Deviation) -> bool:
    # Same aggregate shape as the region, different offsets: a copied total whose range moved.
    shape = structure_of(dev.expected)
    own = ctx.patterns.get((dev.row, dev.col))
    return shape is not None and own is not None and structure_of(own) == shape and is_aggregate(shape)


def _label_read(ctx: SheetContext, tree: Node) -> tuple[int, int] | None:
    # A text cell (a label) that a single-cell reference of ``tree`` reads on this sheet: a formula
    # written around it on purpose (a week counter that skips the TOTAL column) is no slip.
    for ref in ctx.local_refs(tree):
        if ref.end is None and ref.start.row is not None and ref.start.col is not None:
            cell = ctx.cells.get((ref.start.row, ref.start.col))
            if cell is not None and not cell.is_formula and isinstance(cell.value, str):
                return ref.start.row, ref.start.col
    return None


def _copy_at(ctx: SheetContext, dev: Deviation) -> Node | None:
    # The region's formula copied to the deviation's cell: relative references shifted, but for the
    # cells the copies point at (relative references that stand for absolute ones).
    source = dev.example
    tree = ctx.trees.get(source)
    if tree is None:
        return None
    pinned = pinned_cells(ctx.patterns.get(source, ""), dev.expected)
    return _shift(tree, dev.row - source[0], dev.col - source[1], pinned)


def _shift(node: Node, dr: int, dc: int, pinned: AbstractSet[tuple[int, int]] = frozenset()) -> Node:
    from dataclasses import replace as dc_replace

    from sheetbrain.engine.ast import map_children

    if isinstance(node, Ref):

        def move(addr: Any) -> Any:
            if addr is None or (addr.row, addr.col) in pinned:
                return addr
            row = addr.row if addr.row is None or addr.row_abs else max(1, addr.row + dr)
            col = addr.col if addr.col is None or addr.col_abs else max(1, addr.col + dc)
            return dc_replace(addr, row=row, col=col)

        return dc_replace(node, start=move(node.start), end=move(node.end))
    return map_children(node, lambda child: _shift(child, dr, dc, pinned))


def check_range_short(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX28: a column/row aggregate that ends at most ``max_gap`` cells before the data next to the formula does.

    Excel's error-checking rule "formulas which omit cells in a region": the cells skipped between
    the range's end and the formula hold numbers or formulas. A skipped formula that reads the
    range itself (a subtotal, an average of the same cells) is derived from it, and leaving it out
    is what avoids counting those cells twice; a formula that reads the skipped cells elsewhere
    (``=SUM(A1:A3)-A4``) does not omit them: no finding in either case.
    """
    max_gap = int(params["FX28"]["max_gap"])
    for row, col in sorted(ctx.trees):
        for _func, ref in ctx.aggregates_at((row, col)):
            if ref.is_whole_column or ref.is_whole_row or ref.is_open_ended:
                continue
            r1, c1, r2, c2 = ref_bounds(ref, ctx.max_row, ctx.max_col)
            # (the gap is bounded before it is listed: a range far above its formula costs nothing)
            if c1 == c2 == col and row - 1 - max_gap <= r2 < row - 1:
                gap = [(r, col) for r in range(r2 + 1, row)]
            elif r1 == r2 == row and col - 1 - max_gap <= c2 < col - 1:
                gap = [(row, c) for c in range(c2 + 1, col)]
            else:
                continue
            if len(gap) > max_gap or not all(_skipped_data(ctx, at, (r1, c1, r2, c2)) for at in gap):
                continue
            if any(_covers(box, at) for box in ctx.bounds_at((row, col)) for at in gap):
                continue  # the formula reads the skipped cells elsewhere (=SUM(A1:A3)-A4): not omitted
            (first_r, first_c), (last_r, last_c) = gap[0], gap[-1]
            extended = _spanning(ref, r1, c1, max(r2, last_r), max(c2, last_c))
            where = a1(first_r, first_c) if gap[0] == gap[-1] else f"{a1(first_r, first_c)}:{a1(last_r, last_c)}"
            formulas = sum(ctx.cells[at].is_formula for at in gap)
            what = "formulas" if formulas == len(gap) else "numbers and formulas" if formulas else "numbers"
            yield (
                row,
                col,
                Hit(
                    "FX28",
                    f"{format_ref(ref)} stops before the {what} in {where}",
                    _extended_formula(ctx.trees[(row, col)], ref, extended),
                ),
            )


def _skipped_data(ctx: SheetContext, at: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
    # A number, or a formula whose result is a number (or unknown: no values sent) and that does not
    # read the range it would join (a subtotal of those cells is left out on purpose).
    cell = ctx.cells.get(at)
    if cell is None or not (cell.is_number or cell.is_formula):
        return False
    if cell.is_number:
        return True
    if cell.value is not None and (isinstance(cell.value, bool) or not isinstance(cell.value, int | float)):
        return False  # text, an error or a boolean: nothing an aggregate adds
    if at not in ctx.trees:
        return False  # a formula too deep to walk: its references are unknown
    r1, c1, r2, c2 = box
    return not any(br1 <= r2 and r1 <= br2 and bc1 <= c2 and c1 <= bc2 for br1, bc1, br2, bc2 in ctx.bounds_at(at))


def _covers(box: tuple[int, int, int, int], at: tuple[int, int]) -> bool:
    return box[0] <= at[0] <= box[2] and box[1] <= at[1] <= box[3]


def _spanning(ref: Ref, r1: int, c1: int, r2: int, c2: int) -> Ref:
    """``ref`` over rows ``r1``..``r2`` and columns ``c1``..``c2`` (top-left first, as Excel writes it).

    Each bound keeps the ``$`` of the corner it came from, so ``A3:$A$1`` grown to row 4 is ``$A$1:A4``
    (along a side where both corners agree, the corners stay paired as the other side orders them).
    """
    start, end = ref.start, ref.end or ref.start
    srow, erow, scol, ecol = start.row or 0, end.row or 0, start.col or 0, end.col or 0
    rows_swapped = srow > erow or (srow == erow and scol > ecol)
    cols_swapped = scol > ecol or (scol == ecol and srow > erow)
    top, bottom = (end, start) if rows_swapped else (start, end)
    left, right = (end, start) if cols_swapped else (start, end)
    return dataclasses.replace(
        ref, start=CellAddr(c1, r1, left.col_abs, top.row_abs), end=CellAddr(c2, r2, right.col_abs, bottom.row_abs)
    )


def _extended_formula(tree: Node, ref: Ref, extended: Ref) -> str:
    """The formula with the short range extended, or advice when the range cannot be found in it."""
    fixed = replace(tree, ref, extended)
    return to_formula(fixed) if fixed != tree else f"extend the range to {format_ref(extended)}"


def check_double_counting(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX29: a SUM whose range contains subtotals together with the rows they add up.

    Rationale: double counting is among the most common spreadsheet errors in published risk lists
    (Panko; EuSpRIG); a grand total over detail rows and their subtotals counts every line twice.
    A subtotal and the range it adds lie inside a SUM's range exactly when the box around both does,
    so each SUM asks one question of the subtotals: is any such box inside mine?
    """
    index = _SubtotalBoxes()
    sums: list[tuple[int, int, Ref, tuple[int, int, int, int]]] = []
    for row, col in sorted(ctx.trees):
        for func, ref in ctx.aggregates_at((row, col)):
            box = ref_bounds(ref, ctx.max_row, ctx.max_col)
            if func.base in ("SUM", "SUBTOTAL"):
                index.add((row, col), box)
            if func.base == "SUM" and (box[2] - box[0] + 1) * (box[3] - box[1] + 1) <= MAX_RANGE_CELLS:
                sums.append((row, col, ref, box))
    index.freeze()
    reported: set[tuple[int, int]] = set()
    for row, col, ref, box in sums:
        if (row, col) in reported:
            continue
        hit = index.inside(box, (row, col), ctx.budget)
        if hit is not None:
            reported.add((row, col))
            yield (
                row,
                col,
                Hit(
                    "FX29",
                    f"{format_ref(ref)} includes the subtotal {a1(*hit)} and the cells it adds",
                    "add the detail rows or the subtotals, not both",
                ),
            )


_NOWHERE = (1 << 62, (0, 0))


class _SubtotalBoxes:
    """Boxes around each subtotal cell and one range it adds, queried for "any inside this box?".

    Boxes are grouped by their columns; a group sorted by first row keeps, for each suffix, the two
    smallest last rows of distinct subtotal cells (the SUM asking may itself be one of them). A query
    is then one bisection per group whose columns fit: O(log n), where scanning the subtotals in the
    range cost O(n) per SUM (a running total of a column of row totals: quadratic).
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[int, int], list[tuple[int, int, tuple[int, int]]]] = {}
        self.keys: list[tuple[int, int]] = []
        self.firsts: dict[tuple[int, int], list[int]] = {}
        self.best: dict[tuple[int, int], list[tuple[tuple[int, tuple[int, int]], tuple[int, tuple[int, int]]]]] = {}

    def add(self, cell: tuple[int, int], inner: tuple[int, int, int, int]) -> None:
        row, col = cell
        ir1, ic1, ir2, ic2 = inner
        box = (min(row, ir1), min(col, ic1), max(row, ir2), max(col, ic2))
        self.groups.setdefault((box[1], box[3]), []).append((box[0], box[2], cell))

    def freeze(self) -> None:
        self.keys = sorted(self.groups)
        for key, boxes in self.groups.items():
            boxes.sort()
            self.firsts[key] = [first for first, _, _ in boxes]
            suffix: list[tuple[tuple[int, tuple[int, int]], tuple[int, tuple[int, int]]]] = [
                (_NOWHERE, _NOWHERE)
            ] * len(boxes)
            one, two = _NOWHERE, _NOWHERE
            for i in range(len(boxes) - 1, -1, -1):
                _, last, cell = boxes[i]
                if last < one[0]:
                    if cell != one[1]:
                        two = one
                    one = (last, cell)
                elif cell != one[1] and last < two[0]:
                    two = (last, cell)
                suffix[i] = (one, two)
            self.best[key] = suffix

    def inside(
        self, box: tuple[int, int, int, int], owner: tuple[int, int], budget: WorkBudget
    ) -> tuple[int, int] | None:
        """A subtotal cell other than ``owner`` that lies, with a range it adds, inside ``box``."""
        r1, c1, r2, c2 = box
        for key in self.keys[bisect_left(self.keys, (c1, c1)) : bisect_right(self.keys, (c2, c2))]:
            budget.spend(1, owner)
            if key[1] > c2:
                continue
            i = bisect_left(self.firsts[key], r1)
            if i == len(self.firsts[key]):
                continue
            for last, cell in self.best[key][i]:
                if cell != owner and last <= r2:
                    return cell
        return None


def check_sections_total(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX35: a total whose range starts on a heading row and adds several sections of a table.

    Rationale: a range that takes in more than the block it totals (Panko's "range too wide"
    mechanical error). Advice, not an error report: a sweep over several sections is often the
    intended grand total, and on workbooks it was not written for this check was right on 3 of
    the 19 cells it flagged high.

    Tables built in sections (a heading row, its lines, the next heading...) are totalled per
    section or by adding the section subtotals. A range drawn from the first heading down to the
    last line instead adds every block of the table in one sweep: the heading rows are inside it,
    so a figure later typed on a heading line (or a subtotal added to a section) is counted too.
    """
    min_sections = int(params["FX35"]["min_sections"])
    spans: dict[tuple[bool, int, int], range] = {}
    scans: dict[tuple[tuple[int, int], tuple[int, int], tuple[tuple[int, int], ...]], _SectionScan] = {}
    for row, col in sorted(ctx.trees):
        tree = ctx.shape_at((row, col))
        if not isinstance(tree, Func) or tree.base not in RANGE_AGGREGATES:
            continue
        ranges = ctx.aggregates_at((row, col))
        if len(ranges) != 1 or len(tree.args) != 1:
            continue
        _func, ref = ranges[0]
        if ref.is_whole_column or ref.is_whole_row or ref.is_open_ended:
            continue
        r1, c1, r2, c2 = ref_bounds(ref, ctx.max_row, ctx.max_col)
        if (r1, c1) in ctx.cells:
            continue  # the range opens on a filled cell, not on a heading line
        if c1 == c2 == col and r2 < row:
            step, length = (1, 0), r2 - r1 + 1
            across = tuple((0, c - col) for c in _table_span(ctx, row, col, True, spans))
        elif r1 == r2 == row and c2 < col:
            step, length = (0, 1), c2 - c1 + 1
            across = tuple((r - row, 0) for r in _table_span(ctx, row, col, False, spans))
        else:
            continue
        # Ranges that open on the same cell share one scan: running totals cost their total length once.
        scan = scans.get(((r1, c1), step, across))
        if scan is None:
            scan = scans[((r1, c1), step, across)] = _SectionScan(ctx, (r1, c1), step, across)
        ctx.budget.spend(max(length - scan.scanned, 0) + 1, (row, col))
        sections = scan.sections(length)
        if sections is not None and sections >= min_sections:
            yield (
                row,
                col,
                Hit(
                    "FX35",
                    f"{format_ref(ref)} starts on a heading line and adds {sections} sections of the table",
                    "total each section, then add the section totals",
                ),
            )


def _table_span(
    ctx: SheetContext, row: int, col: int, along_row: bool, memo: dict[tuple[bool, int, int], range]
) -> range:
    # The run of numbers/formulas the total sits in, across the table (the other totals beside it);
    # each run is walked once and remembered for every cell in it.
    line, here = (row, col) if along_row else (col, row)
    known = memo.get((along_row, line, here))
    if known is not None:
        return known

    def data_at(pos: int) -> bool:
        return is_data(ctx.cells.get((line, pos) if along_row else (pos, line)))

    lo = hi = here
    while lo > 1 and data_at(lo - 1):
        lo -= 1
    while data_at(hi + 1):
        hi += 1
    span = range(lo, hi + 1)
    for pos in span:
        memo[(along_row, line, pos)] = span
    return span


class _SectionScan:
    """Blocks of filled cells along a line from ``start``, separated by gaps that are empty across
    the table (``across``); scanned once, as far as the longest range asks, for every range that
    opens on ``start``. ``sections(n)`` is None unless the first ``n`` cells open on such a gap (a
    heading line) and every gap in them is one."""

    def __init__(
        self, ctx: SheetContext, start: tuple[int, int], step: tuple[int, int], across: tuple[tuple[int, int], ...]
    ) -> None:
        self.ctx, self.start, self.step, self.across = ctx, start, step, across
        self.counts: list[int] = []  # sections among the first i + 1 cells
        self.closed = 0
        self.inside = self.has_data = False
        self.broken = False  # a gap with data across it: no range reaching past it is a sectioned total

    @property
    def scanned(self) -> int:
        return len(self.counts)

    def sections(self, length: int) -> int | None:
        if length <= 0 or self.start in self.ctx.cells:
            return None
        while self.scanned < length and not self.broken:
            self._step()
        return self.counts[length - 1] if length <= self.scanned else None

    def _step(self) -> None:
        row, col = self.start[0] + self.step[0] * self.scanned, self.start[1] + self.step[1] * self.scanned
        cell = self.ctx.cells.get((row, col))
        if cell is None:
            if any(is_data(self.ctx.cells.get((row + dr, col + dc))) for dr, dc in self.across):
                self.broken = True
                return
            self.closed += self.inside and self.has_data
            self.inside = self.has_data = False
        else:
            self.inside = True
            self.has_data = self.has_data or is_data(cell)
        self.counts.append(self.closed + (self.inside and self.has_data))


def check_empty_refs(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX27: single-cell references to cells of the grid that hold nothing."""
    for row, col in sorted(ctx.trees):
        empty = sorted(
            {
                (r, c)
                for r, c in ctx.singles_at((row, col))
                if r <= ctx.max_row and c <= ctx.max_col and (r, c) not in ctx.cells
            }
        )
        if empty:
            names = ", ".join(a1(r, c) for r, c in empty[:5])
            yield (
                row,
                col,
                Hit("FX27", f"reads empty cell(s) {names}", "point the reference at the intended input"),
            )


def check_duplicates(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX32: the same absolute computation repeated in several cells."""
    by_text: dict[str, list[tuple[int, int]]] = {}
    absolute: dict[int, bool] = {}  # per shape (its cached tuple of references): all of them absolute
    for key in ctx.trees:
        ctx.budget.spend(1, key)
        refs = ctx.shape_refs_at(key)
        fixed = absolute.get(id(refs))
        if fixed is None:
            fixed = absolute[id(refs)] = bool(refs) and all(r.start.row_abs and r.start.col_abs for r in refs)
        if fixed:
            by_text.setdefault(ctx.cells[key].formula or "", []).append(key)
    counts = Counter({text: len(keys) for text, keys in by_text.items()})
    for text, count in sorted(counts.items()):
        if count < int(params["FX32"]["min_copies"]):
            continue
        keys = sorted(by_text[text])
        first = a1(*keys[0])
        for row, col in keys[1:]:
            yield row, col, Hit("FX32", f"same formula as {first} ({count} copies)", f"={first}")


# (rule ids a check may emit, check) in catalogue order; the check gets each of those rules' parameters.
SHEET_CHECKS: tuple[tuple[tuple[str, ...], SheetCheck], ...] = (
    (("FX26",), check_circular),
    (("FX27",), check_empty_refs),
    (("FX28",), check_range_short),
    (("FX29",), check_double_counting),
    (("FX39",), check_total_across),
    (("FX30", "FX31", "FX33", "FX42"), check_regions),
    (("FX32",), check_duplicates),
    (("FX35",), check_sections_total),
    (("FX36",), check_error_results),
    (("FX37",), check_numbers_as_text),
    (("FX38",), check_two_digit_years),
    (("FX40",), check_omitted_cells),
    (("FX41",), check_pasted_links),
)
