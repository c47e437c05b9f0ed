"""The request guard's refusals and its RateLimit-* headers, called as the routes call it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from sheetbrain.errors import RateLimitedError
from sheetbrain.metering.guard import RateLimitState, SeatLimitReachedError, guard_request
from sheetbrain.tenancy.identity import Identity
from sheetbrain.tenancy.service import TenantDeletedError
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import new_org

NOW = datetime(2026, 11, 22, 12, 0, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "headers"),
    [
        (RateLimitState(-1, 0, 0), {}),
        (RateLimitState(0, 0, 45), {"RateLimit-Limit": "0", "RateLimit-Remaining": "0", "RateLimit-Reset": "45"}),
        (RateLimitState(10, 7, 12), {"RateLimit-Limit": "10", "RateLimit-Remaining": "7", "RateLimit-Reset": "12"}),
        (RateLimitState(10, -3, 1), {"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}),
    ],
)
def test_rate_limit_headers_are_omitted_only_without_a_limit(state: RateLimitState, headers: dict[str, str]) -> None:
    # Given a guard's state; When its headers are made; Then they are exactly these
    assert state.headers() == headers


def admin(org: str, user: str) -> Identity:
    return Identity(user_id=user, org_id=org, role="admin")


def test_an_admitted_request_reports_plan_and_what_remains(database: DatabaseUrls) -> None:
    # Given an org allowing 5 requests a minute
    org, user = new_org(
        database.owner, prefix="org_g", overrides={"requests_per_minute": 5, "user_requests_per_minute": -1}
    )

    # When two requests pass the guard 15 s into a minute
    guard_request(admin(org, user), NOW)
    decision = guard_request(admin(org, user), NOW)

    # Then the second reports the free plan, 3 left and 45 s to the window's end
    assert decision == ("free", (5, 3, 45))


def test_a_spent_limit_is_refused_with_its_numbers(database: DatabaseUrls) -> None:
    # Given an org allowing 1 request a minute, spent
    org, user = new_org(
        database.owner, prefix="org_g", overrides={"requests_per_minute": 1, "user_requests_per_minute": -1}
    )
    guard_request(admin(org, user), NOW)

    # When another comes in the same minute
    with pytest.raises(RateLimitedError) as refused:
        guard_request(admin(org, user), NOW)

    # Then it is a 429 naming the limit, the window and when to retry
    error = refused.value
    assert (error.code, error.retry_after) == ("rate_limited", 45)
    assert error.message == "Rate limit of 1 requests per minute reached; retry in 45 s."
    assert error.details == {"plan": "free", "limit": 1, "window_s": 60, "retry_after_s": 45}


@pytest.mark.parametrize(
    ("deleted", "message", "details_key"),
    [
        ("users", "This user account has been deleted.", "user_id"),
        ("organizations", "This organization has been deleted.", "org_id"),
        ("memberships", "You are no longer a member of this organization.", "org_id"),
    ],
)
def test_a_deleted_user_org_or_membership_is_refused_as_deleted(
    database: DatabaseUrls, deleted: str, message: str, details_key: str
) -> None:
    # Given an org whose user, org or membership was deleted
    org, user = new_org(database.owner, prefix="org_g")
    where = {"users": "id = %(user)s", "organizations": "id = %(org)s", "memberships": "org_id = %(org)s"}[deleted]
    with psycopg.connect(database.owner) as conn:
        conn.execute(f"UPDATE {deleted} SET deleted_at = now() WHERE {where}", {"user": user, "org": org})

    # When the user calls
    with pytest.raises(TenantDeletedError) as refused:
        guard_request(admin(org, user), NOW)

    # Then the refusal says which, naming it
    assert (refused.value.code, refused.value.message) == ("tenant_deleted", message)
    assert refused.value.details == {details_key: user if details_key == "user_id" else org}


def test_a_member_beyond_the_plans_seats_is_refused_saying_why(database: DatabaseUrls) -> None:
    # Given a free-plan org (3 seats) with its admin and three members who joined after, in order
    org, first = new_org(database.owner, prefix="org_g")
    others = [f"{first}_{i}" for i in range(3)]
    with psycopg.connect(database.owner) as conn:
        for i, user in enumerate(others):
            conn.execute("INSERT INTO users (id) VALUES (%s)", (user,))
            conn.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at)"
                " VALUES (%s, %s, 'member', now() + make_interval(secs => %s))",
                (org, user, i + 1),
            )

    # When the last to join calls
    with pytest.raises(SeatLimitReachedError) as refused:
        guard_request(Identity(user_id=others[2], org_id=org, role="member"), NOW)

    # Then the refusal names the plan and its seats
    assert (refused.value.code, refused.value.status) == ("seat_limit_reached", 403)
    assert refused.value.message == (
        "Every one of the free plan's 3 seats is held by members who joined earlier; "
        "an admin can upgrade the plan or remove a member."
    )
    assert refused.value.details == {"plan": "free", "seats": 3, "org_id": org}
