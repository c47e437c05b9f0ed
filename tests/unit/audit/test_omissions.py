"""FX40 (engine/checks/omissions.py): a formula that leaves out a cell its copies read, where that
cell holds text such as "-". Small grids with exact findings; fast enough for the mutation run."""

from __future__ import annotations

import pytest

from tests.unit.audit.grids import Row, audited, grid


def _ledger(rows: list[tuple[object, object, str]], top: int = 1, left: int = 3) -> dict[tuple[int, int], object]:
    # Rows of (C, D, E) from row ``top`` down (or three other columns from ``left``): two inputs
    # and the formula that combines them.
    cells: dict[tuple[int, int], object] = {}
    for i, line in enumerate(rows):
        cells.update({(top + i, left + j): item for j, item in enumerate(line)})
    return cells


def _fx40(cell: str, names: str, count: int, example: str, shown: str, axis: str = "column") -> Row:
    # ``example``: the copy's cell and formula, as "E1=C1+D1".
    source, formula = example.split("=", 1)
    holds = "it holds" if "," not in names else "they hold"
    return (
        f"S!{cell}",
        "FX40",
        "high",
        f"leaves out {names}, which the {count} formulas like ={formula} in this {axis} read: "
        f"{holds} {shown}, so a figure typed there is not counted",
        f"copy the formula of {source} here and type 0 over the text in {names}",
    )


_DASHED = [(1, 2, "=C1+D1"), (3, 4, "=C2+D2"), ("-", 5, "=D3"), (6, 7, "=C4+D4")]


def test_given_a_row_whose_dash_its_formula_leaves_out_when_audited_then_high() -> None:
    # Given E1, E2, E4 adding C and D, and E3 = D3 where C3 holds "-"
    sheet = grid(_ledger(_DASHED))
    # When audited / Then E3 is reported, naming C3 and the copy to put back
    assert audited(sheet, "FX40") == [_fx40("E3", "C3", 3, "E1=C1+D1", '"-"')]


@pytest.mark.parametrize(
    ("text", "shown"),
    [("n/a", '"n/a"'), ("  -  ", '"-"'), ("twelve chars", '"twelve chars"'), ("thirteen char", "text")],
    ids=["note", "padded dash", "twelve characters", "thirteen characters"],
)
def test_given_other_text_in_the_cell_left_out_when_audited_then_short_text_is_quoted(text: str, shown: str) -> None:
    # Given the dashed ledger with ``text`` in C3
    cells = _ledger(_DASHED)
    cells[(3, 3)] = text
    # When audited / Then the text is quoted up to twelve characters, named "text" past that
    assert audited(grid(cells), "FX40") == [_fx40("E3", "C3", 3, "E1=C1+D1", shown)]


def test_given_two_cells_left_out_when_audited_then_both_are_named() -> None:
    # Given F = C+D-E copied, and F3 = C3 where D3 and E3 hold dashes
    cells: dict[tuple[int, int], object] = {}
    for r, line in enumerate([(1, 2, 3), (4, "-", "-"), (5, 6, 7), (8, 9, 1)], start=1):
        cells.update({(r, 3): line[0], (r, 4): line[1], (r, 5): line[2], (r, 6): f"=C{r}+D{r}-E{r}"})
    cells[(2, 6)] = "=C2"
    # When audited / Then F2 names both, and says they hold text
    assert audited(grid(cells), "FX40") == [_fx40("F2", "D2, E2", 3, "F1=C1+D1-E1", "text")]


@pytest.mark.parametrize(
    ("left_out", "why"),
    [(None, "empty"), (9, "a figure"), ("=1+1", "a formula"), ("   ", "blank text"), (True, "a boolean")],
    ids=["empty", "number", "formula", "blank text", "boolean"],
)
def test_given_a_cell_left_out_that_holds_no_text_when_audited_then_no_fx40(left_out: object, why: str) -> None:
    # Given the dashed ledger with C3 holding ``left_out`` (``why``) instead of the dash
    cells = _ledger(_DASHED)
    cells[(3, 3)] = left_out
    cells[(5, 1)] = 0  # the grid keeps its size when C3 is empty
    # When audited / Then nothing: only a cell written around (text) is this rule's
    assert audited(grid(cells), "FX40") == []


