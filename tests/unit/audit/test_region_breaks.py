"""Severity of region breaks: a lone slip is high, layout and equivalent spellings are not."""

from __future__ import annotations

import pytest
from sheetbrain.engine import CHECKS, Sheet, audit_sheet
from sheetbrain.engine.equivalence import canonical, reference_texts
from sheetbrain.engine.parser import parse
from sheetbrain.engine.refs import r1c1_pattern
from sheetbrain.engine.regions import as_sum, skeleton_of


def _column_of_products(override: dict[int, str | float] | None = None) -> Sheet:
    # Given a label column, two input columns and eight copies of =B*C down column D (rows 1-8)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 9):
        formula: str | float | None = f"=B{row}*C{row}"
        if override and row in override:
            formula = override[row]
        values.append([f"item {row}", row, 10 * row, formula if isinstance(formula, float) else None])
        formulas.append([None, None, None, formula if isinstance(formula, str) else None])
    return Sheet("Q3", formulas, values, "A1")


def _findings(sheet: Sheet, rule: str) -> set[tuple[str | None, str]]:
    return {(f.cell, f.severity) for f in audit_sheet(sheet) if f.rule == rule}


def test_given_one_reference_moved_in_a_column_of_copies_when_audited_then_high() -> None:
    # When D5 reads the row below for one input
    sheet = _column_of_products({5: "=B6*C5"})
    # Then D5 alone is reported, high, with the copy it should be
    findings = [f for f in audit_sheet(sheet) if f.rule == "FX30"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!D5", "high", "=B5*C5")]
    assert findings[0].message == (
        "formula differs from its column region like D1 (=B1*C1) (the only cell of the run that breaks it)"
    )


def test_given_one_operator_swapped_over_the_same_cells_when_audited_then_high() -> None:
    assert _findings(_column_of_products({4: "=B4/C4"}), "FX30") == {("Q3!D4", "high")}


def test_given_commuted_operands_when_audited_then_no_region_finding() -> None:
    # =C3*B3 computes what =B3*C3 does: no inconsistency, whatever the spelling
    assert _findings(_column_of_products({3: "=C3*B3"}), "FX30") == set()


def test_given_a_sum_written_with_plus_in_a_row_of_sums_when_audited_then_no_region_finding() -> None:
    # Given totals =SUM(x1:x3) across row 4, and C4 written as =C1+C2+C3
    formulas: list[list[str | None]] = [[None] * 5 for _ in range(3)]
    values: list[list[object]] = [[1, 2, 3, 4, 5] for _ in range(3)] + [[None] * 5]
    formulas.append(["=SUM(A1:A3)", "=SUM(B1:B3)", "=C1+C2+C3", "=SUM(D1:D3)", "=SUM(E1:E3)"])
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == set()


def _row_of_section_totals(totals: list[str]) -> Sheet:
    # Figures in rows 1-3 and 5-7 of columns A-D, and ``totals`` across row 4 (A4..D4)
    formulas: list[list[str | None]] = [[None] * 4 for _ in range(7)]
    values: list[list[object]] = [[10 * r + c for c in range(1, 5)] for r in range(1, 8)]
    values[3] = [None] * 4
    formulas[3] = list(totals)
    return Sheet("Q3", formulas, values, "A1")


def test_given_a_total_of_the_rows_above_among_totals_of_the_rows_below_one_spelled_with_plus_then_high() -> None:
    # Given section totals of rows 5-7 across row 4, C4 spelled =C5+C6+C7, and B4 adding rows 1-3
    sheet = _row_of_section_totals(["=SUM(A5:A7)", "=SUM(B1:B3)", "=C5+C6+C7", "=SUM(D5:D7)"])
    # When audited / Then B4 is the one break of a run of three totals, high, with the copy it should be
    findings = [f for f in audit_sheet(sheet) if f.rule == "FX30"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!B4", "high", "=SUM(B5:B7)")]


@pytest.mark.parametrize(
    "chain",
    ["=C6+C7", "=C5+C6+C7+C8", "=C5+D6+C7"],
    ids=["other rows", "one more row", "not one column"],
)
def test_given_a_plus_chain_that_is_no_copy_of_the_sums_then_the_totals_are_no_region_of_three(chain: str) -> None:
    # Given the same row, C4 a chain that adds other cells than =SUM(C5:C7) would
    sheet = _row_of_section_totals(["=SUM(A5:A7)", "=SUM(B1:B3)", chain, "=SUM(D5:D7)"])
    # When audited / Then B4 is no lone break: two totals of one shape are no region of three
    assert ("Q3!B4", "high") not in _findings(sheet, "FX30")


def test_given_a_plus_chain_of_the_same_cells_out_of_order_then_it_is_a_copy_of_the_sum() -> None:
    # Given C4 spelled =C5+C7+C6: the order of a sum does not matter
    sheet = _row_of_section_totals(["=SUM(A5:A7)", "=SUM(B1:B3)", "=C5+C7+C6", "=SUM(D5:D7)"])
    # When audited / Then B4 is the lone break of three totals
    assert ("Q3!B4", "high") in _findings(sheet, "FX30")


def test_given_a_row_of_plus_chains_and_sums_when_one_chain_reads_a_moved_cell_then_high() -> None:
    # Given totals of rows 1-2 across row 3, written =A1+A2 in some columns and =SUM(x1:x2) in others
    formulas: list[list[str | None]] = [[None] * 6, [None] * 6]
    formulas.append(["=A1+A2", "=B1+B2", "=SUM(C1:C2)", "=D1+E2", "=E1+E2", "=SUM(F1:F2)"])
    values: list[list[object]] = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [None] * 6]
    # When D3 reads E2 for D2 / Then it is the one break, high, though the region's pattern is the SUM's
    findings = [f for f in audit_sheet(Sheet("Q3", formulas, values, "A1")) if f.rule == "FX30"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!D3", "high", "=D1+D2")]


def _fx31(sheet: Sheet) -> list[tuple[str | None, str, str, str | None]]:
    return [(f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule == "FX31"]


def test_given_the_last_copy_replaced_by_its_value_when_audited_then_advice_with_the_formula() -> None:
    # Given D8, below seven copies of =B*C, typed as 640: what =B8*C8 gives (8 * 80)
    sheet = _column_of_products({8: 640.0})
    # When audited / Then advice (a total typed in looks the same), with the formula to put back
    assert _fx31(sheet) == [
        (
            "Q3!D8",
            "medium",
            "typed value just past a column region like D1 (the typed value equals the formula's result today, "
            "but will not follow its inputs)",
            "=B8*C8",
        )
    ]


@pytest.mark.parametrize(
    "override",
    [{8: 641.0}, {1: 10.0}],
    ids=["past the copies, another figure", "before the copies, their result (a seed)"],
)
def test_given_a_typed_figure_at_an_end_of_the_copies_that_is_no_pasted_result_then_no_finding(
    override: dict[int, str | float],
) -> None:
    assert _fx31(_column_of_products(override)) == []


def test_given_a_figure_of_its_own_past_a_row_of_copies_then_a_break_further_down_is_still_reported() -> None:
    # Given =B*C down D1:D8 with D5 reading B6 (a lone break), and along row 1 copies =D1*2, =E1*2,
    # =F1*2 in E1:G1 followed by H1 typed 5, not what =G1*2 gives there (160)
    formulas: list[list[str | None]] = [[None, None, None, f"=B{r}*C{r}"] + [None] * 4 for r in range(1, 9)]
    formulas[4][3] = "=B6*C5"
    formulas[0][4:7] = ["=D1*2", "=E1*2", "=F1*2"]
    values: list[list[object]] = [[None, r, 10 * r, None, None, None, None, None] for r in range(1, 9)]
    values[0][7] = 5
    # When audited / Then the row's typed 5 (checked first, along the rows) is no finding and D5 is high
    findings = [
        (f.cell, f.severity) for f in audit_sheet(Sheet("Q3", formulas, values, "A1")) if f.rule in ("FX30", "FX31")
    ]
    assert findings == [("Q3!D5", "high")]


def test_given_hand_typed_copies_when_the_next_cell_holds_their_result_then_it_is_read_through_the_fixed_cell() -> None:
    # Given =A<r>/C10 typed down D1:D6 without $ (each pointing at C10 = 4) and D7 typed 1.75 = A7/C10
    formulas: list[list[str | None]] = [[None, None, None, f"=A{r}/C10"] for r in range(1, 7)] + [[None] * 4] * 4
    values: list[list[object]] = [[r, None, None, None] for r in range(1, 8)] + [[None] * 4] * 3
    values[6][3] = 1.75
    values[9][2] = 4
    # When audited / Then D7 is advice with the copy that reads C10 (read relatively from D7, C13 is empty)
    assert [
        (f.cell, f.severity, f.suggestion) for f in audit_sheet(Sheet("Q3", formulas, values, "A1")) if f.rule == "FX31"
    ] == [("Q3!D7", "medium", "=A7/C10")]


def test_given_a_typed_zero_past_copies_that_would_give_zero_when_audited_then_no_finding() -> None:
    # Given copies of =A*B in C1:C7 and 0 typed in C8, where A8 is 0: zero agrees with too much
    formulas: list[list[str | None]] = [[None, None, f"=A{r}*B{r}"] for r in range(1, 8)] + [[None, None, None]]
    values: list[list[object]] = [[r, 10 * r, None] for r in range(1, 8)] + [[0, 80, 0]]
    assert _fx31(Sheet("Q3", formulas, values, "A1")) == []


def test_given_copies_typed_by_hand_with_two_fixed_cells_when_one_slipped_then_it_alone_is_high() -> None:
    # Given =A<r>/C10+D10 typed down E1:E6 without $ (two relative references pinned to C10 and D10,
    # each written differently in every row), and E4 reading C9 instead of C10
    formulas: list[list[str | None]] = [[None] * 4 + [f"=A{r}/C10+D10"] for r in range(1, 7)]
    formulas[3][4] = "=A4/C9+D10"
    values: list[list[object]] = [[r, None, None, None, None] for r in range(1, 7)]
    values += [[None] * 5] * 2 + [[None, None, 3, None, None], [None, None, 4, 5, None]]
    formulas += [[None] * 5] * 4
    # When audited / Then E4 is the one break, high, and its copy reads C10 and D10
    findings = [f for f in audit_sheet(Sheet("Q3", formulas, values, "A1")) if f.rule == "FX30"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!E4", "high", "=A4/C10+D10")]


def test_given_a_typed_value_met_as_advice_along_its_row_and_as_a_lone_break_down_its_column_then_high() -> None:
    # Given =D*E down F1:F8 with F5 typed 250 (= D5*E5: a pasted value), and row 5 holding copies
    # =A5*B5, =B5*C5, =C5*D5 in C5:E5, so F5 is also a typed value just past a row of copies
    formulas: list[list[str | None]] = [[None] * 5 + [f"=D{r}*E{r}"] for r in range(1, 9)]
    values: list[list[object]] = [[None, None, None, r, 10 * r, None] for r in range(1, 9)]
    formulas[4][2:5] = ["=A5*B5", "=B5*C5", "=C5*D5"]
    values[4][:2] = [2, 3]
    formulas[4][5], values[4][5] = None, 250
    # When audited / Then F5 is reported once, as the stronger of the two: high
    found = [(f.cell, f.severity) for f in audit_sheet(Sheet("Q3", formulas, values, "A1")) if f.rule == "FX31"]
    assert found == [("Q3!F5", "high")]


def test_given_a_total_of_the_column_totals_at_the_end_of_their_row_then_no_region_finding() -> None:
    # Given column totals C4:F4 of C1:F3 and G4 adding them across, with nothing above G4
    formulas: list[list[str | None]] = [[None] * 7 for _ in range(3)]
    formulas.append([None, None, "=SUM(C1:C3)", "=SUM(D1:D3)", "=SUM(E1:E3)", "=SUM(F1:F3)", "=SUM(C4:F4)"])
    values: list[list[object]] = [[None, None, 1, 2, 3, 4, None] for _ in range(3)] + [[None] * 7]
    # When audited / Then G4, computed from the copies, is no copy that slipped: no FX30
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == set()


def test_given_a_formula_past_the_copies_that_reads_the_last_copy_then_no_region_finding() -> None:
    # Given copies =C1*2, =D1*2, =E1*2 in C2:E2 and F2 =E2*2, which doubles the last copy
    formulas: list[list[str | None]] = [[None] * 6, [None, None, "=C1*2", "=D1*2", "=E1*2", "=E2*2"]]
    values: list[list[object]] = [[None, None, 1, 2, 3, 4], [None] * 6]
    # When audited / Then F2 is computed from a copy, not a copy that slipped: no FX30
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == set()


def test_given_a_grand_total_below_row_totals_whose_range_starts_above_them_then_no_region_finding() -> None:
    # Given row totals =SUM(A:B) in C5:C8 under a heading in C1, and C9 =SUM(C1:C8)
    formulas: list[list[str | None]] = [[None] * 3 for _ in range(4)]
    formulas += [[None, None, f"=SUM(A{r}:B{r})"] for r in range(5, 9)] + [[None, None, "=SUM(C1:C8)"]]
    values: list[list[object]] = [[None, None, "Total"]] + [[None] * 3] * 3
    values += [[r, 2 * r, None] for r in range(5, 9)] + [[None] * 3]
    # When audited / Then C9, the total of the copies, is no copy that slipped: no FX30
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == set()


def test_given_two_breaks_in_one_run_when_audited_then_advice_only() -> None:
    # Two cells of one run compute otherwise (a constant of their own): deliberate layout as likely as slips
    sheet = _column_of_products({3: "=B3+C3*2", 6: "=B6-C6*3"})
    assert _findings(sheet, "FX30") == {("Q3!D3", "medium"), ("Q3!D6", "medium")}


def test_given_two_references_moved_in_one_run_each_between_copies_when_audited_then_both_are_high() -> None:
    # Two cells of one run each read a neighbouring row for one input, copies on both sides of each
    sheet = _column_of_products({3: "=B2*C3", 6: "=B6*C7"})
    assert _findings(sheet, "FX30") == {("Q3!D3", "high"), ("Q3!D6", "high")}


def test_given_an_operator_swapped_between_copies_in_a_run_with_another_break_when_audited_then_it_is_high() -> None:
    # Given D3 another computation (advice: two breaks in the run) and D6 =B6/C6 between copies
    sheet = _column_of_products({3: "=B3+C3*2", 6: "=B6/C6"})
    # When audited
    findings = {f.cell: f for f in audit_sheet(sheet) if f.rule == "FX30"}
    # Then D6 is high all the same: the same cells and constants, combined another way
    assert {(cell, f.severity) for cell, f in findings.items()} == {("Q3!D3", "medium"), ("Q3!D6", "high")}
    assert findings["Q3!D6"].message == (
        "formula differs from its column region like D1 (=B1*C1)"
        " (between copies, over the same cells, constants and functions: an operator changed)"
    )
    assert findings["Q3!D6"].suggestion == "=B6*C6"


def test_given_a_reference_moved_between_copies_in_a_run_with_another_break_when_audited_then_it_is_high() -> None:
    # Given D3 another computation (advice) and D6 =B7*C6 between copies
    sheet = _column_of_products({3: "=B3+C3*2", 6: "=B7*C6"})
    # When audited
    findings = sorted((f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule == "FX30")
    # Then D6 is high: the same computation over another cell, copies on both sides
    assert findings == [
        ("Q3!D3", "medium", "formula differs from its column region like D1 (=B1*C1)", "=B3*C3"),
        (
            "Q3!D6",
            "high",
            "formula differs from its column region like D1 (=B1*C1)"
            " (between copies, the same computation over other cells: a reference moved)",
            "=B6*C6",
        ),
    ]


def _row_totals(row_six: str, other: int = 3) -> Sheet:
    # =SUM(B:D) down E (rows 1-10), E<other> =B*2 (another computation) and E6 as given
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 11):
        breaks = {other: f"=B{other}*2", 6: row_six}
        formulas.append([None, None, None, None, breaks.get(row, f"=SUM(B{row}:D{row})")])
        values.append(["x", row, row, row, None])
    return Sheet("Q3", formulas, values, "A1")


def test_given_a_subtotal_of_the_copies_below_among_row_totals_when_audited_then_advice() -> None:
    # Given E6 =SUM(E7:E9): the same shape as the row totals, over the totals below it
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=SUM(E7:E9)")) if f.rule == "FX30"}
    # When audited / Then advice: it reads the copies beside it, it is no copy that slipped
    assert findings == {("Q3!E3", "medium"), ("Q3!E6", "medium")}


def test_given_an_of_which_line_over_earlier_totals_among_row_totals_when_audited_then_advice() -> None:
    # Given E6 =SUM(E1:E2): the same shape as the row totals, over two totals further up (an "of which" line)
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=SUM(E1:E2)")) if f.rule == "FX30"}
    # When audited / Then advice: it adds the run's own results, which no copy reads; no reference slips there
    assert findings == {("Q3!E3", "medium"), ("Q3!E6", "medium")}


def test_given_a_running_balance_that_skips_a_copy_among_other_breaks_when_audited_then_high() -> None:
    # Given a running balance =D(n-1)+Bn-Cn down D (rows 2-12), D4 adding no outflow (another computation)
    # and D8 =D6+B8-C8: it skips D7, whose movements the balance then loses
    formulas: list[list[str | None]] = [[None] * 4]
    values: list[list[object]] = [["x", 0, 0, 100]]
    for row in range(2, 13):
        balance = {4: "=D3+B4", 8: "=D6+B8-C8"}.get(row, f"=D{row - 1}+B{row}-C{row}")
        formulas.append([None, None, None, balance])
        values.append(["x", row, 1, None])
    # When audited / Then D8 is high: the copies read their own column too, so reading it is no sign of a subtotal
    findings = _findings(Sheet("Q3", formulas, values, "A1"), "FX30")
    assert findings == {("Q3!D4", "medium"), ("Q3!D8", "high")}


def test_given_a_row_total_that_adds_the_next_row_among_row_totals_when_audited_then_high() -> None:
    # Given E6 =SUM(B7:D7): the row below's figures, not its own
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=SUM(B7:D7)")) if f.rule == "FX30"}
    # When audited / Then high
    assert findings == {("Q3!E3", "medium"), ("Q3!E6", "high")}


def test_given_an_average_among_row_totals_in_a_run_with_another_break_when_audited_then_advice() -> None:
    # Given E6 =AVERAGE(B6:D6) among =SUM row totals (a row of rates, whose figures do not add)
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=AVERAGE(B6:D6)")) if f.rule == "FX30"}
    # When audited / Then advice: another function is a choice of statistic, no keystroke slips into it
    assert findings == {("Q3!E3", "medium"), ("Q3!E6", "medium")}


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ("=B6*C6*2", "a constant added: another computation"),
        ("=B6+C6*2", "another operator and a constant: another computation"),
    ],
)
def test_given_a_second_break_that_is_no_operator_swap_when_audited_then_advice(second: str, why: str) -> None:
    # Given D3 another computation and D6 changed otherwise
    sheet = _column_of_products({3: "=B3+C3*2", 6: second})
    # When audited / Then both stay advice
    assert _findings(sheet, "FX30") == {("Q3!D3", "medium"), ("Q3!D6", "medium")}, why


def test_given_the_same_operator_swap_recurring_in_one_run_when_audited_then_advice() -> None:
    # Given =B+C down D and D5, D10, D15 =B-C (deduction rows among additions, one in every five)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 19):
        formulas.append([None, None, None, f"=B{row}-C{row}" if row % 5 == 0 else f"=B{row}+C{row}"])
        values.append(["x", row, row, None])
    # When audited / Then advice: the same other formula again and again is a kind of row, no slip
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {
        ("Q3!D5", "medium"),
        ("Q3!D10", "medium"),
        ("Q3!D15", "medium"),
    }


def test_given_a_stretch_alternating_two_formulas_in_a_run_of_copies_when_audited_then_advice() -> None:
    # Given =B+C down D (rows 1-30), rows 12, 14 and 16 =B-C: an A,B,A,B stretch, each B between two A's
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 31):
        formulas.append([None, None, None, f"=B{row}-C{row}" if row in (12, 14, 16) else f"=B{row}+C{row}"])
        values.append(["x", row, row, None])
    # When audited / Then advice: copies on both sides of each, but the same other formula three times
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {
        ("Q3!D12", "medium"),
        ("Q3!D14", "medium"),
        ("Q3!D16", "medium"),
    }


def test_given_two_shares_of_another_total_in_a_column_of_shares_when_audited_then_advice() -> None:
    # Given =B/$B$20 down D (shares of the grand total), and D4 and D9 =B/$B$21 (shares of another total)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 13):
        formulas.append([None, None, None, f"=B{row}/$B$21" if row in (4, 9) else f"=B{row}/$B$20"])
        values.append(["x", row, row, None])
    # When audited / Then advice: both read the same other total, as written on purpose
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {("Q3!D4", "medium"), ("Q3!D9", "medium")}


def test_given_an_operator_swapped_next_to_another_break_when_audited_then_no_high() -> None:
    # Given D5 a moved reference and D6 =B6/C6 right below it: D6 has no copy above
    sheet = _column_of_products({5: "=B4*C5", 6: "=B6/C6"})
    # When audited / Then nothing: two different formulas side by side are a block of their own
    assert _findings(sheet, "FX30") == set()


def test_given_an_operator_swapped_in_a_row_computed_otherwise_across_when_audited_then_advice() -> None:
    # Given =B*C down D, with D3 a moved reference, and row 6 computing =B6/C6 in D and E alike
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 9):
        d = {3: "=B3+C3*2", 6: "=B6/C6"}.get(row, f"=B{row}*C{row}")
        e = "=C6/D6" if row == 6 else f"=C{row}*D{row}"
        formulas.append([None, None, None, d, e])
        values.append(["x", row, row, None, None])
    # When audited / Then D6 is part of a line across (E6 is its copy along the row): advice, as E6
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {
        ("Q3!D3", "medium"),
        ("Q3!D6", "medium"),
        ("Q3!E6", "medium"),
    }


