"""Bounded work: each batch is one short transaction, timed, and a run stops starting new
batches once its time budget is spent (the next scheduled run continues where it stopped:
a scan over organizations from where its cursor was left, sql/0013)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from sheetbrain.config import get_settings
from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.observability import logger

T = TypeVar("T")


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

    def deadline(self) -> float:
        """The ``time.monotonic()`` at which the run's budget is spent."""
        return self._started + self._budget_s

    def summary(self) -> dict[str, Any]:
        return {"batches": self.batches, "longest_batch_ms": round(self.longest_ms, 1)}


class Scan:
    """A task's pass over keys in ascending order (org ids, or (org, feature) pairs) that
    starts after the key where the previous run stopped, runs to the last key, then wraps
    around to the first and ends at the key it started after. The cursor moves with each key
    done, in the transaction that did it, so a run cut short by its budget, a timeout or an
    error goes on from there; a whole pass leaves it at the start. Keys are compared by the
    database alone (fetch gets the bounds), in its collation."""

    def __init__(self, task: str, origin: Any) -> None:
        """``origin``: a key below every key ("" or ("", ""))."""
        with system_transaction() as conn:
            stored = maintenance_repo.task_cursor(conn, task)
        if stored is not None and not _same_shape(stored, origin):
            logger.warning("task cursor of another shape ignored", task=task, cursor=stored)
            stored = None
        self._task = task
        self._origin = origin
        self._start = origin if stored is None else (tuple(stored) if isinstance(origin, tuple) else stored)
        self._wrapped = False
        self.after = self._start
        self.complete = False

    def page(self, fetch: Callable[[Any, Any], list[T]]) -> list[T]:
        """The next items: ``fetch(after, until)`` returns those after the key ``after`` and, when
        ``until`` is not None, up to and including it, in key order. [] once the pass is done."""
        while True:
            items = fetch(self.after, self._start if self._wrapped else None)
            if items:
                return items
            if self._wrapped or self._start == self._origin:  # from the origin, one lap is the pass
                self.complete = True
                return []
            self._wrapped, self.after = True, self._origin

    def done(self, conn: psycopg.Connection, key: Any) -> None:
        """The items up to ``key`` are done, in ``conn``'s transaction: the cursor moves with it."""
        self.after = key
        maintenance_repo.save_task_cursor(conn, self._task, key)

    def finish(self) -> None:
        """After the last page: a whole pass done, the next starts from the beginning."""
        if self.complete:
            with system_transaction() as conn:
                maintenance_repo.save_task_cursor(conn, self._task, self._origin)


def _same_shape(stored: Any, origin: Any) -> bool:
    if isinstance(origin, tuple):
        return isinstance(stored, list) and len(stored) == len(origin) and all(isinstance(k, str) for k in stored)
    return isinstance(stored, str)
