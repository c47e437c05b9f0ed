"""Public API: flat and grid audits, profiles, determinism, parse errors as findings."""

from __future__ import annotations

import pytest
from sheetbrain.audit import PolicyProfile, Sheet, audit_formulas, audit_sheet, parser
from sheetbrain.audit.engine import MAX_HITS_PER_RULE
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


@pytest.mark.parametrize(
    "formula",
    [
        "=" + "+".join(["A1/B1"] * 331),  # 1,986 characters
        "=" + "A1+" * 1000 + "1",
    ],
)
def test_given_long_operator_chain_when_audited_then_fx00_finding_not_recursion_error(formula: str) -> None:
    # Given a formula whose operator chain would make a tree too deep to walk
    # When audited as a list and as a grid cell
    [listed] = audit_formulas([formula])
    [in_grid] = audit_sheet(Sheet("S", [[formula]]))

    # Then each gives the parse finding of a too deeply nested formula
    assert listed.rule == in_grid.rule == "FX00"
    assert "nests too deeply" in listed.message and in_grid.cell == "S!A1"


def test_given_tree_too_deep_for_the_checks_when_audited_then_fx00_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a parser whose depth bound is lifted, so that a 3,000-term chain becomes a 3,000-level tree
    monkeypatch.setattr(parser, "MAX_DEPTH", 1_000_000)
    formula = "=" + "A1/B1+" * 3000 + "1"

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