def test_given_a_constant_changed_between_copies_in_a_run_with_another_break_when_audited_then_advice() -> None:
    # Given =B*C/61 copies, D3 another computation, D6 =B6*C6/73 (a divisor of its own, as a leap year's)
    rows = {r: f"=B{r}*C{r}/61" for r in range(1, 9)}
    rows.update({3: "=B3+C3*2", 6: "=B6*C6/73"})
    sheet = _column_of_products(rows)  # type: ignore[arg-type]
    # When audited / Then advice only
    assert _findings(sheet, "FX30") == {("Q3!D3", "medium"), ("Q3!D6", "medium")}


def test_given_another_computation_on_other_cells_when_audited_then_advice_only() -> None:
    # A different formula over different cells (a ratio among products) is another computation
    assert _findings(_column_of_products({5: "=A5&B5"}), "FX30") == {("Q3!D5", "medium")}


def test_given_a_break_that_belongs_to_a_line_across_when_audited_then_advice_only() -> None:
    # Given =B*C down D and =2*D down E, and row 5 computed as a copy of =B5+C5 along the row
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 9):
        if row == 5:
            formulas.append([None, None, None, "=B5+C5", "=C5+D5"])
        else:
            formulas.append([None, None, None, f"=B{row}*C{row}", f"=2*D{row}"])
        values.append(["x", row, row, None, None])
    # Then D5 and E5 are no lone slips: each is a copy of its neighbour across (a row computed otherwise)
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {("Q3!D5", "medium"), ("Q3!E5", "medium")}


