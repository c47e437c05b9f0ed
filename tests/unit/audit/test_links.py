"""FX41 (engine/checks/links.py): a typed number where the link beside it, copied, would be.
Small grids with exact findings; fast enough for the mutation run."""

from __future__ import annotations

import pytest

from tests.unit.audit.grids import Row, audited, grid


def _fx41(cell: str, read: str, link: str, formula: str) -> Row:
    return (
        f"S!{cell}",
        "FX41",
        "high",
        f"typed value equals {read}, which the link in {link} ({formula}) would read copied here: "
        f"a link pasted as its value does not follow {read}",
        f"={read}",
    )


def _summary(**changes: object) -> dict[tuple[int, int], object]:
    # Row 2 holds figures in B:D (B2 a formula showing 855); row 5 links B2 and carries C2 and D2
    # over as typed numbers. ``changes`` by A1 address (columns A-H, rows 1-9).
    cells: dict[tuple[int, int], object] = {(2, 1): "Net", (2, 2): "=B1*2", (2, 3): 855, (2, 4): 740}
    cells.update({(1, 2): 427.5, (5, 1): "Carried", (5, 2): "=B2", (5, 3): 855, (5, 4): 740})
    for address, item in changes.items():
        cells[(int(address[1:]), ord(address[0]) - 64)] = item
    return cells


def _with_values(cells: dict[tuple[int, int], object], values: dict[tuple[int, int], object]) -> object:
    sheet = grid(cells)
    for (r, c), value in values.items():
        sheet.values[r - 1][c - 1] = value
    return sheet


def test_given_a_link_whose_row_goes_on_with_the_linked_figures_typed_when_audited_then_each_is_high() -> None:
    # Given B5 =B2 and C5, D5 typed as C2 and D2
    sheet = grid(_summary())
    # When audited / Then C5 and D5 are reported, each with the link it should be
    assert audited(sheet, "FX41") == [_fx41("C5", "C2", "B5", "=B2"), _fx41("D5", "D2", "B5", "=B2")]


def test_given_a_link_copied_down_as_values_when_audited_then_the_figures_below_are_high() -> None:
    # Given D1 =A1 and D2, D3 typed as A2 and A3
    sheet = grid({(1, 1): 5, (2, 1): 6, (3, 1): 7, (1, 4): "=A1", (2, 4): 6, (3, 4): 7})
    # When audited / Then D2 and D3
    assert audited(sheet, "FX41") == [_fx41("D2", "A2", "D1", "=A1"), _fx41("D3", "A3", "D1", "=A1")]


def test_given_the_linked_cell_is_a_formula_when_audited_then_its_current_value_is_compared() -> None:
    # Given C2 a formula showing 855 (the values grid) and C5 typed 855
    sheet = _with_values(_summary(C2="=C1*3", C1=285), {(2, 3): 855})
    # When audited / Then C5 and D5, as when C2 was typed
    assert audited(sheet, "FX41") == [_fx41("C5", "C2", "B5", "=B2"), _fx41("D5", "D2", "B5", "=B2")]


@pytest.mark.parametrize(
    ("changes", "found"),
    [
        ({"C5": 856}, []),  # the first figure differs: the walk stops there
        ({"D5": 741}, ["C5"]),  # the second differs
        ({"C2": 0, "C5": 0}, []),  # zero agrees with too much
        ({"C5": "855"}, []),  # text is no typed number
        ({"C2": "855"}, []),  # nor is text in the cell read
        ({"C2": True, "C5": 1}, []),  # a boolean is no number
        ({"C2": None}, []),  # an empty cell read
        ({"C5": "=C2"}, ["D5"]),  # a link itself, not a typed figure: D5 after it is asked
        ({"C5": 855.0004}, ["C5", "D5"]),  # within the rounding agrees allows
    ],
    ids=["first differs", "second differs", "zero", "text typed", "text read", "boolean", "empty", "formula", "near"],
)
def test_given_figures_that_are_not_the_linked_values_when_audited_then_only_the_agreeing_run_is_high(
    changes: dict[str, object], found: list[str]
) -> None:
    # Given the summary row with ``changes``
    sheet = grid(_summary(**changes))
    # When audited / Then the figures before the first that does not agree
    assert [row[0] for row in audited(sheet, "FX41")] == [f"S!{cell}" for cell in found]


@pytest.mark.parametrize(
    "link",
    ["=B2*1", "=Other!B2", "=SUM(B2:B3)", "=B2:B3", "=B5"],
    ids=["a computation", "another sheet", "a total of a range", "a range", "its own cell's line"],
)
def test_given_no_link_to_another_line_at_the_head_of_the_row_when_audited_then_no_fx41(link: str) -> None:
    # Given B5 holding ``link``
    sheet = grid(_summary(B5=link, B3=1))
    # When audited / Then nothing
    assert audited(sheet, "FX41") == []


def test_given_a_link_to_its_own_row_when_audited_then_equal_figures_beside_it_are_quiet() -> None:
    # Given E3 =+D3 (reading its own row) and F3 typed as E3's value
    sheet = _with_values({(3, 4): 5, (3, 5): "=+D3", (3, 6): 5}, {(3, 5): 5})
    # When audited / Then nothing: equal figures side by side are common
    assert audited(sheet, "FX41") == []


def test_given_a_link_to_its_own_column_when_audited_then_equal_figures_below_it_are_quiet() -> None:
    # Given A3 =A1 and A4 typed as A2
    sheet = grid({(1, 1): 4, (2, 1): 6, (3, 1): "=A1", (4, 1): 6})
    # When audited / Then nothing
    assert audited(sheet, "FX41") == []


