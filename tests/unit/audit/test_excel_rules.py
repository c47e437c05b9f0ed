"""Excel's own error-checking rules: FX28 (omitted adjacent cells), FX36 (error results and their
chains), FX37 (numbers stored as text), FX38 (two-digit years in text dates)."""

from __future__ import annotations

import pytest
from sheetbrain.audit import PolicyProfile, Sheet, audit_sheet


def _grid(cells: dict[str, tuple[str | None, object]], rows: int, cols: int) -> Sheet:
    # Cells by A1 address -> (formula or None, cached value), in a sheet "Q3" anchored at A1.
    formulas: list[list[str | None]] = [[None] * cols for _ in range(rows)]
    values: list[list[object]] = [[None] * cols for _ in range(rows)]
    for address, (formula, value) in cells.items():
        col, row = ord(address[0]) - 64, int(address[1:])
        formulas[row - 1][col - 1] = formula
        values[row - 1][col - 1] = value
    return Sheet("Q3", formulas, values, "A1")


def _found(sheet: Sheet, rule: str) -> list[tuple[str | None, str, str, str | None]]:
    return [(f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule == rule]


# --- FX28: a total that omits adjacent formulas ---------------------------------------------------


def _line_items(total: str, row10: tuple[str | None, object] | None = None) -> Sheet:
    # Quantities in A, prices in B, C2:C10 = A*B, and a totals row at C11.
    cells: dict[str, tuple[str | None, object]] = {}
    for r in range(2, 11):
        cells[f"A{r}"] = (None, r)
        cells[f"B{r}"] = (None, 10)
        cells[f"C{r}"] = (f"=A{r}*B{r}", r * 10)
    if row10 is not None:
        cells["C10"] = row10
    cells["C11"] = (total, 0)
    return _grid(cells, 11, 3)


def test_given_a_total_that_omits_adjacent_formulas_when_audited_then_flagged_high() -> None:
    # Given =SUM(C2:C9) at C11 under formulas in C2:C10
    sheet = _line_items("=SUM(C2:C9)")
    # When audited / Then the total is flagged high, its fix reaching C10
    assert _found(sheet, "FX28") == [("Q3!C11", "high", "C2:C9 stops before the formulas in C10", "=SUM(C2:C10)")]


def test_given_a_total_over_all_the_formulas_when_audited_then_no_fx28() -> None:
    assert _found(_line_items("=SUM(C2:C10)"), "FX28") == []


@pytest.mark.parametrize(
    ("total", "row10"),
    [
        ("=SUM(C2:C9)", ("=AVERAGE(C2:C9)", 45)),  # the skipped formula is derived from the range
        ("=SUM(C2:C9)-C10", None),  # the formula reads the skipped cell on its own
        ("=SUM(C2:C9)", ('=IF(A10>0,"","x")', "")),  # the skipped formula shows text: nothing to add
        ("=SUM(C2:C9)", ("=A10*B10", "#VALUE!")),  # ... or an error
    ],
)
def test_given_a_skipped_formula_left_out_on_purpose_when_audited_then_no_fx28(
    total: str, row10: tuple[str | None, object] | None
) -> None:
    assert _found(_line_items(total, row10), "FX28") == []


def test_given_numbers_and_formulas_skipped_when_max_gap_allows_then_both_named() -> None:
    # Given a total of C2:C8 with a typed number in C9 and a formula in C10 below its range
    sheet = _line_items("=SUM(C2:C8)", None)
    sheet.formulas[8][2], sheet.values[8][2] = None, 90
    # When audited with max_gap 2 / Then both skipped cells are named
    wide = PolicyProfile(parameters={"FX28": {"max_gap": 2}})
    found = [(f.cell, f.message, f.suggestion) for f in audit_sheet(sheet, wide) if f.rule == "FX28"]
    assert found == [("Q3!C11", "C2:C8 stops before the numbers and formulas in C9:C10", "=SUM(C2:C10)")]
