"""Sheet checks on small grids built here, with exact cells, messages, suggestions and severities.

Each test names one behaviour of a sheet check (layers/shared/sheetbrain/engine/checks/sheet.py):
where a finding lands, what it says, what it stops on, and where its work budget runs out. The grids
are a few cells, so the file is fast enough for the mutation run (every mutant runs these).
"""

from __future__ import annotations

import pytest
from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet
from sheetbrain.engine.refs import a1

from tests.unit.audit.grids import Row, audited, grid

# --- FX27: references to empty cells -------------------------------------------------------------


def test_given_a_formula_reading_seven_empty_cells_when_audited_then_the_first_five_are_named() -> None:
    # Given H1 adding A1..G1, all empty
    sheet = Sheet("S", [[None] * 7 + ["=A1+B1+C1+D1+E1+F1+G1"]])
    # When audited / Then one finding names the first five, with the fix to make
    assert audited(sheet, "FX27") == [
        (
            "S!H1",
            "FX27",
            "medium",
            "reads empty cell(s) A1, B1, C1, D1, E1",
            "point the reference at the intended input",
        )
    ]


# --- FX32: the same absolute computation in several cells -----------------------------------------


def test_given_absolute_formulas_repeated_when_audited_then_each_later_copy_names_the_first() -> None:
    # Given =$B$1*2 three times (A1, A2, A6), =$A$9 three times (A3-A5), =$B$2 twice, and relative or
    # half-absolute formulas (=C1, =$C1) three times each
    column = ["=$B$1*2", "=$B$1*2", "=$A$9", "=$A$9", "=$A$9", "=$B$1*2", "=C1", "=C1", "=C1"]
    column += ["=$C1", "=$C1", "=$C1", "=$B$2", "=$B$2"]
    sheet = Sheet("S", [[text] for text in column])
    # When audited
    found = audited(sheet, "FX32")
    # Then each absolute computation seen three times is reported on its later copies (in cell order),
    # pointing at the first; two copies (=$B$2, below min_copies) and formulas that move when copied are not
    assert found == [
        ("S!A2", "FX32", "info", "same formula as A1 (3 copies)", "=A1"),
        ("S!A4", "FX32", "info", "same formula as A3 (3 copies)", "=A3"),
        ("S!A5", "FX32", "info", "same formula as A3 (3 copies)", "=A3"),
        ("S!A6", "FX32", "info", "same formula as A1 (3 copies)", "=A1"),
    ]


def test_given_a_rarer_absolute_formula_sorting_first_when_audited_then_later_ones_are_still_reported() -> None:
    # Given =$A$1 twice (below min_copies, and first in text order) and =$B$1 three times
    sheet = Sheet("S", [["=$A$1"], ["=$A$1"], ["=$B$1"], ["=$B$1"], ["=$B$1"]])
    # When audited / Then =$B$1's copies are reported
    assert [row[0] for row in audited(sheet, "FX32")] == ["S!A4", "S!A5"]


def test_given_fx32_on_a_small_budget_when_audited_then_it_stops_after_one_unit_a_formula() -> None:
    # Given twelve formula cells and a budget of 5 units: FX32 spends one unit per formula cell
    sheet = Sheet("S", [["=$B$1"]] * 12)
    # When audited
    found = audited(sheet, "FX32", work_budget=5)
    # Then it stops on the sixth cell, having read five, and found nothing yet (copies are counted first)
    assert found == [
        (
            "S!A6",
            "FX90",
            "info",
            "FX32 stopped at its work budget (5 units) after 5 of 12 formula cells: from S!A6 on "
            "(rows 6-12 of S) not checked for duplicated formula",
            "audit the rest of the sheet as a smaller range",
        )
    ]


# --- FX29: subtotals counted twice -----------------------------------------------------------------

_TWICE = "add the detail rows or the subtotals, not both"


def test_given_sums_of_20000_and_20001_cells_when_audited_then_only_the_first_is_asked() -> None:
    # Given details in C1:C2 and their subtotal in C3, a SUM over C1:C20000 (20,000 cells, the most
    # read), one over C1:C20001 and one over C1:D10001 (20,002 cells)
    sheet = grid(
        {
            (1, 1): "=SUM(C1:C20000)",
            (2, 1): "=SUM(C1:C20001)",
            (3, 1): "=SUM(C1:D10001)",
            (1, 3): 1,
            (2, 3): 2,
            (3, 3): "=SUM(C1:C2)",
        }
    )
    # When audited / Then the SUM of 20,000 cells is reported; the larger ones are not read
    assert audited(sheet, "FX29") == [
        ("S!A1", "FX29", "high", "C1:C20000 includes the subtotal C3 and the cells it adds", _TWICE)
    ]


def test_given_whole_column_and_whole_row_sums_over_subtotals_when_audited_then_both_reported() -> None:
    # Given a subtotal C1 of A1:B1 and a subtotal A4 of A2:A3, a total of row 1 in C5 (=SUM(1:1), below
    # the row it adds) and of column A in B4 (=SUM(A:A))
    sheet = grid(
        {
            (1, 1): 1,
            (1, 2): 2,
            (1, 3): "=SUM(A1:B1)",
            (2, 1): 3,
            (3, 1): 4,
            (4, 1): "=SUM(A2:A3)",
            (4, 2): "=SUM(A:A)",
            (5, 3): "=SUM(1:1)",
        }
    )
    # When audited / Then each is clipped to the sheet's extent and holds a subtotal with its range
    assert audited(sheet, "FX29") == [
        ("S!B4", "FX29", "high", "A:A includes the subtotal A4 and the cells it adds", _TWICE),
        ("S!C5", "FX29", "high", "1:1 includes the subtotal C1 and the cells it adds", _TWICE),
    ]


def test_given_a_cell_with_two_offending_ranges_when_audited_then_one_finding_and_the_next_cell_too() -> None:
    # Given details A1:A2, a SUBTOTAL of them in A3, B1 adding A1:A3 twice, B2 adding it once and B3
    # averaging it (not a total)
    sheet = grid(
        {
            (1, 1): 1,
            (2, 1): 2,
            (3, 1): "=SUBTOTAL(9,A1:A2)",
            (1, 2): "=SUM(A1:A3)+SUM(A1:A3)",
            (2, 2): "=SUM(A1:A3)",
            (3, 2): "=AVERAGE(A1:A3)",
        }
    )
    # When audited / Then B1 is reported once, B2 too, and the average is no double count
    assert audited(sheet, "FX29") == [
        ("S!B1", "FX29", "high", "A1:A3 includes the subtotal A3 and the cells it adds", _TWICE),
        ("S!B2", "FX29", "high", "A1:A3 includes the subtotal A3 and the cells it adds", _TWICE),
    ]


def test_given_two_subtotals_of_the_same_box_when_audited_then_the_one_lower_down_is_named() -> None:
    # Given A1 = SUM(A2:A3) and A3 = SUM(A1:A2), both spanning A1:A3, and A4 = SUM(A1:A3)
    sheet = grid({(1, 1): "=SUM(A2:A3)", (2, 1): 2, (3, 1): "=SUM(A1:A2)", (4, 1): "=SUM(A1:A3)"})
    # When audited / Then A4 names A3 (of equal boxes, the later cell is the one kept first)
    assert audited(sheet, "FX29") == [
        ("S!A4", "FX29", "high", "A1:A3 includes the subtotal A3 and the cells it adds", _TWICE)
    ]


def test_given_fx29_on_a_small_budget_when_audited_then_it_stops_on_the_sum_asking() -> None:
    # Given ten SUMs down column B, each over A1:A3 where A3 subtotals A1:A2, and a budget of 26 units:
    # reading the 11 formulas' ranges costs 2 units each (22), then each SUM spends one unit per
    # group of subtotal columns it asks about (one group here: column A), in cell order B1, B2, A3, B3
    cells: dict[tuple[int, int], object] = {(1, 1): 1, (2, 1): 2, (3, 1): "=SUM(A1:A2)"}
    cells.update({(r, 2): "=SUM(A1:A3)" for r in range(1, 11)})
    # When audited
    found = audited(grid(cells), "FX29", work_budget=26)
    # Then three SUMs are reported and the stop names the fourth, B4
    assert [row[:2] for row in found] == [("S!B1", "FX29"), ("S!B2", "FX29"), ("S!B3", "FX29"), ("S!B4", "FX90")]
    assert found[-1][3] == (
        "FX29 stopped at its work budget (26 units) after 4 of 11 formula cells: from S!B4 on "
        "(rows 4-10 of S) not checked for subtotal counted twice"
    )