def test_given_figures_before_the_link_when_audited_then_they_are_not_asked() -> None:
    # Given A5 typed as A2 before B5 =B2 (a seed or a worked example), and nothing after B5
    sheet = grid(_summary(A2=12, A5=12, C5=None, D5=None, E1=0))
    # When audited / Then nothing
    assert audited(sheet, "FX41") == []


def test_given_links_with_fixed_parts_when_audited_then_the_copy_reads_what_the_dollars_say() -> None:
    # Given B5 =$B$2 (always B2) and C5 typed as B2: the copy reads B2 too
    sheet = grid(_summary(B2=855, C5=855, D5=1))
    sheet_fixed = grid({**_summary(B2=855, C5=855, D5=1), (5, 2): "=$B$2"})
    # When audited / Then the fixed link's C5 is reported as reading B2, the relative one's as C2
    assert audited(sheet_fixed, "FX41") == [_fx41("C5", "B2", "B5", "=$B$2")]
    assert audited(sheet, "FX41") == [_fx41("C5", "C2", "B5", "=B2")]


def test_given_a_link_with_a_fixed_row_when_audited_then_only_its_column_moves() -> None:
    # Given B5 =B$2 and C5, D5 typed as C2, D2; and below B5, B6 typed as B2
    sheet = grid({**_summary(B6=427.5 * 2), (5, 2): "=B$2"})
    # When audited / Then C5 and D5 (along the row); B6 is in the link's own column: not asked
    assert audited(sheet, "FX41") == [_fx41("C5", "C2", "B5", "=B$2"), _fx41("D5", "D2", "B5", "=B$2")]


def test_given_a_link_with_a_row_offset_copied_down_when_audited_then_its_row_moves() -> None:
    # Given D3 =A1 (two rows up, another column) and D4 typed as A2
    sheet = grid({(1, 1): 5, (2, 1): 6, (3, 4): "=A1", (4, 4): 6})
    # When audited / Then D4 reads A2 copied
    assert audited(sheet, "FX41") == [_fx41("D4", "A2", "D3", "=A1")]


def test_given_a_link_with_a_fixed_column_copied_down_when_audited_then_its_column_stays() -> None:
    # Given D1 =$A1 and D2 typed as A2
    sheet = grid({(1, 1): 5, (2, 1): 6, (1, 4): "=$A1", (2, 4): 6})
    # When audited / Then D2 reads A2 (the row moves, the column does not)
    assert audited(sheet, "FX41") == [_fx41("D2", "A2", "D1", "=$A1")]


def test_given_a_link_to_another_row_and_column_copied_along_when_audited_then_both_move() -> None:
    # Given C5 =B2 (up three rows, left one column) and D5 typed as C2 (B2's right neighbour)
    sheet = grid(_summary(C5="=B2", D5=855))
    # When audited / Then D5 reads C2 copied
    assert audited(sheet, "FX41") == [_fx41("D5", "C2", "C5", "=B2")]


def test_given_a_link_with_a_fixed_row_copied_down_when_audited_then_its_row_stays() -> None:
    # Given D1 =A$1 and D2 typed as A1 (A2 holds another figure)
    sheet = grid({(1, 1): 5, (2, 1): 6, (1, 4): "=A$1", (2, 4): 5})
    # When audited / Then D2 reads A1
    assert audited(sheet, "FX41") == [_fx41("D2", "A1", "D1", "=A$1")]


def _stop(cell: str, budget: int, done: int, rows: str, formulas: int) -> Row:
    return (
        f"S!{cell}",
        "FX90",
        "info",
        f"FX41 stopped at its work budget ({budget} units) after {done} of {formulas} formula cells: from S!{cell} on "
        f"({rows} of S) not checked for link pasted as its value",
        "audit the rest of the sheet as a smaller range",
    )


def test_given_budgets_around_what_the_summary_needs_when_audited_then_fx41_stops_where_they_run_out() -> None:
    # Given the summary, read in 5 units: one a formula (B2, a computation; B5) and one a cell
    # walked along row 5 (C5, D5, and E5, which ends the walk); B5 reads its own column, so the
    # walk down it is not taken
    sheet = grid(_summary())
    found = [_fx41("C5", "C2", "B5", "=B2"), _fx41("D5", "D2", "B5", "=B2")]
    # When audited with 5 / Then both, and no stop
    assert audited(sheet, "FX41", work_budget=5) == found
    # When with 4 / Then it stops at B5 after C5 and D5, walking on
    assert audited(sheet, "FX41", work_budget=4) == [_stop("B5", 4, 1, "row 5", 2), *found]
    # When with 1 / Then it stops at B5 before walking
    assert audited(sheet, "FX41", work_budget=1) == [_stop("B5", 1, 1, "row 5", 2)]


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
    # (C4's walk meets C5 first), and D5 typed as D2 further along B5's row
    cells = {(2, 2): 7, (2, 3): 855, (5, 2): "=B2", (5, 3): 855, (4, 3): "=A4", (4, 1): 1, (5, 1): 855}
    sheet = grid({**cells, (2, 4): 740, (5, 4): 740})
    # When audited / Then one finding for C5, not two, and B5's walk goes on past it to D5
    assert [row[0] for row in audited(sheet, "FX41")] == ["S!C5", "S!D5"]


def test_given_a_link_after_a_link_showing_the_same_value_when_audited_then_it_is_no_pasted_figure() -> None:
    # Given C5 =C2 showing 855 (a link copied, not a value pasted) after B5 =B2, and D5 typed as D2
    sheet = _with_values(_summary(C5="=C2"), {(5, 3): 855})
    # When audited / Then only D5, met on C5's own walk: C5 is a formula, whatever it shows
    assert audited(sheet, "FX41") == [_fx41("D5", "D2", "C5", "=C2")]
