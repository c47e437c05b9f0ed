"""Receive a verified provider event exactly once.

Recording the delivery and applying it commit in one transaction: a crash before the commit
leaves nothing (the provider retries), after it leaves both. A redelivery of a processed event
changes nothing. A transient fault (database unavailable) propagates as a 5xx so the provider
retries; a permanent fault (a payload we cannot apply) is recorded as failed with its error,
answered 200, and retried by the maintenance task with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from sheetbrain.db import inbox_repo, system_transaction
from sheetbrain.errors import DependencyUnavailableError, SheetBrainError
from sheetbrain.observability import logger, metrics

Outcome = Literal["processed", "ignored", "duplicate", "failed"]
# An applier returns False when it does not handle the event type (recorded as ignored).
Applier = Callable[[psycopg.Connection, Mapping[str, Any]], bool]
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Receipt:
    provider: str
    event_id: str
    outcome: Outcome


def receive(*, provider: str, event_id: str, event: dict[str, Any] | None, raw_body: str, apply: Applier) -> Receipt:
    """Record and apply one event in a single transaction; see the module docstring."""
    event_type = str((event or {}).get("type", ""))
    with system_transaction() as conn:
        previous = inbox_repo.claim(
            conn,
            provider=provider,
            event_id=event_id,
            event_type=event_type,
            payload=event,
            raw_body=raw_body,
        )
        if previous in ("processed", "ignored"):
            outcome: Outcome = "duplicate"
        elif event is None:
            inbox_repo.fail(
                conn,
                provider=provider,
                event_id=event_id,
                error="body is not a JSON object",
                retry=False,
                max_attempts=MAX_ATTEMPTS,
            )
            outcome = "failed"
        else:
            outcome = _apply(conn, provider, event_id, event, apply)
    logger.info("webhook received", provider=provider, event_id=event_id, event_type=event_type, outcome=outcome)
    metrics.add_metric(name=f"Webhook.{outcome}", unit="Count", value=1)
    return Receipt(provider=provider, event_id=event_id, outcome=outcome)


def _apply(conn: psycopg.Connection, provider: str, event_id: str, event: dict[str, Any], apply: Applier) -> Outcome:
    try:
        with conn.transaction():  # a savepoint: a failed apply leaves the inbox row to record it
            handled = apply(conn, event)
    except DependencyUnavailableError:
        raise
    except SheetBrainError as exc:
        inbox_repo.fail(
            conn,
            provider=provider,
            event_id=event_id,
            error=f"{exc.code}: {exc.message}",
            retry=True,
            max_attempts=MAX_ATTEMPTS,
        )
        logger.warning("webhook event failed", provider=provider, event_id=event_id, error=exc.message)
        return "failed"
    status: Outcome = "processed" if handled else "ignored"
    inbox_repo.finish(conn, provider=provider, event_id=event_id, status=status)
    return status


def retry_due(appliers: Mapping[str, Applier], *, batch: int = 100) -> dict[str, int]:
    """Re-apply failed deliveries whose backoff has elapsed (one bounded batch per transaction)."""
    counts = {"retried": 0, "processed": 0, "failed": 0}
    with system_transaction() as conn:
        for provider, event_id, payload in inbox_repo.lock_due_failures(conn, batch=batch):
            applier = appliers.get(provider)
            if applier is None or payload is None:
                continue
            counts["retried"] += 1
            outcome = _apply(conn, provider, event_id, payload, applier)
            counts["processed" if outcome in ("processed", "ignored") else "failed"] += 1
    return counts