# --- FX39: a total that adds the totals beside it, not its own figures ---------------------------

_OWN = {(1, 5): 7, (2, 5): 8, (3, 5): 9}  # figures in E1:E3 that are not the sums of their rows


def _totals_row(own: dict[tuple[int, int], object], rows: int = 3) -> Sheet:
    # Figures in C1:D<rows>, column totals of them in the row below, and E adding those totals
    # across; ``own`` fills column E above the totals row (or changes any cell).
    total = rows + 1
    cells: dict[tuple[int, int], object] = {(r, c): 10 * r + c for r in range(1, total) for c in (3, 4)}
    cells.update(
        {(total, 3): f"=SUM(C1:C{rows})", (total, 4): f"=SUM(D1:D{rows})", (total, 5): f"=SUM(C{total}:D{total})"}
    )
    cells.update(own)
    return grid(cells)


def _fx39(cell: str, line: str, box: str, figures: int, own: str, suggestion: str) -> Row:
    kind, where = ("row", "column") if line == "row" else ("column", "row")
    return (
        f"S!{cell}",
        "FX39",
        "high",
        f"adds the totals {box} across its {kind}, but its own {where} holds {figures} typed figures in {own}, "
        "which it leaves out",
        suggestion,
    )


@pytest.mark.parametrize(
    ("extra", "figures"),
    [
        ({}, 3),
        # formulas that are no line total (=E1*2, a block sum) come first in reading order
        ({(1, 6): "=E1*2", (2, 6): "=SUM(C1:D2)"}, 3),
        # a label among the totals it adds
        ({(4, 5): "=SUM(B4:D4)", (4, 2): "Total"}, 3),
        # two figures are a column of them
        ({(3, 5): None}, 2),
    ],
    ids=["figures", "other formulas first", "a label among the totals", "two figures"],
)
def test_given_a_totals_row_whose_last_cell_adds_the_totals_over_a_column_of_figures_then_high(
    extra: dict[tuple[int, int], object], figures: int
) -> None:
    # Given E4 adding C4:D4 (or B4:D4) while E1:E3 hold figures
    sheet = _totals_row({**_OWN, **extra})
    box = "B4:D4" if (4, 2) in extra else "C4:D4"
    # When audited / Then E4 is reported, with the column total its neighbours would have written
    assert audited(sheet, "FX39") == [_fx39("E4", "row", box, figures, "E1:E3", "=SUM(E1:E3)")]


