"""Excel's error-checking rules at their edges: FX36 chains through ranges that hold the cell itself
or stop short of the errors, FX37's limits of a number as text and the lines of numbers around it,
FX38's day and month bounds. Small sheets: fast enough to run once per mutant."""

from __future__ import annotations

import pytest
from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet
from sheetbrain.engine.checks.context import SheetContext
from sheetbrain.engine.checks.excel_rules import check_numbers_as_text, is_numeric_text, two_digit_year_date
from sheetbrain.engine.grid import cells_of
from sheetbrain.engine.parser import parse

from tests.unit.audit.grids import a1_grid


def _found(sheet: Sheet, rule: str) -> list[tuple[str | None, str, str]]:
    only = PolicyProfile(enabled=(rule,))
    return [(f.cell, f.severity, f.message) for f in audit_sheet(sheet, only) if f.rule == rule]


# --- FX36 -----------------------------------------------------------------------------------------


def test_given_a_range_that_holds_the_cell_itself_when_audited_then_the_next_error_in_it_is_the_origin() -> None:
    # Given #DIV/0! in B1 (above), B2 = SUM(B2:B4) (its own cell first in its range) and B3 below it
    sheet = a1_grid(
        {
            "A1": (None, 0),
            "B1": ("=1/A1", "#DIV/0!"),
            "B2": ("=SUM(B2:B4)", "#DIV/0!"),
            "B3": ("=2/A1", "#DIV/0!"),
        },
        4,
        2,
    )
    # When audited / Then B2 is fed by B3 (inside its range), not by itself nor by B1 (outside it)
    assert _found(sheet, "FX36") == [
        ("Q3!B1", "medium", "the formula shows #DIV/0! now"),
        ("Q3!B3", "medium", "the formula shows #DIV/0! now; 1 formula reading it shows #DIV/0! too: B2"),
    ]


def test_given_ranges_between_and_below_the_errors_of_a_column_when_audited_then_each_an_origin() -> None:
    # Given #DIV/0! in A1 and A5, B3 summing A2:A4 (between them) and B4 summing A6:A9 (below both),
    # each showing #DIV/0! of its own division
    sheet = a1_grid(
        {
            "A1": ("=1/D1", "#DIV/0!"),
            "A5": ("=5/D1", "#DIV/0!"),
            "B3": ("=SUM(A2:A4)/D1", "#DIV/0!"),
            "B4": ("=SUM(A6:A9)/D1", "#DIV/0!"),
        },
        9,
        4,
    )
    # When audited / Then no range reaches an error: four origins, no chain
    assert _found(sheet, "FX36") == [
        ("Q3!A1", "medium", "the formula shows #DIV/0! now"),
        ("Q3!B3", "medium", "the formula shows #DIV/0! now"),
        ("Q3!B4", "medium", "the formula shows #DIV/0! now"),
        ("Q3!A5", "medium", "the formula shows #DIV/0! now"),
    ]


