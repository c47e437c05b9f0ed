"""Work budgets of the sheet checks: units of work counted, never timed, so results are deterministic.

A sheet check spends units as it goes (a cell visited, a reference read, a dependency edge made).
When its budget runs out it stops with ``CheckStopped`` naming the first cell it did not finish;
the engine keeps what the check found before that and reports the rest of the sheet as not
checked (finding FX90), so nothing is skipped silently.
"""

from __future__ import annotations

# Units one sheet check may spend on one sheet. A unit is about a microsecond and 100 bytes at
# most (a reference read, an edge of the dependency graph): 4,000,000 keeps each check of a sheet
# the API accepts within seconds and tens of megabytes (README, "Limits"), while the 200,000-formula
# sheets of bench/engine_scale.py are checked whole (1.0-1.6 million units for the largest check).
SHEET_CHECK_BUDGET = 4_000_000


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
