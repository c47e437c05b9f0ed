"""Applying one Clerk event on a real connection: which events apply, what they refuse, the
instant a deletion is dated by. (The signed delivery around it: test_clerk_webhooks.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.db import system_transaction
from sheetbrain.tenancy.clerk_sync import ClerkPayloadError, apply_clerk_event
from sheetbrain_dev.database import DatabaseUrls

from tests import clerk_events as ce

# 2026-01-01 00:00:00 UTC, in Clerk's milliseconds.
NEW_YEAR_MS = 1_767_225_600_000
NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _database(database: DatabaseUrls) -> None:
    """Every test here applies events to the session's database."""


def apply(event: dict[str, Any]) -> bool:
    with system_transaction() as conn:
        return apply_clerk_event(conn, event)


def rows(owner: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(sql, params).fetchall()


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("data", ["missing", None, [], "user_1", 7])
def test_a_handled_event_without_a_data_object_is_refused_saying_so(data: Any) -> None:
    # Given a user.created event whose data is absent or not an object
    event: dict[str, Any] = {"type": "user.created", "timestamp": NEW_YEAR_MS}
    if data != "missing":
        event["data"] = data
    # When it is applied
    with pytest.raises(ClerkPayloadError) as exc:
        apply(event)
    # Then it is refused as having no data object
    assert (exc.value.code, exc.value.message, exc.value.details) == (
        "invalid_webhook_payload",
        "Clerk event has no data object.",
        {"field": "data"},
    )


@pytest.mark.parametrize("event_type", [None, "", "None", "session.created", "user.created ", "USER.CREATED"])
def test_an_event_of_a_type_not_handled_is_not_applied(event_type: str | None) -> None:
    # Given an event of a type we do not handle, or with no type, whatever its data
    event: dict[str, Any] = {"data": None, "timestamp": NEW_YEAR_MS}
    if event_type is not None:
        event["type"] = event_type
    # When it is applied, Then it is reported as not applied (the inbox records it as ignored)
    assert apply(event) is False


def _event(event_type: str, user_id: str, org_id: str, mem_id: str) -> dict[str, Any]:
    if event_type.startswith("user."):
        return ce.user(event_type, user_id, NEW_YEAR_MS)
    if event_type.startswith("organization."):
        return ce.org(event_type, org_id, NEW_YEAR_MS)
    return ce.membership(event_type, mem_id, org_id, user_id, NEW_YEAR_MS)


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("user.created", "data.updated_at"),
        ("user.updated", "data.updated_at"),
        ("user.deleted", "timestamp"),
        ("organization.created", "data.updated_at"),
        ("organization.updated", "data.updated_at"),
        ("organization.deleted", "timestamp"),
        ("organizationMembership.created", "data.updated_at"),
        ("organizationMembership.updated", "data.updated_at"),
        ("organizationMembership.deleted", "timestamp"),
    ],
)
def test_an_event_without_its_time_is_refused_naming_it_and_writes_nothing(
    database: DatabaseUrls, event_type: str, field: str
) -> None:
    # Given an event of each handled type without the time it is ordered by (a deletion is
    # dated by the event's timestamp; a membership's, failing that, by its updated_at)
    user_id, org_id, mem_id = uid("user"), uid("org"), uid("orgmem")
    event = _event(event_type, user_id, org_id, mem_id)
    event["data"].pop("updated_at", None)
    if field == "timestamp":
        del event["timestamp"]
    # When it is applied
    with pytest.raises(ClerkPayloadError) as exc:
        apply(event)
    # Then the refusal names the missing time, and nothing of the event was written
    assert (exc.value.code, exc.value.message, exc.value.details) == (
        "invalid_webhook_payload",
        f"Clerk event has no numeric {field}.",
        {"field": field},
    )
    assert rows(database.owner, "SELECT id FROM users WHERE id = %s", user_id) == []
    assert rows(database.owner, "SELECT id FROM organizations WHERE id = %s", org_id) == []


def test_a_membership_deletion_is_dated_by_the_event_and_remembers_the_membership(database: DatabaseUrls) -> None:
    # Given the deletion of a membership never seen before, sent a minute after the
    # membership's last update
    user_id, org_id, mem_id = uid("user"), uid("org"), uid("orgmem")
    event = ce.membership("organizationMembership.deleted", mem_id, org_id, user_id, NEW_YEAR_MS)
    event["timestamp"] = NEW_YEAR_MS + 60_000
    # When it is applied
    assert apply(event) is True
    # Then a tombstone of that Clerk membership is dated by the event
    minute_later = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert rows(
        database.owner,
        "SELECT user_id, clerk_id, deleted_at, source_updated_at FROM memberships WHERE org_id = %s",
        org_id,
    ) == [(user_id, mem_id, minute_later, minute_later)]
    # and a late update of that same membership, newer than its last update, does not revive it
    late = ce.membership("organizationMembership.updated", mem_id, org_id, user_id, NEW_YEAR_MS + 120_000)
    assert apply(late) is True
    assert rows(database.owner, "SELECT deleted_at FROM memberships WHERE org_id = %s", org_id) == [(minute_later,)]


@pytest.mark.parametrize("timestamp", ["missing", None])
def test_a_membership_deletion_without_an_event_time_is_dated_by_its_update(
    database: DatabaseUrls, timestamp: Any
) -> None:
    # Given a membership deletion whose envelope has no usable timestamp
    user_id, org_id, mem_id = uid("user"), uid("org"), uid("orgmem")
    event = ce.membership("organizationMembership.deleted", mem_id, org_id, user_id, NEW_YEAR_MS)
    if timestamp == "missing":
        del event["timestamp"]
    else:
        event["timestamp"] = timestamp
    # When it is applied
    assert apply(event) is True
    # Then the membership ends at its own updated_at
    assert rows(database.owner, "SELECT clerk_id, deleted_at FROM memberships WHERE org_id = %s", org_id) == [
        (mem_id, NEW_YEAR)
    ]