def test_given_an_unparsable_formula_showing_an_error_before_a_chain_when_audited_then_the_chain_still_found() -> None:
    # Given A1 that does not parse, showing Sheets' #ERROR!, then B1 showing #REF! and B2 reading it
    sheet = a1_grid({"A1": ("=1+", "#ERROR!"), "B1": ("=#REF!+1", "#REF!"), "B2": ("=B1*2", "#REF!")}, 2, 2)
    # When audited
    found = [(f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule == "FX36"]
    # Then A1 is an origin with the generic advice (no advice of its own), and B1 names B2
    assert found == [
        ("Q3!A1", "high", "the formula shows #ERROR! now", "check the inputs it reads"),
        (
            "Q3!B1",
            "high",
            "the formula shows #REF! now; 1 formula reading it shows #REF! too: B2",
            "a reference was deleted: point the formula at the intended cells again",
        ),
    ]


def test_given_error_values_of_32_and_33_characters_when_audited_then_only_the_first_is_an_error() -> None:
    # Given "#N/A" padded with spaces to 32 characters in A1 and to 33 in B1
    sheet = a1_grid({"A1": ("=NA()", "#N/A".ljust(32)), "B1": ("=NA()", "#N/A".ljust(33))}, 1, 2)
    # When audited / Then A1 shows #N/A (medium); B1's text is too long to be one
    assert _found(sheet, "FX36") == [("Q3!A1", "medium", "the formula shows #N/A now")]


# --- FX37 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numeric"),
    [
        (" " * 62 + "42", True),  # 64 characters: read
        (" " * 63 + "42", False),  # 65: too long to be a typed number
        ("123,456,789,012,345", True),  # 15 digits, grouped
        ("123456789012345", True),  # 15 digits
        ("12345678901234.5", True),  # 15 significant digits with a decimal
        ("12345678901234.56", False),  # 16
        ("123456789012.3456", False),  # 16
        ("07", False),  # a code with a leading zero
    ],
)
def test_numeric_text_bounds(text: str, numeric: bool) -> None:
    assert is_numeric_text(text) is numeric


def _column(values: list[object], formula: str, formula_value: object) -> Sheet:
    return Sheet("Q3", [[None] for _ in values] + [[formula]], [[v] for v in values] + [[formula_value]], "A1")


@pytest.mark.parametrize(
    ("heading", "flagged"),
    [
        ("1800", False),  # a year: a heading
        ("2199", False),
        ("'2001", False),  # a year typed with an apostrophe
        ("1799", True),  # not a year: a number left out of the total
        ("2200", True),
        ("+2001", True),
        ("12.5", True),
        ("1,500", True),
    ],
)
def test_given_a_text_atop_a_total_when_audited_then_flagged_unless_a_year(heading: str, flagged: bool) -> None:
    # Given the text above 1 and 2, and =SUM(A1:A3) showing 3
    sheet = _column([heading, 1, 2], "=SUM(A1:A3)", 3)
    # When audited / Then a year is a heading; any other number as text is left out of the total
    expected = [("Q3!A1", "high", f'number stored as text ("{heading}"): SUM in A4 skips it')] if flagged else []
    assert _found(sheet, "FX37") == expected


def test_given_running_totals_over_numbers_as_text_when_audited_then_each_named_by_the_first_total_reaching_it() -> (
    None
):
    # Given 1, "2", 3, "4", 5 in A and running totals SUM($A$1:A1)..SUM($A$1:A5) in B, all numbers
    sheet = Sheet(
        "Q3",
        [[None, f"=SUM($A$1:A{r})"] for r in range(1, 6)],
        [[1, 1], ["2", 1], [3, 4], ["4", 4], [5, 9]],
        "A1",
    )
    # When audited / Then A2 is skipped first by B2's total, A4 by B4's
    assert _found(sheet, "FX37") == [
        ("Q3!A2", "high", 'number stored as text ("2"): SUM in B2 skips it'),
        ("Q3!A4", "high", 'number stored as text ("4"): SUM in B4 skips it'),
    ]


def test_given_totals_of_overlapping_ranges_when_audited_then_each_text_named_by_its_first_reader() -> None:
    # Given "2" in A2 read by B1 = SUM(A1:A3) and by B2 = SUM(A2:A3), and "4" in A4 read by B3 = SUM(A4:A5)
    sheet = Sheet(
        "Q3",
        [[None, "=SUM(A1:A3)"], [None, "=SUM(A2:A3)"], [None, "=SUM(A4:A5)"], [None, None], [None, None]],
        [[1, 4], ["2", 3], [3, 5], ["4", None], [5, None]],
        "A1",
    )
    # When audited / Then A2 is named with B1 (its first reader), A4 with B3
    assert _found(sheet, "FX37") == [
        ("Q3!A2", "high", 'number stored as text ("2"): SUM in B1 skips it'),
        ("Q3!A4", "high", 'number stored as text ("4"): SUM in B3 skips it'),
    ]


