"""The audited grid's layout, kept with the audit so that its report can draw the sheet.

Not the grid itself: one character per cell, ``f`` a formula, ``v`` a constant, ``.`` empty, each
row's trailing empties dropped. A grid of the API's largest size (50,000 cells) maps to at most
50,000 characters, where its formulas and values could weigh megabytes, and a sheet's text
(formulas, values) is not copied into one more place. The report shows a formula's text where
a finding quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

FORMULA, CONSTANT, EMPTY = "f", "v", "."
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
# Excel's last column, XFD; the API refuses ranges past it.
SHEET_COLUMNS = 16_384
SHEET_ROWS = 1_048_576


def column_letters(col: int) -> str:
    """1 -> ``A``, 28 -> ``AB``."""
    letters = ""
    while col > 0:
        col, rest = divmod(col - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@cache
def _column_number(letters: str) -> int:
    col = 0
    for letter in letters.upper():
        col = col * 26 + ord(letter) - ord("A") + 1
    return col


def parse_cell(text: str) -> tuple[int, int] | None:
    """``"B3"`` or ``"$B$3"`` -> (3, 2); None for anything else, or a cell off the sheet."""
    m = _CELL.match(text.strip())
    if m is None:
        return None
    letters, digits = m.groups()
    col, row = _column_number(letters), int(digits)
    return (row, col) if 1 <= row <= SHEET_ROWS and col <= SHEET_COLUMNS else None


def split_cell(label: str) -> tuple[str, tuple[int, int]] | None:
    """A finding's ``"Q3!B2"`` -> (``"Q3"``, (2, 2)). The sheet name may itself hold ``!``."""
    sheet, bang, cell = label.rpartition("!")
    where = parse_cell(cell) if bang else None
    return (sheet, where) if where is not None else None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _kind(text: Any, value: Any) -> str:
    # As the engine reads a grid (sheetbrain.engine.grid.cells_of): a formula is text starting
    # with "=" and more; otherwise a value, or a constant typed in the formulas grid.
    if isinstance(text, str) and len(text) > 1 and text[0] == "=":
        return FORMULA
    return EMPTY if _empty(value) and _empty(text) else CONSTANT


@dataclass(frozen=True)
class GridMap:
    """One sheet's layout from its ``origin`` cell (row, column): ``rows[i][j]`` is the kind of
    the cell ``i`` rows below and ``j`` columns right of it; ``height`` x ``width`` cells in all,
    those past a row's string empty."""

    sheet: str
    origin: tuple[int, int]
    rows: tuple[str, ...]
    height: int
    width: int
    # False when rebuilt from an audit recorded without a map: only the findings' cells are known.
    known: bool = True

    def to_doc(self) -> dict[str, Any]:
        """The stored document (sql/0017)."""
        return {"sheet": self.sheet, "origin": f"{column_letters(self.origin[1])}{self.origin[0]}",
                "rows": list(self.rows)}  # fmt: skip

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> GridMap:
        rows = tuple(map(str, doc["rows"]))
        origin = parse_cell(str(doc["origin"])) or (1, 1)
        return cls(str(doc["sheet"]), origin, rows, len(rows), max(map(len, rows), default=0))


def map_grid(
    sheet: str, formulas: Sequence[Sequence[Any]], values: Sequence[Sequence[Any]] | None, origin: str | None
) -> GridMap:
    """The layout of a grid as the API (or a workbook) gives it; ``origin`` as the range's first cell."""
    values = values or ()
    rows: list[str] = []
    for i in range(max(len(formulas), len(values))):
        frow = formulas[i] if i < len(formulas) else ()
        vrow = values[i] if i < len(values) else ()
        width = max(len(frow), len(vrow))
        kinds = "".join(
            _kind(frow[j] if j < len(frow) else None, vrow[j] if j < len(vrow) else None) for j in range(width)
        )
        rows.append(kinds.rstrip(EMPTY))
    while rows and not rows[-1]:
        rows.pop()
    start = (origin or "A1").split(":")[0].rpartition("!")[2]
    return GridMap(sheet, parse_cell(start) or (1, 1), tuple(rows), len(rows), max(map(len, rows), default=0))


def map_from_findings(sheet: str, sheet_range: str | None, cells: Sequence[tuple[int, int]]) -> GridMap:
    """For an audit recorded without a map: the range's extent, widened to the flagged cells,
    with every cell's kind unknown (drawn as empty). The report collapses runs of empty rows
    and columns, so even a whole-sheet range draws only the rows and columns of flagged cells."""
    start, _, end = (sheet_range or "").rpartition("!")[2].partition(":")
    corners = [c for c in (parse_cell(start) if start else None, parse_cell(end) if end else None) if c]
    points = corners + list(cells)
    if not points:
        return GridMap(sheet, (1, 1), (), 0, 0, known=False)
    top = corners[0][0] if corners else min(r for r, _ in points)
    left = corners[0][1] if corners else min(c for _, c in points)
    bottom, right = max(r for r, _ in points), max(c for _, c in points)
    return GridMap(sheet, (top, left), (), max(0, bottom - top + 1), max(0, right - left + 1), known=False)