def test_given_as_many_short_formulas_as_copies_when_audited_then_no_fx40() -> None:
    # Given two rows adding C and D and two rows reading D alone beside dashes
    rows = [(1, 2, "=C1+D1"), ("-", 5, "=D2"), ("-", 5, "=D3"), (6, 7, "=C4+D4")]
    # When audited / Then nothing: neither way is the copies' way
    assert audited(grid(_ledger(rows)), "FX40") == []
    # Given a third row adding both / Then the two short ones are reported
    rows.append((8, 9, "=C5+D5"))
    assert audited(grid(_ledger(rows)), "FX40") == [
        _fx40("E2", "C2", 3, "E1=C1+D1", '"-"'),
        _fx40("E3", "C3", 3, "E1=C1+D1", '"-"'),
    ]


def test_given_a_formula_written_once_when_audited_then_it_is_no_copy_to_compare_with() -> None:
    # Given one row adding C and D, the others reading D alone (three of them) beside dashes
    rows = [(1, 2, "=C1+D1"), ("-", 5, "=D2"), ("-", 5, "=D3"), ("-", 7, "=D4")]
    # When audited / Then nothing
    assert audited(grid(_ledger(rows)), "FX40") == []


def test_given_a_formula_showing_a_dash_in_the_cell_left_out_when_audited_then_no_fx40() -> None:
    # Given the dashed ledger with C3 a formula whose value shows "-"
    cells = _ledger(_DASHED)
    cells[(3, 3)] = '=IF(D3>9,D3,"-")'
    sheet = grid(cells)
    sheet.values[2][2] = "-"
    # When audited / Then nothing: a computed cell is no text someone typed
    assert audited(sheet, "FX40") == []


@pytest.mark.parametrize(
    "formula",
    ["=SUM(D3:D3)", "=D3*Other!D3", "=D2", "=D3+B3", "=D3+C3", '=INDIRECT("C3")+D3', "=OFFSET(D3,0,-1)+D3"],
    ids=[
        "a range",
        "another sheet",
        "another row",
        "a cell the copies do not read",
        "the same cells",
        "a cell INDIRECT computes",
        "a cell OFFSET computes",
    ],
)
def test_given_a_formula_that_is_not_a_shorter_copy_when_audited_then_no_fx40(formula: str) -> None:
    # Given the dashed ledger with E3 holding ``formula``
    cells = _ledger(_DASHED)
    cells[(3, 5)] = formula
    cells[(3, 2)] = 1
    # When audited / Then nothing: it computes something else
    assert audited(grid(cells), "FX40") == []


def test_given_copies_that_read_a_fixed_cell_when_audited_then_only_the_own_row_cell_is_left_out() -> None:
    # Given E = C+D+$F$1 copied (a fixed rate in F1), and E3 = D3+$F$1 beside a dash in C3
    cells = _ledger([(1, 2, "=C1+D1+$F$1"), (3, 4, "=C2+D2+$F$1"), ("-", 5, "=D3+$F$1"), (6, 7, "=C4+D4+$F$1")])
    cells[(1, 6)] = 0.5
    # When audited / Then only C3 is named
    assert audited(grid(cells), "FX40") == [_fx40("E3", "C3", 3, "E1=C1+D1+$F$1", '"-"')]


def test_given_copies_that_read_fixed_rows_when_audited_then_the_fixed_cell_left_out_is_named() -> None:
    # Given E = C+D$1 copied down (the first row's D pinned), and E3 = C3 with a dash in D1's place
    cells = _ledger([("x", "-", "=0"), (3, 4, "=C2+D$1"), (5, 6, "=C3"), (7, 8, "=C4+D$1"), (9, 1, "=C5+D$1")])
    del cells[(1, 5)]
    # When audited / Then E3 leaves out D1, the cell the copies all read
    assert audited(grid(cells), "FX40") == [_fx40("E3", "D1", 3, "E2=C2+D$1", '"-"')]


def test_given_the_turned_case_along_a_row_when_audited_then_high_in_this_row() -> None:
    # Given row 3 adding rows 1 and 2 in each column, and D3 = D1 where D2 holds "-"
    cells: dict[tuple[int, int], object] = {(1, c): c for c in range(1, 5)}
    cells.update({(2, 1): 1, (2, 2): 2, (2, 3): 3, (2, 4): "-"})
    cells.update({(3, 1): "=A1+A2", (3, 2): "=B1+B2", (3, 3): "=C1+C2", (3, 4): "=D1"})
    # When audited / Then D3 is reported along its row
    assert audited(grid(cells), "FX40") == [_fx40("D3", "D2", 3, "A3=A1+A2", '"-"', axis="row")]


