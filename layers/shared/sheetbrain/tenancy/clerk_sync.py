"""Apply Clerk events (users, organizations, memberships) to our rows.

Clerk delivers out of order and more than once. Each write carries a watermark (``updated_at``
of the object, or the event's ``timestamp`` for deletes) and the repository applies it only
when it is not older than the row's; deletes are soft and final. A membership that arrives
before its user or organization creates placeholders that the later events fill in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

from sheetbrain.db import tenancy_repo as repo
from sheetbrain.errors import ValidationError
from sheetbrain.tenancy.identity import clerk_role


class ClerkPayloadError(ValidationError):
    """A signed Clerk event whose data lacks what its type needs."""

    code = "invalid_webhook_payload"


def _ms(value: Any, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClerkPayloadError(f"Clerk event has no numeric {what}.", details={"field": what})
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _str(data: Mapping[str, Any], key: str, at: str = "data") -> str:
    """The required text ``key`` of the object at path ``at`` of the event (``data``,
    ``data.organization``...), which a refusal names."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ClerkPayloadError(f"Clerk event {at} lacks {key!r}.", details={"field": f"{at}.{key}"})
    return value


def _opt(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _primary_email(data: Mapping[str, Any]) -> str | None:
    primary = data.get("primary_email_address_id")
    addresses = data.get("email_addresses") or []
    for address in addresses if isinstance(addresses, list) else []:
        if isinstance(address, dict) and (primary is None or address.get("id") == primary):
            email = address.get("email_address")
            return email if isinstance(email, str) else None
    return None


def _org_fields(data: Mapping[str, Any], at: str = "data") -> repo.OrgFields:
    return repo.OrgFields(
        id=_str(data, "id", at),
        name=_opt(data, "name") or "",
        slug=_opt(data, "slug"),
        image_url=_opt(data, "image_url"),
    )


def _user_upsert(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    data = event["data"]
    user = repo.UserFields(
        id=_str(data, "id"),
        email=_primary_email(data),
        first_name=_opt(data, "first_name"),
        last_name=_opt(data, "last_name"),
        image_url=_opt(data, "image_url"),
    )
    repo.upsert_user(conn, user, _ms(data.get("updated_at"), "data.updated_at"))


def _user_deleted(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    repo.delete_user(conn, _str(event["data"], "id"), _ms(event.get("timestamp"), "timestamp"))


def _org_upsert(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    data = event["data"]
    repo.upsert_org(conn, _org_fields(data), _ms(data.get("updated_at"), "data.updated_at"))


def _org_deleted(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    repo.delete_org(conn, _str(event["data"], "id"), _ms(event.get("timestamp"), "timestamp"))


def _membership_parts(data: Mapping[str, Any]) -> tuple[repo.OrgFields, str]:
    org = data.get("organization")
    member = data.get("public_user_data")
    if not isinstance(org, dict) or not isinstance(member, dict):
        raise ClerkPayloadError(
            "Clerk membership event lacks organization or public_user_data.", details={"field": "data"}
        )
    return _org_fields(org, "data.organization"), _str(member, "user_id", "data.public_user_data")


def _membership_upsert(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    data = event["data"]
    org, user_id = _membership_parts(data)
    repo.ensure_placeholders(conn, user_id=user_id, org=org)
    repo.upsert_membership(
        conn,
        org_id=org.id,
        user_id=user_id,
        role=clerk_role(data.get("role")),
        clerk_id=_str(data, "id"),
        watermark=_ms(data.get("updated_at"), "data.updated_at"),
    )


def _membership_deleted(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    data = event["data"]
    org, user_id = _membership_parts(data)
    repo.ensure_placeholders(conn, user_id=user_id, org=org)
    at = _ms(event.get("timestamp") or data.get("updated_at"), "timestamp")
    repo.delete_membership(conn, org_id=org.id, user_id=user_id, clerk_id=_str(data, "id"), at=at)


HANDLERS: dict[str, Callable[[psycopg.Connection, Mapping[str, Any]], None]] = {
    "user.created": _user_upsert,
    "user.updated": _user_upsert,
    "user.deleted": _user_deleted,
    "organization.created": _org_upsert,
    "organization.updated": _org_upsert,
    "organization.deleted": _org_deleted,
    "organizationMembership.created": _membership_upsert,
    "organizationMembership.updated": _membership_upsert,
    "organizationMembership.deleted": _membership_deleted,
}


def apply_clerk_event(conn: psycopg.Connection, event: Mapping[str, Any]) -> bool:
    """Apply one verified Clerk event inside the caller's transaction.

    Returns False for an event type we do not handle (recorded as ignored, not an error).
    """
    handler = HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return False
    if not isinstance(event.get("data"), dict):
        raise ClerkPayloadError("Clerk event has no data object.", details={"field": "data"})
    handler(conn, event)
    return True
