"""The local stand-in of SQS (sql/0019 ``work_queue``): send, receive with a visibility
timeout, delete, and redrive to a dead-letter queue after too many receives.

Delivery is at least once, as SQS's: a received message is hidden for the visibility timeout,
not removed; only ``delete`` after success removes it. Receivers take rows with ``FOR UPDATE
SKIP LOCKED``, so two runners never receive one message at the same time.
"""

from datetime import datetime
from typing import NamedTuple

import psycopg
from psycopg.rows import class_row


def send(conn: psycopg.Connection, *, queue: str, body: str, delay_s: float = 0) -> None:
    """Send a message (no RETURNING: the API's login may write the queue, never read it)."""
    conn.execute(
        "INSERT INTO work_queue (queue, body, visible_at) VALUES (%s, %s, now() + make_interval(secs => %s::float8))",
        (queue, body, delay_s),
    )


class Message(NamedTuple):
    id: int
    body: str
    receive_count: int
    sent_at: datetime


def receive(conn: psycopg.Connection, *, queue: str, limit: int, visibility_s: float) -> list[Message]:
    """Up to ``limit`` visible messages, hidden for ``visibility_s`` and counted as received."""
    with conn.cursor(row_factory=class_row(Message)) as cur:
        return cur.execute(
            """UPDATE work_queue q
               SET receive_count = q.receive_count + 1, visible_at = now() + make_interval(secs => %s::float8)
               WHERE q.id IN (SELECT id FROM work_queue WHERE queue = %s AND visible_at <= now()
                              ORDER BY visible_at, id LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING q.id, q.body, q.receive_count, q.sent_at""",
            (visibility_s, queue, limit),
        ).fetchall()


def make_visible_in(conn: psycopg.Connection, message_id: int, delay_s: float) -> None:
    """A received message visible again in ``delay_s`` (SQS's ChangeMessageVisibility)."""
    conn.execute(
        "UPDATE work_queue SET visible_at = now() + make_interval(secs => %s::float8) WHERE id = %s",
        (delay_s, message_id),
    )


def delete(conn: psycopg.Connection, ids: list[int]) -> int:
    """Delete these queue rows; returns the count.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    return conn.execute("DELETE FROM work_queue WHERE id = ANY(%s)", (ids,)).rowcount


def redrive(conn: psycopg.Connection, *, queue: str, dead_letter_queue: str, max_receive_count: int) -> int:
    """Move visible messages received ``max_receive_count`` times to the dead-letter queue (as
    SQS does when such a message would be received once more).
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    return conn.execute(
        """UPDATE work_queue SET queue = %s, receive_count = 0, visible_at = now()
           WHERE id IN (SELECT id FROM work_queue WHERE queue = %s AND visible_at <= now() AND receive_count >= %s
                        FOR UPDATE SKIP LOCKED)""",
        (dead_letter_queue, queue, max_receive_count),
    ).rowcount
