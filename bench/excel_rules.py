"""Each check built on Excel's error-checking rules, counted on the labelled ExceLint dev workbooks.

Usage: .venv/bin/python bench/excel_rules.py [BENCH_DIR]   (or SHEETBRAIN_EXCELINT_DIR=...)
Per rule: findings by severity, cells it flags (high or critical, as excelint.py counts them) and
how many of those are labelled, and how many of those no other rule flags. Every finding of the
rule is counted, not only the first rule per cell (excelint.py's view), so a rule's own precision
shows even where another rule flags the same cell.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from sheetbrain.engine import audit_sheet
from sheetbrain.engine.refs import parse_a1
from sheetbrain.severity import BLOCKING
from sheetbrain_dev.workbook import load_workbook_sheets

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "excelint-dev"
RULES = {
    "FX27": "rule 8, formulas referring to empty cells",
    "FX28": "rule 6, formulas which omit cells in a region",
    "FX36": "rule 1, formulas that result in an error",
    "FX37": "rule 4, numbers formatted as text",
    "FX38": "rule 3, years represented as 2 digits",
}

Key = tuple[str, str, int, int]


def main(argv: list[str]) -> int:
    positional = [a for a in argv[1:] if not a.startswith("-")]
    root = Path(positional[0] if positional else os.environ.get("SHEETBRAIN_EXCELINT_DIR", DEFAULT_DIR))
    labels = json.loads((root / "labels.json").read_text())
    labelled: set[Key] = set()
    severities: dict[str, Counter[str]] = {rule: Counter() for rule in RULES}
    flagged: dict[str, set[Key]] = {rule: set() for rule in RULES}
    flagged_by_others: set[Key] = set()
    for book, sheets in sorted(labels.items()):
        labelled |= {(book, sheet.strip(), col, row) for sheet, v in sheets.items() for col, row, *_ in v["bugs"]}
        for sheet in load_workbook_sheets(str(root / "workbooks" / book)):
            for f in audit_sheet(sheet):
                if not f.cell:
                    continue
                row, col = parse_a1(f.cell.rsplit("!", 1)[1])
                key = (book, sheet.name.strip(), col, row)
                high = f.severity in BLOCKING
                if f.rule in RULES:
                    severities[f.rule][f.severity] += 1
                    if high:
                        flagged[f.rule].add(key)
                elif high:
                    flagged_by_others.add(key)
    print(f"Excel's rules on the ExceLint dev split: {len(labels)} workbooks, {len(labelled)} labelled cells")
    print(f"{'rule':6}{'flagged':>9}{'labelled':>10}{'only it':>9}{'only it, labelled':>19}   findings by severity")
    for rule, title in RULES.items():
        cells = flagged[rule]
        alone = cells - flagged_by_others
        by_severity = ", ".join(f"{s} {n}" for s, n in sorted(severities[rule].items())) or "none"
        print(
            f"{rule:6}{len(cells):>9}{len(cells & labelled):>10}{len(alone):>9}{len(alone & labelled):>19}"
            f"   {by_severity}  ({title})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
