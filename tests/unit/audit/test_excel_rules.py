"""Excel's own error-checking rules: FX28 (omitted adjacent cells), FX36 (error results and their
chains), FX37 (numbers stored as text), FX38 (two-digit years in text dates)."""

from __future__ import annotations

import tracemalloc

import pytest
from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet
from sheetbrain.engine.checks.excel_rules import is_numeric_text, two_digit_year_date

from tests.unit.audit.grids import a1_grid

Row = list[object]


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
    return a1_grid(cells, 11, 3)


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


# --- FX36: formulas that result in an error -------------------------------------------------------


def test_given_an_error_and_the_formulas_it_feeds_when_audited_then_one_finding_names_the_chain() -> None:
    # Given B1 = A1/A2 showing #DIV/0!, B2 reading it, B3 adding B1:B2 (a range), B4 wrapping B3 in
    # IFERROR (no error), and B5 reading B4
    sheet = a1_grid(
        {
            "A1": (None, 1),
            "A2": (None, 0),
            "B1": ("=A1/A2", "#DIV/0!"),
            "B2": ("=B1*2", "#DIV/0!"),
            "B3": ("=SUM(B1:B2)", "#DIV/0!"),
            "B4": ("=IFERROR(B3,0)", 0),
            "B5": ("=B4+1", 1),
        },
        5,
        2,
    )
    # When audited / Then one finding at the origin names the two cells it reaches; advice, since
    # a divisor that is zero or empty is the data's state, not a broken formula
    assert _found(sheet, "FX36") == [
        (
            "Q3!B1",
            "medium",
            "the formula shows #DIV/0! now; 2 formulas reading it show #DIV/0! too: B2, B3",
            "the divisor is zero or empty: fill in the input, or guard the division (IF(divisor=0, ...))",
        )
    ]


@pytest.mark.parametrize(
    ("length", "named"),
    [
        (5, "5 formulas reading it show #REF! too: A2, A3, A4, A5, A6"),
        (8, "8 formulas reading it show #REF! too: A2, A3, A4, A5, A6 and 3 more"),
    ],
    ids=["five: all named", "eight: five named, the rest counted"],
)
def test_given_a_chain_when_audited_then_five_cells_are_named_and_the_rest_counted(length: int, named: str) -> None:
    # Given A1 showing #REF! and a running chain A2.. below it, each reading the one above
    cells: dict[str, tuple[str | None, object]] = {"A1": ("=#REF!+1", "#REF!")}
    cells.update({f"A{r}": (f"=A{r - 1}+1", "#REF!") for r in range(2, length + 2)})
    # When audited / Then the origin names at most five of them and counts the rest
    [(cell, severity, message, _)] = _found(a1_grid(cells, length + 1, 1), "FX36")
    assert (cell, severity, message) == ("Q3!A1", "high", f"the formula shows #REF! now; {named}")


def test_given_another_error_downstream_when_audited_then_it_is_an_origin_of_its_own() -> None:
    # Given B1 showing #NAME? and C1 reading it but showing #VALUE! (another cause), D1 unrelated #NUM!
    sheet = a1_grid(
        {"A1": (None, 4), "B1": ("=SQRTT(A1)", "#NAME?"), "C1": ("=B1&A1", "#VALUE!"), "D1": ("=SQRT(-A1)", "#NUM!")},
        1,
        4,
    )
    # When audited / Then each is its own origin, without a chain; the broken formulas (an unknown
    # name, a wrong type) are errors, the number out of its domain is advice
    assert [(c, s, m) for c, s, m, _ in _found(sheet, "FX36")] == [
        ("Q3!B1", "high", "the formula shows #NAME? now"),
        ("Q3!C1", "high", "the formula shows #VALUE! now"),
        ("Q3!D1", "medium", "the formula shows #NUM! now"),
    ]


def test_given_each_error_code_when_audited_then_broken_formulas_are_errors_and_missing_data_advice() -> None:
    # Given one formula showing each error value Excel and Sheets show, in its own row
    codes = ["#REF!", "#NAME?", "#NULL!", "#SPILL!", "#VALUE!", "#ERROR!", "#DIV/0!", "#NUM!", "#CALC!", "#N/A"]
    cells: dict[str, tuple[str | None, object]] = {f"A{r}": (f"=Z{r}", code) for r, code in enumerate(codes, 1)}
    # When audited / Then the severity follows what the error says about the formula
    assert [(c, s) for c, s, _, _ in _found(a1_grid(cells, len(codes), 1), "FX36")] == [
        ("Q3!A1", "high"),
        ("Q3!A2", "high"),
        ("Q3!A3", "high"),
        ("Q3!A4", "high"),
        ("Q3!A5", "high"),
        ("Q3!A6", "high"),
        ("Q3!A7", "medium"),
        ("Q3!A8", "medium"),
        ("Q3!A9", "medium"),
        ("Q3!A10", "medium"),
    ]


