"""FX40: a formula that leaves out a cell its copies read, where that cell holds text such as "-".

In a column computed row by row (``E191 =+D191+C191``, ``E192 =+D192+C192``...), a row whose
``C`` holds a dash for nil gets ``E193 =+D193``: added, the dash would show #VALUE!, so the
formula was written around it. It gives the right figure today; once a number is typed over the
dash, that row's total leaves it out while every other row counts it. The same holds along a row
of formulas that each read their own column.

Rationale: Excel's error-checking rule "formula inconsistent with other formulas in the region"
and CUSTODES' clustering (cells under one heading computed one way), made specific by what the
grid shows: the cells the copies read and this formula does not hold text, no number, and no
figure is there to explain the difference. Panko's omission error: a term missing from a formula.
Formulas are grouped by the cells they read (their ``$`` signs and constants aside); one is
compared with the cells read by at least ``MIN_COPIES`` formulas of its run, more than read its
own, when those are a strict superset of its own. Only terms the copies add or subtract count (0
typed over the text then keeps today's figure; a factor or a divisor would not), and only text
that stands for a figure: in its own line it sits among figures, as a dash for nil does, not
among labels. Formulas reading ranges, other sheets, or cells OFFSET or INDIRECT compute are other
computations and are not compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

from sheetbrain.engine.ast import Chain, Func, Node, Ref, Unary
from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.grid import is_data
from sheetbrain.engine.refs import a1
from sheetbrain.engine.regions import cells_read, per_line, without_strings
from sheetbrain.engine.vocabulary import REFERENCE_FUNCTIONS

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import CellHit, SheetContext

Key = tuple[int, int]
# A cell a formula of the run reads: (its row, or None for the formula's own row; its column) in a
# column, turned by a quarter in a row. The run's cells share the other coordinate, so two
# formulas of one run read the same cell exactly when they hold the same of these.
Read = tuple[int | None, int]
# A run's formulas by the cells they read: {cells read: formulas reading them}, and [(count, cells
# read, first formula)] of those read by at least MIN_COPIES formulas, the most read first.
Copies = tuple[dict[frozenset[Read], int], list[tuple[int, frozenset[Read], Key]]]

CacheKey = TypeVar("CacheKey")
CacheValue = TypeVar("CacheValue")

MIN_COPIES = 2  # cells read by one formula only are no copies' (and never more than the formula's own)
MAX_SHOWN_TEXT = 12  # longer text in a cell is named, not quoted
MAX_REPEATED_TEXT = 64  # the same text walked past, each way, looking for a figure (bounds the work)
# Copies share their patterns, so whether a pattern is compared is worked out once, and the cells it
# reads once per line; a sheet of formulas that all differ (a constant per row) would fill these
# caches for nothing: each is emptied when it holds this many, which bounds its memory.
MAX_CACHED = 50_000


def check_omitted_cells(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX40: see the module docstring. Work: one unit per formula, one per cell of a run walked
    (each run once), one per copy compared and one per cell a formula leaves out."""
    runs = _Runs(ctx)
    for key, pattern in sorted(ctx.patterns.items()):  # every parsed formula has its pattern
        ctx.budget.spend(1, key)
        for axis in ("column", "row"):
            hit = _omission(ctx, runs, key, pattern, axis)
            if hit is not None:
                yield key[0], key[1], hit
                break


def _omission(ctx: SheetContext, runs: _Runs, key: Key, pattern: str, axis: str) -> Hit | None:
    mine = runs.reads(pattern, key, axis)
    if not mine:
        return None
    counts, candidates = runs.copies(key, axis)
    own = counts[mine]
    for count, theirs, example in candidates:  # the most held first
        ctx.budget.spend(1, key)
        if count <= own:
            return None
        if mine < theirs:
            if not _added_terms(ctx, key, ctx.trees[example], {_cell_of(r, example, axis) for r in theirs - mine}):
                return None  # a factor or a divisor left out: 0 typed there would change the result
            return _hit(ctx, key, axis, count, example, sorted(_cell_of(r, key, axis) for r in theirs - mine))
    return None


