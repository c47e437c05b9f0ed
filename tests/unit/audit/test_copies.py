"""Copy keys: texts with equal keys parse to trees that differ only by moving relative references."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sheetbrain.engine import FormulaParseError, parse
from sheetbrain.engine.copies import _PIECE_RE, _unsure, copy_key, move_tree
from sheetbrain.engine.refs import r1c1_pattern
from sheetbrain.engine.tokenizer import MAX_COL, MAX_ROW, col_to_index

CORPUS = Path(__file__).parent / "fixtures" / "benchmark_formulas.txt"
_ROW_RE = re.compile(r"(?<![\w.$'])([A-Z]{1,3})(\d+)\b")


def _moved_text(text: str, dr: int) -> str:
    return _ROW_RE.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + dr}", text)


def test_copies_down_a_column_share_a_key_and_moving_equals_parsing() -> None:
    # Given every real formula of the corpus, as if in C5, and its copy three rows down
    checked = 0
    for text in (line.strip() for line in CORPUS.read_text().splitlines() if line.strip()):
        key = copy_key(text, 5, 3)
        if key is None:
            continue
        copy = _moved_text(text, 3)
        if copy_key(copy, 8, 3) != key:
            continue
        try:
            tree = parse(text)
        except FormulaParseError:
            continue
        # Then moving the tree gives exactly what parsing the copy gives
        assert move_tree(tree, 3, 0) == parse(copy), text
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('="B5"&B5', '="B6"&B6'),  # text inside strings is not an address
        ("=Q3!B5", "=Q4!B6"),  # unquoted sheet names are not addresses
        ("=LOG10(B5)", "=LOG11(B6)"),  # nor are function names
        ("=SUM(A:A)+B5", "=SUM(B:B)+C6"),  # relative whole columns: the key abstains
        ("=SUM(A:A)+B5", "=SUM(A:A)+B6"),
        ("=SUM(5:5)+B5", "=SUM(6:6)+B6"),  # relative whole rows too
        ("=SUM($A:A)+B5", "=SUM($A:B)+B6"),  # a whole column with one side relative
        ("=SUM($A:$A)+B5", "=SUM($B:$B)+B6"),  # absolute, but another column
        ("=Table1[[#This Row],[Q1]]", "=Table1[[#This Row],[Q2]]"),
    ],
)
def test_texts_that_are_not_copies_never_share_a_key(a: str, b: str) -> None:
    # Given two texts one row apart that are not copies of each other
    key_a, key_b = copy_key(a, 5, 2), copy_key(b, 6, 2)

    # Then they do not share a key (or the key abstains)
    assert key_a is None or key_a != key_b


@pytest.mark.parametrize(
    ("text", "copy", "dr", "dc"),
    [
        ("=COUNTIF($E:$E,E5)", "=COUNTIF($E:$E,E9)", 4, 0),
        ("=SUMIF(Data!$B:$B,A5,Data!$E:$E)", "=SUMIF(Data!$B:$B,B6,Data!$E:$E)", 1, 1),
        ("=SUM($2:$4)-C5", "=SUM($2:$4)-C6", 1, 0),
    ],
)
def test_absolute_whole_columns_and_rows_share_the_key_of_their_copies(text: str, copy: str, dr: int, dc: int) -> None:
    # Given a formula reading an absolute whole column or row, and its copy dr rows down, dc right
    # When keyed in its cell (C5) and in the copy's
    key = copy_key(text, 5, 3)
    # Then both share one key, and moving the tree gives what parsing the copy gives
    assert key is not None and copy_key(copy, 5 + dr, 3 + dc) == key
    assert move_tree(parse(text), dr, dc) == parse(copy)


def test_absolute_parts_stay_put_when_moved() -> None:
    # Given a formula with a mixed reference
    tree = parse("=$A1*B$2")

    # When it is copied one row down and one column right
    moved = move_tree(tree, 1, 1)

    # Then only the relative parts follow
    assert moved == parse("=$A2*C$2")
    assert copy_key("=$A1*B$2", 1, 2) == copy_key("=$A2*C$2", 2, 3)


def test_the_key_template_gives_what_scanning_each_text_gives() -> None:
    # Given real formulas, their copies (rows moved, so only digit runs differ) and awkward texts

    texts = [line.strip() for line in CORPUS.read_text().splitlines() if line.strip()]
    texts += ["=A0+B5", "=A1048577+B5", '="B5"&B5*100', "=LOG10(B5)", "=Q3!B5:C7", "=B5:C7", "=SUM(5:7)+A1"]
    for text in texts:
        for dr in (0, 1, 7, 995, -1):
            moved = _moved_text(text, dr)
            for row, col in ((5, 3), (1, 1), (40, 12)):
                # Then the templated key equals the key computed from scratch
                assert copy_key(moved, row, col) == _scan_key(moved, row, col), moved


def _scan_key(text: str, row: int, col: int) -> str | None:
    # copy_key computed from scratch (the reference the template of copy_key reproduces).
    parts: list[str] = []
    last = 0
    prev_was_cell = False
    for m in _PIECE_RE.finditer(text):
        gap = text[last : m.start()]
        if _unsure(gap) and not (gap == ":" and prev_was_cell):
            return None
        parts.append(gap)
        last = m.end()
        if m.group("quoted") is not None:
            parts.append(m.group("quoted"))
            prev_was_cell = False
            continue
        r, c = int(m.group("row")), col_to_index(m.group("col"))
        if not (1 <= r <= MAX_ROW and 1 <= c <= MAX_COL):
            return None
        r_part = f"R{r}" if m.group("rabs") else f"R[{r - row}]"
        c_part = f"C{c}" if m.group("cabs") else f"C[{c - col}]"
        if gap == ":" and not prev_was_cell:
            return None
        parts.append("\x00" + r_part + c_part + "\x00")
        prev_was_cell = True
    tail = text[last:]
    if _unsure(tail):
        return None
    parts.append(tail)
    return "".join(parts)


def test_given_long_sum_filled_down_when_moved_then_equals_parsing_and_patterns_match() -> None:
    # Given a 300-term sum in row 1 and its copy in row 5
    first = "=" + "+".join(f"B{row}" for row in range(1, 301)) + "/$C$1"
    copy = "=" + "+".join(f"B{row}" for row in range(5, 305)) + "/$C$1"
    # When the first is moved four rows down / Then it is the copy's tree, with the copy's R1C1 pattern
    assert move_tree(parse(first), 4, 0) == parse(copy)
    assert r1c1_pattern(parse(first), 1, 1) == r1c1_pattern(parse(copy), 5, 1)
    assert copy_key(first, 1, 1) == copy_key(copy, 5, 1) is not None