def test_given_a_counter_that_skips_a_label_when_audited_then_advice_naming_the_label() -> None:
    # Given week numbers =x1+1 along row 1, where D1 skips the label in C1
    formulas: list[list[str | None]] = [[None, "=A1+1", None, "=B1+1", "=D1+1", "=E1+1", "=F1+1"]]
    values: list[list[object]] = [[1, None, "TOTAL", None, None, None, None]]
    sheet = Sheet("Q3", formulas, values, "A1")
    findings = [f for f in audit_sheet(sheet) if f.rule == "FX30"]
    assert [(f.cell, f.severity) for f in findings] == [("Q3!D1", "medium")]
    assert findings[0].message.endswith("(copied here, the region's formula would read the label in C1)")


def test_given_a_value_pasted_over_one_copy_when_audited_then_high() -> None:
    # D6 holds 360.0, the product's value, typed over the formula
    sheet = _column_of_products({6: 360.0})
    findings = [f for f in audit_sheet(sheet) if f.rule == "FX31"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!D6", "high", "=B6*C6")]


_PASTED = "(the typed value equals the formula's result today, but will not follow its inputs)"


def test_given_a_value_pasted_between_copies_in_a_run_with_another_break_when_audited_then_high() -> None:
    # Given D3 another computation (two breaks: each alone would be advice) and D6 360.0, B6*C6 typed
    sheet = _column_of_products({3: "=B3+C3*2", 6: 360.0})
    # When audited
    findings = sorted((f.cell, f.rule, f.severity, f.message) for f in audit_sheet(sheet) if f.rule in ("FX30", "FX31"))
    # Then D6 is high: copies on both sides and every digit of their result
    assert findings == [
        ("Q3!D3", "FX30", "medium", "formula differs from its column region like D1 (=B1*C1)"),
        (
            "Q3!D6",
            "FX31",
            "high",
            f"typed value inside a column region like D1; a formula is expected {_PASTED}"
            " (between copies, it is what they give here, to every digit)",
        ),
    ]


def _column_of_ratios(typed: float) -> Sheet:
    # =B/C down D (B the row, C 3), D2 reading the row above (a second break), D5 typed
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 9):
        formulas.append([None, None, None, None if row == 5 else "=B1/C2" if row == 2 else f"=B{row}/C{row}"])
        values.append(["x", row, 3, typed if row == 5 else None])
    return Sheet("Q3", formulas, values, "A1")


