"""The grid layout kept with an audit (sql/0017): one character a cell, rebuilt for reports."""

from __future__ import annotations

from sheetbrain.reporting.grid_map import GridMap, map_from_findings, map_grid, parse_cell, split_cell


def test_each_cell_is_a_formula_a_value_or_empty_as_the_engine_reads_it() -> None:
    # Given a grid with formulas, a value, a constant typed in the formulas grid, a lone "=",
    # blank text, and trailing empty cells and rows
    formulas = [["=A1+1", None, "text", "="], [None, "  ", None], [None], []]
    values = [[2, 5, None, None, None], [None, None, None]]
    # When it is mapped from its range's first cell
    grid = map_grid("Q3", formulas, values, "C4:Z99")
    # Then each row holds one character a cell, trailing empties and empty rows dropped
    assert grid == GridMap("Q3", (4, 3), ("fvvv",), 1, 4)


def test_the_stored_document_round_trips() -> None:
    grid = map_grid("Été <b>", [["=1+1", None, "=B1"], [None], [None, 3]], None, "AA10")
    doc = grid.to_doc()
    assert doc == {"sheet": "Été <b>", "origin": "AA10", "rows": ["f.f", "", ".v"]}
    assert GridMap.from_doc(doc) == grid


def test_cells_of_findings_split_at_the_last_bang() -> None:
    assert split_cell("Q3!B2") == ("Q3", (2, 2))
    assert split_cell("a!b!$XFD$1048576") == ("a!b", (1048576, 16384))
    assert split_cell("B2") is None
    assert split_cell("Q3!XFE1") is None
    assert split_cell("Q3!A0") is None
    assert parse_cell(" ab12 ") == (12, 28)


def test_an_audit_without_a_map_spans_its_range_and_its_flagged_cells() -> None:
    # Given a range as large as a sheet and one flagged cell, or only flagged cells
    whole = map_from_findings("S", "A1:XFD1048576", [(5, 3)])
    boxed = map_from_findings("S", None, [(5, 3), (9, 2)])
    nothing = map_from_findings("S", None, [])
    # Then the extent is the range's (or the cells' box), no kind known
    assert whole == GridMap("S", (1, 1), (), 1_048_576, 16_384, known=False)
    assert boxed == GridMap("S", (5, 2), (), 5, 2, known=False)
    assert nothing == GridMap("S", (1, 1), (), 0, 0, known=False)
