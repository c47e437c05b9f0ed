"""Each check has a positive and a negative case; suggestions are corrected formulas where possible."""

from __future__ import annotations

import pytest
from sheetbrain.engine import CHECKS, PolicyProfile, Sheet, audit_formulas, audit_sheet

FORMULA_CASES = [
    ("FX00", "=SUM(A1", "=SUM(A1)"),
    ("FX01", "=TODAY()-A1", "=DATE(2024,1,1)-A1"),
    ("FX01", "=SUM(OFFSET(A1,0,0,3))", "=SUM(INDEX(A1:A9,3))"),
    ("FX02", "=VLOOKUP(A1,B1:C9,2)", "=VLOOKUP(A1,B1:C9,2,FALSE)"),
    ("FX03", "=MATCH(A1,B1:B9)", "=MATCH(A1,B1:B9,0)"),
    ("FX04", "=XLOOKUP(A1,B1:B9,C1:C9,,1)", "=XLOOKUP(A1,B1:B9,C1:C9)"),
    ("FX05", "=A1*37+B1", "=A1*Factor+B1"),
    ("FX06", "=A1*0.2", "=A1*Rate"),
    ("FX08", "=SUM(A:A)", "=SUM(A1:A100)"),
    ("FX09", "=SUM(A2:A)", "=SUM(A2:A100)"),
    ("FX10", "=IF(A1,IF(A2,IF(A3,IF(A4,1,2),3),4),5)", "=IF(A1,IF(A2,1,2),3)"),
    ("FX11", "=" + "+".join(f"A{i}" for i in range(1, 80)), "=SUM(A1:A79)"),
    ("FX12", "=IFERROR(VLOOKUP(A1,B:C,2,FALSE),0)", "=IFNA(VLOOKUP(A1,B:C,2,FALSE),0)"),
    ("FX13", "=A1/B1", "=IF(B1=0,0,A1/B1)"),
    ("FX14", "=A1/0", "=A1/2"),
    ("FX15", "=#REF!+A1", "=B1+A1"),
    ("FX16", "=IF(A1,#N/A,1)", "=IF(A1,NA(),1)"),
    ("FX17", "=A1+-B1", "=A1-B1"),
    ("FX18", '=A1+"abc"', "=A1+1"),
    ("FX19", "=SUM(A1+B1)", "=SUM(A1:B1)"),
    ("FX20", "=SUMM(A1:A3)", "=SUM(A1:A3)"),
    ("FX21", "=ARRAYFORMULA(A1:A3*2)", "=A1:A3*2"),
    ("FX22", "=[Budget.xlsx]Q1!B2", "=Q1!B2"),
    ("FX23", '=IMPORTXML("https://x.test/"&A1,"//a")', "=A1"),
    ("FX24", "=100*1.2", "=A1*1.2"),
    ("FX25", "=IF(A1>0,TRUE,FALSE)", "=IF(A1>0,1,0)"),
    ("FX34", "=SUM(A1,,B1)", "=SUM(A1,B1)"),
]


@pytest.mark.parametrize(("rule", "positive", "negative"), FORMULA_CASES)
def test_given_formula_check_when_audited_then_positive_flags_and_negative_does_not(
    rule: str, positive: str, negative: str
) -> None:
    # Given one formula that breaks the rule and one that does not
    # When audited / Then only the first carries the rule
    assert rule in {f.rule for f in audit_formulas([positive])}
    assert rule not in {f.rule for f in audit_formulas([negative])}


@pytest.mark.parametrize(
    ("formula", "suggestion"),
    [
        ("=VLOOKUP(A1,B1:C9,2)", "=VLOOKUP(A1,B1:C9,2,FALSE)"),
        ("=MATCH(A1,B1:B9)", "=MATCH(A1,B1:B9,0)"),
        ("=SUM(A1+B1)*2", "=(A1+B1)*2"),
        ("=A1--B1", "=A1+B1"),
        ("=A1/B1", "=IF(B1=0,0,A1/B1)"),
        ("=IFERROR(VLOOKUP(A1,B:C,2,FALSE),0)", "=IFNA(VLOOKUP(A1,B:C,2,FALSE),0)"),
        ("=IFERROR(A1/B1,0)", "=IF(B1=0,0,A1/B1)"),
        ("=IF(A1>0,FALSE,TRUE)", "=NOT(A1>0)"),
    ],
)
def test_given_fixable_formula_when_audited_then_suggestion_is_corrected_formula(formula: str, suggestion: str) -> None:
    assert suggestion in {f.suggestion for f in audit_formulas([formula])}