def _added_terms(ctx: SheetContext, key: Key, tree: Node, cells: set[Key]) -> bool:
    # Whether each of ``cells`` is read by the copy (its tree, at its own cell) as a term added or
    # subtracted: every node above the reference a +/- chain, a sign or SUM. Then 0 typed over the
    # text keeps the copy's figure; as a factor (C*D), a divisor or in a mean it would not. One
    # unit a node, charged to ``key``.
    left = set(cells)

    def visit(node: Node, additive: bool) -> None:
        ctx.budget.spend(1, key)
        if isinstance(node, Ref):
            at = (node.start.row, node.start.col)
            if node.end is None and additive and at in left:
                left.discard(at)
            return
        if isinstance(node, Chain):
            additive = additive and all(op in "+-" for op in node.ops)
        elif isinstance(node, Unary):
            additive = additive and node.op in "+-"
        elif isinstance(node, Func):
            additive = additive and node.base == "SUM"
        else:
            additive = False
        for child in node.children():
            visit(child, additive)

    visit(tree, True)
    return not left


def _hit(ctx: SheetContext, key: Key, axis: str, count: int, example: Key, omitted: list[Key]) -> Hit | None:
    # The finding, if every cell left out holds text (no number, no formula, not blank).
    ctx.budget.spend(len(omitted), key)
    texts = []
    for at in omitted:
        cell = ctx.cells.get(at)
        if cell is None or is_data(cell) or not isinstance(cell.value, str) or not cell.value.strip():
            return None  # an empty cell or a figure left out is another matter (FX27, FX30)
        own_line = at[0] == key[0] if axis == "column" else at[1] == key[1]
        if own_line and not _among_figures(ctx, key, at, axis):
            return None  # a label among labels (a Yes/No flag, another table's names), no nil
        texts.append(cell.value.strip())
    names = ", ".join(a1(*at) for at in omitted)
    shown = f'"{texts[0]}"' if len(texts) == 1 and len(texts[0]) <= MAX_SHOWN_TEXT else "text"
    return Hit(
        "FX40",
        f"leaves out {names}, which the {count} formulas like {ctx.cells[example].formula} in this {axis} read: "
        f"{'it holds' if len(omitted) == 1 else 'they hold'} {shown}, so a figure typed there is not counted",
        f"copy the formula of {a1(*example)} here and type 0 over the text in {names}",
    )


def _among_figures(ctx: SheetContext, key: Key, at: Key, axis: str) -> bool:
    # Whether the text read in the formula's own row (column) stands for a figure: past the same
    # text repeated (a column of dashes), the line it sits in goes on with a number or a formula on
    # one side at least, as nil among figures does; a line of labels (Yes/No, names) does not.
    # One unit a cell looked at, charged to ``key``.
    text = ctx.cells[at].value.strip()
    dr, dc = (1, 0) if axis == "column" else (0, 1)
    for sign in (-1, 1):
        step = 1
        while step <= MAX_REPEATED_TEXT:
            ctx.budget.spend(1, key)
            cell = ctx.cells.get((at[0] + sign * step * dr, at[1] + sign * step * dc))
            if cell is None or cell.formula is not None or not isinstance(cell.value, str):
                break
            if cell.value.strip() != text:
                break
            step += 1
        if is_data(ctx.cells.get((at[0] + sign * step * dr, at[1] + sign * step * dc))):
            return True
    return False


def _cell_of(read: Read, key: Key, axis: str) -> Key:
    along, across = read
    if axis == "column":
        return (key[0] if along is None else along, across)
    return (across, key[1] if along is None else along)


