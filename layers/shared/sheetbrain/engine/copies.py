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
from collections.abc import Iterator, Mapping

from sheetbrain.engine.ast import CellAddr, Chain, Func, Node, Ref, map_children
from sheetbrain.engine.tokenizer import MAX_COL, MAX_ROW, col_to_index

_PIECE_RE = re.compile(
    r"""
    (?P<quoted>"(?:[^"]|"")*"|'(?:[^']|'')*')          # strings and quoted sheet names: verbatim
    | (?<![\w.$])(?P<cabs>\$?)(?P<col>[A-Za-z]{1,3})    # an A1 cell address not inside a word,
      (?P<rabs>\$?)(?P<row>\d+)(?![\w(!])               # a function name or a sheet prefix
    """,
    re.VERBOSE,
)
_UNSURE_RE = re.compile(r"[\[\]{}:]")  # brackets, array constants or ranges the key cannot vouch for
# Whole columns and rows with both sides absolute ($C:$C, $2:$5) read the same from every cell:
# the key keeps them verbatim. Relative ones (C:C) move with the copy and make the key abstain.
_ABSOLUTE_LINES_RE = re.compile(r"(?<![\w.$])(?:\$[A-Za-z]{1,3}:\$[A-Za-z]{1,3}|\$\d+:\$\d+)(?![\w(!.$:])")


def _unsure(gap: str) -> bool:
    """Whether text between two addresses holds something the key cannot vouch for."""
    return _UNSURE_RE.search(_ABSOLUTE_LINES_RE.sub("", gap) if ":" in gap else gap) is not None


def copy_key(text: str, row: int, col: int) -> str | None:
    """The formula with its A1 cell addresses written relative to (row, col); ``None`` if unsure.

    Texts that differ only in their digit runs (copies of one formula) share a template, found by
    scanning the first of them: which digit runs are the rows of cell addresses (and those
    addresses' columns and ``$`` marks), which are kept verbatim, or that the key abstains.
    """
    pieces = _DIGITS_RE.split(text)
    shape = tuple(pieces[0::2])
    template = _TEMPLATES.get(shape, _UNSCANNED)
    if template is _UNSCANNED:
        template = _template(text, pieces)
        if len(_TEMPLATES) >= _MAX_TEMPLATES:  # copies share templates; the bound only guards memory
            _TEMPLATES.clear()
        _TEMPLATES[shape] = template
    if template is None:
        return None
    parts = [pieces[0]]
    for j, slot in enumerate(template, start=1):
        digits = pieces[2 * j - 1]
        if slot is None:
            parts.append(digits)
        else:
            cut, c, cabs, rabs = slot
            r = int(digits)
            if not 1 <= r <= MAX_ROW:
                return None
            parts[-1] = parts[-1][:-cut]
            parts.append(f"\x00{f'R{r}' if rabs else f'R[{r - row}]'}{f'C{c}' if cabs else f'C[{c - col}]'}\x00")
        parts.append(pieces[2 * j])
    return "".join(parts)


# A slot per digit run of a text: None (kept verbatim) or the run is the row of a cell address
# (characters of the address before the run, column number, column absolute, row absolute).
_Slot = tuple[int, int, bool, bool] | None
_DIGITS_RE = re.compile(r"(\d+)")
_UNSCANNED: list[_Slot] = []
_TEMPLATES: dict[tuple[str, ...], list[_Slot] | None] = {}
_MAX_TEMPLATES = 20_000


def _template(text: str, pieces: list[str]) -> list[_Slot] | None:
    # Which digit runs of ``text`` are rows of cell addresses; None if the key abstains whatever the digits.
    ends: dict[int, int] = {}  # end offset of each digit run -> its index
    offset = 0
    for k, piece in enumerate(pieces):
        offset += len(piece)
        if k % 2:
            ends[offset] = k // 2
    slots: list[_Slot] = [None] * (len(pieces) // 2)
    last = 0
    prev_was_cell = False
    for m in _PIECE_RE.finditer(text):
        gap = text[last : m.start()]
        if _unsure(gap) and not (gap == ":" and prev_was_cell):
            return None
        last = m.end()
        if m.group("quoted") is not None:
            prev_was_cell = False
            continue
        c = col_to_index(m.group("col"))
        if not 1 <= c <= MAX_COL or (gap == ":" and not prev_was_cell) or m.end() not in ends:
            return None
        slots[ends[m.end()]] = (m.start("row") - m.start(), c, bool(m.group("cabs")), bool(m.group("rabs")))
        prev_was_cell = True
    if _unsure(text[last:]):
        return None
    return slots


def _move(addr: CellAddr | None, dr: int, dc: int) -> CellAddr | None:
    if addr is None:
        return None
    row = addr.row if addr.row is None or addr.row_abs else addr.row + dr
    col = addr.col if addr.col is None or addr.col_abs else addr.col + dc
    return CellAddr(col, row, addr.col_abs, addr.row_abs)


def move_ref(ref: Ref, dr: int, dc: int) -> Ref:
    """``ref`` copied ``dr`` rows down and ``dc`` columns right."""
    if dr == 0 and dc == 0:
        return ref
    start = _move(ref.start, dr, dc)
    assert start is not None
    return Ref(start, _move(ref.end, dr, dc), ref.sheet, ref.sheet_end, ref.book, ref.book_path, ref.spill)


def move_tree(node: Node, dr: int, dc: int) -> Node:
    """``node`` copied ``dr`` rows down and ``dc`` columns right (relative references follow)."""
    if dr == 0 and dc == 0:
        return node
    return _moved(node, dr, dc)


def _moved(node: Node, dr: int, dc: int) -> Node:
    # The common nodes directly (one frame per tree level, no closure), the rest through map_children.
    if isinstance(node, Ref):
        return move_ref(node, dr, dc)
    if isinstance(node, Chain):
        # Moving changes references only: the first operand stays what it was, so the chain stays flat.
        return Chain(node.ops, tuple([_moved(o, dr, dc) for o in node.operands]))
    if isinstance(node, Func):
        return Func(node.name, tuple([_moved(a, dr, dc) for a in node.args]))
    if not node.children():
        return node
    return map_children(node, lambda child: _moved(child, dr, dc))


class MovedTrees(Mapping[tuple[int, int], Node]):
    """Trees by cell where copies are stored as (tree of the first copy, distance) and moved on demand.

    Checks that only need a copy's references (``origin``) move those instead of the whole tree.
    """

    def __init__(self) -> None:
        self._origin: dict[tuple[int, int], tuple[Node, int, int]] = {}
        self._moved: dict[tuple[int, int], Node] = {}

    def put(self, key: tuple[int, int], tree: Node, dr: int = 0, dc: int = 0) -> None:
        """Store the tree at ``key``: ``tree`` moved ``dr`` rows and ``dc`` columns."""
        self._origin[key] = (tree, dr, dc)
        if dr == 0 and dc == 0:
            self._moved[key] = tree
        else:
            self._moved.pop(key, None)

    def origin(self, key: tuple[int, int]) -> tuple[Node, int, int]:
        """(unmoved tree, rows, columns): the tree at ``key`` is that tree moved by that distance."""
        return self._origin[key]

    def __getitem__(self, key: tuple[int, int]) -> Node:
        tree = self._moved.get(key)
        if tree is None:
            base, dr, dc = self._origin[key]
            tree = self._moved[key] = move_tree(base, dr, dc)
        return tree

    def __contains__(self, key: object) -> bool:
        return key in self._origin

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._origin)

    def __len__(self) -> int:
        return len(self._origin)
