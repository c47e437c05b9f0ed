"""An audit as one self-contained HTML page: the heat map of the audited grid, a chart of the
findings by severity and by rule, the findings table and the policy clauses cited.

Nothing on the page is fetched: the style and the one script are inline and allowed by their
hashes in the Content-Security-Policy, which allows nothing else (``content_security_policy``).
Every piece of user text (formulas, sheet names, messages, policy excerpts) goes through Jinja2's
autoescaping; the script only ever assigns ``textContent``.

Bounded whatever the audit: runs of empty rows and columns are drawn as one, empty cells in a
row as one cell spanning them, so the heat map has at most about two cells per non-empty cell;
the table lists the ``TABLE_LIMIT`` most severe findings with their texts clipped and counts the
rest by severity and rule (the chart counts all of them).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sheetbrain.reporting.grid_map import EMPTY, GridMap, column_letters, split_cell
from sheetbrain.severity import RANK as _RANK
from sheetbrain.severity import SEVERITIES

if TYPE_CHECKING:
    import jinja2

GLYPHS = {"critical": "C", "high": "H", "medium": "M", "low": "L", "info": "i"}
TABLE_LIMIT = 500
# Characters of each text shown in the table (formulas may hold 8,192; excerpts a paragraph).
CLIP = {"formula": 200, "message": 400, "suggestion": 200, "excerpt": 240}
# Runs of at least this many empty rows, or columns, are drawn as one.
GAP_MIN = 2
DASH = "\u2013"  # between the ends of a run: "D\u2013K", "5\u201310"
_HERE = Path(__file__).parent / "templates"


class ReportFinding(NamedTuple):
    cell: str | None
    formula: str
    rule: str
    severity: str
    message: str
    suggestion: str | None
    policy: Mapping[str, Any] | None


@dataclass(frozen=True)
class ReportInput:
    """What the page shows. ``facts``: label and value pairs for its heading (id, date, sheet...)."""

    title: str
    facts: Sequence[tuple[str, str]]
    findings: Sequence[ReportFinding]
    maps: Sequence[GridMap]
    # Where all the findings are, when the table cannot list them all.
    full_listing: str
    summary: Mapping[str, int] = field(default_factory=dict)


class Cell(NamedTuple):
    """A drawn cell of the heat map: ``kind`` f/v/. (or ``""`` when unknown); ``span`` columns;
    ``ref`` and ``severity`` for a flagged cell."""

    kind: str
    span: int
    ref: str | None = None
    severity: str | None = None


class Row(NamedTuple):
    label: str
    gap: int  # > 0: a run of this many empty rows drawn as one
    cells: list[Cell]


class HeatMap(NamedTuple):
    sheet: str
    known: bool
    columns: list[tuple[str, bool]]  # header label, whether a run of empty columns
    rows: list[Row]
    flagged: int


def _runs(occupied: Sequence[int], end: int) -> list[tuple[int, int, bool]]:
    """Indexes 0..end-1 as (start, length, empty run) pieces: every occupied index alone, runs
    of unoccupied ones of at least ``GAP_MIN`` as one piece, shorter runs index by index."""
    out: list[tuple[int, int, bool]] = []
    at = 0
    for i in [*occupied, end]:
        if i - at >= GAP_MIN:
            out.append((at, i - at, True))
        else:
            out.extend((j, 1, False) for j in range(at, i))
        if i < end:
            out.append((i, 1, False))
        at = i + 1
    return out


def heat_map(grid: GridMap, flags: Mapping[tuple[int, int], str]) -> HeatMap:
    """The drawn grid: ``flags`` maps a (row, column) of the sheet to its highest severity."""
    top, left = grid.origin
    inside = {
        (r - top, c - left): s
        for (r, c), s in flags.items()
        if 0 <= r - top < grid.height and 0 <= c - left < grid.width
    }
    row_has = {i for i, kinds in enumerate(grid.rows) if kinds}
    col_has: set[int] = set()
    for kinds in grid.rows:
        col_has.update(j for j, k in enumerate(kinds) if k != EMPTY)
    row_has.update(i for i, _ in inside)
    col_has.update(j for _, j in inside)
    col_runs = _runs(sorted(col_has), grid.width)
    letters = [column_letters(left + j) for j, _, _ in col_runs]
    columns = [
        (f"{letters[k]}{DASH}{column_letters(left + j + n - 1)}" if gap else letters[k], gap)
        for k, (j, n, gap) in enumerate(col_runs)
    ]
    blank = "." if grid.known else ""
    rows: list[Row] = []
    for i, n, gap in _runs(sorted(row_has), grid.height):
        if gap:
            rows.append(Row(f"{top + i}{DASH}{top + i + n - 1}", n, [Cell(blank, len(col_runs))]))
            continue
        kinds = grid.rows[i] if i < len(grid.rows) else ""
        label = str(top + i)
        cells: list[Cell] = []
        empties = 0  # empty cells waiting to be drawn as one
        for k, (j, _, col_gap) in enumerate(col_runs):
            severity = None if col_gap else inside.get((i, j))
            kind = EMPTY if col_gap or j >= len(kinds) else kinds[j]
            if severity is None and kind == EMPTY:
                empties += 1
                continue
            if empties:
                cells.append(Cell(blank, empties))
                empties = 0
            kind = kind if kind != EMPTY else blank
            cells.append(Cell(kind, 1, letters[k] + label, severity) if severity else Cell(kind, 1))
        if empties:
            cells.append(Cell(blank, empties))
        rows.append(Row(label, 0, cells))
    return HeatMap(grid.sheet, grid.known, columns, rows, len(inside))


def _clip(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TableRow(NamedTuple):
    i: int
    rank: int
    finding: ReportFinding
    formula: str
    message: str
    suggestion: str
    excerpt: str


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float
    y: int
    severity: str


def _bars(counts: Sequence[tuple[str, int, str]], scale: float) -> list[Bar]:
    return [Bar(label, n, round(n * scale, 1), 26 * k, sev) for k, (label, n, sev) in enumerate(counts)]


def _view(report: ReportInput) -> dict[str, Any]:
    findings = report.findings
    by_severity = Counter(f.severity for f in findings)
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for f in findings:
        rules[f.rule][f.severity] += 1
    worst_of_rule = {rule: min(c, key=lambda s: _RANK.get(s, len(SEVERITIES))) for rule, c in rules.items()}
    rule_counts = sorted(((r, sum(c.values()), worst_of_rule[r]) for r, c in rules.items()),
                         key=lambda x: (_RANK.get(x[2], 9), -x[1], x[0]))  # fmt: skip
    top = max([n for _, n, _ in rule_counts] + [by_severity[s] for s in SEVERITIES] + [1])
    scale = 220 / top

    order = sorted(range(len(findings)), key=lambda i: (_RANK.get(findings[i].severity, 9), i))
    listed = order[:TABLE_LIMIT]
    left_out = Counter((findings[i].severity, findings[i].rule) for i in order[TABLE_LIMIT:])
    table = [
        TableRow(i, _RANK.get(f.severity, 9), f, _clip(f.formula, CLIP["formula"]), _clip(f.message, CLIP["message"]),
                 _clip(f.suggestion, CLIP["suggestion"]), _clip((f.policy or {}).get("excerpt"), CLIP["excerpt"]))
        for i in listed
        for f in (findings[i],)
    ]  # fmt: skip
    citations = {f.rule: f.policy for f in findings if f.policy}

    worst: dict[str, dict[tuple[int, int], str]] = defaultdict(dict)
    for f in findings:
        where = split_cell(f.cell) if f.cell else None
        if where is None:
            continue
        sheet, at = where
        held = worst[sheet].get(at)
        if held is None or _RANK.get(f.severity, 9) < _RANK.get(held, 9):
            worst[sheet][at] = f.severity
    maps = [heat_map(grid, worst.get(grid.sheet, {})) for grid in report.maps]
    return {
        "report": report,
        "severities": SEVERITIES,
        "glyphs": GLYPHS,
        "by_severity": by_severity,
        "severity_bars": _bars([(s, by_severity[s], s) for s in SEVERITIES], scale),
        "rule_bars": _bars(rule_counts, scale),
        "maps": maps,
        "table": table,
        "left_out": sorted(left_out.items(), key=lambda x: (_RANK.get(x[0][0], 9), x[0][1])),
        "left_out_total": sum(left_out.values()),
        "citations": sorted(citations.items()),
        "table_limit": TABLE_LIMIT,
    }


class _Assets(NamedTuple):
    css: str
    script: str
    policy: str


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def _assets() -> _Assets:
    css = (_HERE / "report.css").read_text(encoding="utf-8")
    script = (_HERE / "report.js").read_text(encoding="utf-8")
    policy = (
        f"default-src 'none'; style-src {_digest(css)}; script-src {_digest(script)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    return _Assets(css, script, policy)


def content_security_policy() -> str:
    """The header's policy: the page's own style and script by hash, nothing external.
    (``frame-ancestors`` works only as a header, so the page's meta copy leaves it out.)"""
    return _assets().policy + "; frame-ancestors 'none'"


@cache
def _template() -> jinja2.Template:
    import jinja2  # loaded with the first report: the audit function's other routes never need it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render(report: ReportInput) -> str:
    """The page, as one string."""
    from markupsafe import Markup

    assets = _assets()
    # The style and script are this package's own files (no user text), inlined as they are.
    style, script = Markup(assets.css), Markup(assets.script)  # noqa: S704
    return _template().render(css=style, script=script, policy=assets.policy, **_view(report))
