"""FX26 on small sheets whose ranges become nodes of the range graph: long runs, shared ranges,
several columns, and the work each costs (what the work budget counts)."""

from __future__ import annotations

import pytest
from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet

CYCLES_ONLY = PolicyProfile(enabled=("FX26", "FX90"))


def _findings(grid: list[list[str | None]], work_budget: int | None = None) -> list[tuple[str | None, str, str]]:
    found = audit_sheet(Sheet("S", grid), CYCLES_ONLY, work_budget=work_budget)
    return [(f.cell, f.rule, f.message) for f in found]


def _col(texts: list[str]) -> list[list[str | None]]:
    return [[text] for text in texts]


def test_given_a_cycle_through_the_first_cell_of_a_long_range_when_audited_then_both_cells_critical() -> None:
    # Given A8 = SUM(A1:A7) over seven formulas (a range node of the graph) and A1 reading A8
    grid = _col(["=A8", "=1", "=1", "=1", "=1", "=1", "=1", "=SUM(A1:A7)"])
    # When audited
    found = audit_sheet(Sheet("S", grid), CYCLES_ONLY)
    # Then A1 and A8 are on the cycle, critical, with the way out
    assert [(f.cell, f.rule, f.severity, f.message, f.suggestion) for f in found] == [
        (
            "S!A1",
            "FX26",
            "critical",
            "the formula depends on its own result",
            "break the cycle: reference inputs, not this result",
        ),
        (
            "S!A8",
            "FX26",
            "critical",
            "the formula depends on its own result",
            "break the cycle: reference inputs, not this result",
        ),
    ]


@pytest.mark.parametrize(
    ("reader_row", "cyclic"),
    [
        (3, {"S!A3", "S!A11"}),  # the range's first cell reads the total
        (7, {"S!A7", "S!A11"}),  # a cell in its middle
        (10, {"S!A10", "S!A11"}),  # its last cell
    ],
)
def test_given_a_long_range_starting_mid_column_when_one_of_its_cells_reads_the_total_then_that_cycle(
    reader_row: int, cyclic: set[str]
) -> None:
    # Given eleven formulas in A, A11 = SUM(A3:A10), and one cell of A3:A10 reading A11
    texts = ["=1"] * 10 + ["=SUM(A3:A10)"]
    texts[reader_row - 1] = "=A11*2"
    # When audited / Then exactly that cell and the total are on a cycle
    assert {cell for cell, _, _ in _findings(_col(texts))} == cyclic


def test_given_a_long_range_beside_the_cells_reading_its_total_when_audited_then_no_cycle() -> None:
    # Given A11 = SUM(A3:A10), and A1, A2 (above the range) reading A11
    texts = ["=A11", "=A11+1"] + ["=1"] * 8 + ["=SUM(A3:A10)"]
    # When audited / Then nothing is on a cycle
    assert _findings(_col(texts)) == []


def test_given_a_cycle_next_to_a_finished_one_that_it_reads_when_audited_then_both_cycles() -> None:
    # Given A1 <-> A2, and A3 <-> A4 where A4 also reads A1 (a cycle found before it)
    grid = _col(["=A2", "=A1", "=A4", "=A3+A1"])
    # When audited / Then all four cells are on a cycle
    assert [cell for cell, _, _ in _findings(grid)] == ["S!A1", "S!A2", "S!A3", "S!A4"]


def test_given_two_ranges_over_two_columns_when_audited_then_each_read_as_itself() -> None:
    # Given C1 = SUM(A1:B1) (no cycle) and C3 = SUM(A2:B2) where A2 reads C3
    grid: list[list[str | None]] = [["=1", "=1", "=SUM(A1:B1)"], ["=C3", "=1", None], [None, None, "=SUM(A2:B2)"]]
    # When audited / Then the second range's cycle is found
    assert [cell for cell, _, _ in _findings(grid)] == ["S!A2", "S!C3"]


def test_given_a_wide_range_read_twice_when_audited_then_the_cycle_through_it() -> None:
    # Given six formulas in A1:B3, C1 and C2 both summing A1:B3, and A1 reading C1
    grid: list[list[str | None]] = [["=C1", "=1", "=SUM(A1:B3)"], ["=1", "=1", "=SUM(A1:B3)*2"], ["=1", "=1", None]]
    # When audited / Then A1 and C1 are on the cycle; C2 only reads it
    assert [cell for cell, _, _ in _findings(grid)] == ["S!A1", "S!C1"]


# What FX26 spends, per formula cell: 1 + its references (reading them), 1 per target of its edges
# (a formula cell, or a node standing for a range), and 1 + its targets for each range node made.
@pytest.mark.parametrize(
    ("grid", "units"),
    [
        # A1:A4 = 1 (1 each); A5 = SUM(A1:A4): four targets, no node (2 + 4) = 10
        (_col(["=1"] * 4 + ["=SUM(A1:A4)"]), 10),
        # A1:A6 = 1 (6); A7 = SUM(A1:A6): a node of six targets (2 + 1 + 7);
        # A8 = SUM(A1:A6)*2 reads that node again (2 + 1) = 19
        (_col(["=1"] * 6 + ["=SUM(A1:A6)", "=SUM(A1:A6)*2"]), 19),
        # ... and A8 = SUM(A2:A7)+1 instead: another node of six targets (2 + 1 + 7) = 26
        (_col(["=1"] * 6 + ["=SUM(A1:A6)", "=SUM(A2:A7)+1"]), 26),
        # A1:A12 = 1 (12); A13 = SUM(A1:A10): A1:A7 is a tree node of seven targets (8), the range a
        # node of it and A8:A10 (5), 2 + 1 + 13 = 16; A14 = SUM(A1:A8)+0 reads the A1:A7 node again
        # beside A8 (a node of two targets: 3), 2 + 1 + 3 = 6 = 34
        (_col(["=1"] * 12 + ["=SUM(A1:A10)", "=SUM(A1:A8)+0"]), 34),
        # A1:B3 = 1 (6); C1 = SUM(A1:B3): a node of six targets (2 + 1 + 7); C2 = SUM(A1:B3)*2 reads
        # it again (2 + 1); C3 = SUM(A1:B2): four targets, no node (2 + 4) = 25
        (
            [["=1", "=1", "=SUM(A1:B3)"], ["=1", "=1", "=SUM(A1:B3)*2"], ["=1", "=1", "=SUM(A1:B2)"]],
            25,
        ),
    ],
)
def test_given_ranges_read_once_or_again_when_budgeted_then_fx26_spends_exactly_their_units(
    grid: list[list[str | None]], units: int
) -> None:
    # Given a sheet of formulas reading ranges, and FX26's units counted by hand
    cells = sum(text is not None for row in grid for text in row)
    last = f"S!{'ABC'[len(grid[-1]) - 1]}{len(grid)}"
    # When audited with exactly those units / Then FX26 checks every cell
    assert _findings(grid, work_budget=units) == []
    # When audited with one unit fewer / Then it stops on the last cell
    [(cell, rule, message)] = _findings(grid, work_budget=units - 1)
    assert (cell, rule) == (last, "FX90")
    stopped = f"FX26 stopped at its work budget ({units - 1} units) after {cells - 1} of {cells} formula cells"
    assert message.startswith(f"{stopped}: from {last} on")
