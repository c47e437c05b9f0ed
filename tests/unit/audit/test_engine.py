"""Public API: flat and grid audits, profiles, determinism, parse errors as findings."""

from __future__ import annotations

import pytest
from sheetbrain.audit import PolicyProfile, Sheet, audit_formulas, audit_sheet
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
