"""FX42 (engine/checks/sheet.py, the region check): a typed total its figures no longer add up to.
Small grids with exact findings; fast enough for the mutation run."""

from __future__ import annotations

import pytest
from sheetbrain.engine import Sheet
from sheetbrain.engine.checks.stale_totals import shown

from tests.unit.audit.grids import Row, audited, grid

# Figures in B2:F5; row 6 totals each column with =SUM(X2:X5). Column sums: B 18, C 53, D 56, E 60, F 65.
_FIGURES = {2: [10, 20, 30, 40, 50], 3: [5, 6, 7, 8, 9], 4: [1, 2, 3, 4, 5], 5: [2, 25, 16, 8, 1]}


def _totals(copy: str = "=SUM({c}2:{c}5)", **changes: object) -> dict[tuple[int, int], object]:
    # ``copy``: row 6's formula, {c} standing for each column's letter; ``changes`` by A1 address.
    cells: dict[tuple[int, int], object] = {}
    for row, figures in _FIGURES.items():
        for j, figure in enumerate(figures):
            cells[(row, 2 + j)] = figure
    for j in range(5):
        cells[(6, 2 + j)] = copy.format(c=chr(66 + j))
    for address, item in changes.items():
        cells[(int(address[1:]), ord(address[0]) - 64)] = item
    return cells


def _fx42(cell: str, typed: str, total: str, example: str = "B6") -> Row:
    column = cell[0]
    formula = f"=SUM({column}2:{column}5)"
    message = f"typed total {typed}, but {formula} copied from {example} gives {total}"
    return (f"S!{cell}", "FX42", "high", message, formula)


def test_given_a_total_typed_among_copied_totals_that_its_figures_disagree_with_when_audited_then_it_is_high() -> None:
    # Given D6 typed 74 where =SUM(D2:D5) gives 56
    sheet = grid(_totals(D6=74))
    # When audited / Then FX42 names the typed figure, the copy and its sum; FX31 says nothing more
    assert audited(sheet, "FX42", "FX31") == [_fx42("D6", "74", "56")]


def test_given_a_totals_row_half_typed_when_audited_then_each_stale_total_is_high_and_the_rest_advice() -> None:
    # Given D6 and F6 typed, both off their figures (56 and 65), among three copies
    sheet = grid(_totals(D6=74, F6=99))
    # When audited
    found = audited(sheet, "FX42", "FX31")
    # Then the two typed totals are FX42 high; the copies are the half-typed line's advice
    mixed = "this row mixes copies of this formula with typed values"
    assert found == [
        ("S!B6", "FX31", "medium", mixed, "=SUM(B2:B5)"),
        ("S!C6", "FX31", "medium", mixed, "=SUM(C2:C5)"),
        _fx42("D6", "74", "56"),
        ("S!E6", "FX31", "medium", mixed, "=SUM(E2:E5)"),
        _fx42("F6", "99", "65"),
    ]


def test_given_a_typed_total_that_is_its_figures_sum_when_audited_then_it_is_no_stale_total() -> None:
    # Given D6 typed 56, the sum of D2:D5: a pasted value, right today (FX31's case)
    sheet = grid(_totals(D6=56))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        (14, "an average of the figures: no larger than each"),
        (30, "equal to the largest figure: with another figure above 0, no total of them"),
        (3, "a code or a rate, smaller than a figure"),
    ],
)
def test_given_a_typed_number_no_larger_than_each_figure_when_audited_then_it_is_no_total(typed: int, why: str) -> None:
    # Given D6 typed no larger than D2 (30), the largest of D2:D5
    sheet = grid(_totals(D6=typed))
    # When audited / Then no FX42: it stands for another quantity
    assert audited(sheet, "FX42") == [], why