def _turned() -> dict[tuple[int, int], object]:
    # Row 3 adding rows 1 and 2 in each column, and D3 = D1 where D2 holds "-"
    cells: dict[tuple[int, int], object] = {(1, c): c for c in range(1, 5)}
    cells.update({(2, 1): 1, (2, 2): 2, (2, 3): 3, (2, 4): "-"})
    cells.update({(3, 1): "=A1+A2", (3, 2): "=B1+B2", (3, 3): "=C1+C2", (3, 4): "=D1"})
    return cells


def test_given_the_turned_case_with_a_fixed_column_when_audited_then_that_cell_is_named() -> None:
    # Given row 3 adding each column's row 1 and F2 (a fixed column), and D3 = D1 with "-" in F2
    cells = {**_turned(), (2, 4): 4, (2, 6): "-"}
    cells.update({(3, c): f"={'ABCD'[c - 1]}1+$F2" for c in (1, 2, 3)})
    # When audited / Then D3 leaves out F2
    assert audited(grid(cells), "FX40") == [_fx40("D3", "F2", 3, "A3=A1+$F2", '"-"', axis="row")]


def test_given_two_turned_cases_stacked_when_audited_then_each_reads_its_own_rows() -> None:
    # Given the turned case in rows 1-3 and again in rows 5-7 (one R1C1 pattern in each column)
    cells = _turned()
    cells.update(
        {
            (r + 4, c): item.replace("1", "5").replace("2", "6") if isinstance(item, str) else item
            for (r, c), item in _turned().items()
        }
    )
    # When audited / Then D3 names D2 and D7 names D6
    assert audited(grid(cells), "FX40") == [
        _fx40("D3", "D2", 3, "A3=A1+A2", '"-"', axis="row"),
        _fx40("D7", "D6", 3, "A7=A5+A6", '"-"', axis="row"),
    ]


def test_given_budgets_around_what_the_turned_case_needs_when_audited_then_the_row_is_walked_once() -> None:
    # Given the turned case, which FX40 reads in 17 units: one a formula (4), row 3's run walked
    # once (4), one copy compared for each formula (4), and for D3 the copy's tree (A3's: a chain
    # of two references, 3), D2 (1) and C2 beside it, a figure (1); no column's run is walked
    # (each formula reads another row)
    sheet = grid(_turned())
    found = _fx40("D3", "D2", 3, "A3=A1+A2", '"-"', axis="row")
    # When audited with 17 / Then D3, and no stop
    assert audited(sheet, "FX40", work_budget=17) == [found]
    # When with 16 / Then it stops at D3, looking beside the cell left out
    assert audited(sheet, "FX40", work_budget=16) == [_stop("D3", 16, 3, "row 3", formulas=4)]


def test_given_two_wider_formulas_when_audited_then_the_most_copied_one_is_compared() -> None:
    # Given E = C+D (rows 1, 3, 6) and E = B+C+D (rows 2, 5), and E4 = D4 beside dashes in B4 and C4
    cells = _ledger([(1, 2, "=C1+D1"), (3, 4, "=B2+C2+D2"), (5, 6, "=C3+D3"), ("-", 7, "=D4"), (8, 9, "=B5+C5+D5")])
    cells.update({(6, 3): 1, (6, 4): 2, (6, 5): "=C6+D6"})
    cells.update({(r, 2): r for r in range(1, 7)})
    cells[(4, 2)] = "-"
    # When audited / Then E4 is compared with C+D (3 copies), not B+C+D (2): C4 only is named
    assert audited(grid(cells), "FX40") == [_fx40("E4", "C4", 3, "E1=C1+D1", '"-"')]


def test_given_two_wider_formulas_copied_as_often_when_audited_then_the_first_is_compared() -> None:
    # Given E = C+D in rows 2 and 5, E = B+C+D in rows 1 and 4, and E3 = D3 beside dashes
    cells = _ledger([(1, 2, "=B1+C1+D1"), (3, 4, "=C2+D2"), ("-", 5, "=D3"), (6, 7, "=B4+C4+D4"), (8, 9, "=C5+D5")])
    cells.update({(r, 2): r for r in range(1, 6)})
    cells[(3, 2)] = "-"
    # When audited / Then the first of them (row 1's) is the example
    assert audited(grid(cells), "FX40") == [_fx40("E3", "B3, C3", 2, "E1=B1+C1+D1", "text")]


