"""Public API: flat and grid audits, profiles, determinism, parse errors as findings."""

from __future__ import annotations

import pytest
from sheetbrain.engine import PolicyProfile, Sheet, audit_formulas, audit_sheet, parser
from sheetbrain.engine.engine import MAX_HITS_PER_RULE
from sheetbrain.errors import ValidationError


def test_given_flat_formulas_when_audited_then_findings_carry_index_not_cell() -> None:
    findings = audit_formulas(["=A1+1", "=VLOOKUP(A1,B1:C3,2)"])
    assert findings and all(f.cell is None and f.index == 1 for f in findings)


def test_given_unparseable_formula_when_audited_then_fx00_finding_not_exception() -> None:
    [finding] = audit_formulas(["=SUM(A1"])
    assert finding.rule == "FX00" and "position" in finding.message


def test_given_api_grid_when_audited_then_cells_are_named_from_origin() -> None:
    # Given the API's grid shape with its range's top-left as origin
    sheet = Sheet("Q3", [["", "=B2*1.2"]], [["Item", 10]], origin="C5")
    # When audited / Then findings name absolute cells
    assert {f.cell for f in audit_sheet(sheet)} == {"Q3!D5"}


def test_given_profile_when_audited_then_disable_and_severity_override_apply() -> None:
    profile = PolicyProfile(disabled=("FX08",), severities={"FX02": "critical"})
    findings = {f.rule: f.severity for f in audit_formulas(["=VLOOKUP(A1,B:C,2)"], profile)}
    assert findings == {"FX02": "critical"}
    only = PolicyProfile(enabled=("FX08",))
    assert {f.rule for f in audit_formulas(["=VLOOKUP(A1,B:C,2)"], only)} == {"FX08"}


def test_given_profile_when_serialised_then_round_trips_through_json() -> None:
    profile = PolicyProfile(
        enabled=None,
        disabled=("FX01",),
        severities={"FX06": "high"},
        parameters={"FX07": {"watched": {"vat": 0.2}}},
    )
    assert PolicyProfile.from_json(profile.to_json()) == profile


@pytest.mark.parametrize(
    "data",
    [
        {"disabled": ["NOPE"]},
        {"severities": {"FX01": "fatal"}},
        {"parameters": {"FX10": {"x": 1}}},
        {"bogus": 1},
        [],
    ],
)
def test_given_invalid_profile_when_loaded_then_validation_error(data: object) -> None:
    with pytest.raises(ValidationError):
        PolicyProfile.from_dict(data)  # type: ignore[arg-type]


def test_given_same_sheet_when_audited_twice_then_identical_findings() -> None:
    formulas: list[list[str | None]] = [[None, f"=A{r}*2"] for r in range(1, 6)]
    formulas[2][1] = "=A9*2"
    sheet = Sheet("S", formulas, [[r, None] for r in range(1, 6)])
    assert audit_sheet(sheet) == audit_sheet(sheet)
    assert audit_sheet(sheet)[0].to_dict()["tags"]


