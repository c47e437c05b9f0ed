"""``sheetbrain audit FILE.xlsx``: loading a real xlsx, the table and the --json findings."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sheetbrain.audit import Finding
from sheetbrain_dev.audit_cmd import run
from sheetbrain_dev.workbook import load_workbook_sheets

FINDING_KEYS = {"cell", "formula", "rule", "severity", "message", "suggestion"}


@pytest.fixture
def workbook(tmp_path: Path) -> str:
    # Given a small workbook: a column of copies with one #REF!, an approximate lookup, a text "=x"
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Q3 Sales"
    for r in range(1, 7):
        ws.cell(r, 1, r * 10)
        ws.cell(r, 2, r)
        ws.cell(r, 3, f"=A{r}*B{r}")
    ws["C4"] = "=A4*#REF!"
    ws["D1"] = "=VLOOKUP(A1,A1:B6,2)"
    # Excel saves a cell typed as '=x as the text "=x" (the quote is only a style); openpyxl would
    # store "=x" as a formula, so the cell is marked as text, which the loader must keep a constant.
    ws["E1"] = "=x"
    ws["E1"].data_type = "s"
    book.create_sheet("Empty")
    path = tmp_path / "small.xlsx"
    book.save(path)
    return str(path)


def test_load_workbook_sheets_keeps_formulas_and_constants(workbook: str) -> None:
    # When the workbook is loaded
    sheets = load_workbook_sheets(workbook)

    # Then every sheet is there, formulas keep their text and constants their values
    assert [s.name for s in sheets] == ["Q3 Sales", "Empty"]
    sales = sheets[0]
    assert sales.formulas[0][2] == "=A1*B1"
    assert sales.formulas[3][2] == "=A4*#REF!"
    assert sales.values[1][0] == 20
    assert sales.formulas[0][4] is None  # text starting with "=" stays a constant
    assert sales.values[0][4] == "=x"


def test_table_lists_cell_rule_severity_message_suggestion(workbook: str, capsys: pytest.CaptureFixture[str]) -> None:
    # When the workbook is audited as a table
    code = run(workbook, as_json=False)

    # Then the header names the columns, rows name cells and rules, and errors set the exit code
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["cell", "rule", "severity", "message", "suggestion"]
    assert any(line.startswith("Q3 Sales!C4") and "FX15" in line for line in out)
    assert any("Q3 Sales!D1" in line and "FX02" in line and "FALSE" in line for line in out)
    assert out[-1].endswith(")") and "findings" in out[-1]
    assert code == 1


def test_json_findings_have_the_api_shape(workbook: str, capsys: pytest.CaptureFixture[str]) -> None:
    # When the workbook is audited with --json
    run(workbook, as_json=True)

    # Then the output holds the file and findings shaped like Finding.to_dict()
    data = json.loads(capsys.readouterr().out)
    assert data["file"] == workbook
    findings = data["findings"]
    assert findings
    assert all(set(f) >= FINDING_KEYS for f in findings)
    assert set(findings[0]) == set(Finding.__dataclass_fields__)
    ref = next(f for f in findings if f["rule"] == "FX15")
    assert ref["cell"] == "Q3 Sales!C4"
    assert ref["formula"] == "=A4*#REF!"
    assert ref["severity"] in {"high", "critical"}


def test_clean_workbook_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a workbook with a clean column total
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    for r in range(1, 4):
        ws.cell(r, 1, r)
    ws["A4"] = "=SUM(A1:A3)"
    path = tmp_path / "clean.xlsx"
    book.save(path)

    # When it is audited
    code = run(str(path), as_json=False)

    # Then no blocking finding is reported
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 findings")
