"""Sheets for the audit tests, written as the cells that are not empty."""

from __future__ import annotations

from sheetbrain.engine import Sheet


def a1_grid(cells: dict[str, tuple[str | None, object]], rows: int, cols: int) -> Sheet:
    """Cells by A1 address (columns A-Z) -> (formula or None, cached value), in a sheet "Q3" at A1."""
    formulas: list[list[str | None]] = [[None] * cols for _ in range(rows)]
    values: list[list[object]] = [[None] * cols for _ in range(rows)]
    for address, (formula, value) in cells.items():
        col, row = ord(address[0]) - 64, int(address[1:])
        formulas[row - 1][col - 1] = formula
        values[row - 1][col - 1] = value
    return Sheet("Q3", formulas, values, "A1")
