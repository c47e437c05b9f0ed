"""Region breaks are about the cells a formula reads, not its ``$`` signs: a formula that reads what
its region's copy would read there is no break; a relative reference through which a clear majority
of the copies read one cell stands for that cell, so the copy reading another is the slip, and the
copy suggested keeps the cell."""

from __future__ import annotations

import pytest
from sheetbrain.engine import Sheet, audit_sheet
from sheetbrain.engine.regions import pinned_cells, resolved

REGION_RULES = ("FX30", "FX31", "FX33")


def _ratios(c5: str, copies: dict[int, str] | None = None) -> Sheet:
    # Given amounts in B5:B8, a rate in C10, and C5:C8 dividing each amount by the rate; the copies
    # C6:C8 read C10 by relative references (typed one by one, so each points at C10)
    formulas: list[list[str | None]] = [[None, None, None] for _ in range(10)]
    values: list[list[object]] = [[None, None, None] for _ in range(10)]
    for row in range(5, 9):
        values[row - 1][1] = 100 * row
    values[9][2] = 4
    formulas[4][2] = c5
    for row in (6, 7, 8):
        formulas[row - 1][2] = (copies or {}).get(row, f"=B{row}/C10")
    return Sheet("S", formulas, values, "A1")


def _region_findings(sheet: Sheet) -> list[tuple[str, str | None, str, str, str | None]]:
    return [(f.rule, f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule in REGION_RULES]


def test_given_the_first_copy_pins_the_rate_with_a_dollar_when_audited_then_no_break() -> None:
    # When C5 reads the same C10 as C$10
    # Then nothing is reported: it reads what the region's copy would read there
    assert _region_findings(_ratios("=B5/C$10")) == []


def test_given_the_first_copy_reads_the_row_above_the_rate_when_audited_then_the_suggestion_keeps_the_rate() -> None:
    # When C5 reads C$9 instead
    # Then it is a lone break, and the copy suggested reads C10 (every copy's cell), not C9
    assert _region_findings(_ratios("=B5/C$9")) == [
        (
            "FX30",
            "S!C5",
            "high",
            "formula differs from its column region like C6 (=B6/C10) (the only cell of the run that breaks it)",
            "=B5/C10",
        )
    ]


@pytest.mark.parametrize(
    ("c5", "copies", "cell", "example", "suggestion"),
    [
        # the first copy reads the row above the rate, relatively, like the others
        ("=B5/C9", None, "S!C5", "C6 (=B6/C10)", "=B5/C10"),
        # a copy in the middle reads the row above the rate
        ("=B5/C10", {7: "=B7/C9"}, "S!C7", "C5 (=B5/C10)", "=B7/C10"),
    ],
)
def test_given_three_of_four_copies_pointing_at_the_rate_when_audited_then_the_fourth_is_the_slip(
    c5: str, copies: dict[int, str] | None, cell: str, example: str, suggestion: str
) -> None:
    # When three of the four copies point at C10 (a clear majority) and one at C9
    # Then the one is a lone break, and its copy reads C10
    assert _region_findings(_ratios(c5, copies)) == [
        (
            "FX30",
            cell,
            "high",
            f"formula differs from its column region like {example} (the only cell of the run that breaks it)",
            suggestion,
        )
    ]


def test_given_copies_pointing_at_two_cells_half_and_half_when_audited_then_no_break() -> None:
    # When C5:C6 point at C9 and C7:C8 at C10 (no clear majority: two blocks, each its own rate)
    # Then no copy is singled out
    assert _region_findings(_ratios("=B5/C9", {6: "=B6/C9"})) == []


def test_given_one_copy_inside_the_region_written_with_a_dollar_when_audited_then_no_break() -> None:
    # Given eight copies of =B*C down D1:D8, D4 written =B4*$C4 (the same cells)
    formulas: list[list[str | None]] = [[None, None, None, f"=B{r}*C{r}"] for r in range(1, 9)]
    formulas[3][3] = "=B4*$C4"
    values: list[list[object]] = [[f"item {r}", r, 10 * r, None] for r in range(1, 9)]
    # When audited / Then nothing is reported
    assert _region_findings(Sheet("Q3", formulas, values, "A1")) == []


def test_given_one_copy_inside_the_region_reading_another_cell_with_a_dollar_when_audited_then_high() -> None:
    # Given the same column with D4 written =B4*$C5 (the row below)
    formulas: list[list[str | None]] = [[None, None, None, f"=B{r}*C{r}"] for r in range(1, 9)]
    formulas[3][3] = "=B4*$C5"
    values: list[list[object]] = [[f"item {r}", r, 10 * r, None] for r in range(1, 9)]
    # When audited / Then D4 alone is a break, with the copy that belongs there
    assert [
        (rule, cell, severity, suggestion)
        for rule, cell, severity, _, suggestion in _region_findings(Sheet("Q3", formulas, values, "A1"))
    ] == [("FX30", "Q3!D4", "high", "=B4*C4")]


def test_resolved_writes_each_cell_address_as_the_cell_it_reads() -> None:
    # At row 6, column 3: relative, absolute and mixed addresses, a range, and a function name
    # holding the letters R and C (SEARCH) that is no address
    assert resolved("RC[-1]/R[4]C", 6, 3) == "R6C2/R10C3"
    assert resolved("RC[-1]/R10C", 6, 3) == "R6C2/R10C3"
    assert resolved("SUM(R[-3]C:R[-1]C)+R1C1", 6, 3) == "SUM(R3C3:R5C3)+R1C1"
    assert resolved('SEARCH("x",RC[-2])', 6, 3) == 'SEARCH("x",R6C1)'


def test_pinned_cells_are_the_absolute_cells_of_the_region_that_the_copy_reads_relatively() -> None:
    # The region's pattern pins R10C3; a copy as written reads it as R[4]C (from row 6)
    assert pinned_cells("RC[-1]/R[4]C", "RC[-1]/R10C3") == {(10, 3)}
    # A copy that already writes the cell absolutely, or patterns of different shapes, pin nothing
    assert pinned_cells("RC[-1]/R10C3", "RC[-1]/R10C3") == set()
    assert pinned_cells("RC[-1]", "RC[-1]/R10C3") == set()
    # An address of the region that is relative on either part is not pinned
    assert pinned_cells("RC[-1]/R[4]C", "RC[-1]/R[3]C") == set()
    assert pinned_cells("RC[-1]/R[4]C[1]", "RC[-1]/R[4]C3") == set()
    assert pinned_cells("RC[-1]/R[4]C[1]", "RC[-1]/R10C[1]") == set()


def test_given_copies_pointing_at_two_rates_when_one_slips_then_both_rates_stay_in_its_copy() -> None:
    # Given amounts in B5:B9, rates in C20 and D21, and C5:C9 = amount / C20 * D21 typed copy by
    # copy (relative references of different lengths: R[15]C from row 5, R[11]C from row 9), C7
    # reading C19 instead of C20
    formulas: list[list[str | None]] = [[None, None, None, None] for _ in range(21)]
    values: list[list[object]] = [[None, None, None, None] for _ in range(21)]
    for row in range(5, 10):
        values[row - 1][1] = 100 * row
        formulas[row - 1][2] = f"=B{row}/C20*D21"
    formulas[6][2] = "=B7/C19*D21"
    values[19][2], values[20][3] = 4, 2
    # When audited / Then C7 alone is the slip, and its copy reads both rates
    assert [
        (rule, cell, severity, suggestion)
        for rule, cell, severity, _, suggestion in _region_findings(Sheet("S", formulas, values, "A1"))
    ] == [("FX30", "S!C7", "high", "=B7/C20*D21")]
