"""Threshold notifications: the history and outbox table of migration 0007 (and the web push
deliveries of 0018 each new one fans out to, and the suppressions of 0020 it skips)."""

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

import psycopg
from psycopg.rows import class_row


def insert_crossings(
    conn: psycopg.Connection,
    *,
    org_id: str,
    kind: str,
    feature: str,
    used_before: int,
    used_after: int,
    limit: int,
    period: date,
    defaults: Sequence[int],
) -> list[int]:
    """One notification per threshold percent (the org's own, else ``defaults``) that the step
    from ``used_before`` to ``used_after`` reaches, once per period, except those a threshold
    change found already reached this period (sql/0020); the new rows' ids."""
    # Each new notification is fanned out, in the same statement, to a web push delivery per
    # subscription of the org (sent later by the alerts task: sheetbrain.notifications.push).
    rows = conn.execute(
        """
        WITH crossed AS (
            INSERT INTO notifications (org_id, kind, feature, threshold, period, used, lim)
            SELECT %(org)s, %(kind)s, %(feature)s, p, %(period)s, %(after)s, %(lim)s
              FROM unnest(coalesce(
                       (SELECT t.percents FROM usage_thresholds t WHERE t.org_id = %(org)s AND t.feature = %(feature)s),
                       %(defaults)s::integer[])) AS p
             WHERE %(before)s::bigint * 100 < p::bigint * %(lim)s AND p::bigint * %(lim)s <= %(after)s::bigint * 100
               AND NOT EXISTS (SELECT 1 FROM threshold_suppressions s
                                WHERE s.org_id = %(org)s AND s.feature = %(feature)s AND s.period = %(period)s
                                  AND s.threshold = p)
            ORDER BY p
            ON CONFLICT (org_id, kind, feature, threshold, period) DO NOTHING
            RETURNING id
        ), fanned AS (
            INSERT INTO notification_deliveries (notification_id, org_id, subscription_id)
            SELECT c.id, %(org)s, s.id FROM crossed c CROSS JOIN push_subscriptions s WHERE s.org_id = %(org)s
        )
        SELECT id FROM crossed ORDER BY id
        """,
        {
            "org": org_id,
            "kind": kind,
            "feature": feature,
            "period": period,
            "before": used_before,
            "after": used_after,
            "lim": limit,
            "defaults": list(defaults),
        },
    ).fetchall()
    return [int(r[0]) for r in rows]


class PendingNotification(NamedTuple):
    id: int
    org_id: str
    kind: str
    feature: str
    threshold: int
    period: date
    used: int
    lim: int
    attempts: int


def claim_pending(
    conn: psycopg.Connection, *, batch: int, max_attempts: int, lease_s: int, org_id: str | None = None
) -> list[PendingNotification]:
    """Undelivered notifications (oldest first, optionally of one org) leased to this sender for
    ``lease_s`` seconds, so the events can be sent after this transaction commits while other
    senders skip them; an expired lease (a sender that died) makes them available again."""
    with conn.cursor(row_factory=class_row(PendingNotification)) as cur:
        return cur.execute(
            """UPDATE notifications n SET claimed_until = now() + make_interval(secs => %(lease)s)
               FROM (SELECT id FROM notifications
                     WHERE delivered_at IS NULL AND attempts < %(max)s
                       AND (claimed_until IS NULL OR claimed_until < now())
                       AND (%(org)s::text IS NULL OR org_id = %(org)s)
                     ORDER BY created_at, id LIMIT %(batch)s FOR UPDATE SKIP LOCKED) AS c
               WHERE n.id = c.id
               RETURNING n.id, n.org_id, n.kind, n.feature, n.threshold, n.period, n.used, n.lim, n.attempts""",
            {"lease": lease_s, "max": max_attempts, "org": org_id, "batch": batch},
        ).fetchall()


def mark_delivered(conn: psycopg.Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(
            "UPDATE notifications SET delivered_at = now(), attempts = attempts + 1, last_error = NULL, "
            "claimed_until = NULL "
            "WHERE id = ANY(%s)",
            (ids,),
        )


def mark_failed(conn: psycopg.Connection, failures: dict[int, str]) -> None:
    """Count a failed attempt and keep its error; the row is not offered again before a backoff
    of 1, 2, 4... minutes (at most 6 hours) has passed, so an outage does not use up its attempts."""
    if failures:
        ids = list(failures)
        conn.execute(
            """UPDATE notifications n SET attempts = n.attempts + 1, last_error = f.error,
                      claimed_until = notification_retry_at(n.attempts)
               FROM unnest(%s::bigint[], %s::text[]) AS f(id, error) WHERE n.id = f.id""",
            (ids, [failures[i][:2000] for i in ids]),
        )
