"""The small evaluator that tells what a formula would give over a sheet's cached values."""

from __future__ import annotations

import pytest
from sheetbrain.engine.ast import Ref
from sheetbrain.engine.evaluate import agrees, evaluate
from sheetbrain.engine.grid import Cell
from sheetbrain.engine.parser import parse

CELLS = {
    (1, 1): Cell(1, 1, None, 2),
    (2, 1): Cell(2, 1, None, 3),
    (3, 1): Cell(3, 1, None, "n/a"),
    (4, 1): Cell(4, 1, "=A1*2", 4),
}


def _local(ref: Ref) -> bool:
    return ref.sheet is None and ref.book is None


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("=SUM(A1:A4)", 9.0),  # text in a range is skipped, formula cells give their cached value
        ("=A1*A2-A4/2", 4.0),
        ("=-A1+50%", -1.5),
        ("=AVERAGE(A1:A2)", 2.5),
        ("=A9+1", 1.0),  # an empty cell counts as 0
    ],
)
def test_given_arithmetic_over_local_cells_when_evaluated_then_value(formula: str, expected: float) -> None:
    assert evaluate(parse(formula), CELLS, _local) == pytest.approx(expected)


@pytest.mark.parametrize("formula", ["=A3+1", "=Other!A1", "=VLOOKUP(A1,B1:C2,2)", "=A1/0", '="a"'])
def test_given_text_other_sheets_or_unknown_functions_when_evaluated_then_unknown(formula: str) -> None:
    assert evaluate(parse(formula), CELLS, _local) is None


def test_agreement_allows_rounding_to_the_typed_digits_only() -> None:
    assert agrees(230, 230.4) and agrees(49.87, 49.8735) and agrees(62302, 62301)
    assert not agrees(74, 84) and not agrees(0.5, 0.56) and not agrees(1.2346, 1.2)


def test_given_long_chain_when_evaluated_then_left_to_right_as_excel() -> None:
    # Given 300 cells holding 0.1, 0.2, ... and a chain that adds them, then subtracts and divides
    cells = {(row, 1): Cell(row, 1, None, row / 10) for row in range(1, 301)}
    chain = "=" + "+".join(f"A{row}" for row in range(1, 301)) + "-A1/A2*A3"
    # When evaluated / Then the value of adding them one by one in order, as Excel does (floats included)
    expected = 0.0
    for row in range(1, 301):
        expected += row / 10
    expected -= 0.1 / 0.2 * 0.3
    assert evaluate(parse(chain), cells, _local) == expected