def test_given_a_total_starting_below_a_number_as_text_when_audited_then_that_text_is_not_its_own() -> None:
    # Given 1, "2", 3, "4", 5 in A and B5 = SUM(A4:A5) showing 5
    sheet = Sheet(
        "Q3",
        [[None, None], [None, None], [None, None], [None, None], [None, "=SUM(A4:A5)"]],
        [[1, None], ["2", None], [3, None], ["4", None], [5, 5]],
        "A1",
    )
    # When audited / Then A4 is skipped by the total; A2 (above its range) is advice among numbers
    assert _found(sheet, "FX37") == [
        ("Q3!A2", "medium", 'number stored as text ("2") among numbers: sums and averages skip it'),
        ("Q3!A4", "high", 'number stored as text ("4"): SUM in B5 skips it'),
    ]


def test_given_a_total_of_unknown_value_before_a_numeric_one_when_audited_then_each_severity_its_own() -> None:
    # Given "5" above 1 in A, summed by C1 (value not sent), and "6" above 1 in B, summed by C2 showing 1
    sheet = Sheet(
        "Q3",
        [[None, None, "=SUM(A1:A2)"], [None, None, "=SUM(B1:B2)"]],
        [["5", "6", None], [1, 1, 1]],
        "A1",
    )
    # When audited / Then A1 is medium (C1's result cannot be told), B1 high
    assert _found(sheet, "FX37") == [
        ("Q3!A1", "medium", 'number stored as text ("5"): SUM in C1 skips it'),
        ("Q3!B1", "high", 'number stored as text ("6"): SUM in C2 skips it'),
    ]


def test_given_a_whole_column_and_a_whole_row_total_when_audited_then_their_texts_flagged() -> None:
    # Given "5" above 1 in A summed by B1 = SUM(A:A), and "6" beside 1 in row 5 (B5:C5) summed by
    # A6 = SUM(5:5)
    sheet = Sheet(
        "Q3",
        [[None, "=SUM(A:A)", None], *([[None, None, None]] * 4), ["=SUM(5:5)", None, None]],
        [["5", 1, None], [1, None, None], [None, None, None], [None, None, None], [None, "6", 1], [1, None, None]],
        "A1",
    )
    # When audited / Then both texts are flagged high, each with its total
    assert _found(sheet, "FX37") == [
        ("Q3!A1", "high", 'number stored as text ("5"): SUM in B1 skips it'),
        ("Q3!B5", "high", 'number stored as text ("6"): SUM in A6 skips it'),
    ]


def test_given_a_total_inside_an_expression_when_audited_then_its_range_is_read() -> None:
    # Given 1, 2, "3", 4 and =ROUND(SUM(A1:A4),0) showing 7
    sheet = _column([1, 2, "3", 4], "=ROUND(SUM(A1:A4),0)", 7)
    # When audited / Then the SUM inside is the reader
    assert _found(sheet, "FX37") == [("Q3!A3", "high", 'number stored as text ("3"): SUM in A5 skips it')]


def test_given_numbers_as_text_in_a_column_between_numbers_when_audited_then_advice_with_its_fix() -> None:
    # Given 1, "2", "3", 4 down A, and "7" beside "2" in B2 (no numbers around it)
    sheet = a1_grid({"A1": (None, 1), "A2": (None, "2"), "A3": (None, "3"), "A4": (None, 4), "B2": (None, "7")}, 4, 2)
    # When audited
    found = [(f.cell, f.severity, f.message, f.suggestion) for f in audit_sheet(sheet) if f.rule == "FX37"]
    # Then A2 and A3 are advice, with the fix; B2 is not among numbers
    assert found == [
        (
            "Q3!A2",
            "medium",
            'number stored as text ("2") among numbers: sums and averages skip it',
            "enter it as a number (no apostrophe, no text format)",
        ),
        (
            "Q3!A3",
            "medium",
            'number stored as text ("3") among numbers: sums and averages skip it',
            "enter it as a number (no apostrophe, no text format)",
        ),
    ]