def _sum_with_division(terms: int) -> str:
    # A1+A2+...+A{terms}, with B1/C1 added halfway
    cells = [f"A{row}" for row in range(1, terms + 1)]
    return "=" + "+".join([*cells[: terms // 2], "B1/C1", *cells[terms // 2 :]])


def test_given_300_term_sum_when_audited_then_checked_like_a_short_sum() -> None:
    # Given a hand-built sum of 300 cells and of 4 cells, each adding B1/C1 halfway
    long, short = _sum_with_division(300), _sum_with_division(4)

    # When audited as a list
    long_findings, short_findings = audit_formulas([long]), audit_formulas([short])

    # Then both get the same findings, the long one also its length (FX11)
    assert [(f.rule, f.message) for f in long_findings] == [
        ("FX11", f"formula is {len(long)} characters long"),
        ("FX13", "C1 may be zero or empty"),
    ]
    assert [(f.rule, f.message, f.suggestion) for f in short_findings] == [
        ("FX13", "C1 may be zero or empty", "=A1+A2+IF(C1=0,0,B1/C1)+A3+A4"),
    ]
    fixed = long_findings[1].suggestion
    assert fixed == long.replace("+B1/C1+", "+IF(C1=0,0,B1/C1)+")


def test_given_300_term_sum_over_an_empty_divisor_in_a_sheet_when_audited_then_division_found() -> None:
    # Given a sheet: 300 numbers in column A, B1 = 5, C1 empty, and in D1 the long sum adding B1/C1
    formulas: list[list[str | None]] = [[None, None, None, None] for _ in range(300)]
    formulas[0][3] = _sum_with_division(300)
    values: list[list[object]] = [[row, 5 if row == 1 else None, None, None] for row in range(1, 301)]

    # When audited as a grid
    findings = audit_sheet(Sheet("S", formulas, values))

    # Then the division by the empty cell is found in D1, as in a short sum
    assert ("S!D1", "FX13", "C1 may be zero or empty") in {(f.cell, f.rule, f.message) for f in findings}


def test_given_tree_too_deep_for_the_checks_when_audited_then_fx00_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a parser whose depth bound is lifted, and a divisor under 3,000 percent signs: the parser
    # builds them in a loop, a 3,000-level tree that the printer and fixes walk recursively
    monkeypatch.setattr(parser, "MAX_DEPTH", 1_000_000)
    formula = "=A1/B1" + "%" * 3000

    # When audited as a list and as a column of copies
    listed = audit_formulas([formula])
    in_grid = audit_sheet(Sheet("S", [[formula], [formula.replace("A1", "A2")], [formula.replace("A1", "A3")]]))

    # Then the checks' recursion error becomes the finding of a too deeply nested formula, not a crash
    assert [(f.rule, "nests too deeply" in f.message) for f in listed] == [("FX00", True)]
    assert {(f.cell, f.rule) for f in in_grid} == {("S!A1", "FX00"), ("S!A2", "FX00"), ("S!A3", "FX00")}


def test_given_many_divisions_in_one_formula_when_audited_then_hits_per_rule_are_bounded() -> None:
    # Given one formula dividing by a cell 300 times (each hit would reprint the whole formula)
    formula = "=SUM(" + ",".join(["A1/B1"] * 300) + ")"

    # When audited
    hits = [f for f in audit_formulas([formula]) if f.rule == "FX13"]

    # Then a bounded number of hits is reported, each with the whole corrected formula
    assert len(hits) == MAX_HITS_PER_RULE
    assert hits[0].suggestion is not None and hits[0].suggestion.startswith("=SUM(IF(B1=0,0,A1/B1),IF(B1=0,0,A1/B1),")


def test_given_a_few_distinct_hits_when_audited_then_each_is_reported_with_its_fix() -> None:
    # Given a formula dividing by three different cells / When audited
    hits = [f for f in audit_formulas(["=A1/B1+C1/D1-E1/F1"]) if f.rule == "FX13"]
    # Then every division is reported with its own corrected formula
    assert [(f.message, f.suggestion) for f in hits] == [
        ("B1 may be zero or empty", "=IF(B1=0,0,A1/B1)+C1/D1-E1/F1"),
        ("D1 may be zero or empty", "=A1/B1+IF(D1=0,0,C1/D1)-E1/F1"),
        ("F1 may be zero or empty", "=A1/B1+C1/D1-IF(F1=0,0,E1/F1)"),
    ]


def test_given_non_text_formulas_when_audited_then_fx00_findings_not_exception() -> None:
    # Given a list with missing and non-text entries among formulas
    formulas: list[object] = [None, 42, ["=A1"], "=A1/0"]

    # When audited
    findings = audit_formulas(formulas)  # type: ignore[arg-type]

    # Then each non-text entry gets the parse finding and the formula after them is still checked
    assert [(f.index, f.rule) for f in findings] == [(0, "FX00"), (1, "FX00"), (2, "FX00"), (3, "FX14")]
    assert findings[0].formula == "" and "must be text" in findings[0].message


def test_given_functions_nested_beyond_excels_limit_when_audited_then_fx00_names_the_limit() -> None:
    # Given 64 and 65 nested functions
    ok, too_deep = ("=" + "ABS(" * depth + "A1" + ")" * depth for depth in (64, 65))

    # When audited
    findings = audit_formulas([ok, too_deep])

    # Then only the second gets the parse finding, naming Excel's limit and the 65th function (after "=" and 64 "ABS(")
    assert [(f.index, f.rule, f.message) for f in findings if f.rule == "FX00"] == [
        (1, "FX00", "formula does not parse: functions nest more than 64 levels deep (Excel's limit) at position 257"),
    ]
