"""Copies of one formula: a cheap text key that is equal for copies, and moving a tree to a new cell.

A formula filled down a column is stored as many texts (``=B2*C2``, ``=B3*C3``...) that are one
formula in R1C1 terms. ``copy_key`` rewrites the A1 cell references of a text relative to its cell
without parsing it, so the engine parses and checks one copy and *moves* the tree to the others.

The key is conservative: whenever the text holds something whose movement the key cannot describe
exactly (whole rows/columns, structured or external references, out-of-grid addresses) it returns
``None`` and the caller parses the text itself. Two texts with the same key therefore parse to trees
that differ only by moving every relative reference by the distance between their cells.
"""

from __future__ import annotations

import re

from sheetbrain.audit.ast import CellAddr, Node, Ref
from sheetbrain.audit.checks.formula import map_children

MAX_ROW = 1_048_576
MAX_COL = 16_384

_PIECE_RE = re.compile(
    r"""
    (?P<quoted>"(?:[^"]|"")*"|'(?:[^']|'')*')          # strings and quoted sheet names: verbatim
    | (?<![\w.$])(?P<cabs>\$?)(?P<col>[A-Za-z]{1,3})    # an A1 cell address not inside a word,
      (?P<rabs>\$?)(?P<row>\d+)(?![\w(!])               # a function name or a sheet prefix
    """,
    re.VERBOSE,
)
_UNSURE_RE = re.compile(r"[\[\]{}:]")  # brackets, array constants or ranges the key cannot vouch for


def _col_number(letters: str) -> int:
    n = 0
    for char in letters.upper():
        n = n * 26 + ord(char) - 64
    return n


def copy_key(text: str, row: int, col: int) -> str | None:
    """The formula with its A1 cell addresses written relative to (row, col); ``None`` if unsure."""
    parts: list[str] = []
    last = 0
    prev_was_cell = False
    for m in _PIECE_RE.finditer(text):
        gap = text[last : m.start()]
        if _UNSURE_RE.search(gap) and not (gap == ":" and prev_was_cell):
            return None
        parts.append(gap)
        last = m.end()
        if m.group("quoted") is not None:
            parts.append(m.group("quoted"))
            prev_was_cell = False
            continue
        r, c = int(m.group("row")), _col_number(m.group("col"))
        if not (1 <= r <= MAX_ROW and 1 <= c <= MAX_COL):
            return None
        r_part = f"R{r}" if m.group("rabs") else f"R[{r - row}]"
        c_part = f"C{c}" if m.group("cabs") else f"C[{c - col}]"
        if gap == ":" and not prev_was_cell:
            return None
        parts.append("\x00" + r_part + c_part + "\x00")
        prev_was_cell = True
    tail = text[last:]
    if _UNSURE_RE.search(tail):
        return None
    parts.append(tail)
    return "".join(parts)


def _move(addr: CellAddr | None, dr: int, dc: int) -> CellAddr | None:
    if addr is None:
        return None
    row = addr.row if addr.row is None or addr.row_abs else addr.row + dr
    col = addr.col if addr.col is None or addr.col_abs else addr.col + dc
    return CellAddr(col, row, addr.col_abs, addr.row_abs)


def move_tree(node: Node, dr: int, dc: int) -> Node:
    """``node`` copied ``dr`` rows down and ``dc`` columns right (relative references follow)."""
    if dr == 0 and dc == 0:
        return node
    if isinstance(node, Ref):
        start = _move(node.start, dr, dc)
        assert start is not None
        return Ref(
            start,
            _move(node.end, dr, dc),
            node.sheet,
            node.sheet_end,
            node.book,
            node.book_path,
            node.spill,
        )
    return map_children(node, lambda child: move_tree(child, dr, dc))
