"""FX26 on the range graph: exact cycles (none missed, none made up) without expanding ranges."""

from __future__ import annotations

import random

import pytest
from sheetbrain.engine import Sheet, audit_sheet
from sheetbrain.engine.checks.cycles import DependencyGraph
from sheetbrain.engine.refs import a1, col_letters


def _cyclic_cells(formulas: list[list[str | None]], name: str = "S") -> set[str]:
    return {f.cell or "" for f in audit_sheet(Sheet(name, formulas)) if f.rule == "FX26"}


def _column(texts: list[str | None], width: int = 1, at: int = 0) -> list[list[str | None]]:
    # One column of formulas (index ``at`` of rows ``width`` cells wide), from row 1 down.
    rows: list[list[str | None]] = []
    for text in texts:
        row: list[str | None] = [None] * width
        row[at] = text
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("formulas", "cyclic"),
    [
        # a whole-column range read by a formula inside that column
        (_column(["=1", "=2", "=COUNTIF(A:A,1)", "=4"]), {"S!A3"}),
        (_column(["=1", "=2", "=SUM($A:$A)"]), {"S!A3"}),
        # a running total whose range includes its own cell (every copy reads itself)
        (_column(["=1", "=SUM($A$1:A2)", "=SUM($A$1:A3)", "=SUM($A$1:A4)"]), {"S!A2", "S!A3", "S!A4"}),
        # a running total that stops on the row above stays clear
        (
            _column(
                ["=1", "=SUM($A$1:A1)", "=SUM($A$1:A2)", "=SUM($A$1:A3)"] + [f"=SUM($A$1:A{r})" for r in range(4, 30)]
            ),
            set(),
        ),
        # a cycle through a range: A5 reads A1:A3, A2 reads A5
        (_column(["=1", "=A5*2", "=3", "=4", "=SUM(A1:A3)"]), {"S!A2", "S!A5"}),
        # the same with the range beside the cell it would need: no cycle
        (_column(["=1", "=A5*2", "=3", "=4", "=SUM(A3:A4)"]), set()),
        # a cross-column cycle through ranges over two columns
        ([["=1", "=SUM(A2:A3)"], ["=B1+1", "=2"], ["=SUM(B2:B2)", "=3"]], {"S!A2", "S!B1"}),
        ([["=SUM(B1:C3)", "=A3", "=1"], [None, "=2", "=3"], ["=A1", None, None]], {"S!A1", "S!A3", "S!B1"}),
        # whole columns read across: B reads all of A, A reads B1 only through a chain that ends
        ([["=1", "=SUM(A:A)"], ["=2", "=B1*2"], ["=3", None]], set()),
        ([["=B2", "=SUM(A:A)"], ["=2", "=B1*2"], ["=3", None]], {"S!A1", "S!B1", "S!B2"}),
        # a formula reading itself directly, and a whole row holding the formula
        ([["=A1+1"]], {"S!A1"}),
        ([["=1", "=SUM(1:1)", "=3"]], {"S!B1"}),
        ([["=1", "=SUM(2:2)", "=3"], ["=4", "=5", "=6"]], set()),
    ],
)
def test_given_references_and_ranges_when_audited_then_exactly_the_cells_on_cycles(
    formulas: list[list[str | None]], cyclic: set[str]
) -> None:
    # Given a sheet of formulas reading cells and ranges / When audited
    # Then FX26 flags exactly the formulas on a dependency cycle
    assert _cyclic_cells(formulas) == cyclic


def test_given_a_whole_column_countif_over_a_long_formula_column_when_audited_then_no_cycle_and_one_range_node() -> (
    None
):
    # Given 2,000 rows: C doubles B, D counts C's values over the whole column and keeps a running total
    formulas: list[list[str | None]] = [
        [None, None, f"=B{r}*2", f"=COUNTIF($C:$C,C{r})+SUM($C$1:C{r})"] for r in range(1, 2001)
    ]
    # When audited / Then no cycle is reported
    assert _cyclic_cells(formulas) == set()
    # And the graph of the column is linear: the whole column and each running total are nodes
    graph = DependencyGraph([(r, 3) for r in range(1, 2001)])
    whole = graph.targets(1, 3, 1_048_576, 3)
    made = graph.made
    prefixes = [graph.targets(1, 3, r, 3) for r in range(1, 2001)]
    assert len(whole) == 1 and all(len(p) <= 4 for p in prefixes)
    assert graph.made - made <= 3 * 2000  # chained: one node and two edges per running total


def _brute_force_cycles(
    formulas: list[list[str | None]], refs: dict[tuple[int, int], list[tuple[int, int, int, int]]]
) -> set[str]:
    # Reference answer: expand every range into its formula cells and ask whether a cell reaches itself.
    cells = {(r + 1, c + 1) for r, row in enumerate(formulas) for c, text in enumerate(row) if text}
    deps = {
        key: {(r, c) for r1, c1, r2, c2 in refs[key] for (r, c) in cells if r1 <= r <= r2 and c1 <= c <= c2}
        for key in cells
    }
    out = set()
    for start in cells:
        seen: set[tuple[int, int]] = set()
        todo = list(deps[start])
        while todo:
            key = todo.pop()
            if key == start:
                out.add(f"S!{a1(*start)}")
                break
            if key not in seen:
                seen.add(key)
                todo.extend(deps[key])
    return out


@pytest.mark.parametrize(("height", "width", "sheets"), [(8, 4, 300), (60, 3, 60)])
def test_given_random_sheets_when_audited_then_cycles_equal_the_expanded_graphs(
    height: int, width: int, sheets: int
) -> None:
    # Given random sheets of formulas reading random cells, ranges and whole columns (fixed seed);
    # the taller ones have runs long enough for tree nodes and chained running totals
    rng = random.Random(20261202 + height)
    with_cycles = 0
    for _ in range(sheets):
        formulas: list[list[str | None]] = [[None] * width for _ in range(height)]
        refs: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
        for r in range(height):
            for c in range(width):
                if rng.random() < 0.35:
                    continue
                if r == 0:
                    formulas[r][c], refs[(1, c + 1)] = "=1", []
                    continue
                parts, bounds = [], []
                for _ in range(rng.randint(1, 3)):
                    # mostly rows above (as sheets are built), sometimes anywhere: some sheets have cycles
                    top = height if rng.random() < 0.5 / (height * width) else r
                    r1, r2 = sorted((rng.randint(1, top), rng.randint(1, top)))
                    c1, c2 = sorted((rng.randint(1, width), rng.randint(1, width)))
                    if rng.random() < 0.3:
                        r2, c2 = r1, c1
                    elif rng.random() < 0.3:
                        r1, c2 = 1, c1  # a running total's shape
                    whole = rng.random() < 1 / (height * width)
                    if whole:
                        parts.append(f"SUM({col_letters(c1)}:{col_letters(c2)})")
                        bounds.append((1, c1, height, c2))
                    elif (r1, c1) == (r2, c2):
                        parts.append(a1(r1, c1))
                        bounds.append((r1, c1, r1, c1))
                    else:
                        parts.append(f"SUM({a1(r1, c1)}:{a1(r2, c2)})")
                        bounds.append((r1, c1, r2, c2))
                formulas[r][c] = "=" + "+".join(parts)
                refs[(r + 1, c + 1)] = bounds
        # When audited / Then FX26 flags exactly the cells the expanded graph puts on a cycle
        expected = _brute_force_cycles(formulas, refs)
        assert _cyclic_cells(formulas) == expected, formulas
        with_cycles += bool(expected)
    # (and the seed gives both kinds of sheet)
    assert 0.1 * sheets < with_cycles < 0.9 * sheets
