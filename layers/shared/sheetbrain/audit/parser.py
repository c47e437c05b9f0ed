"""Formula parser: text -> typed syntax tree (Pratt parser over the tokenizer's output)."""

from __future__ import annotations

from sheetbrain.audit.ast import (
    BINARY_POWER,
    PERCENT_POWER,
    UNARY_POWER,
    Array,
    Call,
    Func,
    Missing,
    Name,
    Node,
    Percent,
    Ref,
    String,
    StructRef,
    Unary,
    Union,
    map_children,
)
from sheetbrain.audit.ast import (
    Binary as BinaryNode,
)
from sheetbrain.audit.errors import FormulaParseError
from sheetbrain.audit.tokenizer import Kind, Token, Tokenizer

MAX_FORMULA_LENGTH = 32_767  # Excel's own cap; longer input is not a formula anyway
MAX_DEPTH = 200  # keeps recursion well below Python's limit on hostile input


def _refish(node: Node) -> bool:
    if isinstance(node, BinaryNode):
        return node.op in (":", " ")
    return isinstance(node, Ref | Name | StructRef | Func | Call | Union)


def _starts_ref(tok: Token) -> bool:
    if tok.kind is Kind.OPERAND:
        return isinstance(tok.node, Ref | Name | StructRef)
    return tok.kind in (Kind.FUNC, Kind.LPAREN)


