"""A change of the org's thresholds applies from the next crossing: a threshold it adds that
this period's usage already reaches is not notified this period (recorded as passed in the
change's own transaction), one kept through the change keeps its crossing, and one notified
this period is never notified again, however often it is removed and added back.

The use cases are called with a pinned moment (17 March 2027, then 2 April 2027), so these
tests expect the same notifications on any day they run; the last test goes through the API
and the alerts task on today's clock (marked ``dates``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.db import tenant_transaction
from sheetbrain.maintenance.tasks import run_task
from sheetbrain.notifications import record_crossings
from sheetbrain.notifications.service import replace_thresholds
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import Aws, aws_stage, consume, new_org
from tests.support import call, claims_for

MARCH = datetime(2027, 3, 17, 12, tzinfo=UTC)
APRIL = datetime(2027, 4, 2, 12, tzinfo=UTC)
AUDITS = "audits_per_month"
TOKENS = "ai_tokens_per_month"


def org_with_limits(owner_url: str, audits: int = 10, tokens: int = 1000) -> tuple[str, str]:
    return new_org(owner_url, prefix="org_thr", overrides={AUDITS: audits, TOKENS: tokens})


def use(owner_url: str, org: str, user: str, audits: int, at: datetime) -> None:
    """Audits counted this month, and their crossings recorded, as the audit route does."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM usage_monthly WHERE org_id = %s AND metric = 'audits' "
            "AND month = %s",
            (org, date(at.year, at.month, 1)),
        ).fetchone()
    assert row is not None
    before = int(row[0])
    consume(owner_url, org, user, "audits", audits, at)
    record(org, before, before + audits, at)


def record(org: str, before: int, after: int, at: datetime, limit: int = 10) -> list[int]:
    with tenant_transaction(org) as conn:
        return record_crossings(
            conn, org_id=org, feature=AUDITS, used_before=before, used_after=after, limit=limit, now=at
        )


def catch_up(org: str, used: int, at: datetime, limit: int = 10) -> list[int]:
    """The alerts task's step for one org and metric: every threshold from zero to the usage."""
    return record(org, 0, used, at, limit)


def set_thresholds(org: str, user: str, thresholds: dict[str, list[int]], at: datetime) -> None:
    replace_thresholds(Identity(user_id=user, org_id=org, role="admin"), thresholds, now=at)


def notified(owner_url: str, org: str) -> list[tuple[Any, ...]]:
    """(threshold, period, used, limit) of each notification, in threshold order per period."""
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT threshold, period, used, lim FROM notifications WHERE org_id = %s ORDER BY period, threshold",
            (org,),
        ).fetchall()


def suppressed(owner_url: str, org: str) -> list[tuple[Any, ...]]:
    """(feature, period, threshold, used, limit) of each threshold passed at a change."""
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT feature, period, threshold, used, lim FROM threshold_suppressions WHERE org_id = %s "
            "ORDER BY feature, period, threshold",
            (org,),
        ).fetchall()


def test_a_threshold_added_below_the_usage_waits_for_the_next_period(database: DatabaseUrls) -> None:
    # Given 6 of 10 audits used in March, 50% notified with the defaults
    org, user = org_with_limits(database.owner)
    use(database.owner, org, user, 6, MARCH)

    # When the admin sets 30, 50, 70 and 100% (30 and 70 added; usage already past 30)
    set_thresholds(org, user, {AUDITS: [30, 50, 70, 100]}, MARCH)

    # Then the alerts task's catch-up adds nothing: 30% was passed when it was set
    assert catch_up(org, 6, MARCH) == []
    assert suppressed(database.owner, org) == [(AUDITS, date(2027, 3, 1), 30, 6, 10)]

    # When usage steps to 8 and the task catches up again
    use(database.owner, org, user, 2, MARCH)
    assert catch_up(org, 8, MARCH) == []

    # Then 70% (crossed after the change) is notified, and 30% and the old 80% are not
    assert notified(database.owner, org) == [(50, date(2027, 3, 1), 6, 10), (70, date(2027, 3, 1), 8, 10)]


def test_a_threshold_notified_this_period_is_never_sent_again_when_removed_and_added_back(
    database: DatabaseUrls,
) -> None:
    # Given 50% notified in March at 6 of 10
    org, user = org_with_limits(database.owner)
    use(database.owner, org, user, 6, MARCH)

    # When the admin removes 50% and 80%, usage steps to 9 (past 80%, not notified: not set),
    # and the admin adds both back
    set_thresholds(org, user, {AUDITS: [100]}, MARCH)
    use(database.owner, org, user, 3, MARCH)
    set_thresholds(org, user, {AUDITS: [50, 80, 100]}, MARCH)

    # Then neither is notified by the catch-up: 50% was sent, 80% was passed when added back
    assert catch_up(org, 9, MARCH) == []
    assert suppressed(database.owner, org) == [(AUDITS, date(2027, 3, 1), 80, 9, 10)]

    # When usage reaches the limit, Then only 100% is notified
    use(database.owner, org, user, 1, MARCH)
    assert notified(database.owner, org) == [(50, date(2027, 3, 1), 6, 10), (100, date(2027, 3, 1), 10, 10)]


