"""FX26: formulas on a dependency cycle, found on a graph linear in cells and referenced ranges.

Expanding every range into one edge per formula cell inside it costs the product of the two: a
whole-column ``COUNTIF($C:$C,C2)`` filled down n rows makes n * n edges, and so does a running
total ``SUM($C$2:C2)``. Here a range is a node instead, and the graph stays exact:

- the formula cells of each column, in row order, are the leaves of a segment tree whose inner
  nodes are made on first use (a node depends on its two halves); any run of them is covered by
  O(log n) tree nodes, and a whole column is the root: one node shared by every copy;
- a run that extends one made earlier from the same first cell (``C2:C9`` after ``C2:C8``, as a
  running total filled down asks) depends on that run plus the cells it adds: O(1) per copy;
- a range over several columns is a node depending on the runs of each column (one node for
  identical ranges anywhere in the sheet).

Every node reaches exactly the formula cells of the cells or ranges it stands for, so a formula
is on a cycle of the sheet exactly when it is in a strongly connected component of two or more
nodes of this graph (or reads itself directly): no cycle is missed and none is made up.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from sheetbrain.engine.budget import CheckStopped
from sheetbrain.engine.checks.formula import Hit, Params

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import SheetContext

# Runs of at most this many formula cells are referenced cell by cell (a node would cost more).
SMALL_RUN = 4
_NO_EDGES: tuple[int, ...] = ()


class DependencyGraph:
    """Formula cells (nodes ``0..len(keys)-1``, row-major) and the ranges they read (nodes after them)."""

    def __init__(self, keys: Sequence[tuple[int, int]]) -> None:
        self.keys = keys
        self.edges: list[Sequence[int]] = [_NO_EDGES] * len(keys)
        self.rows: dict[int, list[int]] = {}  # column -> rows of its formula cells, ascending
        self.ids: dict[int, list[int]] = {}  # column -> their node ids, in the same order
        for node, (row, col) in enumerate(keys):
            rows = self.rows.get(col)
            if rows is None:
                rows = self.rows[col] = []
                self.ids[col] = []
            rows.append(row)
            self.ids[col].append(node)
        self.cols = sorted(self.rows)
        self.runs: dict[tuple[int, int, int], int] = {}  # (col, lo, hi) -> node of ids[col][lo:hi]
        self.run_end: dict[tuple[int, int], int] = {}  # (col, lo) -> hi of the last run made from lo
        self.rects: dict[tuple[int, int, int, int], list[int]] = {}
        self.made = 0  # nodes and edges made for ranges: the work they cost

    def _node(self, targets: list[int]) -> int:
        self.edges.append(targets)
        self.made += 1 + len(targets)
        return len(self.edges) - 1

    def _segment(self, col: int, lo: int, hi: int) -> list[int]:
        # The segment tree node of ids[col][lo:hi] (made with its halves on first use).
        if hi - lo <= SMALL_RUN:
            return self.ids[col][lo:hi]
        node = self.runs.get((col, lo, hi))
        if node is None:
            mid = (lo + hi) // 2
            node = self.runs[(col, lo, hi)] = self._node(self._segment(col, lo, mid) + self._segment(col, mid, hi))
        return [node]

    def _cover(self, col: int, first: int, last: int) -> list[int]:
        # Segment tree nodes that together stand for ids[col][first:last] (O(log n) of them).
        if last - first <= SMALL_RUN:
            return self.ids[col][first:last]
        out: list[int] = []
        todo = [(0, len(self.ids[col]))]
        while todo:
            lo, hi = todo.pop()
            if hi <= first or last <= lo:
                continue
            if first <= lo and hi <= last:
                out.extend(self._segment(col, lo, hi))
                continue
            mid = (lo + hi) // 2
            todo.append((mid, hi))
            todo.append((lo, mid))
        return out

    def _run(self, col: int, lo: int, hi: int) -> list[int]:
        # Targets standing for the formula cells ids[col][lo:hi].
        if hi - lo <= SMALL_RUN:
            return self.ids[col][lo:hi]
        node = self.runs.get((col, lo, hi))
        if node is None:
            before = self.run_end.get((col, lo))
            if before is not None and before < hi:
                targets = [self.runs[(col, lo, before)], *self._cover(col, before, hi)]  # a running total
            else:
                targets = self._cover(col, lo, hi)
            node = self.runs[(col, lo, hi)] = self._node(targets)
            self.run_end[(col, lo)] = hi
        return [node]

    def targets(self, r1: int, c1: int, r2: int, c2: int) -> list[int]:
        """Nodes standing for the formula cells inside rows ``r1..r2`` and columns ``c1..c2``."""
        if c1 == c2:
            rows = self.rows.get(c1)
            if rows is None:
                return []
            lo, hi = bisect_left(rows, r1), bisect_right(rows, r2)
            return self._run(c1, lo, hi) if lo < hi else []
        key = (r1, c1, r2, c2)
        known = self.rects.get(key)
        if known is not None:
            return known
        out: list[int] = []
        for col in self.cols[bisect_left(self.cols, c1) : bisect_right(self.cols, c2)]:
            rows = self.rows[col]
            lo, hi = bisect_left(rows, r1), bisect_right(rows, r2)
            if lo < hi:
                out.extend(self._run(col, lo, hi))
        if len(out) > SMALL_RUN:
            out = [self._node(out)]
        self.rects[key] = out
        return out

    def cyclic(self) -> list[int]:
        """Formula cells (node ids, ascending) in a strongly connected component of 2+ nodes or reading themselves.

        Iterative Tarjan over every node reachable from a formula cell.
        """
        edges, cells = self.edges, len(self.keys)
        index = [0] * len(edges)  # 0: not visited yet
        low = [0] * len(edges)
        on_stack = bytearray(len(edges))
        stack: list[int] = []
        found: list[int] = []
        counter = 1
        for root in range(cells):
            if index[root]:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = 1
            work: list[tuple[int, Iterator[int]]] = [(root, iter(edges[root]))]
            while work:
                node, children = work[-1]
                for child in children:
                    if not index[child]:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack[child] = 1
                        work.append((child, iter(edges[child])))
                        break
                    if on_stack[child] and index[child] < low[node]:
                        low[node] = index[child]
                else:
                    work.pop()
                    if work:
                        parent = work[-1][0]
                        if low[node] < low[parent]:
                            low[parent] = low[node]
                    if low[node] == index[node]:
                        member = stack.pop()
                        on_stack[member] = 0
                        if member != node:
                            component = [member]
                            while member != node:
                                member = stack.pop()
                                on_stack[member] = 0
                                component.append(member)
                            found.extend(m for m in component if m < cells)
                        elif node < cells and node in edges[node]:
                            found.append(node)
        found.sort()
        return found


def check_circular(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[tuple[int, int, Hit]]:
    """FX26: cells on a dependency cycle within the sheet.

    Rationale: Excel's circular-reference warning; a formula that depends on its own result has
    no defined value (iteration off) or one that depends on the recalculation order (iteration on).
    Cells are read in row order; when the work budget runs out, the cycles among the cells read so
    far are reported and the check stops at the first cell it did not read.
    """
    keys = sorted(ctx.trees)
    graph = DependencyGraph(keys)
    budget = ctx.budget
    stopped: CheckStopped | None = None
    node = 0
    try:
        for node, key in enumerate(keys):
            made = graph.made
            targets: list[int] = []
            bounds = ctx.bounds_at(key)
            for r1, c1, r2, c2 in bounds:
                targets.extend(graph.targets(r1, c1, r2, c2))
            graph.edges[node] = targets
            budget.spend(len(targets) + graph.made - made, key)
    except CheckStopped as exc:
        # The graph of the cells read before this one is whole: their cycles are exact.
        graph.edges[node] = _NO_EDGES
        stopped = exc
    for found in graph.cyclic():
        row, col = keys[found]
        yield row, col, Hit("FX26", _MESSAGE, _SUGGESTION)
    if stopped is not None:
        raise stopped


_MESSAGE = "the formula depends on its own result"
_SUGGESTION = "break the cycle: reference inputs, not this result"
