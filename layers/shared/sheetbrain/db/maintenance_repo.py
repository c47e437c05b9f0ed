"""Statements of the scheduled maintenance tasks (retention, rollup, alerts, purge).

Each function does one bounded piece of work inside the caller's (system) transaction.
"""

from datetime import date, datetime
from typing import Any, LiteralString, NamedTuple

import psycopg
from psycopg import sql
from psycopg.abc import Params
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

# --- retention ---------------------------------------------------------------------------


class RetentionOrg(NamedTuple):
    org_id: str
    anchor_seq: int
    anchor_hash: str
    cutoff: datetime  # rows created before this instant (a UTC midnight) are past retention


def retention_candidates(conn: psycopg.Connection, *, now: datetime, after_org: str, limit: int) -> list[RetentionOrg]:
    """Organizations (after ``after_org``, in id order) whose plan keeps the audit log for a
    limited time and whose oldest remaining row is past it; the cutoff is the UTC midnight
    before ``now`` minus the retention, so whole days are archived."""
    with conn.cursor(row_factory=class_row(RetentionOrg)) as cur:
        return cur.execute(
            """
            SELECT h.org_id, h.anchor_seq, h.anchor_hash, c.cutoff
              FROM audit_log_heads h
              CROSS JOIN LATERAL (SELECT entitlement(h.org_id, 'audit_retention_days', %(now)s) AS days) r
              CROSS JOIN LATERAL (
                  SELECT (date_trunc('day', %(now)s AT TIME ZONE 'UTC') - make_interval(days => r.days::int))
                         AT TIME ZONE 'UTC' AS cutoff) c
             WHERE h.org_id > %(after)s AND r.days >= 0 AND h.seq > h.anchor_seq
               AND (SELECT a.created_at FROM audit_log a
                     WHERE a.org_id = h.org_id AND a.seq > h.anchor_seq ORDER BY a.seq LIMIT 1) < c.cutoff
             ORDER BY h.org_id
             LIMIT %(limit)s
            """,
            {"now": now, "after": after_org, "limit": limit},
        ).fetchall()


class LogRow(NamedTuple):
    seq: int
    created_at: datetime
    hash: str
    line: str  # the whole row as one JSON object: every column


def _with_setting(
    conn: psycopg.Connection, setting: LiteralString, value: str, query: LiteralString | sql.Composed, params: Params
) -> psycopg.Cursor[Any]:
    """``query`` run after a transaction-local setting, both sent in one round trip (pipeline)."""
    with conn.pipeline():
        conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
        return conn.execute(query, params)  # the pipeline's end fetches its result


def audit_log_rows(conn: psycopg.Connection, *, org_id: str, after_seq: int, limit: int) -> list[LogRow]:
    """The org's audit-log rows after ``after_seq`` in chain order, each also as JSON text
    (timestamps in UTC, so the same row always gives the same line)."""
    rows = _with_setting(
        conn,
        "TimeZone",
        "UTC",
        """SELECT a.seq, a.created_at, a.hash, row_to_json(a)::text AS line FROM audit_log a
           WHERE a.org_id = %s AND a.seq > %s ORDER BY a.seq LIMIT %s""",
        (org_id, after_seq, limit),
    ).fetchall()
    return [LogRow(*row) for row in rows]


def delete_audit_log_range(conn: psycopg.Connection, *, org_id: str, after_seq: int, through_seq: int) -> int:
    """Delete the org's rows ``after_seq < seq <= through_seq`` (already archived) and move the
    chain's anchor to the last of them, so verification starts from the archive boundary.

    Only when the anchor is still ``after_seq``: a concurrent or replayed step deletes nothing
    (returns 0). The append-only trigger lets the delete through for this transaction only.
    """
    row = _with_setting(
        conn,
        "app.purge",
        "on",
        """
        WITH head AS (
            SELECT org_id FROM audit_log_heads WHERE org_id = %(org)s AND anchor_seq = %(after)s FOR UPDATE
        ), gone AS (
            DELETE FROM audit_log a USING head
             WHERE a.org_id = head.org_id AND a.seq > %(after)s AND a.seq <= %(through)s
            RETURNING a.seq, a.hash
        ), last AS (
            SELECT seq, hash FROM gone ORDER BY seq DESC LIMIT 1
        ), moved AS (  -- a data-modifying CTE runs whether or not it is read
            UPDATE audit_log_heads h SET anchor_seq = last.seq, anchor_hash = last.hash
              FROM last WHERE h.org_id = %(org)s
        )
        SELECT count(*) FROM gone
        """,
        {"org": org_id, "after": after_seq, "through": through_seq},
    ).fetchone()
    assert row is not None
    return int(row[0])


