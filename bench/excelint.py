"""Run the audit engine over the ExceLint development split and score it as its README says.

Usage: .venv/bin/python bench/excelint.py [BENCH_DIR] [-v]   (or SHEETBRAIN_EXCELINT_DIR=...)

Flagged = cells with at least one high/critical finding; pooled and per-workbook-mean precision
and recall against the labelled cells; a workbook with nothing flagged counts as precision 1.

Three views, because 35 workbooks are few and two of them hold half the labels:
- in sample: the engine as configured;
- leave one workbook out: the one decision this bench takes from labels -- which rules report at
  high/critical -- is taken for each workbook from the other 34 alone (the subset of rules with the
  best pooled F1 there), and that workbook is scored with it. The engine's numeric parameters are
  its catalogue defaults, chosen from their rationale, not fitted here; the rules themselves were
  designed with these workbooks in view, a leak no resampling removes: the slips bench
  (``bench/slips.py``) and the hold-out half are the checks on that;
- per rule: flagged cells, true positives, precision, the workbooks it fires in and those where it
  is right, and its precision without its best workbook; and the spread across workbooks
  (quartiles, and a bootstrap interval over workbooks for the pooled figures).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sheetbrain.engine import audit_sheet
from sheetbrain.engine.refs import parse_a1
from sheetbrain.severity import BLOCKING
from sheetbrain_dev.workbook import load_workbook_sheets

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "excelint-dev"
EXCELINT = {"flagged": 265, "tp": 52, "precision": 0.196, "recall": 0.133, "mean_p": 0.681, "mean_r": 0.569}
BOOTSTRAP_ROUNDS = 2000

Key = tuple[str, int, int]  # (sheet, col, row) inside one workbook


@dataclass
class Book:
    name: str
    labelled: set[Key]
    rules_at: dict[Key, set[str]] = field(default_factory=dict)  # flagged cell -> rules flagging it high

    def flagged(self, rules: set[str] | None = None) -> set[Key]:
        if rules is None:
            return set(self.rules_at)
        return {key for key, found in self.rules_at.items() if found & rules}


@dataclass(frozen=True)
class Score:
    flagged: int
    tp: int
    labelled: int
    precision: float
    recall: float
    mean_p: float
    mean_r: float
    silent: int


def score(per_book: list[tuple[set[Key], set[Key]]]) -> Score:
    """Pooled and per-workbook-mean figures of (flagged, labelled) pairs, one per workbook."""
    flagged = sum(len(f) for f, _ in per_book)
    tp = sum(len(f & lab) for f, lab in per_book)
    labelled = sum(len(lab) for _, lab in per_book)
    ps = [len(f & lab) / len(f) if f else 1.0 for f, lab in per_book]
    rs = [len(f & lab) / len(lab) if lab else 1.0 for f, lab in per_book]
    return Score(
        flagged,
        tp,
        labelled,
        tp / flagged if flagged else 1.0,
        tp / labelled if labelled else 1.0,
        sum(ps) / len(ps),
        sum(rs) / len(rs),
        sum(1 for f, _ in per_book if not f),
    )


def run_engine(root: Path) -> list[Book]:
    labels = json.loads((root / "labels.json").read_text())
    books = []
    for name, sheets in sorted(labels.items()):
        labelled = {(sheet.strip(), col, row) for sheet, v in sheets.items() for col, row, *_ in v["bugs"]}
        book = Book(name, labelled)
        for sheet in load_workbook_sheets(str(root / "workbooks" / name)):
            for f in audit_sheet(sheet):
                if f.severity in BLOCKING and f.cell:
                    row, col = parse_a1(f.cell.rsplit("!", 1)[1])
                    book.rules_at.setdefault((sheet.name.strip(), col, row), set()).add(f.rule)
        books.append(book)
    return books


def rule_table(books: list[Book]) -> dict[str, dict[str, float]]:
    """Per rule: flagged, tp, precision, workbooks fired/right, precision without its best workbook."""
    per: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for book in books:
        for key, rules in book.rules_at.items():
            for rule in rules:
                counts = per[rule][book.name]
                counts[0] += 1
                counts[1] += key in book.labelled
    table = {}
    for rule, by_book in per.items():
        flagged = sum(f for f, _ in by_book.values())
        tp = sum(t for _, t in by_book.values())
        best = max(by_book, key=lambda b: (by_book[b][1], -by_book[b][0], b))
        rest_f, rest_t = flagged - by_book[best][0], tp - by_book[best][1]
        table[rule] = {
            "flagged": flagged,
            "tp": tp,
            "precision": tp / flagged,
            "books": len(by_book),
            "books_right": sum(1 for _, t in by_book.values() if t),
            "without_best": rest_t / rest_f if rest_f else float("nan"),
        }
    return table


def gate(books: list[Book]) -> set[str]:
    """The rules whose high findings, kept together, give the best pooled F1 on these workbooks.

    Every subset of the rules that fire is tried (they are few); ties go to the smaller subset.
    """
    groups: Counter[tuple[frozenset[str], bool]] = Counter()
    labelled = 0
    for book in books:
        labelled += len(book.labelled)
        for key, rules in book.rules_at.items():
            groups[(frozenset(rules), key in book.labelled)] += 1
    names = sorted({rule for rules, _ in groups for rule in rules})
    best: tuple[float, int, frozenset[str]] = (-1.0, 0, frozenset())
    for mask in range(1 << len(names)):
        chosen = frozenset(name for i, name in enumerate(names) if mask >> i & 1)
        flagged = tp = 0
        for (rules, is_bug), n in groups.items():
            if rules & chosen:
                flagged += n
                tp += n * is_bug
        f1 = 2 * tp / (flagged + labelled) if flagged + labelled else 0.0
        candidate = (f1, -len(chosen), chosen)
        if candidate[:2] > best[:2]:
            best = candidate
    return set(best[2])


def leave_one_out(books: list[Book]) -> tuple[Score, Counter[str]]:
    """Each workbook scored with the rules the other workbooks keep; how often each rule was kept."""
    kept: Counter[str] = Counter()
    pairs = []
    for i, book in enumerate(books):
        rules = gate(books[:i] + books[i + 1 :])
        kept.update(rules)
        pairs.append((book.flagged(rules), book.labelled))
    return score(pairs), kept


def bootstrap(pairs: list[tuple[set[Key], set[Key]]], seed: int = 7) -> tuple[tuple[float, float], tuple[float, float]]:
    """5th-95th percentile of pooled precision and recall over workbooks resampled with replacement."""
    rng = random.Random(seed)
    ps, rs = [], []
    for _ in range(BOOTSTRAP_ROUNDS):
        sample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        s = score(sample)
        ps.append(s.precision)
        rs.append(s.recall)
    ps.sort()
    rs.sort()
    lo, hi = int(0.05 * BOOTSTRAP_ROUNDS), int(0.95 * BOOTSTRAP_ROUNDS) - 1
    return (ps[lo], ps[hi]), (rs[lo], rs[hi])


def _quartiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return f"min {min(values):.2f}  q1 {q[0]:.2f}  median {q[1]:.2f}  q3 {q[2]:.2f}  max {max(values):.2f}"


def main(argv: list[str]) -> int:
    positional = [a for a in argv[1:] if not a.startswith("-")]
    root = Path(positional[0] if positional else os.environ.get("SHEETBRAIN_EXCELINT_DIR", DEFAULT_DIR))
    verbose = "-v" in argv
    start = time.perf_counter()
    books = run_engine(root)
    wall = time.perf_counter() - start
    pairs = [(b.flagged(), b.labelled) for b in books]
    ins = score(pairs)
    cv, kept = leave_one_out(books)
    if verbose:
        for book, (f, lab) in zip(books, pairs, strict=True):
            tp = len(f & lab)
            p = tp / len(f) if f else 1.0
            r = tp / len(lab) if lab else 1.0
            print(f"  {book.name[:40]:40} P={p:.2f} R={r:.2f} tp={tp} flagged={len(f)} labelled={len(lab)}")
    print(f"ExceLint dev split: {len(books)} workbooks, {ins.labelled} labelled cells, root {root}")
    print(f"{'':24}{'in sample':>11}{'LOWO':>11}{'ExceLint':>11}")
    rows = (
        ("flagged cells", ins.flagged, cv.flagged, EXCELINT["flagged"], "d"),
        ("true positives", ins.tp, cv.tp, EXCELINT["tp"], "d"),
        ("pooled precision", ins.precision, cv.precision, EXCELINT["precision"], ".3f"),
        ("pooled recall", ins.recall, cv.recall, EXCELINT["recall"], ".3f"),
        ("mean precision", ins.mean_p, cv.mean_p, EXCELINT["mean_p"], ".3f"),
        ("mean recall", ins.mean_r, cv.mean_r, EXCELINT["mean_r"], ".3f"),
        ("workbooks no flags", ins.silent, cv.silent, 19, "d"),
    )
    for label, a, b, c, fmt in rows:
        print(f"{label:24}{a:>11{fmt}}{b:>11{fmt}}{c:>11{fmt}}")
    print(f"{'wall time (s)':24}{wall:>11.2f}")
    (p_lo, p_hi), (r_lo, r_hi) = bootstrap(pairs)
    print(f"bootstrap over workbooks (90%): pooled precision {p_lo:.2f}-{p_hi:.2f}, recall {r_lo:.2f}-{r_hi:.2f}")
    scored_p = [len(f & lab) / len(f) for f, lab in pairs if f]
    scored_r = [len(f & lab) / len(lab) for f, lab in pairs if lab]
    if scored_p:
        print(f"precision of workbooks with flags ({len(scored_p)}): {_quartiles(scored_p)}")
    if scored_r:
        print(f"recall of workbooks with labels ({len(scored_r)}):  {_quartiles(scored_r)}")
    print(f"rules the F1 gate keeps on all {len(books)} workbooks: {', '.join(sorted(gate(books)))}")
    print(f"per rule (high/critical findings; LOWO: folds out of {len(books)} that keep the rule at high):")
    print(f"  {'rule':6}{'flagged':>8}{'tp':>6}{'prec':>7}{'books':>7}{'right':>7}{'w/o best':>10}{'LOWO':>6}")
    for rule, row in sorted(rule_table(books).items()):
        print(
            f"  {rule:6}{row['flagged']:>8}{row['tp']:>6}{row['precision']:>7.2f}{row['books']:>7}"
            f"{row['books_right']:>7}{row['without_best']:>10.2f}{kept[rule]:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
