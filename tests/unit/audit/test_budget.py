"""Work budgets: a sheet check that stops early says where (FX90); nothing is skipped silently."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from sheetbrain.engine import CHECKS, PolicyProfile, Sheet, audit_sheet
from sheetbrain.engine import engine as engine_module
from sheetbrain.engine.checks.context import CellHit, SheetContext
from sheetbrain.engine.checks.formula import Hit, Params

CYCLES_ONLY = PolicyProfile(enabled=("FX26", "FX90"))


def _cycle_ends_sheet(rows: int) -> Sheet:
    # A1 <-> A2 is a cycle, A3..A(rows-2) a chain reading the row above, the last two rows another cycle.
    texts = ["=A2", "=A1"] + [f"=A{r - 1}+1" for r in range(3, rows - 1)] + [f"=A{rows}", f"=A{rows - 1}"]
    return Sheet("S", [[text] for text in texts])


def test_given_a_budget_too_small_for_the_sheet_when_audited_then_fx26_reports_what_it_read_and_where_it_stopped() -> (
    None
):
    # Given 60 formulas in A1:A60 with a cycle at each end, and a budget of 30 units per check:
    # FX26 spends 3 units per cell (the cell and its one reference read, one edge made)
    sheet = _cycle_ends_sheet(60)

    # When audited
    findings = audit_sheet(sheet, CYCLES_ONLY, work_budget=30)

    # Then the cycle among the cells read is reported, the later one is not, and FX90 says where it stopped
    assert [(f.cell, f.rule, f.severity, f.message) for f in findings] == [
        ("S!A1", "FX26", "critical", "the formula depends on its own result"),
        ("S!A2", "FX26", "critical", "the formula depends on its own result"),
        (
            "S!A11",
            "FX90",
            "info",
            "FX26 stopped at its work budget (30 units) after 10 of 60 formula cells: "
            "from S!A11 on (rows 11-60 of S) not checked for circular reference",
        ),
    ]


def test_given_the_default_budget_when_audited_then_both_cycles_and_no_fx90() -> None:
    # Given the same sheet / When audited with the default budget
    findings = audit_sheet(_cycle_ends_sheet(60), CYCLES_ONLY)
    # Then both cycles are found and no check stopped
    assert [(f.cell, f.rule) for f in findings] == [
        ("S!A1", "FX26"),
        ("S!A2", "FX26"),
        ("S!A59", "FX26"),
        ("S!A60", "FX26"),
    ]


def test_given_every_check_on_a_small_budget_when_audited_twice_then_each_stop_is_reported_the_same_way() -> None:
    # Given 40 rows of copies and running totals, each check allowed 40 units, all of them 120
    formulas: list[list[str | None]] = [[None, f"=A{r}*2", f"=SUM($B$1:B{r})"] for r in range(1, 41)]
    values: list[list[object]] = [[r, None, None] for r in range(1, 41)]
    sheet = Sheet("S", formulas, values)

    # When audited twice
    first = audit_sheet(sheet, work_budget=40)
    second = audit_sheet(sheet, work_budget=40)

    # Then the stops are counted, not timed: the same findings both times
    assert first == second
    stops = {f.message.split(" ", 1)[0]: f.message for f in first if f.rule == "FX90"}
    # And the first three checks use their 40 units each, so the sheet's 120 are gone for the rest,
    # which stop on their first cell; the region check reads no cell through the budget and finishes
    assert set(stops) == {"FX26", "FX27", "FX28", "FX29", "FX39", "FX32", "FX35", "FX40", "FX41"}
    assert all("stopped at its work budget (40 units)" in stops[rule] for rule in ("FX26", "FX27", "FX28"))
    for rule in ("FX29", "FX39", "FX32", "FX35", "FX40", "FX41"):
        assert f"{rule} stopped at the work budget left to this sheet's checks (0 units) after 0 of 80" in stops[rule]


def test_given_fx90_disabled_when_a_check_stops_then_no_stop_finding() -> None:
    # Given a profile that turns FX90 off / When a check stops / Then the profile is obeyed
    profile = PolicyProfile(enabled=("FX26",))
    assert [f.rule for f in audit_sheet(_cycle_ends_sheet(60), profile, work_budget=30)] == ["FX26", "FX26"]


def _walks_too_deep(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    # A sheet check that reads two cells, then meets a tree too deep for Python's stack.
    for key in sorted(ctx.trees)[:2]:
        ctx.refs_at(key)
        yield key[0], key[1], Hit("FX26", "found before the failure")
    raise RecursionError("maximum recursion depth exceeded")


def test_given_a_sheet_check_exhausting_the_stack_when_audited_then_fx90_not_silence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a sheet check that fails with RecursionError after reading two cells
    monkeypatch.setattr(engine_module, "SHEET_CHECKS", ((("FX26",), _walks_too_deep),))

    # When a sheet of four formulas is audited
    findings = audit_sheet(Sheet("S", [["=1"], ["=2"], ["=3"], ["=4"]]), CYCLES_ONLY)

    # Then what it found is kept and FX90 names the check and where it stopped
    assert [(f.cell, f.rule, f.message) for f in findings] == [
        ("S!A1", "FX26", "found before the failure"),
        ("S!A2", "FX26", "found before the failure"),
        (
            "S!A2",
            "FX90",
            "FX26 stopped on a formula nested too deeply to walk after 1 of 4 formula cells: "
            "from S!A2 on (rows 2-4 of S) not checked for circular reference",
        ),
    ]


def test_fx90_is_in_the_catalogue_as_info() -> None:
    # Given the catalogue / Then the stop finding has its own id, title and info severity
    spec = CHECKS["FX90"]
    assert (spec.title, spec.severity, spec.scope) == ("Check stopped at its work budget", "info", "sheet")
