"""``sheetbrain audit FILE.xlsx [--json]``: audit every sheet of a workbook.

Exit codes, as linters use them (so CI can gate on them):
- 0: audited, no finding is high or critical;
- 1: audited, at least one finding is high or critical;
- 2: the file could not be audited (missing, not an .xlsx, corrupt, password-protected, a legacy
  .xls, beyond the inflation bounds of ``workbook.check_xlsx``), or the audit itself failed: one
  line on stderr saying why, nothing on stdout, never a traceback.
``--json`` prints ``{"file", "findings": [...]}`` with findings shaped as the API returns them.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from sheetbrain.audit import SEVERITIES, Finding, Sheet, audit_sheet

from sheetbrain_dev.workbook import UnreadableWorkbookError, check_xlsx, load_workbook_sheets

BLOCKING = frozenset({"critical", "high"})
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


def run(path: str, as_json: bool) -> int:
    """Audit the workbook at ``path``; print a table (or JSON); return the exit code (module docstring)."""
    try:
        sheets = _load(path)
    except UnreadableWorkbookError as exc:
        return _refuse(path, str(exc))
    try:
        findings = [f for sheet in sheets for f in audit_sheet(sheet)]
    except Exception as exc:
        # The engine's own failure on this workbook: the file was not audited, which exit 1 would hide.
        return _refuse(path, f"the audit failed ({type(exc).__name__}: {exc}); please report it with the file")
    if as_json:
        print(json.dumps({"file": path, "findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        print(_table(findings))
    return EXIT_FINDINGS if any(f.severity in BLOCKING for f in findings) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], "--json" in sys.argv[2:]))