@pytest.mark.parametrize(
    "formula",
    [
        "=VLOOKUP(A1,B1:C9,2,)",  # an empty argument is passed as 0 (FALSE): exact match
        "=HLOOKUP(A1,B1:C9,2,)",
        "=MATCH(A1,B1:B9,)",
    ],
)
def test_given_lookup_with_empty_match_argument_when_audited_then_exact_match(formula: str) -> None:
    # Given a lookup whose match argument is present but empty / When audited / Then no approximate match
    assert not {f.rule for f in audit_formulas([formula])} & {"FX02", "FX03"}


def test_given_match_mode_from_a_cell_when_audited_then_mode_is_named_by_its_formula() -> None:
    # Given an XLOOKUP whose match mode comes from a cell and whose search mode is binary
    [finding] = [f for f in audit_formulas(["=XLOOKUP(A1,B1:B9,C1:C9,,A2,2)"]) if f.rule == "FX04"]
    # When audited / Then the message names the cell rather than failing on an unknown number
    assert finding.message == "XLOOKUP uses match mode A2 / search mode 2"


def test_given_web_function_without_arguments_when_audited_then_no_import_finding() -> None:
    # Given market-data functions whose ticker (the first argument) is absent / When audited
    findings = audit_formulas(["=GOOGLEFINANCE()", "=STOCKHISTORY()", '=STOCKHISTORY("MSFT",A1)'])
    # Then only the one with arguments is checked
    assert [(f.index, f.rule) for f in findings if f.rule == "FX23"] == [(2, "FX23")]


def test_given_spill_and_implicit_intersection_functions_when_audited_then_known() -> None:
    # Given the functions files store for A1# and @A1 / When audited / Then they are no unknown functions
    assert not [f for f in audit_formulas(["=SUM(_xlfn.ANCHORARRAY(A1))", "=_xlfn.SINGLE(A1:A9)"]) if f.rule == "FX20"]


def test_given_static_and_dynamic_web_import_when_audited_then_dynamic_is_critical() -> None:
    # Given a web import of a fixed URL and one whose URL is built from a cell
    formulas = ['=IMPORTDATA("https://x.test/a.csv")', '=WEBSERVICE("https://x.test/?q="&A1)']
    # When audited
    findings = [f for f in audit_formulas(formulas) if f.rule == "FX23"]
    # Then the fixed URL is named at the default severity and the built one is critical
    assert [(f.index, f.severity, f.message) for f in findings] == [
        (0, "medium", "IMPORTDATA fetches https://x.test/a.csv"),
        (1, "critical", "WEBSERVICE builds its URL from cell values: sheet data can leave through it"),
    ]


def test_given_market_data_functions_when_audited_then_a_live_feed_for_the_ticker_not_a_url() -> None:
    # Given GOOGLEFINANCE/STOCKHISTORY with a typed ticker and an attribute, a ticker from a cell,
    # and dates after the ticker
    formulas = ['=GOOGLEFINANCE("GOOG","price")', "=GOOGLEFINANCE(A1)", '=STOCKHISTORY("MSFT",A1,A2)']
    # When audited
    findings = [f for f in audit_formulas(formulas) if f.rule == "FX23"]
    # Then each names the market-data feed and its ticker, none speaks of a URL, none is critical
    feed = "reads a live market-data feed"
    assert [(f.index, f.severity, f.message) for f in findings] == [
        (0, "medium", f'GOOGLEFINANCE {feed} (ticker "GOOG"): its result changes with the market'),
        (1, "medium", f"GOOGLEFINANCE {feed} (ticker from A1): its result changes with the market"),
        (2, "medium", f'STOCKHISTORY {feed} (ticker "MSFT"): its result changes with the market'),
    ]
    assert not any("URL" in f"{f.message} {f.suggestion}" for f in findings)