def test_given_a_negative_figure_when_audited_then_the_total_is_not_judged() -> None:
    # Given D3 -7: a total may then be below a figure, and above all of them without being stale
    sheet = grid(_totals(D3=-7, D6=74))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_one_figure_when_audited_then_a_larger_typed_number_is_no_total_of_it() -> None:
    # Given D2 the only figure of D2:D5 and D6 typed above it
    sheet = grid(_totals(D3=None, D4=None, D5=None, D6=74))
    # When audited / Then no FX42 (one figure has no total to disagree with)
    assert audited(sheet, "FX42") == []


def test_given_a_gap_within_the_rounding_of_the_typed_figures_when_audited_then_it_is_rounding() -> None:
    # Given D2:D5 typed to one decimal (sum 56.0) and D6 typed 56.2: each figure may be off by 0.05
    sheet = grid(_totals(D2=30.1, D3=6.9, D4=3.1, D5=15.9, D6=56.2))
    # When audited / Then no FX42: four figures and the total itself explain up to 0.25
    assert audited(sheet, "FX42") == []


def test_given_a_gap_just_beyond_the_rounding_of_the_typed_figures_when_audited_then_it_is_stale() -> None:
    # Given the same figures and D6 typed 56.3: a gap of 0.3 is more than rounding explains (0.25)
    sheet = grid(_totals(D2=30.1, D3=6.9, D4=3.1, D5=15.9, D6=56.3))
    # When audited / Then FX42
    assert audited(sheet, "FX42") == [_fx42("D6", "56.3", "56")]


def test_given_figures_that_are_formulas_when_audited_then_their_values_count_without_rounding() -> None:
    # Given D2 a formula showing 30.04 (no digits typed: no rounding allowance), D3:D5 typed to one
    # decimal (0.05 each) and D6 typed 56.2 (0.05): the figures add up to 55.94, 0.26 off, beyond 0.2
    sheet = grid(_totals(D2="=D3*4.35", D3=6.9, D4=3.1, D5=15.9, D6=56.2))
    sheet.values[1][3] = 30.04
    # When audited / Then FX42
    assert audited(sheet, "FX42") == [_fx42("D6", "56.2", "55.94")]
    # And with D6 typed 56.1 (0.16 off, within 0.2) it is rounding
    sheet.values[5][3] = 56.1
    assert audited(sheet, "FX42") == []


def test_given_a_typed_total_down_a_column_of_row_totals_when_audited_then_it_is_high() -> None:
    # Given G2:G5 totalling their rows (=SUM(B2:F2)...), G4 typed 20 where its row adds up to 15
    cells = _totals()
    for row in range(2, 6):
        cells[(row, 7)] = f"=SUM(B{row}:F{row})"
    cells[(4, 7)] = 20
    sheet = grid(cells)
    # When audited / Then G4
    assert audited(sheet, "FX42") == [
        ("S!G4", "FX42", "high", "typed total 20, but =SUM(B4:F4) copied from G2 gives 15", "=SUM(B4:F4)")
    ]


def test_given_a_total_typed_just_past_the_copies_when_audited_then_it_is_high() -> None:
    # Given B6:E6 copies and F6 typed 99 after them, where =SUM(F2:F5) gives 65
    sheet = grid(_totals(F6=99))
    # When audited / Then FX42, as between the copies
    assert audited(sheet, "FX42") == [_fx42("F6", "99", "65")]


def test_given_copies_that_add_another_sheet_when_audited_then_the_typed_total_is_not_judged() -> None:
    # Given the totals reading Data! (figures not in the request) and D6 typed
    sheet = grid(_totals("=SUM(Data!{c}2:{c}5)", D6=74))
    # When audited / Then no FX42: its figures are unknown here
    assert audited(sheet, "FX42") == []


def test_given_copies_that_average_when_audited_then_a_typed_figure_is_not_judged_as_a_total() -> None:
    # Given the row averaging each column and D6 typed 74
    sheet = grid(_totals("=AVERAGE({c}2:{c}5)", D6=74))
    # When audited / Then no FX42: only a SUM totals its figures
    assert audited(sheet, "FX42") == []


