"""Clerk webhook events shaped like Clerk's documented payloads, signed as Svix signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"sheetbrain-test-secret-0123456789").decode()


def svix_headers(
    body: str, *, msg_id: str | None = None, timestamp: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    """Headers of a delivery: HMAC-SHA256 over "{id}.{timestamp}.{body}" with the base64 key."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def envelope(event_type: str, data: dict[str, Any], at_ms: int) -> dict[str, Any]:
    return {
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": at_ms,
        "instance_id": "ins_test",
    }


def user(event_type: str, user_id: str, at_ms: int, *, email: str | None = None, first: str = "Ada") -> dict[str, Any]:
    if event_type == "user.deleted":
        return envelope(event_type, {"id": user_id, "object": "user", "deleted": True}, at_ms)
    email = email or f"{user_id}@example.com"
    data = {
        "id": user_id,
        "object": "user",
        "email_addresses": [{"id": f"idn_{user_id}", "object": "email_address", "email_address": email}],
        "primary_email_address_id": f"idn_{user_id}",
        "first_name": first,
        "last_name": "Lovelace",
        "image_url": f"https://img.clerk.com/{user_id}",
        "created_at": at_ms - 1000,
        "updated_at": at_ms,
    }
    return envelope(event_type, data, at_ms)


def org_data(org_id: str, at_ms: int, name: str = "Acme") -> dict[str, Any]:
    return {
        "id": org_id,
        "object": "organization",
        "name": name,
        "slug": f"slug-{org_id}",
        "image_url": f"https://img.clerk.com/{org_id}",
        "created_at": at_ms - 1000,
        "updated_at": at_ms,
        "created_by": "user_creator",
    }


def org(event_type: str, org_id: str, at_ms: int, *, name: str = "Acme") -> dict[str, Any]:
    if event_type == "organization.deleted":
        return envelope(event_type, {"id": org_id, "object": "organization", "deleted": True}, at_ms)
    return envelope(event_type, org_data(org_id, at_ms, name), at_ms)


def membership(
    event_type: str, membership_id: str, org_id: str, user_id: str, at_ms: int, *, role: str = "org:member"
) -> dict[str, Any]:
    data = {
        "id": membership_id,
        "object": "organization_membership",
        "role": role,
        "organization": org_data(org_id, 1, "placeholder"),
        "public_user_data": {
            "user_id": user_id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "identifier": f"{user_id}@example.com",
            "image_url": "",
        },
        "created_at": at_ms - 1000,
        "updated_at": at_ms,
    }
    return envelope(event_type, data, at_ms)


def body_of(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))
