"""The engine's memory is linear in the sheet: a bound on a 20,000-formula whole-column sheet."""

from __future__ import annotations

import tracemalloc

import pytest
from sheetbrain.engine import Sheet, audit_sheet

# Measured: ~610 bytes per non-empty cell (the cell, its key, its tree's reference and R1C1
# pattern, its node and edges in the dependency graph), flat from 5,000 to 80,000 formulas:
# 23 MB here. 64 MB allows 1.6 KB per cell, while the per-pair dependency graph this replaces
# (every formula of the column an edge of every COUNTIF) needs 2 * 10^8 edges: gigabytes
# (10,000 formulas took 863 MB; 15,000 ran out of memory at 3 GiB).
PEAK_BOUND_MB = 64


@pytest.mark.slow
def test_given_20000_formulas_reading_a_whole_formula_column_when_audited_then_memory_stays_linear() -> None:
    # Given 10,000 rows: C doubles B, D counts C's value over the whole column plus a running total of C
    rows = 10_000
    formulas: list[list[str | None]] = [
        [None, None, f"=B{r}*2", f"=COUNTIF($C:$C,C{r})+SUM($C$1:C{r})"] for r in range(1, rows + 1)
    ]
    values: list[list[object]] = [[r, r % 50, None, None] for r in range(1, rows + 1)]
    sheet = Sheet("S", formulas, values)

    # When audited with its memory traced
    tracemalloc.start()
    try:
        findings = audit_sheet(sheet)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Then the peak stays under the linear bound, and every check ran to the end without a cycle
    assert peak < PEAK_BOUND_MB * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert not [f for f in findings if f.rule in ("FX26", "FX90")]
