"""A1 helpers and R1C1-relative reference patterns (the key for region analysis)."""

from __future__ import annotations

import re

from sheetbrain.engine.ast import CellAddr, Node, Ref
from sheetbrain.engine.printer import Printer, col_letters, sheet_prefix
from sheetbrain.engine.tokenizer import col_to_index

_A1_RE = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")

__all__ = ["a1", "col_letters", "col_to_index", "parse_a1", "r1c1_pattern", "ref_bounds"]


def parse_a1(text: str) -> tuple[int, int]:
    """``"B3"`` -> (row 3, col 2); raises ``ValueError`` on anything else."""
    m = _A1_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not an A1 cell address: {text!r}")
    return int(m.group(2)), col_to_index(m.group(1))


def a1(row: int, col: int) -> str:
    """(3, 2) -> ``"B3"``."""
    return f"{col_letters(col)}{row}"


def _r1c1_part(letter: str, value: int | None, absolute: bool, base: int) -> str:
    if value is None:
        return ""
    if absolute:
        return f"{letter}{value}"
    offset = value - base
    return f"{letter}[{offset}]" if offset else letter


def _r1c1_addr(addr: CellAddr, row: int, col: int) -> str:
    return _r1c1_part("R", addr.row, addr.row_abs, row) + _r1c1_part("C", addr.col, addr.col_abs, col)


class _R1C1Printer(Printer):
    def __init__(self, row: int, col: int) -> None:
        super().__init__(self._format)
        self.row = row
        self.col = col

    def _format(self, ref: Ref) -> str:
        text = _r1c1_addr(ref.start, self.row, self.col)
        if ref.end is not None:
            text += ":" + _r1c1_addr(ref.end, self.row, self.col)
        if ref.spill:
            text += "#"
        return sheet_prefix(ref.sheet, ref.sheet_end, ref.book, ref.book_path) + text


def r1c1_pattern(node: Node, row: int, col: int) -> str:
    """Formula text with references written relative to (row, col): copies of one formula share it."""
    return _R1C1Printer(row, col).print(node)


def ref_bounds(ref: Ref, max_row: int, max_col: int) -> tuple[int, int, int, int]:
    """(row1, col1, row2, col2) of a reference, open sides clipped to the given sheet extent."""
    start, end = ref.start, ref.end or ref.start
    rows = (start.row or 1, end.row or max_row)
    cols = (start.col or 1, end.col or max_col)
    return min(rows), min(cols), max(rows), max(cols)
