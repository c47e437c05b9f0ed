"""Sheets for the audit tests, written as the cells that are not empty."""

from __future__ import annotations

from sheetbrain.engine import PolicyProfile, Sheet, audit_sheet

Row = tuple[str | None, str, str, str, str | None]


def grid(cells: dict[tuple[int, int], object], name: str = "S") -> Sheet:
    """A sheet from {(row, col): formula text or typed value}, empty elsewhere."""
    rows = max(r for r, _ in cells)
    cols = max(c for _, c in cells)
    formulas: list[list[str | None]] = [[None] * cols for _ in range(rows)]
    values: list[list[object]] = [[None] * cols for _ in range(rows)]
    for (r, c), item in cells.items():
        if isinstance(item, str) and item.startswith("="):
            formulas[r - 1][c - 1] = item
        else:
            values[r - 1][c - 1] = item
    return Sheet(name, formulas, values)


def audited(sheet: Sheet, *rules: str, work_budget: int | None = None) -> list[Row]:
    """(cell, rule, severity, message, suggestion) of each finding of ``rules`` (and FX90, a check's
    stop): only those rules run, so the findings of the others stay out."""
    profile = PolicyProfile(enabled=(*rules, "FX90"))
    return [
        (f.cell, f.rule, f.severity, f.message, f.suggestion)
        for f in audit_sheet(sheet, profile, work_budget=work_budget)
    ]


def a1_grid(cells: dict[str, tuple[str | None, object]], rows: int, cols: int) -> Sheet:
    """Cells by A1 address (columns A-Z) -> (formula or None, cached value), in a sheet "Q3" at A1."""
    formulas: list[list[str | None]] = [[None] * cols for _ in range(rows)]
    values: list[list[object]] = [[None] * cols for _ in range(rows)]
    for address, (formula, value) in cells.items():
        col, row = ord(address[0]) - 64, int(address[1:])
        formulas[row - 1][col - 1] = formula
        values[row - 1][col - 1] = value
    return Sheet("Q3", formulas, values, "A1")
