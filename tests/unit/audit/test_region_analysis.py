"""Region analysis case by case: which cells of a run break its region, with what expected pattern.

Patterns are given in R1C1 as the engine stores them; every expectation is the exact list of
deviations (cell, kind, expected pattern, example cell, axis, copies).
"""

from __future__ import annotations

import pytest
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.regions import (
    Deviation,
    find_deviations,
    is_aggregate,
    per_line,
    segments,
    skeleton_of,
    structure_of,
)

PRODUCT = "RC[-2]*RC[-1]"  # =A5*B5 in C5: its own row's two cells to the left
PRODUCT_ABOVE = "R[-1]C[-2]*RC[-1]"  # =A4*B5 in C5: the same computation, one input read from the row above
RUNNING = "R[-1]C+RC[-1]"  # =C4+B5 in C5: a running total (reads the row above: not per row)
UNPARSED = "!"  # a formula cell the engine could not parse: no pattern


def column(items: list[str | int], *, start: int = 1, min_region: int = 3) -> list[Deviation]:
    """Deviations of column C from row ``start`` down: a pattern is a formula cell, a number a typed value."""
    cells: dict[tuple[int, int], Cell] = {}
    patterns: dict[tuple[int, int], str] = {}
    for row, item in enumerate(items, start=start):
        if isinstance(item, str):
            cells[(row, 3)] = Cell(row, 3, "=formula", None)
            if item != UNPARSED:
                patterns[(row, 3)] = item
        else:
            cells[(row, 3)] = Cell(row, 3, None, item)
    return find_deviations(cells, patterns, min_region)


def dev(row: int, kind: str, expected: str, example: int, copies: int) -> Deviation:
    return Deviation(row, 3, kind, expected, (example, 3), "column", copies)


@pytest.mark.parametrize(
    ("pattern", "structure", "skeleton"),
    [
        # offsets keep only their sign: a column sum and a row sum stay different shapes
        ("SUM(R[-5]C:R[-1]C)", "SUM(R[-]C:R[-]C)", "SUM(R:R)"),
        ("SUM(RC[-3]:RC[-1])", "SUM(RC[-]:RC[-])", "SUM(R:R)"),
        # a positive offset, an absolute row and an absent column part
        ("R[2]C[-1]*R3C", "R[+]C[-]*R$C", "R*R"),
        ("COUNT(R[-3]C:R[-1]C)/R1C[2]", "COUNT(R[-]C:R[-]C)/R$C[+]", "COUNT(R:R)/R"),
        # a bare whole-column reference is not a link: it has a shape
        ("C[-1]:C[-1]", "C[-]:C[-]", "R:R"),
        # bare links (a cell, a range, another sheet's cell, a leading plus) carry no pattern
        ("R[-1]C", None, "R"),
        ("RC[-1]:R[1]C[-1]", None, "R:R"),
        ("Other!R[4]C[1]", None, "R"),
        ("'Q 3'!R1C1", None, "R"),
        ("+R[-1]C", None, "+R"),
    ],
)
def test_structure_and_skeleton_of_a_pattern(pattern: str, structure: str | None, skeleton: str) -> None:
    # Given an R1C1 pattern / When reduced / Then its shape keeps offset signs, its skeleton no address
    assert (structure_of(pattern), skeleton_of(pattern)) == (structure, skeleton)


@pytest.mark.parametrize(
    ("pattern", "down_a_column", "along_a_row", "aggregate"),
    [
        ("RC[-2]*RC[-1]", True, False, False),  # its own row: per line down a column
        ("SUM(R[-9]C:R[-1]C)", False, True, True),  # its own column: per line along a row
        ("R[-1]C+RC[-1]", False, False, False),  # a running total reads another row and column
        ("RC[-1]*Rates!R[-1]C", True, False, False),  # another sheet's cells do not count
        ("Rates!R[-1]C*2", False, False, False),  # no cell of this sheet at all
        ("AVERAGE(RC[-3]:RC[-1])/2", True, False, True),
        ("ROUND(RC[-1],2)", True, False, False),
    ],
)
def test_per_line_and_aggregate(pattern: str, down_a_column: bool, along_a_row: bool, aggregate: bool) -> None:
    # Given a pattern / When classified / Then it reads its own line along an axis, or aggregates a range
    assert (per_line(pattern, "column"), per_line(pattern, "row"), is_aggregate(structure_of(pattern) or "")) == (
        down_a_column,
        along_a_row,
        aggregate,
    )