def test_given_numbers_as_text_in_a_row_between_numbers_when_audited_then_advice() -> None:
    # Given 1, "2", "3", 4 along row 2 (from B2), and "7" below "2" in C3
    sheet = a1_grid({"B2": (None, 1), "C2": (None, "2"), "D2": (None, "3"), "E2": (None, 4), "C3": (None, "7")}, 3, 5)
    # When audited / Then C2 and D2 are advice; C3 is not among numbers
    assert _found(sheet, "FX37") == [
        ("Q3!C2", "medium", 'number stored as text ("2") among numbers: sums and averages skip it'),
        ("Q3!D2", "medium", 'number stored as text ("3") among numbers: sums and averages skip it'),
    ]


def test_given_trees_in_a_plain_mapping_when_checked_then_the_total_reads_its_own_range() -> None:
    # Given a context built without copies (trees parsed one by one): "3", 2, 1, 4 in A, totals in B4 and B5
    sheet = Sheet(
        "Q3",
        [[None, None], [None, None], [None, None], [None, "=SUM(A1:A4)"], [None, "=SUM(A1:A4)"]],
        [["3", None], [2, None], [1, None], [4, 7], [None, 7]],
        "A1",
    )
    cells = cells_of(sheet)
    trees = {key: parse(cell.formula) for key, cell in cells.items() if cell.formula is not None}
    ctx = SheetContext("Q3", cells, trees, {}, 5, 2)
    # When checked / Then the text is skipped by B4, the first total (its range not moved)
    assert [(r, c, hit.message, hit.severity) for r, c, hit in check_numbers_as_text(ctx, {})] == [
        (1, 1, 'number stored as text ("3"): SUM in B4 skips it', "high")
    ]


# --- FX38 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "two_digit"),
    [
        ("1/5/97", True),
        ("5/1/97", True),
        ("31/1/97", True),
        ("1/31/97", True),
        ("12/13/97", True),
        ("13/12/97", True),
        ("32/1/97", False),
        ("1/32/97", False),
        ("0/5/97", False),
        ("3/4/97".ljust(40), True),  # 40 characters
        ("3/4/97".ljust(41), False),  # 41: too long for a typed date
    ],
)
def test_two_digit_year_date_bounds(text: str, two_digit: bool) -> None:
    assert two_digit_year_date(text) is two_digit


def test_given_a_text_date_read_by_a_formula_in_another_row_and_column_when_audited_then_its_own_cell() -> None:
    # Given "3/4/97" in A2, read by C1 = DATEVALUE(A2)
    sheet = a1_grid({"A2": (None, "3/4/97"), "C1": ("=DATEVALUE(A2)", 35493)}, 2, 3)
    # When audited / Then the finding is at A2, medium, naming C1
    assert _found(sheet, "FX38") == [
        ("Q3!A2", "medium", '"3/4/97" is a date with a two-digit year, read by C1: its century is guessed')
    ]


def test_given_cells_in_reverse_order_when_checked_then_the_column_run_is_still_among_numbers() -> None:
    # Given 1, "2", "3", 4 down A, in a context whose cells are listed last row first
    sheet = Sheet("Q3", [[None]] * 4, [[1], ["2"], ["3"], [4]], "A1")
    cells = dict(reversed(cells_of(sheet).items()))
    ctx = SheetContext("Q3", cells, {}, {}, 4, 1)
    # When checked / Then both texts are advice among numbers
    assert [(r, c, hit.message) for r, c, hit in check_numbers_as_text(ctx, {})] == [
        (2, 1, 'number stored as text ("2") among numbers: sums and averages skip it'),
        (3, 1, 'number stored as text ("3") among numbers: sums and averages skip it'),
    ]
