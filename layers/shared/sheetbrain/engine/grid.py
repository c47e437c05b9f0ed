"""The sheet grid the engine audits: formulas and cached values as the API receives them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sheetbrain.engine.refs import a1, parse_a1


@dataclass(frozen=True)
class Sheet:
    """One sheet (or a rectangular part of it) whose top-left cell is ``origin``.

    ``formulas[i][j]`` is formula text starting with ``=``, empty (``""``/``None``) or, from callers
    that send one grid only, the constant typed in a plain cell (text, a number, a boolean);
    ``values[i][j]`` is the cached value of a formula cell or the constant typed in a plain cell.
    """

    name: str
    formulas: list[list[Any]]
    values: list[list[Any]] = field(default_factory=list)
    origin: str = "A1"

    @property
    def origin_row(self) -> int:
        return parse_a1(self.origin)[0]

    @property
    def origin_col(self) -> int:
        return parse_a1(self.origin)[1]


@dataclass(slots=True)
class Cell:
    """One non-empty cell in absolute sheet coordinates (1-based); slotted: a sheet holds 100,000s."""

    row: int
    col: int
    formula: str | None
    value: Any

    @property
    def is_formula(self) -> bool:
        return self.formula is not None

    @property
    def is_number(self) -> bool:
        return self.formula is None and isinstance(self.value, int | float) and not isinstance(self.value, bool)


def is_data(cell: Cell | None) -> bool:
    """A typed number or a formula: what a run of copies, a range or a line of totals is made of."""
    return cell is not None and (cell.is_number or cell.is_formula)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def cells_of(sheet: Sheet) -> dict[tuple[int, int], Cell]:
    """Non-empty cells keyed by absolute (row, col); a formula string wins over its cached value."""
    base_row, base_col = sheet.origin_row, sheet.origin_col
    out: dict[tuple[int, int], Cell] = {}
    height = max(len(sheet.formulas), len(sheet.values))
    for i in range(height):
        frow = sheet.formulas[i] if i < len(sheet.formulas) else []
        vrow = sheet.values[i] if i < len(sheet.values) else []
        row = base_row + i  # one int object per row, shared by its cells and their keys
        for j in range(max(len(frow), len(vrow))):
            text = frow[j] if j < len(frow) else None
            value = vrow[j] if j < len(vrow) else None
            formula = text if isinstance(text, str) and text.startswith("=") and len(text) > 1 else None
            if formula is None and _is_empty(value):
                # A constant typed in the formulas grid (API callers may send one grid only).
                if not _is_empty(text):
                    value = text
                else:
                    continue
            col = base_col + j
            out[(row, col)] = Cell(row, col, formula, value)
    return out


def cell_name(sheet_name: str, row: int, col: int) -> str:
    """``"Q3!B2"``-style label used in findings."""
    return f"{sheet_name}!{a1(row, col)}"