def test_given_text_among_the_figures_when_audited_then_it_is_no_figure_of_the_total() -> None:
    # Given D2 the text "see note" (SUM skips it, and so does this rule) above figures 7, 3 and 16
    sheet = grid(_totals(D2="see note", D6=74))
    # When audited / Then D6 is judged against the numbers only: larger than each, and not 26
    assert audited(sheet, "FX42") == [_fx42("D6", "74", "26")]


def test_given_exactly_two_figures_when_audited_then_a_typed_total_is_judged() -> None:
    # Given D2 30 and D3 7 the only figures of D2:D5
    sheet = grid(_totals(D4=None, D5=None, D6=74))
    # When audited / Then FX42 against their sum
    assert audited(sheet, "FX42") == [_fx42("D6", "74", "37")]


def test_given_a_zero_and_a_fraction_among_the_figures_when_audited_then_they_are_figures() -> None:
    # Given D2 0 and D3 0.5 (neither negative) with 3 and 16
    sheet = grid(_totals(D2=0, D3=0.5, D6=74))
    # When audited / Then FX42 against 19.5
    assert audited(sheet, "FX42") == [_fx42("D6", "74", "19.5")]


def test_given_a_gap_exactly_the_rounding_allowance_when_audited_then_it_is_rounding() -> None:
    # Given D2 a formula showing 30 (no allowance) and D3 typed 7 (0.5): their sum 37; D6 typed 38 (0.5)
    sheet = grid(_totals(D2="=D3*30/7", D4=None, D5=None, D6=38))
    sheet.values[1][3] = 30
    # When audited / Then no FX42: a gap of 1 is all rounding may explain, and no more
    assert audited(sheet, "FX42") == []
    # And typed 39 (a gap of 2) is stale
    sheet.values[5][3] = 39
    assert audited(sheet, "FX42") == [_fx42("D6", "39", "37")]


def test_given_a_formula_figure_showing_a_whole_number_when_audited_then_it_has_no_rounding_allowance() -> None:
    # Given D2 a formula showing 30, D3:D5 typed to one decimal (0.05 each) and D6 typed 56.2 (0.05):
    # the figures add up to 55.9, 0.3 off, beyond 0.2 (a typed 30 would allow 0.5 more)
    sheet = grid(_totals(D2="=D3*4.35", D3=6.9, D4=3.1, D5=15.9, D6=56.2))
    sheet.values[1][3] = 30
    # When audited / Then FX42
    assert audited(sheet, "FX42") == [_fx42("D6", "56.2", "55.9")]


def test_given_copies_that_add_a_constant_when_audited_then_the_typed_total_is_not_judged() -> None:
    # Given the totals =SUM(X2:X5,5) (a constant beside the range) and D6 typed 74
    sheet = grid(_totals("=SUM({c}2:{c}5,5)", D6=74))
    # When audited / Then no FX42: only ranges of figures are judged
    assert audited(sheet, "FX42") == []


def test_given_a_typed_number_that_is_no_float_before_a_stale_total_when_audited_then_the_later_is_judged() -> None:
    # Given C6 typed an integer of 400 digits (no float: not compared) and F6 typed 99 after it
    sheet = grid(_totals(C6=10**400, F6=99))
    # When audited / Then F6 is FX42 all the same
    assert audited(sheet, "FX42") == [_fx42("F6", "99", "65")]


# Review of FX42 (2026-12-02): figures the grid cannot add up as Excel would, and sums that count twice.


def test_given_a_figure_that_is_a_formula_without_a_cached_value_when_audited_then_the_total_is_not_judged() -> None:
    # Given D2 a formula with no cached value (a workbook saved without calculating, or a grid sent
    # without values): its figure is unknown, so D2:D5 adds up to an unknown total, not 26
    sheet = grid(_totals(D2="=D3*4", D6=74))
    # When audited / Then no FX42 (a figure missing is no proof that the typed 74 is stale)
    assert audited(sheet, "FX42") == []


