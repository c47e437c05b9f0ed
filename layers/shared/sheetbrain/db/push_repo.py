"""Web push: subscriptions, their deliveries (an outbox leased like the notifications'), and
the notification history with each delivery's status (migration 0018)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row

# At most this many subscriptions per user and organization: each crossing is sent to every
# subscription of the org, so a member cannot make one notification thousands of requests.
MAX_SUBSCRIPTIONS_PER_USER = 10


class Subscribed(NamedTuple):
    subscription_id: uuid.UUID
    created: bool


def subscribe(
    conn: psycopg.Connection, *, org_id: str, user_id: str, endpoint: str, p256dh: bytes, auth: bytes
) -> Subscribed | None:
    """Store the subscription, or refresh the keys of the caller's own one with this endpoint.
    None when the endpoint is already another user's or organization's (the unique endpoint,
    invisible here under row-level security). Raises LookupError past the per-user cap."""
    # One transaction per (org, user) at a time: the cap is counted and kept in one step.
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 18))", (f"push:{org_id}:{user_id}",))
    mine = conn.execute(
        "UPDATE push_subscriptions SET p256dh = %s, auth = %s, updated_at = now() "
        "WHERE endpoint = %s AND org_id = %s AND user_id = %s RETURNING id",
        (p256dh, auth, endpoint, org_id, user_id),
    ).fetchone()
    if mine is not None:
        return Subscribed(mine[0], created=False)
    count = conn.execute(
        "SELECT count(*) FROM push_subscriptions WHERE org_id = %s AND user_id = %s", (org_id, user_id)
    ).fetchone()
    if count is not None and int(count[0]) >= MAX_SUBSCRIPTIONS_PER_USER:
        raise LookupError(MAX_SUBSCRIPTIONS_PER_USER)
    row = conn.execute(
        "INSERT INTO push_subscriptions (org_id, user_id, endpoint, p256dh, auth) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (endpoint) DO NOTHING RETURNING id",
        (org_id, user_id, endpoint, p256dh, auth),
    ).fetchone()
    return Subscribed(row[0], created=True) if row is not None else None


def delete_own(conn: psycopg.Connection, *, org_id: str, user_id: str, subscription_id: uuid.UUID) -> bool:
    """Delete the caller's own subscription; False when none of theirs has this id.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        "DELETE FROM push_subscriptions WHERE id = %s AND org_id = %s AND user_id = %s",
        (subscription_id, org_id, user_id),
    )
    return cur.rowcount > 0


class PushDelivery(NamedTuple):
    id: int
    attempts: int
    subscription_id: uuid.UUID
    endpoint: str
    p256dh: bytes
    auth: bytes
    org_id: str
    kind: str
    feature: str
    threshold: int
    used: int
    lim: int
    period: date


def claim_deliveries(conn: psycopg.Connection, *, batch: int, lease_s: int) -> list[PushDelivery]:
    """Pending deliveries (oldest first) leased to this sender for ``lease_s`` seconds, to be
    sent after this transaction commits while other senders skip them; an expired lease (a
    sender that died) or backoff makes them available again."""
    with conn.cursor(row_factory=class_row(PushDelivery)) as cur:
        return cur.execute(
            """WITH c AS (
                   SELECT id FROM notification_deliveries
                    WHERE status = 'pending' AND subscription_id IS NOT NULL
                      AND (claimed_until IS NULL OR claimed_until < now())
                    ORDER BY created_at, id LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
               UPDATE notification_deliveries d SET claimed_until = now() + make_interval(secs => %(lease)s)
                 FROM c, push_subscriptions s, notifications n
                WHERE d.id = c.id AND s.id = d.subscription_id AND n.id = d.notification_id
               RETURNING d.id, d.attempts, s.id AS subscription_id, s.endpoint, s.p256dh, s.auth, n.org_id,
                         n.kind, n.feature, n.threshold, n.used, n.lim, n.period""",
            {"batch": batch, "lease": lease_s},
        ).fetchall()


class DeliveryResult(NamedTuple):
    id: int
    status: str  # sent, gone, retry, failed
    http_status: int | None
    error: str | None


def record_results(
    conn: psycopg.Connection, results: list[DeliveryResult], *, max_attempts: int, gone: list[uuid.UUID]
) -> None:
    """Each attempt counted with its answer: sent, failed and gone are final; a retry waits out
    ``notification_retry_at`` and becomes failed once ``max_attempts`` are used. The ``gone``
    subscriptions are deleted (their deliveries keep their status)."""
    if results:
        conn.execute(
            """UPDATE notification_deliveries d
                  SET attempts = d.attempts + 1, http_status = r.http_status, last_error = r.error,
                      updated_at = now(),
                      status = CASE WHEN r.status <> 'retry' THEN r.status
                                    WHEN d.attempts + 1 >= %s THEN 'failed' ELSE 'pending' END,
                      claimed_until = CASE WHEN r.status = 'retry' THEN notification_retry_at(d.attempts) END
                 FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[]) AS r(id, status, http_status, error)
                WHERE d.id = r.id""",
            (
                max_attempts,
                [r.id for r in results],
                [r.status for r in results],
                [r.http_status for r in results],
                [(r.error or "")[:2000] or None for r in results],
            ),
        )
    if gone:
        conn.execute("DELETE FROM push_subscriptions WHERE id = ANY(%s)", (gone,))


