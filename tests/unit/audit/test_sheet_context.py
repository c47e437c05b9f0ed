"""What the sheet checks read through SheetContext: a formula's local references, their bounds, its
single cells and its aggregate ranges, and what each read costs of the check's work budget.

The engine stores copies of a formula as the first copy's tree and a distance (MovedTrees); a
context over plain parsed trees must answer the same. Each case is checked on both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from sheetbrain.engine import parse, unparse
from sheetbrain.engine.ast import Node, Ref
from sheetbrain.engine.checks.context import SheetContext, is_local_ref
from sheetbrain.engine.copies import MovedTrees

# The first copy, in C3: every kind of reference a copy moves (or keeps), plus one to another sheet.
FIRST = "=SUM(A1:B2)+$A$1+A$2+$B3+Other!A1+s!B1+A:A+1:1+COUNT(A5:A)+A:A1"
# Its copies, written out by hand: D5 (2 rows down, 1 right), C6 (3 down), E3 (2 right).
COPIES = {
    (3, 3): FIRST,
    (5, 4): "=SUM(B3:C4)+$A$1+B$2+$B5+Other!B3+s!C3+B:B+3:3+COUNT(B7:B)+B:B3",
    (6, 3): "=SUM(A4:B5)+$A$1+A$2+$B6+Other!A4+s!B4+A:A+4:4+COUNT(A8:A)+A:A4",
    (3, 5): "=SUM(C1:D2)+$A$1+C$2+$B3+Other!C1+s!D1+C:C+1:1+COUNT(C5:C)+C:C1",
}
MAX_ROW, MAX_COL = 20, 10


def moved_trees() -> MovedTrees:
    trees = MovedTrees()
    first = parse(FIRST)
    for row, col in COPIES:
        trees.put((row, col), first, row - 3, col - 3)
    return trees


def plain_trees() -> dict[tuple[int, int], Node]:
    return {key: parse(text) for key, text in COPIES.items()}


STORAGE = pytest.mark.parametrize("trees", [moved_trees, plain_trees], ids=["moved", "plain"])


def context(trees: Callable[[], Mapping[tuple[int, int], Node]]) -> SheetContext:
    return SheetContext("S", {}, trees(), {}, MAX_ROW, MAX_COL)


@STORAGE
@pytest.mark.parametrize(
    ("key", "refs"),
    [
        ((3, 3), ["A1:B2", "$A$1", "A$2", "$B3", "s!B1", "A:A", "1:1", "A5:A", "A:A1"]),
        ((5, 4), ["B3:C4", "$A$1", "B$2", "$B5", "s!C3", "B:B", "3:3", "B7:B", "B:B3"]),
        ((6, 3), ["A4:B5", "$A$1", "A$2", "$B6", "s!B4", "A:A", "4:4", "A8:A", "A:A4"]),
        ((3, 5), ["C1:D2", "$A$1", "C$2", "$B3", "s!D1", "C:C", "1:1", "C5:C", "C:C1"]),
    ],
)
def test_local_references_of_each_copy(
    trees: Callable[[], Mapping[tuple[int, int], Node]], key: tuple[int, int], refs: list[str]
) -> None:
    # Given the copies of one formula / When a copy's references are read, twice
    ctx = context(trees)
    first, again = ctx.refs_at(key), ctx.refs_at(key)
    # Then its own references on this sheet (Other! left out, s! is this sheet), the same both times
    assert [unparse(ref) for ref in first] == refs
    assert again == first
    # And each read costs one unit and one per reference
    assert ctx.budget.spent == 2 * (1 + len(refs))


@STORAGE
def test_bounds_of_a_copy_clip_open_sides_to_the_sheet(trees: Callable[[], Mapping[tuple[int, int], Node]]) -> None:
    # Given the copy in D5 on a sheet of 20 rows and 10 columns
    ctx = context(trees)
    # When the bounds (top, left, bottom, right) of its references are read
    bounds = ctx.bounds_at((5, 4))
    # Then ranges, single cells, whole columns and rows and open ends, each where the copy has it
    assert bounds == [
        (3, 2, 4, 3),  # B3:C4
        (1, 1, 1, 1),  # $A$1
        (2, 2, 2, 2),  # B$2
        (5, 2, 5, 2),  # $B5
        (3, 3, 3, 3),  # s!C3
        (1, 2, 20, 2),  # B:B
        (3, 1, 3, 10),  # 3:3
        (7, 2, 20, 2),  # B7:B
        (1, 2, 3, 2),  # B:B3
    ]
    assert ctx.budget.spent == 10
    # And read again once its references were read, the same bounds
    ctx.refs_at((5, 4))
    assert ctx.bounds_at((5, 4)) == bounds
    assert ctx.bounds_at((3, 5))[:3] == [(1, 3, 2, 4), (1, 1, 1, 1), (2, 3, 2, 3)]  # C1:D2, $A$1, C$2


@STORAGE
@pytest.mark.parametrize(
    ("key", "singles"),
    [
        ((3, 3), [(1, 1), (2, 1), (3, 2), (1, 2)]),
        ((5, 4), [(1, 1), (2, 2), (5, 2), (3, 3)]),  # $A$1, B$2, $B5, s!C3
        ((6, 3), [(1, 1), (2, 1), (6, 2), (4, 2)]),
        ((3, 5), [(1, 1), (2, 3), (3, 2), (1, 4)]),
    ],
)
def test_single_cells_of_a_copy(
    trees: Callable[[], Mapping[tuple[int, int], Node]], key: tuple[int, int], singles: list[tuple[int, int]]
) -> None:
    # Given the copies / When a copy's single-cell references are read (ranges, whole and open lines are not)
    ctx = context(trees)
    assert ctx.singles_at(key) == singles
    # Then each read costs one unit and one per reference of the formula
    assert ctx.budget.spent == 10
    # And once its references were read, the same cells
    ctx.refs_at(key)
    assert ctx.singles_at(key) == singles


@STORAGE
def test_aggregate_ranges_of_a_copy(trees: Callable[[], Mapping[tuple[int, int], Node]]) -> None:
    # Given the copies / When the aggregate calls over ranges of this sheet are read, twice
    ctx = context(trees)
    found = [(unparse(func), unparse(ref)) for func, ref in ctx.aggregates_at((5, 4))]
    # Then each call with its range argument, moved with the copy
    assert found == [("SUM(B3:C4)", "B3:C4"), ("COUNT(B7:B)", "B7:B")]
    assert [(unparse(f), unparse(r)) for f, r in ctx.aggregates_at((5, 4))] == found
    assert [unparse(r) for _, r in ctx.aggregates_at((3, 3))] == ["A1:B2", "A5:A"]
    # And each read costs one unit and one per pair
    assert ctx.budget.spent == 3 + 3 + 3


@STORAGE
def test_shape_of_a_copy(trees: Callable[[], Mapping[tuple[int, int], Node]]) -> None:
    # Given the copies / When the shape of D5's formula is read
    ctx = context(trees)
    shape = unparse(ctx.shape_at((5, 4)))
    # Then it is a copy of the formula (the one in D5 or another), for one unit
    assert "=" + shape in (FIRST, COPIES[(5, 4)])
    assert ctx.budget.spent == 1
    # And the references of a formula of that shape are that copy's
    refs = [unparse(ref) for ref in ctx.shape_refs_at((5, 4))]
    assert refs in (
        ["A1:B2", "$A$1", "A$2", "$B3", "s!B1", "A:A", "1:1", "A5:A", "A:A1"],
        ["B3:C4", "$A$1", "B$2", "$B5", "s!C3", "B:B", "3:3", "B7:B", "B:B3"],
    )


@pytest.mark.parametrize(
    ("formula", "local"),
    [
        ("=A1", True),
        ("=S!A1", True),
        ("=s!A1", True),  # Excel ignores the case of sheet names
        ("='S '!A1", True),  # outer spaces are padding
        ("=Other!A1", False),
        ("=[1]S!A1", False),  # the same name in another workbook
        ("=S:T!A1", False),  # a 3D reference spans other sheets too
    ],
)
def test_which_references_point_into_the_sheet(formula: str, local: bool) -> None:
    # Given a reference / When asked whether it points into sheet S / Then
    ref = parse(formula)
    assert isinstance(ref, Ref)
    ctx = SheetContext("S", {}, {(1, 1): ref}, {}, 1, 1)
    assert (is_local_ref(ref, "S"), ctx.is_local(ref), len(ctx.refs_at((1, 1)))) == (local, local, int(local))
