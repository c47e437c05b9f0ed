"""BatchClock: a run's time budget, and a phase's share of it."""

from __future__ import annotations

import time

from sheetbrain.maintenance.batches import BatchClock


def test_a_phase_share_is_spent_before_the_whole_budget() -> None:
    # Given a run 60 ms into a 10 s budget
    clock = BatchClock(budget_s=10)
    time.sleep(0.06)
    # Then a phase allowed 0.5% of it (50 ms) must stop, while the run as a whole may go on
    assert clock.spent(0.005)
    assert not clock.spent()
