"""`sheetbrain audit FILE.xlsx --html OUT.html`: the report page, exit codes kept, whole or nothing."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sheetbrain_dev.cli import main


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    # Given two sheets: one with a division by zero in B2, one with a clean sum
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = 'Q3 "<i>"'
    first["A2"], first["B2"] = 5, "=A2/0"
    second = book.create_sheet("Totals")
    second["A1"], second["A2"], second["A3"] = 1, 2, "=SUM(A1:A2)"
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_the_report_has_a_heat_map_per_sheet_and_the_exit_code_is_kept(
    workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    # When the workbook is audited with --html
    code = main(["audit", str(workbook), "--html", str(out)])
    # Then the exit code still says a critical finding was found, the table still prints
    assert code == 1
    assert "FX14" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    # And the page draws both sheets, the flagged cell marked, the sheet name escaped
    assert '<table data-sheet="Q3 &#34;&lt;i&gt;&#34;">' in page and '<table data-sheet="Totals">' in page
    assert '<tr><th scope="row">2<td class=v><td data-cell="B2" data-severity="critical">C</tr>' in page
    assert '<tr><th scope="row">3<td class=f></tr>' in page
    assert "<title>Audit of book.xlsx</title>" in page


def test_a_report_that_cannot_be_written_is_exit_2_and_leaves_nothing(
    workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing-folder" / "report.html"
    code = main(["audit", str(workbook), "--html", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the report" in err and "Traceback" not in err
    assert not out.parent.exists()


def test_an_existing_report_is_replaced_whole(workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    assert main(["audit", str(workbook), "--html", str(out)]) == 1
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx", "report.html"]


def test_an_unreadable_workbook_writes_no_report(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    (tmp_path / "not.xlsx").write_text("plain text")
    assert main(["audit", str(tmp_path / "not.xlsx"), "--html", str(out)]) == 2
    assert not out.exists()
