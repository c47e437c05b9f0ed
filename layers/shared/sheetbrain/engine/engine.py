"""Public entry points: audit a flat list of formulas or a sheet grid under a policy profile."""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sheetbrain.engine.ast import Node
from sheetbrain.engine.budget import SHEET_CHECKS_FACTOR, CheckStopped, WorkBudget, check_budget
from sheetbrain.engine.checks.catalogue import CHECKS
from sheetbrain.engine.checks.context import CellHit, SheetContext
from sheetbrain.engine.checks.formula import FORMULA_CHECKS, FORMULA_GATES, Hit, tree_features
from sheetbrain.engine.checks.sheet import SHEET_CHECKS
from sheetbrain.engine.copies import MovedTrees, copy_key, move_tree
from sheetbrain.engine.errors import FormulaParseError
from sheetbrain.engine.grid import Sheet, cell_name, cells_of
from sheetbrain.engine.parser import parse
from sheetbrain.engine.profile import DEFAULT_PROFILE, PolicyProfile
from sheetbrain.engine.refs import r1c1_pattern


@dataclass(frozen=True)
class Finding:
    """One problem found in one formula (``cell`` for grids, ``index`` for flat lists)."""

    cell: str | None
    index: int | None
    formula: str
    rule: str
    severity: str
    message: str
    suggestion: str | None
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (tags as a list)."""
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data


# Hits of one rule reported per formula. More mostly repeat the first (a formula dividing by one
# cell 300 times), and each suggestion reprints the whole formula: time quadratic in its length.
MAX_HITS_PER_RULE = 10
# The rules the engine emits itself, beside the checks of FORMULA_CHECKS and SHEET_CHECKS: with
# them, every id of the catalogue (tests/unit/audit/test_catalogue_registry.py holds them together).
PARSE_FAILED = "FX00"
CHECK_STOPPED = "FX90"
ENGINE_RULES = (PARSE_FAILED, CHECK_STOPPED)


def _finalise(hit: Hit, profile: PolicyProfile, cell: str | None, index: int | None, formula: str) -> Finding:
    severity = hit.severity if hit.severity and hit.rule not in profile.severities else profile.severity(hit.rule)
    suggestion = hit.suggestion_text()
    return Finding(cell, index, formula, hit.rule, severity, hit.message, suggestion, CHECKS[hit.rule].tags)


def _parse_hit(exc: FormulaParseError) -> Hit:
    return Hit(PARSE_FAILED, f"formula does not parse: {exc.reason} at position {exc.position}", None)


def _too_deep(text: str) -> FormulaParseError:
    # The parser bounds tree height (MAX_DEPTH); should a walker still exhaust Python's recursion
    # limit, the formula gets the finding a too deeply nested formula gets, not a crash.
    return FormulaParseError("formula nests too deeply", position=0, formula=text)


class _FormulaAuditor:
    """Parses and runs formula checks once per distinct formula text (copies share results)."""

    def __init__(self, profile: PolicyProfile) -> None:
        self.profile = profile
        self.checks = [
            (check, profile.params(rules[0]), FORMULA_GATES.get(check), enabled)
            for rules, check in FORMULA_CHECKS
            if (enabled := tuple(rule for rule in rules if profile.is_enabled(rule)))
        ]
        self.max_length = int(profile.params("FX11")["max_length"]) if profile.is_enabled("FX11") else None
        self.cache: dict[str, tuple[Node | None, list[Hit]]] = {}
        # R1C1 copy key -> (tree, its cell, its R1C1 pattern, hits): copies are moved, not re-parsed.
        self.copies: dict[str, tuple[Node, int, int, str, list[Hit]]] = {}

    def run_checks(self, tree: Node, text: str, only: set[str] | None = None) -> list[Hit]:
        """Hits of the enabled rules, at most ``MAX_HITS_PER_RULE`` per rule, suggestions printed.

        ``only``: run just the checks that may emit one of these rules.
        """
        hits: list[Hit] = []
        types, bases = tree_features(tree)
        for check, params, gate, rules in self.checks:
            if only is not None and only.isdisjoint(rules):
                continue
            if gate is not None and not (any(t in types for t in gate[0]) or not bases.isdisjoint(gate[1])):
                continue
            counts = dict.fromkeys(rules, 0)
            open_rules = len(counts)
            for hit in check(tree, text, params):
                count = counts.get(hit.rule)
                if count is None or count >= MAX_HITS_PER_RULE:
                    continue  # a disabled rule, or one reported enough times in this formula
                counts[hit.rule] = count + 1
                hits.append(hit.resolved())
                if count + 1 == MAX_HITS_PER_RULE:
                    open_rules -= 1
                    if not open_rules:
                        break
        return hits

    def parse_error_hits(self, exc: FormulaParseError) -> list[Hit]:
        return [_parse_hit(exc)] if self.profile.is_enabled(PARSE_FAILED) else []

    def audit(self, text: str) -> tuple[Node | None, list[Hit]]:
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        tree: Node | None = None
        try:
            tree = parse(text)
            hits = self.run_checks(tree, text)
        except FormulaParseError as exc:
            tree, hits = None, self.parse_error_hits(exc)
        except RecursionError:
            tree, hits = None, self.parse_error_hits(_too_deep(text))
        self.cache[text] = (tree, hits)
        return tree, hits

    def audit_cell(self, text: str, row: int, col: int) -> tuple[tuple[Node, int, int] | None, str | None, list[Hit]]:
        """(tree, rows, columns) -- the cell's tree is that tree moved by that distance --, R1C1 pattern
        and hits of the formula in (row, col), reusing an earlier copy. A formula too deep to walk
        gets the parse finding and no tree: the sheet checks then leave it alone."""
        try:
            return self._audit_cell(text, row, col)
        except RecursionError:
            return None, None, self.parse_error_hits(_too_deep(text))

    def _audit_cell(self, text: str, row: int, col: int) -> tuple[tuple[Node, int, int] | None, str | None, list[Hit]]:
        key = copy_key(text, row, col)
        known = self.copies.get(key) if key is not None else None
        if known is not None:
            base_tree, base_row, base_col, pattern, base_hits = known
            dr, dc = row - base_row, col - base_col
            # Formula checks look at shapes, not addresses: a copy gets hits only from the checks
            # that hit its first copy (length aside), rerun for its own addresses in messages and fixes.
            rules = {hit.rule for hit in base_hits}
            if self.max_length is not None and len(text) > self.max_length:
                rules.add("FX11")
            if not rules:
                return (base_tree, dr, dc), pattern, []
            return (base_tree, dr, dc), pattern, self.run_checks(move_tree(base_tree, dr, dc), text, rules)
        parsed, hits = self.audit(text)
        if parsed is None:
            return None, None, hits
        pattern = r1c1_pattern(parsed, row, col)
        if key is not None:
            self.copies[key] = (parsed, row, col, pattern, hits)
        return (parsed, 0, 0), pattern, hits


def audit_formulas(formulas: list[str], profile: PolicyProfile | None = None) -> list[Finding]:
    """Audit formulas without a grid; findings carry ``index`` (position in the list), no cell."""
    with _no_cycle_collection():
        return _audit_formulas(formulas, profile or DEFAULT_PROFILE)


def _audit_formulas(formulas: list[str], profile: PolicyProfile) -> list[Finding]:
    auditor = _FormulaAuditor(profile)
    findings: list[Finding] = []
    for index, text in enumerate(formulas):
        if not isinstance(text, str):
            # Not a formula at all (None, a number from a loosely typed caller): the parse finding.
            hits = auditor.parse_error_hits(FormulaParseError("formula must be text", position=0))
            findings.extend(_finalise(hit, profile, None, index, "") for hit in hits)
            continue
        formula = text if text.startswith("=") else "=" + text
        _, hits = auditor.audit(formula)
        findings.extend(_finalise(hit, profile, None, index, formula) for hit in hits)
    return findings


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    # The audit allocates many small acyclic objects (trees, refs, keys) that reference counting
    # frees; pausing the cycle collector spares repeated scans of the whole grid (~20% of a sheet).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def audit_sheet(sheet: Sheet, profile: PolicyProfile | None = None, *, work_budget: int | None = None) -> list[Finding]:
    """Audit a sheet grid: formula checks on every formula cell plus region and dependency checks.

    Each sheet check may spend ``work_budget`` units of work (default: ``check_budget`` of the
    sheet's size), and all of them together ``SHEET_CHECKS_FACTOR`` times that; a check that stops
    early reports what it found and an FX90 finding naming the part of the sheet it did not check.
    """
    with _no_cycle_collection():
        return _audit_sheet(sheet, profile or DEFAULT_PROFILE, work_budget)


def _audit_sheet(sheet: Sheet, profile: PolicyProfile, work_budget: int | None) -> list[Finding]:
    auditor = _FormulaAuditor(profile)
    cells = cells_of(sheet)
    trees = MovedTrees()
    patterns: dict[tuple[int, int], str] = {}
    per_cell: list[tuple[int, int, Hit]] = []
    formula_keys: list[tuple[int, int]] = []  # row-major, as the cells are read below
    for key, cell in sorted(cells.items()):
        if cell.formula is None:
            continue
        row, col = key
        formula_keys.append(key)  # the grid's own key tuple: per-cell structures share it
        tree, pattern, hits = auditor.audit_cell(cell.formula, row, col)
        per_cell.extend((row, col, hit) for hit in hits)
        if tree is not None and pattern is not None:
            trees.put(key, *tree)
            patterns[key] = pattern
    max_row = max((r for r, _ in cells), default=sheet.origin_row)
    max_col = max((c for _, c in cells), default=sheet.origin_col)
    ctx = SheetContext(sheet.name, cells, trees, patterns, max_row, max_col)
    per_check = check_budget(len(cells)) if work_budget is None else work_budget
    left = SHEET_CHECKS_FACTOR * per_check  # for all the checks of this sheet together
    for rules, check in SHEET_CHECKS:
        if not any(profile.is_enabled(rule) for rule in rules):
            continue
        params = {rule: profile.params(rule) for rule in rules}
        ctx.budget = WorkBudget(min(per_check, left))
        try:
            for cell_hit in check(ctx, params):
                if profile.is_enabled(cell_hit[2].rule):
                    per_cell.append(cell_hit)
        except CheckStopped as stop:
            if profile.is_enabled(CHECK_STOPPED):
                why = (
                    f"at its work budget ({per_check:,} units)"
                    if ctx.budget.limit == per_check
                    else f"at the work budget left to this sheet's checks ({ctx.budget.limit:,} units)"
                )
                per_cell.append(_stopped(ctx, rules, formula_keys, stop.at, why))
        except RecursionError:
            # Trees are at most MAX_DEPTH high, which walkers handle from any ordinary call depth;
            # called from deeper still, a sheet check that moves or prints trees stops there, and
            # says so, rather than failing the whole audit.
            at = ctx.budget.at or (formula_keys[0] if formula_keys else None)
            if at is not None and profile.is_enabled(CHECK_STOPPED):
                per_cell.append(_stopped(ctx, rules, formula_keys, at, "on a formula nested too deeply to walk"))
        left -= min(ctx.budget.spent, ctx.budget.limit)
    findings = []
    for row, col, hit in per_cell:
        source = cells.get((row, col))
        formula = "" if source is None else source.formula or _constant_text(source.value)
        findings.append(_finalise(hit, profile, cell_name(sheet.name, row, col), None, formula))
    findings.sort(key=lambda f: (_sort_key(f.cell), f.rule, f.message))
    return findings


def _stopped(
    ctx: SheetContext, rules: tuple[str, ...], formula_keys: list[tuple[int, int]], at: tuple[int, int], why: str
) -> CellHit:
    # FX90 on the first cell the check did not finish: which check, where it stopped, what is left.
    done = bisect_left(formula_keys, at)
    checks = "/".join(rules)
    titles = ", ".join(CHECKS[rule].title.lower() for rule in rules)
    left = f"rows {at[0]:,}-{ctx.max_row:,}" if at[0] < ctx.max_row else f"row {at[0]:,}"
    message = (
        f"{checks} stopped {why} after {done:,} of {len(formula_keys):,} formula cells: "
        f"from {cell_name(ctx.name, *at)} on ({left} of {ctx.name}) not checked for {titles}"
    )
    return at[0], at[1], Hit(CHECK_STOPPED, message, "audit the rest of the sheet as a smaller range")


def _constant_text(value: Any) -> str:
    return "" if value is None else str(value)


def _sort_key(cell: str | None) -> tuple[int, int]:
    from sheetbrain.engine.refs import parse_a1

    if cell is None:
        return (0, 0)
    return parse_a1(cell.rsplit("!", 1)[1])
