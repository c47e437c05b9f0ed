"""What the sheet checks read: the sheet's cells, parsed trees and R1C1 patterns, with the
references of each formula computed once and shared (copies move their first copy's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from sheetbrain.engine.ast import Func, Node, Ref
from sheetbrain.engine.budget import WorkBudget
from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.copies import MovedTrees, move_ref, move_tree
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.refs import ref_bounds
from sheetbrain.engine.vocabulary import RANGE_AGGREGATES


@dataclass
class SheetContext:
    """Everything sheet checks read: cells, parsed trees and R1C1 patterns by (row, col)."""

    name: str
    cells: dict[tuple[int, int], Cell]
    trees: Mapping[tuple[int, int], Node]
    patterns: dict[tuple[int, int], str]
    max_row: int
    max_col: int
    # The running check's work budget (the engine gives each check its own); the per-cell readers
    # below spend from it, one unit per call and per reference they return.
    budget: WorkBudget = field(default_factory=WorkBudget)
    _refs: dict[tuple[int, int], tuple[Ref, ...]] = field(default_factory=dict)
    _aggregates: dict[tuple[int, int], tuple[tuple[Func, Ref], ...]] = field(default_factory=dict)
    # Per unmoved tree (by id) of MovedTrees copies: its local refs and aggregate ranges, moved per copy.
    _base_refs: dict[int, tuple[Ref, ...]] = field(default_factory=dict)
    _base_aggregates: dict[int, tuple[tuple[Func, Ref], ...]] = field(default_factory=dict)

    def shape_at(self, key: tuple[int, int]) -> Node:
        """A tree of the same shape as the formula's at ``key`` (possibly another copy: addresses differ)."""
        self.budget.spend(1, key)
        if isinstance(self.trees, MovedTrees):
            return self.trees.origin(key)[0]
        return self.trees[key]

    def refs_at(self, key: tuple[int, int]) -> tuple[Ref, ...]:
        """Local references of the formula at ``key`` (computed once, shared by every check)."""
        found = self._refs.get(key)
        if found is None:
            if isinstance(self.trees, MovedTrees):
                refs = self.shape_refs_at(key)
                dr, dc = self.trees.origin(key)[1:]
                found = tuple(move_ref(ref, dr, dc) for ref in refs) if dr or dc else refs
            else:
                found = tuple(self.local_refs(self.trees[key]))
            self._refs[key] = found
        self.budget.spend(1 + len(found), key)
        return found

    def aggregates_at(self, key: tuple[int, int]) -> tuple[tuple[Func, Ref], ...]:
        """(aggregate call, local range argument) pairs of the formula at ``key``."""
        found = self._aggregates.get(key)
        if found is None:
            if isinstance(self.trees, MovedTrees):
                base, dr, dc = self.trees.origin(key)
                pairs = self._base_aggregates.get(id(base))
                if pairs is None:
                    pairs = self._base_aggregates[id(base)] = tuple(aggregate_ranges(self, base))
                found = tuple((moved_func(f, dr, dc), move_ref(r, dr, dc)) for f, r in pairs) if dr or dc else pairs
            else:
                found = tuple(aggregate_ranges(self, self.trees[key]))
            self._aggregates[key] = found
        self.budget.spend(1 + len(found), key)
        return found

    def shape_refs_at(self, key: tuple[int, int]) -> tuple[Ref, ...]:
        """Local references of a formula of the same shape as the one at ``key`` (addresses may differ)."""
        if not isinstance(self.trees, MovedTrees):
            return self.refs_at(key)
        base = self.trees.origin(key)[0]
        refs = self._base_refs.get(id(base))
        if refs is None:
            refs = self._base_refs[id(base)] = tuple(self.local_refs(base))
        return refs

    def singles_at(self, key: tuple[int, int]) -> list[tuple[int, int]]:
        """(row, col) of each local single-cell reference with both parts of the formula at ``key``."""
        if key in self._refs or not isinstance(self.trees, MovedTrees):
            refs, dr, dc = self.refs_at(key), 0, 0
        else:
            refs = self.shape_refs_at(key)
            dr, dc = self.trees.origin(key)[1:]
            self.budget.spend(1 + len(refs), key)
        out = []
        for ref in refs:
            start = ref.start
            if ref.end is None and start.row is not None and start.col is not None:
                out.append((start.row + (0 if start.row_abs else dr), start.col + (0 if start.col_abs else dc)))
        return out

    def bounds_at(self, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """``ref_bounds`` of each local reference of the formula at ``key`` (copies: moved arithmetically)."""
        if key in self._refs or not isinstance(self.trees, MovedTrees):
            return [ref_bounds(ref, self.max_row, self.max_col) for ref in self.refs_at(key)]
        dr, dc = self.trees.origin(key)[1:]
        refs = self.shape_refs_at(key)
        self.budget.spend(1 + len(refs), key)
        out = []
        for ref in refs:
            start, end = ref.start, ref.end or ref.start
            sr, sc, er, ec = start.row, start.col, end.row, end.col
            if sr is None or sc is None or er is None or ec is None:
                out.append(ref_bounds(move_ref(ref, dr, dc), self.max_row, self.max_col))
                continue
            if not start.row_abs:
                sr += dr
            if not start.col_abs:
                sc += dc
            if not end.row_abs:
                er += dr
            if not end.col_abs:
                ec += dc
            out.append((min(sr, er), min(sc, ec), max(sr, er), max(sc, ec)))
        return out

    def is_local(self, ref: Ref) -> bool:
        """Whether a reference points into this sheet (unqualified or naming it)."""
        return is_local_ref(ref, self.name)

    def local_refs(self, tree: Node) -> Iterator[Ref]:
        """References to this sheet (unqualified or naming it)."""
        for node in tree.walk():
            if isinstance(node, Ref) and is_local_ref(node, self.name):
                yield node


def sheet_key(name: str) -> str:
    """A sheet name as compared: Excel ignores case (``Sheet1!A1`` is ``SHEET1!A1``); outer spaces are padding."""
    return name.strip().casefold()


def is_local_ref(ref: Ref, sheet: str) -> bool:
    """Whether ``ref`` points into the sheet named ``sheet``: unqualified, or naming it in any case."""
    if ref.book is not None or ref.sheet_end is not None:
        return False
    return ref.sheet is None or sheet_key(ref.sheet) == sheet_key(sheet)


CellHit = tuple[int, int, Hit]
# A sheet check reads the parameters of each rule it may emit, by rule id.
SheetCheck = Callable[[SheetContext, Mapping[str, Params]], Iterator[CellHit]]


def moved_func(func: Func, dr: int, dc: int) -> Func:
    """``func`` moved by (dr, dc), still a function call."""
    moved = move_tree(func, dr, dc)
    assert isinstance(moved, Func)
    return moved


def aggregate_ranges(ctx: SheetContext, tree: Node) -> Iterator[tuple[Func, Ref]]:
    """(aggregate call, local range argument) pairs of ``tree``."""
    for node in tree.walk():
        if isinstance(node, Func) and node.base in RANGE_AGGREGATES:
            for arg in node.args:
                if isinstance(arg, Ref) and arg.end is not None and ctx.is_local(arg):
                    yield node, arg