def test_given_a_figure_that_shows_an_error_when_audited_then_the_total_is_not_judged() -> None:
    # Given D2 a formula whose cached value is #N/A: Excel's =SUM(D2:D5) gives #N/A, not 26
    sheet = grid(_totals(D2="=D3*4", D6=74))
    sheet.values[1][3] = "#N/A"
    # When audited / Then no FX42 (the copy gives no number to compare)
    assert audited(sheet, "FX42") == []


def test_given_a_figure_typed_as_text_that_reads_as_a_number_when_audited_then_the_total_is_not_judged() -> None:
    # Given D2 the text "30" (SUM skips it: =SUM(D2:D5) gives 26) and D6 typed 56, which counts it
    sheet = grid(_totals(D2="30", D6=56))
    # When audited / Then no FX42: the typed total adds what the eye reads; the text figure is the fault
    assert audited(sheet, "FX42") == []


# Two sections a column (rows 2-3 and 5-6) with subtotals in rows 4 and 7, by column B to F.
_SECTIONS = {2: (1, 2, 3, 4), 3: (5, 6, 7, 8), 4: (10, 20, 30, 40), 5: (9, 9, 9, 9), 6: (2, 4, 6, 8)}


def test_given_a_range_holding_a_subtotal_of_its_own_figures_when_audited_then_the_total_typed_is_not_stale() -> None:
    # Given rows 2-3 subtotalled in row 4 (=SUM(X2:X3)), rows 5-6 not, and row 7's copies
    # =SUM(X2:X6) counting rows 2-3 twice; D7 typed 100, the sum of D's figures: the copies are at fault
    cells: dict[tuple[int, int], object] = {}
    for col, (a, b, c, d) in _SECTIONS.items():
        column = chr(64 + col)
        cells.update({(2, col): a, (3, col): b, (5, col): c, (6, col): d})
        cells[(4, col)] = f"=SUM({column}2:{column}3)"
        cells[(7, col)] = f"=SUM({column}2:{column}6)"
    cells[(7, 4)] = 100
    sheet = grid(cells)
    for col, (a, b, c, d) in _SECTIONS.items():
        sheet.values[3][col - 1] = a + b
        if col != 4:
            sheet.values[6][col - 1] = 2 * (a + b) + c + d
    # When audited / Then no FX42 (double counting is FX29's finding, about the copies)
    assert audited(sheet, "FX42") == []


def test_given_a_total_of_two_cells_named_one_by_one_when_audited_then_a_stale_one_is_high() -> None:
    # Given row 6 totals =SUM(X2,X5) (two cells named, not a range) and D6 typed 74 where D2 and D5 give 46
    sheet = grid(_totals("=SUM({c}2,{c}5)", D6=74))
    # When audited / Then FX42, as for a range
    assert audited(sheet, "FX42") == [
        ("S!D6", "FX42", "high", "typed total 74, but =SUM(D2,D5) copied from B6 gives 46", "=SUM(D2,D5)")
    ]


def test_given_pinned_copies_of_a_running_total_when_audited_then_a_stale_one_is_high() -> None:
    # Given G2:G5 the running total of column B (=SUM($B$2:B2) copied down) and G4 typed 40 where B2:B4 give 16
    cells = _totals()
    for row in range(2, 6):
        cells[(row, 7)] = f"=SUM($B$2:B{row})"
    cells[(4, 7)] = 40
    sheet = grid(cells)
    # When audited / Then G4
    assert audited(sheet, "FX42") == [
        ("S!G4", "FX42", "high", "typed total 40, but =SUM($B$2:B4) copied from G2 gives 16", "=SUM($B$2:B4)")
    ]


def test_given_large_totals_when_audited_then_the_message_shows_every_digit_without_an_exponent() -> None:
    # Given figures in the billions: D2:D5 add up to 56,000,000,000 and D6 typed 74,000,000,000.5
    billion = 1_000_000_000
    sheet = grid(_totals(D2=30 * billion, D3=7 * billion, D4=3 * billion, D5=16 * billion, D6=74 * billion + 0.5))
    # When audited / Then the numbers read as a spreadsheet shows them
    assert audited(sheet, "FX42") == [_fx42("D6", "74,000,000,000.5", "56,000,000,000")]