def test_given_lookup_misses_and_loading_data_when_audited_then_advice_and_info() -> None:
    # Given a VLOOKUP showing #N/A, a cell fed by it, and a cell still loading external data
    sheet = a1_grid(
        {
            "A1": (None, "key"),
            "B1": ("=VLOOKUP(A1,D1:E9,2,FALSE)", "#N/A"),
            "C1": ("=B1*2", "#N/A"),
            "A2": ('=RTD("x",,"y")', "#GETTING_DATA"),
        },
        2,
        3,
    )
    # When audited / Then #N/A is advice (medium) at its origin, #GETTING_DATA info
    assert [(c, s, m) for c, s, m, _ in _found(sheet, "FX36")] == [
        ("Q3!B1", "medium", "the formula shows #N/A now; 1 formula reading it shows #N/A too: C1"),
        ("Q3!A2", "info", "the formula shows #GETTING_DATA now"),
    ]


def test_given_two_error_cells_reading_each_other_when_audited_then_one_origin() -> None:
    # Given A1 and B1 reading each other, both showing #VALUE! (a loop of errors)
    sheet = a1_grid({"A1": ("=B1+1", "#VALUE!"), "B1": ("=A1+1", "#VALUE!")}, 1, 2)
    # When audited / Then the first in reading order is the origin and names the other
    assert [(c, m) for c, _, m, _ in _found(sheet, "FX36")] == [
        ("Q3!A1", "the formula shows #VALUE! now; 1 formula reading it shows #VALUE! too: B1")
    ]


@pytest.mark.parametrize(
    "cells",
    [
        {"A1": (None, 0), "B1": ("=A1/2", 0)},  # no error
        {"A1": (None, "#DIV/0!"), "B1": ("=ISERROR(A1)", True)},  # an error typed as text, no formula
        {"A1": (None, 0), "B1": ("=A1/2", "#DIV/0 in the notes")},  # text that only starts like one
    ],
)
def test_given_no_formula_showing_an_error_when_audited_then_no_fx36(
    cells: dict[str, tuple[str | None, object]],
) -> None:
    assert _found(a1_grid(cells, 1, 2), "FX36") == []


def test_given_no_values_when_audited_then_no_fx36() -> None:
    # Given a caller that sends formulas only: no current values to read
    assert _found(Sheet("Q3", [["=A2/0"], ["=A1"]]), "FX36") == []


def _error_column(n: int) -> Sheet:
    # n rows: A = a division showing #DIV/0!, B = a running total of A (a range growing per row),
    # C = a count over the whole of column A: every range covers many error cells.
    formulas = [[f"=1/D{r}", f"=SUM($A$1:A{r})", "=COUNTIF(A:A,A1)"] for r in range(1, n + 1)]
    values: list[Row] = [["#DIV/0!", "#DIV/0!", 0] for _ in range(n)]
    return Sheet("Q3", formulas, values, "A1")


def _peak_bytes(sheet: Sheet, profile: PolicyProfile) -> int:
    tracemalloc.start()
    try:
        audit_sheet(sheet, profile)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_given_ranges_over_many_error_cells_when_audited_then_memory_grows_linearly() -> None:
    # Given error columns whose ranges cover ever more error cells (pairs grow with the square)
    profile = PolicyProfile(enabled=("FX36",))
    small, large = _peak_bytes(_error_column(2_000), profile), _peak_bytes(_error_column(4_000), profile)
    # When audited with FX36 alone / Then twice the rows take at most ~twice the memory (pairs: 4x)
    assert large <= 2.6 * small
    findings = audit_sheet(_error_column(50), profile)
    assert [(f.cell, f.message) for f in findings if f.cell == "Q3!A1"] == [
        (
            "Q3!A1",
            "the formula shows #DIV/0! now; 50 formulas reading it show #DIV/0! too: B1, B2, B3, B4, B5 and 45 more",
        )
    ]


# --- FX37: numbers stored as text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numeric"),
    [
        ("42", True),
        ("'42", True),
        ("  51 ", True),
        ("-3.5", True),
        ("1,234,567.25", True),
        ("$1,234", True),
        ("-$12", True),
        ("12%", True),
        ("1e5", True),
        (".5", True),
        ("0", True),
        ("0.25", True),
        ("007", False),  # a code: Excel would drop its zeros
        ("02134", False),  # a zip code
        ("1234567890123456", False),  # 16 digits: an account number, beyond Excel's precision
        ("1.", False),  # a list label
        ("11,4262", False),  # a footnote mark, not a thousands separator
        ("1,5", False),  # a decimal comma: the request carries no locale
        ("17,18", False),
        ("--5", False),
        ("12 kg", False),
        ("n.a", False),
        ("", False),
        ("-", False),
        ("$", False),
    ],
)
def test_numeric_text_is_what_excel_reads_as_a_number_except_codes(text: str, numeric: bool) -> None:
    assert is_numeric_text(text) is numeric


def _column(values: list[object], formula: str | None = None, formula_value: object = None) -> Sheet:
    formulas: list[list[str | None]] = [[None] for _ in values]
    rows: list[Row] = [[v] for v in values]
    if formula is not None:
        formulas.append([formula])
        rows.append([formula_value])
    return Sheet("Q3", formulas, rows, "A1")


