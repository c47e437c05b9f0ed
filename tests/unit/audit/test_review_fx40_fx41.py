"""Review of FX40/FX41 (branch review-fx40): each test is a correct sheet the checks get wrong, or
a stated case they miss. They fail on 95bb8bf; each names the problem it pins."""

from __future__ import annotations

import pytest

from tests.unit.audit.grids import audited, grid


def test_given_copies_that_read_a_yes_no_flag_when_audited_then_no_fx40() -> None:
    # Given D = IF(B="Yes", C*0.2, 0) copied, and D3 = C3*0.2 beside B3 "Yes": B is a text column
    # in every row, a label the copies compare, never a figure
    cells: dict[tuple[int, int], object] = {}
    for r, (flag, amount) in enumerate([("Yes", 100), ("No", 200), ("Yes", 300), ("No", 50)], start=1):
        cells.update({(r, 2): flag, (r, 3): amount, (r, 4): f'=IF(B{r}="Yes",C{r}*0.2,0)'})
    cells[(3, 4)] = "=C3*0.2"
    # When audited / Then nothing: no figure is ever typed in B
    assert audited(grid(cells), "FX40") == []


def test_given_two_sections_stacked_in_one_column_when_audited_then_no_fx40() -> None:
    # Given rows 1-4 E = C+D (two quarters), a subtotal in E5, and rows 6-8 E = D beside role
    # names in C (another section: role, salary), with no blank row between
    cells: dict[tuple[int, int], object] = {}
    for r in range(1, 5):
        cells.update({(r, 3): r * 10, (r, 4): r, (r, 5): f"=C{r}+D{r}"})
    cells.update({(5, 2): "Subtotal", (5, 5): "=SUM(E1:E4)"})
    for r, (role, salary) in enumerate([("Clerk", 30), ("Driver", 35), ("Manager", 60)], start=6):
        cells.update({(r, 3): role, (r, 4): salary, (r, 5): f"=D{r}"})
    # When audited / Then nothing: C6:C8 are labels of another table, not dashes for nil
    assert audited(grid(cells), "FX40") == []


def test_given_many_formulas_held_twice_and_many_once_when_audited_then_fx40_does_not_stop() -> None:
    # Given 600 rows of C = B*k, k shared by two rows at a time and unique on every third row:
    # each unique formula is compared with every pattern held twice (quadratic)
    cells: dict[tuple[int, int], object] = {}
    for r in range(1, 601):
        k = r // 3 if r % 3 else 100_000 + r
        cells.update({(r, 2): r, (r, 3): f"=B{r}*{k}"})
    # When audited on the engine's budget for 1,200 cells (16 units a cell)
    # Then nothing, and no FX90 stop: reading 600 formulas is linear work
    assert audited(grid(cells), "FX40", work_budget=16 * 1_200) == []


@pytest.mark.xfail(strict=True, reason="review: copies are counted by pattern text, so $ signs split them (not fixed)")
def test_given_copies_written_with_and_without_dollars_when_audited_then_both_short_rows_are_high() -> None:
    # Given E = C+D in rows 1 and 5, E = $C+$D in rows 2 and 6 (the same cells read), and E3, E4
    # = D beside dashes
    rows = [
        (1, 2, "=C1+D1"),
        (3, 4, "=$C2+$D2"),
        ("-", 5, "=D3"),
        ("-", 6, "=D4"),
        (6, 7, "=C5+D5"),
        (8, 9, "=$C6+$D6"),
    ]
    cells: dict[tuple[int, int], object] = {}
    for r, (c, d, e) in enumerate(rows, start=1):
        cells.update({(r, 3): c, (r, 4): d, (r, 5): e})
    # When audited / Then E3 and E4: four copies read C and D, two formulas leave C out
    assert [row[0] for row in audited(grid(cells), "FX40")] == ["S!E3", "S!E4"]


def test_given_typed_integers_near_the_linked_fractions_when_audited_then_no_fx41() -> None:
    # Given B5 =B2, and C5, D5 typed 1 where C2 holds 0.6 and D2 1.45
    sheet = grid({(2, 2): 3, (2, 3): 0.6, (2, 4): 1.45, (5, 2): "=B2", (5, 3): 1, (5, 4): 1})
    # When audited / Then nothing: 1 is not 0.6 ("typed value equals C2" would be untrue)
    assert audited(sheet, "FX41") == []


def test_given_a_typed_fraction_near_the_linked_one_when_audited_then_no_fx41() -> None:
    # Given B5 =B2 and C5 typed 0.1 where C2 holds 0.14
    sheet = grid({(2, 2): 0.12, (2, 3): 0.14, (5, 2): "=B2", (5, 3): 0.1})
    # When audited / Then nothing
    assert audited(sheet, "FX41") == []


def test_given_a_figure_after_two_links_when_audited_then_it_is_reported_once() -> None:
    # Given C5 typed 855, right of B5 =B2 (C2 855) and below C4 =A4 (A5 855)
    sheet = grid({(2, 2): 7, (2, 3): 855, (5, 2): "=B2", (5, 3): 855, (4, 3): "=A4", (4, 1): 1, (5, 1): 855})
    # When audited / Then one finding for C5, not two
    assert [row[0] for row in audited(sheet, "FX41")] == ["S!C5"]


@pytest.mark.parametrize(
    ("copy", "short"),
    [("=C{r}*D{r}", "=D3"), ("=D{r}/C{r}", "=D3"), ("=(B{r}+C{r}+D{r})/3", "=(B3+D3)/2")],
    ids=["quantity times price", "divided", "average of three"],
)
def test_given_a_factor_or_divisor_left_out_when_audited_then_no_fx40(copy: str, short: str) -> None:
    # Given E = ``copy`` in rows 1, 2, 4 and E3 = ``short`` beside "n/a" in C3: the suggested fix
    # (copy E1, 0 over C3) would make E3 0, #DIV/0! or a lower average, not today's figure
    cells: dict[tuple[int, int], object] = {}
    for r, (b, c, d) in enumerate([(5, 2, 10), (6, 3, 5), (7, "n/a", 40), (8, 1, 7)], start=1):
        cells.update({(r, 2): b, (r, 3): c, (r, 4): d, (r, 5): copy.format(r=r)})
    cells[(3, 5)] = short
    # When audited / Then nothing
    assert audited(grid(cells), "FX40") == []
