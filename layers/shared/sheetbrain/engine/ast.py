"""Typed syntax tree of a spreadsheet formula: frozen, hashable dataclasses.

Parentheses are not kept as nodes: the printer re-inserts the ones that precedence needs, so
``parse(unparse(tree)) == tree`` holds for every tree the parser produces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Prefixes Excel writes in front of functions newer than the file format it saves in.
FUNCTION_PREFIXES = ("_xlfn._xlws.", "_xlfn.", "_xlws.", "_xludf.", "__xludf.")


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every tree node."""

    def children(self) -> tuple[Node, ...]:
        """Direct sub-expressions, in source order."""
        return ()

    def walk(self) -> Iterator[Node]:
        """This node and every descendant, depth first, in source order."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))


@dataclass(frozen=True, slots=True)
class Number(Node):
    text: str

    @property
    def value(self) -> float:
        return float(self.text)


@dataclass(frozen=True, slots=True)
class String(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class ErrorLit(Node):
    """An error literal such as ``#REF!``; ``sheet`` is set for ``Sheet1!#REF!``."""

    code: str
    sheet: str | None = None
    book: str | None = None


@dataclass(frozen=True, slots=True)
class Missing(Node):
    """An omitted function argument, as in ``IF(A1,,2)``."""


@dataclass(frozen=True, slots=True)
class CellAddr:
    """One corner of a reference; ``col``/``row`` are 1-based and ``None`` when the part is absent."""

    col: int | None
    row: int | None
    col_abs: bool = False
    row_abs: bool = False


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A cell, range, whole-column/row, open-ended or spilled reference, optionally qualified.

    ``book_path``/``book`` describe an external workbook (``'C:\\x\\[Book.xlsx]S'!A1`` or ``[1]S!A1``);
    ``sheet_end`` is the last sheet of a 3D reference.
    """

    start: CellAddr
    end: CellAddr | None = None
    sheet: str | None = None
    sheet_end: str | None = None
    book: str | None = None
    book_path: str = ""
    spill: bool = False

    @property
    def is_whole_column(self) -> bool:
        return self.end is not None and self.start.row is None and self.end.row is None

    @property
    def is_whole_row(self) -> bool:
        return self.end is not None and self.start.col is None and self.end.col is None

    @property
    def is_open_ended(self) -> bool:
        return self.end is not None and (self.start.row is None) != (self.end.row is None)


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A defined name, LET/LAMBDA parameter, or a qualified name such as ``Sheet1!Total``."""

    name: str
    sheet: str | None = None
    book: str | None = None
    book_path: str = ""


@dataclass(frozen=True, slots=True)
class StructRef(Node):
    """A structured (table) reference; ``spec`` is the bracketed part as written, e.g. ``[@Qty]``."""

    table: str
    spec: str


@dataclass(frozen=True, slots=True)
class Array(Node):
    rows: tuple[tuple[Node, ...], ...]

    def children(self) -> tuple[Node, ...]:
        return tuple(item for row in self.rows for item in row)


_BASES: dict[str, str] = {}


def _base_name(name: str) -> str:
    upper = name.upper()
    for prefix in FUNCTION_PREFIXES:
        if upper.startswith(prefix.upper()):
            return upper[len(prefix) :]
    return upper


@dataclass(frozen=True, slots=True)
class Func(Node):
    name: str
    args: tuple[Node, ...]

    @property
    def base(self) -> str:
        """Upper-case function name without ``_xlfn.``-style prefixes."""
        base = _BASES.get(self.name)
        if base is None:
            base = _base_name(self.name)
            if len(_BASES) < 10_000:  # function names are few; the bound only guards hostile input
                _BASES[self.name] = base
        return base

    def children(self) -> tuple[Node, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class Call(Node):
    """Immediate invocation of a computed function, as in ``LAMBDA(x,x+1)(2)``."""

    callee: Node
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return (self.callee, *self.args)


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Percent(Node):
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """Binary operators of one precedence level, applied left to right: ``operands[0] ops[0] operands[1] ...``.

    ``A1+A2-A3`` is one node with operands ``(A1, A2, A3)`` and ops ``("+", "-")``; ``A1*B1`` is a chain
    of one operator. Each op is one of ``: ␠ ^ * / + - & = <> < > <= >=`` (␠ = intersection), all of
    one level of ``BINARY_POWER``. A chain of any length is one level of the tree, so the tree's height
    grows with nesting (functions, parentheses), never with the length of a sum such as ``A1+...+A300``,
    and walkers that recurse once per level stay shallow.

    The first operand is never a chain of the same level (``(A1+B1)+C1`` is ``A1+B1+C1``): build
    chains with ``binary`` or ``chain`` to keep that, which makes one tree per formula.
    """

    ops: tuple[str, ...]
    operands: tuple[Node, ...]

    @property
    def power(self) -> int:
        """Binding power of the chain's operators."""
        return BINARY_POWER[self.ops[0]]

    def head(self, count: int) -> Node:
        """The first ``count`` operands with the ops between them, as a node: ``ops[j]`` applies
        ``head(j + 1)`` on its left to ``operands[j + 1]`` on its right (Excel's left-to-right order)."""
        if count == 1:
            return self.operands[0]
        return Chain(self.ops[: count - 1], self.operands[:count])

    def children(self) -> tuple[Node, ...]:
        return self.operands


def chain(ops: tuple[str, ...], operands: tuple[Node, ...]) -> Chain:
    """The chain ``operands[0] ops[0] operands[1] ...``, a first operand of the same level spliced in."""
    first = operands[0]
    if isinstance(first, Chain) and first.power == BINARY_POWER[ops[0]]:
        return Chain(first.ops + ops, first.operands + operands[1:])
    return Chain(ops, operands)


def binary(op: str, left: Node, right: Node) -> Chain:
    """``left op right`` as a chain (``left`` spliced in when it is a chain of the same level)."""
    return chain((op,), (left, right))


@dataclass(frozen=True, slots=True)
class Union(Node):
    """Reference union ``(A1,B2:C3)``."""

    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


def map_children(node: Node, fn: Callable[[Node], Node]) -> Node:
    """A copy of ``node`` with ``fn`` applied to each direct child.

    List comprehensions, not generator expressions: they run in this frame (Python 3.12), so a
    recursive ``fn`` spends fewer frames per tree level.
    """
    if isinstance(node, Chain):
        return chain(node.ops, tuple([fn(o) for o in node.operands]))
    if isinstance(node, Func):
        return Func(node.name, tuple([fn(a) for a in node.args]))
    if isinstance(node, Unary):
        return Unary(node.op, fn(node.operand))
    if isinstance(node, Percent):
        return Percent(fn(node.operand))
    if isinstance(node, Union):
        return Union(tuple([fn(i) for i in node.items]))
    if isinstance(node, Array):
        return Array(tuple([tuple([fn(i) for i in row]) for row in node.rows]))
    if isinstance(node, Call):
        return Call(fn(node.callee), tuple([fn(a) for a in node.args]))
    return node


ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "^"})
COMPARISON_OPS = frozenset({"=", "<>", "<", ">", "<=", ">="})

# Binding powers, Excel's order: reference operators, negation, %, ^, * /, + -, &, comparisons.
BINARY_POWER: dict[str, int] = {
    ":": 90,
    " ": 80,
    "^": 50,
    "*": 40,
    "/": 40,
    "+": 30,
    "-": 30,
    "&": 20,
    "=": 10,
    "<>": 10,
    "<": 10,
    ">": 10,
    "<=": 10,
    ">=": 10,
}
UNARY_POWER = 70
PERCENT_POWER = 60
