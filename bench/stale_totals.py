"""FX42's cost (typed totals among copied =SUM totals): the region check at N and 2N.

Usage: PYTHONPATH=layers/shared .venv/bin/python bench/stale_totals.py
A typed total's figures are read cell by cell after evaluating the copy there (both bounded by the
region check's allowance, evaluate.MAX_CELLS a range). Figures, each at N and 2N, best of 3:
- totals row: 300 columns of R figures under a row of =SUM copies, every third total typed (stale),
  R = 400 and 800, figures alternately typed and formulas (a formula figure is checked for being a
  subtotal of the range);
- hostile: one column of 10,000 formula figures (=SUM of two cells of their row), a row of W copies
  of =SUM($A$2:$A$10001) with every other one typed, W = 200, 400, 800 (past the allowance the
  later typed values are not compared: the time levels off, and the check does not stop).
Target: time(2N)/time(N) <= 2.2; no FX90 (the check's stop) in either.
"""

from __future__ import annotations

import time

from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet
from sheetbrain.engine.refs import a1

RULES = PolicyProfile(enabled=("FX31", "FX42", "FX90"))


def totals_row(cols: int, rows: int) -> Sheet:
    formulas: list[list[object]] = [[None] * cols for _ in range(rows + 1)]
    values: list[list[object]] = [[None] * cols for _ in range(rows + 1)]
    for c in range(cols):
        for r in range(rows):
            values[r][c] = (r + c) % 7 + 1
            if r % 2:
                formulas[r][c] = f"={a1(r, c + 1)}+1"
        letters = a1(1, c + 1)[:-1]
        if c % 3 == 1:
            values[rows][c] = 10**6 + c
        else:
            formulas[rows][c] = f"=SUM({letters}1:{letters}{rows})"
    return Sheet("S", formulas, values)


def hostile(width: int) -> Sheet:
    rows, cols = 10_001, max(width + 1, 3)
    formulas: list[list[object]] = [[None] * cols for _ in range(rows)]
    values: list[list[object]] = [[None] * cols for _ in range(rows)]
    for r in range(1, rows):
        formulas[r][0], values[r][0], values[r][1], values[r][2] = f"=SUM(B{r + 1}:C{r + 1})", 3, 1, 2
    for c in range(3, width + 1):
        if c % 2:
            formulas[0][c] = "=SUM($A$2:$A$10001)"
        else:
            values[0][c] = 10**9
    return Sheet("S", formulas, values)


def run(label: str, sheet: Sheet) -> float:
    best, found = float("inf"), []
    for _ in range(3):
        start = time.perf_counter()
        found = list(audit_sheet(sheet, RULES))
        best = min(best, time.perf_counter() - start)
    counts = {rule: sum(f.rule == rule for f in found) for rule in ("FX42", "FX31", "FX90")}
    print(f"{label:28} {best * 1000:9.1f} ms  " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    return best


def main() -> None:
    n = run("totals row, 400 rows", totals_row(300, 400))
    n2 = run("totals row, 800 rows", totals_row(300, 800))
    print(f"  ratio 2N/N {n2 / n:.2f}")
    h = [run(f"hostile, {w} copies", hostile(w)) for w in (200, 400, 800)]
    print(f"  ratio 2N/N {h[1] / h[0]:.2f} (200 -> 400), {h[2] / h[1]:.2f} (400 -> 800, past the allowance)")


if __name__ == "__main__":
    main()