def test_given_a_rounded_result_typed_between_copies_in_a_run_with_another_break_then_advice() -> None:
    # Given D5 typed 1.67 where =B5/C5 gives 1.6666...: equal to its two digits only, as a figure
    # copied by hand from the screen (no pasted value, which keeps every digit)
    findings = {(f.cell, f.severity) for f in audit_sheet(_column_of_ratios(1.67)) if f.rule == "FX31"}
    # When audited / Then advice
    assert findings == {("Q3!D5", "medium")}


def test_given_a_large_result_typed_to_its_cents_between_copies_in_a_run_with_another_break_then_advice() -> None:
    # Given B 5000 and up, so =B5/C5 gives 1,668.3333..., and D5 typed 1668.33: the figure the
    # screen shows, not every digit of the result (a pasted value keeps them all)
    sheet = _column_of_ratios(1668.33)
    for row in sheet.values:
        row[1] += 5000  # type: ignore[operator]
    # When audited / Then advice, as the same figure typed to its cents where it is small
    assert {(f.cell, f.severity) for f in audit_sheet(sheet) if f.rule == "FX31"} == {("Q3!D5", "medium")}


def test_given_the_exact_result_typed_between_copies_in_a_run_with_another_break_then_high() -> None:
    # Given D5 typed 5/3 to every digit
    findings = {(f.cell, f.severity) for f in audit_sheet(_column_of_ratios(5 / 3)) if f.rule == "FX31"}
    # When audited / Then high
    assert findings == {("Q3!D5", "high")}


