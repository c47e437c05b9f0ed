"""Rate limits, quotas and usage under concurrency: decided and counted atomically in SQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.db import tenant_transaction
from sheetbrain.errors import ConfigurationError, QuotaExceededError
from sheetbrain.metering import quota
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import new_org
from tests.support import call, claims_for

NOW = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
THREADS = 50


def hammer(url: str, total: int, work: Callable[[psycopg.Connection, int], Any]) -> list[Any]:
    """``total`` calls spread over THREADS connections released together by a barrier."""
    results: list[Any] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    counter = iter(range(total))

    def worker() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            barrier.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                result = work(conn, i)
                with lock:
                    results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def guard(conn: psycopg.Connection, org: str, user: str, now: datetime = NOW) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT allowed, lim, remaining, reset_s FROM request_guard(%s, %s, 'admin', false, %s)", (org, user, now)
    ).fetchone()
    assert row is not None
    return row


def consume(conn: psycopg.Connection, org: str, user: str, key: str, quantity: int, limit: int) -> tuple[Any, ...]:
    with conn.transaction():
        conn.execute("SELECT set_config('app.org_id', %s, true)", (org,))
        row = conn.execute(
            "SELECT accepted, used, duplicate FROM usage_consume(%s, %s, 'audits', %s, %s, %s, %s)",
            (org, user, quantity, key, limit, NOW),
        ).fetchone()
    assert row is not None
    return row


def test_200_simultaneous_requests_against_a_rate_limit_of_100_allow_exactly_100(database: DatabaseUrls) -> None:
    org, user = new_org(
        database.owner, prefix="org_m", overrides={"requests_per_minute": 100, "user_requests_per_minute": -1}
    )
    results = hammer(database.app, 200, lambda conn, _: guard(conn, org, user))
    assert sum(1 for r in results if r[0]) == 100
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count FROM rate_limit_buckets WHERE key = %s", (f"org:{org}",)).fetchone() == (100,)


def test_200_simultaneous_audits_against_a_quota_of_100_consume_exactly_100(database: DatabaseUrls) -> None:
    org, user = new_org(database.owner, prefix="org_m")
    results = hammer(database.app, 200, lambda conn, i: consume(conn, org, user, f"audit-{i}", 1, 100))
    assert sum(1 for r in results if r[0]) == 100
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT quantity FROM usage_monthly WHERE org_id = %s", (org,)).fetchone() == (100,)
        assert conn.execute("SELECT count(*) FROM usage_events WHERE org_id = %s", (org,)).fetchone() == (100,)


def test_concurrent_writers_lose_no_update_in_the_aggregates(database: DatabaseUrls) -> None:
    org, user = new_org(database.owner, prefix="org_m")
    results = hammer(database.app, 200, lambda conn, i: consume(conn, org, user, f"k-{i}", i % 7 + 1, -1))
    expected = sum(i % 7 + 1 for i in range(200))
    assert all(r[0] for r in results)
    with psycopg.connect(database.owner) as conn:
        monthly = conn.execute("SELECT quantity FROM usage_monthly WHERE org_id = %s", (org,)).fetchone()
        daily = conn.execute("SELECT quantity FROM usage_daily WHERE org_id = %s", (org,)).fetchone()
        raw = conn.execute("SELECT sum(quantity) FROM usage_events WHERE org_id = %s", (org,)).fetchone()
    assert monthly == daily == raw == (expected,)


def test_a_retried_usage_write_counts_once(database: DatabaseUrls) -> None:
    org, user = new_org(database.owner, prefix="org_m")
    with psycopg.connect(database.app, autocommit=True) as conn:
        assert consume(conn, org, user, "same-key", 3, -1) == (True, 3, False)
        assert consume(conn, org, user, "same-key", 3, -1) == (True, 3, True)


def test_a_request_rejected_by_one_limit_moves_no_counter(database: DatabaseUrls) -> None:
    org, user = new_org(
        database.owner, prefix="org_m", overrides={"requests_per_minute": 1000, "user_requests_per_minute": 2}
    )
    with psycopg.connect(database.app, autocommit=True) as conn:
        assert [guard(conn, org, user)[0] for _ in range(3)] == [True, True, False]
    with psycopg.connect(database.owner) as conn:
        counts = dict(conn.execute("SELECT key, count FROM rate_limit_buckets WHERE org_id = %s", (org,)).fetchall())
    assert counts == {f"org:{org}": 2, f"user:{org}:{user}": 2}


def test_the_previous_window_weighs_on_the_sliding_estimate(database: DatabaseUrls) -> None:
    org, user = new_org(
        database.owner, prefix="org_m", overrides={"requests_per_minute": 10, "user_requests_per_minute": -1}
    )
    start = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    with psycopg.connect(database.app, autocommit=True) as conn:
        assert all(guard(conn, org, user, start)[0] for _ in range(10))
        # 15 s into the next window, 75% of the previous 10 still count: 2 more fit, not 3
        later = start.replace(minute=1, second=15)
        assert [guard(conn, org, user, later)[0] for _ in range(3)] == [True, True, False]


@pytest.mark.dates
def test_quota_consumed_in_a_failed_transaction_is_not_consumed(database: DatabaseUrls) -> None:
    org, user = new_org(database.owner, prefix="org_m", overrides={"audits_per_month": 1})

    def failing_audit() -> None:
        with tenant_transaction(org, user) as conn:
            quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1, idempotency_key="a1")
            raise RuntimeError("the audit failed after the check")

    with pytest.raises(RuntimeError):
        failing_audit()
    with tenant_transaction(org, user) as conn:
        quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1, idempotency_key="a2")
    with pytest.raises(QuotaExceededError) as exc, tenant_transaction(org, user) as conn:
        quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1, idempotency_key="a3")
    assert exc.value.details["limit"] == 1 and exc.value.details["used"] == 1
    assert exc.value.details["plan"] == "free" and exc.value.details["resets_at"]


def test_responses_carry_rate_limit_headers_and_429_carries_retry_after(database: DatabaseUrls) -> None:
    org, user = new_org(
        database.owner, prefix="org_m", overrides={"requests_per_minute": 2, "user_requests_per_minute": -1}
    )
    claims = claims_for(user, org, "org:admin")
    first = call("GET", "/api/stats", claims=claims)
    assert (first.header("RateLimit-Limit"), first.header("RateLimit-Remaining")) == ("2", "1")
    assert 1 <= int(first.header("RateLimit-Reset") or 0) <= 60
    call("GET", "/api/stats", claims=claims)
    limited = call("GET", "/api/stats", claims=claims)
    assert limited.status == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.header("Retry-After") or 0) >= 1
    assert limited.header("RateLimit-Remaining") == "0"


def test_grants_add_to_the_plan_while_valid_and_overrides_replace_it(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner, prefix="org_m")
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            """INSERT INTO entitlement_grants (org_id, feature, amount, valid_from, valid_until, reason)
               VALUES (%s, 'audits_per_month', 50, %s, %s, 'goodwill')""",
            (org, NOW.replace(day=1), NOW.replace(day=28)),
        )
        during = conn.execute("SELECT entitlement(%s, 'audits_per_month', %s)", (org, NOW)).fetchone()
        after = conn.execute("SELECT entitlement(%s, 'audits_per_month', %s)", (org, NOW.replace(month=12))).fetchone()
        conn.execute(
            """INSERT INTO entitlement_overrides (org_id, feature, value, reason)
               VALUES (%s, 'audits_per_month', -1, 'deal')""",
            (org,),
        )
        unlimited = conn.execute("SELECT entitlement(%s, 'audits_per_month', %s)", (org, NOW)).fetchone()
        unknown = conn.execute("SELECT entitlement(%s, 'no_such_feature', %s)", (org, NOW)).fetchone()
    assert (during, after, unlimited, unknown) == ((60,), (10,), (-1,), (None,))


def test_a_plan_without_a_limit_for_a_metered_feature_is_a_configuration_error(database: DatabaseUrls) -> None:
    # Given an org on the free plan, and the free plan's audits_per_month row removed (plans are
    # data: an operator's edit, rolled back at the end)
    org, user = new_org(database.owner, prefix="org_m")
    with psycopg.connect(database.owner) as conn:
        conn.execute("DELETE FROM plan_features WHERE plan_code = 'free' AND feature = 'audits_per_month'")
        # When the quota is checked or consumed, Then both name the missing limit: neither reads
        # it as unlimited, and nothing is counted
        with pytest.raises(ConfigurationError, match="audits_per_month"):
            quota.check(conn, org_id=org, feature="audits_per_month", now=NOW)
        with pytest.raises(ConfigurationError, match="audits_per_month"):
            quota.consume(conn, org_id=org, user_id=user, feature="audits_per_month", quantity=1,
                          idempotency_key="k", now=NOW)  # fmt: skip
        assert conn.execute("SELECT count(*) FROM usage_events WHERE org_id = %s", (org,)).fetchone() == (0,)
        conn.rollback()


def test_an_invalid_request_is_counted_by_the_guard_before_it_is_judged(database: DatabaseUrls) -> None:
    # Given a caller allowed two requests a minute
    org, user = new_org(
        database.owner, prefix="org_m", overrides={"requests_per_minute": 2, "user_requests_per_minute": -1}
    )
    claims = claims_for(user, org, "org:admin")
    bad = {"formulas": "not a list"}
    # When it sends an invalid body, Then the 422 carries the RateLimit-* headers of its admission
    first = call("POST", "/api/audit", claims=claims, body=bad)
    assert (first.status, first.header("RateLimit-Remaining")) == (422, "1")
    call("POST", "/api/audit", claims=claims, body=bad)
    # And once the limit is spent, an invalid body is refused as rate limited, not re-validated
    limited = call("POST", "/api/audit", claims=claims, body=bad)
    assert (limited.status, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert limited.header("Retry-After")