def test_segments_are_the_runs_of_two_or_more_adjacent_numbers_or_formulas_in_any_cell_order() -> None:
    # Given row 1: numbers in A-B, a label in C, numbers in D-F, a gap, a formula in H and a number in I;
    # row 2: one number in A; the cells listed right to left
    given = [
        Cell(1, 1, None, 1), Cell(1, 2, None, 2), Cell(1, 3, None, "total"), Cell(1, 4, None, 4),
        Cell(1, 5, None, 5), Cell(1, 6, None, 6), Cell(1, 8, "=F1*2", None), Cell(1, 9, None, 9),
        Cell(2, 1, None, 7),
    ]  # fmt: skip
    cells = {(c.row, c.col): c for c in reversed(given)}

    # When cut into runs along rows and along columns
    rows = [[(c.row, c.col) for c in run] for run in segments(cells, "row")]
    columns = [[(c.row, c.col) for c in run] for run in segments(cells, "column")]

    # Then the label and the gap end runs, a lone cell is no run, and the order given does not matter
    assert rows == [[(1, 1), (1, 2)], [(1, 4), (1, 5), (1, 6)], [(1, 8), (1, 9)]]
    assert columns == [[(1, 1), (2, 1)]]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # two cells read the row above, three copies follow: the region is the three, the slip just
        # before them is reported (the cell before that is not next to the region)
        (
            [PRODUCT_ABOVE, PRODUCT_ABOVE, PRODUCT, PRODUCT, PRODUCT],
            [dev(6, "pattern", PRODUCT, example=7, copies=3)],
        ),
        # the slip is the run's first cell
        ([PRODUCT_ABOVE, PRODUCT, PRODUCT, PRODUCT], [dev(5, "pattern", PRODUCT, example=6, copies=3)]),
        # and the last
        ([PRODUCT, PRODUCT, PRODUCT, PRODUCT_ABOVE], [dev(8, "pattern", PRODUCT, example=5, copies=3)]),
    ],
)
def test_a_slipped_copy_just_outside_the_region_is_reported(items: list[str | int], expected: list[Deviation]) -> None:
    # Given C5 down: copies with the same computation over other cells at one end / Then that cell
    assert column(items, start=5) == expected


def test_a_typed_opening_value_above_running_totals_is_not_a_deviation() -> None:
    # Given an opening balance typed above three running totals / When analysed / Then nothing
    assert column([100, RUNNING, RUNNING, RUNNING]) == []


def test_a_region_needs_min_region_copies() -> None:
    # Given two copies with a slip just before them
    items: list[str | int] = [PRODUCT_ABOVE, PRODUCT, PRODUCT]
    # When at least three copies make a region, Then nothing; When two do, Then the slip
    assert column(items, start=5) == []
    assert column(items, start=5, min_region=2) == [dev(5, "pattern", PRODUCT, example=6, copies=2)]


def test_other_computations_between_copies_are_layout_and_the_copy_that_slipped_after_them_is_reported() -> None:
    # Given 8 products with a subtotal and a ratio after the third, and the seventh slipped
    subtotal, ratio, slipped = "SUM(R[-3]C:R[-1]C)", "R[-1]C/R[-4]C", "RC[-2]*RC[-2]"
    items: list[str | int] = [PRODUCT, PRODUCT, PRODUCT, subtotal, ratio, PRODUCT, slipped, PRODUCT, PRODUCT, PRODUCT]
    # When analysed / Then only the slipped copy: neither computation sits between two copies
    assert column(items) == [dev(7, "pattern", PRODUCT, example=1, copies=8)]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # 3 copies over a span of 6 (exactly half), a typed value among them: 3 of 4 votes
        ([PRODUCT, PRODUCT, 7, "RC[-1]+1", "RC[-1]-1", PRODUCT], [dev(3, "constant", PRODUCT, example=1, copies=3)]),
        # 3 copies over a span of 7: too sparse for a region
        ([PRODUCT, PRODUCT, 7, "RC[-1]+1", "RC[-1]-1", "RC[-1]*2", PRODUCT], []),
    ],
)
def test_a_region_covers_at_least_half_of_its_span(items: list[str | int], expected: list[Deviation]) -> None:
    # Given copies spread over a span with other computations and one typed value / Then these deviations
    assert column(items) == expected