def test_given_a_zero_typed_between_copies_that_give_zero_in_a_run_with_another_break_then_advice() -> None:
    # Given B6 0, so =B6*C6 gives 0, and D6 typed 0: zero agrees with too much to tell a pasted value
    sheet = _column_of_products({3: "=B3+C3*2", 6: 0.0})
    sheet.values[5][1] = 0
    # When audited / Then advice
    assert {(f.cell, f.severity) for f in audit_sheet(sheet) if f.rule == "FX31"} == {("Q3!D6", "medium")}


def test_given_a_typed_row_across_computed_columns_when_audited_then_advice_only() -> None:
    # Given =B*C in D and =2*D in E down rows 1-6, and row 4 typed in both (actuals)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 7):
        typed = row == 4
        formulas.append([None, None, None, None if typed else f"=B{row}*C{row}", None if typed else f"=2*D{row}"])
        values.append(["x", row, row, 7 if typed else None, 9 if typed else None])
    severities = _findings(Sheet("Q3", formulas, values, "A1"), "FX31")
    assert ("Q3!D4", "medium") in severities
    assert ("Q3!D4", "high") not in severities


def test_sections_total_is_advice() -> None:
    # It was right on 3 of 19 cells it flagged on workbooks it was not written for
    assert CHECKS["FX35"].severity == "medium"
    assert CHECKS["FX31"].severity == "medium"


def test_canonical_equates_spellings_of_one_sum_and_product() -> None:
    at = (5, 4)
    assert canonical(parse("=+C5+B5"), *at) == canonical(parse("=B5+C5"), *at)
    assert canonical(parse("=B5+C5+D5"), *at) == canonical(parse("=SUM(B5:D5)"), *at)
    assert canonical(parse("=SUM(B5,C5)+D5"), *at) == canonical(parse("=B5+(C5+D5)"), *at)
    assert canonical(parse("=C5*B5"), *at) == canonical(parse("=B5*C5"), *at)
    assert canonical(parse("=B5-C5"), *at) != canonical(parse("=C5-B5"), *at)
    assert canonical(parse("=B5/C5"), *at) != canonical(parse("=B5*C5"), *at)
    assert canonical(parse("=B5-(C5-D5)"), *at) == canonical(parse("=D5+B5-C5"), *at) == "+(RC,RC[-2])-(RC[-1])"
    assert canonical(parse("=B5/(C5*D5)"), *at) == canonical(parse("=B5/D5/C5"), *at)
    assert canonical(parse("=B5+C5"), *at) == "+(RC[-1],RC[-2])-()"


