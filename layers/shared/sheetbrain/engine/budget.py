"""Work budgets of the sheet checks: units of work counted, never timed, so results are deterministic.

A sheet check spends units as it goes (a cell visited, a reference read, a dependency edge made).
When its budget runs out it stops with ``CheckStopped`` naming the first cell it did not finish;
the engine keeps what the check found before that and reports the rest of the sheet as not
checked (finding FX90), so nothing is skipped silently.
"""

from __future__ import annotations

# What one unit costs, measured on the checks (bench/engine_scale.py's sheets, one core of the
# development machine): 0.8-2.8 microseconds and at most ~100 bytes (a reference read, an edge or
# a node of the dependency graph, a cell walked).
#
# A check may spend UNITS_PER_CELL per non-empty cell of the sheet, and never less than
# SHEET_CHECK_BUDGET: linear checks never stop (the largest, FX26, spends 4-5 units per formula
# cell), while work that grows faster than the sheet (a range walked per copy) is cut off at a
# size-proportional amount. All the checks of one sheet together may spend SHEET_CHECKS_FACTOR
# check budgets: whatever a hostile grid does, the sheet checks of an API request (README,
# "Limits") stay within 6,000,000 units, a few seconds.
SHEET_CHECK_BUDGET = 2_000_000
UNITS_PER_CELL = 16
SHEET_CHECKS_FACTOR = 3


def check_budget(cells: int) -> int:
    """The work budget of one sheet check on a sheet of ``cells`` non-empty cells."""
    return max(SHEET_CHECK_BUDGET, UNITS_PER_CELL * cells)


class CheckStopped(Exception):  # a signal the engine turns into FX90, not an error: no Error suffix
    """A sheet check used up its work budget; ``at`` is the first (row, col) it did not finish."""

    def __init__(self, at: tuple[int, int]) -> None:
        super().__init__(f"work budget used up at {at}")
        self.at = at


class WorkBudget:
    """The units a check may still spend; ``spend`` raises ``CheckStopped`` once they run out."""

    __slots__ = ("at", "left", "limit")

    def __init__(self, limit: int = SHEET_CHECK_BUDGET) -> None:
        self.limit = limit
        self.left = limit
        self.at: tuple[int, int] | None = None  # the cell last spent on: where a check that fails was

    def spend(self, units: int, at: tuple[int, int]) -> None:
        """Spend ``units`` on the cell ``at``; raises ``CheckStopped(at)`` when the budget is exceeded."""
        self.at = at
        self.left -= units
        if self.left < 0:
            raise CheckStopped(at)

    @property
    def spent(self) -> int:
        """Units spent so far."""
        return self.limit - self.left