def test_typed_values_vote_against_the_copies() -> None:
    # Given three copies of a moving three-row sum (not per row) with two typed values among them:
    # 3 of 5 votes, and an aggregate, so the whole run is in doubt
    window = "SUM(R[-3]C[-1]:R[-1]C[-1])"
    found = column([window, window, 7, 8, window], start=5)
    assert found == [dev(row, "inconsistent-region", window, example=5, copies=3) for row in range(5, 10)]
    # And with running totals (no aggregate) nothing is reported
    assert column([RUNNING, RUNNING, 7, 8, RUNNING]) == []


def test_when_two_patterns_tie_the_greater_is_expected_and_the_whole_run_reported() -> None:
    # Given two 3-row sums above two 4-row sums in one column of totals (2 against 2)
    three, four = "SUM(R[-3]C[-1]:R[-1]C[-1])", "SUM(R[-4]C[-1]:R[-1]C[-1])"
    # When analysed / Then every total is in doubt, compared with the 4-row sum (the greater text)
    assert column([three, three, four, four], start=5) == [
        dev(row, "inconsistent-region", four, example=7, copies=4) for row in range(5, 9)
    ]


def test_a_relative_reference_to_one_cell_from_every_copy_counts_as_absolute() -> None:
    # Given =Bn/C9*A$1 down C1:C4 (C9 typed without $), with C3 typed over
    items: list[str | int] = ["RC[-1]/R[8]C*R1C[-2]", "RC[-1]/R[7]C*R1C[-2]", 7, "RC[-1]/R[5]C*R1C[-2]"]
    # When analysed / Then the copies agree on C9 and the typed value is reported against that pattern
    assert column(items) == [dev(3, "constant", "RC[-1]/R9C3*R1C[-2]", example=1, copies=3)]


def test_a_reference_to_one_cell_along_a_row_counts_as_absolute() -> None:
    # Given shares =B2/F2, =C2/F2, 7, =E2/F2 along B1:E1 (F2 without $)
    patterns = {(1, 2): "R[1]C/R[1]C[4]", (1, 3): "R[1]C/R[1]C[3]", (1, 5): "R[1]C/R[1]C[1]"}
    cells = {key: Cell(*key, "=formula", None) for key in patterns}
    cells[(1, 4)] = Cell(1, 4, None, 7)
    # When analysed / Then the typed value breaks one pattern, which reads F2 from every copy
    assert find_deviations(cells, patterns) == [Deviation(1, 4, "constant", "R[1]C/R2C6", (1, 2), "row", 3)]


def test_two_copies_reading_one_cell_are_one_pattern() -> None:
    # Given =B5/C4 in C5, then =B6/C9 and =B7/C9 (C9 without $), two copies making a region
    items: list[str | int] = ["RC[-1]/R[-1]C", "RC[-1]/R[3]C", "RC[-1]/R[2]C"]
    # When analysed with regions of two / Then C5 breaks the copies' one pattern
    assert column(items, start=5, min_region=2) == [dev(5, "pattern", "RC[-1]/R9C3", example=6, copies=2)]


@pytest.mark.parametrize(
    "items",
    [
        # bare links copy values: a typed value among them is no half-typed line
        ["RC[-1]", "RC[-1]", "RC[-1]", 7],
        # formulas that could not be parsed have no pattern to compare
        [UNPARSED, UNPARSED, 7, 8],
        # a range link beside copies of a bare whole-column reference is no slipped copy
        ["C[-1]:C[-1]", "C[-1]:C[-1]", "C[-1]:C[-1]", "RC[-1]:R[1]C[-1]"],
    ],
)
def test_links_and_unparsed_formulas_make_no_region(items: list[str | int]) -> None:
    # Given a column of bare links or unparsed formulas / When analysed / Then nothing
    assert column(items) == []
