"""Monthly quotas: when they reset, what a refusal says, and that the early check refuses
before any work runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sheetbrain.db import tenant_transaction
from sheetbrain.errors import ConfigurationError, QuotaExceededError
from sheetbrain.metering import quota
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import consume, new_org
from tests.support import call, claims_for

NOW = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("now", "first_of_month", "next_month"),
    [
        (NOW, date(2026, 11, 1), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), date(2026, 12, 1), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), date(2026, 1, 1), datetime(2026, 2, 1, tzinfo=UTC)),
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), date(2026, 11, 1), datetime(2026, 12, 1, tzinfo=UTC)),
        # 01:30 on the 1st of December at UTC+2 is still November in UTC
        (datetime(2026, 12, 1, 1, 30, tzinfo=PLUS_TWO), date(2026, 11, 1), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_the_month_and_its_reset_are_counted_in_utc(now: datetime, first_of_month: date, next_month: datetime) -> None:
    # Given an instant; When its month is asked; Then it is the UTC month, and the reset the first instant after it
    assert quota.month_start(now) == first_of_month
    reset = quota.next_month_start(now)
    assert (reset, reset.utcoffset()) == (next_month, timedelta(0))


def org_at_limit(database: DatabaseUrls, limit: int, used: int) -> tuple[str, str]:
    org, user = new_org(database.owner, prefix="org_qt", overrides={"audits_per_month": limit})
    if used:
        consume(database.owner, org, user, "audits", used, NOW)
    return org, user


def test_a_refusal_names_the_limit_usage_plan_and_the_first_instant_of_next_month(database: DatabaseUrls) -> None:
    # Given an org that used its 2 audits of November
    org, user = org_at_limit(database, 2, 2)

    # When one more is consumed, and checked, on 22 November at 12:00:30 UTC
    with pytest.raises(QuotaExceededError) as consumed, tenant_transaction(org, user) as conn:
        quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1,
                      idempotency_key="k3", now=NOW)  # fmt: skip
    with pytest.raises(QuotaExceededError) as checked, tenant_transaction(org, user) as conn:
        quota.check(conn, org_id=org, feature="audits_per_month", now=NOW)

    # Then both refusals say the same, with the seconds until 1 December 00:00 UTC
    for refusal in (consumed.value, checked.value):
        assert (refusal.code, refusal.retry_after) == ("quota_exceeded", 8 * 86400 + 11 * 3600 + 59 * 60 + 30)
        assert refusal.message == "The monthly quota of 2 for audits_per_month is used up; it resets on 2026-12-01."
        assert refusal.details == {
            "plan": "free",
            "feature": "audits_per_month",
            "limit": 2,
            "used": 2,
            "resets_at": "2026-12-01T00:00:00+00:00",
        }


def test_half_a_second_before_the_reset_the_retry_is_one_second(database: DatabaseUrls) -> None:
    # Given an org at its limit, half a second before the month ends
    org, user = org_at_limit(database, 1, 1)
    late = datetime(2026, 11, 30, 23, 59, 59, 500000, tzinfo=UTC)

    # When it is checked
    with pytest.raises(QuotaExceededError) as refused, tenant_transaction(org, user) as conn:
        quota.check(conn, org_id=org, feature="audits_per_month", now=late)

    # Then it may retry in 1 second (never 0)
    assert refused.value.retry_after == 1


@pytest.mark.parametrize(
    ("limit", "used", "refused"),
    [(3, 2, False), (3, 3, True), (3, 4, True), (0, 0, True), (-1, 500, False)],
)
def test_the_check_refuses_exactly_from_the_limit_on(
    database: DatabaseUrls, limit: int, used: int, refused: bool
) -> None:
    # Given an org with a limit (-1 unlimited) and a month's usage
    org, user = org_at_limit(database, limit, used)

    # When the quota is checked
    with tenant_transaction(org, user) as conn:
        try:
            quota.check(conn, org_id=org, feature="audits_per_month", now=NOW)
            outcome = False
        except QuotaExceededError:
            outcome = True

    # Then it refuses exactly when the usage has reached a limit that applies
    assert outcome is refused


def test_a_consumption_reports_the_months_usage_and_a_repeat_is_a_duplicate(database: DatabaseUrls) -> None:
    # Given an org with 5 audits a month, 1 used
    org, user = org_at_limit(database, 5, 1)

    # When 2 are consumed under one key, twice
    with tenant_transaction(org, user) as conn:
        first = quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=2,
                              idempotency_key="same", now=NOW)  # fmt: skip
    with tenant_transaction(org, user) as conn:
        again = quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=2,
                              idempotency_key="same", now=NOW)  # fmt: skip

    # Then the usage is 3 of 5 once, and the repeat counted nothing
    assert first == (3, 5, False)
    assert again == (3, 5, True)


def test_an_audit_over_quota_is_refused_before_the_engine_runs(
    database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an org whose month's audits are used up, and an engine that records being run
    org, user = new_org(database.owner, prefix="org_qe", overrides={"audits_per_month": 1})
    consume(database.owner, org, user, "audits", 1, datetime.now(UTC))
    import sheetbrain.engine

    runs: list[Any] = []
    real = sheetbrain.engine.audit_formulas
    monkeypatch.setattr(sheetbrain.engine, "audit_formulas", lambda *a: runs.append(a) or real(*a))

    # When an audit is requested
    refused = call("POST", "/api/audit", claims=claims_for(user, org, "org:admin"), body={"formulas": ["=A1+1"]})

    # Then it is refused with the quota's error, and the engine never ran
    assert (refused.status, refused.json()["error"]["code"]) == (429, "quota_exceeded")
    assert runs == []
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM audits WHERE org_id = %s", (org,)).fetchone() == (0,)


def test_a_plan_without_the_features_limit_is_a_configuration_error_naming_it(database: DatabaseUrls) -> None:
    # Given an org on the free plan, and the free plan's audits_per_month row removed (rolled back at the end)
    org, user = new_org(database.owner, prefix="org_qn")
    with psycopg.connect(database.owner) as conn:
        conn.execute("DELETE FROM plan_features WHERE plan_code = 'free' AND feature = 'audits_per_month'")
        # When it is checked and consumed
        errors = []
        for attempt in (
            lambda: quota.check(conn, org_id=org, feature="audits_per_month", now=NOW),
            lambda: quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1,
                                  idempotency_key="k", now=NOW),
        ):  # fmt: skip
            with pytest.raises(ConfigurationError) as refused:
                attempt()
            errors.append((refused.value.code, refused.value.message, refused.value.details))
        conn.rollback()

    # Then both name the feature
    named = ("configuration_error", "The plan defines no limit for audits_per_month.", {"feature": "audits_per_month"})
    assert errors == [named, named]


def test_without_an_instant_the_quota_runs_on_the_current_utc_time_and_counts_the_user(database: DatabaseUrls) -> None:
    # Given an org with 1 audit a month and nothing used
    org, user = new_org(database.owner, prefix="org_qc", overrides={"audits_per_month": 1})

    # When one is consumed and then another asked for, with no instant given
    with tenant_transaction(org, user) as conn:
        consumed = quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1,
                                 idempotency_key="now-1")  # fmt: skip
    with pytest.raises(QuotaExceededError) as checked, tenant_transaction(org, user) as conn:
        quota.check(conn, org_id=org, feature="audits_per_month")
    with pytest.raises(QuotaExceededError) as refused, tenant_transaction(org, user) as conn:
        quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1, idempotency_key="now-2")

    # Then the first counts against this month, under the user, and both refusals reset next month
    assert consumed == (1, 1, False)
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT user_id FROM usage_events WHERE org_id = %s", (org,)).fetchall() == [(user,)]
    today = datetime.now(UTC)
    next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert checked.value.details["resets_at"] == next_month.isoformat()
    assert refused.value.details["resets_at"] == next_month.isoformat()


@pytest.mark.parametrize(("status", "past_due_since"), [("active", None), ("past_due", NOW - timedelta(days=1))])
def test_a_refusal_names_the_orgs_own_paid_plan(
    database: DatabaseUrls, status: str, past_due_since: datetime | None
) -> None:
    # Given an org on a pro subscription, active or one day past due (within the plan's grace at
    # the refusal's instant), whose audits (overridden to 1) are used up
    org, user = org_at_limit(database, 1, 1)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO subscriptions (org_id, plan_code, status, past_due_since) VALUES (%s, 'pro', %s, %s)"
            " ON CONFLICT (org_id) DO UPDATE SET plan_code = 'pro', status = EXCLUDED.status,"
            " past_due_since = EXCLUDED.past_due_since",
            (org, status, past_due_since),
        )

    # When one more is consumed
    with pytest.raises(QuotaExceededError) as refused, tenant_transaction(org, user) as conn:
        quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1,
                      idempotency_key="pro-2", now=NOW)  # fmt: skip

    with pytest.raises(QuotaExceededError) as checked, tenant_transaction(org, user) as conn:
        quota.check(conn, org_id=org, feature="audits_per_month", now=NOW)

    # Then both refusals name the pro plan
    assert refused.value.details["plan"] == checked.value.details["plan"] == "pro"


def test_the_month_is_utcs_whatever_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process whose local time zone is 13 hours ahead of UTC
    import time

    monkeypatch.setenv("TZ", "Pacific/Tongatapu")
    time.tzset()
    try:
        # When the month of 30 November 12:00 UTC (1 December 01:00 local) is asked
        month = quota.month_start(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        time.tzset()

    # Then it is November
    assert month == date(2026, 11, 1)


def test_the_check_counts_a_grant_valid_at_its_instant(database: DatabaseUrls) -> None:
    # Given a free org (10 audits) with a grant of 5 more for November, 12 used
    org, user = org_at_limit(database, 10, 12)
    with psycopg.connect(database.owner) as conn:
        conn.execute("DELETE FROM entitlement_overrides WHERE org_id = %s", (org,))
        conn.execute(
            """INSERT INTO entitlement_grants (org_id, feature, amount, valid_from, valid_until, reason)
               VALUES (%s, 'audits_per_month', 5, %s, %s, 'goodwill')""",
            (org, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        )

    # When checked on 22 November
    # Then it admits (12 of 15): no QuotaExceededError
    with tenant_transaction(org, user) as conn:
        quota.check(conn, org_id=org, feature="audits_per_month", now=NOW)
