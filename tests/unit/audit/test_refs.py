"""A1 addresses, R1C1 patterns (the key of region analysis) and reference bounds."""

from __future__ import annotations

import uuid

import pytest
from sheetbrain.engine import parse
from sheetbrain.engine.ast import Func, Ref
from sheetbrain.engine.copies import MovedTrees, copy_key, move_ref, move_tree
from sheetbrain.engine.refs import a1, parse_a1, r1c1_pattern, ref_bounds


@pytest.mark.parametrize(
    ("text", "cell"), [("B3", (3, 2)), (" $AB$12 ", (12, 28)), ("xfd1048576", (1048576, 16384)), ("A$7", (7, 1))]
)
def test_an_a1_address_reads_as_row_and_column(text: str, cell: tuple[int, int]) -> None:
    # Given an A1 address; When parsed; Then (row, column)
    assert parse_a1(text) == cell


@pytest.mark.parametrize("text", ["B", "3B", "ABCD1", "B3:C4", "", "B 3"])
def test_anything_else_is_refused_naming_it(text: str) -> None:
    # Given text that is not one A1 cell address; When parsed; Then ValueError quoting it
    with pytest.raises(ValueError, match=r"^not an A1 cell address: ") as refused:
        parse_a1(text)
    assert str(refused.value) == f"not an A1 cell address: {text!r}"


@pytest.mark.parametrize(("cell", "text"), [((3, 2), "B3"), ((12, 28), "AB12"), ((1, 16384), "XFD1")])
def test_row_and_column_write_as_a1(cell: tuple[int, int], text: str) -> None:
    assert a1(*cell) == text


@pytest.mark.parametrize(
    ("formula", "row", "col", "pattern"),
    [
        ("=A1+$B$2+C$3+$D4", 2, 2, "R[-1]C[-1]+R2C2+R3C[1]+R[2]C4"),
        ("=B2", 2, 2, "RC"),
        ("=SUM(A1:A3)", 4, 1, "SUM(R[-3]C:R[-1]C)"),
        ("=SUM(A1:A4)", 4, 1, "SUM(R[-3]C:RC)"),
        ("=SUM(A1:$C$9)", 1, 1, "SUM(RC:R9C3)"),
        ("=Sheet2!B2", 2, 2, "Sheet2!RC"),
        ("=A1#", 1, 1, "RC#"),
        ("=SUM(A:A)", 1, 2, "SUM(C[-1]:C[-1])"),
        ("=SUM(2:3)", 1, 1, "SUM(R[1]:R[2])"),
        ("=Sheet1:Sheet3!A1", 1, 1, "Sheet1:Sheet3!RC"),
        ("=[1]Sheet1!A1", 1, 1, "[1]Sheet1!RC"),
        ("='C:\\data\\[Book1.xlsx]Sheet1'!B2", 1, 1, "'C:\\data\\[Book1.xlsx]Sheet1'!R[1]C[1]"),
    ],
)
def test_references_are_written_relative_to_their_cell(formula: str, row: int, col: int, pattern: str) -> None:
    # Given a formula at a cell; When its pattern is taken; Then relative parts are offsets, absolute ones stay
    assert r1c1_pattern(parse(formula), row, col) == pattern


def test_ranges_that_end_in_different_rows_have_different_patterns_and_keys() -> None:
    # Given two sums at A4 that start alike and end one row apart
    short, long = "=SUM(A1:A3)", "=SUM(A1:A4)"

    # When their patterns and copy keys are taken
    # Then neither matches the other's: where a range ends is part of the formula
    assert r1c1_pattern(parse(short), 4, 1) != r1c1_pattern(parse(long), 4, 1)
    assert copy_key(short, 4, 1) == "=SUM(\x00R[-3]C[0]\x00:\x00R[-1]C[0]\x00)"
    assert copy_key(long, 4, 1) == "=SUM(\x00R[-3]C[0]\x00:\x00R[0]C[0]\x00)"


def test_moving_a_range_moves_both_its_ends_and_keeps_absolute_parts() -> None:
    # Given a sum over A1:B$2 moved 3 rows down and 2 columns right
    moved = move_tree(parse("=SUM(A1:B$2)"), 3, 2)

    # Then the start and the relative parts of the end moved, the absolute row did not
    assert moved == parse("=SUM(C4:D$2)")
    assert isinstance(moved, Func)
    ref = moved.args[0]
    assert isinstance(ref, Ref)
    assert ref.end is not None
    assert (ref.end.col, ref.end.row) == (4, 2)


