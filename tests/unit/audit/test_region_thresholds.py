"""Region analysis at its thresholds: a clear majority is 75 % of the votes, and a line is
half typed from a quarter of typed values on. Each case sits on a threshold or next to it."""

from __future__ import annotations

import pytest
from sheetbrain.engine import Sheet, audit_sheet
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.regions import Deviation, find_deviations

COPY = "RC[-2]*RC[-1]"  # the column's formula: its own row's two cells to the left
SLIPPED = "RC[-2]*RC[-2]"  # the same shape with an offset that moved
OTHER = "RC[-1]+1"  # another computation


def column(items: list[str | int]) -> list[Deviation]:
    """Deviations of a column C from row 1 down: a pattern is a formula cell, a number a typed value."""
    cells: dict[tuple[int, int], Cell] = {}
    patterns: dict[tuple[int, int], str] = {}
    for row, item in enumerate(items, start=1):
        if isinstance(item, str):
            cells[(row, 3)] = Cell(row, 3, "=formula", None)
            patterns[(row, 3)] = item
        else:
            cells[(row, 3)] = Cell(row, 3, None, item)
    return find_deviations(cells, patterns)


def found(*cells: tuple[int, str], copies: int) -> list[Deviation]:
    return [Deviation(row, 3, kind, COPY, (1, 3), "column", copies) for row, kind in cells]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # 3 of 4 copies agree: exactly the clear majority, the slipped copy is reported
        ([COPY, COPY, COPY, SLIPPED], found((4, "pattern"), copies=4)),
        # 2 of 3 agree: no clear majority, and a product is no aggregate: nothing reported
        ([COPY, COPY, SLIPPED], []),
        # one pattern over 3 of the 4 cells of its span: another computation wedged between copies
        ([COPY, COPY, OTHER, COPY], found((3, "pattern"), copies=3)),
        # a typed value among 4 copies is a fifth of the line (under a quarter): 4 of 5 votes, reported
        ([COPY, COPY, 7, COPY, COPY], found((3, "constant"), copies=4)),
    ],
)
def test_deviations_are_reported_from_a_majority_of_three_quarters_on(
    items: list[str | int], expected: list[Deviation]
) -> None:
    # Given a column of copies with one cell that differs; When analysed; Then exactly these deviations
    assert column(items) == expected


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # 1 typed value in 4 cells: exactly a quarter, the whole line is half typed
        ([COPY, COPY, COPY, 7], found((1, "typed-line"), (2, "typed-line"), (3, "typed-line"), (4, "typed-line"),
                                      copies=3)),
        # 2 typed values in 4 cells
        ([COPY, COPY, 7, 7], found((1, "typed-line"), (2, "typed-line"), (3, "typed-line"), (4, "typed-line"),
                                   copies=2)),
    ],
)  # fmt: skip
def test_a_line_a_quarter_typed_is_reported_whole(items: list[str | int], expected: list[Deviation]) -> None:
    # Given a column of one per-row computation with typed values; When analysed; Then every cell of it
    assert column(items) == expected


def test_a_line_that_is_not_per_row_is_never_a_typed_line() -> None:
    # Given copies that read the row above (a running total), the third of 4 cells typed (a quarter)
    running = "R[-1]C+RC[-1]"
    cells = {(r, 3): Cell(r, 3, "=formula", None) for r in (2, 3, 5)}
    cells[(4, 3)] = Cell(4, 3, None, 9)
    patterns = dict.fromkeys(((2, 3), (3, 3), (5, 3)), running)

    # When analysed, Then only the typed value is reported, as a constant among copies (3 of 4 votes)
    assert find_deviations(cells, patterns) == [Deviation(4, 3, "constant", running, (2, 3), "column", 3)]


def _products(override: dict[int, str | int]) -> Sheet:
    # Given =B*C down column D for as many rows as the override names, inputs in B and C
    rows = max(override)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, rows + 1):
        item = override.get(row, f"=B{row}*C{row}")
        formulas.append([None, None, None, item if isinstance(item, str) else None])
        values.append([f"item {row}", row, 10 * row, item if isinstance(item, int) else None])
    return Sheet("Q3", formulas, values, "A1")


def _region_findings(sheet: Sheet) -> list[tuple[str | None, str, str]]:
    return sorted((f.cell, f.rule, f.severity) for f in audit_sheet(sheet) if f.rule in ("FX30", "FX31", "FX33"))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # 3 of 4 copies agree (75 %): the slipped one, a lone break, high
        ({4: "=B4*B4"}, [("Q3!D4", "FX30", "high")]),
        # 2 of 3 agree: no clear majority, nothing
        ({3: "=B3*B3"}, []),
        # 2 of 4 (two slips): nothing
        ({3: "=B3*B3", 4: "=B4*B4"}, []),
        # one pattern over 3 of the 4 cells of its span (a sum wedged between products): reported, high
        ({3: "=B3+C3", 4: "=B4*C4"}, [("Q3!D3", "FX30", "high")]),
        # one pattern over 4 of 6 cells: nothing
        ({3: "=B3+C3", 5: "=B5+C5", 6: "=B6*C6"}, []),
    ],
)
def test_given_copies_with_a_slip_when_audited_then_reported_from_three_quarters_agreeing(
    override: dict[int, str | int], expected: list[tuple[str, str, str]]
) -> None:
    # When audited / Then exactly these cells, rules and severities
    assert _region_findings(_products(override)) == expected


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # 1 typed value in 4 cells (a quarter): the whole column is half typed, advice on every cell
        ({4: 40}, [(f"Q3!D{row}", "FX31", "medium") for row in range(1, 5)]),
        # 1 in 5 (a fifth): a value typed over one copy, high, on that cell alone
        ({3: 30, 5: "=B5*C5"}, [("Q3!D3", "FX31", "high")]),
    ],
)
def test_given_typed_values_among_copies_when_audited_then_a_quarter_typed_makes_the_line_suspect(
    override: dict[int, str | int], expected: list[tuple[str, str, str]]
) -> None:
    # When audited / Then exactly these cells, rules and severities
    assert _region_findings(_products(override)) == expected