@pytest.mark.parametrize(
    "formula",
    [
        "=SUM(A1:A3*B1:B3)",
        "=SUM((A1:A3>0)*B1:B3)",
        "=SUM(A1#*2)",
        "=SUM(Table1[Qty]*Table1[Price])",
        "=SUM(Amounts*1.1)",
        "=SUM(OFFSET(A1,0,0,3)*2)",
        "=SUM(A1*{1,2,3})",
    ],
)
def test_given_sum_of_array_arithmetic_when_audited_then_not_a_single_value(formula: str) -> None:
    # Given a SUM adding the values of an array operation (without it the result would spill)
    # When audited / Then it is no SUM around a single value
    assert "FX19" not in {f.rule for f in audit_formulas([formula])}


@pytest.mark.parametrize(
    ("formula", "suggestion"),
    [("=SUM(A1*B1)", "=A1*B1"), ("=SUM(Table1[@Qty]*2)", "=Table1[@Qty]*2"), ("=SUM(A1*$B$1)", "=A1*$B$1")],
)
def test_given_sum_of_single_value_arithmetic_when_audited_then_unwrapped(formula: str, suggestion: str) -> None:
    # Given a SUM around arithmetic on single cells / When audited / Then the fix drops the SUM
    assert [f.suggestion for f in audit_formulas([formula]) if f.rule == "FX19"] == [suggestion]


def test_given_numeric_text_when_audited_then_medium_not_high() -> None:
    findings = [f for f in audit_formulas(['=A1+"5"']) if f.rule == "FX18"]
    assert [f.severity for f in findings] == ["medium"]


def test_given_let_names_when_audited_then_not_unknown_functions() -> None:
    assert not [f for f in audit_formulas(["=LET(f,LAMBDA(x,x*2),f(3))"]) if f.rule == "FX20"]


def _sheet(formulas: list[list[str | None]], values: list[list[object]] | None = None) -> Sheet:
    return Sheet("Q3", formulas, values or [], "A1")


def _rules_at(sheet: Sheet) -> set[tuple[str, str]]:
    return {(f.cell or "", f.rule) for f in audit_sheet(sheet)}


def test_given_self_reference_when_audited_then_circular() -> None:
    found = _rules_at(_sheet([["=A2+1"], ["=A1*2"], ["=5"]]))
    assert ("Q3!A1", "FX26") in found and ("Q3!A2", "FX26") in found
    assert ("Q3!A3", "FX26") not in found


def test_given_sheet_named_in_another_case_when_audited_then_its_references_are_local() -> None:
    # Given formulas naming their own sheet in another case (Excel's sheet names ignore case)
    cycle = audit_sheet(Sheet("Sheet1", [["=sheet1!A2"], ["=A1"]]))
    values: list[list[object]] = [[1], [2], [3], [4], [None]]
    short = audit_sheet(_sheet([[None], [None], [None], [None], ["=SUM(q3!A1:A3)"]], values))
    # When audited / Then the cycle and the range stopping short are found as for unqualified references
    assert {(f.cell, f.rule) for f in cycle} == {("Sheet1!A1", "FX26"), ("Sheet1!A2", "FX26")}
    assert ("Q3!A5", "FX28") in {(f.cell, f.rule) for f in short}


def test_given_typed_integer_too_large_for_a_float_when_audited_then_typed_value_flagged() -> None:
    # Given a column of copies with a typed 400-digit integer among them
    formulas: list[list[str | None]] = [
        [None, "=A1*2"],
        [None, "=A2*2"],
        [None, None],
        [None, "=A4*2"],
        [None, "=A5*2"],
    ]
    values: list[list[object]] = [[1, 2], [2, 4], [3, 10**400], [4, 8], [5, 10]]
    # When audited / Then it is reported as a typed value (it equals no result), not an OverflowError
    findings = audit_sheet(_sheet(formulas, values))
    assert [(f.cell, f.rule, f.suggestion) for f in findings if f.rule == "FX31"] == [("Q3!B3", "FX31", "=A3*2")]


def test_given_reference_to_empty_cell_when_audited_then_flagged_only_if_empty() -> None:
    found = _rules_at(_sheet([["=B1*2", None], ["=B2*2", None]], [[None, 3], [None, None]]))
    assert ("Q3!A2", "FX27") in found and ("Q3!A1", "FX27") not in found


