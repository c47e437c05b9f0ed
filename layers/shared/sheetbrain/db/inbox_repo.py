"""The webhook inbox: one row per (provider, delivery id), in the same transaction as the work."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def claim(
    conn: psycopg.Connection,
    *,
    provider: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any] | None,
    raw_body: str,
) -> str | None:
    """Record a delivery, or lock the existing row of a redelivery.

    Returns None for a new event, else the stored status. A concurrent delivery of the same
    event waits on the unique index until the first transaction ends.
    """
    row = conn.execute(
        """INSERT INTO webhook_inbox (provider, event_id, event_type, payload, raw_body)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (provider, event_id) DO NOTHING RETURNING id""",
        (provider, event_id, event_type, Jsonb(payload) if payload is not None else None, raw_body),
    ).fetchone()
    if row is not None:
        return None
    existing = conn.execute(
        "SELECT status FROM webhook_inbox WHERE provider = %s AND event_id = %s FOR UPDATE",
        (provider, event_id),
    ).fetchone()
    assert existing is not None
    return str(existing[0])


def finish(conn: psycopg.Connection, *, provider: str, event_id: str, status: str) -> None:
    """Mark a delivery processed or ignored."""
    conn.execute(
        """UPDATE webhook_inbox SET status = %s, attempts = attempts + 1, processed_at = now(),
                  last_error = NULL, next_attempt_at = NULL
           WHERE provider = %s AND event_id = %s""",
        (status, provider, event_id),
    )


def fail(conn: psycopg.Connection, *, provider: str, event_id: str, error: str, retry: bool, max_attempts: int) -> None:
    """Mark a delivery failed; retried later with exponential backoff while attempts remain."""
    conn.execute(
        """UPDATE webhook_inbox SET status = 'failed', attempts = attempts + 1, last_error = %s,
                  next_attempt_at = CASE WHEN %s AND attempts + 1 < %s
                                         THEN now() + make_interval(mins => power(2, attempts)::int)
                                    END
           WHERE provider = %s AND event_id = %s""",
        (error[:2000], retry, max_attempts, provider, event_id),
    )


def delete_processed_before(conn: psycopg.Connection, *, older_than_days: int, batch: int) -> int:
    """Delete up to ``batch`` processed/ignored rows older than the retention; returns the count."""
    cur = conn.execute(
        """DELETE FROM webhook_inbox WHERE id IN (
               SELECT id FROM webhook_inbox
               WHERE status IN ('processed', 'ignored') AND processed_at < now() - make_interval(days => %s)
               ORDER BY processed_at LIMIT %s FOR UPDATE SKIP LOCKED)""",
        (older_than_days, batch),
    )
    return cur.rowcount


def lock_due_failures(conn: psycopg.Connection, *, batch: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Failed deliveries whose retry time has come, locked so concurrent runs split the work."""
    rows = conn.execute(
        """SELECT provider, event_id, payload FROM webhook_inbox
           WHERE status = 'failed' AND next_attempt_at <= now()
           ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED""",
        (batch,),
    ).fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]