@pytest.mark.parametrize(
    ("formula", "bounds"),
    [
        ("=B3", (3, 2, 3, 2)),
        ("=SUM(C3:A1)", (1, 1, 3, 3)),
        ("=SUM(B:B)", (1, 2, 50, 2)),
        ("=SUM(2:4)", (2, 1, 4, 9)),
        ("=SUM(A2:C7)", (2, 1, 7, 3)),
    ],
)
def test_bounds_are_ordered_and_open_sides_clipped_to_the_sheet(formula: str, bounds: tuple[int, ...]) -> None:
    # Given a reference on a sheet of 50 rows and 9 columns; When bounded; Then (row1, col1, row2, col2)
    tree = parse(formula)
    ref = tree.args[0] if isinstance(tree, Func) else tree
    assert isinstance(ref, Ref)
    assert ref_bounds(ref, 50, 9) == bounds


@pytest.mark.parametrize(
    ("formula", "dr", "dc", "moved"),
    [
        ("=A1", 1, 0, "=A2"),
        ("=A1", 0, 1, "=B1"),
        ("=A1", 0, 0, "=A1"),
        ("=Sheet1:Sheet3!A1", 1, 0, "=Sheet1:Sheet3!A2"),
        ("=A1#", 1, 1, "=B2#"),
        ("=[1]Sheet1!A1", 2, 0, "=[1]Sheet1!A3"),
    ],
)
def test_a_moved_reference_keeps_its_sheets_book_and_spill(formula: str, dr: int, dc: int, moved: str) -> None:
    # Given a reference moved by (dr, dc); When moved as a tree and as a reference
    tree = parse(formula)
    assert isinstance(tree, Ref)

    # Then both are the reference written at the new place, with everything but the cell kept
    assert move_tree(tree, dr, dc) == parse(moved)
    assert move_ref(tree, dr, dc) == parse(moved)


def test_a_copy_is_moved_once_and_then_served_as_moved() -> None:
    # Given a tree stored for a cell 2 rows below its first copy
    trees = MovedTrees()
    first = parse("=SUM(A1:B1)")
    trees.put((3, 3), first, 2, 0)

    # When it is read twice
    once, twice = trees[(3, 3)], trees[(3, 3)]

    # Then it is the moved tree, the same object both times (moved once, not per read)
    assert once == parse("=SUM(A3:B3)")
    assert once is twice
    assert trees.origin((3, 3)) == (first, 2, 0)
    assert ((3, 3) in trees, (1, 1) in trees, len(trees), list(trees)) == (True, False, 1, [(3, 3)])


@pytest.mark.parametrize(("dr", "dc", "moved"), [(0, 0, "=SUM(A1:B1)"), (1, 0, "=SUM(A2:B2)"), (0, 1, "=SUM(B1:C1)")])
def test_a_stored_tree_is_served_moved_by_its_distance(dr: int, dc: int, moved: str) -> None:
    # Given a tree stored at a cell with a distance (none by default)
    trees = MovedTrees()
    first = parse("=SUM(A1:B1)")
    if (dr, dc) == (0, 0):
        trees.put((1, 1), first)
    else:
        trees.put((1, 1), first, dr, dc)

    # When it is read, Then it is the tree moved by that distance
    assert trees[(1, 1)] == parse(moved)


def test_a_cell_stored_again_is_served_as_stored_last() -> None:
    # Given a cell stored unmoved and read, then stored again one row down
    trees = MovedTrees()
    first = parse("=A1")
    trees.put((2, 1), first)
    assert trees[(2, 1)] == parse("=A1")
    trees.put((2, 1), first, 1, 0)

    # When it is read again, Then it is the tree stored last, moved
    assert trees[(2, 1)] == parse("=A2")


def test_the_first_and_later_copies_of_a_new_shape_get_their_keys() -> None:
    # Given copies of a formula whose shape no earlier text had (a word of its own in a string)
    word = "".join(chr(ord("a") + int(d, 16)) for d in uuid.uuid4().hex)
    first, second = f'=A1*2&"{word}"', f'=A2*2&"{word}"'

    # When the key of each is taken, the first twice
    keys = [copy_key(first, 1, 2), copy_key(first, 1, 2), copy_key(second, 2, 2)]

    # Then all three are the one key of the copies
    assert keys == [f'=\x00R[0]C[-1]\x00*2&"{word}"'] * 3


def test_the_last_column_of_the_grid_is_a_cell_address_and_one_past_it_is_not() -> None:
    # Given formulas that reach column XFD (16384, the last) and XFE (past it)
    # Then the first has a key, and the key abstains on the second
    assert copy_key("=XFD1+1", 1, 1) == "=\x00R[0]C[16383]\x00+1"
    assert copy_key("=XFE1+1", 1, 1) is None


@pytest.mark.parametrize("text", ["{A1", ":A1", "A1:", "=SUM(:A1)"])
def test_a_bracket_or_a_colon_that_does_not_join_two_cells_makes_the_key_abstain(text: str) -> None:
    # Given a text whose brackets or colons the key cannot vouch for; Then no key
    assert copy_key(text, 1, 1) is None


def test_a_colon_after_a_quoted_text_does_not_start_a_range() -> None:
    # Given a colon between a string and a cell (no range joins them); Then no key
    assert copy_key('="x":A1', 1, 1) is None
