"""Formula parser: text -> typed syntax tree (Pratt parser over the tokenizer's output)."""

from __future__ import annotations

from sheetbrain.engine.ast import (
    BINARY_POWER,
    PERCENT_POWER,
    UNARY_POWER,
    Array,
    Call,
    Chain,
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
from sheetbrain.engine.errors import FormulaParseError
from sheetbrain.engine.tokenizer import Kind, Token, Tokenizer

MAX_FORMULA_LENGTH = 32_767  # a cell's cap; Excel itself accepts formulas of up to 8,192 characters
MAX_FUNCTION_NESTING = 64  # Excel's limit on nested levels of functions
# Levels of brackets, signs and operators of different precedence, counted both as the parser's
# recursion and as the tree's height: keeps recursive tree walkers well below Python's limit on
# hostile input. Operator chains (A1+A2+...) are one level however long; 64 nested functions with a
# few operators between each level fit.
MAX_DEPTH = 200


_REF_LEVELS = frozenset({BINARY_POWER[":"], BINARY_POWER[" "]})


def _refish(node: Node) -> bool:
    if isinstance(node, Chain):
        return node.power in _REF_LEVELS
    return isinstance(node, Ref | Name | StructRef | Func | Call | Union)


def _starts_ref(tok: Token) -> bool:
    if tok.kind is Kind.OPERAND:
        return isinstance(tok.node, Ref | Name | StructRef)
    return tok.kind in (Kind.FUNC, Kind.LPAREN)


class _Parser:
    def __init__(self, text: str, offset: int, max_height: int) -> None:
        self.text = text
        self.tokens = Tokenizer(text, offset).tokens()
        self.i = 0
        self.depth = 0
        self.max_depth = MAX_DEPTH
        self.max_height = max_height
        self.functions = 0  # functions open at the cursor

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
        node, _ = self.expression(0)
        self.skip_ws()
        if self.peek().kind is not Kind.EOF:
            raise self.error(f"unexpected {self.peek().text!r}")
        return node

    def taller(self, height: int, token: Token) -> int:
        """``height`` + 1: the height of a node over a child that tall, refused beyond ``max_height``.

        Tree walkers recurse once per level. Operator chains are one level however long, so only
        nesting (functions, parentheses around mixed operators, unary signs, arrays) adds height.
        """
        if height >= self.max_height:
            raise self.error(f"formula nests more than {MAX_DEPTH} levels of operators and brackets", token)
        return height + 1

    def expression(self, min_power: int) -> tuple[Node, int]:
        """The expression at the cursor, with the height of its tree (a leaf is 1).

        Operators of one level that follow each other are gathered into one ``Chain`` by this loop
        (``A1+A2+...+A300``: one node, no recursion per operand); operators that bind tighter are
        parsed by a recursive call, so recursion follows precedence levels and nesting only.
        """
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error(f"formula nests more than {MAX_DEPTH} levels of operators and brackets")
        left, height = self.prefix()
        # The chain being gathered (none yet): its ops, operands after the first, power, tallest operand.
        ops: list[str] | None = None
        rest: list[Node] = []
        level = 0
        tallest = 0
        first_op = self.tokens[self.i]
        while True:
            tok = self.peek()
            if tok.kind is Kind.WS:
                # A space between two reference operands is Excel's intersection operator.
                j = self.i
                while self.tokens[j].kind is Kind.WS:
                    j += 1
                power = BINARY_POWER[" "]
                refish = level in _REF_LEVELS if ops is not None else _refish(left)
                if refish and _starts_ref(self.tokens[j]):
                    if power <= min_power:
                        break  # the caller applies it: "A1 B1 C1" is (A1 B1) C1
                    self.i = j
                    op = " "
                else:
                    self.i = j
                    continue
            elif tok.kind is Kind.OP and tok.text in BINARY_POWER:
                power = BINARY_POWER[tok.text]
                if power <= min_power:
                    break
                self.next()
                self.skip_ws()
                op = tok.text
            elif tok.kind is Kind.PERCENT and min_power < PERCENT_POWER:
                self.next()
                if ops is not None:
                    left, height = self.close_chain(left, ops, rest, tallest, first_op)
                    ops = None
                left, height = Percent(left), self.taller(height, tok)
                continue
            else:
                break
            right, right_height = self.expression(power)
            if ops is not None and power != level:
                left, height = self.close_chain(left, ops, rest, tallest, first_op)
                ops = None
            if ops is None:
                if op == ":":
                    merged = _merge_range(left, right)
                    if isinstance(merged, Ref):
                        left, height = merged, 1
                        continue
                if isinstance(left, Chain) and left.power == power:
                    # "(A1+B1)+C1" is A1+B1+C1: parentheses are not kept, one tree per formula.
                    ops, rest = list(left.ops), list(left.operands[1:])
                    left, tallest = left.operands[0], height - 1
                else:
                    ops, rest, tallest = [], [], height
                level, first_op = power, tok
            ops.append(op)
            rest.append(right)
            if right_height > tallest:
                tallest = right_height
        if ops is not None:
            left = Chain(tuple(ops), (left, *rest))
            height = tallest + 1 if tallest < self.max_height else self.taller(tallest, first_op)
        self.depth -= 1
        return left, height

    def close_chain(
        self, first: Node, ops: list[str], rest: list[Node], tallest: int, token: Token
    ) -> tuple[Node, int]:
        """The gathered chain as one node, with its height."""
        return Chain(tuple(ops), (first, *rest)), self.taller(tallest, token)

    def prefix(self) -> tuple[Node, int]:
        self.skip_ws()
        tok = self.next()
        kind = tok.kind
        if kind is Kind.OPERAND:
            assert tok.node is not None
            return tok.node, 1
        if kind is Kind.OP and tok.text in ("-", "+", "@"):
            self.skip_ws()
            operand, height = self.expression(UNARY_POWER)
            return Unary(tok.text, operand), self.taller(height, tok)
        if kind is Kind.LPAREN:
            items, height = self.comma_list(Kind.RPAREN, "')'", allow_missing=False)
            if len(items) == 1:
                node = items[0]  # parentheses are not kept: the height is the item's
            else:
                node, height = Union(tuple(items)), self.taller(height, tok)
            return self.calls(node, height) if isinstance(node, Func) else (node, height)
        if kind is Kind.FUNC:
            self.functions += 1
            if self.functions > MAX_FUNCTION_NESTING:
                raise self.error(f"functions nest more than {MAX_FUNCTION_NESTING} levels deep (Excel's limit)", tok)
            args, height = self.comma_list(Kind.RPAREN, "')'", allow_missing=True)
            self.functions -= 1
            return self.calls(Func(tok.text, tuple(args)), self.taller(height, tok))
        if kind is Kind.LBRACE:
            return self.array(tok)
        if kind is Kind.EOF:
            raise self.error("unexpected end of formula", tok)
        raise self.error(f"unexpected {tok.text!r}", tok)

    def calls(self, node: Node, height: int) -> tuple[Node, int]:
        # LAMBDA(x, x+1)(2): an immediately invoked function, only directly after a call.
        while self.peek().kind is Kind.LPAREN:
            tok = self.next()
            args, args_height = self.comma_list(Kind.RPAREN, "')'", allow_missing=True)
            node = Call(node, tuple(args))
            height = self.taller(max(height, args_height), tok)
        return node, height

    def comma_list(self, close: Kind, what: str, *, allow_missing: bool) -> tuple[list[Node], int]:
        """The items up to ``close`` and the height of the tallest (0 for none)."""
        items: list[Node] = []
        height = 0
        self.skip_ws()
        if allow_missing and self.peek().kind is close:
            self.next()
            return items, height
        while True:
            self.skip_ws()
            if allow_missing and self.peek().kind in (Kind.COMMA, close):
                items.append(Missing())
                height = max(height, 1)
            else:
                item, item_height = self.expression(0)
                items.append(item)
                height = max(height, item_height)
            self.skip_ws()
            tok = self.next()
            if tok.kind is close:
                return items, height
            if tok.kind is not Kind.COMMA:
                raise self.error(f"expected ',' or {what}", tok)

    def array(self, opening: Token) -> tuple[Node, int]:
        rows: list[tuple[Node, ...]] = []
        row: list[Node] = []
        height = 0
        while True:
            item, item_height = self.expression(0)
            row.append(item)
            height = max(height, item_height)
            self.skip_ws()
            tok = self.next()
            if tok.kind is Kind.COMMA:
                continue
            rows.append(tuple(row))
            row = []
            if tok.kind is Kind.SEMI:
                continue
            if tok.kind is Kind.RBRACE:
                return Array(tuple(rows)), self.taller(height, opening)
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
    return Chain((":",), (left, right))


def _unwrap_sheets(node: Node, max_height: int, depth: int = 0) -> Node:
    """Replace Google Sheets' ``__xludf.DUMMYFUNCTION("inner")`` export wrapper by the inner formula.

    ``node`` is ``depth`` levels down a tree that may be ``max_height`` high.
    """
    if depth > max_height:
        return node
    if isinstance(node, Func):
        base = node.base
        if base == "DUMMYFUNCTION" and node.args and isinstance(node.args[0], String):
            inner = node.args[0].value
            # The inner tree takes this node's place: its height counts from here.
            return _parse(inner if inner.startswith("=") else "=" + inner, max_height - depth)
        if base == "IFERROR" and node.args and _is_dummy(node.args[0]):
            return _unwrap_sheets(node.args[0], max_height, depth + 1)
        if any(_is_dummy(n) for n in node.walk()):
            return Func(node.name, tuple(_unwrap_sheets(a, max_height, depth + 1) for a in node.args))
        return node
    if any(_is_dummy(n) for n in node.walk()):
        return map_children(node, lambda child: _unwrap_sheets(child, max_height, depth + 1))
    return node


def _is_dummy(node: Node) -> bool:
    return isinstance(node, Func) and node.base == "DUMMYFUNCTION"


def parse(text: str) -> Node:
    """Parse formula text (``=`` optional) into a tree; raises only ``FormulaParseError``.

    Trees are at most ``MAX_DEPTH`` levels high, so recursive tree walkers stay within Python's limit;
    functions nest at most ``MAX_FUNCTION_NESTING`` levels, as in Excel.
    """
    return _parse(text, MAX_DEPTH)


def _parse(text: str, max_height: int) -> Node:
    if not isinstance(text, str):
        raise FormulaParseError("formula must be text", position=0)
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaParseError("formula is longer than 32767 characters", position=MAX_FORMULA_LENGTH)
    offset = 1 if text.startswith("=") else 0
    body = text[offset:]
    try:
        tree = _Parser(body, offset, max_height).parse()
    except RecursionError as exc:  # pragma: no cover - guarded by MAX_DEPTH, kept as a last line
        raise FormulaParseError(
            f"formula nests more than {MAX_DEPTH} levels of operators and brackets", position=0, formula=text
        ) from exc
    if "DUMMYFUNCTION" not in body.upper():
        return tree  # no Google Sheets export wrapper: skip the tree walk
    return _unwrap_sheets(tree, max_height)
