"""The webhook inbox: one row per (provider, delivery id), written in the same transaction as
the work it records."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sheetbrain.db.connection import Opening


def claim(*, provider: str, event_id: str, event_type: str, payload: dict[str, Any]) -> Opening:
    """The statement that claims a delivery for this transaction, recording it as processed: it
    returns a row unless the delivery was already applied (a duplicate). It opens the
    transaction (sent with its BEGIN), and the event's work follows in the same transaction.

    A concurrent delivery of the same event waits on the unique index until the first
    transaction ends, then sees it as done (or claims it, if that one rolled back).
    """
    return (
        """
        INSERT INTO webhook_inbox (provider, event_id, event_type, payload, status, attempts, processed_at)
        VALUES (%s, %s, %s, %s, 'processed', 1, now())
        ON CONFLICT (provider, event_id) DO UPDATE SET
            status = 'processed', attempts = webhook_inbox.attempts + 1, processed_at = now(),
            last_error = NULL, next_attempt_at = NULL
        WHERE webhook_inbox.status NOT IN ('processed', 'ignored')
        RETURNING id
        """,
        (provider, event_id, event_type, Jsonb(payload)),
    )


def mark_ignored(conn: psycopg.Connection, inbox_id: int) -> None:
    """A claimed delivery (the id ``claim`` returned) whose event type no applier handles."""
    conn.execute("UPDATE webhook_inbox SET status = 'ignored' WHERE id = %s", (inbox_id,))


def record_failure(
    conn: psycopg.Connection,
    *,
    provider: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any] | None,
    raw_body: str | None,
    error: str,
    retry: bool,
    max_attempts: int,
) -> None:
    """Record a delivery that could not be applied, with exponential backoff while attempts
    remain (1, 2, 4... minutes); never downgrades one already applied."""
    conn.execute(
        """
        INSERT INTO webhook_inbox (provider, event_id, event_type, payload, raw_body, status, attempts,
                                   last_error, next_attempt_at)
        VALUES (%(provider)s, %(event_id)s, %(type)s, %(payload)s, %(raw)s, 'failed', 1, %(error)s,
                CASE WHEN %(retry)s AND %(max)s > 1 THEN now() + interval '1 minute' END)
        ON CONFLICT (provider, event_id) DO UPDATE SET
            status = 'failed', attempts = webhook_inbox.attempts + 1, last_error = EXCLUDED.last_error,
            next_attempt_at = CASE WHEN %(retry)s AND webhook_inbox.attempts + 1 < %(max)s
                                   THEN now() + make_interval(mins => power(2, webhook_inbox.attempts)::int) END
        WHERE webhook_inbox.status NOT IN ('processed', 'ignored')
        """,
        {
            "provider": provider,
            "event_id": event_id,
            "type": event_type,
            "payload": Jsonb(payload) if payload is not None else None,
            "raw": raw_body,
            "error": error[:2000],
            "retry": retry,
            "max": max_attempts,
        },
    )


def delete_processed_before(conn: psycopg.Connection, *, older_than_days: int, batch: int) -> int:
    """Delete up to ``batch`` applied rows older than the retention; returns the count.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """DELETE FROM webhook_inbox WHERE id IN (
               SELECT id FROM webhook_inbox
               WHERE status IN ('processed', 'ignored') AND processed_at < now() - make_interval(days => %s)
               ORDER BY processed_at LIMIT %s FOR UPDATE SKIP LOCKED)""",
        (older_than_days, batch),
    )
    return cur.rowcount


def failed_payloads_before(
    conn: psycopg.Connection, *, older_than_days: int, batch: int
) -> list[tuple[int, str | None]]:
    """Up to ``batch`` failed deliveries received before the retention that still hold their
    payload (id and last error), oldest first, locked for this transaction."""
    rows = conn.execute(
        """SELECT id, last_error FROM webhook_inbox
           WHERE status = 'failed' AND (payload IS NOT NULL OR raw_body IS NOT NULL)
             AND received_at < now() - make_interval(days => %s)
           ORDER BY received_at LIMIT %s FOR UPDATE SKIP LOCKED""",
        (older_than_days, batch),
    ).fetchall()
    return [(int(r[0]), r[1]) for r in rows]


def redact(conn: psycopg.Connection, errors: list[tuple[int, str | None]]) -> int:
    """Drop the payload (parsed and raw) of these rows and set their ``last_error`` as given;
    id, provider, event id and type, status, attempts and timestamps stay. A row without its
    payload is never retried.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    if not errors:
        return 0
    cur = conn.execute(
        """UPDATE webhook_inbox w SET payload = NULL, raw_body = NULL, next_attempt_at = NULL, last_error = r.error
           FROM unnest(%s::bigint[], %s::text[]) AS r(id, error) WHERE w.id = r.id""",
        ([i for i, _ in errors], [e for _, e in errors]),
    )
    return cur.rowcount


def due_failures(conn: psycopg.Connection, *, batch: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Failed deliveries whose retry time has come (oldest first)."""
    rows = conn.execute(
        """SELECT provider, event_id, payload FROM webhook_inbox
           WHERE status = 'failed' AND next_attempt_at <= now() AND payload IS NOT NULL
           ORDER BY next_attempt_at LIMIT %s""",
        (batch,),
    ).fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]