def test_canonical_flattens_a_long_chain_without_recursion_per_term() -> None:
    chain = parse("=" + "+".join(f"A{i}" for i in range(1, 121)))
    assert canonical(chain, 1, 2) == canonical(parse("=SUM(A1:A60)+SUM(A61:A120)"), 1, 2)


@pytest.mark.parametrize(
    ("chain", "summed"),
    [
        ("R[1]C+R[2]C+R[3]C", "SUM(R[1]C:R[3]C)"),
        ("+R[-1]C[2]+R[-2]C[2]", "SUM(R[-2]C[2]:R[-1]C[2])"),
        ("RC[-3]+RC[-2]+RC[-1]", "SUM(RC[-3]:RC[-1])"),
        ("R[2]C[-1]+R[2]C", "SUM(R[2]C[-1]:R[2]C)"),
        ("R[1]C+R[3]C", None),
        ("R[1]C+R[1]C", None),
        ("R[1]C+R[2]C[1]", None),
        ("SUM(R[1]C:R[2]C)", None),
        ("R[1]C*R[2]C", None),
        ("R1C+R2C", None),
        ("R[1]C", None),
    ],
)
def test_as_sum_reads_a_plus_chain_of_adjacent_cells_in_one_line_as_their_sum(chain: str, summed: str | None) -> None:
    assert as_sum(chain) == summed


def test_skeleton_and_references() -> None:
    def skeleton(formula: str) -> str:
        return skeleton_of(r1c1_pattern(parse(formula), 5, 4))

    assert skeleton("=B6*C5") == skeleton("=B5*C5") == "R*R"
    assert skeleton("=SUM(A1:A3)/B1") == "SUM(R:R)/R"
    assert skeleton("=SUM(A:A)/Other!$B$2") == "SUM(R:R)/R"
    assert reference_texts(parse("=B5/C5"), 5, 4) == reference_texts(parse("=C5*B5"), 5, 4) == ["RC[-1]", "RC[-2]"]


def _totals_column(first_range: str) -> Sheet:
    # Given hours in B:E for rows 1-5 and totals in F, where F1 sums first_range and F2:F5 sum B:D
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 6):
        formulas.append([None] * 5 + [f"=SUM({first_range})" if row == 1 else f"=SUM(B{row}:D{row})"])
        values.append([f"name {row}", 8, 8, 8, None, None])
    return Sheet("Q3", formulas, values, "A1")


def test_given_one_total_that_adds_more_than_its_copies_when_audited_then_the_whole_run_is_in_doubt() -> None:
    # F1 adds B1:E1, its copies stop at D: one side is wrong, the grid cannot tell which
    findings = [f for f in audit_sheet(_totals_column("B1:E1")) if f.rule == "FX33"]
    assert sorted((f.cell, f.severity) for f in findings) == [(f"Q3!F{row}", "high") for row in range(1, 6)]
    assert findings[0].message == "the totals of this column disagree on their span: F1 adds more cells than the others"


def test_given_one_total_that_adds_less_than_its_copies_when_audited_then_only_it_is_reported() -> None:
    # F1 adds B1:C1 where its copies add B:D: the short one is the slip
    sheet = _totals_column("B1:C1")
    assert {f.cell for f in audit_sheet(sheet) if f.rule == "FX33"} == set()
    assert {(f.cell, f.severity) for f in audit_sheet(sheet) if f.rule == "FX30"} == {("Q3!F1", "high")}


def test_given_the_last_copy_reads_the_wrong_row_when_audited_then_high() -> None:
    # D8, the last copy, reads B9 for B8: the same computation over other cells, at the run's end
    findings = [f for f in audit_sheet(_column_of_products({8: "=B9*C8"})) if f.rule == "FX30"]
    assert [(f.cell, f.severity, f.suggestion) for f in findings] == [("Q3!D8", "high", "=B8*C8")]


def test_given_another_computation_after_the_copies_when_audited_then_no_region_finding() -> None:
    # A total under the products (another computation at the run's end) is layout, not a slip
    assert _findings(_column_of_products({8: "=SUM(D1:D7)"}), "FX30") == set()


def test_given_a_column_of_differences_with_one_sum_when_audited_then_high() -> None:
    # =B-C copied down is a computation, not a bare link: its region is checked like any other
    formulas: list[list[str | None]] = [
        [None, None, None, f"=B{r}+C{r}" if r == 4 else f"=B{r}-C{r}"] for r in range(1, 9)
    ]
    values: list[list[object]] = [["x", 10 * r, r, None] for r in range(1, 9)]
    assert _findings(Sheet("Q3", formulas, values, "A1"), "FX30") == {("Q3!D4", "high")}


def test_past_the_evaluation_allowance_typed_values_are_reported_without_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given running totals =SUM(A$1:An) down B with the typed total 15 pasted at B5 (=SUM(A1:A5))
    from sheetbrain.engine.checks import sheet as sheet_checks

    formulas: list[list[str | None]] = [[None, None if r == 5 else f"=SUM(A$1:A{r})"] for r in range(1, 9)]
    values: list[list[object]] = [[r, 15 if r == 5 else None] for r in range(1, 9)]
    grid = Sheet("Q3", formulas, values, "A1")
    # When evaluating is allowed, the finding says the value equals the formula's result today
    assert "equals the formula's result today" in next(f.message for f in audit_sheet(grid) if f.rule == "FX31")
    # When the allowance (a check budget) is smaller than the range, the value is still reported, uncompared
    monkeypatch.setattr(sheet_checks, "check_budget", lambda cells: 4)
    finding = next(f for f in audit_sheet(grid) if f.rule == "FX31")
    assert (finding.cell, finding.severity) == ("Q3!B5", "high")
    assert "equals the formula's result" not in finding.message


# Along a row, and the between-copies rules' edges: which cells are "beside", "the line", "two away".
_MOVED = " (between copies, the same computation over other cells: a reference moved)"
_COLUMNS = "ABCDEFGHIJKLM"