def test_given_column_totals_of_other_spans_when_audited_then_the_nearest_one_is_the_suggestion() -> None:
    # Given C4 adding C2:C3 only, D4 adding D1:D3
    sheet = _totals_row({**_OWN, (4, 3): "=SUM(C2:C3)"})
    # When audited / Then the figures are counted over both spans, and D4's copy is suggested
    assert audited(sheet, "FX39") == [_fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUM(E1:E3)")]
    sheet = _totals_row({**_OWN, (4, 4): "=SUM(D2:D3)"})
    assert audited(sheet, "FX39") == [_fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUM(E2:E3)")]


def test_given_a_totals_row_under_a_tall_table_when_audited_then_every_figure_is_counted() -> None:
    # Given eight rows of figures (more than the sheet has columns) and the totals in row 9
    own: dict[tuple[int, int], object] = {(r, 5): r for r in range(1, 9)}
    # When audited / Then all eight figures of E1:E8 are named
    assert audited(_totals_row(own, rows=8), "FX39") == [_fx39("E9", "row", "C9:D9", 8, "E1:E8", "=SUM(E1:E8)")]


def test_given_subtotal_functions_when_audited_then_they_are_totals_too() -> None:
    # Given the totals row written with SUBTOTAL(9, ...)
    sheet = _totals_row(
        {**_OWN, (4, 3): "=SUBTOTAL(9,C1:C3)", (4, 4): "=SUBTOTAL(9,D1:D3)", (4, 5): "=SUBTOTAL(9,C4:D4)"}
    )
    # When audited / Then E4 is reported with the SUBTOTAL its neighbours would have written
    assert audited(sheet, "FX39") == [_fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUBTOTAL(9,E1:E3)")]


def _row_totals(extra: dict[tuple[int, int], object]) -> Sheet:
    # Figures in A1:C3, row totals D1 and D2 of their rows, and D3 adding D1:D2 while row 3 holds figures
    cells: dict[tuple[int, int], object] = {(r, c): 10 * r + 3 * c for r in (1, 2, 3) for c in (1, 2, 3)}
    cells.update({(1, 4): "=SUM(A1:C1)", (2, 4): "=SUM(A2:C2)", (3, 4): "=SUM(D1:D2)"})
    cells.update(extra)
    return grid(cells)


def test_given_a_column_of_row_totals_whose_last_cell_adds_the_totals_above_then_high() -> None:
    # When audited / Then D3 is reported, with the row total its neighbours would have written
    assert audited(_row_totals({}), "FX39") == [_fx39("D3", "column", "D1:D2", 3, "A3:C3", "=SUM(A3:C3)")]
    # And with row totals of other spans (D1 adds B1:C1), D2's is the one suggested
    found = audited(_row_totals({(1, 4): "=SUM(B1:C1)"}), "FX39")
    assert found == [_fx39("D3", "column", "D1:D2", 3, "A3:C3", "=SUM(A3:C3)")]
    found = audited(_row_totals({(2, 4): "=SUM(B2:C2)"}), "FX39")
    assert found == [_fx39("D3", "column", "D1:D2", 3, "A3:C3", "=SUM(B3:C3)")]


def test_given_typed_column_totals_under_the_row_totals_when_the_last_adds_them_then_quiet() -> None:
    # Given A3 typed 36, the sum of A1:A2 (13 + 23): row 3 holds the columns' totals, typed
    assert audited(_row_totals({(3, 1): 36}), "FX39") == []


def test_given_two_tables_one_above_the_other_when_both_totals_rows_add_across_then_each_is_read_on_its_own_row() -> (
    None
):
    # Given the totals row of rows 1-3 in row 4, and a second table: figures in rows 6-8, its
    # column totals in C9:D9 and E9 adding them across, over figures E6:E8
    cells: dict[tuple[int, int], object] = {(r, c): 10 * r + c for r in (6, 7, 8) for c in (3, 4)}
    cells.update({(9, 3): "=SUM(C6:C8)", (9, 4): "=SUM(D6:D8)", (9, 5): "=SUM(C9:D9)", (6, 5): 1, (7, 5): 2, (8, 5): 3})
    sheet = _totals_row({**_OWN, **cells})
    # When audited / Then each total names its own table's figures
    assert audited(sheet, "FX39") == [
        _fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUM(E1:E3)"),
        _fx39("E9", "row", "C9:D9", 3, "E6:E8", "=SUM(E6:E8)"),
    ]


def test_given_a_row_total_that_adds_a_block_when_audited_then_the_column_is_no_line_of_totals() -> None:
    # Given D2 adding A1:C2 (a block, not its row)
    assert audited(_row_totals({(2, 4): "=SUM(A1:C2)"}), "FX39") == []


def test_given_a_figure_of_400_digits_when_audited_then_it_is_counted_and_compared_with_nothing() -> None:
    # Given E1 holding an integer no float can hold (the request accepts any JSON number)
    sheet = _totals_row({(1, 5): 10**400, (2, 5): 8, (3, 5): 9})
    # When audited / Then no crash: the figure is one of the three left out, and equals no row sum
    assert audited(sheet, "FX39") == [_fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUM(E1:E3)")]


_TYPED_ROW_TOTALS = {(1, 5): 27, (2, 5): 47, (3, 5): 67}  # C+D of rows 1-3: 13+14, 23+24, 33+34


@pytest.mark.parametrize(
    "totals",
    [
        # typed row totals under SUBTOTAL(9, ...): the same sums as SUM's
        {(4, 3): "=SUBTOTAL(9,C1:C3)", (4, 4): "=SUBTOTAL(9,D1:D3)", (4, 5): "=SUBTOTAL(9,C4:D4)"},
        # typed row totals, E4 written with its row fixed ($): the figures' rows are summed, not copied
        {(4, 5): "=SUM(C$4:D$4)"},
    ],
    ids=["SUBTOTAL", "rows fixed with $"],
)
def test_given_typed_row_totals_when_the_totals_row_adds_across_then_quiet(
    totals: dict[tuple[int, int], object],
) -> None:
    assert audited(_totals_row({**_TYPED_ROW_TOTALS, **totals}), "FX39") == []


@pytest.mark.parametrize(
    ("beside", "own"),
    [
        ("SUBTOTAL(1,{0})", "SUBTOTAL(9,C4:D4)"),  # averages beside a sum: no line of totals
        ("SUBTOTAL(109,{0})", "SUBTOTAL(9,C4:D4)"),  # sums without hidden rows beside sums with them
        ("SUBTOTAL(9,{0})", "SUM(C4:D4)"),  # a SUM across SUBTOTALs: another kind of total
        ("AVERAGE({0})", "AVERAGE(C4:D4)"),  # averages are no totals
        ("SUBTOTAL(9,{0})", "MAX(9,C4:D4)"),  # a 9 first does not make another function a SUBTOTAL
    ],
    ids=["SUBTOTAL 1 and 9", "SUBTOTAL 109 and 9", "SUBTOTAL and SUM", "AVERAGE", "MAX of 9"],
)
def test_given_totals_of_another_kind_beside_it_when_audited_then_quiet(beside: str, own: str) -> None:
    sheet = _totals_row(
        {**_OWN, (4, 3): "=" + beside.format("C1:C3"), (4, 4): "=" + beside.format("D1:D3"), (4, 5): "=" + own}
    )
    assert audited(sheet, "FX39") == []


def test_given_subtotal_109_totals_when_one_adds_them_across_then_its_subtotal_is_suggested() -> None:
    sheet = _totals_row(
        {**_OWN, (4, 3): "=SUBTOTAL(109,C1:C3)", (4, 4): "=SUBTOTAL(109,D1:D3)", (4, 5): "=SUBTOTAL(109,C4:D4)"}
    )
    assert audited(sheet, "FX39") == [_fx39("E4", "row", "C4:D4", 3, "E1:E3", "=SUBTOTAL(109,E1:E3)")]


_BUDGET_STOP = (
    "S!E4",
    "FX90",
    "info",
    "FX39 stopped at its work budget ({} units) after 2 of 3 formula cells: from S!E4 on (row 4 of S) "
    "not checked for total adds the totals beside it, not its own figures",
    "audit the rest of the sheet as a smaller range",
)


@pytest.mark.parametrize("budget", [11, 20, 27])
def test_given_the_totals_row_on_a_budget_short_of_its_units_when_audited_then_the_stop_names_the_total(
    budget: int,
) -> None:
    # Given the totals row, which FX39 reads in 28 units: C4 and D4 4 each (C1 and D1 end their
    # walks), E4 20 (the totals C4:D4 read, E1:E3 walked, the three figures' rows summed). A budget
    # of 11 runs out in the walk along C4:D4, one of 20 in the walk down column E, 27 in the last row
    sheet = _totals_row(_OWN)
    # When audited / Then the check stops on E4 and says so; with 28 units it reports E4
    stop = (*_BUDGET_STOP[:3], _BUDGET_STOP[3].format(budget), *_BUDGET_STOP[4:])
    assert audited(sheet, "FX39", work_budget=budget) == [stop]
    assert [row[:2] for row in audited(sheet, "FX39", work_budget=28)] == [("S!E4", "FX39")]


def test_given_a_total_across_to_the_last_column_of_the_sheet_when_audited_then_only_the_data_is_walked() -> None:
    # Given figures in A1:C3, column totals B5 and C5, and A5 adding B5:XFD5 (16,383 cells wide)
    cells: dict[tuple[int, int], object] = {(r, c): 10 * r + c for r in (1, 2, 3) for c in (1, 2, 3)}
    cells.update({(5, 2): "=SUM(B1:B4)", (5, 3): "=SUM(C1:C4)", (5, 1): "=SUM(B5:XFD5)"})
    # When audited on a budget of 40 units / Then A5 is reported: the walk stopped at column C
    assert audited(grid(cells), "FX39", work_budget=40) == [_fx39("A5", "row", "B5:XFD5", 3, "A1:A4", "=SUM(A1:A4)")]
    # And a figure past the fifth column (more columns than rows) still ends the walk: no totals row
    cells.update({(r, c): r for r in (1, 2, 3) for c in (4, 5, 6)})
    cells.update({(5, 4): "=SUM(D1:D4)", (5, 5): "=SUM(E1:E4)", (5, 6): 6})
    assert audited(grid(cells), "FX39") == []


@pytest.mark.parametrize(
    "own",
    [
        # a column of row totals, computed: adding the totals across gives the grand total
        {(1, 5): "=SUM(C1:D1)", (2, 5): "=SUM(C2:D2)", (3, 5): "=SUM(C3:D3)"},
        # typed row totals: the first one equals the sum of its row (C1 + D1 = 13 + 14)
        {(1, 5): 27, (2, 5): 8, (3, 5): 9},
        # nothing above the total: a total column that starts at the totals row
        {},
        # a single figure: no column of figures to leave out
        {(2, 5): 8},
        # the first figure is its row's total, read past a label in the row (C1): a total column
        {(1, 3): "n/a", (1, 5): 14, (2, 5): 8, (3, 5): 9},
    ],
    ids=["computed row totals", "typed row totals", "nothing above", "one figure", "a label in a row"],
)
def test_given_a_total_across_over_a_total_column_when_audited_then_quiet(own: dict[tuple[int, int], object]) -> None:
    # Given the totals row with column E as ``own`` says / When audited / Then no FX39
    assert audited(_totals_row(own), "FX39") == []


@pytest.mark.parametrize(
    "change",
    [
        {(4, 4): "=AVERAGE(D1:D3)"},  # the totals beside it are of another function
        {(4, 4): 75},  # one of them is typed, not a total
        {(4, 4): "=SUM(D1:D6)"},  # one of them reads past the totals row
        {(4, 4): "=SUM(C1:D3)"},  # one of them adds a block, not its column
        {(4, 3): None, (4, 5): "=SUM(D4:D4)"},  # one total beside it: no line of totals
        {(4, 5): "=SUM(C3:D4)"},  # it adds a block (the last figures and the totals)
    ],
    ids=["another function", "a typed neighbour", "a neighbour past the row", "a block", "one total", "adds a block"],
)
def test_given_no_line_of_column_totals_beside_it_then_quiet(change: dict[tuple[int, int], object]) -> None:
    # Given column E holding figures, and the totals beside E4 changed as ``change`` says
    sheet = _totals_row({**_OWN, **change})
    # When audited / Then no FX39
    assert audited(sheet, "FX39") == []


def test_given_a_block_total_beside_a_column_of_row_totals_when_audited_then_quiet() -> None:
    # Given row totals in E1:E3, figures in C4:D4, and E4 adding the block C1:D3 (a grand total)
    cells: dict[tuple[int, int], object] = {(r, c): 10 * r + c for r in (1, 2, 3, 4) for c in (3, 4)}
    cells.update({(r, 5): f"=SUM(C{r}:D{r})" for r in (1, 2, 3)})
    cells[(4, 5)] = "=SUM(C1:D3)"
    # When audited / Then no FX39: a block is neither a row nor a column of totals
    assert audited(grid(cells), "FX39") == []


# --- FX35: a total that starts on a heading line and sweeps several sections -----------------------
#
# The tables below are written along a line ``i`` (the direction totalled) and across it ``j``; down
# columns (i = row) or, turned, along rows (i = column). A total at i = 8 adds i = 1..7 of its line:
# i = 1, 4 and 6 are heading lines (empty across the table), i = 2-3, 5 and 7 hold figures (three
# sections). Tables span j = 3..5 unless a test says otherwise.

_SECTION_ADVICE = "total each section, then add the section totals"


def _at(i: int, j: int, down: bool) -> tuple[int, int]:
    return (i, j) if down else (j, i)


def _line(j: int, first: int, last: int, down: bool) -> str:
    # The reference to i = first..last of line j.
    return f"{a1(*_at(first, j, down))}:{a1(*_at(last, j, down))}"


def _sectioned(down: bool, extra: dict[tuple[int, int], object], totals: tuple[int, ...] = (4, 5)) -> Sheet:
    # Figures at i = 2, 3, 5, 7 of lines j = 3..5, totals =SUM(i 1..7) at i = 8 of the ``totals``
    # lines, then ``extra`` {(i, j): item}; a number at i = 8 is a typed total.
    cells: dict[tuple[int, int], object] = {}
    for j in (3, 4, 5):
        for i in (2, 3, 5, 7):
            cells[_at(i, j, down)] = 10 * i + j
    for j in totals:
        cells[_at(8, j, down)] = f"=SUM({_line(j, 1, 7, down)})"
    for (i, j), item in extra.items():
        cells[_at(i, j, down)] = item
    return grid(cells)


def _cells_flagged(sheet: Sheet, rule: str) -> list[str | None]:
    return [row[0] for row in audited(sheet, rule)]


def test_given_totals_down_columns_across_three_sections_when_audited_then_exact_advice() -> None:
    # Given the table down columns, C8 typed and D8, E8 totals from the heading line
    found = audited(_sectioned(True, {(8, 3): 5}), "FX35")
    # When audited / Then both totals get the advice, with the number of sections
    assert found == [
        ("S!D8", "FX35", "medium", "D1:D7 starts on a heading line and adds 3 sections of the table", _SECTION_ADVICE),
        ("S!E8", "FX35", "medium", "E1:E7 starts on a heading line and adds 3 sections of the table", _SECTION_ADVICE),
    ]


def test_given_totals_along_rows_across_three_sections_when_audited_then_exact_advice() -> None:
    # Given the same table turned: figures along rows 3-5, H3 typed and H4, H5 totals from column A
    found = audited(_sectioned(False, {(8, 3): 5}), "FX35")
    # When audited / Then both totals get the advice
    assert found == [
        ("S!H4", "FX35", "medium", "A4:G4 starts on a heading line and adds 3 sections of the table", _SECTION_ADVICE),
        ("S!H5", "FX35", "medium", "A5:G5 starts on a heading line and adds 3 sections of the table", _SECTION_ADVICE),
    ]


_DISTRACTORS: dict[tuple[int, int], object] = {
    # Formulas on the heading line i = 1, beside the table (j = 7..12), that FX35 passes over: no
    # aggregate, two ranges, a whole column, a range that opens on a filled cell (K2), a range of
    # another line.
    (1, 7): "=1+1",
    (1, 8): "=SUM(K2,K3)",
    (1, 9): "=SUM(K:K)",
    (1, 10): "=SUM(K2:K3)",
    (2, 11): 1,
    (3, 11): 2,
    # a range of another line opening on an empty cell (M2:M3): neither down nor along its own line
    (1, 12): "=SUM(M2:M3)",
}


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
@pytest.mark.parametrize(
    ("extra", "flagged"),
    [
        # Formulas FX35 passes over, before the totals in cell order: both totals still advised
        (_DISTRACTORS, [(8, 4), (8, 5)]),
        # A figure on heading line i = 4 of line 5: line 4's total meets it across its gap (no sweep);
        # in line 5 itself it joins the figures around it (i = 2..5), which leaves two sections
        ({(8, 3): 5, (4, 5): 9}, [(8, 5)]),
        # A figure on a heading line beside the table, past a label on the totals line (j = 2): the
        # totals line's run stops at the label, so that figure is outside the table
        ({(8, 3): 5, (8, 1): 7, (8, 2): "x", (4, 2): 9}, [(8, 4), (8, 5)]),
        # The totals line's run reaches j = 1 through typed totals: a figure on a heading line there
        # is inside the table
        ({(8, 3): 5, (8, 2): 6, (8, 1): 7, (4, 1): 9}, []),
        # Figures on heading lines beyond an empty cell of the totals line (j = 6, 7): outside
        ({(8, 3): 5, (8, 7): 6, (4, 6): 9, (4, 7): 9}, [(8, 4), (8, 5)]),
        # A total of line 4 written in line 7 (not its own line): not a section sweep
        ({(8, 3): 5, (8, 7): "LINE4"}, [(8, 4), (8, 5)]),
        # A total in line 7 whose range takes in its own cell (i = 1..8): not a total of the lines above
        ({(8, 3): 5, (2, 7): 1, (3, 7): 2, (5, 7): 3, (7, 7): 4, (8, 7): "SELF7"}, [(8, 4), (8, 5)]),
    ],
    ids=["passed-over", "figure-in-gap", "beyond-label", "through-typed", "beyond-empty", "other-line", "self"],
)
def test_given_a_sectioned_table_when_audited_then_fx35_flags_exactly(
    down: bool, extra: dict[tuple[int, int], object], flagged: list[tuple[int, int]]
) -> None:
    # Given the sectioned table (totals on lines 4 and 5) with the extra cells of the case
    named = {
        key: f"=SUM({_line(4, 1, 7, down)})"
        if item == "LINE4"
        else f"=SUM({_line(7, 1, 8, down)})"
        if item == "SELF7"
        else item
        for key, item in extra.items()
    }
    sheet = _sectioned(down, named)
    # When audited / Then exactly the expected totals are advised
    assert _cells_flagged(sheet, "FX35") == [f"S!{a1(*_at(i, j, down))}" for i, j in flagged]


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
def test_given_a_lone_total_past_typed_totals_and_a_heading_figure_when_audited_then_no_sweep(down: bool) -> None:
    # Given only line 5 totalled, typed totals on lines 3 and 4 and a figure on heading line i = 4 of
    # line 3: the total's run across reaches line 3 through the typed totals
    sheet = _sectioned(down, {(8, 3): 5, (8, 4): 6, (4, 3): 9}, totals=(5,))
    # When audited / Then the total is not a sweep of sections
    assert _cells_flagged(sheet, "FX35") == []


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
@pytest.mark.parametrize(
    ("lines", "sections"),
    [
        # heading, figures, heading, figure, empty line before the total: two sections
        ({2: 1, 3: 2, 5: 3}, 2),
        # a label-only block (i = 2) counts for nothing, nor does a label block ending the range
        ({2: "note", 4: 1, 6: 2, 8: "n/a"}, 2),
    ],
    ids=["trailing-gap", "label-blocks"],
)
def test_given_gaps_and_labels_in_a_total_when_audited_then_sections_counted_exactly(
    down: bool, lines: dict[int, object], sections: int
) -> None:
    # Given line j = 3 with the items at their i (i = 1 empty: a heading line) and its total from i = 1,
    # written after one empty line when the last item is a figure, right after it when it is a label
    end = max(lines) + (1 if isinstance(lines[max(lines)], str) else 2)
    cells: dict[tuple[int, int], object] = {_at(i, 3, down): item for i, item in lines.items()}
    cells[_at(end, 3, down)] = f"=SUM({_line(3, 1, end - 1, down)})"
    # When audited
    found = audited(grid(cells), "FX35")
    # Then the total's sections are counted as the table shows them
    assert [(row[0], row[3]) for row in found] == [
        (
            f"S!{a1(*_at(end, 3, down))}",
            f"{_line(3, 1, end - 1, down)} starts on a heading line and adds {sections} sections of the table",
        )
    ]


def _running_totals() -> Sheet:
    # The table down columns C..E, typed figures beside column D's totals in rows 8-10, and three
    # totals of D that all open on heading line D1: D8 over D1:D3, D9 over D1:D7 (three sections),
    # D10 over D1:D2. One scan of D serves all three.
    cells: dict[tuple[int, int], object] = {(i, j): 10 * i + j for j in (3, 4, 5) for i in (2, 3, 5, 7)}
    for i in (8, 9, 10):
        cells[(i, 3)], cells[(i, 5)] = 1, 2
    cells[(8, 4)], cells[(9, 4)], cells[(10, 4)] = "=SUM(D1:D3)", "=SUM(D1:D7)", "=SUM(D1:D2)"
    return grid(cells)


def test_given_totals_sharing_one_scan_when_audited_on_their_exact_budget_then_all_are_checked() -> None:
    # Given the running totals: each formula costs 3 units to read (its shape, its one range), and
    # each total the cells its scan has not read yet plus one: D8 4 (3 cells), D9 5 (4 more), D10 1;
    # 7 + 8 + 4 = 19 units in all
    # When audited with 19 units / Then D9 is advised and nothing stops
    assert [row[:2] for row in audited(_running_totals(), "FX35", work_budget=19)] == [("S!D9", "FX35")]


def test_given_totals_sharing_one_scan_when_one_unit_short_then_the_last_total_is_not_checked() -> None:
    # Given the same totals and 18 units / When audited
    found = audited(_running_totals(), "FX35", work_budget=18)
    # Then D9 is advised and the check stops on D10
    assert [row[:2] for row in found] == [("S!D9", "FX35"), ("S!D10", "FX90")]
    assert found[-1][3] == (
        "FX35 stopped at its work budget (18 units) after 2 of 3 formula cells: from S!D10 on "
        "(row 10 of S) not checked for total spans several sections"
    )


# --- FX28: a range that stops short of the data beside its formula ---------------------------------


def _one_row(total: str) -> Sheet:
    # A one-row sheet: B1, C1 and E1 hold figures, A1 and D1 are empty, the formula in F1
    return grid({(1, 2): 1, (1, 3): 2, (1, 4): None, (1, 5): 3, (1, 6): total})


def test_given_whole_column_and_open_ended_totals_in_one_row_when_audited_then_neither_fx28_nor_fx35() -> None:
    # Given, in the only row, totals over whole columns A:E and over the open-ended A1:E (both reach
    # the last row, here row 1, and so would read like row ranges opening on a heading cell)
    for total in ("=SUM(A:E)", "=SUM(A1:E)"):
        # When audited / Then they are not read as ranges of this row
        assert audited(_one_row(total), "FX28", "FX35") == [], total


def _row_of_four(total: str) -> Sheet:
    # Figures in A1:D1 and the formula in E1
    return grid({(1, 1): 1, (1, 2): 2, (1, 3): 3, (1, 4): 4, (1, 5): total})


def _column_of_four(total: str, extra: dict[tuple[int, int], object] | None = None) -> Sheet:
    # Figures in A1:A4 and the formula in A5
    return grid({(1, 1): 1, (2, 1): 2, (3, 1): 3, (4, 1): 4, (5, 1): total, **(extra or {})})


def _short(cell: str, ref: str, what: str, fix: str) -> Row:
    return (cell, "FX28", "high", f"{ref} stops before the {what}", fix)


def test_given_a_whole_column_sum_before_a_short_one_when_audited_then_the_short_one_is_reported() -> None:
    # Given E1 = SUM(A:C) + SUM(A1:C1): the whole columns are passed over, A1:C1 stops before D1
    assert audited(_row_of_four("=SUM(A:C)+SUM(A1:C1)"), "FX28") == [
        _short("S!E1", "A1:C1", "numbers in D1", "=SUM(A:C)+SUM(A1:D1)")
    ]


def test_given_a_range_elsewhere_before_a_short_one_when_audited_then_the_short_one_is_reported() -> None:
    # Given A5 = SUM(B1:B2) + SUM(A1:A3): B1:B2 is no range of A5's column, A1:A3 stops before A4
    assert audited(_column_of_four("=SUM(B1:B2)+SUM(A1:A3)"), "FX28") == [
        _short("S!A5", "A1:A3", "numbers in A4", "=SUM(B1:B2)+SUM(A1:A4)")
    ]


def test_given_a_skipped_subtotal_of_one_range_but_not_the_other_when_audited_then_only_the_other() -> None:
    # Given A5 = SUM(A1:A2) and A6 = SUM(A1:A4) + SUM(A3:A4): A5 subtotals cells of A1:A4 (left out on
    # purpose) but none of A3:A4
    sheet = _column_of_four("=SUM(A1:A2)", {(6, 1): "=SUM(A1:A4)+SUM(A3:A4)"})
    # When audited / Then only A3:A4 stops short
    assert audited(sheet, "FX28") == [_short("S!A6", "A3:A4", "formulas in A5", "=SUM(A1:A4)+SUM(A3:A5)")]


def test_given_a_skipped_cell_read_elsewhere_by_one_range_when_audited_then_the_other_is_reported() -> None:
    # Given C3 = SUM(C1:C1) + SUM(A3:A3) + C2: C2, skipped by C1:C1, is read on its own; B3 is not read
    sheet = grid({(1, 3): 1, (2, 3): 2, (3, 1): 1, (3, 2): 2, (3, 3): "=SUM(C1:C1)+SUM(A3:A3)+C2"})
    # When audited / Then only A3:A3 stops short
    assert audited(sheet, "FX28") == [_short("S!C3", "A3:A3", "numbers in B3", "=SUM(C1:C1)+SUM(A3:B3)+C2")]


@pytest.mark.parametrize(
    ("sheet", "ref", "gap", "fix"),
    [
        # each corner keeps its own $: the top row's and the left column's on the first corner
        (_column_of_four("=SUM($A1:A$3)"), "$A1:A$3", "A4", "=SUM($A1:A$4)"),
        (_column_of_four("=SUM(A$1:A3)"), "A$1:A3", "A4", "=SUM(A$1:A4)"),
        (_row_of_four("=SUM($A1:C$1)"), "$A1:C$1", "D1", "=SUM($A1:D$1)"),
        # written right to left: the corners trade places, each with its $
        (_row_of_four("=SUM(C$1:$A1)"), "C$1:$A1", "D1", "=SUM($A1:D$1)"),
        # one cell written as a range: the first corner stays first
        (grid({(1, 1): 1, (1, 2): 2, (1, 3): "=SUM($A1:A$1)"}), "$A1:A$1", "B1", "=SUM($A1:B$1)"),
    ],
    ids=["column", "column-top-fixed", "row", "row-reversed", "one-cell"],
)
def test_given_a_short_range_with_mixed_dollars_when_audited_then_the_fix_keeps_each_corners_dollars(
    sheet: Sheet, ref: str, gap: str, fix: str
) -> None:
    # When audited
    found = audited(sheet, "FX28")
    # Then the extended range keeps the $ of the corner each bound came from
    assert [(row[3], row[4]) for row in found] == [(f"{ref} stops before the numbers in {gap}", fix)]


# --- FX30 / FX31 / FX33: region breaks -------------------------------------------------------------

_REGIONS = ("FX30", "FX31", "FX33")
_LONE = " (the only cell of the run that breaks it)"


def _ref(i: int, j: int, down: bool) -> str:
    return a1(*_at(i, j, down))


def _products(
    down: bool = True, over: dict[tuple[int, int], object] | None = None, j: int = 2
) -> dict[tuple[int, int], object]:
    # Inputs on lines j and j + 1 at i = 1..8 and their product copied along line j + 2
    # (down columns: B, C and =B*C in D for j = 2).
    cells: dict[tuple[int, int], object] = {}
    for i in range(1, 9):
        cells[_at(i, j, down)] = i
        cells[_at(i, j + 1, down)] = 10 * i
        cells[_at(i, j + 2, down)] = f"={_ref(i, j, down)}*{_ref(i, j + 1, down)}"
    for (i, k), item in (over or {}).items():
        cells[_at(i, k, down)] = item
    return cells


def test_given_a_commuted_copy_before_a_break_when_audited_then_the_break_is_still_reported() -> None:
    # Given the products with D3 written =C3*B3 (the same computation) and D6 reading C7 for C6
    cells = _products(True, {(3, 4): "=C3*B3", (6, 4): "=B6*C7"})
    # When audited / Then D6 alone is reported; the commuted copy counts as a second break of the
    # run, but D6 sits between copies with one reference moved: high all the same
    assert audited(grid(cells), *_REGIONS) == [
        (
            "S!D6",
            "FX30",
            "high",
            "formula differs from its column region like D1 (=B1*C1)"
            " (between copies, the same computation over other cells: a reference moved)",
            "=B6*C6",
        )
    ]


def test_given_a_counter_skipping_a_label_when_audited_then_the_whole_message_names_it() -> None:
    # Given week numbers =x1+1 along row 1, where D1 skips the label TOTAL in C1
    cells = {(1, 1): 1, (1, 2): "=A1+1", (1, 3): "TOTAL", (1, 4): "=B1+1", (1, 5): "=D1+1", (1, 6): "=E1+1"}
    cells[(1, 7)] = "=F1+1"
    # When audited / Then D1 is advice, saying which label the region's formula would read
    assert audited(grid(cells), *_REGIONS) == [
        (
            "S!D1",
            "FX30",
            "medium",
            "formula differs from its row region like E1 (=D1+1) (copied here, the region's formula would read "
            "the label in C1)",
            "=C1+1",
        )
    ]


_NOTHING = " (the formula copied here would read no number: likely another quantity)"
_EQUALS = " (the typed value equals the formula's result today, but will not follow its inputs)"


def test_given_a_typed_value_where_the_formula_reads_nothing_and_a_pasted_result_when_audited() -> None:
    # Given the products down D with B5, C5 empty (A5 holds a count, left of the inputs) and 77
    # typed in D5; and products down H (=F*G) with H6 typed as 360, F6*G6's value
    cells = _products(True, {(5, 2): None, (5, 3): None, (5, 4): 77, (5, 1): 3})
    cells.update(_products(True, {(6, 8): 360}, j=6))
    cells = {key: item for key, item in cells.items() if item is not None}
    # When audited
    found = audited(grid(cells), *_REGIONS)
    # Then D5 is advice (likely another quantity), H6 is a pasted value, high
    assert found == [
        (
            "S!D5",
            "FX31",
            "medium",
            "typed value inside a column region like D1; a formula is expected" + _NOTHING,
            "=B5*C5",
        ),
        (
            "S!H6",
            "FX31",
            "high",
            "typed value inside a column region like H1; a formula is expected" + _EQUALS + _LONE,
            "=F6*G6",
        ),
    ]


def test_given_a_typed_value_that_differs_from_the_formula_when_audited_then_high_without_note() -> None:
    # Given the products with 100 typed in D5 (B5*C5 is 250)
    found = audited(grid(_products(True, {(5, 4): 100})), *_REGIONS)
    # When audited / Then a lone pasted value, high, and no note on its value
    assert found == [
        ("S!D5", "FX31", "high", "typed value inside a column region like D1; a formula is expected" + _LONE, "=B5*C5")
    ]


def _half_typed(first: int) -> dict[tuple[int, int], object]:
    # Inputs in B:C at rows first..first+3, D computed on rows first and first+2, typed on the others
    cells: dict[tuple[int, int], object] = {}
    for r in range(first, first + 4):
        cells[(r, 2)], cells[(r, 3)] = r, r + 1
    cells[(first, 4)] = f"=B{first}*C{first}"
    cells[(first + 1, 4)] = 20
    cells[(first + 2, 4)] = f"=B{first + 2}*C{first + 2}"
    cells[(first + 3, 4)] = 40
    return cells


def test_given_two_half_typed_columns_when_audited_then_each_typed_value_between_copies_is_high() -> None:
    # Given two runs in column D (rows 1-4 and 6-9), each two copies of =B*C with a typed value
    # between them and one after them
    cells = {**_half_typed(1), **_half_typed(6)}
    # When audited
    found = audited(grid(cells), *_REGIONS)
    # Then every cell of each line is in doubt; the value between the copies is high (a slip), the
    # one after them medium (it may be another quantity, a prior figure)
    mixed = "this column mixes copies of this formula with typed values"
    assert found == [
        ("S!D1", "FX31", "medium", mixed, "=B1*C1"),
        ("S!D2", "FX31", "high", "typed value in a column computed by copies of =B1*C1" + _LONE, "=B2*C2"),
        ("S!D3", "FX31", "medium", mixed, "=B3*C3"),
        ("S!D4", "FX31", "medium", "typed value in a column computed by copies of =B1*C1", "=B4*C4"),
        ("S!D6", "FX31", "medium", mixed, "=B6*C6"),
        ("S!D7", "FX31", "high", "typed value in a column computed by copies of =B6*C6" + _LONE, "=B7*C7"),
        ("S!D8", "FX31", "medium", mixed, "=B8*C8"),
        ("S!D9", "FX31", "medium", "typed value in a column computed by copies of =B6*C6", "=B9*C9"),
    ]


def test_given_a_typed_value_in_a_grid_of_copies_when_audited_then_one_finding_per_cell() -> None:
    # Given =$A*x$1 over C2:F5 with 99 typed in D3 (a break of its row and of its column), and a
    # separate column of products in J with J6 written =H6+I6
    cells: dict[tuple[int, int], object] = {(1, col): col for col in range(3, 7)}
    for r in range(2, 6):
        cells[(r, 1)] = r
        for col in range(3, 7):
            cells[(r, col)] = f"=$A{r}*{a1(1, col)[:-1]}$1"
    cells[(3, 4)] = 99
    cells.update(_products(True, {(6, 10): "=H6+I6"}, j=8))
    # When audited
    found = [row[:3] for row in audited(grid(cells), *_REGIONS)]
    # Then D3 is reported once, with its row and its column, and the break in J is still reported
    assert found == [
        ("S!D1", "FX31", "medium"),
        ("S!D2", "FX31", "medium"),
        ("S!C3", "FX31", "medium"),
        ("S!D3", "FX31", "high"),
        ("S!E3", "FX31", "medium"),
        ("S!F3", "FX31", "medium"),
        ("S!D4", "FX31", "medium"),
        ("S!D5", "FX31", "medium"),
        ("S!J6", "FX30", "high"),
    ]


def test_given_a_run_with_two_breaks_before_a_lone_break_when_audited_then_the_lone_one_is_high() -> None:
    # Given products in D with two breaks, each another computation (D3, D6), and in J one (J5)
    cells = _products(True, {(3, 4): "=B3+C3*2", (6, 4): "=B6-C6*3"})
    cells.update(_products(True, {(5, 10): "=H5/I5"}, j=8))
    # When audited / Then D's breaks are advice and J5 alone is high
    assert [row[:3] for row in audited(grid(cells), *_REGIONS)] == [
        ("S!D3", "FX30", "medium"),
        ("S!J5", "FX30", "high"),
        ("S!D6", "FX30", "medium"),
    ]


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
def test_given_parallel_copies_broken_alike_when_audited_then_each_break_is_a_line_of_its_own(down: bool) -> None:
    # Given x*y copied along line 4 (inputs on lines 2, 3) and y*x... along line 5 (=line 3 * line 4),
    # both reading the next i for their first input at i = 5: the same slip on both lines
    cells = _products(down)
    for i in range(1, 9):
        cells[_at(i, 5, down)] = f"={_ref(i, 3, down)}*{_ref(i, 4, down)}"
    cells[_at(5, 4, down)] = f"={_ref(6, 2, down)}*{_ref(5, 3, down)}"
    cells[_at(5, 5, down)] = f"={_ref(6, 3, down)}*{_ref(5, 4, down)}"
    # When audited / Then both are advice: each is supported by its neighbour across
    assert [row[:3] for row in audited(grid(cells), *_REGIONS)] == [
        (f"S!{_ref(5, 4, down)}", "FX30", "medium"),
        (f"S!{_ref(5, 5, down)}", "FX30", "medium"),
    ]


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
@pytest.mark.parametrize("typed_at", [3, 5], ids=["before", "after"])
def test_given_a_typed_neighbour_that_is_no_typed_line_when_audited_then_the_value_is_a_lone_slip(
    down: bool, typed_at: int
) -> None:
    # Given products along line 4 and =2*product along line 5, with i = 4 typed on both lines and
    # line 5 also typed at i = typed_at: line 5's typed cell at i = 4 has a typed cell beside it
    # along its line, so it does not prove a typed line across the runs
    cells = _products(down)
    for i in range(1, 9):
        cells[_at(i, 5, down)] = f"=2*{_ref(i, 4, down)}"
    cells[_at(4, 4, down)], cells[_at(4, 5, down)], cells[_at(typed_at, 5, down)] = 7.0, 9.0, 5.0
    # When audited
    found = [row[:3] for row in audited(grid(cells), *_REGIONS)]
    # Then the typed value on line 4 is a lone pasted value, high
    assert (f"S!{_ref(4, 4, down)}", "FX31", "high") in found
    assert (f"S!{_ref(4, 4, down)}", "FX31", "medium") not in found


def _totals(odd: str) -> dict[tuple[int, int], object]:
    # Hours in B:D on rows 3-8 (names in A) and totals =SUM(Br:Dr) down F, F6 written ``odd``
    cells: dict[tuple[int, int], object] = {}
    for r in range(3, 9):
        cells[(r, 1)], cells[(r, 2)], cells[(r, 3)], cells[(r, 4)] = f"name {r}", 8, 8, 8
        cells[(r, 6)] = odd if r == 6 else f"=SUM(B{r}:D{r})"
    return cells


_SPAN = "the totals of this column disagree on their span: F6 adds more cells than the others"


@pytest.mark.parametrize("odd", ["=SUM(A6:D6)", "=SUM(B6:E6)"], ids=["from-the-left", "to-the-right"])
def test_given_one_total_wider_than_its_copies_when_audited_then_the_run_is_in_doubt(odd: str) -> None:
    # Given F6 adding one more column than its copies, on either side
    found = audited(grid(_totals(odd)), *_REGIONS)
    # When audited / Then every total of the run is in doubt (FX33, high, no fix), and F6 is a lone break
    expected: list[Row] = [(f"S!F{r}", "FX33", "high", _SPAN, None) for r in range(3, 9)]
    lone = "formula differs from its column region like F3 (=SUM(B3:D3))" + _LONE
    expected.insert(3, ("S!F6", "FX30", "high", lone, "=SUM(B6:D6)"))
    assert found == expected


def test_given_one_total_moved_onto_a_label_when_audited_then_a_lone_slip() -> None:
    # Given F6 = SUM(C6:E6) where its copies add B:D, and the text n/a in B6
    cells = _totals("=SUM(C6:E6)")
    cells[(6, 2)] = "n/a"
    # When audited / Then a lone slip, high (a range starting on a label is no reason to skip it)
    assert audited(grid(cells), *_REGIONS) == [
        ("S!F6", "FX30", "high", "formula differs from its column region like F3 (=SUM(B3:D3))" + _LONE, "=SUM(B6:D6)")
    ]


def test_given_totals_of_another_sheet_one_wider_when_audited_then_only_a_lone_slip() -> None:
    # Given totals of Other!B:D down F1:F5, F3 adding Other!B3:E3 (ranges of another sheet: their
    # spans are not compared)
    cells: dict[tuple[int, int], object] = {(r, 6): f"=SUM(Other!B{r}:D{r})" for r in range(1, 6)}
    cells[(3, 6)] = "=SUM(Other!B3:E3)"
    # When audited / Then F3 alone, high
    assert [row[:3] for row in audited(grid(cells), *_REGIONS)] == [("S!F3", "FX30", "high")]


def test_given_copies_along_a_row_with_a_fixed_column_when_audited_then_the_fix_keeps_it() -> None:
    # Given =$A2*x1 copied along row 2 (B2:H2) and E2 written =$A2+E1
    cells: dict[tuple[int, int], object] = {(1, col): col for col in range(2, 9)}
    cells[(2, 1)] = 3
    for col in range(2, 9):
        cells[(2, col)] = f"=$A2*{a1(1, col)[:-1]}1"
    cells[(2, 5)] = "=$A2+E1"
    # When audited / Then the suggestion moves the relative column only
    assert audited(grid(cells), *_REGIONS) == [
        ("S!E2", "FX30", "high", "formula differs from its row region like B2 (=$A2*B1)" + _LONE, "=$A2*E1")
    ]


@pytest.mark.parametrize(
    ("last", "severity", "note"),
    [
        # 1,000 columns (B:ALM) are looked at: row 5 has no figure in them, the typed 7 is another quantity
        ("ALM", "medium", _NOTHING),
        # 1,002 columns (B:ALO) count as reading numbers, unknown which: the typed 7 is a slip
        ("ALO", "high", _LONE),
    ],
    ids=["1000-columns", "1002-columns"],
)
def test_given_copies_over_very_wide_rows_when_a_row_is_empty_then_only_1000_columns_are_looked_at(
    last: str, severity: str, note: str
) -> None:
    # Given =SUM(Br:<last>r) down A1:A8 with a figure in B of every row but row 5, and 7 typed in A5
    cells: dict[tuple[int, int], object] = {(r, 1): f"=SUM(B{r}:{last}{r})" for r in range(1, 9)}
    cells.update({(r, 2): r for r in range(1, 9) if r != 5})
    cells[(5, 1)] = 7
    # When audited
    found = audited(grid(cells), *_REGIONS)
    # Then the typed value is judged by whether the formula would read a number there
    message = "typed value inside a column region like A1; a formula is expected" + note
    assert found == [("S!A5", "FX31", severity, message, f"=SUM(B5:{last}5)")]


def test_given_copies_over_a_whole_column_and_a_whole_row_when_a_value_is_typed_then_lone_slips() -> None:
    # Given shares =Br/SUM(B:B) down D and =Cr*SUM($1:$1) down E (rows 1-8), B5 and C4 empty, and
    # values typed in D5 and E4 that are not the formulas' results
    cells: dict[tuple[int, int], object] = {}
    for r in range(1, 9):
        cells[(r, 2)], cells[(r, 3)] = r, 2 * r
        cells[(r, 4)], cells[(r, 5)] = f"=B{r}/SUM(B:B)", f"=C{r}*SUM($1:$1)"
    del cells[(5, 2)], cells[(4, 3)]
    cells[(5, 4)], cells[(4, 5)] = 0.5, 3
    # When audited / Then both would read numbers elsewhere in their ranges: lone pasted values, high
    assert [row[:3] for row in audited(grid(cells), *_REGIONS)] == [("S!E4", "FX31", "high"), ("S!D5", "FX31", "high")]


def _running_block() -> Sheet:
    # Running totals =SUM($A$1:Br) down C (rows 1-8) over A = r and B = 10r, with C5 typed as 165,
    # the result of SUM(A1:B5): its formula reads 10 cells
    cells: dict[tuple[int, int], object] = {}
    for r in range(1, 9):
        cells[(r, 1)], cells[(r, 2)], cells[(r, 3)] = r, 10 * r, f"=SUM($A$1:B{r})"
    cells[(5, 3)] = 165
    return grid(cells)


@pytest.mark.parametrize(("allowance", "compared"), [(10, True), (9, False)], ids=["exact", "one-short"])
def test_given_an_evaluation_allowance_when_a_pasted_total_is_audited_then_compared_within_it(
    monkeypatch: pytest.MonkeyPatch, allowance: int, compared: bool
) -> None:
    # Given an allowance of cells to evaluate (a check budget, set here to 10 or 9 units)
    from sheetbrain.engine.checks import sheet as sheet_checks

    monkeypatch.setattr(sheet_checks, "check_budget", lambda cells: allowance)
    # When the pasted total (its formula reads 10 cells) is audited
    found = audited(_running_block(), *_REGIONS)
    # Then it is compared with the formula's result only when the 10 cells fit the allowance
    message = "typed value inside a column region like C1; a formula is expected"
    message += (_EQUALS if compared else "") + _LONE
    assert found == [("S!C5", "FX31", "high", message, "=SUM($A$1:B5)")]


@pytest.mark.parametrize(
    ("skipped", "found"),
    [
        # a formula reading cells beside the range's rows (C1:C2): skipped data
        ("=C1+C2", [("S!A5", "FX28", "high", "A1:A3 stops before the formulas in A4", "=SUM(A1:A4)")]),
        # formulas reading the range's last or first cell: derived from it, left out on purpose
        ("=A3*2", []),
        ("=A1*2", []),
        # a formula too deep to parse: its references are unknown, so it is not called omitted
        ("=" + "ABS(" * 65 + "1" + ")" * 65, []),
    ],
    ids=["reads-beside", "reads-last", "reads-first", "unparsed"],
)
def test_given_a_formula_skipped_by_a_total_when_audited_then_omitted_unless_it_reads_the_range(
    skipped: str, found: list[Row]
) -> None:
    # Given figures in A1:A3, the formula in A4 and A5 = SUM(A1:A3)
    sheet = grid({(1, 1): 1, (2, 1): 2, (3, 1): 3, (4, 1): skipped, (5, 1): "=SUM(A1:A3)"})
    # When audited / Then
    assert audited(sheet, "FX28") == found


def test_given_a_row_total_that_adds_the_skipped_cell_on_its_own_when_audited_then_no_fx28() -> None:
    # Given E1 = SUM(A1:C1) + D1 over figures in A1:D1 / When audited / Then D1 is not omitted
    assert audited(_row_of_four("=SUM(A1:C1)+D1"), "FX28") == []


def test_given_a_half_typed_column_with_cached_results_when_audited_then_only_typed_values_are_compared() -> None:
    # Given =B*C in D1 and D3 with their cached results (2 and 30), 20 and 40 typed in D2 and D4
    formulas: list[list[str | None]] = [
        [None, None, None, "=B1*C1"],
        [None] * 4,
        [None, None, None, "=B3*C3"],
        [None] * 4,
    ]
    values: list[list[object]] = [[None, 1, 2, 2], [None, 3, 4, 20], [None, 5, 6, 30], [None, 7, 8, 40]]
    # When audited
    found = audited(Sheet("S", formulas, values), *_REGIONS)
    # Then the formulas' own results get no note (they are no typed copies of a result)
    mixed = "this column mixes copies of this formula with typed values"
    assert found == [
        ("S!D1", "FX31", "medium", mixed, "=B1*C1"),
        ("S!D2", "FX31", "high", "typed value in a column computed by copies of =B1*C1" + _LONE, "=B2*C2"),
        ("S!D3", "FX31", "medium", mixed, "=B3*C3"),
        ("S!D4", "FX31", "medium", "typed value in a column computed by copies of =B1*C1", "=B4*C4"),
    ]


def test_given_a_sum_with_several_ranges_when_audited_then_the_subtotals_it_counts_twice_areaudited() -> None:
    # Given figures in A1:A20, A10 = SUM(A8:A9), A3 = SUM(A4:A10) and, in A5, a SUM of A6:A9, of A4:A9
    # and of A1:A20 (the last holds A10 and the rows A10 adds)
    cells: dict[tuple[int, int], object] = {(r, 1): r for r in range(1, 21)}
    cells[(3, 1)], cells[(10, 1)] = "=SUM(A4:A10)", "=SUM(A8:A9)"
    cells[(5, 1)] = "=SUM(A6:A9)+SUM(A4:A9)+SUM(A1:A20)"
    # When audited
    found = audited(grid(cells), "FX29")
    # Then A3 counts A5 (a SUM of A6:A9 inside it) twice, and A5's A1:A20 counts A10 twice (of the
    # subtotals inside it, A10 is the one that ends first after A5's own)
    assert found == [
        ("S!A3", "FX29", "high", "A4:A10 includes the subtotal A5 and the cells it adds", _TWICE),
        ("S!A5", "FX29", "high", "A1:A20 includes the subtotal A10 and the cells it adds", _TWICE),
    ]


def test_given_a_typed_total_in_a_disagreeing_totals_row_when_audited_then_it_uses_no_allowance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an allowance of 10 cells, a totals row A5:F5 whose spans disagree (rows 1-4 or 2-4) with
    # 9 typed in D5, and running totals =SUM($H$1:Ir) down J with J5 pasted as their result (10 cells)
    from sheetbrain.engine.checks import sheet as sheet_checks

    monkeypatch.setattr(sheet_checks, "check_budget", lambda cells: 10)
    cells: dict[tuple[int, int], object] = {(r, c): r for r in range(1, 5) for c in range(1, 7)}
    spans = {1: "A1:A4", 2: "B2:B4", 3: "C1:C4", 5: "E2:E4", 6: "F1:F4"}
    cells.update({(5, c): f"=SUM({span})" for c, span in spans.items()})
    cells[(5, 4)] = 9
    for r in range(1, 9):
        cells[(r, 8)], cells[(r, 9)], cells[(r, 10)] = r, 10 * r, f"=SUM($H$1:I{r})"
    cells[(5, 10)] = 165
    # When audited
    found = [row for row in audited(grid(cells), *_REGIONS) if row[0] == "S!J5"]
    # Then the typed total of the row (an FX33 cell, not a copy's result) is not evaluated, and the
    # pasted running total is still compared within the allowance
    message = "typed value inside a column region like J1; a formula is expected" + _EQUALS + _LONE
    assert found == [("S!J5", "FX31", "high", message, "=SUM($H$1:I5)")]


def test_given_a_profile_asking_for_no_sections_when_a_one_cell_total_is_audited_then_zero_sections() -> None:
    # Given FX35's min_sections set to 0 and A3 = SUM(A2:A2) over the empty A2 (one heading cell)
    profile = PolicyProfile(enabled=("FX35",), parameters={"FX35": {"min_sections": 0}})
    sheet = grid({(1, 1): 1, (3, 1): "=SUM(A2:A2)"})
    # When audited
    found = [(f.cell, f.message) for f in audit_sheet(sheet, profile)]
    # Then the parameter is taken as given: the total is reported, adding no section
    assert found == [("S!A3", "A2:A2 starts on a heading line and adds 0 sections of the table")]


def _crossing_totals(down: bool) -> dict[tuple[int, int], object]:
    # Hours on lines 2-4 at i = 3..8, totals of each i on line 6 (=SUM over lines 2-4), i = 6's total
    # adding line 5 too; and across i = 6, lines 6-9 hold four totals that all disagree on their span.
    cells: dict[tuple[int, int], object] = {}
    for i in range(3, 9):
        for j in (2, 3, 4):
            cells[_at(i, j, down)] = 8
        cells[_at(i, 6, down)] = f"=SUM({_ref(i, 2, down)}:{_ref(i, 4, down)})"
    for j, (first, last) in {6: (2, 5), 7: (3, 5), 8: (3, 6), 9: (2, 7)}.items():
        cells[_at(6, j, down)] = f"=SUM({_ref(6, first, down)}:{_ref(6, last, down)})"
    return cells


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
def test_given_a_wider_total_where_two_totals_runs_cross_when_audited_then_one_fx33_per_cell(down: bool) -> None:
    # Given the crossing totals: the run of line 6 has one wider total (i = 6), and the four totals
    # across i = 6 disagree on their span, so the cell where both meet is in doubt twice
    found = audited(grid(_crossing_totals(down)), *_REGIONS)
    # When audited / Then every cell gets one FX33, for the first reason found (rows are read before
    # columns): the meeting cell's is its row's
    fx33 = [(row[0], row[3].split(" on their span")[0].split(" around ")[0]) for row in found if row[1] == "FX33"]
    wider = f"the totals of this {'column' if down else 'row'} disagree"
    mixed = f"{'row' if down else 'column'} region"
    expected = {f"S!{_ref(i, 6, down)}": wider for i in range(3, 9)}
    expected.update({f"S!{_ref(6, j, down)}": mixed for j in range(7, 10)})
    expected[f"S!{_ref(6, 6, down)}"] = mixed if down else wider
    assert sorted(fx33) == sorted(expected.items())


def _whole_line_totals(down: bool) -> dict[tuple[int, int], object]:
    # Figures in rows 2-4 of columns A:H (down: totals of whole columns along row 1, C1 = SUM(A:A) ...
    # H1 = SUM(F:F), F1 = SUM(C:D)); or turned (totals of whole rows down column A, A6 = SUM(3:4))
    cells: dict[tuple[int, int], object] = {_at(r, k, down): r for r in range(2, 5) for k in range(1, 9)}
    for k in range(3, 9):
        line = a1(1, k - 2)[:-1] if down else str(k - 2)
        cells[_at(1, k, down)] = f"=SUM({line}:{line})"
    cells[_at(1, 6, down)] = "=SUM(C:D)" if down else "=SUM(3:4)"
    return cells


@pytest.mark.parametrize("down", [True, False], ids=["whole-columns", "whole-rows"])
def test_given_totals_of_whole_lines_one_wider_when_audited_then_the_run_is_in_doubt(down: bool) -> None:
    # Given the totals of whole columns (or rows), one adding two
    found = audited(grid(_whole_line_totals(down)), *_REGIONS)
    # When audited / Then the wider total is a lone slip and every total of its run is in doubt
    odd = _ref(1, 6, down)
    axis, first, fix = ("row", "C1 (=SUM(A:A))", "=SUM(D:D)") if down else ("column", "A3 (=SUM(1:1))", "=SUM(4:4)")
    span = f"the totals of this {axis} disagree on their span: {odd} adds more cells than the others"
    expected: list[Row] = [(f"S!{_ref(1, k, down)}", "FX33", "high", span, None) for k in range(3, 9)]
    lone = f"formula differs from its {axis} region like {first}" + _LONE
    expected.insert(3, (f"S!{odd}", "FX30", "high", lone, fix))
    assert found == expected


@pytest.mark.parametrize("down", [True, False], ids=["down-columns", "along-rows"])
def test_given_a_typed_line_across_two_computed_lines_when_audited_then_advice(down: bool) -> None:
    # Given products along line 4 and =2*product along line 5, both typed at i = 4 (actuals)
    cells = _products(down)
    for i in range(1, 9):
        cells[_at(i, 5, down)] = f"=2*{_ref(i, 4, down)}"
    cells[_at(4, 4, down)], cells[_at(4, 5, down)] = 7.0, 9.0
    # When audited
    found = [row[:3] for row in audited(grid(cells), *_REGIONS)]
    # Then each typed value is supported by the other across: advice, not a lone slip
    assert found == [(f"S!{_ref(4, 4, down)}", "FX31", "medium"), (f"S!{_ref(4, 5, down)}", "FX31", "medium")]


def test_given_copies_reading_another_sheet_when_a_value_is_typed_then_a_lone_slip() -> None:
    # Given =Other!Br*2 down D1:D8 and 7 typed in D5: what the formula would read is unknown here
    cells: dict[tuple[int, int], object] = {(r, 4): f"=Other!B{r}*2" for r in range(1, 9)}
    cells[(5, 4)] = 7
    # When audited / Then it counts as reading numbers: a lone pasted value, high
    assert audited(grid(cells), *_REGIONS) == [
        (
            "S!D5",
            "FX31",
            "high",
            "typed value inside a column region like D1; a formula is expected" + _LONE,
            "=Other!B5*2",
        )
    ]


def test_given_an_open_ended_range_that_stops_short_when_audited_then_no_fx28() -> None:
    # Given E1 = SUM(A1:C) over figures in A1:D1: an open-ended range (to the last row) is passed over
    assert audited(_row_of_four("=SUM(A1:C)"), "FX28") == []
