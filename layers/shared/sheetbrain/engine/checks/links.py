"""FX41: a typed number where the link beside it, copied, would be: a link pasted as its value.

A row of a summary that opens with a link to another row (``D57 =D29``) and goes on with typed
numbers equal to that row's cells (``E57`` 855, the value of ``E29``; ``F57`` 740, that of
``F29``) was copied across as values: ``D57`` follows ``D29``, the others keep today's figures.
The same holds down a column.

Rationale: CUSTODES' "missing formula" smell and a pasted value (Panko's mechanical errors), made
specific by exact agreement: the figure is the very value of the cell the link, copied there,
would read. Only a link to another line counts (``=D29`` copied along row 57; one to its own line,
``=+D193`` beside ``D193``, makes two equal figures side by side, which are common), and only the
figures after it (right of it in a row, below it in a column): a figure before a link is a seed
or a worked example. Zero agrees with too much to count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from sheetbrain.engine.checks.formula import Hit, Params
from sheetbrain.engine.evaluate import MATERIALITY, figure
from sheetbrain.engine.refs import a1
from sheetbrain.engine.regions import cells_read, structure_of

if TYPE_CHECKING:
    from sheetbrain.engine.checks.context import CellHit, SheetContext


def check_pasted_links(ctx: SheetContext, params: Mapping[str, Params]) -> Iterator[CellHit]:
    """FX41: see the module docstring. Work: one unit per formula, one per cell walked after a link."""
    reported: set[tuple[int, int]] = set()  # a figure right of one link and below another: once
    for (row, col), pattern in sorted(ctx.patterns.items()):
        ctx.budget.spend(1, (row, col))
        if structure_of(pattern) is not None or "!" in pattern or ":" in pattern:
            continue  # a computation, a link to another sheet or to a range
        [(target_row, target_col, relative_row, relative_col)] = cells_read(pattern, row, col)
        for dr, dc in ((0, 1), (1, 0)):
            if (dr == 0 and target_row == row) or (dc == 0 and target_col == col):
                continue  # a link to its own line
            step = 1
            while True:
                ctx.budget.spend(1, (row, col))
                at = (row + step * dr, col + step * dc)
                cell = ctx.cells.get(at)
                read = (
                    target_row + (step * dr if relative_row else 0),
                    target_col + (step * dc if relative_col else 0),
                )
                source = ctx.cells.get(read)
                typed = figure(cell) if cell is not None and cell.is_number else None
                value = figure(source)
                # A value pasted keeps its digits: no allowance for rounding (1 is not 0.6).
                if not typed or value is None or not math.isclose(typed, value, rel_tol=MATERIALITY):
                    break
                step += 1
                if at in reported:
                    continue
                reported.add(at)
                yield (
                    at[0],
                    at[1],
                    Hit(
                        "FX41",
                        f"typed value equals {a1(*read)}, which the link in {a1(row, col)} "
                        f"({ctx.cells[(row, col)].formula}) would read copied here: a link pasted as its value "
                        f"does not follow {a1(*read)}",
                        f"={a1(*read)}",
                    ),
                )