def test_given_numbers_typed_in_the_formulas_grid_when_audited_then_they_are_values() -> None:
    # Given a caller that sends one grid, numbers (and a boolean) typed in it beside formulas reading them
    sheet = Sheet("S", [[1, "=A1*2"], [2.5, "=A2*2"], [True, "=A3*2"]])
    # When audited / Then no formula reads an empty cell
    assert "FX27" not in {f.rule for f in audit_sheet(sheet)}


def test_given_sum_stopping_short_when_audited_then_flagged() -> None:
    values = [[1], [2], [3], [4], [None]]
    short = _rules_at(_sheet([[None], [None], [None], [None], ["=SUM(A1:A3)"]], values))
    full = _rules_at(_sheet([[None], [None], [None], [None], ["=SUM(A1:A4)"]], values))
    assert ("Q3!A5", "FX28") in short and ("Q3!A5", "FX28") not in full


def test_given_a_short_range_when_audited_then_the_fix_is_the_extended_formula() -> None:
    down = [f for f in audit_sheet(_sheet([[None]] * 4 + [["=SUM(A1:A3)"]], [[1], [2], [3], [4], [None]]))
            if f.rule == "FX28"]  # fmt: skip
    across = [
        f for f in audit_sheet(_sheet([[None] * 4 + ["=SUM($A1:C1)*2"]], [[1, 2, 3, 4, None]])) if f.rule == "FX28"
    ]
    assert [(f.message, f.suggestion) for f in down] == [("A1:A3 stops before the numbers in A4", "=SUM(A1:A4)")]
    assert [(f.message, f.suggestion) for f in across] == [("$A1:C1 stops before the numbers in D1", "=SUM($A1:D1)*2")]


@pytest.mark.parametrize(
    ("total", "message", "suggestion"),
    [
        ("=SUM(A3:A1)", "A3:A1 stops before the numbers in A4", "=SUM(A1:A4)"),
        ("=SUM(A3:$A$1)", "A3:$A$1 stops before the numbers in A4", "=SUM($A$1:A4)"),
        ("=SUM($A$3:A1)", "$A$3:A1 stops before the numbers in A4", "=SUM(A1:$A$4)"),
    ],
)
def test_given_a_short_reversed_range_when_audited_then_the_fix_spans_its_normalised_bounds(
    total: str, message: str, suggestion: str
) -> None:
    # Given a total over A1:A3 written bottom-up, above it one more number (A4)
    sheet = _sheet([[None]] * 4 + [[total]], [[1], [2], [3], [4], [None]])
    # When audited
    findings = [f for f in audit_sheet(sheet) if f.rule == "FX28"]
    # Then the fix covers A1:A4, each bound keeping the $ of the corner it came from
    assert [(f.message, f.suggestion) for f in findings] == [(message, suggestion)]


def _total_below(numbers: int, total: str) -> Sheet:
    formulas: list[list[str | None]] = [[None]] * numbers + [[total]]
    return _sheet(formulas, [[n] for n in range(1, numbers + 1)] + [[None]])


def test_given_range_short_by_several_cells_when_audited_then_max_gap_decides() -> None:
    # Given a total of A1:A2 with four more numbers (A3:A6) between its range and itself
    sheet = _total_below(6, "=SUM(A1:A2)")
    # When audited by default (max_gap 1) / Then it is no range that stopped one cell short
    assert "FX28" not in {f.rule for f in audit_sheet(sheet)}
    # When audited with max_gap 4 / Then the four cells are the numbers it stops before
    wide = PolicyProfile(parameters={"FX28": {"max_gap": 4}})
    assert [(f.message, f.suggestion) for f in audit_sheet(sheet, wide) if f.rule == "FX28"] == [
        ("A1:A2 stops before the numbers in A3:A6", "=SUM(A1:A6)")
    ]
    # And max_gap 0 turns the check off even for a gap of one cell
    none = PolicyProfile(parameters={"FX28": {"max_gap": 0}})
    assert "FX28" not in {f.rule for f in audit_sheet(_total_below(4, "=SUM(A1:A3)"), none)}