def test_given_a_gap_in_the_column_when_audited_then_copies_are_counted_per_run() -> None:
    # Given two ledgers in columns H:J with a blank row between: the lower one opens with a short
    # formula (one copy beside it in its own run, three in the upper one)
    upper = [(1, 2, "=H1+I1"), (3, 4, "=H2+I2"), ("-", 5, "=I3"), (6, 7, "=H4+I4"), (7, 8, "=H5+I5")]
    cells = _ledger(upper, left=8)
    cells.update(_ledger([("-", 5, "=I7"), (1, 2, "=H8+I8")], top=7, left=8))
    # When audited / Then only the upper ledger's J3 is reported
    assert audited(grid(cells), "FX40") == [_fx40("J3", "H3", 4, "J1=H1+I1", '"-"')]


def test_given_a_gap_in_the_row_when_audited_then_copies_are_counted_per_run() -> None:
    # Given row 3 adding rows 1 and 2 in A:C, D empty, and a second run E:F opening with E3 = E1
    # beside a dash in E2 (one copy beside it in its own run, three in the first)
    cells: dict[tuple[int, int], object] = {(1, c): c for c in (1, 2, 3, 5, 6)}
    cells.update({(2, 1): 1, (2, 2): 2, (2, 3): 3, (2, 5): "-", (2, 6): 6})
    cells.update({(3, 1): "=A1+A2", (3, 2): "=B1+B2", (3, 3): "=C1+C2", (3, 5): "=E1", (3, 6): "=F1+F2"})
    # When audited / Then nothing
    assert audited(grid(cells), "FX40") == []


def test_given_two_ledgers_with_the_same_copies_side_by_side_when_audited_then_each_reads_its_own_columns() -> None:
    # Given E = C+D and H = F+G copied down (one R1C1 pattern), and H3 = G3 beside a dash in F3
    cells = _ledger([(1, 2, "=C1+D1"), (3, 4, "=C2+D2"), (5, 6, "=D3"), (6, 7, "=C4+D4")])
    cells.update(_ledger([(1, 2, "=F1+G1"), (3, 4, "=F2+G2"), ("-", 5, "=G3"), (6, 7, "=F4+G4")], left=6))
    cells[(3, 3)] = "-"
    # When audited / Then E3 names C3 and H3 names F3
    assert audited(grid(cells), "FX40") == [
        _fx40("E3", "C3", 3, "E1=C1+D1", '"-"'),
        _fx40("H3", "F3", 3, "H1=F1+G1", '"-"'),
    ]


def test_given_two_columns_with_short_formulas_when_audited_then_only_the_sum_is_reported() -> None:
    # Given E = C+D and F = C*D copied down, with row 3 reading D alone in both beside the dash
    cells = _ledger(_DASHED)
    cells.update({(1, 6): "=C1*D1", (2, 6): "=C2*D2", (3, 6): "=D3", (4, 6): "=C4*D4"})
    # When audited / Then E3 only: F3 leaves out a factor, and the fix (0 over the dash) would
    # turn F3's figure into 0 (review: a factor or divisor left out is not a term written around)
    assert audited(grid(cells), "FX40") == [_fx40("E3", "C3", 3, "E1=C1+D1", '"-"')]


def _stop(cell: str, budget: int, done: int, rows: str, formulas: int = 4) -> Row:
    return (
        f"S!{cell}",
        "FX90",
        "info",
        f"FX40 stopped at its work budget ({budget} units) after {done} of {formulas} formula cells: from S!{cell} on "
        f"({rows} of S) not checked for formula leaves out a cell its copies read",
        "audit the rest of the sheet as a smaller range",
    )


