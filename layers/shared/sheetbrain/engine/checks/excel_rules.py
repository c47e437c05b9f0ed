"""Sheet checks taken from Excel's own error-checking rules (File > Options > Formulas).

Each needs the cached values of the grid (``Sheet.values``): a formula's current result, or the
text a plain cell holds. Without values they find nothing. Every lookup from a reference into
the cells it covers goes through a column index (rows sorted, ranges found by bisection), so the
work grows with the cells and references of the sheet, never with the cells a range spans.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sheetbrain.engine.ast import Func, Node, Ref
from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.copies import MovedTrees, move_ref
from sheetbrain.engine.refs import a1, ref_bounds
from sheetbrain.engine.tokenizer import ERROR_CODES

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import CellHit, SheetContext

Key = tuple[int, int]
Box = tuple[int, int, int, int]

# Cells named in a message; the rest are counted.
MAX_NAMED = 5


class ColumnIndex:
    """Cells of one kind by column, rows sorted: the cells inside a box are found by bisection.

    ``claim`` hands each cell out once (a union-find "next free row" per column), so many
    overlapping ranges (running totals) cost amortised near-constant time per cell, not per pair.
    """

    def __init__(self, keys: Iterable[Key]) -> None:
        by_col: dict[int, list[int]] = {}
        for row, col in keys:
            by_col.setdefault(col, []).append(row)
        self.cols = sorted(by_col)
        self.rows = {col: sorted(rows) for col, rows in by_col.items()}
        self._next: dict[int, list[int]] = {}

    def _columns(self, c1: int, c2: int) -> list[int]:
        return self.cols[bisect_left(self.cols, c1) : bisect_right(self.cols, c2)]

    def first(self, box: Box, skip: Key | None = None) -> Key | None:
        """The first cell inside ``box`` in reading order (row, then column), ``skip`` excepted."""
        r1, c1, r2, c2 = box
        best: Key | None = None
        for col in self._columns(c1, c2):
            rows = self.rows[col]
            i = bisect_left(rows, r1)
            if i < len(rows) and skip == (rows[i], col):
                i += 1
            if i < len(rows) and rows[i] <= r2 and (best is None or (rows[i], col) < best):
                best = (rows[i], col)
        return best

    def claim(self, box: Box) -> Iterator[Key]:
        """Cells inside ``box`` not claimed before (each cell is yielded once over all calls)."""
        r1, c1, r2, c2 = box
        for col in self._columns(c1, c2):
            rows = self.rows[col]
            nxt = self._next.get(col)
            if nxt is None:
                nxt = self._next[col] = list(range(len(rows) + 1))
            i = _find(nxt, bisect_left(rows, r1))
            while i < len(rows) and rows[i] <= r2:
                yield rows[i], col
                nxt[i] = i + 1
                i = _find(nxt, i + 1)


def _find(nxt: list[int], i: int) -> int:
    # The first unclaimed index at or after i, halving paths as it goes.
    while nxt[i] != i:
        nxt[i] = nxt[nxt[i]]
        i = nxt[i]
    return i


def _names(keys: list[Key]) -> str:
    shown = ", ".join(a1(*key) for key in keys[:MAX_NAMED])
    return shown + (f" and {len(keys) - MAX_NAMED} more" if len(keys) > MAX_NAMED else "")


# --- FX36: formulas that result in an error -----------------------------------------------------

# Error values as Excel and Google Sheets show them: the literals a formula may hold (one list,
# the tokenizer's), and #ERROR!, Sheets' own parse error, which only ever arrives as a value.
ERROR_VALUES = frozenset((*ERROR_CODES, "#ERROR!"))
# Severity by what the error says about the formula. #REF!, #NAME?, #NULL!, #SPILL! and #VALUE!
# say the formula itself is broken: a deleted reference, an unknown name, a misused operator, a
# result with no room, an input of the wrong type. The others say its data is not (yet) there,
# and the formula would compute once it is: #DIV/0! is a divisor that is zero or empty (a
# template awaiting figures, a rate over a period with no entries), #NUM! a number out of a
# function's domain, #CALC! an empty array (a FILTER that matches nothing), #N/A "no value
# available", what NA() returns on purpose and a lookup for a key not in its table. Those are
# advice, not errors of the formula. #GETTING_DATA / #BUSY! are no errors at all: the values
# were read while external data or a calculation was still under way.
_ERROR_SEVERITY = {
    "#DIV/0!": "medium",
    "#NUM!": "medium",
    "#CALC!": "medium",
    "#N/A": "medium",
    "#GETTING_DATA": "info",
    "#BUSY!": "info",
}
_ERROR_ADVICE = {
    "#DIV/0!": "the divisor is zero or empty: fill in the input, or guard the division (IF(divisor=0, ...))",
    "#REF!": "a reference was deleted: point the formula at the intended cells again",
    "#NAME?": "an unknown function or name: correct its spelling or define the name",
    "#VALUE!": "an input has the wrong type (text where a number is expected): check the cells it reads",
    "#N/A": "the value looked up is missing from its table: add it, or handle the miss with IFNA",
    "#NUM!": "an impossible number (too large, no solution, a root of a negative): check its inputs",
    "#NULL!": "two references that do not intersect (a space between them): use a comma or a colon",
    "#SPILL!": "the result cannot spill: clear the cells in its way",
    "#CALC!": "the calculation has no result (an empty array): handle the empty case",
    "#GETTING_DATA": "recalculate once the data has loaded",
    "#BUSY!": "recalculate once the calculation has finished",
}


def error_value(value: Any) -> str | None:
    """The error code a cached value shows (``"#DIV/0!"``), or ``None`` for any other value."""
    if isinstance(value, str) and value[:1] == "#" and len(value) <= 32:
        code = value.strip().upper()
        if code in ERROR_VALUES:
            return code
    return None


def check_error_results(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX36: a formula whose current value is an error, reported once per chain.

    Excel's first error-checking rule ("cells containing formulas that result in an error"). An
    error spreads to every formula that reads it; the cells that show the same error and read a
    cell that shows it (directly or inside a range, transitively) are its chain, named in one
    finding at the origin instead of one finding each. A cell that reads the error without
    showing it (IFERROR) is no part of the chain. Each fed cell is counted with one origin that
    reaches it: the origin of the first cell showing that error it reads (in reading order).
    """
    errors: dict[Key, str] = {}
    for key, cell in ctx.cells.items():
        if cell.is_formula and (code := error_value(cell.value)) is not None:
            errors[key] = code
    if not errors:
        return
    by_code: dict[str, list[Key]] = {}
    for key, code in errors.items():
        by_code.setdefault(code, []).append(key)
    index = {code: ColumnIndex(keys) for code, keys in by_code.items()}
    parent: dict[Key, Key] = {}
    for key, code in errors.items():
        if key not in ctx.trees:
            continue  # a formula too deep to walk: its references are unknown, it is its own origin
        same = index[code]
        found = [hit for box in ctx.bounds_at(key) if (hit := same.first(box, skip=key)) is not None]
        if found:
            parent[key] = min(found)
    root: dict[Key, Key] = {}
    for key in sorted(errors):
        path: list[Key] = []
        on_path: set[Key] = set()
        node = key
        while node not in root:
            up = parent.get(node)
            if up is None or node in on_path:
                root[node] = node  # no error cell feeds it, or it closes a loop: an origin
                break
            on_path.add(node)
            path.append(node)
            node = up
        top = root[node]
        for member in path:
            root[member] = top
    fed: dict[Key, list[Key]] = {}
    for key in sorted(errors):
        if root[key] != key:
            fed.setdefault(root[key], []).append(key)
    for key in sorted(errors):
        if root[key] != key:
            continue
        code = errors[key]
        chain = fed.get(key, [])
        message = f"the formula shows {code} now"
        if chain:
            who = "formula reading it shows" if len(chain) == 1 else "formulas reading it show"
            message += f"; {len(chain)} {who} {code} too: {_names(chain)}"
        advice = _ERROR_ADVICE.get(code, "check the inputs it reads")
        yield key[0], key[1], Hit("FX36", message, advice, _ERROR_SEVERITY.get(code, "high"))