def test_given_total_including_subtotals_when_audited_then_double_counting() -> None:
    formulas: list[list[str | None]] = [[None], [None], ["=SUM(A1:A2)"], ["=SUM(A1:A3)"]]
    found = _rules_at(_sheet(formulas, [[1], [2], [None], [None]]))
    assert ("Q3!A4", "FX29") in found
    assert ("Q3!A3", "FX29") not in found


def _column_of_copies(override: str | None, value: object = None) -> Sheet:
    formulas: list[list[str | None]] = [[None, f"=A{r}*2"] for r in range(1, 8)]
    values: list[list[object]] = [[r, r * 2] for r in range(1, 8)]
    formulas[3][1] = override
    values[3][1] = value
    return _sheet(formulas, values)


def test_given_region_with_odd_formula_when_audited_then_only_that_cell_flagged() -> None:
    found = {cell for cell, rule in _rules_at(_column_of_copies("=A5*2")) if rule == "FX30"}
    assert found == {"Q3!B4"}
    assert not {c for c, r in _rules_at(_column_of_copies("=A4*2")) if r == "FX30"}


def test_given_region_with_typed_over_value_when_audited_then_constant_flagged() -> None:
    findings = [f for f in audit_sheet(_column_of_copies(None, 8)) if f.rule == "FX31"]
    assert [(f.cell, f.suggestion) for f in findings] == [("Q3!B4", "=A4*2")]


def test_given_region_parameters_when_audited_then_each_rule_reads_its_own() -> None:
    # Given a typed value among six copies of a formula
    sheet = _column_of_copies(None, 8)

    def typed_over(parameters: dict[str, dict[str, object]]) -> list[str | None]:
        return [f.cell for f in audit_sheet(sheet, PolicyProfile(parameters=parameters)) if f.rule == "FX31"]

    # When FX30 asks for more copies than there are / Then FX31 still reports the typed value
    assert typed_over({"FX30": {"min_region": 7}}) == ["Q3!B4"]
    # When FX31 itself asks for more copies than there are / Then it does not
    assert typed_over({"FX31": {"min_region": 7}}) == []
    assert typed_over({"FX31": {"min_region": 6}}) == ["Q3!B4"]


def _totals_row_of(func: str, columns: str = "ABCD") -> Sheet:
    # Given columns of figures and a totals row whose ranges alternate between rows 1-4 and 2-4
    formulas: list[list[str | None]] = [[None] * len(columns) for _ in range(4)]
    values: list[list[object]] = [[1] * len(columns) for _ in range(4)] + [[None] * len(columns)]
    formulas.append([f"={func}({c}{1 + i % 2}:{c}4)" for i, c in enumerate(columns)])
    return _sheet(formulas, values)


def _inconsistent(sheet: Sheet, profile: PolicyProfile | None = None) -> set[str | None]:
    return {f.cell for f in audit_sheet(sheet, profile) if f.rule == "FX33"}


def test_given_totals_row_parameters_when_audited_then_fx33_reads_min_run() -> None:
    # Given a totals row of four SUMs over two different spans
    sheet = _totals_row_of("SUM")
    # When FX30 asks for more copies than there are / Then FX33 still reports the row
    assert _inconsistent(sheet, PolicyProfile(parameters={"FX30": {"min_region": 5}})) == {
        "Q3!A5",
        "Q3!B5",
        "Q3!C5",
        "Q3!D5",
    }
    # When FX33 asks for five aggregates / Then four are too few to compare
    assert _inconsistent(sheet, PolicyProfile(parameters={"FX33": {"min_run": 5}})) == set()
    # When a row of two totals is audited by default (min_run 3) / Then nothing; with min_run 2 both
    pair = _totals_row_of("SUM", "AB")
    assert _inconsistent(pair) == set()
    assert _inconsistent(pair, PolicyProfile(parameters={"FX33": {"min_run": 2}})) == {"Q3!A5", "Q3!B5"}


@pytest.mark.parametrize("func", ["SUM", "PRODUCT", "MEDIAN", "SUMPRODUCT", "AVERAGEA", "SUBTOTAL"])
def test_given_totals_row_of_any_aggregate_with_mixed_spans_when_audited_then_inconsistent(func: str) -> None:
    # Given a totals row of one aggregate (any the sheet checks know) over two different spans
    # When audited / Then the whole row is reported as inconsistent
    assert _inconsistent(_totals_row_of(func)) == {"Q3!A5", "Q3!B5", "Q3!C5", "Q3!D5"}


