"""Guard, entitlements, usage: the statements of metering and plans (logic lives in SQL
functions of migrations 0004/0005/0014/0015 so each decision is one atomic statement)."""

import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row

from sheetbrain.db.connection import Pending


class GuardRow(NamedTuple):
    user_deleted: bool
    org_deleted: bool
    membership_deleted: bool
    plan: str
    seats: int | None  # the plan's seats (-1 unlimited); None when not judged (a deleted tenant)
    seat_refused: bool  # a member of a shared org beyond the seats: no counter moved
    allowed: bool
    lim: int
    remaining: int
    reset_s: int


def request_guard(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str,
    role: str,
    personal: bool,
    now: datetime,
    window_s: int,
) -> GuardRow:
    """Admission (tenants, seats) and rate limiting of one request, in one statement
    (``request_admission`` of sql/0015)."""
    with conn.cursor(row_factory=class_row(GuardRow)) as cur:
        row = cur.execute(
            "SELECT * FROM request_admission(%s, %s, %s, %s, %s, %s)",
            (org_id, user_id, role, personal, now, window_s),
        ).fetchone()
    assert row is not None
    return row


class ConsumeRow(NamedTuple):
    accepted: bool
    used: int
    duplicate: bool


def usage_consume(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str | None,
    metric: str,
    quantity: int,
    idempotency_key: str,
    limit: int,
    now: datetime,
) -> ConsumeRow:
    """Count usage against a limit atomically (see usage_consume in sql/0004)."""
    with conn.cursor(row_factory=class_row(ConsumeRow)) as cur:
        row = cur.execute(
            "SELECT * FROM usage_consume(%s, %s, %s, %s, %s, %s, %s)",
            (org_id, user_id, metric, quantity, idempotency_key, limit, now),
        ).fetchone()
    assert row is not None
    return row


class EntitledConsumeRow(NamedTuple):
    accepted: bool
    used: int
    duplicate: bool
    lim: int  # the entitlement the consumption was checked against (-1 unlimited)


def usage_consume_entitled(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str | None,
    feature: str,
    metric: str,
    quantity: int,
    idempotency_key: str,
    now: datetime,
) -> EntitledConsumeRow | None:
    """``usage_consume`` against the org's entitlement for ``feature``, read in the same
    statement (one round trip); None for a feature no plan knows."""
    with conn.cursor(row_factory=class_row(EntitledConsumeRow)) as cur:
        return cur.execute(
            """SELECT u.accepted, u.used, u.duplicate, e.lim
               FROM (SELECT entitlement(%(org)s, %(feature)s, %(now)s) AS lim) AS e
               CROSS JOIN LATERAL
                   usage_consume(%(org)s, %(user)s, %(metric)s, %(quantity)s, %(key)s, e.lim, %(now)s) AS u
               WHERE e.lim IS NOT NULL""",
            {"org": org_id, "feature": feature, "now": now, "user": user_id, "metric": metric,
             "quantity": quantity, "key": idempotency_key},
        ).fetchone()  # fmt: skip


class ReserveRow(NamedTuple):
    accepted: bool
    used: int  # this month's AI tokens counted so far
    reserved: int  # held by calls still running, before this one
    lim: int | None  # the allowance checked against (-1 unlimited; None: the plan has none)


def ai_tokens_reserve(
    conn: psycopg.Connection,
    *,
    org_id: str,
    reservation_id: uuid.UUID,
    tokens: int,
    input_tokens: int,
    input_cost_micros: int,
    model: str,
    now: datetime,
    reserved_at: datetime,
    expires_at: datetime,
) -> ReserveRow:
    """Hold ``tokens`` of the monthly AI-token allowance for one model call, checked against the
    limit in the same statement (see ai_tokens_reserve in sql/0014)."""
    with conn.cursor(row_factory=class_row(ReserveRow)) as cur:
        row = cur.execute(
            "SELECT * FROM ai_tokens_reserve(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (org_id, reservation_id, tokens, input_tokens, input_cost_micros, model, now, reserved_at, expires_at),
        ).fetchone()
    assert row is not None
    return row


class SettleRow(NamedTuple):
    used: int  # this month's AI tokens after the settlement
    spent: int  # what it added (0 for a release or a repeated settlement)