def test_given_a_total_of_long_fractions_when_audited_then_the_message_rounds_them_to_what_matters() -> None:
    # Given D2:D5 formulas showing thirds (D2 10.333..., the others typed) and D6 typed 70
    sheet = grid(_totals(D2="=31/3", D6=70))
    sheet.values[1][3] = 31 / 3
    # When audited / Then the sum shows its digits up to ten significant ones, no float noise
    assert audited(sheet, "FX42") == [_fx42("D6", "70", "36.33333333")]


def test_given_totals_written_as_additions_when_audited_then_a_stale_typed_one_is_high() -> None:
    # Given row 6 totals written =X2+X3+X4+X5 (a SUM by hand) and D6 typed 74 where D2:D5 add up to 56
    sheet = grid(_totals("={c}2+{c}3+{c}4+{c}5", D6=74))
    # When audited / Then FX42, as for =SUM(D2:D5)
    assert audited(sheet, "FX42") == [
        ("S!D6", "FX42", "high", "typed total 74, but =D2+D3+D4+D5 copied from B6 gives 56", "=D2+D3+D4+D5")
    ]


def test_given_totals_that_subtract_when_audited_then_a_typed_figure_is_not_judged_as_a_total() -> None:
    # Given row 6 =X2+X3-X4+X5 (a net, not a total) and D6 typed 74
    sheet = grid(_totals("={c}2+{c}3-{c}4+{c}5", D6=74))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


@pytest.mark.parametrize("figure", [10**400, float("inf"), float("nan"), "#REF!", "1e999"])
def test_given_a_hostile_figure_when_audited_then_the_total_is_not_judged(figure: object) -> None:
    # Given D2 a figure no float sum can take (an integer of 400 digits, an infinity, NaN, an error, text)
    sheet = grid(_totals(D2=figure, D6=74))
    # When audited / Then no FX42 and no crash
    assert audited(sheet, "FX42") == []


def test_given_copies_whose_range_stops_short_of_the_figures_when_audited_then_the_full_typed_total_is_not_stale() -> (
    None
):
    # Given row 6's copies =SUM(X2:X4), one row short of the figures in rows 2-5, and D6 typed 56,
    # the sum of all of D2:D5: the copies are wrong (FX28's finding), the typed total is right
    sheet = grid(_totals("=SUM({c}2:{c}4)", D6=56))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_copies_that_stop_short_and_a_total_that_matches_neither_sum_when_audited_then_it_is_stale() -> None:
    # Given the same short copies =SUM(X2:X4) and D6 typed 74: neither D2:D4 (40) nor D2:D5 (56)
    sheet = grid(_totals("=SUM({c}2:{c}4)", D6=74))
    # When audited / Then FX42 with what the copy gives
    assert audited(sheet, "FX42") == [
        ("S!D6", "FX42", "high", "typed total 74, but =SUM(D2:D4) copied from B6 gives 40", "=SUM(D2:D4)")
    ]


def test_given_a_range_holding_typed_subtotals_when_audited_then_the_grand_total_typed_is_not_stale() -> None:
    # Given the two sections' subtotals typed in (rows 4 and 7, no formula to tell them by), row 8's
    # copies =SUM(X2:X7) counting each figure twice, and D8 typed 100, the sum of D's figures
    cells: dict[tuple[int, int], object] = {}
    for col, (a, b, c, d) in _SECTIONS.items():
        column = chr(64 + col)
        cells.update({(2, col): a, (3, col): b, (4, col): a + b, (5, col): c, (6, col): d, (7, col): c + d})
        cells[(8, col)] = f"=SUM({column}2:{column}7)"
    cells[(8, 4)] = 100
    sheet = grid(cells)
    # When audited / Then no FX42: the copies give twice the figures' total (200), and 100 is below the
    # sum of all figures but the largest (130): no total left behind
    assert audited(sheet, "FX42") == []


