"""The audit at scale: ``sheetbrain audit FILE.xlsx`` on realistic big workbooks, N and 2N formulas.

Usage: .venv/bin/python bench/engine_scale.py [--formulas N] [--keep DIR]
Targets (issue 14): 200,000 formulas under 10 s and under 400 MB peak RSS for the whole process;
time(2N)/time(N) at most 2.2 (linear, with room for cache effects).

The workbook (written with openpyxl into a temporary directory) is a ledger as people build them:
- Data: per row an id, a region code, a price and a quantity (typed), then five formulas: the
  amount (=C2*D2), how often that amount occurs (=COUNTIF($E:$E,E2): a whole column of formulas),
  a running total (=SUM($E$2:E2)), a factor looked up on another sheet
  (=VLOOKUP(B2,Lookup!$A$2:$C$51,3,FALSE)) and the amount taxed at a rate on a third sheet;
- Lookup: a 50-line table, each line with a formula reading the rate sheet;
- Summary: per region a SUMIF over whole columns of Data and its share of the total.

Figures, each for N and 2N formulas:
- process: wall time, CPU time and peak RSS of a fresh ``python -m sheetbrain_dev.cli audit FILE``
  (the child's own rusage, from ``os.wait4``), its output discarded; the target is on wall time,
  which a busy machine inflates (CPU time shows by how much);
- in process: loading the workbook (CPU s), the engine alone (CPU s, formulas/s) and the engine's
  peak traced memory (tracemalloc, a separate run: tracing slows it down).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import openpyxl
from sheetbrain.engine import audit_sheet
from sheetbrain_dev.workbook import load_workbook_sheets

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0
TARGET_RSS_MB = 400.0
TARGET_RATIO = 2.2
FORMULAS_PER_ROW = 5
REGIONS = 50


def write_workbook(path: Path, formulas: int, seed: int = 14) -> int:
    """A ledger of about ``formulas`` formulas (module docstring); returns the exact count."""
    rng = random.Random(seed)
    book = openpyxl.Workbook(write_only=True)
    rates = book.create_sheet("Rates")
    rates.append(["rate", 0.2])
    lookup = book.create_sheet("Lookup")
    lookup.append(["code", "name", "factor", "scaled"])
    for i in range(1, REGIONS + 1):
        lookup.append([f"R{i:02d}", f"region {i}", round(rng.uniform(0.5, 1.5), 3), f"=C{i + 1}*Rates!$B$1"])
    summary_formulas = 2 * REGIONS
    rows = max(1, (formulas - REGIONS - summary_formulas) // FORMULAS_PER_ROW)
    data = book.create_sheet("Data")
    data.append(["id", "region", "price", "qty", "amount", "count", "running", "factor", "taxed"])
    for r in range(2, rows + 2):
        data.append(
            [
                r - 1,
                f"R{rng.randint(1, REGIONS):02d}",
                round(rng.uniform(1, 100), 2),
                rng.randint(1, 20),
                f"=C{r}*D{r}",
                f"=COUNTIF($E:$E,E{r})",
                f"=SUM($E$2:E{r})",
                f"=VLOOKUP(B{r},Lookup!$A$2:$C${REGIONS + 1},3,FALSE)",
                f"=E{r}*H{r}*(1+Rates!$B$1)",
            ]
        )
    summary = book.create_sheet("Summary")
    summary.append(["region", "total", "share"])
    for i in range(1, REGIONS + 1):
        summary.append(
            [f"R{i:02d}", f"=SUMIF(Data!$B:$B,A{i + 1},Data!$I:$I)", f"=B{i + 1}/SUM($B$2:$B${REGIONS + 1})"]
        )
    book.save(path)
    return REGIONS + rows * FORMULAS_PER_ROW + summary_formulas


def audit_process(path: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MB, exit code) of ``sheetbrain audit FILE`` in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "shared"), str(ROOT / "tools")])
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "sheetbrain_dev.cli", "audit", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):  # 1: the audit has high findings, which is a result
        raise SystemExit(f"sheetbrain audit failed ({child.returncode}): {errors.decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is in KiB on Linux


def in_process(path: Path) -> tuple[float, float, int, float]:
    """(load CPU s, engine CPU s, findings, engine peak traced MB) in this process."""
    start = time.process_time()
    sheets = load_workbook_sheets(str(path))
    load_s = time.process_time() - start
    start = time.process_time()
    findings = sum(len(audit_sheet(sheet)) for sheet in sheets)
    engine_s = time.process_time() - start
    tracemalloc.start()
    for sheet in sheets:
        audit_sheet(sheet)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return load_s, engine_s, findings, peak


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", type=int, default=100_000, help="N (the second workbook has 2N)")
    parser.add_argument("--keep", type=Path, default=None, help="write the workbooks here and keep them")
    args = parser.parse_args(argv[1:])

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for size in (args.formulas, 2 * args.formulas):
            path = folder / f"ledger_{size}.xlsx"
            count = write_workbook(path, size)
            wall, cpu, rss, code = audit_process(path)
            load_s, engine_s, findings, traced = in_process(path)
            results.append((count, wall, rss, load_s, engine_s, traced))
            print(
                f"{count:>9,} formulas  process {wall:6.2f} s (CPU {cpu:5.2f} s)  peak RSS {rss:4.0f} MB "
                f"(exit {code}) | "
                f"in process: load {load_s:5.2f} s, engine {engine_s:5.2f} s "
                f"({count / engine_s:,.0f} formulas/s, {findings:,} findings), engine peak traced {traced:5.0f} MB"
            )
    (_, wall1, _, load1, engine1, _), (n2, wall2, rss2, load2, engine2, _) = results
    ratio = wall2 / wall1
    print(f"time(2N)/time(N): process {ratio:.2f}, load {load2 / load1:.2f}, engine {engine2 / engine1:.2f}")
    print(f"targets: {n2:,} formulas < {TARGET_S} s and < {TARGET_RSS_MB:.0f} MB; ratio <= {TARGET_RATIO}")
    ok = wall2 < TARGET_S and rss2 < TARGET_RSS_MB and ratio <= TARGET_RATIO
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
