"""Usage-threshold notifications: recorded once per period in the caller's transaction,
delivered as EventBridge events (moto), failures kept on the row for the next attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.db import tenant_transaction
from sheetbrain.notifications import deliver_pending, record_crossings
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import Aws, aws_stage, new_org

pytestmark = pytest.mark.dates  # thresholds are notified once per month

NOW = datetime.now(UTC)


@pytest.fixture
def aws(database: DatabaseUrls) -> Iterator[Aws]:
    with aws_stage() as stage:
        yield stage


def crossings(org: str, before: int, after: int, limit: int, feature: str = "ai_tokens_per_month") -> list[int]:
    with tenant_transaction(org) as conn:
        return record_crossings(
            conn, org_id=org, feature=feature, used_before=before, used_after=after, limit=limit, now=NOW
        )


def notifications(owner_url: str, org: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT threshold, period, used, lim, delivered_at IS NOT NULL, attempts, last_error "
            "FROM notifications WHERE org_id = %s ORDER BY threshold",
            (org,),
        ).fetchall()


def test_each_threshold_is_recorded_once_per_period(database: DatabaseUrls) -> None:
    # Given an organization with the default thresholds (50/80/100%) of a 1,000-token limit
    org, _ = new_org(database.owner)

    # When usage steps over 50%, then over 80% and 100% at once, then 50% again (a replay)
    first = crossings(org, 400, 600, 1000)
    second = crossings(org, 600, 1200, 1000)
    replay = crossings(org, 0, 1200, 1000)

    # Then each threshold was recorded once, for this month, with the usage that crossed it
    assert len(first) == 1
    assert len(second) == 2
    assert replay == []
    period = date(NOW.year, NOW.month, 1)
    assert [(t, p, u, lim) for t, p, u, lim, *_ in notifications(database.owner, org)] == [
        (50, period, 600, 1000),
        (80, period, 1200, 1000),
        (100, period, 1200, 1000),
    ]


def test_unlimited_or_zero_limits_and_no_step_notify_nothing(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    assert crossings(org, 0, 10**9, -1) == []
    assert crossings(org, 0, 10, 0) == []
    assert crossings(org, 700, 700, 1000) == []
    assert notifications(database.owner, org) == []


def test_the_orgs_own_thresholds_replace_the_defaults(database: DatabaseUrls) -> None:
    # Given an organization that wants to hear at 25% and 90% of its audits
    org, _ = new_org(database.owner)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO usage_thresholds (org_id, feature, percents) VALUES (%s, 'audits_per_month', '{25,90}')",
            (org,),
        )

    # When usage goes from 2 to 9 of 10
    ids = crossings(org, 2, 9, 10, feature="audits_per_month")

    # Then 25% and 90% are recorded, and not the defaults 50 and 80
    assert len(ids) == 2
    assert [row[0] for row in notifications(database.owner, org)] == [25, 90]


def test_pending_notifications_are_delivered_once_as_events(aws: Aws, database: DatabaseUrls) -> None:
    # Given two crossings recorded for an organization
    org, _ = new_org(database.owner)
    crossings(org, 0, 850, 1000)

    # When pending notifications are delivered, twice
    first = deliver_pending()
    second = deliver_pending()

    # Then two events reached the bus, once, with what a consumer needs
    assert first["sent"] >= 2
    assert second == {"sent": 0, "failed": 0}
    events = sorted(aws.events_received(org), key=lambda e: e["detail"]["threshold"])
    assert [e["detail"]["threshold"] for e in events] == [50, 80]
    assert events[0]["source"] == "sheetbrain"
    assert events[0]["detail-type"] == "Usage threshold crossed"
    detail = events[1]["detail"]
    assert {k: detail[k] for k in ("org_id", "feature", "threshold", "used", "limit", "period")} == {
        "org_id": org,
        "feature": "ai_tokens_per_month",
        "threshold": 80,
        "used": 850,
        "limit": 1000,
        "period": date(NOW.year, NOW.month, 1).isoformat(),
    }
    assert all(row[4] and row[5] == 1 for row in notifications(database.owner, org))


class RefusingEventBridge:
    """An EventBridge stand-in that accepts the call but fails every entry."""

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3 names it Entries
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"} for _ in Entries],
        }


def expire_backoff(owner_url: str, org: str) -> None:
    with psycopg.connect(owner_url) as conn:
        conn.execute("UPDATE notifications SET claimed_until = now() - interval '1 second' WHERE org_id = %s", (org,))


def test_a_failed_delivery_is_kept_and_retried(aws: Aws, database: DatabaseUrls) -> None:
    # Given a crossing, and EventBridge refusing the first delivery
    org, _ = new_org(database.owner)
    crossings(org, 0, 500, 1000)
    result = deliver_pending(client=RefusingEventBridge())

    # Then the row is still pending, with the attempt and the error recorded
    assert result["failed"] >= 1
    [(threshold, _, _, _, delivered, attempts, error)] = notifications(database.owner, org)
    assert (threshold, delivered, attempts) == (50, False, 1)
    assert "InternalFailure" in error

    # When delivery is tried again at once, Then the row waits out its backoff (a minute)
    assert deliver_pending() == {"sent": 0, "failed": 0}

    # When the backoff has passed and EventBridge works
    expire_backoff(database.owner, org)
    deliver_pending()

    # Then it is delivered, once
    [(_, _, _, _, delivered, attempts, error)] = notifications(database.owner, org)
    assert (delivered, attempts, error) == (True, 2, None)
    assert len(aws.events_received(org)) == 1


class UnreachableEventBridge:
    """An EventBridge stand-in whose every call fails as botocore reports an API error."""

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3 names it Entries
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutEvents")


def test_an_eventbridge_error_is_recorded_not_raised(database: DatabaseUrls) -> None:
    # Given a crossing, and EventBridge throttling every call
    org, _ = new_org(database.owner)
    crossings(org, 0, 1000, 1000)

    # When delivery is attempted, it does not raise: the rows keep the error for a retry
    result = deliver_pending(client=UnreachableEventBridge())
    assert result["failed"] >= 3
    rows = notifications(database.owner, org)
    assert [(r[0], r[4], r[5]) for r in rows] == [(50, False, 1), (80, False, 1), (100, False, 1)]
    assert all("ThrottlingException" in r[6] for r in rows)


class CountingUnreachableEventBridge(UnreachableEventBridge):
    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3 names it Entries
        self.calls += 1
        return super().put_events(Entries)


def test_an_unreachable_eventbridge_is_called_once_and_the_rows_back_off(database: DatabaseUrls) -> None:
    # Given 12 crossings (two PutEvents calls' worth) and EventBridge failing every call
    org, _ = new_org(database.owner)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO usage_thresholds (org_id, feature, percents) VALUES (%s, 'ai_tokens_per_month', %s)",
            (org, list(range(5, 65, 5))),
        )
    assert len(crossings(org, 0, 1000, 1000)) == 12
    events = CountingUnreachableEventBridge()

    # When delivery is attempted
    result = deliver_pending(client=events)

    # Then the first failure ends the run (the second call would fail alike), every row keeps
    # the error and one attempt, and none is offered again before its backoff
    assert (events.calls, result) == (1, {"sent": 0, "failed": 12})
    assert {(r[4], r[5]) for r in notifications(database.owner, org)} == {(False, 1)}
    assert deliver_pending(client=events) == {"sent": 0, "failed": 0} and events.calls == 1