def test_given_alternating_columns_when_audited_then_no_region_findings() -> None:
    # Given value / share columns alternating across a row (a common report layout)
    formulas: list[list[str | None]] = [[None, "=A1/A$5", None, "=C1/C$5", None, "=E1/E$5"]] * 4
    values: list[list[object]] = [[1, 0.1, 2, 0.2, 3, 0.3]] * 4
    found = {rule for _, rule in _rules_at(_sheet(formulas, values))}
    assert not found & {"FX30", "FX31", "FX33"}


def test_given_totals_row_with_mixed_spans_when_audited_then_whole_row_flagged() -> None:
    formulas: list[list[str | None]] = [[None] * 4 for _ in range(5)]
    values: list[list[object]] = [[1, 2, 3, 4] for _ in range(4)] + [[None] * 4]
    formulas[4] = ["=SUM(A1:A4)", "=SUM(B2:B4)", "=SUM(C1:C4)", "=SUM(D2:D4)"]
    found = {cell for cell, rule in _rules_at(_sheet(formulas, values)) if rule == "FX33"}
    assert found == {"Q3!A5", "Q3!B5", "Q3!C5", "Q3!D5"}
    formulas[4] = [f"=SUM({c}1:{c}4)" for c in "ABCD"]
    assert not {c for c, r in _rules_at(_sheet(formulas, values)) if r in ("FX30", "FX33")}


def _totals_row(typed_total: int) -> Sheet:
    # Given four columns of figures and a totals row where one total was typed in
    formulas: list[list[str | None]] = [[None] * 4 for _ in range(4)]
    values: list[list[object]] = [[1, 2, 3, 4], [10, 20, 30, 40], [100, 200, 300, 400], [None, None, None, None]]
    formulas[3] = ["=SUM(A1:A3)", "=SUM(B1:B3)", None, "=SUM(D1:D3)"]
    values[3] = [111, 222, typed_total, 444]
    return _sheet(formulas, values)


def _fx31_severity(sheet: Sheet, cell: str) -> set[str]:
    return {f.severity for f in audit_sheet(sheet) if f.rule == "FX31" and f.cell == cell}


def test_given_typed_total_that_differs_from_its_formula_when_audited_then_high() -> None:
    assert _fx31_severity(_totals_row(300), "Q3!C4") == {"high"}


def test_given_typed_total_equal_to_its_formula_when_audited_then_high_naming_the_pasted_value() -> None:
    # A value pasted over the one total of its row equals the sum today and goes stale with the
    # next change of its column: the hard-coded total is an error, and the message says why.
    findings = [f for f in audit_sheet(_totals_row(333)) if f.rule == "FX31"]
    assert {(f.cell, f.severity) for f in findings} == {
        ("Q3!A4", "medium"),
        ("Q3!B4", "medium"),
        ("Q3!C4", "high"),
        ("Q3!D4", "medium"),
    }
    pasted = next(f for f in findings if f.cell == "Q3!C4")
    assert pasted.message == (
        "typed value in a row computed by copies of =SUM(A1:A3)"
        " (the typed value equals the formula's result today, but will not follow its inputs)"
        " (the only cell of the run that breaks it)"
    )


def test_given_rate_rows_between_identical_totals_when_audited_then_no_inconsistent_region() -> None:
    # Given a total column whose rows alternate between copies of one SUM and a rate: layout, not an error
    formulas: list[list[str | None]] = [[None, None, None, f"=SUM(A{r}:C{r})"] for r in range(1, 7)]
    values: list[list[object]] = [[1, 2, 3, 6] for _ in range(6)]
    formulas[2][3] = "=D2/D1*100"
    formulas[4][3] = "=AVERAGE(A5:C5)"
    assert not {c for c, r in _rules_at(_sheet(formulas, values)) if r in ("FX30", "FX33")}
    # When one copy's range differs, it alone is reported as an error
    formulas[5][3] = "=SUM(B6:C6)"
    errors = {f.cell for f in audit_sheet(_sheet(formulas, values)) if f.severity == "high"}
    assert errors == {"Q3!D6"}