def ai_tokens_settle(
    conn: psycopg.Connection, *, org_id: str, user_id: str | None, reservation_id: uuid.UUID, tokens: int,
    now: datetime,
) -> SettleRow:  # fmt: skip
    """Swap a call's hold for the ``tokens`` it spent; 0 releases the hold (sql/0014)."""
    with conn.cursor(row_factory=class_row(SettleRow)) as cur:
        row = cur.execute(
            "SELECT * FROM ai_tokens_settle(%s, %s, %s, %s, %s)", (org_id, user_id, reservation_id, tokens, now)
        ).fetchone()
    assert row is not None
    return row


def entitlement(conn: psycopg.Connection, org_id: str, feature: str, now: datetime) -> Pending[int | None]:
    """The org's limit for a feature (-1 unlimited), or None for an unknown feature."""

    def read(cur: psycopg.Cursor[Any]) -> int | None:
        row = cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    return Pending(conn.execute("SELECT entitlement(%s, %s, %s)", (org_id, feature, now)), read)


def effective_plan(conn: psycopg.Connection, org_id: str, now: datetime) -> str:
    row = conn.execute("SELECT effective_plan(%s, %s)", (org_id, now)).fetchone()
    assert row is not None
    return str(row[0])


def entitlements(conn: psycopg.Connection, org_id: str, now: datetime) -> tuple[str, dict[str, int]]:
    """The org's effective plan and every feature of it with overrides and grants applied, in
    one statement (the plan is looked up once, not once per feature)."""
    row = conn.execute(
        """WITH p AS (SELECT effective_plan(%(org)s, %(now)s) AS plan),
                f AS (SELECT coalesce(array_agg(feature ORDER BY feature), '{}') AS features
                      FROM plan_features, p WHERE plan_code = p.plan)
           SELECT p.plan, f.features, entitlement_values(%(org)s, f.features, %(now)s, p.plan) FROM p, f""",
        {"org": org_id, "now": now},
    ).fetchone()
    assert row is not None
    plan, features, values = row
    return str(plan), {str(feature): int(value) for feature, value in zip(features, values, strict=True)}


def monthly_usage(conn: psycopg.Connection, org_id: str, metric: str, month: date) -> int:
    """Current usage of a metric this month: one indexed row."""
    row = conn.execute(
        "SELECT quantity FROM usage_monthly WHERE org_id = %s AND metric = %s AND month = %s",
        (org_id, metric, month),
    ).fetchone()
    return int(row[0]) if row else 0


def entitlement_and_usage(
    conn: psycopg.Connection, org_id: str, feature: str, metric: str, month: date, now: datetime
) -> Pending[tuple[int | None, int]]:
    """The org's limit for a feature (None: unknown) and this month's usage of its metric, in
    one statement."""

    def read(cur: psycopg.Cursor[Any]) -> tuple[int | None, int]:
        row = cur.fetchone()
        assert row is not None
        return (None if row[0] is None else int(row[0])), int(row[1])

    cursor = conn.execute(
        """SELECT entitlement(%(org)s, %(feature)s, %(now)s),
                  coalesce((SELECT quantity FROM usage_monthly
                            WHERE org_id = %(org)s AND metric = %(metric)s AND month = %(month)s), 0)""",
        {"org": org_id, "feature": feature, "now": now, "metric": metric, "month": month},
    )
    return Pending(cursor, read)


class UsagePoint(NamedTuple):
    period: date
    quantity: int


def usage_series(
    conn: psycopg.Connection, *, org_id: str, metric: str, start: date, end: date, granularity: str
) -> list[UsagePoint]:
    """Aggregated usage between two dates inclusive, by day or by month."""
    query = (
        """SELECT day AS period, quantity FROM usage_daily
           WHERE org_id = %s AND metric = %s AND day BETWEEN %s AND %s ORDER BY day"""
        if granularity == "day"
        else """SELECT month AS period, quantity FROM usage_monthly
           WHERE org_id = %s AND metric = %s AND month BETWEEN date_trunc('month', %s::date) AND %s ORDER BY month"""
    )
    with conn.cursor(row_factory=class_row(UsagePoint)) as cur:
        return cur.execute(query, (org_id, metric, start, end)).fetchall()


def delete_expired_buckets(conn: psycopg.Connection, *, now: datetime, batch: int) -> int:
    """Delete up to ``batch`` rate-limit buckets whose window is over; returns the count.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    cur = conn.execute(
        """DELETE FROM rate_limit_buckets WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM rate_limit_buckets WHERE expires_at < %s LIMIT %s))""",
        (now, batch),
    )
    return cur.rowcount