# --- FX37: numbers stored as text ---------------------------------------------------------------

# A number as text: sign, currency sign, digits (thousands grouped by commas in threes, or none),
# decimals, exponent, percent. "1,5" and "11,4262" (a decimal comma, a footnote mark) are not.
_NUMBER_TEXT_RE = re.compile(
    r"(?:[-+]?[$€£¥]?|[$€£¥][-+])(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?(?:[eE][-+]?\d+)?%?", re.ASCII
)
# Excel keeps 15 significant digits: a longer digit string (a card or account number) must be text.
_MAX_DIGITS = 15


def is_numeric_text(value: Any) -> bool:
    """Whether a plain cell's text is one Excel would read as a number ("42", "'42", "1,234.5", "12%").

    A leading apostrophe (the way a number is forced to text when typed) is allowed. Codes are
    not numbers: a leading zero ("007", a zip code "02134"), more than 15 digits, a list label
    with a trailing point ("1.").
    """
    if not isinstance(value, str) or len(value) > 64:
        return False
    text = value.strip()
    if text[:1] == "'":
        text = text[1:].strip()
    m = _NUMBER_TEXT_RE.fullmatch(text)
    if m is None:
        return False
    whole, frac = m.group("int") or "", m.group("frac") or ""
    if not whole and not frac:
        return False
    digits = whole.replace(",", "")
    if len(digits) > 1 and digits[0] == "0":
        return False
    return len(digits) + max(len(frac) - 1, 0) <= _MAX_DIGITS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Functions that skip text held in the cells they are given (SUM, AVERAGE, COUNT, MAX...), or count
