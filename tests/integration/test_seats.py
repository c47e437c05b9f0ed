"""Seats: the earliest-joined members of a shared organization, up to its plan's ``seats``, are
admitted; the others get 403 ``seat_limit_reached``. Members join through signed Clerk
webhooks and call the real handlers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests import clerk_events as ce
from tests.support import Reply, SettingsEnv, call, claims_for


@pytest.fixture(autouse=True)
def clerk_secret(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(CLERK_WEBHOOK_SECRET=ce.SECRET)


def deliver(event: dict[str, Any]) -> Reply:
    body = ce.body_of(event)
    return call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=ce.svix_headers(body))


def one(owner: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(owner) as conn:
        row = conn.execute(sql, params).fetchone()
    return row if row is None or len(row) > 1 else row[0]


def join(org: str, user: str, at_ms: int, role: str = "org:member") -> str:
    membership = f"orgmem_{uuid.uuid4().hex[:10]}"
    evt = ce.membership("organizationMembership.created", membership, org, user, at_ms, role=role)
    assert deliver(evt).json()["outcome"] == "processed"
    return membership


def status_of(org: str, user: str) -> tuple[int, str | None]:
    reply = call("GET", "/api/stats", claims=claims_for(user, org, "org:member"))
    return reply.status, reply.json().get("error", {}).get("code") if reply.status != 200 else None


def test_the_earliest_joined_members_hold_the_seats_and_the_others_are_refused(database: DatabaseUrls) -> None:
    # Given a free-plan organization (3 seats) that five members joined one after the other
    suffix = uuid.uuid4().hex[:8]
    org = f"org_seats{suffix}"
    users = [f"user_seat{suffix}_{i}" for i in range(5)]
    t = int(time.time() * 1000)
    assert deliver(ce.org("organization.created", org, t)).status == 200
    memberships = [join(org, user, t + i) for i, user in enumerate(users)]

    # When each calls the API
    replies = [call("GET", "/api/stats", claims=claims_for(user, org, "org:member")) for user in users]

    # Then the first three are admitted and the last two refused, naming the plan and its seats
    assert [r.status for r in replies] == [200, 200, 200, 403, 403]
    assert replies[3].json()["error"]["code"] == "seat_limit_reached"
    assert replies[3].json()["error"]["details"] == {"plan": "free", "seats": 3, "org_id": org}
    assert replies[4].header("X-Request-Id")
    # And the billing view shows five seats used against a limit of three
    billing = call("GET", "/api/billing", claims=claims_for(users[0], org, "org:admin")).json()
    assert {u["feature"]: u for u in billing["usage"]}["seats"] == {"feature": "seats", "used": 5, "limit": 3}

    # When the second member leaves
    left = ce.membership("organizationMembership.deleted", memberships[1], org, users[1], t + 100)
    assert deliver(left).status == 200

    # Then the fourth holds the freed seat, the fifth is still refused, the leaver is out
    assert [status_of(org, user) for user in users] == [
        (200, None),
        (403, "tenant_deleted"),
        (200, None),
        (200, None),
        (403, "seat_limit_reached"),
    ]
    # And no membership was deleted for the seats: five rows, one ended by its own event
    live = "SELECT count(*), count(*) FILTER (WHERE deleted_at IS NULL) FROM memberships WHERE org_id = %s"
    assert one(database.owner, live, org) == (5, 4)

    # When the org's seats become unlimited (an override, -1), everyone is admitted
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'seats', -1, 'test')",
            (org,),
        )
    assert status_of(org, users[4]) == (200, None)


def test_a_member_first_seen_through_a_token_is_ranked_last_and_moves_no_counter(database: DatabaseUrls) -> None:
    # Given an organization whose one seat is held (override seats = 1)
    suffix = uuid.uuid4().hex[:8]
    org, first, late = f"org_seat1{suffix}", f"user_first{suffix}", f"user_late{suffix}"
    assert status_of(org, first) == (200, None)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'seats', 1, 'test')",
            (org,),
        )
    # When a user we know (from their personal org) arrives as a new member with a token,
    # before Clerk's membership event
    assert call("GET", "/api/stats", claims=claims_for(late)).status == 200
    refused = call("GET", "/api/stats", claims=claims_for(late, org, "org:member"))
    # Then it is refused, its membership is on record, and its rate-limit counters did not move
    assert (refused.status, refused.json()["error"]["code"]) == (403, "seat_limit_reached")
    assert refused.json()["error"]["details"] == {"plan": "free", "seats": 1, "org_id": org}
    assert one(database.owner, "SELECT count(*) FROM memberships WHERE org_id = %s AND user_id = %s", org, late) == 1
    assert one(database.owner, "SELECT count(*) FROM rate_limit_buckets WHERE key = %s", f"user:{org}:{late}") == 0
    # And the first member keeps its seat
    assert status_of(org, first) == (200, None)


def test_a_personal_organization_is_never_refused_for_seats(database: DatabaseUrls) -> None:
    # Given a user working in their personal organization, whose seats are overridden to 0
    user = f"user_personal{uuid.uuid4().hex[:8]}"
    personal = call("GET", "/api/stats", claims=claims_for(user))
    assert personal.status == 200
    org = personal.json()["org_id"]
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'seats', 0, 'test')",
            (org,),
        )
    # When they call again, Then they are admitted
    assert call("GET", "/api/stats", claims=claims_for(user)).status == 200


def test_a_membership_committed_later_ranks_later_even_if_its_transaction_began_first(
    database: DatabaseUrls,
) -> None:
    # Given an organization with one seat left (seats = 2, one member)
    suffix = uuid.uuid4().hex[:8]
    org, holder, early, late = (f"org_race{suffix}", f"user_h{suffix}", f"user_e{suffix}", f"user_l{suffix}")
    assert status_of(org, holder) == (200, None)
    with psycopg.connect(database.system) as conn:
        conn.execute("SELECT set_config('app.system', 'on', false)")
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'seats', 2, 'test')",
            (org,),
        )
        conn.execute("INSERT INTO users (id) VALUES (%s), (%s)", (early, late))
        conn.commit()
    # When two members join at once: one transaction begins first but commits second
    with psycopg.connect(database.system) as first_begun, psycopg.connect(database.system) as second_begun:
        for conn in (first_begun, second_begun):
            conn.execute("SELECT set_config('app.system', 'on', true)")
        time.sleep(0.01)
        second_begun.execute("INSERT INTO memberships (org_id, user_id) VALUES (%s, %s)", (org, late))
        second_begun.commit()
        first_begun.execute("INSERT INTO memberships (org_id, user_id) VALUES (%s, %s)", (org, early))
        first_begun.commit()
    # Then join order is commit order: the one committed first holds the last seat, for good
    assert status_of(org, late) == (200, None)
    assert status_of(org, early) == (403, "seat_limit_reached")
    assert status_of(org, late) == (200, None)