class _Runs:
    """The runs of numbers and formulas along rows and columns, each walked once, and the cells
    each pattern reads, each worked out once per line."""

    def __init__(self, ctx: SheetContext) -> None:
        self.ctx = ctx
        # The last run read in each column, and in the current row: (line, first, last, copies).
        self.columns: dict[int, tuple[int, int, int, Copies]] = {}
        self.row: tuple[int, int, int, Copies] | None = None
        self.compared: dict[tuple[str, str], bool] = {}
        self.read: dict[tuple[str, str, int], frozenset[Read]] = {}

    def reads(self, pattern: str, key: Key, axis: str) -> frozenset[Read]:
        """The cells a formula copied along ``axis`` reads, or nothing when it is not compared: it
        reads a range, another sheet, cells OFFSET or INDIRECT compute, or a cell outside its own
        line. Formulas of one run share the line they run along (a column, a row), so that is all
        the answer depends on."""
        compared = self.compared.get((pattern, axis))
        if compared is None:
            code = without_strings(pattern)  # "h:mm" or "Note!" in quotes is no range, no sheet
            compared = (
                "!" not in code
                and ":" not in code
                and not any(f"{name}(" in code for name in REFERENCE_FUNCTIONS)
                and per_line(code, axis)
            )
            _bounded(self.compared)[(pattern, axis)] = compared
        if not compared:
            return frozenset()
        line = key[1] if axis == "column" else key[0]
        found = self.read.get((pattern, axis, line))
        if found is None:
            # Compared patterns move no reference along their line (per_line): there, a relative
            # row (column) is the formula's own.
            cells = cells_read(pattern, *key)
            if axis == "column":
                found = frozenset((None if moves else row, col) for row, col, moves, _ in cells)
            else:
                found = frozenset((None if moves else col, row) for row, col, _, moves in cells)
            _bounded(self.read)[(pattern, axis, line)] = found
        return found

    def copies(self, key: Key, axis: str) -> Copies:
        """For the run ``key`` sits in along ``axis``: how many of its formulas read each set of
        cells, and the sets read by at least ``MIN_COPIES`` formulas with the first of them, the
        most read first (ties: the earliest)."""
        line, here = (key[1], key[0]) if axis == "column" else (key[0], key[1])
        # Formulas are met row by row: the runs of a row are read one after another and then not
        # needed again; a column's runs, one after another down the sheet.
        known = self.columns.get(line) if axis == "column" else self.row if self.row and self.row[0] == line else None
        if known is not None and known[1] <= here <= known[2]:
            return known[3]
        ctx = self.ctx
        dr, dc = (1, 0) if axis == "column" else (0, 1)
        start = key
        while is_data(ctx.cells.get((start[0] - dr, start[1] - dc))):
            ctx.budget.spend(1, key)
            start = (start[0] - dr, start[1] - dc)
        # Formulas are counted by the cells they read: =C5+D5 and =$C5+$D5 are copies alike, and
        # each formula is compared once per set of cells (never with every pattern of the run).
        counts: Counter[frozenset[Read]] = Counter()
        firsts: dict[frozenset[Read], Key] = {}
        at = start
        while is_data(ctx.cells.get(at)):
            ctx.budget.spend(1, key)
            pattern = ctx.patterns.get(at)
            reads = self.reads(pattern, at, axis) if pattern is not None else frozenset()
            if reads:
                counts[reads] += 1
                firsts.setdefault(reads, at)
            at = (at[0] + dr, at[1] + dc)
        candidates = sorted(
            ((count, reads, firsts[reads]) for reads, count in counts.items() if count >= MIN_COPIES),
            key=lambda c: (-c[0], c[2]),
        )
        found = (dict(counts), candidates)
        first, last = (start[0], at[0] - 1) if axis == "column" else (start[1], at[1] - 1)
        if axis == "column":
            self.columns[line] = (line, first, last, found)
        else:
            self.row = (line, first, last, found)
        return found


def _bounded(cache: dict[CacheKey, CacheValue]) -> dict[CacheKey, CacheValue]:
    # The cache, emptied first when full (MAX_CACHED).
    if len(cache) >= MAX_CACHED:
        cache.clear()
    return cache
