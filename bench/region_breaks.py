"""The between-copies breaks of FX30/FX31 (a break high among other breaks): cost at N and 2N.

Usage: PYTHONPATH=layers/shared .venv/bin/python bench/region_breaks.py
One column of N copies of =B*C (N = 5,000, 10,000, 20,000 rows) broken every 20 rows by a moved
reference (50 different offsets, so each recurs once N passes 1,000), every 20 rows by an
operator swap (=B/C, one formula recurring), and every 23 rows by the copy's result typed to
every digit: each break has copies on both sides, so every one is judged by the between-copies
tests (line across, recurrence, slip, pasted value). Best of 3.
Target: time(2N)/time(N) <= 2.2.
"""

from __future__ import annotations

import time

from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet

RULES = PolicyProfile(enabled=("FX30", "FX31"))


def column(rows: int) -> Sheet:
    formulas: list[list[object]] = []
    values: list[list[object]] = []
    for r in range(1, rows + 1):
        formula: str | None = f"=B{r}*C{r}"
        if r % 20 == 3:
            formula = f"=B{r}*C{r + 1 + (r // 20) % 50}"
        elif r % 20 == 9:
            formula = f"=B{r}/C{r}"
        typed = r * (r + 0.37) if r % 23 == 0 else None
        formulas.append([None, None, None, None if typed is not None else formula])
        values.append(["x", r, r + 0.37, typed])
    return Sheet("S", formulas, values)


def main() -> None:
    previous = None
    for rows in (5_000, 10_000, 20_000):
        sheet = column(rows)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            findings = audit_sheet(sheet, RULES)
            best = min(best, time.perf_counter() - start)
        high = sum(1 for f in findings if f.severity == "high")
        ratio = f"  x{best / previous:.2f}" if previous else ""
        print(f"rows {rows:>6,}: {best:6.3f}s  findings {len(findings):>5}  high {high:>5}{ratio}")
        previous = best


if __name__ == "__main__":
    main()