def test_given_relative_reference_pinned_to_one_cell_when_audited_then_copies_agree() -> None:
    # Given shares of a total written without $ (=A1/A5, =A2/A5, ...): every copy reads A5
    formulas: list[list[str | None]] = [[None, f"=SUM(A{r}/A5)"] for r in range(1, 5)] + [[None, None]]
    values: list[list[object]] = [[r, None] for r in range(1, 5)] + [[10, None]]
    assert not {c for c, r in _rules_at(_sheet(formulas, values)) if r in ("FX30", "FX33")}


def _sectioned_table(total: str, gap_value: object = None) -> Sheet:
    # Given a table in two sections, each under a heading line, and a total under it
    labels: list[object] = ["Current", "Staff", "Other", "Capital", "Assets", "Total"]
    values: list[list[object]] = [[label, None, None] for label in labels]
    for row, (b, c) in {1: (5, 6), 2: (7, 8), 4: (9, 1)}.items():
        values[row][1:] = [b, c]
    values[3][2] = gap_value
    formulas: list[list[str | None]] = [[None, None, None] for _ in labels]
    formulas[5][1:] = [total, total.replace("B", "C")]
    return _sheet(formulas, values)


def test_given_total_from_heading_across_sections_when_audited_then_flagged() -> None:
    found = _rules_at(_sectioned_table("=SUM(B1:B5)"))
    assert ("Q3!B6", "FX35") in found and ("Q3!C6", "FX35") in found


def test_given_total_of_one_block_or_sparse_ledger_when_audited_then_not_sections() -> None:
    # A range that starts on its first figure, or whose gaps hold figures elsewhere in the table
    # (a sparse ledger, not heading lines), is not a sweep across sections.
    assert not {c for c, r in _rules_at(_sectioned_table("=SUM(B2:B5)")) if r == "FX35"}
    assert not {c for c, r in _rules_at(_sectioned_table("=SUM(B1:B5)", gap_value=4)) if r == "FX35"}


def test_given_repeated_absolute_formula_when_audited_then_duplicates_flagged() -> None:
    formulas: list[list[str | None]] = [
        ["=SUM($B$1:$B$3)"],
        ["=SUM($B$1:$B$3)"],
        ["=SUM($B$1:$B$3)"],
        ["=B1"],
    ]
    found = {cell for cell, rule in _rules_at(_sheet(formulas)) if rule == "FX32"}
    assert found == {"Q3!A2", "Q3!A3"}


def test_given_watched_rate_in_profile_when_audited_then_literal_flagged() -> None:
    profile = PolicyProfile(parameters={"FX07": {"watched": {"vat_rate": 0.2}}})
    assert "FX07" in {f.rule for f in audit_formulas(["=A1*0.2"], profile)}
    assert "FX07" in {f.rule for f in audit_formulas(["=A1*20%"], profile)}
    assert "FX07" not in {f.rule for f in audit_formulas(["=A1*0.25"], profile)}
    assert "FX07" not in {f.rule for f in audit_formulas(["=A1*0.2"])}


def test_catalogue_has_at_least_25_checks_with_valid_metadata() -> None:
    assert len(CHECKS) >= 25
    for rule, spec in CHECKS.items():
        assert rule == spec.id and spec.severity in ("critical", "high", "medium", "low", "info")
        assert spec.tags and spec.title and spec.description


def test_given_findings_of_any_case_when_audited_then_severity_is_one_the_catalogue_states() -> None:
    # The catalogue is truthful: a finding's severity is the default or one of the stated cases.
    sheets = [
        _totals_row(300),
        _totals_row(333),
        _column_of_copies("=A5*2"),
        _column_of_copies(None, 8),
        _sectioned_table("=SUM(B1:B5)"),
    ]
    findings = [f for sheet in sheets for f in audit_sheet(sheet)]
    findings += audit_formulas(['=A1+"5"', '=A1+"x"', '=WEBSERVICE("https://x.test/?q="&A1)', "=SUM(A1+B1)"])
    for f in findings:
        spec = CHECKS[f.rule]
        assert f.severity in {spec.severity, *(case for case, _ in spec.severity_cases)}, f
