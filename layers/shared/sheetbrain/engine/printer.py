"""Tree -> formula text. ``parse(unparse(tree)) == tree`` for every tree the parser produces."""

from __future__ import annotations

import re
from collections.abc import Callable

from sheetbrain.engine.ast import (
    PERCENT_POWER,
    UNARY_POWER,
    Array,
    Bool,
    Call,
    CellAddr,
    Chain,
    ErrorLit,
    Func,
    Missing,
    Name,
    Node,
    Number,
    Percent,
    Ref,
    String,
    StructRef,
    Unary,
    Union,
)

_PLAIN_SHEET_RE = re.compile(r"[^\W\d][\w.]*")
_LOOKS_LIKE_REF_RE = re.compile(r"(?:\$?[A-Za-z]{1,3}\$?\d+|[Rr]\d*[Cc]\d*|TRUE|FALSE)", re.IGNORECASE)
_REF_LIKE = (Ref, Name, StructRef, Func, Call, Union, ErrorLit)

RefFormatter = Callable[[Ref], str]


def col_letters(index: int) -> str:
    """1 -> ``"A"``, 27 -> ``"AA"``."""
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _needs_quotes(sheet: str) -> bool:
    return not _PLAIN_SHEET_RE.fullmatch(sheet) or bool(_LOOKS_LIKE_REF_RE.fullmatch(sheet))


def sheet_prefix(sheet: str | None, sheet_end: str | None = None, book: str | None = None, path: str = "") -> str:
    """The ``Sheet!``-style qualifier for a reference, quoted when Excel requires it."""
    if sheet is None and book is None:
        return ""
    sheets = (sheet or "") + (":" + sheet_end if sheet_end else "")
    if book is not None:
        body = f"{path}[{book}]{sheets}"
        simple = not path and (not sheets or not any(_needs_quotes(s) for s in sheets.split(":")))
        return f"{body}!" if simple else "'" + body.replace("'", "''") + "'!"
    if any(_needs_quotes(s) for s in sheets.split(":")):
        return "'" + sheets.replace("'", "''") + "'!"
    return sheets + "!"


def format_addr(addr: CellAddr) -> str:
    """A1-style text of one corner."""
    out = ""
    if addr.col is not None:
        out += ("$" if addr.col_abs else "") + col_letters(addr.col)
    if addr.row is not None:
        out += ("$" if addr.row_abs else "") + str(addr.row)
    return out


def format_ref(ref: Ref) -> str:
    """A1-style text of a reference, with its qualifier."""
    text = format_addr(ref.start)
    if ref.end is not None:
        text += ":" + format_addr(ref.end)
    if ref.spill:
        text += "#"
    return sheet_prefix(ref.sheet, ref.sheet_end, ref.book, ref.book_path) + text


def _power(node: Node) -> int:
    if isinstance(node, Chain):
        return node.power
    if isinstance(node, Unary):
        return UNARY_POWER
    if isinstance(node, Percent):
        return PERCENT_POWER
    return 1000


class Printer:
    """Prints trees; ``ref_formatter`` lets callers render references differently (R1C1 patterns)."""

    def __init__(self, ref_formatter: RefFormatter = format_ref) -> None:
        self.ref_formatter = ref_formatter

    def wrap(self, node: Node, parens: bool) -> str:
        text = self.print(node)
        return f"({text})" if parens else text

    def print(self, node: Node) -> str:
        """Formula text of ``node`` without the leading ``=``."""
        if isinstance(node, Ref):
            return self.ref_formatter(node)
        if isinstance(node, Chain):
            return self.chain(node)
        if isinstance(node, Func):
            return f"{node.name}({','.join([self.print(a) for a in node.args])})"
        if isinstance(node, Number):
            return node.text
        if isinstance(node, String):
            return '"' + node.value.replace('"', '""') + '"'
        if isinstance(node, Unary):
            return node.op + self.wrap(node.operand, _power(node.operand) < UNARY_POWER)
        if isinstance(node, Percent):
            return self.wrap(node.operand, _power(node.operand) < PERCENT_POWER) + "%"
        if isinstance(node, Bool):
            return "TRUE" if node.value else "FALSE"
        if isinstance(node, Name):
            return sheet_prefix(node.sheet, None, node.book, node.book_path) + node.name
        if isinstance(node, ErrorLit):
            return sheet_prefix(node.sheet, None, node.book) + node.code
        if isinstance(node, Missing):
            return ""
        if isinstance(node, Union):
            return "(" + ",".join([self.print(i) for i in node.items]) + ")"
        if isinstance(node, Array):
            return "{" + ";".join([",".join([self.print(i) for i in row]) for row in node.rows]) + "}"
        if isinstance(node, StructRef):
            return node.table + node.spec
        if isinstance(node, Call):
            callee = self.wrap(node.callee, not isinstance(node.callee, Func | Call))
            return f"{callee}({','.join([self.print(a) for a in node.args])})"
        raise TypeError(f"unknown node {type(node).__name__}")

    def chain(self, node: Chain) -> str:
        """``a op b op c``: operands that bind less tightly in brackets (and, on the right, equally)."""
        power = node.power
        first, rest = node.operands[0], node.operands[1:]
        if node.ops[0] == " ":
            # Intersection: only reference-like operands stand bare beside a space.
            parts = [self.wrap(first, not isinstance(first, _REF_LIKE) or _power(first) < power)]
            parts.extend([self.wrap(o, not isinstance(o, _REF_LIKE) or _power(o) <= power) for o in rest])
            return " ".join(parts)
        parts = [self.wrap(first, _power(first) < power)]
        for op, operand in zip(node.ops, rest, strict=True):
            parts.append(op)
            parts.append(self.wrap(operand, _power(operand) <= power))
        return "".join(parts)


_DEFAULT = Printer()


def unparse(node: Node) -> str:
    """Formula text of a tree, without the leading ``=``."""
    return _DEFAULT.print(node)


def to_formula(node: Node) -> str:
    """Formula text of a tree, with the leading ``=``."""
    return "=" + _DEFAULT.print(node)
