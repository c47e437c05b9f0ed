"""Threshold notifications: the history and outbox table of migration 0007."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg.rows import class_row

DEFAULT_PERCENTS = (50, 80, 100)


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
) -> list[int]:
    """One notification per threshold percent (the org's own or the defaults) that the step
    from ``used_before`` to ``used_after`` reaches, once per period; the new rows' ids."""
    rows = conn.execute(
        """
        INSERT INTO notifications (org_id, kind, feature, threshold, period, used, lim)
        SELECT %(org)s, %(kind)s, %(feature)s, p, %(period)s, %(after)s, %(lim)s
          FROM unnest(coalesce(
                   (SELECT t.percents FROM usage_thresholds t WHERE t.org_id = %(org)s AND t.feature = %(feature)s),
                   %(defaults)s::integer[])) AS p
         WHERE %(before)s::bigint * 100 < p::bigint * %(lim)s AND p::bigint * %(lim)s <= %(after)s::bigint * 100
        ORDER BY p
        ON CONFLICT (org_id, kind, feature, threshold, period) DO NOTHING
        RETURNING id
        """,
        {
            "org": org_id,
            "kind": kind,
            "feature": feature,
            "period": period,
            "before": used_before,
            "after": used_after,
            "lim": limit,
            "defaults": list(DEFAULT_PERCENTS),
        },
    ).fetchall()
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class PendingNotification:
    id: int
    org_id: str
    kind: str
    feature: str
    threshold: int
    period: date
    used: int
    lim: int
    attempts: int


def lock_pending(conn: psycopg.Connection, *, batch: int, max_attempts: int) -> list[PendingNotification]:
    """Undelivered notifications (oldest first), locked; rows another sender holds are skipped."""
    with conn.cursor(row_factory=class_row(PendingNotification)) as cur:
        return cur.execute(
            """SELECT id, org_id, kind, feature, threshold, period, used, lim, attempts FROM notifications
               WHERE delivered_at IS NULL AND attempts < %s
               ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (max_attempts, batch),
        ).fetchall()


def mark_delivered(conn: psycopg.Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(
            "UPDATE notifications SET delivered_at = now(), attempts = attempts + 1, last_error = NULL "
            "WHERE id = ANY(%s)",
            (ids,),
        )


def mark_failed(conn: psycopg.Connection, failures: dict[int, str]) -> None:
    if failures:
        ids = list(failures)
        conn.execute(
            """UPDATE notifications n SET attempts = n.attempts + 1, last_error = f.error
               FROM unnest(%s::bigint[], %s::text[]) AS f(id, error) WHERE n.id = f.id""",
            (ids, [failures[i][:2000] for i in ids]),
        )