def test_given_a_formula_figure_showing_a_whole_number_when_audited_then_it_gets_no_half_unit() -> None:
    # Given D2 a formula showing 30 (its digits were not typed, so not rounded by hand), D3:D5 typed to
    # one decimal (sum 55.9) and D6 typed 56.4: 0.5 off, beyond the 0.2 the typed digits explain
    sheet = grid(_totals(D2="=D4*10", D3=6.9, D4=3.1, D5=15.9, D6=56.4))
    sheet.values[1][3] = 30
    # When audited / Then FX42
    assert audited(sheet, "FX42") == [_fx42("D6", "56.4", "55.9")]


def test_given_copies_whose_range_starts_late_when_audited_then_the_full_typed_total_is_not_stale() -> None:
    # Given row 6's copies =SUM(X3:X5), missing the figures of row 2, and D6 typed 56, the sum of D2:D5
    sheet = grid(_totals("=SUM({c}3:{c}5)", D6=56))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_figures_of_negative_zero_added_by_hand_when_audited_then_their_sum_shows_as_0() -> None:
    # Given row 6 =X2+X3+X4+X5, D2:D5 all -0.0 (as JSON may send them) and D6 typed 5
    sheet = grid(_totals("={c}2+{c}3+{c}4+{c}5", D2=-0.0, D3=-0.0, D4=-0.0, D5=-0.0, D6=5))
    # When audited / Then the sum reads 0, not -0
    assert audited(sheet, "FX42") == [
        ("S!D6", "FX42", "high", "typed total 5, but =D2+D3+D4+D5 copied from B6 gives 0", "=D2+D3+D4+D5")
    ]


def test_given_a_date_typed_in_a_column_of_dates_among_totals_when_audited_then_it_is_no_stale_total() -> None:
    # Given column D holding dates (serial numbers 45292-45295, 1-4 Jan 2024) and D6 typed the
    # report's date, 45300 (9 Jan 2024): larger than each date, yet no total of them (they add up
    # to 181,174; a total left behind when one figure changed is at least the sum of the others)
    sheet = grid(_totals(D2=45292, D3=45293, D4=45294, D5=45295, D6=45300))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_a_total_typed_before_a_line_was_filled_in_when_audited_then_it_is_stale() -> None:
    # Given D2:D5 10 each and D6 typed 30: the total of the three lines that were there (D5 filled in later)
    sheet = grid(_totals(D2=10, D3=10, D4=10, D5=10, D6=30))
    # When audited / Then FX42 (30 is the sum of the other figures, the least a total left behind can be)
    assert audited(sheet, "FX42") == [_fx42("D6", "30", "40")]


def test_given_a_typed_number_below_the_sum_of_all_figures_but_one_when_audited_then_it_is_no_total() -> None:
    # Given D2:D5 10 each and D6 typed 29: not even the sum of any three of them
    sheet = grid(_totals(D2=10, D3=10, D4=10, D5=10, D6=29))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def _row_totals_sheet(typed: int) -> Sheet:
    # _totals's figures with G2:G5 adding their rows (=SUM(B2:F2)..., cached), row 6's copies
    # running on to G6 =SUM(G2:G5), and G6 typed ``typed`` (the rows add up to 252)
    cells = _totals()
    for row in range(2, 6):
        cells[(row, 7)] = f"=SUM(B{row}:F{row})"
    cells[(6, 7)] = typed
    sheet = grid(cells)
    for row, figures in _FIGURES.items():
        sheet.values[row - 1][6] = sum(figures)
    return sheet


