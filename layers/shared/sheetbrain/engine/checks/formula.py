"""Checks that need only one formula's tree."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sheetbrain.engine.ast import (
    ARITHMETIC_OPS,
    Array,
    Bool,
    Call,
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
    binary,
    map_children,
)
from sheetbrain.engine.printer import format_ref, to_formula, unparse
from sheetbrain.engine.vocabulary import (
    AGGREGATES,
    KNOWN_FUNCTIONS,
    MARKET_DATA_FUNCTIONS,
    REFERENCE_FUNCTIONS,
    SHEETS_ONLY_FUNCTIONS,
    VOLATILE_FUNCTIONS,
    WEB_FUNCTIONS,
)


@dataclass(frozen=True)
class Fix:
    """A corrected formula, printed only when asked: ``tree`` with every subtree equal to ``old`` replaced by ``new``.

    Printing walks and reprints the whole tree, so a check that finds many places to fix in one
    formula would take quadratic time if it printed each; the engine prints only the hits it reports.
    """

    tree: Node
    old: Node
    new: Node

    def text(self) -> str:
        """The corrected formula text."""
        return to_formula(replace(self.tree, self.old, self.new))


@dataclass(frozen=True)
class Hit:
    """One raw finding of a check, before the profile sets its final severity."""

    rule: str
    message: str
    suggestion: str | Fix | None = None
    severity: str | None = None  # overrides the rule's severity for this hit (e.g. escalation)

    def suggestion_text(self) -> str | None:
        """The suggestion as text (a ``Fix`` is printed)."""
        return self.suggestion.text() if isinstance(self.suggestion, Fix) else self.suggestion

    def resolved(self) -> Hit:
        """This hit with its suggestion as text."""
        if isinstance(self.suggestion, Fix):
            return dataclasses.replace(self, suggestion=self.suggestion.text())
        return self


Params = dict[str, Any]
FormulaCheck = Callable[[Node, str, Params], Iterator[Hit]]

_NUMERIC_TEXT_RE = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?%?\s*")


def replace(tree: Node, old: Node, new: Node) -> Node:
    """``tree`` with every subtree equal to ``old`` replaced by ``new``."""
    if tree == old:
        return new
    return map_children(tree, lambda child: replace(child, old, new))


def fix(tree: Node, old: Node, new: Node) -> Fix:
    """The corrected formula after replacing ``old`` by ``new`` (printed when the hit is reported)."""
    return Fix(tree, old, new)


def funcs(tree: Node, *names: str) -> Iterator[Func]:
    """Function calls in ``tree`` whose base name is one of ``names``."""
    for node in tree.walk():
        if isinstance(node, Func) and node.base in names:
            yield node


def has_reference(node: Node) -> bool:
    """Whether the expression reads any cell, name or table."""
    return any(isinstance(n, Ref | Name | StructRef) for n in node.walk())


def _number_value(node: Node) -> float | None:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Percent) and isinstance(node.operand, Number):
        return node.operand.value / 100
    if isinstance(node, Unary) and node.op == "-":
        inner = _number_value(node.operand)
        return -inner if inner is not None else None
    return None


def _arg(func: Func, index: int) -> Node | None:
    """Argument ``index`` (negative: from the end), ``None`` when absent or left empty."""
    if -len(func.args) <= index < len(func.args) and not isinstance(func.args[index], Missing):
        return func.args[index]
    return None


def check_volatile(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX01: volatile functions recalculate on every change (Microsoft's recalculation guidance; Hermans' performance
    smells).
    """
    seen = sorted({f.base for f in funcs(tree, *VOLATILE_FUNCTIONS)})
    for name in seen:
        hint = {
            "OFFSET": "use INDEX(range, n) which is not volatile",
            "INDIRECT": "reference the cells directly or use INDEX/CHOOSE",
        }.get(name, "put it in one input cell and reference that cell")
        yield Hit("FX01", f"{name}() is volatile and recalculates on every change", hint)


