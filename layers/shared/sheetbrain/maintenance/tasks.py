"""The task registry of the cleanup function, ``{"task": name}`` → a JSON summary: one explicit
mapping; the task modules know nothing of it.

Each task takes a per-task advisory lock (``pg_try_advisory_lock``) so a second concurrent run
returns at once with ``"skipped": "already running"`` instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from sheetbrain.db.connection import get_pool, translate_errors
from sheetbrain.errors import ValidationError
from sheetbrain.maintenance import alerts, cleanup, purge, reembed, retention, rollup
from sheetbrain.observability import logger, metrics

TaskFn = Callable[[], dict[str, Any]]
# The name each EventBridge rule passes (template.yaml, CleanupFunction's schedules) → its task.
# A new task: its module here, an entry below, a schedule in the template.
TASKS: Mapping[str, TaskFn] = {
    "cleanup": cleanup.cleanup,
    "retention": retention.retention,
    "rollup": rollup.rollup,
    "alerts": alerts.alerts,
    "purge": purge.purge,
    "reembed": reembed.reembed,
}


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"sheetbrain-task:{name}".encode()).digest()[:8], "big", signed=True)


def run_task(name: str) -> dict[str, Any]:
    """Run one task under its advisory lock and return its summary."""
    fn = TASKS.get(name)
    if fn is None:
        raise ValidationError(f"Unknown task {name!r}.", details={"field": "task", "known": sorted(TASKS)})
    started = time.perf_counter()
    # A session-level lock on a connection of its own: the task's batches commit separately,
    # and a second run (overlapping schedule, manual invoke) returns at once.
    with translate_errors(), get_pool(system=True).connection() as conn:
        conn.autocommit = True
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(name),)).fetchone()
        if not locked or not locked[0]:
            return {"task": name, "skipped": "already running"}
        try:
            summary = fn()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(name),))
            conn.autocommit = False
    duration_ms = int((time.perf_counter() - started) * 1000)
    metrics.add_metric(name=f"Task.{name}.DurationMs", unit="Milliseconds", value=duration_ms)
    logger.info("task finished", task=name, duration_ms=duration_ms)
    return {"task": name, "duration_ms": duration_ms, **summary}