def test_given_a_stale_total_of_formula_figures_when_judged_then_it_spends_none_of_the_check_budget() -> None:
    # Given the least work budget with which the region check finishes when G6 is typed right (252)
    def stops(sheet: Sheet, budget: int) -> bool:
        return any(rule == "FX90" for _, rule, *_ in audited(sheet, "FX31", "FX42", work_budget=budget))

    right = _row_totals_sheet(252)
    least = next(budget for budget in range(1, 5_000) if not stops(right, budget))
    # When G6 is typed stale (240) and audited with that budget
    found = audited(_row_totals_sheet(240), "FX42", work_budget=least)
    # Then it finishes and judges G6: reading whether its figures are subtotals is not charged to
    # the check (its cells are within the allowance charged for evaluating the copy)
    assert found == [
        ("S!G6", "FX42", "high", "typed total 240, but =SUM(G2:G5) copied from B6 gives 252", "=SUM(G2:G5)")
    ]


# Mutation of stale_totals.py (2026-12-02): totals down a column of row totals, copies that stop
# short by more than one line or on both sides, totals above their figures, and how figures show.


def _finding(cell: str, typed: str, formula: str, example: str, total: str) -> Row:
    return (
        f"S!{cell}",
        "FX42",
        "high",
        f"typed total {typed}, but {formula} copied from {example} gives {total}",
        formula,
    )


def _row_totals(copy: str, **changes: object) -> dict[tuple[int, int], object]:
    # _FIGURES turned a quarter: rows 2-6 hold figures in B:E, column F totals each row with
    # ``copy`` ({r} the row). Row 4's figures: 30, 7, 3, 16 (sum 56).
    cells: dict[tuple[int, int], object] = {}
    for j, row in enumerate(range(2, 7)):
        for i, figures in enumerate(_FIGURES.values()):
            cells[(row, 2 + i)] = figures[j]
        cells[(row, 6)] = copy.format(r=row)
    for address, item in changes.items():
        cells[(int(address[1:]), ord(address[0]) - 64)] = item
    return cells


def test_given_row_totals_that_stop_short_of_the_last_figure_when_audited_then_the_full_typed_total_is_right() -> None:
    # Given F2:F6 =SUM(Bn:Dn), one column short of E, and F4 typed 56, the sum of B4:E4
    sheet = grid(_row_totals("=SUM(B{r}:D{r})", F4=56))
    # When audited / Then no FX42: the copies are wrong (FX28's finding), the typed total right
    assert audited(sheet, "FX42") == []


def test_given_row_totals_that_start_late_when_audited_then_the_full_typed_total_is_right() -> None:
    # Given F2:F6 =SUM(Cn:En), missing B, and F4 typed 56
    sheet = grid(_row_totals("=SUM(C{r}:E{r})", F4=56))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_a_gap_among_a_rows_figures_when_audited_then_the_figures_after_it_count() -> None:
    # Given C4 empty (B4 30, D4 3, E4 16 left) and F4 typed 99
    sheet = grid(_row_totals("=SUM(B{r}:E{r})", C4=None, F4=99))
    # When audited / Then FX42 against the three figures
    assert audited(sheet, "FX42") == [_finding("F4", "99", "=SUM(B4:E4)", "F2", "49")]


def test_given_copies_two_lines_short_when_audited_then_both_lines_past_them_count() -> None:
    # Given row 6's copies =SUM(X2:X3) and D6 typed 56, the sum of D2:D5
    sheet = grid(_totals("=SUM({c}2:{c}3)", D6=56))
    # When audited / Then no FX42: 37 and the 3 and 16 past the range make 56
    assert audited(sheet, "FX42") == []


def test_given_more_figures_past_the_copies_than_their_range_is_long_when_audited_then_only_as_many_are_read() -> None:
    # Given figures in rows 2-7, row 8's copies =SUM(X2:X3) (two lines) and D8 typed 56, the sum of
    # D2:D5: the four lines up to the range's length past it, not D6 and D7 as well
    cells = _totals("=SUM({c}2:{c}3)", D8=56)
    for col in range(2, 7):
        cells[(6, col)], cells[(7, col)], cells[(8, col)] = 4, 5, cells[(6, col)]
    cells[(8, 4)] = 56
    sheet = grid(cells)
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_copies_short_on_both_sides_when_audited_then_the_lines_before_and_after_count_together() -> None:
    # Given row 6's copies =SUM(X3:X4) (10 in D) and D6 typed 56: D2 (30) before, D5 (16) after
    sheet = grid(_totals("=SUM({c}3:{c}4)", D6=56))
    # When audited / Then no FX42
    assert audited(sheet, "FX42") == []