class _Parser:
    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.tokens = Tokenizer(text, offset).tokens()
        self.i = 0
        self.depth = 0
        self.offset = offset

    def error(self, message: str, token: Token | None = None) -> FormulaParseError:
        tok = token or self.tokens[self.i]
        return FormulaParseError(message, position=tok.pos, formula=self.text)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not Kind.EOF:
            self.i += 1
        return tok

    def skip_ws(self) -> None:
        while self.tokens[self.i].kind is Kind.WS:
            self.i += 1

    def expect(self, kind: Kind, what: str) -> Token:
        self.skip_ws()
        tok = self.peek()
        if tok.kind is not kind:
            raise self.error(f"expected {what}")
        return self.next()

    def parse(self) -> Node:
        self.skip_ws()
        if self.peek().kind is Kind.EOF:
            raise self.error("empty formula")
        node = self.expression(0)
        self.skip_ws()
        if self.peek().kind is not Kind.EOF:
            raise self.error(f"unexpected {self.peek().text!r}")
        return node

    def expression(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("formula nests too deeply")
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.kind is Kind.WS:
                # A space between two reference operands is Excel's intersection operator.
                j = self.i
                while self.tokens[j].kind is Kind.WS:
                    j += 1
                power = BINARY_POWER[" "]
                if _refish(left) and _starts_ref(self.tokens[j]) and power > min_power:
                    self.i = j
                    right = self.expression(power)
                    left = BinaryNode(" ", left, right)
                    continue
                self.i = j
                tok = self.peek()
            if tok.kind is Kind.OP and tok.text in BINARY_POWER:
                power = BINARY_POWER[tok.text]
                if power <= min_power:
                    break
                self.next()
                self.skip_ws()
                right = self.expression(power)
                left = _merge_range(left, right) if tok.text == ":" else BinaryNode(tok.text, left, right)
                continue
            if tok.kind is Kind.PERCENT and min_power < PERCENT_POWER:
                self.next()
                left = Percent(left)
                continue
            break
        self.depth -= 1
        return left

    def prefix(self) -> Node:
        self.skip_ws()
        tok = self.next()
        kind = tok.kind
        if kind is Kind.OPERAND:
            assert tok.node is not None
            return tok.node
        if kind is Kind.OP and tok.text in ("-", "+", "@"):
            self.skip_ws()
            return Unary(tok.text, self.expression(UNARY_POWER))
        if kind is Kind.LPAREN:
            items = self.comma_list(Kind.RPAREN, "')'", allow_missing=False)
            node: Node = items[0] if len(items) == 1 else Union(tuple(items))
            return self.calls(node) if isinstance(node, Func) else node
        if kind is Kind.FUNC:
            args = self.comma_list(Kind.RPAREN, "')'", allow_missing=True)
            return self.calls(Func(tok.text, tuple(args)))
        if kind is Kind.LBRACE:
            return self.array()
        if kind is Kind.EOF:
            raise self.error("unexpected end of formula", tok)
        raise self.error(f"unexpected {tok.text!r}", tok)

    def calls(self, node: Node) -> Node:
        # LAMBDA(x, x+1)(2): an immediately invoked function, only directly after a call.
        while self.peek().kind is Kind.LPAREN:
            self.next()
            node = Call(node, tuple(self.comma_list(Kind.RPAREN, "')'", allow_missing=True)))
        return node

    def comma_list(self, close: Kind, what: str, *, allow_missing: bool) -> list[Node]:
        items: list[Node] = []
        self.skip_ws()
        if allow_missing and self.peek().kind is close:
            self.next()
            return items
        while True:
            self.skip_ws()
            if allow_missing and self.peek().kind in (Kind.COMMA, close):
                items.append(Missing())
            else:
                items.append(self.expression(0))
            self.skip_ws()
            tok = self.next()
            if tok.kind is close:
                return items
            if tok.kind is not Kind.COMMA:
                raise self.error(f"expected ',' or {what}", tok)

    def array(self) -> Node:
        rows: list[tuple[Node, ...]] = []
        row: list[Node] = []
        while True:
            row.append(self.expression(0))
            self.skip_ws()
            tok = self.next()
            if tok.kind is Kind.COMMA:
                continue
            rows.append(tuple(row))
            row = []
            if tok.kind is Kind.SEMI:
                continue
            if tok.kind is Kind.RBRACE:
                return Array(tuple(rows))
            raise self.error("expected ',', ';' or '}'", tok)


def _merge_range(left: Node, right: Node) -> Node:
    # "A1:(B2)" and "A1:B2" are the same range; one shape keeps print -> parse stable.
    if (
        isinstance(left, Ref)
        and isinstance(right, Ref)
        and left.end is None
        and right.end is None
        and not left.spill
        and not right.spill
        and right.sheet is None
        and right.book is None
        and left.start.col is not None
        and left.start.row is not None
        and right.start.col is not None
        and right.start.row is not None
    ):
        return Ref(left.start, right.start, left.sheet, left.sheet_end, left.book, left.book_path)
    return BinaryNode(":", left, right)


def _unwrap_sheets(node: Node, depth: int = 0) -> Node:
    """Replace Google Sheets' ``__xludf.DUMMYFUNCTION("inner")`` export wrapper by the inner formula."""
    if depth > MAX_DEPTH:
        return node
    if isinstance(node, Func):
        base = node.base
        if base == "DUMMYFUNCTION" and node.args and isinstance(node.args[0], String):
            inner = node.args[0].value
            return parse(inner if inner.startswith("=") else "=" + inner)
        if base == "IFERROR" and node.args and _is_dummy(node.args[0]):
            return _unwrap_sheets(node.args[0], depth + 1)
        if any(_is_dummy(n) for n in node.walk()):
            return Func(node.name, tuple(_unwrap_sheets(a, depth + 1) for a in node.args))
        return node
    if any(_is_dummy(n) for n in node.walk()):
        return map_children(node, lambda child: _unwrap_sheets(child, depth + 1))
    return node


def _is_dummy(node: Node) -> bool:
    return isinstance(node, Func) and node.base == "DUMMYFUNCTION"


def parse(text: str) -> Node:
    """Parse formula text (``=`` optional) into a tree; raises only ``FormulaParseError``."""
    if not isinstance(text, str):
        raise FormulaParseError("formula must be text", position=0)
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaParseError("formula is longer than 32767 characters", position=MAX_FORMULA_LENGTH)
    offset = 1 if text.startswith("=") else 0
    body = text[offset:]
    try:
        tree = _Parser(body, offset).parse()
    except RecursionError as exc:  # pragma: no cover - guarded by MAX_DEPTH, kept as a last line
        raise FormulaParseError("formula nests too deeply", position=0, formula=text) from exc
    if "DUMMYFUNCTION" not in body.upper():
        return tree  # no Google Sheets export wrapper: skip the tree walk
    return _unwrap_sheets(tree)