# --- rollup ------------------------------------------------------------------------------


def rollup_orgs(
    conn: psycopg.Connection, *, since_month: date, after_org: str, until_org: str | None, limit: int
) -> list[str]:
    """Organizations (after ``after_org``, up to ``until_org`` if given) with aggregated usage
    since ``since_month``, in id order."""
    rows = conn.execute(
        """SELECT org_id FROM (
               SELECT org_id FROM usage_monthly WHERE month >= %(since)s
               UNION SELECT org_id FROM usage_daily WHERE day >= %(since)s) o
           WHERE org_id > %(after)s AND (%(until)s::text IS NULL OR org_id <= %(until)s)
           ORDER BY org_id LIMIT %(limit)s""",
        {"since": since_month, "after": after_org, "until": until_org, "limit": limit},
    ).fetchall()
    return [str(r[0]) for r in rows]


class Correction(NamedTuple):
    metric: str
    period: date
    stored: int | None
    actual: int


def correct_daily(conn: psycopg.Connection, *, org_id: str, start: date, end: date) -> list[Correction]:
    """Recompute the org's daily aggregates of days ``start <= day < end`` from its raw events,
    set those that differ (a missing one is created, one without events goes to 0) and return
    the differences, in one statement."""
    return _correct(conn, "usage_daily", "day", "day", org_id, start, end)


def correct_monthly(conn: psycopg.Connection, *, org_id: str, start: date, end: date) -> list[Correction]:
    """As ``correct_daily``, for the monthly aggregates of months ``start <= month < end``
    (both first days of months)."""
    return _correct(conn, "usage_monthly", "month", "month", org_id, start, end)


def _correct(
    conn: psycopg.Connection, table: str, column: str, unit: str, org_id: str, start: date, end: date
) -> list[Correction]:
    # The window's bounds are UTC midnights: a date goes to timestamp first, since a date made
    # timestamptz directly is midnight in the session's TimeZone (a local database's is the
    # machine's), which moved the bounds by hours and "corrected" right aggregates.
    query = sql.SQL(
        """
        WITH truth AS (
            SELECT metric, date_trunc({unit}, occurred_at AT TIME ZONE 'UTC')::date AS period,
                   sum(quantity)::bigint AS quantity
              FROM usage_events
             WHERE org_id = %(org)s AND occurred_at >= %(start)s::date::timestamp AT TIME ZONE 'UTC'
               AND occurred_at < %(end)s::date::timestamp AT TIME ZONE 'UTC'
             GROUP BY 1, 2
        ), stored AS (
            SELECT metric, {column} AS period, quantity FROM {table}
             WHERE org_id = %(org)s AND {column} >= %(start)s AND {column} < %(end)s
        ), diff AS (
            SELECT coalesce(t.metric, s.metric) AS metric, coalesce(t.period, s.period) AS period,
                   s.quantity AS stored, coalesce(t.quantity, 0) AS actual
              FROM truth t FULL JOIN stored s ON s.metric = t.metric AND s.period = t.period
             WHERE s.quantity IS DISTINCT FROM coalesce(t.quantity, 0)
        ), fixed AS (
            INSERT INTO {table} (org_id, metric, {column}, quantity) SELECT %(org)s, metric, period, actual FROM diff
            ON CONFLICT (org_id, metric, {column}) DO UPDATE SET quantity = EXCLUDED.quantity
        )
        SELECT metric, period, stored, actual FROM diff ORDER BY period, metric
        """
    ).format(table=sql.Identifier(table), column=sql.Identifier(column), unit=sql.Literal(unit))
    with conn.cursor(row_factory=class_row(Correction)) as cur:
        return cur.execute(query, {"org": org_id, "start": start, "end": end}).fetchall()


# --- alerts ------------------------------------------------------------------------------


class MonthlyUsage(NamedTuple):
    org_id: str
    feature: str
    used: int
    lim: int | None


