"""``sheetbrain audit FILE.xlsx [--json]``: audit every sheet of a workbook.

Exit codes, as linters use them (so CI can gate on them):
- 0: audited, no finding is high or critical;
- 1: audited, at least one finding is high or critical;
- 2: the file could not be audited (missing, not an .xlsx, corrupt, password-protected, a legacy
  .xls, beyond the inflation bounds of ``workbook.check_xlsx``), or the audit itself failed: one
  line on stderr saying why, nothing on stdout, never a traceback.
``--json`` prints ``{"file", "findings": [...]}`` with findings shaped as the API returns them.
``--html OUT.html`` also writes the audit as the self-contained page of
``GET /api/audits/{id}/report`` (one heat map per sheet); a page that cannot be written is exit 2.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from sheetbrain.engine import Finding, Sheet, audit_sheet
from sheetbrain.severity import BLOCKING, SEVERITIES

from sheetbrain_dev.workbook import UnreadableWorkbookError, check_xlsx, load_workbook_sheets

EXIT_CLEAN, EXIT_FINDINGS, EXIT_NOT_AUDITED = 0, 1, 2
_WIDTHS = (18, 5, 8, 60)


def _clip(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(findings: list[Finding]) -> str:
    header = ("cell", "rule", "severity", "message")
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, _WIDTHS, strict=True)) + "  suggestion"]
    for f in findings:
        cols = (f.cell or "", f.rule, f.severity, f.message)
        row = "  ".join(_clip(c, w).ljust(w) for c, w in zip(cols, _WIDTHS, strict=True))
        lines.append(f"{row}  {_clip(f.suggestion, 60)}")
    counts = Counter(f.severity for f in findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
    lines.append(f"{len(findings)} findings" + (f" ({summary})" if summary else ""))
    return "\n".join(lines)


def _load(path: str) -> list[Sheet]:
    check_xlsx(path)
    try:
        return load_workbook_sheets(path)
    except Exception as exc:
        # A file that passed the checks can still be malformed inside (XML, relationships, cell
        # values); openpyxl's errors on such input are of no fixed set of types.
        raise UnreadableWorkbookError(f"corrupt or unsupported workbook ({type(exc).__name__}: {exc})") from exc


def _refuse(path: str, reason: str) -> int:
    print(f"sheetbrain audit: {path}: {reason}", file=sys.stderr)
    return EXIT_NOT_AUDITED


def _html(path: str, sheets: list[Sheet], findings: list[Finding]) -> str:
    from sheetbrain.reporting.grid_map import map_grid
    from sheetbrain.reporting.html_report import ReportFinding, ReportInput, render

    formulas = sum(1 for s in sheets for row in s.formulas for c in row if isinstance(c, str) and len(c) > 1)
    return render(
        ReportInput(
            title=f"Audit of {Path(path).name}",
            facts=[("File", path), ("Sheets", ", ".join(s.name for s in sheets)), ("Formulas audited", f"{formulas:,}"),
                   ("Findings", f"{len(findings):,}")],
            findings=[ReportFinding(f.cell, f.formula, f.rule, f.severity, f.message, f.suggestion, None)
                      for f in findings],
            maps=[map_grid(s.name, s.formulas, s.values, s.origin) for s in sheets],
            full_listing=f"sheetbrain audit {path} --json lists every finding.",
        )
    )  # fmt: skip


def _write(out: str, page: str) -> None:
    """Whole or not at all: a page half written over an older one would lose both."""
    target = Path(out)
    fd, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(path: str, as_json: bool, html_out: str | None = None) -> int:
    """Audit the workbook at ``path``; print a table (or JSON), write the HTML report to
    ``html_out`` if given; return the exit code (module docstring)."""
    try:
        sheets = _load(path)
    except UnreadableWorkbookError as exc:
        return _refuse(path, str(exc))
    try:
        findings = [f for sheet in sheets for f in audit_sheet(sheet)]
    except Exception as exc:
        # The engine's own failure on this workbook: the file was not audited, which exit 1 would hide.
        return _refuse(path, f"the audit failed ({type(exc).__name__}: {exc}); please report it with the file")
    if html_out is not None:
        try:
            _write(html_out, _html(path, sheets, findings))
        except OSError as exc:
            print(f"sheetbrain audit: {html_out}: cannot write the report ({exc.strerror or exc})", file=sys.stderr)
            return EXIT_NOT_AUDITED
    if as_json:
        print(json.dumps({"file": path, "findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        print(_table(findings))
    return EXIT_FINDINGS if any(f.severity in BLOCKING for f in findings) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], "--json" in sys.argv[2:]))  # the full options: sheetbrain_dev.cli