def release(conn: psycopg.Connection, ids: list[int]) -> None:
    """Give back leased deliveries that were not attempted (the run's time was up)."""
    if ids:
        conn.execute("UPDATE notification_deliveries SET claimed_until = NULL WHERE id = ANY(%s)", (ids,))


class HistoryRow(NamedTuple):
    id: int
    kind: str
    feature: str
    threshold: int
    used: int
    lim: int
    period: date
    created_at: datetime
    delivered_at: datetime | None
    attempts: int
    deliveries: list[dict[str, Any]]


def history(
    conn: psycopg.Connection, org_id: str, *, limit: int, cursor: tuple[datetime, int] | None
) -> list[HistoryRow]:
    """The org's notifications, newest first, each with its web push deliveries (oldest first)."""
    with conn.cursor(row_factory=class_row(HistoryRow)) as cur:
        return cur.execute(
            """SELECT n.id, n.kind, n.feature, n.threshold, n.used, n.lim, n.period, n.created_at,
                      n.delivered_at, n.attempts,
                      coalesce((SELECT json_agg(json_build_object(
                                  'channel', d.channel,
                                  'status', CASE WHEN d.status = 'pending' AND d.subscription_id IS NULL
                                                 THEN 'cancelled' ELSE d.status END,
                                  'at', d.updated_at) ORDER BY d.id)
                                  FROM notification_deliveries d WHERE d.notification_id = n.id), '[]')
                          AS deliveries
                 FROM notifications n
                WHERE n.org_id = %(org)s
                  AND (%(at)s::timestamptz IS NULL OR (n.created_at, n.id) < (%(at)s, %(id)s::bigint))
                ORDER BY n.created_at DESC, n.id DESC
                LIMIT %(limit)s""",
            {"org": org_id, "at": cursor[0] if cursor else None, "id": cursor[1] if cursor else None, "limit": limit},
        ).fetchall()


def lock_thresholds(conn: psycopg.Connection, org_id: str) -> None:
    """Hold the org's thresholds until the transaction ends: one change at a time, so each
    compares its thresholds with those the previous change left."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 20))", (f"thresholds:{org_id}",))


def thresholds(conn: psycopg.Connection, org_id: str) -> dict[str, list[int]]:
    """The org's own thresholds per metric (metrics without a row use the defaults)."""
    rows = conn.execute("SELECT feature, percents FROM usage_thresholds WHERE org_id = %s", (org_id,)).fetchall()
    return {str(feature): sorted(int(p) for p in percents) for feature, percents in rows}


def replace_thresholds(conn: psycopg.Connection, org_id: str, values: dict[str, list[int]]) -> None:
    """Make ``values`` the org's thresholds: metrics not in it go back to the defaults."""
    conn.execute("DELETE FROM usage_thresholds WHERE org_id = %s AND NOT (feature = ANY(%s))", (org_id, list(values)))
    for feature, percents in values.items():
        conn.execute(
            "INSERT INTO usage_thresholds (org_id, feature, percents) VALUES (%s, %s, %s) "
            "ON CONFLICT (org_id, feature) DO UPDATE SET percents = EXCLUDED.percents",
            (org_id, feature, percents),
        )


def suppress_thresholds(
    conn: psycopg.Connection, org_id: str, feature: str, *, period: date, percents: list[int], used: int, limit: int
) -> list[int]:
    """Record ``percents`` as not to be notified for ``feature`` in ``period`` (those notified
    already need no record, nor those recorded already); the ones recorded, in order."""
    rows = conn.execute(
        """INSERT INTO threshold_suppressions (org_id, feature, period, threshold, used, lim)
           SELECT %(org)s, %(feature)s, %(period)s, p, %(used)s, %(lim)s FROM unnest(%(percents)s::integer[]) AS p
            WHERE NOT EXISTS (SELECT 1 FROM notifications n
                               WHERE n.org_id = %(org)s AND n.feature = %(feature)s AND n.period = %(period)s
                                 AND n.threshold = p)
           ORDER BY p
           ON CONFLICT (org_id, feature, period, threshold) DO NOTHING
           RETURNING threshold""",
        {"org": org_id, "feature": feature, "period": period, "percents": percents, "used": used, "lim": limit},
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def forget_suppressions_before(conn: psycopg.Connection, org_id: str, period: date) -> None:
    """Delete the org's suppressions of periods before ``period`` (they no longer apply)."""
    conn.execute("DELETE FROM threshold_suppressions WHERE org_id = %s AND period < %s", (org_id, period))
