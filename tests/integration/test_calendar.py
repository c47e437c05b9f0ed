"""What "this month" means, through the real handlers, on whatever date the clock reads: the
quota's reset, this month's usage and audits, and the usage series across the month's edge.
``make test-dates`` runs these with the clock pinned to a month's first, second and last days,
29 February and 31 December. The expected dates are worked out here from the calendar, not by
the code under test."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import consume, new_org
from tests.support import call, claims_for

pytestmark = pytest.mark.dates


def first_of_next_month(day: date) -> date:
    # Day 28 exists in every month, and four days on is always in the next one.
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def last_day_of_last_month(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_a_used_up_quota_resets_at_the_next_utc_month(database: DatabaseUrls) -> None:
    # Given an org whose monthly audit quota is 1, used by one audit
    org, user = new_org(database.owner, prefix="org_cal", overrides={"audits_per_month": 1})
    claims = claims_for(user, org, "org:admin")
    assert call("POST", "/api/audit", claims=claims, body={"formulas": ["=A1*2"]}).status == 200

    # When the next audit is asked for
    before = datetime.now(UTC)
    refused = call("POST", "/api/audit", claims=claims, body={"formulas": ["=A2*2"]})
    after = datetime.now(UTC)

    # Then it is refused until midnight UTC of the first of next month (next year's January
    # on 31 December), and Retry-After counts the seconds to then
    assert refused.status == 429
    resets = datetime.combine(first_of_next_month(before.date()), datetime.min.time(), UTC)
    details = refused.json()["error"]["details"]
    assert datetime.fromisoformat(details["resets_at"]) == resets
    retry_after = int(refused.header("Retry-After") or 0)
    assert int((resets - after).total_seconds()) - 1 <= retry_after <= int((resets - before).total_seconds()) + 1
    # ...and the billing view names the same moment
    billing = call("GET", "/api/billing", claims=claims).json()
    assert datetime.fromisoformat(billing["usage_resets_at"]) == resets


def test_this_months_usage_and_audits_start_on_the_first_and_last_months_stay_behind(
    database: DatabaseUrls,
) -> None:
    # Given 4 audits' usage and one audit recorded at noon on the last day of last month
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    last_month_day = last_day_of_last_month(datetime.now(UTC).date())
    consume(database.owner, org, user, "audits", 4, noon(last_month_day))
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            """INSERT INTO audits (org_id, user_id, formulas, findings, compliant, score, by_severity,
                                   duration_ms, rag_used, created_at)
               VALUES (%s, %s, 1, 0, 1, 100, '{}', 1, false, %s)""",
            (org, user, noon(last_month_day)),
        )
    # ...and one audit now
    assert call("POST", "/api/audit", claims=claims, body={"formulas": ["=B1+1"]}).status == 200
    today = datetime.now(UTC).date()

    # When the org reads its billing view, its statistics and its usage series
    billing = call("GET", "/api/billing", claims=claims).json()
    stats = call("GET", "/api/stats", claims=claims).json()
    window = f"from={last_month_day.isoformat()}&to={today.isoformat()}"
    by_day = call("GET", "/api/usage", claims=claims, query=f"metric=audits&granularity=day&{window}").json()
    by_month = call("GET", "/api/usage", claims=claims, query=f"metric=audits&granularity=month&{window}").json()
    recent = call("GET", "/api/usage", claims=claims, query="metric=audits").json()

    # Then this month holds only today's audit, and last month's stay in last month
    assert {u["feature"]: u["used"] for u in billing["usage"]}["audits_per_month"] == 1
    assert (stats["audits_total"], stats["audits_this_month"]) == (2, 1)
    assert [(p["period"], p["quantity"]) for p in by_day["points"]] == [
        (last_month_day.isoformat(), 4),
        (today.isoformat(), 1),
    ]
    assert [(p["period"], p["quantity"]) for p in by_month["points"]] == [
        (last_month_day.replace(day=1).isoformat(), 4),
        (today.replace(day=1).isoformat(), 1),
    ]
    # ...and the default series (the last 30 days) ends today, last month's day in it only
    # when it is one of those 30
    in_default = (today - last_month_day).days < 30
    assert [(p["period"], p["quantity"]) for p in recent["points"]] == [
        *([(last_month_day.isoformat(), 4)] if in_default else []),
        (today.isoformat(), 1),
    ]


def test_the_default_usage_series_is_the_last_30_days_ending_today(database: DatabaseUrls) -> None:
    # Given usage on each of the 31 days up to today
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    today = datetime.now(UTC).date()
    for back in range(31):
        consume(database.owner, org, user, "audits", back + 1, noon(today - timedelta(days=back)))

    # When the series is asked for without dates
    points = call("GET", "/api/usage", claims=claims, query="metric=audits").json()["points"]

    # Then it covers the 30 days ending today, oldest first: 30 days ago is left out
    assert [(p["period"], p["quantity"]) for p in points] == [
        ((today - timedelta(days=back)).isoformat(), back + 1) for back in range(29, -1, -1)
    ]


def test_usage_by_month_spans_the_year_boundary(database: DatabaseUrls) -> None:
    # Given usage on 31 December and 1 January around the current year's start
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    year = datetime.now(UTC).year
    consume(database.owner, org, user, "audits", 2, noon(date(year - 1, 12, 31)))
    consume(database.owner, org, user, "audits", 3, noon(date(year, 1, 1)))

    # When the monthly series from mid-December to mid-January is read
    query = f"metric=audits&granularity=month&from={year - 1}-12-15&to={year}-01-15"
    points = call("GET", "/api/usage", claims=claims, query=query).json()["points"]

    # Then December and January are two points, each in its own year
    assert [(p["period"], p["quantity"]) for p in points] == [(f"{year - 1}-12-01", 2), (f"{year}-01-01", 3)]


def test_a_one_day_window_is_that_days_point(database: DatabaseUrls) -> None:
    # Given usage on 14 and 15 March 2026
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    consume(database.owner, org, user, "audits", 2, noon(date(2026, 3, 14)))
    consume(database.owner, org, user, "audits", 5, noon(date(2026, 3, 15)))

    # When the window is the one day 15 March
    reply = call("GET", "/api/usage", claims=claims, query="metric=audits&from=2026-03-15&to=2026-03-15").json()

    # Then it holds that day alone
    assert reply["points"] == [{"period": "2026-03-15", "quantity": 5}]
    assert reply["next_from"] is None


def test_a_daily_window_of_exactly_400_days_is_one_page_and_401_days_two(database: DatabaseUrls) -> None:
    # Given usage on the first and the 401st day of a window from 1 January 2024
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    consume(database.owner, org, user, "audits", 1, noon(date(2024, 1, 1)))
    consume(database.owner, org, user, "audits", 7, noon(date(2025, 2, 4)))  # 2024 has 366 days: day 401

    # When 400 days (to 3 February 2025) and 401 days (to 4 February 2025) are asked for
    four_hundred = call("GET", "/api/usage", claims=claims, query="metric=audits&from=2024-01-01&to=2025-02-03").json()
    one_more = call("GET", "/api/usage", claims=claims, query="metric=audits&from=2024-01-01&to=2025-02-04").json()

    # Then 400 days are one answer; the 401st day is the next page's start, not in this one
    assert (four_hundred["points"], four_hundred["next_from"]) == ([{"period": "2024-01-01", "quantity": 1}], None)
    assert (one_more["points"], one_more["next_from"]) == ([{"period": "2024-01-01", "quantity": 1}], "2025-02-04")


def test_a_monthly_series_is_never_paged(database: DatabaseUrls) -> None:
    # Given usage in January 2000 and December 2001
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    consume(database.owner, org, user, "audits", 3, noon(date(2000, 1, 10)))
    consume(database.owner, org, user, "audits", 4, noon(date(2001, 12, 20)))

    # When the monthly series of those two years (730 days) is asked for
    reply = call(
        "GET", "/api/usage", claims=claims, query="metric=audits&granularity=month&from=2000-01-01&to=2001-12-31"
    ).json()

    # Then both months are in one answer
    assert reply["points"] == [{"period": "2000-01-01", "quantity": 3}, {"period": "2001-12-01", "quantity": 4}]
    assert reply["next_from"] is None


def test_the_default_series_ends_on_todays_utc_date_whatever_the_servers_zone(
    database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given usage today (UTC) and on the first day of the 30 ending today, and the process in a
    # zone whose date is not UTC's now: 12 hours behind before noon UTC, 14 hours ahead after (one
    # of the two always differs). A window ending on the zone's date would lose today (behind) or
    # the first day (ahead).
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    now = datetime.now(UTC)
    consume(database.owner, org, user, "audits", 6, noon(now.date()))
    consume(database.owner, org, user, "audits", 1, noon(now.date() - timedelta(days=29)))
    monkeypatch.setenv("TZ", "Etc/GMT+12" if now.hour < 12 else "Etc/GMT-14")
    time.tzset()
    try:
        # (the zone's date is not UTC's, unless UTC's date has turned since ``now``)
        assert datetime.now().date() != datetime.now(UTC).date() or datetime.now(UTC).date() != now.date()

        # When the series is asked for without dates
        points = call("GET", "/api/usage", claims=claims, query="metric=audits").json()["points"]
    finally:
        monkeypatch.undo()
        time.tzset()

    # Then it is the 30 days ending on today's UTC date: both days in it
    assert points == [
        {"period": (now.date() - timedelta(days=29)).isoformat(), "quantity": 1},
        {"period": now.date().isoformat(), "quantity": 6},
    ]


def test_a_window_that_starts_after_it_ends_is_an_empty_series(database: DatabaseUrls) -> None:
    # Given usage on 2 and 3 March 2026
    org, user = new_org(database.owner, prefix="org_cal")
    claims = claims_for(user, org, "org:admin")
    consume(database.owner, org, user, "audits", 2, noon(date(2026, 3, 2)))
    consume(database.owner, org, user, "audits", 3, noon(date(2026, 3, 3)))

    # When the window runs from 3 March back to 2 March
    reply = call("GET", "/api/usage", claims=claims, query="metric=audits&from=2026-03-03&to=2026-03-02")

    # Then the answer is an empty series with no next page
    assert reply.status == 200
    assert reply.json() == {"metric": "audits", "granularity": "day", "points": [], "next_from": None}