def _row_of_products(override: dict[int, str | float]) -> Sheet:
    # Given months in row 1, inputs in rows 2 (1..10) and 3 (10..100), and =X2*X3 across row 4 (B..K);
    # ``override`` maps a column number to the formula (or typed value) of its cell in row 4
    formulas: list[list[str | None]] = [[None] * 11 for _ in range(4)]
    values: list[list[object]] = [
        ["month"] + [f"m{c}" for c in range(1, 11)],
        ["units", *range(1, 11)],
        ["price"] + [10 * c for c in range(1, 11)],
        ["sales"] + [None] * 10,
    ]
    for col in range(2, 12):
        letter = _COLUMNS[col - 1]
        cell = override.get(col, f"={letter}2*{letter}3")
        if isinstance(cell, str):
            formulas[3][col - 1] = cell
        else:
            values[3][col - 1] = cell
    return Sheet("Q3", formulas, values, "A1")


def _region_findings(sheet: Sheet) -> list[tuple[str | None, str, str, str]]:
    return sorted((f.cell, f.rule, f.severity, f.message) for f in audit_sheet(sheet) if f.rule in ("FX30", "FX31"))


_ROW_REGION = "formula differs from its row region like B4 (=B2*B3)"


def test_given_a_reference_moved_along_a_row_two_cells_after_another_break_when_audited_then_high() -> None:
    # Given D4 another computation and F4 =G2*F3 (units of the next month) across a row of =X2*X3
    sheet = _row_of_products({4: "=D2+D3*2", 6: "=G2*F3"})
    # When audited / Then F4 is high: its neighbours along the row (E4, G4) are copies; D4 stays advice
    assert _region_findings(sheet) == [
        ("Q3!D4", "FX30", "medium", _ROW_REGION),
        ("Q3!F4", "FX30", "high", _ROW_REGION + _MOVED),
    ]


def test_given_an_operator_swapped_along_a_row_two_cells_before_another_break_when_audited_then_high() -> None:
    # Given F4 =F2/F3 and H4 another computation across a row of =X2*X3
    sheet = _row_of_products({6: "=F2/F3", 8: "=H2+H3*2"})
    # When audited / Then F4 is high (copies in E4 and G4), H4 advice
    assert _region_findings(sheet) == [
        (
            "Q3!F4",
            "FX30",
            "high",
            _ROW_REGION + " (between copies, over the same cells, constants and functions: an operator changed)",
        ),
        ("Q3!H4", "FX30", "medium", _ROW_REGION),
    ]


def test_given_a_value_pasted_along_a_row_right_after_another_break_when_audited_then_advice() -> None:
    # Given E4 another computation, F4 typed 250 (=F2*F3 to every digit) and I4 =I2-I3
    sheet = _row_of_products({5: "=E2+E3*2", 6: 250.0, 9: "=I2-I3"})
    # When audited
    findings = _region_findings(sheet)
    # Then F4 stays advice: a copy after it, but none before it (E4 breaks too); I4 is high
    assert findings == [
        ("Q3!F4", "FX31", "medium", f"typed value inside a row region like B4; a formula is expected {_PASTED}"),
        (
            "Q3!I4",
            "FX30",
            "high",
            _ROW_REGION + " (between copies, over the same cells, constants and functions: an operator changed)",
        ),
    ]


def test_given_a_row_total_that_adds_the_next_row_two_rows_after_another_break_when_audited_then_high() -> None:
    # Given E4 another computation and E6 =SUM(B7:D7) down a column of row totals
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=SUM(B7:D7)", other=4)) if f.rule == "FX30"}
    # When audited / Then E6 is high: its neighbours down the column (E5, E7) are copies
    assert findings == {("Q3!E4", "medium"), ("Q3!E6", "high")}


def test_given_an_of_which_line_over_totals_further_down_among_row_totals_when_audited_then_advice() -> None:
    # Given E6 =SUM(E8:E10): three totals further down its own column, none beside it
    findings = {(f.cell, f.severity) for f in audit_sheet(_row_totals("=SUM(E8:E10)")) if f.rule == "FX30"}
    # When audited / Then advice: it reads the run's own results, which the copies do not
    assert findings == {("Q3!E3", "medium"), ("Q3!E6", "medium")}


def test_given_a_row_total_whose_range_takes_in_its_own_cell_among_row_totals_when_audited_then_high() -> None:
    # Given E6 =SUM(B6:E6): its row's figures and itself (a range stretched one cell too far)
    findings = [f for f in audit_sheet(_row_totals("=SUM(B6:E6)")) if f.rule == "FX30"]
    # When audited / Then high: it reads no other cell of its column, only its own row, as the copies do
    assert sorted((f.cell, f.severity, f.message) for f in findings) == [
        ("Q3!E3", "medium", "formula differs from its column region like E1 (=SUM(B1:D1))"),
        ("Q3!E6", "high", "formula differs from its column region like E1 (=SUM(B1:D1))" + _MOVED),
    ]


def _totals_row(override: dict[int, str]) -> Sheet:
    # Given figures in rows 1-4 of columns B..M and =SUM(X1:X4) across row 5, but for ``override``
    formulas: list[list[str | None]] = [[None] * 13 for _ in range(5)]
    values: list[list[object]] = [["x"] + [10 * row + col for col in range(2, 14)] for row in range(1, 5)]
    values.append(["total"] + [None] * 12)
    for col in range(2, 14):
        letter = _COLUMNS[col - 1]
        formulas[4][col - 1] = override.get(col, f"=SUM({letter}1:{letter}4)")
    return Sheet("Q3", formulas, values, "A1")


def test_given_an_of_which_total_over_earlier_totals_of_its_row_when_audited_then_advice() -> None:
    # Given C5 another computation and L5 =SUM(G5:H5): two totals earlier in row 5, not beside it
    findings = _findings(_totals_row({3: "=C1*2", 12: "=SUM(G5:H5)"}), "FX30")
    # When audited / Then both are advice: L5 adds the run's own results, no copy slipped
    assert findings == {("Q3!C5", "medium"), ("Q3!L5", "medium")}


