"""``sheetbrain audit FILE.xlsx``: loading a real xlsx, the table and the --json findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sheetbrain.engine import Finding
from sheetbrain_dev.audit_cmd import run
from sheetbrain_dev.cli import main
from sheetbrain_dev.workbook import MAX_INFLATED_BYTES, MAX_RATIO, load_workbook_sheets

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


def test_exit_codes_through_the_command(workbook: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a workbook with a high finding (the fixture) and one with only a low finding (a long formula)
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    for r in range(1, 71):
        ws.cell(r, 1, r)
    ws["B1"] = "=" + "+".join(f"A{r}" for r in range(1, 71))  # 70 cells added one by one: 271 characters
    low = tmp_path / "low.xlsx"
    book.save(low)

    # When each is audited through the command line's entry point
    blocking = main(["audit", workbook])
    blocking_out = capsys.readouterr()
    clean = main(["audit", str(low), "--json"])
    clean_out = capsys.readouterr()

    # Then high findings exit 1 and low ones 0, the report on stdout and nothing on stderr
    assert (blocking, clean) == (1, 0)
    assert "FX15" in blocking_out.out and blocking_out.err == ""
    assert [(f["rule"], f["severity"]) for f in json.loads(clean_out.out)["findings"]] == [("FX11", "low")]
    assert clean_out.err == ""


def _xlsx(tmp_path: Path, name: str = "book.xlsx") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws["A1"] = 1
    ws["A2"] = "=A1*2"
    path = tmp_path / name
    book.save(path)
    return path


def _with_member(source: Path, target: Path, name: str, data: bytes | None, *, level: int = 9) -> Path:
    # A copy of the xlsx at ``source`` with the member ``name`` replaced (or added) by ``data``, or removed
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as new:
        for item in old.infolist():
            if item.filename != name:
                new.writestr(item, old.read(item.filename))
        if data is not None:
            new.writestr(name, data)
    return target


def _unreadable_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    # (file, the reason stated on stderr) for each kind of file that cannot be audited
    good = _xlsx(tmp_path)
    text = tmp_path / "notes.xlsx"
    text.write_text("name,amount\nrent,100\n")
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other_zip = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    legacy = tmp_path / "legacy.xls"
    legacy.write_bytes(ole2 + "Workbook".encode("utf-16-le") + bytes(1024))
    protected = tmp_path / "protected.xlsx"
    protected.write_bytes(ole2 + "EncryptionInfo".encode("utf-16-le") + "EncryptedPackage".encode("utf-16-le"))
    bad_xml = _with_member(good, tmp_path / "bad_xml.xlsx", "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row")
    return {
        "missing": (tmp_path / "missing.xlsx", "no such file"),
        "text": (text, "not an .xlsx workbook (not a zip archive, or a corrupt one)"),
        "truncated": (truncated, "not an .xlsx workbook (not a zip archive, or a corrupt one)"),
        "other zip": (other_zip, "not an .xlsx workbook (a zip archive without [Content_Types].xml)"),
        "legacy": (legacy, "this is a legacy .xls workbook: save it as .xlsx (Excel Workbook) and audit that"),
        "protected": (protected, "the workbook is password-protected: save a copy without a password and audit that"),
        "bad xml": (bad_xml, "corrupt or unsupported workbook ("),
    }


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "other zip", "legacy", "protected", "bad xml"])
def test_file_that_cannot_be_audited_exits_two_with_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file that is not an auditable workbook
    path, reason = _unreadable_files(tmp_path)[kind]

    # When it is audited, as a table and as JSON
    codes = [main(["audit", str(path)]), main(["audit", str(path), "--json"])]

    # Then exit 2 with one line on stderr naming the file and the reason, and nothing on stdout
    out = capsys.readouterr()
    assert codes == [2, 2]
    assert out.out == ""
    lines = out.err.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith(f"sheetbrain audit: {path}: {reason}")


def test_zip_bombs_are_refused_before_they_are_inflated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given two real zip bombs built from a valid workbook: a sheet of 4 MiB of zeros (about 4 KiB stored),
    # and an extra member of 300 MiB of zeros (about 300 KiB stored), beyond the total bound
    good = _xlsx(tmp_path)
    ratio_bomb = _with_member(good, tmp_path / "ratio.xlsx", "xl/worksheets/sheet1.xml", bytes(4 * 2**20))
    size_bomb = _with_member(good, tmp_path / "size.xlsx", "xl/media/padding.bin", bytes(300 * 2**20), level=1)

    # When each is audited
    codes = [main(["audit", str(ratio_bomb)]), main(["audit", str(size_bomb)])]

    # Then each exits 2 before openpyxl reads it, saying which bound it crossed
    out = capsys.readouterr()
    assert codes == [2, 2] and out.out == ""
    ratio_line, size_line = out.err.splitlines()
    assert ratio_line.startswith(f"sheetbrain audit: {ratio_bomb}: xl/worksheets/sheet1.xml inflates ")
    assert ratio_line.endswith(f"times its stored size, more than {MAX_RATIO} (a zip bomb)")
    assert size_line == (
        f"sheetbrain audit: {size_bomb}: the workbook inflates to more than "
        f"{MAX_INFLATED_BYTES // 2**20} MiB (a zip bomb, or too large)"
    )


def test_command_line_prints_no_traceback_for_a_corrupt_file(tmp_path: Path) -> None:
    # Given a truncated workbook
    good = _xlsx(tmp_path)
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:500])

    # When the real command runs on it, in its own process
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-m", "sheetbrain_dev.cli", "audit", str(truncated)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )

    # Then it exits 2 with the one-line reason, no traceback
    assert done.returncode == 2
    assert done.stdout == ""
    reason = "not an .xlsx workbook (not a zip archive, or a corrupt one)"
    assert done.stderr == f"sheetbrain audit: {truncated}: {reason}\n"
