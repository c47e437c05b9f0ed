"""``sheetbrain audit FILE.xlsx [--json]``: audit every sheet of a workbook.

Exit code: 0 when no finding is high or critical, 1 when at least one is (so CI can gate on it).
``--json`` prints ``{"file", "findings": [...]}`` with findings shaped as the API returns them.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from sheetbrain.audit import SEVERITIES, Finding, audit_sheet

from sheetbrain_dev.workbook import load_workbook_sheets

BLOCKING = frozenset({"critical", "high"})
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


def run(path: str, as_json: bool) -> int:
    """Audit the workbook at ``path``; print a table (or JSON); return 1 if high/critical findings exist."""
    findings = [f for sheet in load_workbook_sheets(path) for f in audit_sheet(sheet)]
    if as_json:
        print(json.dumps({"file": path, "findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        print(_table(findings))
    return 1 if any(f.severity in BLOCKING for f in findings) else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], "--json" in sys.argv[2:]))
