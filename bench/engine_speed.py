"""Audit engine throughput on one core: formulas parsed and checked per second, and a 100,000-cell sheet.

Usage: .venv/bin/python bench/engine_speed.py [--formulas N] [--rows R]
Targets (issue 5): at least 20,000 formulas/s; a 100,000-cell workbook audited in under 5 s.

Times are CPU seconds of this process (``time.process_time``): one core, robust to a busy machine.
Two throughput figures are printed:
- workbook formulas/s: formula cells audited per second by the whole ``audit_sheet`` pipeline (grid,
  parsing, formula checks, region and dependency checks) on a synthetic 100,000-cell ledger whose
  formulas are filled down as in real workbooks; copies of one formula (equal in R1C1 terms) are
  parsed once and moved, which is what the target is about;
- cold formulas/s: distinct formula texts (every one tokenized, parsed and checked; no cache can
  hit), built from the real formulas in tests/unit/audit/fixtures by moving their row numbers.

It also prints the time to parse, and to audit, one long hand-built sum (``=A1+A2+...``) of N and of
2N terms, about 4,000 and 8,000 characters (Excel's limit is 8,192): the ratio shows the cost is
linear in the chain's length (about 2 for linear time, 4 for quadratic).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

from sheetbrain.engine import Sheet, audit_formulas, audit_sheet, parse
from sheetbrain.engine.refs import col_letters

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "unit" / "audit" / "fixtures" / "benchmark_formulas.txt"
TARGET_RATE = 20_000
TARGET_WORKBOOK_S = 5.0
_ROW_RE = re.compile(r"(?<=[A-Z])(\d+)\b")


def _move_rows(text: str, shift: int) -> str:
    return _ROW_RE.sub(lambda m: str(int(m.group(1)) + shift), text)


def distinct_formulas(count: int) -> list[str]:
    """``count`` distinct formula texts: the real corpus with its row numbers moved by k * 1000."""
    corpus = [line.strip() for line in CORPUS.read_text().splitlines() if line.strip()]
    out: list[str] = []
    seen: set[str] = set()
    shift = 0
    while len(out) < count:
        for text in corpus:
            moved = _move_rows(text, shift)
            if moved not in seen:
                seen.add(moved)
                out.append(moved)
                if len(out) == count:
                    break
        shift += 1000
    return out


def ledger_sheet(rows: int, seed: int = 7) -> Sheet:
    """A ledger of ``rows`` x 50 cells: labels, 24 input columns, 25 formula columns, a totals row."""
    rng = random.Random(seed)
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    inputs = [col_letters(c) for c in range(2, 26)]  # B..Y
    for r in range(1, rows):
        frow: list[str | None] = [None] * 50
        vrow: list[object] = [None] * 50
        vrow[0] = f"item {r}"
        for j in range(24):
            vrow[1 + j] = round(rng.uniform(0, 1000), 2)
        frow[25] = f"=SUM(B{r}:Y{r})"
        frow[26] = f"=Z{r}/24"
        frow[27] = f"=IF(Z{r}>0,B{r}/Z{r},0)"
        frow[28] = f"=AA{r}*$AZ$1" if r > 1 else "=AA1"
        frow[29] = f"=ROUND(AB{r}*100,1)"
        for j in range(30, 50):
            src = inputs[(j - 30) % 24]
            frow[j] = f"={src}{r}-{inputs[(j - 29) % 24]}{r}" if j % 2 else f"=MAX({src}{r},0)"
        formulas.append(frow)
        values.append(vrow)
    last = rows - 1
    formulas.append([None] + [f"=SUM({col_letters(c)}1:{col_letters(c)}{last})" for c in range(2, 51)])
    values.append(["total"] + [None] * 49)
    return Sheet("Ledger", formulas, values)


def long_sum(terms: int) -> str:
    """``=A1000+A1001+...`` with ``terms`` cells, a division by B1 halfway (about 6 characters a term)."""
    cells = [f"A{row}" for row in range(1000, 1000 + terms)]
    return "=" + "+".join([*cells[: terms // 2], "C1/B1", *cells[terms // 2 :]])


def _cpu_per_call(fn: object, arg: str, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn(arg)  # type: ignore[operator]
    return (time.process_time() - start) / repeat


def chain_times(terms: int, repeat: int = 20) -> tuple[int, float, float]:
    """(characters, CPU s to parse, CPU s to audit) of one ``long_sum(terms)``."""
    text = long_sum(terms)
    return len(text), _cpu_per_call(parse, text, repeat), _cpu_per_call(lambda t: audit_formulas([t]), text, repeat)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", type=int, default=40_000)
    parser.add_argument("--rows", type=int, default=2_000)
    args = parser.parse_args(argv[1:])

    texts = distinct_formulas(args.formulas)
    start = time.process_time()
    findings = audit_formulas(texts)
    cold_rate = len(texts) / (time.process_time() - start)

    sheet = ledger_sheet(args.rows)
    n_cells = sum(1 for row in sheet.values for v in row if v is not None) + sum(
        1 for row in sheet.formulas for f in row if f
    )
    n_formulas = sum(1 for row in sheet.formulas for f in row if f)
    start = time.process_time()
    sheet_findings = audit_sheet(sheet)
    sheet_s = time.process_time() - start
    rate = n_formulas / sheet_s

    print(f"workbook cells / formula cells    {n_cells:>10,} / {n_formulas:,} ({len(sheet_findings):,} findings)")
    print(f"workbook audit time (CPU s)       {sheet_s:>10.2f}  target < {TARGET_WORKBOOK_S}")
    print(f"workbook formulas/s (one core)    {rate:>10,.0f}  target >= {TARGET_RATE:,}")
    print(f"cold formulas/s (distinct texts)  {cold_rate:>10,.0f}  ({len(texts):,} texts, {len(findings):,} findings)")
    n = 660
    times = {terms: chain_times(terms) for terms in (n, 2 * n)}
    for terms, (chars, parse_s, audit_s) in times.items():
        print(f"sum of {terms:,} terms ({chars:,} chars)".ljust(34), end="")
        print(f"parse {parse_s * 1000:7.2f} ms  audit {audit_s * 1000:7.2f} ms")
    parse_ratio = times[2 * n][1] / times[n][1]
    audit_ratio = times[2 * n][2] / times[n][2]
    print(f"2N/N time ratio                   parse {parse_ratio:7.2f}     audit {audit_ratio:7.2f}")
    ok = rate >= TARGET_RATE and sheet_s < TARGET_WORKBOOK_S
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
