"""Bounded work: each batch is one short transaction, timed, and a run stops starting new
batches once its time budget is spent (the next scheduled run continues where it stopped)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sheetbrain.config import get_settings


class BatchClock:
    """Times each batch of a task run and tells when the run's time budget is spent."""

    def __init__(self, budget_s: float | None = None) -> None:
        self._started = time.monotonic()
        self._budget_s = budget_s if budget_s is not None else get_settings().task_time_budget_s
        self.batches = 0
        self.longest_ms = 0.0

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Time one batch (wrap the whole transaction, commit included)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.batches += 1
            self.longest_ms = max(self.longest_ms, elapsed_ms)

    def spent(self, share: float = 1.0) -> bool:
        """True once the run should stop starting new batches (of a phase that may use only
        ``share`` of the budget, leaving the rest to a later phase)."""
        return time.monotonic() - self._started >= self._budget_s * share

    def summary(self) -> dict[str, Any]:
        return {"batches": self.batches, "longest_batch_ms": round(self.longest_ms, 1)}
