"""Plant typical slips into the copied regions of the ExceLint dev workbooks; count how many the engine flags.

Usage: .venv/bin/python bench/slips.py [BENCH_DIR] [--per-book N] [--seed S]

A copied region is a run of at least ``MIN_RUN`` adjacent formula cells, down a column or along a
row, with one R1C1 pattern. Into a cell of such a run, one at a time, the bench plants one slip of
four kinds that the spreadsheet-error literature lists as the commonest (Panko's mechanical
errors; the "reference shifted", "range too short" and "hard-coded value" mutants of spreadsheet
mutation testing, Abraham and Erwig 2009):

- ``shift``: one relative single-cell reference moved by one row or column;
- ``shrink``: one range's far end pulled in by one row (or column);
- ``operator``: one binary ``+ - * /`` swapped for its partner (``+``/``-``, ``*``/``/``);
- ``value``: the formula replaced by its own current value (a pasted value).

For each slip it audits the sheet and reports, by kind, the share whose cell gets a high or
critical finding (and the share with any finding of medium or above), and the cells that were
not flagged before the slip and are flagged after it (other cells, per slip). Sampling uses a fixed
seed, so runs are comparable; nothing here is tuned to a workbook.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from sheetbrain.engine import Sheet, audit_sheet
from sheetbrain.engine.ast import Ref
from sheetbrain.engine.errors import FormulaParseError
from sheetbrain.engine.grid import cells_of
from sheetbrain.engine.parser import parse
from sheetbrain.engine.printer import format_ref
from sheetbrain.engine.refs import parse_a1, r1c1_pattern
from sheetbrain.engine.tokenizer import Kind, Tokenizer
from sheetbrain_dev.workbook import load_workbook_sheets

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "excelint-dev"
FLAG = frozenset({"high", "critical"})
NOTICE = frozenset({"high", "critical", "medium"})
MIN_RUN = 4
KINDS = ("shift", "shrink", "operator", "value")
SWAP = {"+": "-", "-": "+", "*": "/", "/": "*"}
TARGETS = {"flagged_high": 0.6, "other_cells_per_slip": 0.5}


def copied_runs(sheet: Sheet) -> list[list[tuple[int, int]]]:
    """Runs of at least ``MIN_RUN`` adjacent formula cells sharing one R1C1 pattern, down columns and along rows."""
    patterns: dict[tuple[int, int], str] = {}
    for (row, col), cell in cells_of(sheet).items():
        if cell.formula is None:
            continue
        try:
            patterns[(row, col)] = r1c1_pattern(parse(cell.formula), row, col)
        except (FormulaParseError, RecursionError):
            continue
    runs: list[list[tuple[int, int]]] = []
    for step in ((1, 0), (0, 1)):
        for (row, col), pattern in sorted(patterns.items()):
            before = (row - step[0], col - step[1])
            if patterns.get(before) == pattern:
                continue  # not the first cell of its run
            run = [(row, col)]
            while patterns.get(nxt := (run[-1][0] + step[0], run[-1][1] + step[1])) == pattern:
                run.append(nxt)
            if len(run) >= MIN_RUN:
                runs.append(run)
    return runs


def _operand_refs(formula: str) -> list[tuple[int, int, Ref]]:
    # (start, end, ref) of each reference token to this sheet in the formula text.
    out = []
    for token in Tokenizer(formula[1:], offset=1).tokens():
        node = token.node
        if token.kind is Kind.OPERAND and isinstance(node, Ref) and node.sheet is None and node.book is None:
            out.append((token.pos, token.pos + len(token.text), node))
    return out


def plant(kind: str, formula: str, value: object, rng: random.Random) -> str | float | None:
    """The slipped cell content (formula text or a number), or None when this slip does not apply."""
    if kind == "value":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None  # type: ignore[arg-type]
    if kind == "operator":
        tokens = [t for t in Tokenizer(formula[1:], offset=1).tokens() if t.kind is not Kind.WS]
        binary = [
            t
            for prev, t in itertools.pairwise(tokens)
            if t.kind is Kind.OP and t.text in SWAP and prev.kind in (Kind.OPERAND, Kind.RPAREN, Kind.PERCENT)
        ]
        if not binary:
            return None
        t = rng.choice(binary)
        return formula[: t.pos] + SWAP[t.text] + formula[t.pos + 1 :]
    refs = _operand_refs(formula)
    if kind == "shift":
        singles = [(s, e, r) for s, e, r in refs if r.end is None and r.start.row and r.start.col]
        singles = [(s, e, r) for s, e, r in singles if not (r.start.row_abs and r.start.col_abs)]
        if not singles:
            return None
        s, e, ref = rng.choice(singles)
        axes = [a for a, absolute in (("row", ref.start.row_abs), ("col", ref.start.col_abs)) if not absolute]
        axis = rng.choice(axes)
        delta = rng.choice((-1, 1)) if getattr(ref.start, axis) > 1 else 1
        moved = dataclasses.replace(ref.start, **{axis: getattr(ref.start, axis) + delta})
        return formula[:s] + format_ref(dataclasses.replace(ref, start=moved)) + formula[e:]
    if kind == "shrink":
        ranges = [
            (s, e, r)
            for s, e, r in refs
            if r.end is not None and None not in (r.start.row, r.start.col, r.end.row, r.end.col)
        ]
        ranges = [
            (s, e, r)
            for s, e, r in ranges
            if (r.end.row or 0) > (r.start.row or 0) or (r.end.col or 0) > (r.start.col or 0)
        ]
        if not ranges:
            return None
        s, e, ref = rng.choice(ranges)
        assert ref.end is not None
        axis = "row" if (ref.end.row or 0) > (ref.start.row or 0) else "col"
        shrunk = dataclasses.replace(ref.end, **{axis: getattr(ref.end, axis) - 1})
        return formula[:s] + format_ref(dataclasses.replace(ref, end=shrunk)) + formula[e:]
    raise ValueError(kind)


def _with_cell(sheet: Sheet, row: int, col: int, content: str | float) -> Sheet:
    formulas = [list(r) for r in sheet.formulas]
    values = [list(r) for r in sheet.values]
    base_row, base_col = sheet.origin_row, sheet.origin_col
    i, j = row - base_row, col - base_col
    while len(formulas[i]) <= j:
        formulas[i].append(None)
    while len(values) <= i:
        values.append([])
    while len(values[i]) <= j:
        values[i].append(None)
    if isinstance(content, str):
        formulas[i][j] = content
    else:
        formulas[i][j] = None
        values[i][j] = content
    return Sheet(sheet.name, formulas, values, sheet.origin)


def _flags(sheet: Sheet) -> tuple[dict[tuple[int, int], str], dict[tuple[int, int], set[str]]]:
    # Highest severity per cell with a finding of medium or above; rules of the high ones per cell.
    order = {"critical": 0, "high": 1, "medium": 2}
    out: dict[tuple[int, int], str] = {}
    rules: dict[tuple[int, int], set[str]] = defaultdict(set)
    for f in audit_sheet(sheet):
        if f.cell and f.severity in order:
            key = parse_a1(f.cell.rsplit("!", 1)[1])
            if key not in out or order[f.severity] < order[out[key]]:
                out[key] = f.severity
            if f.severity in FLAG:
                rules[key].add(f.rule)
    return out, rules


def main(argv: list[str]) -> int:
    positional = [a for a in argv[1:] if not a.startswith("-") and not a.isdigit()]
    root = Path(positional[0] if positional else os.environ.get("SHEETBRAIN_EXCELINT_DIR", DEFAULT_DIR))
    per_book = int(argv[argv.index("--per-book") + 1]) if "--per-book" in argv else 6
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 20261202
    rng = random.Random(seed)
    start = time.perf_counter()
    planted: Counter[str] = Counter()
    high: Counter[str] = Counter()
    noticed: Counter[str] = Counter()
    collateral: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for book in sorted(p.name for p in (root / "workbooks").iterdir()):
        sheets = load_workbook_sheets(str(root / "workbooks" / book))
        candidates = [(sheet, run) for sheet in sheets for run in copied_runs(sheet)]
        rng.shuffle(candidates)
        baseline: dict[str, dict[tuple[int, int], str]] = {}
        for sheet, run in candidates[:per_book]:
            cells = cells_of(sheet)
            if sheet.name not in baseline:
                baseline[sheet.name] = _flags(sheet)[0]
            before = baseline[sheet.name]
            for kind in KINDS:
                row, col = rng.choice(run)
                cell = cells[(row, col)]
                assert cell.formula is not None
                content = plant(kind, cell.formula, cell.value, rng)
                if content is None or content == cell.formula:
                    continue
                after, rules = _flags(_with_cell(sheet, row, col, content))
                planted[kind] += 1
                severity = after.get((row, col))
                high[kind] += severity in FLAG
                noticed[kind] += severity in NOTICE
                collateral[kind] += sum(
                    1 for key, sev in after.items() if key != (row, col) and sev in FLAG and before.get(key) not in FLAG
                )
                for rule in rules.get((row, col), ()):
                    by_rule[kind][rule] += 1
    wall = time.perf_counter() - start
    total = sum(planted.values())
    print(f"Slips planted into copied regions of {root.name} (seed {seed}, up to {per_book} regions a workbook)")
    print(
        f"{'kind':10}{'planted':>9}{'high+':>8}{'share':>8}{'medium+':>9}{'share':>8}{'other/slip':>12}  rules (high+)"
    )
    for kind in KINDS:
        n = planted[kind] or 1
        rules = ", ".join(f"{r}={c}" for r, c in by_rule[kind].most_common())
        print(
            f"{kind:10}{planted[kind]:>9}{high[kind]:>8}{high[kind] / n:>8.2f}{noticed[kind]:>9}"
            f"{noticed[kind] / n:>8.2f}{collateral[kind] / n:>12.2f}  {rules}"
        )
    n = total or 1
    print(
        f"{'all':10}{total:>9}{sum(high.values()):>8}{sum(high.values()) / n:>8.2f}{sum(noticed.values()):>9}"
        f"{sum(noticed.values()) / n:>8.2f}{sum(collateral.values()) / n:>12.2f}"
    )
    goal_high, goal_other = TARGETS["flagged_high"], TARGETS["other_cells_per_slip"]
    print(f"targets: share flagged high >= {goal_high}, other cells per slip <= {goal_other}")
    print(f"wall time (s): {wall:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