def check_approximate_lookup(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX02: VLOOKUP/HLOOKUP default to approximate match, which returns the nearest smaller key on unsorted data
    (Panko's taxonomy; the EuSpRIG risk lists).
    """
    for f in funcs(tree, "VLOOKUP", "HLOOKUP"):
        if len(f.args) < 3:
            continue
        # An empty argument, as in VLOOKUP(A1,B1:C9,2,), is passed as 0 (FALSE): exact match.
        mode = f.args[3] if len(f.args) > 3 else None
        if isinstance(mode, Missing):
            continue
        if mode is None or (isinstance(mode, Bool) and mode.value) or _number_value(mode) not in (None, 0):
            fixed = Func(f.name, (*f.args[:3], Bool(False)))
            yield Hit("FX02", f"{f.base} uses approximate match", fix(tree, f, fixed))


def check_match_type(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX03: MATCH defaults to match type 1, approximate on sorted data, as FX02 (Microsoft's MATCH documentation)."""
    for f in funcs(tree, "MATCH"):
        # An empty argument, as in MATCH(A1,B1:B9,), is passed as 0: exact match.
        if len(f.args) == 2:
            fixed = Func(f.name, (*f.args[:2], Number("0")))
            yield Hit("FX03", "MATCH without match type defaults to approximate match", fix(tree, f, fixed))


def check_xlookup_mode(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX04: XLOOKUP/XMATCH approximate or binary modes need sorted data (Microsoft's XLOOKUP documentation)."""
    for f in funcs(tree, "XLOOKUP", "XMATCH"):
        match_i, search_i = (4, 5) if f.base == "XLOOKUP" else (2, 3)
        match_arg = _arg(f, match_i) or Number("0")
        search_arg = _arg(f, search_i) or Number("1")
        match_mode, search_mode = _number_value(match_arg), _number_value(search_arg)
        if match_mode in (-1, 1, 2) or search_mode in (2, -2):
            yield Hit(
                "FX04",
                f"{f.base} uses match mode {_mode_text(match_arg)} / search mode {_mode_text(search_arg)}",
                "use exact match (0) with linear search unless the data is sorted on purpose",
            )


def _mode_text(arg: Node) -> str:
    # A mode given as a number reads as one (1, -2); one computed from cells as its formula text.
    value = _number_value(arg)
    return f"{value:g}" if value is not None else unparse(arg)


def _operations(node: Chain) -> Iterator[tuple[int, Node, Node | None]]:
    """(j, right operand, left operand when it is an operand) of each ``ops[j]``, last op first.

    ``ops[j]`` applies ``node.head(j + 1)`` to ``operands[j + 1]``; only ``ops[0]`` has an operand
    (``operands[0]``) on its left. Last op first, then the operands in order: the order in which a
    depth-first walk meets each operation and its direct operands in the left-deep binary tree.
    """
    for j in range(len(node.ops) - 1, -1, -1):
        yield j, node.operands[j + 1], node.operands[0] if j == 0 else None


def _arith_numbers(tree: Node) -> Iterator[tuple[Node, str, Chain, int]]:
    """(number, its operator, chain, its index in the chain's operands) of each number in arithmetic."""
    for node in tree.walk():
        if isinstance(node, Chain) and node.ops[0] in ARITHMETIC_OPS:
            for j, right, left in _operations(node):
                if left is not None and _number_value(left) is not None:
                    yield left, node.ops[0], node, 0
                if _number_value(right) is not None:
                    yield right, node.ops[j], node, j + 1


def _is_rate(value: float) -> bool:
    return 0 < abs(value) < 1 or 1 < abs(value) < 2


def check_hardcoded_numbers(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX05: numbers typed into formulas hide assumptions (Hermans' magic-number smell; the FAST standard)."""
    if not has_reference(tree):
        return
    ignore = {float(v) for v in params["ignore"]}
    found: list[str] = []
    for side, op, _, _ in _arith_numbers(tree):
        value = _number_value(side)
        if value is None or value in ignore or (op in "*/" and _is_rate(value)):
            continue
        found.append(unparse(side))
    if found:
        listed = ", ".join(dict.fromkeys(found))
        yield Hit(
            "FX05",
            f"hard-coded number(s) {listed}",
            "move them into labelled input cells and reference those",
        )


def check_embedded_rate(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX06: a rate typed into a formula goes stale where the rate changes (FAST standard: inputs in input cells)."""
    first_reading: dict[int, int] = {}  # id of a chain -> index of its first operand reading a cell
    for side, op, node, index in _arith_numbers(tree):
        value = _number_value(side)
        rate = value is not None and op in "*/" and _is_rate(value) and abs(value) >= params["min_rate"]
        if rate and _other_side_reads(node, index, first_reading):
            yield Hit(
                "FX06",
                f"rate {unparse(side)} is embedded in the formula",
                "put the rate in an input cell (e.g. a named cell Rate) and multiply by it",
            )
            return


def _other_side_reads(node: Chain, index: int, first_reading: dict[int, int]) -> bool:
    # Whether what operand ``index`` is combined with reads a cell: the operand after it for the first
    # operand, everything before it otherwise. The first reading operand is found once per chain, so
    # a chain of many rates is checked in linear time.
    if index == 0:
        return has_reference(node.operands[1])
    first = first_reading.get(id(node))
    if first is None:
        first = next((i for i, o in enumerate(node.operands) if has_reference(o)), len(node.operands))
        first_reading[id(node)] = first
    return first < index


def check_watched_constant(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX07: a value the customer's policy names (a tax rate) typed into a formula: the policy profile's own rule."""
    watched: dict[str, Any] = params["watched"]
    if not watched:
        return
    tolerance = float(params["tolerance"])
    for node in tree.walk():
        value = _number_value(node) if isinstance(node, Number | Percent) else None
        if value is None:
            continue
        for name, target in sorted(watched.items()):
            if abs(value - float(target)) <= tolerance:
                yield Hit(
                    "FX07",
                    f"literal {unparse(node)} equals the approved constant {name}",
                    f"reference the approved input (the named cell {name}) instead of typing {unparse(node)}",
                )


def check_whole_ranges(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX08/FX09: whole-column and open-ended ranges cost recalculation and read stray cells (Microsoft's performance
    guidance).
    """
    for node in tree.walk():
        if isinstance(node, Ref) and (node.is_whole_column or node.is_whole_row):
            yield Hit(
                "FX08",
                f"{format_ref(node)} references a whole {'column' if node.is_whole_column else 'row'}",
                "bound the range to the data (or use a Table column such as Table1[Amount])",
            )
        elif isinstance(node, Ref) and node.is_open_ended:
            yield Hit("FX09", f"{format_ref(node)} is open-ended", "bound the range to the data or use a Table")


def _func_depth(tree: Node) -> int:
    # The most function calls nested along one path from the root (iterative: no recursion per level).
    deepest = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Func):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in node.children())
    return deepest


def check_complexity(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX10: deep nesting (Hermans' multiple-operations and conditional-complexity smells)."""
    depth = _func_depth(tree)
    if_count = sum(1 for _ in funcs(tree, "IF"))
    if depth > params["max_depth"] or if_count > params["max_ifs"]:
        yield Hit(
            "FX10",
            f"functions nest {depth} deep with {if_count} IFs",
            "split into helper cells, or use IFS/SWITCH/LET to flatten the logic",
        )


def check_length(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX11: long formulas are hard to review (Hermans' long-formula smell)."""
    if len(text) > params["max_length"]:
        yield Hit("FX11", f"formula is {len(text)} characters long", "split it into named intermediate steps")


def check_iferror_constant(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX12: IFERROR returning a constant hides every error, not the one expected (FAST standard; EuSpRIG lists)."""
    for f in funcs(tree, "IFERROR"):
        if len(f.args) != 2:
            continue
        value, fallback = f.args
        if isinstance(fallback, Number | String | Bool | Missing) or _number_value(fallback) is not None:
            lookups = list(funcs(value, "VLOOKUP", "HLOOKUP", "MATCH", "XLOOKUP", "INDEX", "LOOKUP"))
            suggestion: str | Fix
            if lookups:
                suggestion = fix(tree, f, Func("IFNA", f.args))
            elif isinstance(value, Chain) and value.ops[-1] == "/":
                guard = Func("IF", (binary("=", value.operands[-1], Number("0")), fallback, value))
                suggestion = fix(tree, f, guard)
            else:
                suggestion = "catch only the error you expect (IFNA, or an IF on the cause)"
            yield Hit(
                "FX12",
                f"IFERROR replaces every error with {unparse(fallback) or 'an empty value'}",
                suggestion,
            )


_GUARDS = frozenset({"IF", "IFERROR", "IFNA", "IFS", "SWITCH", "AND", "OR"})


def check_division(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX13/FX14: division by a cell that may be empty or zero (#DIV/0!, Excel's first error-checking rule); by a
    literal zero always.
    """
    # Depth first in source order, each node with whether a guard function encloses it.
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, guarded = stack.pop()
        children = node.children()
        if children:
            inner = guarded or (isinstance(node, Func) and node.base in _GUARDS)
            stack.extend((child, inner) for child in reversed(children))
        if not (isinstance(node, Chain) and node.ops[0] in ("*", "/")):
            continue
        for j, divisor, _ in _operations(node):
            if node.ops[j] != "/":
                continue
            value = _number_value(divisor)
            if value == 0:
                yield Hit("FX14", "division by the constant 0", "remove the division or divide by the intended cell")
            elif value is None and not guarded and has_reference(divisor):
                # The guard wraps the chain up to this division; the operations after it apply to the guard.
                guard: Node = Func("IF", (binary("=", divisor, Number("0")), Number("0"), node.head(j + 2)))
                if j + 1 < len(node.ops):
                    guard = Chain(node.ops[j + 1 :], (guard, *node.operands[j + 2 :]))
                yield Hit("FX13", f"{unparse(divisor)} may be zero or empty", fix(tree, node, guard))


def check_error_literals(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX15/FX16: #REF! in the text is a deleted reference (Excel's first error-checking rule, read from the formula
    alone).
    """
    codes = [n for n in tree.walk() if isinstance(n, ErrorLit)]
    if any(c.code == "#REF!" for c in codes):
        yield Hit(
            "FX15",
            "the formula contains #REF! (a deleted reference)",
            "re-point the reference to the intended cells",
        )
    others = sorted({c.code for c in codes if c.code != "#REF!"})
    if others:
        yield Hit(
            "FX16",
            f"error literal(s) {', '.join(others)} typed into the formula",
            "use NA() or handle the case explicitly",
        )


_DOUBLE_FIX = {("+", "-"): "-", ("-", "-"): "+", ("+", "+"): "+", ("-", "+"): "-"}


def check_double_operator(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX17: doubled operators such as +- are typing slips (Panko's mechanical errors)."""
    for node in tree.walk():
        if isinstance(node, Chain):
            for j, right, _ in _operations(node):
                if isinstance(right, Unary) and (node.ops[j], right.op) in _DOUBLE_FIX:
                    ops = (*node.ops[:j], _DOUBLE_FIX[(node.ops[j], right.op)], *node.ops[j + 1 :])
                    operands = (*node.operands[: j + 1], right.operand, *node.operands[j + 2 :])
                    yield Hit(
                        "FX17", f"operators {node.ops[j]}{right.op} in a row", fix(tree, node, Chain(ops, operands))
                    )
                    return
        if isinstance(node, Unary) and node.op == "+" and isinstance(node.operand, Unary):
            yield Hit("FX17", "operators in a row", fix(tree, node, node.operand))
            return


def check_text_arithmetic(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX18: arithmetic on a text literal gives #VALUE! (Excel's first error-checking rule, read from the formula
    alone).
    """
    for node in tree.walk():
        operands: tuple[Node, ...] = ()
        if isinstance(node, Chain) and node.ops[0] in ARITHMETIC_OPS:
            operands = tuple(
                o for _, right, left in _operations(node) for o in ((left, right) if left is not None else (right,))
            )
        elif isinstance(node, Unary) and node.op in "+-":
            operands = (node.operand,)
        for operand in operands:
            if isinstance(operand, String):
                if _NUMERIC_TEXT_RE.fullmatch(operand.value):
                    yield Hit(
                        "FX18",
                        f'text "{operand.value}" is converted to a number implicitly',
                        fix(tree, operand, Number(operand.value.strip().rstrip("%")))
                        if "%" not in operand.value and operand.value.strip()
                        else None,
                        severity="medium",
                    )
                else:
                    yield Hit(
                        "FX18",
                        f'arithmetic on the text "{operand.value}" gives #VALUE!',
                        "use a number or a cell reference",
                    )


def _may_hold_several_values(node: Node) -> bool:
    """Whether the expression reads, or may read, a range or an array rather than one value.

    Ranges (``A1:A3``, ``A1#``, ``A1:INDEX(...)``, unions), array constants, table columns other
    than this row's, defined names (whose extent the formula does not show) and OFFSET/INDIRECT.
    """
    for n in node.walk():
        if isinstance(n, Ref) and (n.end is not None or n.spill):
            return True
        if isinstance(n, Chain) and n.ops[0] in (":", " "):
            return True
        if isinstance(n, Union | Array | Name):
            return True
        if isinstance(n, StructRef) and "@" not in n.spec and "#this row" not in n.spec.lower():
            return True
        if isinstance(n, Func) and n.base in REFERENCE_FUNCTIONS:
            return True
    return False


def check_sum_single(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX19: SUM around one value, often a range typed as A1+B1 (Hermans' redundancy smell)."""
    for f in funcs(tree, "SUM"):
        if len(f.args) != 1:
            continue
        arg = f.args[0]
        single_cell = isinstance(arg, Ref) and arg.end is None and not arg.spill
        # SUM(A1:A3*B1:B3) adds the products of an array operation: without SUM the result would spill.
        arithmetic = isinstance(arg, Chain) and arg.ops[0] in ARITHMETIC_OPS and not _may_hold_several_values(arg)
        if single_cell or arithmetic or isinstance(arg, Number):
            yield Hit("FX19", f"SUM around a single value {unparse(arg)}", fix(tree, f, arg))


def _bound_names(tree: Node) -> set[str]:
    names: set[str] = set()
    for f in funcs(tree, "LET"):
        names.update(a.name.upper() for a in f.args[:-1:2] if isinstance(a, Name))
    for f in funcs(tree, "LAMBDA"):
        names.update(a.name.upper() for a in f.args[:-1] if isinstance(a, Name))
    return names


def check_functions(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX20/FX21: an unknown function gives #NAME?; a platform-specific one fails in the other spreadsheet program."""
    bound = _bound_names(tree)
    for name in sorted({f.base for f in tree.walk() if isinstance(f, Func)}):
        if name in SHEETS_ONLY_FUNCTIONS:
            yield Hit(
                "FX21",
                f"{name} exists only in Google Sheets",
                "replace it with an Excel equivalent if the file is shared as xlsx",
            )
        elif name not in KNOWN_FUNCTIONS and name not in bound and not name.startswith("_XLL."):
            yield Hit(
                "FX20",
                f"unknown function {name} (shows #NAME?)",
                "check the spelling or the add-in providing it",
            )


def check_external(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX22: links to other workbooks break when files move (Hermans' inappropriate-intimacy smell; risk lists' broken
    links).
    """
    books = sorted({n.book for n in tree.walk() if isinstance(n, Ref | Name | ErrorLit) and n.book})
    for book in books:
        yield Hit(
            "FX22",
            f"links to another workbook [{book}]",
            "copy the data into this workbook or document the link",
        )


def check_web_import(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX23: data fetched from the web at recalculation: an outside dependency the sheet cannot check."""
    for f in funcs(tree, *WEB_FUNCTIONS, *MARKET_DATA_FUNCTIONS):
        if f.base in MARKET_DATA_FUNCTIONS:
            yield from _market_data_hits(f)
            continue
        url = _arg(f, WEB_FUNCTIONS[f.base])
        if url is None:
            continue
        if isinstance(url, String):
            yield Hit("FX23", f"{f.base} fetches {url.value}", "import the data once and keep a reviewed copy")
        else:
            yield Hit(
                "FX23",
                f"{f.base} builds its URL from cell values: sheet data can leave through it",
                "use a fixed, reviewed URL and never concatenate cell values into it",
                severity="critical",
            )


def _market_data_hits(f: Func) -> Iterator[Hit]:
    # The provider's feed, not a URL: the ticker (even one read from a cell) goes only to that
    # provider, so there is no URL to leak through and the default severity stands.
    ticker = _arg(f, MARKET_DATA_FUNCTIONS[f.base])
    if ticker is None:
        return
    named = f'"{ticker.value}"' if isinstance(ticker, String) else f"from {unparse(ticker)}"
    yield Hit(
        "FX23",
        f"{f.base} reads a live market-data feed (ticker {named}): its result changes with the market",
        "keep a dated copy of the figures the sheet relies on",
    )


def check_constant_formula(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX24: a formula without references is a typed number in disguise (Hermans' smells)."""
    if has_reference(tree) or any(isinstance(n, Func | Call | ErrorLit) for n in tree.walk()):
        return
    if any(isinstance(n, Chain) and n.ops[0] in ARITHMETIC_OPS for n in tree.walk()):
        yield Hit("FX24", "formula computes a constant", "type the result with its inputs in labelled cells")


def check_redundant_if(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX25: IF(x, TRUE, FALSE) is x (Hermans' redundancy smell)."""
    for f in funcs(tree, "IF"):
        if len(f.args) == 3 and isinstance(f.args[1], Bool) and isinstance(f.args[2], Bool):
            if f.args[1].value and not f.args[2].value:
                yield Hit("FX25", "IF returns the condition itself", fix(tree, f, f.args[0]))
            elif not f.args[1].value and f.args[2].value:
                yield Hit("FX25", "IF returns the negated condition", fix(tree, f, Func("NOT", (f.args[0],))))


def check_empty_argument(tree: Node, text: str, params: Params) -> Iterator[Hit]:
    """FX34: an empty argument passes 0 or an empty text, seldom what was meant (Panko's mechanical errors)."""
    for f in funcs(tree, *AGGREGATES, "CONCATENATE"):
        if any(isinstance(a, Missing) for a in f.args):
            kept = tuple(a for a in f.args if not isinstance(a, Missing))
            yield Hit("FX34", f"{f.base} has an empty argument", fix(tree, f, Func(f.name, kept)) if kept else None)


# What a tree must contain for a check to have anything to say: (node types, function names), either
# one suffices; a check absent from this table always runs. Lets the engine skip most tree walks.
_ANY_FUNC: frozenset[str] = frozenset()
FORMULA_GATES: dict[FormulaCheck, tuple[tuple[type[Node], ...], frozenset[str]]] = {
    check_volatile: ((), VOLATILE_FUNCTIONS),
    check_approximate_lookup: ((), frozenset({"VLOOKUP", "HLOOKUP"})),
    check_match_type: ((), frozenset({"MATCH"})),
    check_xlookup_mode: ((), frozenset({"XLOOKUP", "XMATCH"})),
    check_hardcoded_numbers: ((Number,), _ANY_FUNC),
    check_embedded_rate: ((Number,), _ANY_FUNC),
    check_watched_constant: ((Number,), _ANY_FUNC),
    check_whole_ranges: ((Ref,), _ANY_FUNC),
    check_complexity: ((Func,), _ANY_FUNC),
    check_iferror_constant: ((), frozenset({"IFERROR"})),
    check_division: ((Chain,), _ANY_FUNC),
    check_error_literals: ((ErrorLit,), _ANY_FUNC),
    check_double_operator: ((Unary,), _ANY_FUNC),
    check_text_arithmetic: ((String,), _ANY_FUNC),
    check_sum_single: ((), frozenset({"SUM"})),
    check_functions: ((Func,), _ANY_FUNC),
    check_external: ((Ref, Name, ErrorLit), _ANY_FUNC),
    check_web_import: ((), frozenset(WEB_FUNCTIONS) | frozenset(MARKET_DATA_FUNCTIONS)),
    check_constant_formula: ((Chain,), _ANY_FUNC),
    check_redundant_if: ((), frozenset({"IF"})),
    check_empty_argument: ((Missing,), _ANY_FUNC),
}


def tree_features(tree: Node) -> tuple[frozenset[type[Node]], frozenset[str]]:
    """Node types and function base names present in ``tree`` (one walk, for the gates above)."""
    types: set[type[Node]] = set()
    bases: set[str] = set()
    for node in tree.walk():
        types.add(type(node))
        if isinstance(node, Func):
            bases.add(node.base)
    return frozenset(types), frozenset(bases)


# (rule ids a check may emit, check) in catalogue order.
FORMULA_CHECKS: tuple[tuple[tuple[str, ...], FormulaCheck], ...] = (
    (("FX01",), check_volatile),
    (("FX02",), check_approximate_lookup),
    (("FX03",), check_match_type),
    (("FX04",), check_xlookup_mode),
    (("FX05",), check_hardcoded_numbers),
    (("FX06",), check_embedded_rate),
    (("FX07",), check_watched_constant),
    (("FX08", "FX09"), check_whole_ranges),
    (("FX10",), check_complexity),
    (("FX11",), check_length),
    (("FX12",), check_iferror_constant),
    (("FX13", "FX14"), check_division),
    (("FX15", "FX16"), check_error_literals),
    (("FX17",), check_double_operator),
    (("FX18",), check_text_arithmetic),
    (("FX19",), check_sum_single),
    (("FX20", "FX21"), check_functions),
    (("FX22",), check_external),
    (("FX23",), check_web_import),
    (("FX24",), check_constant_formula),
    (("FX25",), check_redundant_if),
    (("FX34",), check_empty_argument),
)
