"""Reading a signed Clerk event's data: what is taken from it and what is refused, without a database.

The event application itself (rows, watermarks, refusals that reach the database) is
tests/integration/test_clerk_sync.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sheetbrain.db.tenancy_repo import OrgFields
from sheetbrain.tenancy.clerk_sync import (
    ClerkPayloadError,
    _membership_parts,
    _ms,
    _opt,
    _org_fields,
    _primary_email,
    _str,
)

# 2026-01-01 00:00:00 UTC, in Clerk's milliseconds.
NEW_YEAR_MS = 1_767_225_600_000


def refusal(exc: pytest.ExceptionInfo[ClerkPayloadError]) -> tuple[str, str, dict[str, Any]]:
    return exc.value.code, exc.value.message, exc.value.details


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NEW_YEAR_MS, datetime(2026, 1, 1, tzinfo=UTC)),
        (NEW_YEAR_MS + 1_500, datetime(2026, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)),
        (1_767_225_600_250.0, datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_a_clerk_time_is_read_as_milliseconds_since_the_epoch_in_utc(value: float, expected: datetime) -> None:
    # When a Clerk time (ms since the epoch) is read
    at = _ms(value, "timestamp")
    # Then it is that instant, zone-aware in UTC
    assert (at, at.utcoffset()) == (expected, UTC.utcoffset(None))


@pytest.mark.parametrize("value", [None, "1767225600000", True, False, [NEW_YEAR_MS], {"ms": NEW_YEAR_MS}])
def test_a_clerk_time_that_is_not_a_number_is_refused_naming_the_field(value: Any) -> None:
    # When a time that is not a number (a boolean is no time either) is read
    with pytest.raises(ClerkPayloadError) as exc:
        _ms(value, "data.updated_at")
    # Then the refusal names the field
    assert refusal(exc) == (
        "invalid_webhook_payload",
        "Clerk event has no numeric data.updated_at.",
        {"field": "data.updated_at"},
    )


def test_a_required_text_is_returned_as_sent() -> None:
    # Given data holding the id, When it is read, Then it is the id as sent
    assert _str({"id": "user_2x9", "object": "user"}, "id") == "user_2x9"


@pytest.mark.parametrize("data", [{}, {"id": None}, {"id": ""}, {"id": 42}, {"id": ["user_1"]}, {"id": {"a": 1}}])
def test_a_required_text_that_is_missing_empty_or_not_text_is_refused(data: dict[str, Any]) -> None:
    # When a required id is absent, empty or of another type
    with pytest.raises(ClerkPayloadError) as exc:
        _str(data, "id")
    # Then the refusal names it
    assert refusal(exc) == ("invalid_webhook_payload", "Clerk event data lacks 'id'.", {"field": "data.id"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"first_name": "Ada"}, "Ada"),
        ({}, None),
        ({"first_name": None}, None),
        ({"first_name": ""}, None),
        ({"first_name": 7}, None),
        ({"first_name": ["Ada"]}, None),
    ],
)
def test_an_optional_text_is_kept_only_when_it_is_non_empty_text(data: dict[str, Any], expected: str | None) -> None:
    # Given an optional field sent as text, empty, absent or of another type
    # When it is read, Then only non-empty text is kept
    assert _opt(data, "first_name") == expected


def _address(ident: str, email: Any) -> dict[str, Any]:
    return {"id": ident, "object": "email_address", "email_address": email}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # the address the primary id names, wherever it is in the list
        (
            {
                "primary_email_address_id": "idn_2",
                "email_addresses": [_address("idn_1", "old@example.com"), _address("idn_2", "ada@example.com")],
            },
            "ada@example.com",
        ),
        # no primary id: the first address
        (
            {"email_addresses": [_address("idn_1", "first@example.com"), _address("idn_2", "second@example.com")]},
            "first@example.com",
        ),
        # entries that are not objects are passed over
        (
            {
                "primary_email_address_id": "idn_2",
                "email_addresses": ["idn_1", 5, None, _address("idn_2", "ada@example.com")],
            },
            "ada@example.com",
        ),
        ({"email_addresses": ["first@example.com", _address("idn_2", "ada@example.com")]}, "ada@example.com"),
        # a primary id that names no address: no email rather than another address
        ({"primary_email_address_id": "idn_9", "email_addresses": [_address("idn_1", "a@example.com")]}, None),
        # the primary address's email is not text
        ({"primary_email_address_id": "idn_1", "email_addresses": [_address("idn_1", 5)]}, None),
        ({"primary_email_address_id": "idn_1", "email_addresses": [_address("idn_1", None)]}, None),
        # no list of addresses
        ({"primary_email_address_id": "idn_1"}, None),
        ({"primary_email_address_id": "idn_1", "email_addresses": None}, None),
        ({"primary_email_address_id": "idn_1", "email_addresses": 5}, None),
        ({"email_addresses": _address("idn_1", "a@example.com")}, None),
        ({"email_addresses": "a@example.com"}, None),
    ],
)
def test_the_primary_email_is_the_address_the_primary_id_names(data: dict[str, Any], expected: str | None) -> None:
    # Given a user's addresses and primary address id, When the email is read
    # Then it is the one the primary id names (the first without one), or none
    assert _primary_email(data) == expected


def test_an_organization_is_read_with_its_name_slug_and_image() -> None:
    # Given an organization object as Clerk sends it
    data = {
        "id": "org_2ab",
        "object": "organization",
        "name": "Acme",
        "slug": "acme",
        "image_url": "https://img.clerk.com/org_2ab",
        "updated_at": NEW_YEAR_MS,
    }
    # Then its fields are taken as sent
    assert _org_fields(data) == OrgFields(
        id="org_2ab", name="Acme", slug="acme", image_url="https://img.clerk.com/org_2ab"
    )


def test_an_organization_without_name_slug_or_image_gets_an_empty_name_and_no_slug_or_image() -> None:
    # Given an organization whose name, slug and image are not usable text
    # When it is read, Then the name is empty (the column is required) and the rest is none
    assert _org_fields({"id": "org_2ab", "name": None, "slug": "", "image_url": 3}) == OrgFields(
        id="org_2ab", name="", slug=None, image_url=None
    )


def test_a_membership_names_its_organization_and_user() -> None:
    # Given a membership's data
    data = {
        "id": "orgmem_1",
        "organization": {"id": "org_2ab", "name": "Acme", "slug": "acme", "image_url": None},
        "public_user_data": {"user_id": "user_2x9", "identifier": "ada@example.com"},
    }
    # Then
    assert _membership_parts(data) == (OrgFields(id="org_2ab", name="Acme", slug="acme", image_url=None), "user_2x9")


@pytest.mark.parametrize(
    "data",
    [
        {"organization": {"id": "org_2ab"}, "public_user_data": None},
        {"organization": {"id": "org_2ab"}},
        {"organization": "org_2ab", "public_user_data": {"user_id": "user_2x9"}},
        {"public_user_data": {"user_id": "user_2x9"}},
        {"organization": ["org_2ab"], "public_user_data": ["user_2x9"]},
        {},
    ],
)
def test_a_membership_without_an_organization_or_user_object_is_refused(data: dict[str, Any]) -> None:
    # When either object is missing or not an object
    with pytest.raises(ClerkPayloadError) as exc:
        _membership_parts(data)
    # Then the membership is refused as a whole
    assert refusal(exc) == (
        "invalid_webhook_payload",
        "Clerk membership event lacks organization or public_user_data.",
        {"field": "data"},
    )


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        (
            {"organization": {"name": "Acme"}, "public_user_data": {"user_id": "user_2x9"}},
            "Clerk event data.organization lacks 'id'.",
            "data.organization.id",
        ),
        (
            {"organization": {"id": "org_2ab"}, "public_user_data": {"identifier": "ada@example.com"}},
            "Clerk event data.public_user_data lacks 'user_id'.",
            "data.public_user_data.user_id",
        ),
    ],
)
def test_a_membership_whose_organization_or_user_lacks_its_id_is_refused_naming_the_nested_field(
    data: dict[str, Any], message: str, field: str
) -> None:
    # When the organization object has no id, or the user object no user_id
    with pytest.raises(ClerkPayloadError) as exc:
        _membership_parts(data)
    # Then the refusal names the field inside the object that lacks it, not one of the membership's own
    assert refusal(exc) == ("invalid_webhook_payload", message, {"field": field})


def test_an_organization_event_without_an_id_is_refused_naming_data_id() -> None:
    # When an organization's data has no id
    with pytest.raises(ClerkPayloadError) as exc:
        _org_fields({"name": "Acme", "slug": "acme"})
    # Then the refusal names the event's own data
    assert refusal(exc) == ("invalid_webhook_payload", "Clerk event data lacks 'id'.", {"field": "data.id"})