def test_given_totals_above_their_figures_that_start_late_when_audited_then_the_walk_stops_at_the_total() -> None:
    # Given row 1 =SUM(X3:X5) over figures in rows 2-5 and D1 typed 56, the sum of D2:D5
    cells = _totals(D6=None, B6=None, C6=None, E6=None, F6=None)
    for col in range(2, 7):
        cells[(1, col)] = f"=SUM({chr(64 + col)}3:{chr(64 + col)}5)"
    cells[(1, 4)] = 56
    sheet = grid({key: item for key, item in cells.items() if item is not None})
    # When audited / Then no FX42: D2 above the range makes 56 (the walk up stops at D1 itself)
    assert audited(sheet, "FX42") == []


def test_given_two_cells_named_when_audited_then_the_cells_between_them_are_no_line_past_the_copies() -> None:
    # Given row 6 =SUM(X2,X5) (46 in D) and D6 typed 53, which is 46 and D3's 7
    sheet = grid(_totals("=SUM({c}2,{c}5)", D6=53))
    # When audited / Then FX42: only a single range can stop short
    assert audited(sheet, "FX42") == [_finding("D6", "53", "=SUM(D2,D5)", "B6", "46")]


def test_given_numeric_text_just_past_short_copies_when_audited_then_it_is_no_line_they_stop_short_of() -> None:
    # Given row 6's copies =SUM(X2:X4) (40 in D), D5 the text "16" and D6 typed 56
    sheet = grid(_totals("=SUM({c}2:{c}4)", D5="16", D6=56))
    # When audited / Then FX42: SUM would skip the text, so 56 is no sum of D2:D5
    assert audited(sheet, "FX42") == [_finding("D6", "56", "=SUM(D2:D4)", "B6", "40")]


@pytest.mark.parametrize(
    ("figure", "formula"),
    [((2, 4), "=SUM(D5:D9)"), ((5, 4), "=SUM(D1:D2)")],
    ids=["its-range-starts-on-the-last-line", "its-range-ends-on-the-first-line"],
)
def test_given_a_figure_whose_range_touches_the_block_at_one_line_when_audited_then_it_is_a_subtotal(
    figure: tuple[int, int], formula: str
) -> None:
    # Given a formula among D2:D5 whose SUM shares one line with D2:D5, and D6 typed 74
    cells = _totals(D6=74)
    cells[figure] = formula
    sheet = grid(cells)
    sheet.values[figure[0] - 1][figure[1] - 1] = 30 if figure[0] == 2 else 16
    # When audited / Then no FX42: a figure adding figures of the block counts them twice
    assert audited(sheet, "FX42") == []


def test_given_a_figure_that_counts_whole_columns_and_rows_elsewhere_when_audited_then_it_is_a_figure() -> None:
    # Given D3 =COUNT(H:H)+SUM(9:9) showing 7 (no line of D2:D5 in either) and D6 typed 74
    cells = _totals(D6=74)
    cells[(3, 4)] = "=COUNT(H:H)+SUM(9:9)"
    sheet = grid(cells)
    sheet.values[2][3] = 7
    # When audited / Then FX42 as with D3 typed 7
    assert audited(sheet, "FX42") == [_fx42("D6", "74", "56")]


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (12_345_678_901.123456, "12,345,678,901"),
        (0.0001234567891234, "0.000123457"),
        (1e-6, "0.000001"),
        (1e15, "1e+15"),
    ],
    ids=["eleven-digits-and-a-long-fraction", "a-small-fraction", "one-millionth", "ten-to-the-fifteen"],
)
def test_shown_gives_ten_digits_without_an_exponent_between_a_millionth_and_ten_to_the_fifteen(
    number: float, text: str
) -> None:
    assert shown(number) == text