# it as zero (AVERAGEA, SUMPRODUCT): a number stored as text in those cells silently drops out.
# Value: the positions of the arguments read that way (None: every argument).
_TEXT_SKIPPING: dict[str, tuple[int, ...] | None] = {
    **dict.fromkeys(
        (
            "SUM",
            "AVERAGE",
            "AVERAGEA",
            "COUNT",
            "MAX",
            "MAXA",
            "MIN",
            "MINA",
            "PRODUCT",
            "SUMPRODUCT",
            "MEDIAN",
            "STDEV",
            "STDEV.S",
            "STDEV.P",
            "STDEVP",
            "VAR",
            "VAR.S",
            "VAR.P",
            "VARP",
            "SUMSQ",
        ),
        None,
    ),
    "SUBTOTAL": None,
    "AGGREGATE": None,
    "SUMIF": (2,),
    "AVERAGEIF": (2,),
    "SUMIFS": (0,),
    "AVERAGEIFS": (0,),
    "LARGE": (0,),
    "SMALL": (0,),
}


def _text_skipping_refs(tree: Node, is_local: Callable[[Ref], bool]) -> list[tuple[str, Ref]]:
    out = []
    for node in tree.walk():
        if not isinstance(node, Func) or node.base not in _TEXT_SKIPPING:
            continue
        positions = _TEXT_SKIPPING[node.base]
        for i, arg in enumerate(node.args):
            if isinstance(arg, Ref) and is_local(arg) and (positions is None or i in positions):
                out.append((node.base, arg))
    return out


def _aggregated_refs(ctx: SheetContext, memo: dict[int, list[tuple[str, Ref]]]) -> Iterator[tuple[Key, str, Ref]]:
    # (formula cell, function, reference it aggregates): found once per copied shape, moved per copy.
    for key in sorted(ctx.trees):
        if isinstance(ctx.trees, MovedTrees):
            base, dr, dc = ctx.trees.origin(key)
        else:
            base, dr, dc = ctx.trees[key], 0, 0
        pairs = memo.get(id(base))
        if pairs is None:
            pairs = memo[id(base)] = _text_skipping_refs(base, ctx.is_local)
        for name, ref in pairs:
            yield key, name, move_ref(ref, dr, dc)