def test_given_budgets_around_what_the_ledger_needs_when_audited_then_fx40_stops_where_they_run_out() -> None:
    # Given the dashed ledger, which FX40 reads in 17 units: one a formula (4), the run of E walked
    # once (4: nothing above E1), one copy compared for each formula (4), and for E3 the copy's
    # tree (E1's: a chain of two references, 3), C3 (1) and C2 above it, a figure (1); a row's run
    # is never walked (no formula of the rows reads its own column only)
    sheet = grid(_ledger(_DASHED))
    found = _fx40("E3", "C3", 3, "E1=C1+D1", '"-"')
    # When audited with 17 / Then E3, and no stop
    assert audited(sheet, "FX40", work_budget=17) == [found]
    # When with 16 / Then it stops at E4, after E3's finding
    assert audited(sheet, "FX40", work_budget=16) == [found, _stop("E4", 16, 3, "row 4")]
    # When with 10 / Then it stops at E3, reading the copy's tree (E1 6, E2 2, E3 1 + 1, then 1)
    assert audited(sheet, "FX40", work_budget=10) == [_stop("E3", 10, 2, "rows 3-4")]
    # When with 13 / Then it stops at E3 too, reading the cell left out (after the copy's tree)
    assert audited(sheet, "FX40", work_budget=13) == [_stop("E3", 13, 2, "rows 3-4")]
    # When with 4 / Then it stops at E1, walking down its run
    assert audited(sheet, "FX40", work_budget=4) == [_stop("E1", 4, 0, "rows 1-4")]


def test_given_figures_above_the_formulas_when_audited_then_the_walk_up_is_counted() -> None:
    # Given E1:E2 typed over the dashed ledger moved down two rows: E3 walks up two cells, then
    # down the run of six (8), and the rest costs as in the ledger alone (4 + 4 + 5): 21
    cells = _ledger([(1, 2, "=C3+D3"), (3, 4, "=C4+D4"), ("-", 5, "=D5"), (6, 7, "=C6+D6")], top=3)
    cells.update({(1, 5): 10, (2, 5): 20})
    sheet = grid(cells)
    found = _fx40("E5", "C5", 3, "E3=C3+D3", '"-"')
    # When audited with 21 / Then E5, and no stop
    assert audited(sheet, "FX40", work_budget=21) == [found]
    # When with 20 / Then it stops at E6, after E5's finding
    assert audited(sheet, "FX40", work_budget=20) == [found, _stop("E6", 20, 3, "row 6", formulas=4)]
    # When with 2 / Then it stops at E3, walking up to the figures
    assert audited(sheet, "FX40", work_budget=2) == [_stop("E3", 2, 0, "rows 3-6")]


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
    # When audited / Then E3 and E4: four formulas read C and D, two leave C out
    assert audited(grid(cells), "FX40") == [
        _fx40("E3", "C3", 4, "E1=C1+D1", '"-"'),
        _fx40("E4", "C4", 4, "E1=C1+D1", '"-"'),
    ]


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


@pytest.mark.parametrize(
    ("copy", "short", "found"),
    [
        ("=SUM(C{r},D{r})", "=SUM(D3)", True),
        ("=-C{r}+D{r}", "=D3", True),
        ("=ROUND(C{r}+D{r},0)", "=ROUND(D3,0)", False),
        ("=D{r}*-C{r}", "=D3", False),
        ("=C{r}%+D{r}", "=D3", False),
    ],
    ids=["inside SUM", "with a sign", "inside ROUND", "a signed factor", "a percent"],
)
def test_given_how_the_copies_read_the_cell_left_out_when_audited_then_only_added_terms_count(
    copy: str, short: str, found: bool
) -> None:
    # Given E = ``copy`` in rows 1, 2, 4 and E3 = ``short`` beside a dash in C3, among figures
    cells = _ledger([(1, 2, copy.format(r=1)), (3, 4, copy.format(r=2)), ("-", 5, short), (6, 7, copy.format(r=4))])
    # When audited / Then E3 is reported only where C is added (SUM, a sign): 0 over the dash
    # keeps the copy's figure; through ROUND, as a factor or a percent it is another computation
    expected = [_fx40("E3", "C3", 3, f"E1{copy.format(r=1)}", '"-"')] if found else []
    assert audited(grid(cells), "FX40") == expected


def test_given_a_dash_under_a_heading_when_audited_then_the_figure_below_it_counts() -> None:
    # Given C1 a heading ("Qty"), C2 a dash and C3 a figure, C4 empty and C5 a figure; E1 and E2
    # read D alone, E3:E5 add C and D
    rows = [("Qty", 1, "=D1"), ("-", 2, "=D2"), (7, 3, "=C3+D3"), (None, 4, "=C4+D4"), (9, 5, "=C5+D5")]
    # When audited / Then E2 (its dash sits on a figure), not E1 (a heading is no nil)
    assert audited(grid(_ledger(rows)), "FX40") == [_fx40("E2", "C2", 3, "E3=C3+D3", '"-"')]


