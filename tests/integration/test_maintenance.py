"""The scheduled maintenance tasks, run through the registry as the cleanup function runs
them, against the real database and moto's S3 and EventBridge."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from sheetbrain.db import maintenance_repo
from sheetbrain.db.connection import close_pool
from sheetbrain.errors import ConfigurationError
from sheetbrain.maintenance import retention
from sheetbrain.maintenance.tasks import run_task
from sheetbrain.webhooks.inbox import receive, retry_due
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import BUCKET, Aws, append_log, aws_stage, consume, new_org

pytestmark = pytest.mark.dates  # every task here reads today's date, this month or the age of rows

TODAY = datetime.now(UTC).date()


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def aws(database: DatabaseUrls) -> Iterator[Aws]:
    with aws_stage() as stage:
        yield stage


def log_rows(owner_url: str, org: str) -> list[dict[str, Any]]:
    with psycopg.connect(owner_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM audit_log WHERE org_id = %s ORDER BY seq", (org,)).fetchall()


def head(owner_url: str, org: str) -> dict[str, Any]:
    with psycopg.connect(owner_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM audit_log_heads WHERE org_id = %s", (org,)).fetchone()
    assert row is not None
    return row


def archived(aws: Aws, org: str) -> dict[str, list[dict[str, Any]]]:
    """Every archive object of an org: key → its rows."""
    listing = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"audit-log/{org}/").get("Contents", [])
    return {
        o["Key"]: [
            json.loads(line)
            for line in gzip.decompress(aws.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()).splitlines()
        ]
        for o in listing
    }


def rehash(owner_url: str, row: dict[str, Any]) -> str:
    """A row's hash recomputed from its archived form with the database's digest function."""
    with psycopg.connect(owner_url) as conn:
        found = conn.execute(
            "SELECT audit_log_digest(%s, %s, %s, %s::timestamptz, %s, %s::uuid, %s, %s)",
            (
                row["prev_hash"],
                row["org_id"],
                row["seq"],
                row["created_at"],
                row["event"],
                row["audit_id"],
                row["actor"],
                row["payload"],
            ),
        ).fetchone()
    assert found is not None
    return str(found[0])


# --- retention ---------------------------------------------------------------------------


def test_retention_archives_exactly_the_rows_past_retention_then_deletes_them(aws: Aws, database: DatabaseUrls) -> None:
    # Given a free-plan org (30 days) with rows on two old days and one recent day, and an
    # org whose plan keeps its log forever
    org, user = new_org(database.owner, prefix="org_ret")
    day_a, day_b = TODAY - timedelta(days=40), TODAY - timedelta(days=35)
    append_log(database.owner, org, user, noon(day_a), 3)
    append_log(database.owner, org, user, noon(day_b), 2)
    append_log(database.owner, org, user, noon(TODAY - timedelta(days=1)), 2)
    before = log_rows(database.owner, org)
    keeper, _ = new_org(database.owner, prefix="org_keep", overrides={"audit_retention_days": -1})
    append_log(database.owner, keeper, None, noon(TODAY - timedelta(days=400)), 2)

    # When the retention task runs
    summary = run_task("retention")

    # Then one object per day holds exactly the five old rows, every column of each
    objects = archived(aws, org)
    assert sorted(objects) == [f"audit-log/{org}/{day_a}.jsonl.gz", f"audit-log/{org}/{day_b}.jsonl.gz"]
    rows = objects[f"audit-log/{org}/{day_a}.jsonl.gz"] + objects[f"audit-log/{org}/{day_b}.jsonl.gz"]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(set(r) == set(before[0]) for r in rows)
    assert [(r["id"], r["hash"], r["prev_hash"], r["payload"]) for r in rows] == [
        (b["id"], b["hash"], b["prev_hash"], b["payload"]) for b in before[:5]
    ]
    # ...from which each hash can be recomputed: the archive is verifiable on its own
    assert all(rehash(database.owner, r) == r["hash"] for r in rows)
    # And the database keeps the recent rows, its chain anchored at the last archived row
    assert [r["seq"] for r in log_rows(database.owner, org)] == [6, 7]
    anchor = head(database.owner, org)
    assert (anchor["anchor_seq"], anchor["anchor_hash"]) == (5, rows[-1]["hash"])
    assert log_rows(database.owner, org)[0]["prev_hash"] == anchor["anchor_hash"]
    # And the org that keeps its log forever lost nothing
    assert len(log_rows(database.owner, keeper)) == 2
    assert archived(aws, keeper) == {}
    mine = [a for a in summary["archives"] if a["org_id"] == org]
    assert [a["rows"] for a in mine] == [3, 2]
    assert summary["longest_batch_ms"] >= 0

    # When it runs again, nothing is left to do for this org
    again = run_task("retention")
    assert [a for a in again["archives"] if a["org_id"] == org] == []


def test_retention_refuses_to_delete_without_an_archive_bucket(database: DatabaseUrls) -> None:
    # Given rows past retention and no ARCHIVE_BUCKET configured
    org, user = new_org(database.owner, prefix="org_nobucket")
    append_log(database.owner, org, user, noon(TODAY - timedelta(days=90)), 2)

    # When retention runs, it fails loudly and deletes nothing
    with pytest.raises(ConfigurationError, match="ARCHIVE_BUCKET"):
        run_task("retention")
    assert len(log_rows(database.owner, org)) == 2


def test_a_crash_between_archive_and_delete_loses_nothing_and_the_rerun_completes(
    aws: Aws, database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given old rows, and a delete step that fails once (after the archive was written)
    org, user = new_org(database.owner, prefix="org_crash")
    old_day = TODAY - timedelta(days=45)
    append_log(database.owner, org, user, noon(old_day), 4)
    before = log_rows(database.owner, org)
    real_delete = maintenance_repo.delete_audit_log_range
    calls = {"n": 0}

    def crashing_delete(conn: psycopg.Connection, **kwargs: Any) -> int:
        calls["n"] += kwargs["org_id"] == org
        if kwargs["org_id"] == org and calls["n"] == 1:
            raise RuntimeError("simulated crash")
        return real_delete(conn, **kwargs)

    monkeypatch.setattr(maintenance_repo, "delete_audit_log_range", crashing_delete)

    # When retention crashes
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_task("retention")

    # Then the archive is written and every row is still in the database
    key = f"audit-log/{org}/{old_day}.jsonl.gz"
    assert [r["seq"] for r in archived(aws, org)[key]] == [1, 2, 3, 4]
    assert log_rows(database.owner, org) == before
    etag = aws.s3.head_object(Bucket=BUCKET, Key=key)["ETag"]

    # When it runs again
    summary = run_task("retention")

    # Then the same archive (not rewritten) holds the rows and they are gone from the database
    [entry] = [a for a in summary["archives"] if a["org_id"] == org]
    assert entry == {"org_id": org, "key": key, "rows": 4, "written": False}
    assert aws.s3.head_object(Bucket=BUCKET, Key=key)["ETag"] == etag
    assert log_rows(database.owner, org) == []
    assert head(database.owner, org)["anchor_seq"] == 4


def test_a_crash_in_the_middle_of_the_deletes_keeps_the_archive_whole(
    aws: Aws, database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a day of 5 rows deleted two at a time, the second batch failing once
    org, user = new_org(database.owner, prefix="org_part")
    old_day = TODAY - timedelta(days=50)
    append_log(database.owner, org, user, noon(old_day), 5)
    monkeypatch.setattr(retention, "DELETE_BATCH", 2)
    real_delete = maintenance_repo.delete_audit_log_range
    calls = {"n": 0}

    def crashing_delete(conn: psycopg.Connection, **kwargs: Any) -> int:
        calls["n"] += kwargs["org_id"] == org
        if kwargs["org_id"] == org and calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real_delete(conn, **kwargs)

    monkeypatch.setattr(maintenance_repo, "delete_audit_log_range", crashing_delete)
    with pytest.raises(RuntimeError):
        run_task("retention")
    assert [r["seq"] for r in log_rows(database.owner, org)] == [3, 4, 5]

    # When it runs again
    run_task("retention")

    # Then the day's object still holds all five rows, and none is left in the database
    key = f"audit-log/{org}/{old_day}.jsonl.gz"
    assert [r["seq"] for r in archived(aws, org)[key]] == [1, 2, 3, 4, 5]
    assert log_rows(database.owner, org) == []
    assert head(database.owner, org)["anchor_seq"] == 5


def test_two_concurrent_retention_runs_do_the_work_once(aws: Aws, database: DatabaseUrls) -> None:
    # Given old rows on three days
    org, user = new_org(database.owner, prefix="org_conc")
    for days_ago in (60, 59, 58):
        append_log(database.owner, org, user, noon(TODAY - timedelta(days=days_ago)), 3)

    # When two runs start at the same moment
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def run() -> None:
        barrier.wait()
        results.append(run_task("retention"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then the rows were archived and deleted once in all: three objects, one version each
    archived_by_runs = [a for r in results for a in r.get("archives", []) if a["org_id"] == org]
    assert sum(a["rows"] for a in archived_by_runs) == 9
    assert all(a["written"] for a in archived_by_runs)
    assert len(archived(aws, org)) == 3
    assert log_rows(database.owner, org) == []


# --- rollup ------------------------------------------------------------------------------


def test_rollup_corrects_tampered_aggregates_of_closed_periods_and_reports_them(database: DatabaseUrls) -> None:
    # Given usage on the last two days of last month (closed periods on any date, both inside the
    # rollup's lookback), recorded with its aggregates
    org, user = new_org(database.owner, prefix="org_roll")
    last_day = TODAY.replace(day=1) - timedelta(days=1)
    day_before = last_day - timedelta(days=1)
    month = last_day.replace(day=1)
    consume(database.owner, org, user, "audits", 3, noon(last_day))
    consume(database.owner, org, user, "audits", 2, noon(day_before))
    # ...and the aggregates then damaged: a wrong day, a wrong month, a missing day
    with psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE usage_daily SET quantity = 99 WHERE org_id = %s AND day = %s", (org, last_day))
        conn.execute("UPDATE usage_monthly SET quantity = 7 WHERE org_id = %s AND month = %s", (org, month))
        conn.execute("DELETE FROM usage_daily WHERE org_id = %s AND day = %s", (org, day_before))

    # When the rollup runs
    summary = run_task("rollup")

    # Then each difference is reported and corrected from the raw events
    mine = {
        (c["granularity"], c["period"]): (c["stored"], c["actual"])
        for c in summary["corrections"]
        if c["org_id"] == org
    }
    assert mine == {
        ("day", last_day.isoformat()): (99, 3),
        ("day", day_before.isoformat()): (None, 2),
        ("month", month.isoformat()): (7, 5),
    }
    with psycopg.connect(database.owner) as conn:
        daily = dict(conn.execute("SELECT day, quantity FROM usage_daily WHERE org_id = %s", (org,)).fetchall())
        monthly = conn.execute(
            "SELECT quantity FROM usage_monthly WHERE org_id = %s AND month = %s", (org, month)
        ).fetchone()
    assert daily == {last_day: 3, day_before: 2}
    assert monthly == (5,)

    # When it runs again, there is nothing left to correct
    again = run_task("rollup")
    assert [c for c in again["corrections"] if c["org_id"] == org] == []


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles"])
def test_rollup_keeps_correct_aggregates_whatever_the_database_sessions_time_zone(
    database: DatabaseUrls, zone: str
) -> None:
    # Given usage half an hour either side of midnight UTC that began today, and a day of last
    # month, its aggregates right (periods are UTC days and months)
    org, user = new_org(database.owner, prefix="org_rollz")
    today = datetime.now(UTC).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    consume(database.owner, org, user, "audits", 1, midnight - timedelta(minutes=30))
    consume(database.owner, org, user, "audits", 2, midnight + timedelta(minutes=30))
    consume(database.owner, org, user, "audits", 4, noon(today.replace(day=1) - timedelta(days=1)))

    # When the rollup runs on connections whose session time zone is not UTC (a database
    # whose TimeZone setting is the machine's, as a local one made on a laptop has)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGTZ", zone)
        close_pool()
        try:
            summary = run_task("rollup")
        finally:
            close_pool()

    # Then it finds nothing to correct: its window is the UTC days, not the session's
    assert [c for c in summary["corrections"] if c["org_id"] == org] == []
    with psycopg.connect(database.owner) as conn:
        daily = conn.execute("SELECT sum(quantity) FROM usage_daily WHERE org_id = %s", (org,)).fetchone()
    assert daily == (7,)


# --- alerts ------------------------------------------------------------------------------


def test_alerts_notify_each_quota_threshold_once_per_period(aws: Aws, database: DatabaseUrls) -> None:
    # Given a free-plan org (10 audits a month) that has used 6 this month
    org, user = new_org(database.owner, prefix="org_alert")
    consume(database.owner, org, user, "audits", 6, datetime.now(UTC))

    # When the alerts task runs twice
    first = run_task("alerts")
    run_task("alerts")

    # Then the 50% threshold was recorded once and sent as one event
    with psycopg.connect(database.owner) as conn:
        rows = conn.execute(
            "SELECT feature, threshold, used, lim, delivered_at IS NOT NULL FROM notifications WHERE org_id = %s",
            (org,),
        ).fetchall()
    assert rows == [("audits_per_month", 50, 6, 10, True)]
    events = aws.events_received(org)
    assert [(e["detail"]["feature"], e["detail"]["threshold"]) for e in events] == [("audits_per_month", 50)]
    assert first["notifications_created"] >= 1

    # When usage reaches 8 and the task runs again, 80% is notified, 50% not again
    consume(database.owner, org, user, "audits", 2, datetime.now(UTC))
    run_task("alerts")
    assert [e["detail"]["threshold"] for e in aws.events_received(org)] == [80]


# --- purge -------------------------------------------------------------------------------

ORG_TABLES = (
    "memberships",
    "subscriptions",
    "policies",
    "policy_chunks",
    "audits",
    "audit_findings",
    "audit_log",
    "audit_log_heads",
    "usage_events",
    "usage_daily",
    "usage_monthly",
    "billing_ledger",
    "notifications",
    "rate_limit_buckets",
    "entitlement_overrides",
)


def populate(owner_url: str, org: str, user: str) -> None:
    """One or more rows of every kind an organization owns."""
    now = datetime.now(UTC)
    append_log(owner_url, org, user, now, 3)
    consume(owner_url, org, user, "audits", 2, now)
    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO subscriptions (org_id, plan_code, status) VALUES (%s, 'pro', 'active')", (org,))
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'seats', 5, 't')", (org,)
        )
        policy = conn.execute(
            """INSERT INTO policies (org_id, title, content, format, size_bytes, content_sha256)
               VALUES (%s, 'Policy', 'Text', 'text', 4, 'x') RETURNING id""",
            (org,),
        ).fetchone()
        assert policy is not None
        conn.execute(
            """INSERT INTO policy_chunks (policy_id, org_id, ordinal, text, start_offset, end_offset)
               VALUES (%s, %s, 0, 'Text', 0, 4)""",
            (policy[0], org),
        )
        audit = conn.execute(
            """INSERT INTO audits (org_id, user_id, formulas, findings, compliant, score, by_severity, duration_ms,
                                   rag_used) VALUES (%s, %s, 1, 1, 0, 50, '{}', 1, false) RETURNING id""",
            (org, user),
        ).fetchone()
        assert audit is not None
        conn.execute(
            """INSERT INTO audit_findings (audit_id, org_id, ordinal, formula, rule, severity, message)
               VALUES (%s, %s, 0, '=A1', 'r', 'low', 'm')""",
            (audit[0], org),
        )
        conn.execute(
            """INSERT INTO billing_ledger (org_id, source_event_id, kind, occurred_at)
               VALUES (%s, %s, 'invoice.paid', now())""",
            (org, "evt_" + org),
        )
        conn.execute(
            """INSERT INTO notifications (org_id, kind, feature, threshold, period, used, lim)
               VALUES (%s, 'usage_threshold', 'audits_per_month', 50, date_trunc('month', now()), 5, 10)""",
            (org,),
        )
        conn.execute(
            """INSERT INTO rate_limit_buckets (org_id, key, window_start, count, expires_at)
               VALUES (%s, 'org:' || %s, now(), 1, now() + interval '1 hour')""",
            (org, org),
        )


def counts(owner_url: str, org: str) -> dict[str, int]:
    """Rows of the org in each of its tables (and its own row)."""

    def count(conn: psycopg.Connection, query: str) -> int:
        row = conn.execute(query, (org,)).fetchone()
        assert row is not None
        return int(row[0])

    with psycopg.connect(owner_url) as conn:
        found = {t: count(conn, f"SELECT count(*) FROM {t} WHERE org_id = %s") for t in ORG_TABLES}
        found["organizations"] = count(conn, "SELECT count(*) FROM organizations WHERE id = %s")
    return found


def test_purge_removes_a_long_deleted_orgs_data_and_nothing_else(database: DatabaseUrls) -> None:
    # Given three populated orgs: deleted 40 days ago, deleted 5 days ago, and live
    orgs = {}
    for name, deleted_days_ago in (("old", 40), ("recent", 5), ("live", None)):
        org, user = new_org(database.owner, prefix=f"org_purge_{name}")
        populate(database.owner, org, user)
        if deleted_days_ago is not None:
            with psycopg.connect(database.owner) as conn:
                conn.execute(
                    "UPDATE organizations SET deleted_at = now() - make_interval(days => %s) WHERE id = %s",
                    (deleted_days_ago, org),
                )
        orgs[name] = org
    assert all(n > 0 for n in counts(database.owner, orgs["old"]).values())

    # When the purge runs (grace period 30 days)
    summary = run_task("purge")

    # Then every row of the long-deleted org is gone, append-only ledgers included
    assert orgs["old"] in summary["purged"]
    assert counts(database.owner, orgs["old"]) == dict.fromkeys([*ORG_TABLES, "organizations"], 0)
    # And the other two keep everything
    for name in ("recent", "live"):
        assert orgs[name] not in summary["purged"]
        assert all(n > 0 for n in counts(database.owner, orgs[name]).values())
    # And a second run finds nothing more of it
    assert orgs["old"] not in run_task("purge")["purged"]


# --- cleanup -----------------------------------------------------------------------------


def test_cleanup_deletes_expired_buckets_in_timed_batches(database: DatabaseUrls) -> None:
    # Given 12,000 expired rate-limit buckets and one still current
    org, _ = new_org(database.owner, prefix="org_clean")
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            """INSERT INTO rate_limit_buckets (org_id, key, window_start, count, expires_at)
               SELECT %s, 'org:' || %s || ':' || g, now() - interval '1 hour', 1, now() - interval '1 minute'
                 FROM generate_series(1, 12000) g""",
            (org, org),
        )
        conn.execute(
            """INSERT INTO rate_limit_buckets (org_id, key, window_start, count, expires_at)
               VALUES (%s, 'org:' || %s, now(), 1, now() + interval '2 minutes')""",
            (org, org),
        )

    # When the cleanup runs
    summary = run_task("cleanup")

    # Then the expired ones are gone in several batches, each timed
    assert summary["rate_limit_buckets_deleted"] >= 12000
    assert summary["batches"] >= 3
    assert 0 <= summary["longest_batch_ms"] < 5000
    with psycopg.connect(database.owner) as conn:
        left = conn.execute("SELECT count(*) FROM rate_limit_buckets WHERE org_id = %s", (org,)).fetchone()
    assert left == (1,)


def test_failed_webhook_rows_are_retried_with_backoff_up_to_the_limit_then_kept(database: DatabaseUrls) -> None:
    # Given a Clerk event whose application fails every time
    from sheetbrain.errors import ValidationError

    def failing(conn: psycopg.Connection, event: Any) -> bool:
        raise ValidationError("cannot apply")

    event_id = f"evt_fail_{datetime.now(UTC).timestamp()}"
    event = {"type": "user.updated", "data": {"id": "user_x"}}
    assert receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=failing).outcome == "failed"

    def inbox_row() -> tuple[Any, ...]:
        with psycopg.connect(database.owner) as conn:
            row = conn.execute(
                "SELECT status, attempts, next_attempt_at - now(), last_error FROM webhook_inbox "
                "WHERE provider = 'clerk' AND event_id = %s",
                (event_id,),
            ).fetchone()
        assert row is not None
        return row

    def make_due() -> None:
        with psycopg.connect(database.owner) as conn:
            conn.execute(
                "UPDATE webhook_inbox SET next_attempt_at = now() - interval '1 second' "
                "WHERE provider = 'clerk' AND event_id = %s AND next_attempt_at IS NOT NULL",
                (event_id,),
            )

    # When it is retried each time its backoff has elapsed
    delays = [inbox_row()[2]]
    counts = []
    while inbox_row()[2] is not None and len(delays) <= 20:
        make_due()
        counts.append(retry_due({"clerk": failing}))
        delays.append(inbox_row()[2])

    # Then the delays doubled over the 8 attempts (1 to 64 minutes), and the row is kept for inspection
    status, attempts, _, error = inbox_row()
    assert (status, attempts) == ("failed", 8)
    minutes = [round(d.total_seconds() / 60) for d in delays[:-1]]
    assert minutes == [1, 2, 4, 8, 16, 32, 64]
    assert counts == [{"retried": 1, "processed": 0, "failed": 1}] * 7
    assert error == "validation_error: cannot apply"
    run_task("cleanup")
    assert inbox_row()[:2] == ("failed", 8)