def check_numbers_as_text(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX37: a number stored as text, where numbers are expected.

    Excel's rule "numbers formatted as text or preceded by an apostrophe". SUM, AVERAGE, COUNT and
    their kin skip text in the cells they read, so a number stored as text inside their range
    silently drops out of the result: high when the formula's own value is a number (the grid's
    values are typed, and the result left this one out), medium when that cannot be told. A number
    stored as text that no such formula reads is advice (medium) when it sits inside a line of
    numbers (numbers on both sides in its column or row). A year ("2001") is the classic number
    kept as a label: outside a line of numbers it is a heading, even inside a range.
    """
    texts = {
        key: str(cell.value).strip()
        for key, cell in ctx.cells.items()
        if not cell.is_formula and is_numeric_text(cell.value)
    }
    if not texts:
        return
    inside = _inside_numbers(ctx, texts)
    index = ColumnIndex(key for key, text in texts.items() if key in inside or not _is_year(text))
    memo: dict[int, list[tuple[str, Ref]]] = {}
    readers = list(_aggregated_refs(ctx, memo))
    reported: dict[Key, Hit] = {}
    # Formulas whose value is a number first: their findings are the definite ones.
    for definite in (True, False):
        for key, name, ref in readers:
            if _is_number(ctx.cells[key].value) != definite:
                continue
            for at in index.claim(ref_bounds(ref, ctx.max_row, ctx.max_col)):
                reported[at] = Hit(
                    "FX37",
                    f'number stored as text ("{texts[at]}"): {name} in {a1(*key)} skips it',
                    "enter it as a number (no apostrophe, no text format)",
                    "high" if definite else "medium",
                )
    for at in inside - reported.keys():
        reported[at] = Hit(
            "FX37",
            f'number stored as text ("{texts[at]}") among numbers: sums and averages skip it',
            "enter it as a number (no apostrophe, no text format)",
        )
    for at in sorted(reported):
        yield at[0], at[1], reported[at]


def _is_year(text: str) -> bool:
    digits = text.lstrip("'").strip()
    return len(digits) == 4 and digits.isascii() and digits.isdigit() and 1800 <= int(digits) <= 2199


def _inside_numbers(ctx: SheetContext, keys: Iterable[Key]) -> set[Key]:
    # Runs of number-texts in a column or a row with a number on both sides.
    out: set[Key] = set()
    for along_col in (True, False):
        order = sorted(keys, key=lambda k: (k[1], k[0]) if along_col else k)
        run: list[Key] = []
        for key in order:
            if run and _step(run[-1], along_col) != key:
                _close(ctx, run, along_col, out)
                run = []
            run.append(key)
        if run:
            _close(ctx, run, along_col, out)
    return out


def _step(key: Key, along_col: bool, by: int = 1) -> Key:
    return (key[0] + by, key[1]) if along_col else (key[0], key[1] + by)


def _close(ctx: SheetContext, run: list[Key], along_col: bool, out: set[Key]) -> None:
    before = ctx.cells.get(_step(run[0], along_col, -1))
    after = ctx.cells.get(_step(run[-1], along_col))
    if before is not None and after is not None and _is_number(before.value) and _is_number(after.value):
        out.update(run)


# --- FX38: years written with two digits in text dates ------------------------------------------

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_TWO_DIGIT_YEAR_DATES = (
    # 3/4/97, 3-4-97, 03.04.97 (numeric day and month, the same separator twice)
    re.compile(r"(?P<a>\d{1,2})(?P<s>[/-])(?P<b>\d{1,2})(?P=s)\d{2}"),
    re.compile(r"(?P<a>\d{2})\.(?P<b>\d{2})\.\d{2}"),
    # 12-Jan-03, 12 January 03
    re.compile(rf"\d{{1,2}}[- ]{_MONTH}[- ]\d{{2}}", re.IGNORECASE),
    # Jan 12, 03 / January 12 03
    re.compile(rf"{_MONTH} \d{{1,2}},? \d{{2}}", re.IGNORECASE),
)


def two_digit_year_date(value: Any) -> bool:
    """Whether a plain cell's text is a date written with a two-digit year ("3/4/97", "12-Jan-03")."""
    if not isinstance(value, str) or len(value) > 40:
        return False
    text = value.strip()
    if not text[-2:].isdigit():
        return False  # every form ends with the year's two digits
    for pattern in _TWO_DIGIT_YEAR_DATES:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        if "a" in pattern.groupindex:
            a, b = int(m.group("a")), int(m.group("b"))
            if not (1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12):
                continue
        return True
    return False


def check_two_digit_years(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX38: a date typed as text with a two-digit year.

    Excel's rule "cells containing years represented as 2 digits": read as a date (by a formula,
    a sort, an import), "97" becomes 1997 or 2097 depending on the program and its settings
    (Excel's pivot is 2029). Low as a label; medium when a formula on the sheet reads the cell.
    """
    dates = sorted(key for key, cell in ctx.cells.items() if not cell.is_formula and two_digit_year_date(cell.value))
    if not dates:
        return
    index = ColumnIndex(dates)
    read_by: dict[Key, Key] = {}
    for key in sorted(ctx.trees):
        for box in ctx.bounds_at(key):
            for at in index.claim(box):
                read_by[at] = key
    for at in dates:
        text = str(ctx.cells[at].value).strip()
        reader = read_by.get(at)
        if reader is None:
            yield at[0], at[1], Hit("FX38", f'"{text}" is a date with a two-digit year', "type the year in full")
        else:
            yield (
                at[0],
                at[1],
                Hit(
                    "FX38",
                    f'"{text}" is a date with a two-digit year, read by {a1(*reader)}: its century is guessed',
                    "type the year in full, or enter it as a date",
                    "medium",
                ),
            )
