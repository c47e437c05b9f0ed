"""FX29 on boxes: each SUM asks the subtotals one question, and flags exactly what a scan flags."""

from __future__ import annotations

import random

from sheetbrain.engine import Sheet, audit_sheet
from sheetbrain.engine.refs import a1


def test_given_random_sums_when_audited_then_fx29_flags_exactly_the_sums_holding_a_subtotal_and_its_range() -> None:
    # Given random 12x4 sheets of numbers and SUMs over random ranges (fixed seed)
    rng = random.Random(29)
    flagged_any = 0
    for _ in range(150):
        formulas: list[list[str | None]] = [[None] * 4 for _ in range(12)]
        values: list[list[object]] = [[1] * 4 for _ in range(12)]
        boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        for r in range(1, 13):
            for c in range(1, 5):
                if rng.random() < 0.3:
                    r1, r2 = sorted((rng.randint(1, 12), rng.randint(1, 12)))
                    c1, c2 = sorted((rng.randint(1, 4), rng.randint(1, 4)))
                    formulas[r - 1][c - 1] = f"=SUM({a1(r1, c1)}:{a1(r2, c2)})"
                    values[r - 1][c - 1] = None
                    boxes[(r, c)] = (r1, c1, r2, c2)
        # The reference: a SUM is flagged when another SUM lies inside its range with the range it adds
        expected = {
            f"S!{a1(*owner)}"
            for owner, (r1, c1, r2, c2) in boxes.items()
            if any(
                other != owner
                and r1 <= other[0] <= r2
                and c1 <= other[1] <= c2
                and r1 <= i1
                and i2 <= r2
                and c1 <= j1
                and j2 <= c2
                for other, (i1, j1, i2, j2) in boxes.items()
            )
        }
        # When audited
        found = {f.cell for f in audit_sheet(Sheet("S", formulas, values)) if f.rule == "FX29"}
        # Then exactly those SUMs are flagged
        assert found == expected, formulas
        flagged_any += bool(expected)
    assert flagged_any > 30


def test_given_a_running_total_of_row_totals_when_audited_then_not_double_counting() -> None:
    # Given row totals in E (each adds A:D of its row) and a running total of E in F
    formulas: list[list[str | None]] = [
        [None, None, None, None, f"=SUM(A{r}:D{r})", f"=SUM($E$1:E{r})"] for r in range(1, 301)
    ]
    values: list[list[object]] = [[1, 2, 3, 4, None, None] for _ in range(300)]
    # When audited / Then no running total counts a row twice (its range holds no row's details)
    assert not [f for f in audit_sheet(Sheet("S", formulas, values)) if f.rule == "FX29"]


def test_given_a_grand_total_over_details_and_subtotals_when_audited_then_the_subtotal_is_named() -> None:
    # Given details in A1:A2, their subtotal in A3 and a grand total over A1:A3
    formulas: list[list[str | None]] = [[None], [None], ["=SUM(A1:A2)"], ["=SUM(A1:A3)"]]
    # When audited
    findings = [f for f in audit_sheet(Sheet("S", formulas, [[1], [2], [None], [None]])) if f.rule == "FX29"]
    # Then the grand total is flagged, naming the subtotal it counts twice
    assert [(f.cell, f.message) for f in findings] == [("S!A4", "A1:A3 includes the subtotal A3 and the cells it adds")]