def test_a_threshold_kept_through_a_change_keeps_its_crossing(database: DatabaseUrls) -> None:
    # Given 9 audits used of a limit of 20 (45%: nothing crossed), then the limit lowered to 10
    # (90%: 50 and 80% crossed, not yet recorded: the alerts task has not run)
    org, user = org_with_limits(database.owner, audits=20)
    use(database.owner, org, user, 9, MARCH)
    with psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE entitlement_overrides SET value = 10 WHERE org_id = %s AND feature = %s", (org, AUDITS))

    # When the admin adds 90% to the defaults before the task runs
    set_thresholds(org, user, {AUDITS: [50, 80, 90, 100]}, MARCH)
    catch_up(org, 9, MARCH)

    # Then the kept 50 and 80% are notified (crossed before the change), the added 90% is not
    assert notified(database.owner, org) == [(50, date(2027, 3, 1), 9, 10), (80, date(2027, 3, 1), 9, 10)]
    assert suppressed(database.owner, org) == [(AUDITS, date(2027, 3, 1), 90, 9, 10)]


def test_a_passed_threshold_is_notified_when_crossed_next_period(database: DatabaseUrls) -> None:
    # Given 30% added and passed in March, and the AI-token thresholds changed alike
    org, user = org_with_limits(database.owner)
    use(database.owner, org, user, 6, MARCH)
    consume(database.owner, org, user, "ai_tokens", 900, MARCH)
    set_thresholds(org, user, {AUDITS: [30, 100], TOKENS: [10, 95]}, MARCH)
    assert suppressed(database.owner, org) == [
        (TOKENS, date(2027, 3, 1), 10, 900, 1000),
        (AUDITS, date(2027, 3, 1), 30, 6, 10),
    ]

    # When April's usage crosses 30%
    use(database.owner, org, user, 3, APRIL)

    # Then it is notified for April
    assert notified(database.owner, org) == [(50, date(2027, 3, 1), 6, 10), (30, date(2027, 4, 1), 3, 10)]

    # And April's first change forgets March's passed thresholds (they no longer apply)
    set_thresholds(org, user, {AUDITS: [30, 40, 100]}, APRIL)
    assert suppressed(database.owner, org) == []


def test_nothing_is_passed_without_a_limit_or_an_added_threshold(database: DatabaseUrls) -> None:
    # Given an org with unlimited AI tokens and 6 of 10 audits used
    org, user = new_org(database.owner, prefix="org_thr", overrides={AUDITS: 10, TOKENS: -1})
    use(database.owner, org, user, 6, MARCH)
    consume(database.owner, org, user, "ai_tokens", 10**6, MARCH)

    # When the admin adds AI-token thresholds, and re-orders or drops audit ones (none added)
    set_thresholds(org, user, {AUDITS: [100, 50], TOKENS: [1, 2]}, MARCH)
    set_thresholds(org, user, {AUDITS: [50]}, MARCH)

    # Then nothing is recorded as passed
    assert suppressed(database.owner, org) == []


# --- through the API and the alerts task, on today's clock -------------------------------


@pytest.fixture
def aws(database: DatabaseUrls) -> Iterator[Aws]:
    with aws_stage() as stage:
        yield stage


@pytest.mark.dates
def test_a_threshold_set_through_the_api_below_the_usage_is_not_sent_by_the_alerts_task(
    aws: Aws, database: DatabaseUrls
) -> None:
    # Given 6 of 10 audits used this month, and the alerts task has notified 50%
    org, user = org_with_limits(database.owner)
    consume(database.owner, org, user, "audits", 6, datetime.now(UTC))
    run_task("alerts")
    admin = claims_for(f"user_{uuid.uuid4().hex[:8]}", org, "org:admin")

    # When the admin sets 30, 50 and 100% through the API and the task runs again
    body = {"thresholds": {AUDITS: [30, 50, 100]}}
    assert call("PUT", "/api/notifications/thresholds", claims=admin, body=body).status == 200
    run_task("alerts")

    # Then the history still holds 50% alone
    history = call("GET", "/api/notifications", claims=admin).json()["notifications"]
    assert [(i["threshold"], i["used"]) for i in history] == [(50, 6)]

    # When usage reaches the limit, Then the task notifies 100%, and the events sent were 50 and 100
    consume(database.owner, org, user, "audits", 4, datetime.now(UTC))
    run_task("alerts")
    history = call("GET", "/api/notifications", claims=admin).json()["notifications"]
    assert [(i["threshold"], i["used"]) for i in history] == [(100, 10), (50, 6)]
    assert sorted(e["detail"]["threshold"] for e in aws.events_received(org)) == [50, 100]