def test_given_a_number_as_text_inside_a_total_when_audited_then_flagged_high() -> None:
    # Given 1, 2, "3", 4 and =SUM(A1:A4) showing 7 (it skipped the text)
    sheet = _column([1, 2, "3", 4], "=SUM(A1:A4)", 7)
    # When audited / Then the text cell is flagged high, naming the total that skips it
    assert _found(sheet, "FX37") == [
        (
            "Q3!A3",
            "high",
            'number stored as text ("3"): SUM in A5 skips it',
            "enter it as a number (no apostrophe, no text format)",
        )
    ]


def test_given_a_total_without_a_numeric_value_when_audited_then_medium() -> None:
    # Given the same column, but the total's value not sent (a formulas-only caller)
    sheet = _column([1, 2, "'3", 4], "=SUM(A1:A4)", None)
    # When audited / Then it is advice: the total's result cannot be told
    assert [(c, s, m) for c, s, m, _ in _found(sheet, "FX37")] == [
        ("Q3!A3", "medium", 'number stored as text ("\'3"): SUM in A5 skips it')
    ]


def test_given_a_number_as_text_between_numbers_when_audited_then_medium() -> None:
    sheet = _column([1, "1,200", 3])
    assert [(c, s, m) for c, s, m, _ in _found(sheet, "FX37")] == [
        ("Q3!A2", "medium", 'number stored as text ("1,200") among numbers: sums and averages skip it')
    ]


def test_given_sumif_when_audited_then_only_its_sum_range_counts() -> None:
    # Given SUMIF(A1:A3, ">0", B1:B3) with a number as text in its sum range (B2) and in its criteria (A2)
    sheet = Sheet(
        "Q3",
        [[None, None], [None, None], [None, None], ['=SUMIF(A1:A3,">0",B1:B3)', None]],
        [[1, 10], ["2", "20"], [3, None], [20, None]],
    )
    # When audited / Then the sum range's text is high; the criteria's text (between numbers) advice
    assert [(c, s, m) for c, s, m, _ in _found(sheet, "FX37")] == [
        ("Q3!A2", "medium", 'number stored as text ("2") among numbers: sums and averages skip it'),
        ("Q3!B2", "high", 'number stored as text ("20"): SUMIF in A4 skips it'),
    ]


@pytest.mark.parametrize(
    "values",
    [
        ["1995", 10, 20, 30],  # a year heading above numbers: at the edge, not inside
        [10, 20, 30, "1995"],  # a text at the foot of a column
        [10, "02134", 30],  # a zip code among numbers
        [10, "1.", 30],  # a list label
        [10, "n/a", 30],  # a placeholder
        ["  51", "  52", "  53"],  # a column of text years: no numbers around
    ],
)
def test_given_numeric_text_not_inside_numbers_when_audited_then_no_fx37(values: list[object]) -> None:
    assert _found(_column(values), "FX37") == []


def test_given_a_year_heading_inside_the_range_of_a_total_when_audited_then_no_fx37() -> None:
    # Given a text year heading above numbers, a total whose range starts on the heading
    sheet = _column(["2001", 1, 2, 3], "=SUM(A1:A4)", 6)
    # When audited / Then the heading is a label: no finding
    assert _found(sheet, "FX37") == []


def test_given_a_year_as_text_among_numbers_in_a_total_when_audited_then_flagged_high() -> None:
    # Given "2001" between numbers inside the total's range (a value, not a heading)
    sheet = _column([1500, "2001", 1800], "=SUM(A1:A3)", 3300)
    assert [(c, s) for c, s, _, _ in _found(sheet, "FX37")] == [("Q3!A2", "high")]


# --- FX38: two-digit years in text dates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "two_digit"),
    [
        ("3/4/97", True),
        ("12-4-03", True),
        ("03.04.97", True),
        ("12-Jan-03", True),
        ("12 January 03", True),
        ("Jan 12, 03", True),
        ("Sept. 9 99", True),
        ("3/4/1997", False),
        ("12-Jan-2003", False),
        ("13/13/97", False),  # no month
        ("4.1.10", False),  # a section number
        ("1/2", False),
        ("Jan-03", False),  # a month label: no day, nothing to misread
        ("Q3/24", False),
    ],
)
def test_two_digit_year_dates_are_text_dates_with_a_two_digit_year(text: str, two_digit: bool) -> None:
    assert two_digit_year_date(text) is two_digit


def test_given_text_dates_when_audited_then_low_or_medium_when_a_formula_reads_them() -> None:
    # Given "3/4/97" read by DATEVALUE in B1, "12-Jan-03" read by nothing, "3/4/1997" in full
    sheet = Sheet(
        "Q3",
        [[None, "=DATEVALUE(A1)"], [None, None], [None, None]],
        [["3/4/97", 35493], ["12-Jan-03", None], ["3/4/1997", None]],
    )
    # When audited / Then the read one is medium, the label low, the four-digit year nothing
    assert _found(sheet, "FX38") == [
        (
            "Q3!A1",
            "medium",
            '"3/4/97" is a date with a two-digit year, read by B1: its century is guessed',
            "type the year in full, or enter it as a date",
        ),
        ("Q3!A2", "low", '"12-Jan-03" is a date with a two-digit year', "type the year in full"),
    ]
