"""Run the audit engine over the ExceLint development split and score it as its README says.

Usage: .venv/bin/python bench/excelint.py [BENCH_DIR]   (or SHEETBRAIN_EXCELINT_DIR=...)
Flagged = cells with at least one high/critical finding; pooled and per-workbook-mean precision and
recall against the labelled cells; a workbook with nothing flagged counts as precision 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from sheetbrain.audit import audit_sheet
from sheetbrain.audit.refs import parse_a1
from sheetbrain_dev.workbook import load_workbook_sheets

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "excelint-dev"
FLAG_SEVERITIES = {"high", "critical"}
EXCELINT = {"flagged": 265, "tp": 52, "precision": 0.196, "recall": 0.133, "mean_p": 0.681, "mean_r": 0.569}

Key = tuple[str, str, int, int]


def main(argv: list[str]) -> int:
    positional = [a for a in argv[1:] if not a.startswith("-")]
    root = Path(positional[0] if positional else os.environ.get("SHEETBRAIN_EXCELINT_DIR", DEFAULT_DIR))
    labels = json.loads((root / "labels.json").read_text())
    verbose = "-v" in argv
    start = time.perf_counter()
    flagged: set[Key] = set()
    labelled: set[Key] = set()
    rules: Counter[str] = Counter()
    tp_rules: Counter[str] = Counter()
    per_book: list[tuple[str, float, float, int, int, int]] = []
    for book, sheets in sorted(labels.items()):
        book_labelled = {(book, sheet.strip(), col, row) for sheet, v in sheets.items() for col, row, *_ in v["bugs"]}
        book_flagged: set[Key] = set()
        for sheet in load_workbook_sheets(str(root / "workbooks" / book)):
            for f in audit_sheet(sheet):
                if f.severity in FLAG_SEVERITIES and f.cell:
                    row, col = parse_a1(f.cell.rsplit("!", 1)[1])
                    key = (book, sheet.name.strip(), col, row)
                    if key not in book_flagged:
                        rules[f.rule] += 1
                        tp_rules[f.rule] += key in book_labelled
                    book_flagged.add(key)
        tp = len(book_flagged & book_labelled)
        precision = tp / len(book_flagged) if book_flagged else 1.0
        recall = tp / len(book_labelled) if book_labelled else 1.0
        per_book.append((book, precision, recall, tp, len(book_flagged), len(book_labelled)))
        flagged |= book_flagged
        labelled |= book_labelled
    wall = time.perf_counter() - start
    tp = len(flagged & labelled)
    precision = tp / len(flagged) if flagged else 1.0
    recall = tp / len(labelled) if labelled else 1.0
    mean_p = sum(p for _, p, *_ in per_book) / len(per_book)
    mean_r = sum(r for _, _, r, *_ in per_book) / len(per_book)
    if verbose:
        for book, p, r, t, fl, lab in per_book:
            print(f"  {book[:40]:40} P={p:.2f} R={r:.2f} tp={t} flagged={fl} labelled={lab}")
        print(
            "  by rule (first rule per cell): "
            + ", ".join(f"{k}={v}/{tp_rules[k]}tp" for k, v in sorted(rules.items()))
        )
    print(f"ExceLint dev split: {len(per_book)} workbooks, {len(labelled)} labelled cells, root {root}")
    print(f"{'':22}{'SheetBrain':>12}{'ExceLint':>12}")
    print(f"{'flagged cells':22}{len(flagged):>12}{EXCELINT['flagged']:>12}")
    print(f"{'true positives':22}{tp:>12}{EXCELINT['tp']:>12}")
    print(f"{'pooled precision':22}{precision:>12.3f}{EXCELINT['precision']:>12.3f}")
    print(f"{'pooled recall':22}{recall:>12.3f}{EXCELINT['recall']:>12.3f}")
    print(f"{'mean precision':22}{mean_p:>12.3f}{EXCELINT['mean_p']:>12.3f}")
    print(f"{'mean recall':22}{mean_r:>12.3f}{EXCELINT['mean_r']:>12.3f}")
    print(f"{'workbooks no flags':22}{sum(1 for b in per_book if b[4] == 0):>12}{19:>12}")
    print(f"{'wall time (s)':22}{wall:>12.2f}{'':>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