def test_given_a_column_total_whose_range_takes_in_its_own_cell_along_a_totals_row_when_audited_then_high() -> None:
    # Given C5 another computation and G5 =SUM(G1:G5): its column's figures and itself
    findings = [f for f in audit_sheet(_totals_row({3: "=C1*2", 7: "=SUM(G1:G5)"})) if f.rule == "FX30"]
    # When audited / Then G5 is high: it reads no other cell of row 5, as the copies
    assert sorted((f.cell, f.severity, f.message) for f in findings) == [
        ("Q3!C5", "medium", "formula differs from its row region like B5 (=SUM(B1:B4))"),
        ("Q3!G5", "high", "formula differs from its row region like B5 (=SUM(B1:B4))" + _MOVED),
    ]


def _balance_down(breaks: dict[int, str], backward: bool) -> Sheet:
    # Given inflows in B, outflows in C and a balance in D over rows 2-12: =D(n-1)+Bn-Cn from an
    # opening 100 in D1, or (``backward``, a balance still to come) =D(n+1)+Bn-Cn from D13
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for row in range(1, 14):
        opening = row == (13 if backward else 1)
        step = row + 1 if backward else row - 1
        formula = None if row in (1, 13) else breaks.get(row, f"=D{step}+B{row}-C{row}")
        formulas.append([None, None, None, formula])
        values.append(["x", row, 1, 100 if opening else None])
    return Sheet("Q3", formulas, values, "A1")


def _balance_along(breaks: dict[int, str], backward: bool) -> Sheet:
    # Given inflows in row 2, outflows in row 3 and a balance in row 4 across B..M: =(previous column
    # row 4)+X2-X3 from an opening 100 in B4, or (``backward``) =(next column row 4)+X2-X3 from M4
    formulas: list[list[str | None]] = [[None] * 13 for _ in range(4)]
    values: list[list[object]] = [["x"] * 13, ["in", *range(2, 14)], ["out"] + [1] * 12, ["balance"] + [None] * 12]
    opening = 13 if backward else 2
    values[3][opening - 1] = 100
    for col in range(2, 14):
        if col != opening:
            step, letter = _COLUMNS[col if backward else col - 2], _COLUMNS[col - 1]
            formulas[3][col - 1] = breaks.get(col, f"={step}4+{letter}2-{letter}3")
    return Sheet("Q3", formulas, values, "A1")


@pytest.mark.parametrize(
    ("sheet", "cells"),
    [
        (_balance_down({4: "=D3+B4", 8: "=D7+B8-C9"}, backward=False), ["Q3!D4", "Q3!D8"]),
        (_balance_down({4: "=D5+B4", 8: "=D9+B8-C7"}, backward=True), ["Q3!D4", "Q3!D8"]),
        (_balance_along({4: "=C4+D2", 8: "=G4+H2-I3"}, backward=False), ["Q3!D4", "Q3!H4"]),
        (_balance_along({4: "=E4+D2", 8: "=I4+H2-G3"}, backward=True), ["Q3!D4", "Q3!H4"]),
    ],
    ids=["down, from above", "down, from below", "along, from the left", "along, from the right"],
)
def test_given_a_running_balance_whose_break_still_reads_the_balance_beside_it_when_audited_then_high(
    sheet: Sheet, cells: list[str]
) -> None:
    # Given a running balance with another computation (no outflow) and a break that reads the
    # balance beside it, as every copy does, and the outflow of a neighbouring line
    findings = sorted((f.cell, f.severity) for f in audit_sheet(sheet) if f.rule == "FX30")
    # When audited / Then the other computation is advice and the moved outflow high: every copy
    # reads the balance beside it, so reading it is no sign of a subtotal of the copies
    assert findings == [(cells[0], "medium"), (cells[1], "high")]


def _cumulative_down(breaks: dict[int, str]) -> Sheet:
    # Given an opening 100 in D1 and =SUM(D$1:Dn)+Bn down D (rows 2-10): each copy takes in its own
    # column down to itself (circular, a running total written over the wrong column)
    formulas: list[list[str | None]] = [[None] * 4]
    values: list[list[object]] = [["x", 1, 1, 100]]
    for row in range(2, 11):
        formulas.append([None, None, None, breaks.get(row, f"=SUM(D$1:D{row})+B{row}")])
        values.append(["x", row, row, None])
    return Sheet("Q3", formulas, values, "A1")


def _cumulative_along(breaks: dict[int, str]) -> Sheet:
    # Given an opening 100 in B3 and =SUM($B3:X3)+X2 across row 3 (C..K), as above along a row
    formulas: list[list[str | None]] = [[None] * 11 for _ in range(3)]
    values: list[list[object]] = [["x"] * 11, ["in", *range(1, 11)], ["total", 100] + [None] * 9]
    for col in range(3, 12):
        letter = _COLUMNS[col - 1]
        formulas[2][col - 1] = breaks.get(col, f"=SUM($B3:{letter}3)+{letter}2")
    return Sheet("Q3", formulas, values, "A1")


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [
        (
            _cumulative_down({3: "=B3*2", 8: "=SUM(D$1:D5)+B8"}),
            [
                ("Q3!D3", "medium", "formula differs from its column region like D2 (=SUM(D$1:D2)+B2)"),
                ("Q3!D8", "high", "formula differs from its column region like D2 (=SUM(D$1:D2)+B2)" + _MOVED),
            ],
        ),
        (
            _cumulative_along({4: "=D2*2", 8: "=SUM($B3:E3)+H2"}),
            [
                ("Q3!D3", "medium", "formula differs from its row region like C3 (=SUM($B3:C3)+C2)"),
                ("Q3!H3", "high", "formula differs from its row region like C3 (=SUM($B3:C3)+C2)" + _MOVED),
            ],
        ),
    ],
    ids=["down a column", "along a row"],
)
def test_given_copies_that_read_their_own_line_up_to_themselves_when_a_break_stops_short_then_high(
    sheet: Sheet, expected: list[tuple[str, str, str]]
) -> None:
    # Given a break that reads its own line only part way, not beside it, among copies that read it too
    findings = sorted((f.cell, f.severity, f.message) for f in audit_sheet(sheet) if f.rule == "FX30")
    # When audited / Then high: reading its own line is no sign of a subtotal where every copy does
    assert findings == expected
