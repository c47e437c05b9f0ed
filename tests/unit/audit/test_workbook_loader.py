"""The one-pass .xlsx loader reads what openpyxl reads (formulas from one load, values from another)."""

from __future__ import annotations

import re
import warnings
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula
from sheetbrain_dev.workbook import WorkbookError, load_workbook_sheets


def _openpyxl_grids(path: Path) -> list[tuple[str, list[list[Any]], list[list[Any]]]]:
    # The reference: openpyxl's formulas (data_only=False) and cached values (data_only=True), A1-anchored.
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formulas_book = openpyxl.load_workbook(path, data_only=False)
        values_book = openpyxl.load_workbook(path, data_only=True)
    for ws in formulas_book.worksheets:
        formulas = []
        for row in ws.iter_rows(min_row=1, min_col=1):
            texts = []
            for cell in row:
                raw = cell.value
                if cell.data_type != "f":
                    texts.append(None)
                elif isinstance(raw, ArrayFormula):
                    texts.append(raw.text)
                else:
                    texts.append(raw)
            formulas.append(texts)
        values = [list(row) for row in values_book[ws.title].iter_rows(min_row=1, min_col=1, values_only=True)]
        out.append((ws.title, formulas, values))
    return out


def _trimmed(grid: list[list[Any]]) -> list[list[Any]]:
    # Grids compared cell by cell: trailing empty cells and rows carry nothing.
    rows = [list(row) for row in grid]
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _with_cached_values_and_shared_formulas(path: Path) -> None:
    # Rewrite sheet1 as Excel writes filled-down formulas: B2:B4 one shared formula, with cached values.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = re.sub(
        r'<c r="B2"><f>A2\*2</f><v\s*/?>(</v>)?', '<c r="B2"><f t="shared" ref="B2:B4" si="0">A2*2</f><v>2</v>', xml
    )
    for r in (3, 4):
        xml = re.sub(
            rf'<c r="B{r}"><f>A{r}\*2</f><v\s*/?>(</v>)?', f'<c r="B{r}"><f t="shared" si="0"/><v>{r * 2 - 2}</v>', xml
        )
    xml = re.sub(r'<c r="C2"><f>A2&amp;"x"</f><v\s*/?>(</v>)?', '<c r="C2" t="str"><f>A2&amp;"x"</f><v>1x</v>', xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    # Given a workbook with every kind of cell: numbers, text (shared), booleans, dates, times,
    # durations, errors, a formula typed as text, array and shared formulas with cached values,
    # gaps of empty rows and columns, and a second sheet
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Data"
    for r in range(1, 5):
        ws.cell(r, 1, r - 1 if r > 1 else "n")
        ws.cell(r, 2, f"=A{r}*2" if r > 1 else "double")
    ws["C2"] = '=A2&"x"'
    ws["D1"], ws["D2"], ws["D3"] = 2.5, True, "#N/A"
    ws["E1"], ws["E2"], ws["E3"] = datetime(2026, 12, 2, 10, 30), date(2026, 1, 31), time(8, 15)
    ws["E4"] = timedelta(hours=30)
    ws["F1"] = "=x"
    ws["F1"].data_type = "s"
    ws["H7"] = "=SUM(A1:A4)"
    ws["I9"] = ArrayFormula("I9:I10", "=A2:A3*2")
    ws["A12"] = -1e-7
    other = book.create_sheet("Other sheet")
    other["B2"] = "=Data!A2+1"
    path = tmp_path / "kinds.xlsx"
    book.save(path)
    _with_cached_values_and_shared_formulas(path)
    return path


def test_given_every_kind_of_cell_when_loaded_then_what_openpyxl_reads(workbook: Path) -> None:
    # When loaded in one pass
    sheets = load_workbook_sheets(str(workbook))
    # Then each worksheet has openpyxl's formulas and cached values, cell for cell
    expected = _openpyxl_grids(workbook)
    assert [s.name for s in sheets] == [name for name, _, _ in expected] == ["Data", "Other sheet"]
    for sheet, (_, formulas, values) in zip(sheets, expected, strict=True):
        assert _trimmed(sheet.formulas) == _trimmed(formulas)
        assert _trimmed(sheet.values) == _trimmed(values)


def test_given_shared_formulas_with_cached_values_when_loaded_then_each_cell_has_both(workbook: Path) -> None:
    # When loaded
    data = load_workbook_sheets(str(workbook))[0]
    # Then the shared formula is translated to each cell and each keeps the value Excel cached
    assert [data.formulas[r][1] for r in (1, 2, 3)] == ["=A2*2", "=A3*2", "=A4*2"]
    assert [data.values[r][1] for r in (1, 2, 3)] == [2, 4, 6]
    assert (data.formulas[1][2], data.values[1][2]) == ('=A2&"x"', "1x")
    assert data.formulas[0][5] is None and data.values[0][5] == "=x"


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", None],
)
def test_given_a_file_that_is_no_workbook_when_loaded_then_one_clear_error(
    tmp_path: Path, content: bytes | None
) -> None:
    # Given a file that is not a zip, or a zip without a workbook in it
    path = tmp_path / "bad.xlsx"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "hi")
    else:
        path.write_bytes(content)
    # When loaded / Then one error names the file and says why
    with pytest.raises(WorkbookError, match=r"bad\.xlsx: not a readable \.xlsx workbook"):
        load_workbook_sheets(str(path))
