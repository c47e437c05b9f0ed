"""Region analysis: runs of cells along rows and columns that should hold copies of one formula.

A *segment* is a maximal run of non-empty numeric/formula cells in one row or column. Inside it,
formulas are grouped by *structure* (the R1C1 pattern with reference offsets blanked out): the most
common structure that appears in at least two adjacent cells defines the region. Cells inside the
region's span that break it are deviations: a copy whose offsets differ (a range that slipped by a
row), another computation wedged between copies, or a typed number where a copy belongs.

When a clear majority of the copies (and typed numbers standing in for copies) shares one pattern
only the deviations are reported; when no pattern dominates the region as a whole is inconsistent
and all of it is reported, because one cannot tell which half is wrong (this is how the labelled
corpora mark such errors). Other computations interleaved with the copies (a rate row between
count rows) do not vote, and a relative reference that points at the same cell from every copy
(``=B35/B42``, ``=B36/B42``...) counts as the absolute reference it stands for.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from sheetbrain.engine.grid import Cell
from sheetbrain.engine.vocabulary import RANGE_AGGREGATES

_OFFSET_RE = re.compile(r"([RC])(\[-?\d+\]|\d+)?")
# A bare link: one reference (a cell or a range, maybe on another sheet), nothing computed.
_ADDR = r"R(?:\[-?\d+\]|\d+)?C(?:\[-?\d+\]|\d+)?"
_LINK_RE = re.compile(rf"\+?(?:'(?:[^']|'')*'!|[\w.]+!)?{_ADDR}(?::{_ADDR})?")
# An R1C1 structure that starts with a call of an aggregate (the sheet checks' list: one list for both).
_AGGREGATE_RE = re.compile(rf"(?:{'|'.join(sorted(RANGE_AGGREGATES))})\(")
CLEAR_MAJORITY = 0.75
TYPED_LINE_SHARE = 0.25  # typed values must be this share of a line for the whole line to be suspect
# One R1C1 cell address; the groups are its row and column parts (absent, [offset] or absolute).
_R1C1_PART = r"R(\[-?\d+\]|\d+)?C(\[-?\d+\]|\d+)?"
_QUALIFIED_RE = re.compile(rf"(?:'(?:[^']|'')*'|[A-Za-z_][\w.]*)!{_R1C1_PART}(?::{_R1C1_PART})?")
_PART_RE = re.compile(_R1C1_PART)
# One cell address standing alone (not inside a name such as SEARCH).
_CELL_PART_RE = re.compile(rf"(?<![A-Za-z_]){_R1C1_PART}(?![A-Za-z_(])")
_MOVES_ALONG = {"column": re.compile(r"R\[-?\d+\]"), "row": re.compile(r"C\[-?\d+\]")}
# A chain of relative cell addresses joined by ``+`` (``R[1]C+R[2]C+R[3]C``, a leading ``+`` allowed).
_RELATIVE = r"R(?:\[(-?\d+)\])?C(?:\[(-?\d+)\])?"
_PLUS_CHAIN_RE = re.compile(rf"\+?{_RELATIVE}(?:\+{_RELATIVE})+")
_RELATIVE_RE = re.compile(_RELATIVE)
# A cell or a range of a resolved pattern (absolute R<row>C<col>), not one on another sheet.
_BOX_RE = re.compile(r"(?<![!\w])R(\d+)C(\d+)(?::R(\d+)C(\d+))?")


@dataclass(frozen=True)
class Deviation:
    """A cell that breaks the region it sits in."""

    row: int
    col: int
    kind: str  # "pattern" | "constant" | "inconsistent-region" | "typed-line" | "trailing-constant"
    expected: str  # the region's R1C1 pattern
    example: tuple[int, int]  # a cell holding the expected pattern
    axis: str  # "row" | "column"
    copies: int  # formulas of the region's shape in the run (the line's formulas for "typed-line")


def structure_of(pattern: str) -> str | None:
    """R1C1 pattern with offsets reduced to their sign: ``SUM(R[-5]C:R[-1]C)`` -> ``SUM(R[-]C:R[-]C)``.

    ``None`` for bare links (``=Other!B5``): they copy values, their offsets carry no pattern.
    """
    try:
        return _STRUCTURES[pattern]
    except KeyError:
        pass
    structure = None if _LINK_RE.fullmatch(pattern) else _OFFSET_RE.sub(_direction, pattern)
    if len(_STRUCTURES) >= _MAX_STRUCTURES:  # copies share patterns; the bound only guards memory
        _STRUCTURES.clear()
    _STRUCTURES[pattern] = structure
    return structure


_STRUCTURES: dict[str, str | None] = {}
_MAX_STRUCTURES = 50_000


def _direction(m: re.Match[str]) -> str:
    # Keep only the sign of a relative offset, so a column sum and a row sum stay different shapes.
    axis, offset = m.group(1), m.group(2)
    if offset is None:
        return axis
    if offset.startswith("["):
        return f"{axis}[-]" if offset.startswith("[-") else f"{axis}[+]"
    return f"{axis}$"


def segments(cells: dict[tuple[int, int], Cell], axis: str) -> Iterator[list[Cell]]:
    """Maximal runs of adjacent numeric-or-formula cells along rows (``axis="row"``) or columns."""
    lines: dict[int, list[Cell]] = {}
    for cell in cells.values():
        if cell.is_formula or cell.is_number:
            key = cell.row if axis == "row" else cell.col
            lines.setdefault(key, []).append(cell)
    for key in sorted(lines):
        line = sorted(lines[key], key=lambda c: c.col if axis == "row" else c.row)
        run: list[Cell] = []
        last = None
        for cell in line:
            pos = cell.col if axis == "row" else cell.row
            if last is not None and pos != last + 1:
                if len(run) >= 2:
                    yield run
                run = []
            run.append(cell)
            last = pos
        if len(run) >= 2:
            yield run


def _deviations_in(
    run: list[Cell], patterns: dict[tuple[int, int], str], axis: str, min_region: int
) -> list[Deviation]:
    keys = _sums_as_written([patterns.get((c.row, c.col)) if c.is_formula else None for c in run])
    structures = [structure_of(k) if k is not None else None for k in keys]
    keys = [k if s is not None else None for k, s in zip(keys, structures, strict=True)]
    adjacent = Counter(
        structures[i] for i in range(len(run) - 1) if structures[i] is not None and structures[i] == structures[i + 1]
    )
    if not adjacent:
        return []
    region = max(adjacent, key=lambda s: (adjacent[s], s))
    members = [i for i, s in enumerate(structures) if s == region]
    keys = _anchor_fixed_targets(run, keys, members)
    first, last = members[0], members[-1]
    span = range(first, last + 1)
    if len(members) < min_region or len(members) < 0.5 * len(span):
        return []
    pattern_counts = Counter(keys[i] for i in members)
    expected, expected_count = max(pattern_counts.items(), key=lambda kv: (kv[1], kv[0] or ""))
    example_cell = run[next(i for i in members if keys[i] == expected)]
    example = (example_cell.row, example_cell.col)
    found: list[Deviation] = []
    for i in span:
        cell = run[i]
        if keys[i] == expected or _reads_as(keys[i], expected, cell):
            continue
        if structures[i] == region:
            kind = "pattern"
        elif cell.is_number:
            kind = "constant"
        else:
            # Another computation wedged between copies (both neighbours are copies) breaks the run.
            if not (structures[i - 1] == region and structures[i + 1] == region):
                continue
            kind = "pattern"
        found.append(Deviation(cell.row, cell.col, kind, expected or "", example, axis, len(members)))
    # A formula just past either end of the copies that computes the same over other cells (its
    # references moved out of the region's shape) is a copy that slipped, not another computation.
    for i in (first - 1, last + 1):
        key = keys[i] if 0 <= i < len(run) else None
        if (
            key is not None
            and expected is not None
            and key != expected
            and skeleton_of(key) == skeleton_of(expected)
            and not _reads_as(key, expected, run[i])
            and not _reads_any(key, run[i], [run[m] for m in members])
        ):
            found.append(Deviation(run[i].row, run[i].col, "pattern", expected, example, axis, len(members)))
    # A typed number just past the copies (below a column's, right of a row's) may be a copy pasted
    # as its value or the line's own figure (a total typed in): the caller compares it with the
    # copy's result. One just before them is not asked: a typed seed starts many a computed series.
    after = last + 1
    trailing = (
        [Deviation(run[after].row, run[after].col, "trailing-constant", expected or "", example, axis, len(members))]
        if after < len(run) and run[after].is_number
        else []
    )
    if not found:
        return trailing
    # The majority is counted among the copies and the typed numbers that stand in for them: other
    # computations interleaved in the line (a rate row between count rows) are layout, not votes.
    typed = [i for i in span if run[i].is_number]
    if len(pattern_counts) == 1 and not typed:
        return found + trailing if expected_count / len(span) >= CLEAR_MAJORITY else []
    if expected_count / (len(members) + len(typed)) >= CLEAR_MAJORITY:
        return found + trailing
    if region is None or not _AGGREGATE_RE.match(region):
        return []
    # Totals that aggregate the block beside them but disagree on its extent: the whole run is suspect.
    # Other computations in the run (a ratio or an average beside the totals) are layout, not part
    # of the disagreement: only the copies of the aggregate and typed values are reported.
    return [
        Deviation(run[i].row, run[i].col, "inconsistent-region", expected or "", example, axis, len(members))
        for i in span
        if structures[i] == region or run[i].is_number
    ]


def _reads_any(key: str, cell: Cell, copies: list[Cell]) -> bool:
    # Whether the formula ``key`` at ``cell`` reads one of ``copies``: a total of the copies
    # themselves (=SUM(C4:F4) after column totals C4:F4) is computed from them, not one that slipped.
    for m in _BOX_RE.finditer(resolved(key, cell.row, cell.col)):
        r1, c1 = int(m.group(1)), int(m.group(2))
        r2, c2 = (int(m.group(3)), int(m.group(4))) if m.group(3) else (r1, c1)
        r1, r2 = sorted((r1, r2))
        c1, c2 = sorted((c1, c2))
        if any(r1 <= copy.row <= r2 and c1 <= copy.col <= c2 for copy in copies):
            return True
    return False


def _sums_as_written(keys: list[str | None]) -> list[str | None]:
    # ``=D17+D18+D19`` among copies of ``=SUM(B17:B19)`` is the same total written out: where the
    # run holds that SUM's pattern, the chain counts as it (a copy), so a total beside them that adds
    # other rows is one break of a region of totals, not a line of unrelated formulas.
    written = {key for key in keys if key is not None}
    out = list(keys)
    for i, key in enumerate(keys):
        summed = as_sum(key) if key is not None else None
        if summed in written:
            out[i] = summed
    return out


def as_sum(pattern: str) -> str | None:
    """The SUM pattern of a ``+`` chain of adjacent relative cells in one line, else ``None``:
    ``R[1]C+R[2]C+R[3]C`` (in any order) -> ``SUM(R[1]C:R[3]C)``."""
    if not _PLUS_CHAIN_RE.fullmatch(pattern):
        return None
    parts = sorted((int(m.group(1) or 0), int(m.group(2) or 0)) for m in _RELATIVE_RE.finditer(pattern))
    (r1, c1), (r2, c2) = parts[0], parts[-1]
    down = [(r1 + i, c1) for i in range(len(parts))]
    along = [(r1, c1 + i) for i in range(len(parts))]
    if parts not in (down, along):
        return None
    return f"SUM({_relative(r1, c1)}:{_relative(r2, c2)})"


def _relative(dr: int, dc: int) -> str:
    return f"R{f'[{dr}]' if dr else ''}C{f'[{dc}]' if dc else ''}"


def _target(offset: str | None, here: int) -> str:
    if offset is None:
        return str(here)
    return str(here + int(offset[1:-1])) if offset.startswith("[") else offset


def _anchor_fixed_targets(run: list[Cell], keys: list[str | None], members: list[int]) -> list[str | None]:
    # A relative reference that points at the same cell from every copy (``=B35/B42`` copied down
    # by hand to ``=B36/B42``...) is an absolute reference written without ``$``: compare copies
    # with that reference pinned to its cell, so they count as one pattern. A clear majority
    # (``CLEAR_MAJORITY``) pointing at one cell pins it too: the copy that reads another cell there
    # is then the one that slipped (``=B39/B41`` among copies of ``=B../B42``).
    patterns = [keys[i] for i in members]
    if len(members) < 2 or len(set(patterns)) == 1 or any(p is None for p in patterns):
        return keys
    parts = [list(_PART_RE.finditer(p or "")) for p in patterns]
    if len({len(found) for found in parts}) != 1:
        return keys
    # Pinned: an address whose text varies among the copies while a clear majority of them read
    # one cell through it; the copies that read another cell there (one that slipped) keep theirs.
    pinned: dict[int, tuple[str, str]] = {}
    for k in range(len(parts[0])):
        targets = Counter(
            (_target(m[k].group(1), run[i].row), _target(m[k].group(2), run[i].col))
            for i, m in zip(members, parts, strict=True)
        )
        cell, count = targets.most_common(1)[0]
        if count >= CLEAR_MAJORITY * len(members) and len({m[k].group(0) for m in parts}) > 1:
            pinned[k] = cell
    if not pinned:
        return keys
    out = list(keys)
    for i, found in zip(members, parts, strict=True):
        text = keys[i] or ""
        for k in sorted(pinned, reverse=True):
            m = found[k]
            row, col = _target(m.group(1), run[i].row), _target(m.group(2), run[i].col)
            if (row, col) == pinned[k]:
                text = f"{text[: m.start()]}R{row}C{col}{text[m.end() :]}"
        out[i] = text
    return out


def resolved(pattern: str, row: int, col: int) -> str:
    """An R1C1 pattern with each cell address written as the cell it reads from (row, col): what a
    formula there reads, whatever its ``$`` signs (``RC[-1]/R[4]C`` at row 6, column 3 ->
    ``R6C2/R10C3``; ``RC[-1]/R10C`` there too)."""
    return _CELL_PART_RE.sub(lambda m: f"R{_target(m.group(1), row)}C{_target(m.group(2), col)}", pattern)


def cells_read(pattern: str, row: int, col: int) -> list[tuple[int, int, bool, bool]]:
    """Each cell address of an R1C1 pattern (not ranges' whole rows or columns, nor text in quotes)
    at (row, col): the row and column it reads, and whether each is relative (moves with a copy:
    ``R``/``C`` alone or with an offset, not a ``$``-fixed number)."""
    return [
        (int(_target(r, row)), int(_target(c, col)), _relative_part(r), _relative_part(c))
        for r, c in (m.groups() for m in _CELL_PART_RE.finditer(without_strings(pattern)))
    ]


def _relative_part(part: str | None) -> bool:
    return part is None or part.startswith("[")


def without_strings(pattern: str) -> str:
    """An R1C1 pattern with the text of its string literals dropped (``N("R1C1 h:mm")`` ->
    ``N("")``): what is quoted reads no cell and names no sheet or range."""
    return _STRING_RE.sub('""', pattern) if '"' in pattern else pattern


_STRING_RE = re.compile(r'"(?:[^"]|"")*"')


def _reads_as(key: str | None, expected: str | None, cell: Cell) -> bool:
    # The same computation over the same cells as the region's copy would be here, written with
    # other ``$`` signs (``=B5/C$10`` where the copies read ``C10`` by relative references): no
    # break; the signs only matter to a copy made from this cell.
    if key is None or expected is None:
        return False
    return resolved(key, cell.row, cell.col) == resolved(expected, cell.row, cell.col)


def pinned_cells(pattern: str, expected: str) -> set[tuple[int, int]]:
    """The cells a region's ``expected`` pattern pins that ``pattern`` (one of its copies, as
    written) reads by relative references: the copies all point at them, so a copy made
    elsewhere reads them too (see ``_anchor_fixed_targets``)."""
    mine, theirs = list(_PART_RE.finditer(pattern)), list(_PART_RE.finditer(expected))
    if len(mine) != len(theirs):
        return set()
    return {
        (int(t.group(1)), int(t.group(2)))
        for m, t in zip(mine, theirs, strict=True)
        if m.group(0) != t.group(0) and (t.group(1) or "").isdigit() and (t.group(2) or "").isdigit()
    }


def skeleton_of(pattern: str) -> str:
    """An R1C1 pattern with every address blanked to ``R`` (whole rows and columns too) and sheet
    names dropped: what a formula computes, not where (``SUM(R[-3]C:R[-1]C)/R1C`` -> ``SUM(R:R)/R``)."""
    return _ANY_PART_RE.sub("R", _SHEET_RE.sub("", pattern))


_SHEET_RE = re.compile(r"(?:'(?:[^']|'')*'|[A-Za-z_][\w.]*)!(?=[RC])")
# A cell (R..C..), or a whole row or column (R.. / C.. alone) of an R1C1 pattern.
_ANY_PART_RE = re.compile(
    r"(?<![A-Za-z_])(?:R(?:\[-?\d+\]|\d+)?C(?:\[-?\d+\]|\d+)?|[RC](?:\[-?\d+\]|\d+)?)(?![A-Za-z_(])"
)


def is_aggregate(structure: str) -> bool:
    """Whether an R1C1 structure is an aggregate over a range (a total, an average...)."""
    return bool(_AGGREGATE_RE.match(structure))


def per_line(pattern: str, axis: str) -> bool:
    """Whether a formula copied along ``axis`` reads only its own line of this sheet.

    Copied down a column it reads cells of its own row (``RC[-2]*RC[-1]``); copied along a row it
    reads its own column (``SUM(R[-9]C:R[-1]C)``). Such a formula computes every cell of the line
    the same way, so a typed number in that line is a result someone typed over.
    """
    local = _QUALIFIED_RE.sub("", pattern)
    return bool(_PART_RE.search(local)) and not _MOVES_ALONG[axis].search(local)


def _typed_line(run: list[Cell], patterns: dict[tuple[int, int], str], axis: str) -> list[Deviation]:
    # A run whose formulas are all copies of one per-line computation, with typed numbers among
    # them: the line is half computed, half typed, and one cannot tell which part is stale.
    formulas = [c for c in run if c.is_formula]
    constants = [c for c in run if c.is_number]
    keys = {patterns.get((c.row, c.col)) for c in formulas}
    if len(formulas) < 2 or len(constants) < TYPED_LINE_SHARE * len(run) or len(keys) != 1:
        return []  # a lone typed value among many copies is a typed-over cell (see _deviations_in)
    (expected,) = keys
    if expected is None or structure_of(expected) is None or not per_line(expected, axis):
        return []
    example = (formulas[0].row, formulas[0].col)
    return [Deviation(c.row, c.col, "typed-line", expected, example, axis, len(formulas)) for c in run]


def find_deviations(
    cells: dict[tuple[int, int], Cell], patterns: dict[tuple[int, int], str], min_region: int = 3
) -> list[Deviation]:
    """Cells that break the formula region around them, along rows and along columns.

    A region needs ``min_region`` copies of its shape (typed lines excepted: their share of typed
    values decides); each deviation carries its region's count so callers can ask for more per rule.
    """
    out: list[Deviation] = []
    for axis in ("row", "column"):
        for run in segments(cells, axis):
            out.extend(_typed_line(run, patterns, axis) or _deviations_in(run, patterns, axis, min_region))
    return out