def _dashes_down(count: int) -> dict[tuple[int, int], object]:
    # ``count`` rows reading D alone beside dashes, then count + 1 rows adding C and D
    rows: list[tuple[object, object, str]] = [("-", r, f"=D{r}") for r in range(1, count + 1)]
    rows += [(r, r, f"=C{r}+D{r}") for r in range(count + 1, 2 * count + 2)]
    return _ledger(rows)


def test_given_a_column_of_dashes_over_figures_when_audited_then_up_to_64_repeats_are_walked() -> None:
    # Given 65 dashes over the figures: the first dash has 64 more below it before a figure
    found = audited(grid(_dashes_down(65)), "FX40")
    # When audited / Then every short row is reported, the first included
    assert [row[0] for row in found] == [f"S!E{r}" for r in range(1, 66)]
    # Given 66 dashes / Then the first is past the walk's reach (65 repeats): not reported
    found = audited(grid(_dashes_down(66)), "FX40")
    assert [row[0] for row in found] == [f"S!E{r}" for r in range(2, 67)]


def _turned_row_two(row_two: list[object]) -> dict[tuple[int, int], object]:
    # Row 3 adds rows 1 and 2 in each of columns A.. (one per item of ``row_two``), except where
    # row 2 holds text: there it reads row 1 alone
    cells: dict[tuple[int, int], object] = {}
    for c, item in enumerate(row_two, start=1):
        letter = "ABCDEFGHIJ"[c - 1]
        cells.update({(1, c): c, (2, c): item})
        cells[(3, c)] = f"={letter}1" if isinstance(item, str) else f"={letter}1+{letter}2"
    return cells


def test_given_dashes_along_a_row_when_audited_then_the_walk_to_the_figures_goes_along_it() -> None:
    # Given row 2: a label, three dashes, then figures; row 3 reads row 1 alone above the text
    cells = _turned_row_two(["lbl", "-", "-", "-", 5, 6, 7, 8, 9])
    # When audited / Then B3:D3 (the dashes lead to E2's figure), not A3 (a label)
    assert [row[0] for row in audited(grid(cells), "FX40")] == ["S!B3", "S!C3", "S!D3"]


def test_given_labels_along_the_row_when_audited_then_the_turned_case_is_quiet() -> None:
    # Given row 2: figures, an empty cell, then labels and a dash where row 3 reads row 1 alone
    cells = _turned_row_two([5, 6, 7, 8, 9, None, "a", "-", "b"])
    # When audited / Then nothing: the dash sits among labels, not figures
    assert audited(grid(cells), "FX40") == []


def test_given_dashes_then_a_note_over_the_figures_when_audited_then_only_the_note_row_counts() -> None:
    # Given C1 a heading, C2:C3 dashes, C4 a note ("n/a") just above the figures of C5:C9
    rows: list[tuple[object, object, str]] = [("Qty", 1, "=D1"), ("-", 2, "=D2"), ("-", 3, "=D3"), ("n/a", 4, "=D4")]
    rows += [(r, r, f"=C{r}+D{r}") for r in range(5, 10)]
    # When audited / Then E4 only: the dashes sit between a heading and a note, no figure
    assert audited(grid(_ledger(rows)), "FX40") == [_fx40("E4", "C4", 5, "E5=C5+D5", '"n/a"')]


def test_given_copies_with_quoted_text_when_audited_then_the_text_reads_no_cell() -> None:
    # Given E = SUM(C, D, N("h:mm R1C1")) copied (a note in quotes: a colon, an address), and E3
    # leaving C3 out beside a dash
    note = 'N("h:mm R1C1")'
    rows = [(1, 2, f"=SUM(C1,D1,{note})"), (3, 4, f"=SUM(C2,D2,{note})"), ("-", 5, f"=SUM(D3,{note})")]
    rows.append((6, 7, f"=SUM(C4,D4,{note})"))
    # When audited / Then E3 is reported: the quoted text is neither a range nor a cell read
    assert audited(grid(_ledger(rows)), "FX40") == [_fx40("E3", "C3", 3, f"E1=SUM(C1,D1,{note})", '"-"')]
