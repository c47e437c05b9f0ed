"""Formula tokenizer.

Written for this engine (the idea of one regex per operand kind follows openpyxl's MIT tokenizer,
but nothing is imported from it): references, names and error literals come out already built as
tree nodes, so the parser only deals with operators and structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sheetbrain.engine.ast import Bool, CellAddr, ErrorLit, Name, Node, Number, Ref, String, StructRef
from sheetbrain.engine.errors import FormulaParseError

MAX_COL = 16384
MAX_ROW = 1048576


class Kind(Enum):
    OPERAND = "operand"  # payload in Token.node
    FUNC = "func"  # name followed directly by "("; the "(" is consumed
    LPAREN = "("
    RPAREN = ")"
    LBRACE = "{"
    RBRACE = "}"
    COMMA = ","
    SEMI = ";"
    OP = "op"
    PERCENT = "%"
    WS = "ws"
    EOF = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    node: Node | None = None


ERROR_CODES = (
    "#GETTING_DATA",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
    "#EXTERNAL!",
    "#PYTHON!",
)
_ERROR_RE = re.compile("|".join(re.escape(code) for code in ERROR_CODES), re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WS_RE = re.compile(r"[ \t\r\n\u00a0]+")
_WORD_RE = re.compile(r"(?:[^\W\d]|\\)[\w.?\\]*")
_SHEET_WORD = r"[\w.]+"
_SHEET_PREFIX_RE = re.compile(rf"({_SHEET_WORD})(?::({_SHEET_WORD}))?!")
_BOOK_PREFIX_RE = re.compile(rf"\[([^\[\]]+)\]({_SHEET_WORD})?!")
_QUOTED_BOOK_RE = re.compile(r"^(.*)\[([^\[\]]+)\](.*)$", re.DOTALL)
_BOOL_RE = re.compile(r"(TRUE|FALSE)(?![\w.(\[])", re.IGNORECASE)

_CELL = r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)"
_COL = r"(\$?)([A-Za-z]{1,3})"
_ROW = r"(\$?)(\d+)"
_END = r"(?![\w.(\[])"
_CELL_CELL_RE = re.compile(_CELL + ":" + _CELL + _END)
_CELL_COL_RE = re.compile(_CELL + ":" + _COL + _END)
_COL_CELL_RE = re.compile(_COL + ":" + _CELL + _END)
_COL_COL_RE = re.compile(_COL + ":" + _COL + _END)
_ROW_ROW_RE = re.compile(_ROW + ":" + _ROW + _END)
_CELL_RE = re.compile(_CELL + r"(#?)" + _END)

_OPERATORS = ("<>", "<=", ">=", "+", "-", "*", "/", "^", "&", "=", "<", ">", ":", "@")
_PUNCT = {"(": Kind.LPAREN, ")": Kind.RPAREN, "{": Kind.LBRACE, "}": Kind.RBRACE, ",": Kind.COMMA}
_PUNCT[";"] = Kind.SEMI
_PUNCT["%"] = Kind.PERCENT


def col_to_index(letters: str) -> int:
    """``"A"`` -> 1, ``"AA"`` -> 27."""
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index


def _col(dollar: str, letters: str) -> tuple[int, bool] | None:
    index = col_to_index(letters)
    return (index, bool(dollar)) if 1 <= index <= MAX_COL else None


def _row(dollar: str, digits: str) -> tuple[int, bool] | None:
    index = int(digits)
    return (index, bool(dollar)) if 1 <= index <= MAX_ROW else None


@dataclass(frozen=True, slots=True)
class _Prefix:
    sheet: str | None = None
    sheet_end: str | None = None
    book: str | None = None
    book_path: str = ""


def _match_address(text: str, pos: int) -> tuple[CellAddr, CellAddr | None, bool, int] | None:
    """Match a cell/range address at ``pos``; returns (start, end, spill, new_pos)."""
    if m := _CELL_CELL_RE.match(text, pos):
        c1, r1, c2, r2 = (
            _col(*m.group(1, 2)),
            _row(*m.group(3, 4)),
            _col(*m.group(5, 6)),
            _row(*m.group(7, 8)),
        )
        if c1 and r1 and c2 and r2:
            start = CellAddr(c1[0], r1[0], c1[1], r1[1])
            return start, CellAddr(c2[0], r2[0], c2[1], r2[1]), False, m.end()
    if m := _CELL_COL_RE.match(text, pos):
        c1, r1, c2 = _col(*m.group(1, 2)), _row(*m.group(3, 4)), _col(*m.group(5, 6))
        if c1 and r1 and c2:
            return CellAddr(c1[0], r1[0], c1[1], r1[1]), CellAddr(c2[0], None, c2[1]), False, m.end()
    if m := _COL_CELL_RE.match(text, pos):
        c1, c2, r2 = _col(*m.group(1, 2)), _col(*m.group(3, 4)), _row(*m.group(5, 6))
        if c1 and c2 and r2:
            return CellAddr(c1[0], None, c1[1]), CellAddr(c2[0], r2[0], c2[1], r2[1]), False, m.end()
    if m := _COL_COL_RE.match(text, pos):
        c1, c2 = _col(*m.group(1, 2)), _col(*m.group(3, 4))
        if c1 and c2:
            return CellAddr(c1[0], None, c1[1]), CellAddr(c2[0], None, c2[1]), False, m.end()
    if m := _ROW_ROW_RE.match(text, pos):
        r1, r2 = _row(*m.group(1, 2)), _row(*m.group(3, 4))
        if r1 and r2:
            return CellAddr(None, r1[0], False, r1[1]), CellAddr(None, r2[0], False, r2[1]), False, m.end()
    if m := _CELL_RE.match(text, pos):
        c1, r1 = _col(*m.group(1, 2)), _row(*m.group(3, 4))
        if c1 and r1:
            return CellAddr(c1[0], r1[0], c1[1], r1[1]), None, bool(m.group(5)), m.end()
    return None


def _split_quoted(content: str) -> _Prefix:
    book: str | None = None
    path = ""
    if m := _QUOTED_BOOK_RE.match(content):
        path, book, content = m.group(1), m.group(2), m.group(3)
    sheet, _, sheet_end = content.partition(":")
    return _Prefix(sheet=sheet or None, sheet_end=sheet_end or None, book=book, book_path=path)


class Tokenizer:
    """Splits formula text (without the leading ``=``) into tokens; ``offset`` shifts positions."""

    def __init__(self, text: str, offset: int = 0) -> None:
        self.text = text
        self.offset = offset

    def _error(self, message: str, pos: int) -> FormulaParseError:
        return FormulaParseError(message, position=pos + self.offset, formula=self.text)

    def tokens(self) -> list[Token]:
        """Tokenise the whole text; raises ``FormulaParseError`` on characters that start nothing."""
        out: list[Token] = []
        text = self.text
        pos = 0
        n = len(text)
        while pos < n:
            char = text[pos]
            start = pos + self.offset
            if m := _WS_RE.match(text, pos):
                out.append(Token(Kind.WS, m.group(), start))
                pos = m.end()
            elif char == '"':
                pos = self._string(pos, out)
            elif char in _PUNCT:
                out.append(Token(_PUNCT[char], char, start))
                pos += 1
            elif char == "#":
                pos = self._error_literal(pos, _Prefix(), out)
            elif char.isdigit() or char == ".":
                pos = self._number_or_rows(pos, out)
            elif char in "'[$" or char.isalpha() or char in "_\\":
                pos = self._operand(pos, out)
            else:
                for op in _OPERATORS:
                    if text.startswith(op, pos):
                        out.append(Token(Kind.OP, op, start))
                        pos += len(op)
                        break
                else:
                    raise self._error(f"unexpected character {char!r}", pos)
        out.append(Token(Kind.EOF, "", n + self.offset))
        return out

    def _quoted(self, pos: int, quote: str, unterminated: str) -> tuple[str, int]:
        """The text between ``quote`` at ``pos`` and its closing quote (a doubled quote stands for
        one), and the index of that closing quote."""
        text = self.text
        i = pos + 1
        parts: list[str] = []
        while True:
            j = text.find(quote, i)
            if j < 0:
                raise self._error(unterminated, pos)
            parts.append(text[i:j])
            if text.startswith(quote * 2, j):
                parts.append(quote)
                i = j + 2
                continue
            return "".join(parts), j

    def _string(self, pos: int, out: list[Token]) -> int:
        value, j = self._quoted(pos, '"', "unterminated string")
        out.append(Token(Kind.OPERAND, self.text[pos : j + 1], pos + self.offset, String(value)))
        return j + 1

    def _error_literal(self, pos: int, prefix: _Prefix, out: list[Token], start: int | None = None) -> int:
        m = _ERROR_RE.match(self.text, pos)
        if not m:
            raise self._error("unknown error literal", pos)
        node = ErrorLit(m.group().upper(), sheet=prefix.sheet, book=prefix.book)
        begin = pos if start is None else start
        out.append(Token(Kind.OPERAND, self.text[begin : m.end()], begin + self.offset, node))
        return m.end()

    def _number_or_rows(self, pos: int, out: list[Token]) -> int:
        if (address := _match_address(self.text, pos)) and address[1] is not None:
            start, end, _spill, new_pos = address
            out.append(Token(Kind.OPERAND, self.text[pos:new_pos], pos + self.offset, Ref(start, end)))
            return new_pos
        m = _NUMBER_RE.match(self.text, pos)
        if not m:
            raise self._error("malformed number", pos)
        out.append(Token(Kind.OPERAND, m.group(), pos + self.offset, Number(m.group())))
        return m.end()

    def _prefix(self, pos: int) -> tuple[_Prefix, int] | None:
        text = self.text
        if text[pos] == "'":
            name, j = self._quoted(pos, "'", "unterminated quoted sheet name")
            if not text.startswith("!", j + 1):
                raise self._error("quoted sheet name must be followed by '!'", j + 1)
            return _split_quoted(name), j + 2
        if text[pos] == "[":
            if m := _BOOK_PREFIX_RE.match(text, pos):
                return _Prefix(sheet=m.group(2), book=m.group(1)), m.end()
            return None
        if m := _SHEET_PREFIX_RE.match(text, pos):
            return _Prefix(sheet=m.group(1), sheet_end=m.group(2)), m.end()
        return None

    def _operand(self, pos: int, out: list[Token]) -> int:
        text = self.text
        begin = pos
        found = self._prefix(pos)
        prefix = _Prefix()
        if found:
            prefix, pos = found
            if pos < len(text) and text[pos] == "#":
                return self._error_literal(pos, prefix, out, start=begin)
        elif text[pos] == "[":
            return self._struct(pos, "", out)
        if address := _match_address(text, pos):
            start, end, spill, new_pos = address
            ref = Ref(start, end, prefix.sheet, prefix.sheet_end, prefix.book, prefix.book_path, spill)
            out.append(Token(Kind.OPERAND, text[begin:new_pos], begin + self.offset, ref))
            return new_pos
        if not found and (m := _BOOL_RE.match(text, pos)):
            out.append(Token(Kind.OPERAND, m.group(), begin + self.offset, Bool(m.group(1).upper() == "TRUE")))
            return m.end()
        m = _WORD_RE.match(text, pos)
        if not m:
            raise self._error("expected a reference or name", pos)
        word, end_pos = m.group(), m.end()
        if not found and end_pos < len(text) and text[end_pos] == "(":
            out.append(Token(Kind.FUNC, word, begin + self.offset))
            return end_pos + 1
        if not found and end_pos < len(text) and text[end_pos] == "[":
            return self._struct(end_pos, word, out, begin)
        name = Name(word, prefix.sheet, prefix.book, prefix.book_path)
        out.append(Token(Kind.OPERAND, text[begin:end_pos], begin + self.offset, name))
        return end_pos

    def _struct(self, pos: int, table: str, out: list[Token], begin: int | None = None) -> int:
        # Brackets nest ("[[#This Row],[Qty]]"); a quote escapes the next character inside them.
        text = self.text
        depth = 0
        i = pos
        while i < len(text):
            char = text[i]
            if char == "'":
                i += 2
                continue
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
                if depth == 0:
                    start = pos if begin is None else begin
                    node = StructRef(table, text[pos : i + 1])
                    out.append(Token(Kind.OPERAND, text[start : i + 1], start + self.offset, node))
                    return i + 1
            i += 1
        raise self._error("unterminated structured reference", pos)
