"""Threshold notifications: an outbox row per crossed threshold, then an EventBridge event.

``record_crossings`` runs inside the transaction that consumes the usage (so a rolled-back
audit notifies nothing); the unique key (org, kind, feature, threshold, period) makes each
threshold notify once per month however many requests cross it at once. ``deliver_pending``
sends what is undelivered after the commit, best effort: a failure is recorded on the row and
the ``alerts`` task retries it. Delivery is at least once (a crash between the event and the
commit re-sends it), so the event carries the notification id for consumers to deduplicate.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from sheetbrain import aws
from sheetbrain.config import get_settings
from sheetbrain.db import notifications_repo, system_transaction, tenant_transaction
from sheetbrain.metering.quota import month_start
from sheetbrain.observability import logger, metrics

SOURCE = "sheetbrain"
DETAIL_TYPE = "Usage threshold crossed"
MAX_ATTEMPTS = 10  # with the backoff of notifications_repo.mark_failed, about 14 hours of trying
_PUT_EVENTS_MAX = 10  # EventBridge accepts at most 10 entries per PutEvents call
# A sender's lease on the rows it is sending lasts this long per PutEvents call it may make: a
# call with its retries (3 attempts of at most 2 s to connect and 5 s to read) and margin.
LEASE_PER_CALL_S = 30
# The percentages of a limit that notify when an organization has set none of its own.
DEFAULT_PERCENTS = (50, 80, 100)


def _events_client() -> Any:
    """The EventBridge client of scheduled delivery (shared, made on first use)."""
    return aws.client("events", connect_timeout=2, read_timeout=5, max_attempts=3)


def inline_events_client() -> Any:
    """The EventBridge client of delivery right after a request: one short attempt, so a slow
    EventBridge cannot hold a response whose work is already committed (the alerts task retries)."""
    return aws.client("events", connect_timeout=1, read_timeout=2, max_attempts=1)


def record_crossings(
    conn: psycopg.Connection,
    *,
    org_id: str,
    feature: str,
    used_before: int,
    used_after: int,
    limit: int,
    now: datetime,
    kind: str = "usage_threshold",
) -> list[int]:
    """Record one notification per threshold percent of ``limit`` that the step from
    ``used_before`` to ``used_after`` reaches (the org's ``usage_thresholds`` for the feature,
    else ``DEFAULT_PERCENTS``), once per monthly period; returns the ids of new rows. An unlimited
    (-1) or zero limit notifies nothing."""
    if limit <= 0 or used_after <= used_before:
        return []
    return notifications_repo.insert_crossings(
        conn,
        org_id=org_id,
        kind=kind,
        feature=feature,
        used_before=used_before,
        used_after=used_after,
        limit=limit,
        period=month_start(now),
        defaults=DEFAULT_PERCENTS,
    )


def _entry(row: notifications_repo.PendingNotification, bus: str) -> dict[str, Any]:
    detail = {
        "notification_id": row.id,
        "kind": row.kind,
        "org_id": row.org_id,
        "feature": row.feature,
        "threshold": row.threshold,
        "used": row.used,
        "limit": row.lim,
        "period": row.period.isoformat(),
    }
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail), "EventBusName": bus}


def _scope(org_id: str | None) -> AbstractContextManager[psycopg.Connection]:
    # One org's notifications need no crossing of organizations (the API functions deliver
    # their own inline, on their own login); all of them are the alerts task's, on the system one.
    return tenant_transaction(org_id) if org_id else system_transaction()


def deliver_pending(*, batch: int = 100, client: Any = None, org_id: str | None = None) -> dict[str, int]:
    """Send up to ``batch`` undelivered notifications (optionally one org's) as EventBridge
    events. They are leased in one short transaction, sent with no transaction open, then
    marked delivered or failed (attempt counted, error kept) in another: no database lock waits
    on the network. Delivery is at least once. Returns ``{"sent", "failed"}``."""
    from botocore.exceptions import BotoCoreError, ClientError

    lease_s = LEASE_PER_CALL_S * -(-batch // _PUT_EVENTS_MAX)
    with _scope(org_id) as conn:
        rows = notifications_repo.claim_pending(
            conn, batch=batch, max_attempts=MAX_ATTEMPTS, lease_s=lease_s, org_id=org_id
        )
    if not rows:
        return {"sent": 0, "failed": 0}
    bus = get_settings().notifications_event_bus
    delivered: list[int] = []
    failures: dict[int, str] = {}
    for start in range(0, len(rows), _PUT_EVENTS_MAX):
        chunk = rows[start : start + _PUT_EVENTS_MAX]
        try:
            events = client if client is not None else _events_client()  # no region: BotoCoreError
            response = events.put_events(Entries=[_entry(row, bus) for row in chunk])
        except (ClientError, BotoCoreError) as exc:
            # EventBridge is unreachable or refusing: the rest would fail alike, slowly.
            failures.update({row.id: f"{type(exc).__name__}: {exc}" for row in rows[start:]})
            break
        # Results come back in the order of the entries; a failed one has an ErrorCode.
        for row, result in zip(chunk, response.get("Entries", []), strict=False):
            if result.get("EventId") and not result.get("ErrorCode"):
                delivered.append(row.id)
            else:
                failures[row.id] = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
        for row in chunk[len(response.get("Entries", [])) :]:
            failures[row.id] = "no result for the entry"
    with _scope(org_id) as conn:
        notifications_repo.mark_delivered(conn, delivered)
        notifications_repo.mark_failed(conn, failures)
    sent, failed = len(delivered), len(failures)
    if failed:
        logger.warning("notifications not delivered", sent=sent, failed=failed)
    metrics.add_metric(name="Notifications.Sent", unit="Count", value=sent)
    if failed:
        metrics.add_metric(name="Notifications.Failed", unit="Count", value=failed)
    return {"sent": sent, "failed": failed}