def monthly_usage_page(
    conn: psycopg.Connection,
    *,
    month: date,
    features: dict[str, str],
    now: datetime,
    after: tuple[str, str],
    until: tuple[str, str] | None,
    limit: int,
) -> list[MonthlyUsage]:
    """This month's usage of metered ``features`` (feature → metric) with each limit, for live
    organizations, in (org, feature) order after ``after`` (and up to ``until`` if given)."""
    with conn.cursor(row_factory=class_row(MonthlyUsage)) as cur:
        return cur.execute(
            """
            SELECT m.org_id, f.feature, m.quantity AS used, entitlement(m.org_id, f.feature, %(now)s) AS lim
              FROM unnest(%(features)s::text[], %(metrics)s::text[]) AS f(feature, metric)
              JOIN usage_monthly m ON m.metric = f.metric AND m.month = %(month)s AND m.quantity > 0
              JOIN organizations o ON o.id = m.org_id AND o.deleted_at IS NULL
             WHERE (m.org_id, f.feature) > (%(after_org)s, %(after_feature)s)
               AND (%(until_org)s::text IS NULL OR (m.org_id, f.feature) <= (%(until_org)s, %(until_feature)s::text))
             ORDER BY m.org_id, f.feature
             LIMIT %(limit)s
            """,
            {
                "now": now,
                "features": list(features),
                "metrics": list(features.values()),
                "month": month,
                "after_org": after[0],
                "after_feature": after[1],
                "until_org": until[0] if until else None,
                "until_feature": until[1] if until else None,
                "limit": limit,
            },
        ).fetchall()


# --- purge -------------------------------------------------------------------------------

# The big tables of an organization, emptied in bounded batches before the organization row
# itself is deleted (which cascades to whatever is left, all small). Order matters where one
# table refers to another with SET NULL (token usage → audits, ingestion logs → policies):
# those rows go first so the delete does not rewrite them. Audits carry their findings (a
# document in the row), so their batches are smaller; the finding rows of audits recorded
# before sql/0011 go first, in batches of their own.
PURGE_TABLES: tuple[tuple[str, int], ...] = (
    ("ai_token_usage", 5_000),
    ("audit_findings", 20_000),
    ("audits", 500),
    ("audit_log", 5_000),
    ("usage_events", 5_000),
    ("usage_daily", 5_000),
    ("ingestion_logs", 5_000),
    ("policy_postings", 20_000),  # tens of postings per chunk: they would swell the chunks' batches
    ("policy_lexemes", 5_000),
    ("policy_chunks", 2_000),
    ("policies", 1_000),
    ("billing_ledger", 5_000),
    ("notifications", 5_000),
    ("plan_changes", 5_000),
    ("rate_limit_buckets", 5_000),  # keyed by org but not a foreign key: nothing cascades to it
)


def purgeable_orgs(conn: psycopg.Connection, *, deleted_before: datetime, limit: int) -> list[str]:
    """Organizations soft-deleted before ``deleted_before``, oldest first."""
    rows = conn.execute(
        "SELECT id FROM organizations WHERE deleted_at < %s ORDER BY deleted_at, id LIMIT %s",
        (deleted_before, limit),
    ).fetchall()
    return [str(r[0]) for r in rows]


def delete_org_rows(conn: psycopg.Connection, *, table: str, org_id: str, batch: int) -> int:
    """Delete up to ``batch`` of an organization's rows of one table (append-only tables
    included: this transaction is a purge).
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    query = sql.SQL("DELETE FROM {t} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {t} WHERE org_id = %s LIMIT %s))").format(
        t=sql.Identifier(table)
    )
    return _with_setting(conn, "app.purge", "on", query, (org_id, batch)).rowcount


def delete_org(conn: psycopg.Connection, org_id: str) -> bool:
    """Delete a soft-deleted organization's row; what still refers to it cascades.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    query: LiteralString = "DELETE FROM organizations WHERE id = %s AND deleted_at IS NOT NULL"
    return _with_setting(conn, "app.purge", "on", query, (org_id,)).rowcount > 0


# --- task cursors ------------------------------------------------------------------------


def task_cursor(conn: psycopg.Connection, task: str) -> Any | None:
    """Where ``task``'s last run stopped its scan (a JSON value), or None."""
    row = conn.execute("SELECT position FROM task_cursors WHERE task = %s", (task,)).fetchone()
    return None if row is None else row[0]


def save_task_cursor(conn: psycopg.Connection, task: str, position: Any) -> None:
    conn.execute(
        """INSERT INTO task_cursors (task, position) VALUES (%s, %s)
           ON CONFLICT (task) DO UPDATE SET position = EXCLUDED.position, updated_at = now()""",
        (task, Jsonb(position)),
    )
