"""Identity from verified JWT claims (API Gateway's authorizer, or the dev server's).

Claims arrive as API Gateway passes them: every value a string. The active organization comes
from the flat ``org_id``/``org_role``/``org_slug`` claims of our Clerk JWT template, or from a v2
``o`` object when it arrives intact (a dict, or a JSON string of one). With no active org the
caller works in their personal organization.

An org id claim counts only when it is shaped like an organization id (``active_org_id``): a
JSON null reaches us as ``None``, ``"null"`` or ``"<nil>"`` depending on who stringified it, and
a claim of any of those must never name a shared organization that every such caller lands in.
"""

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from sheetbrain import untrusted_json
from sheetbrain.errors import ForbiddenError, UnauthorizedError

Role = Literal["admin", "member"]

PERSONAL_ORG_PREFIX = "personal_"
_ADMIN_ROLES = frozenset({"admin", "org:admin"})
# Clerk's organization ids (org_ + base62) and local test ids alike; ASCII only, no whitespace.
ORG_ID_PATTERN = re.compile(r"org_[A-Za-z0-9_-]{1,64}")


class Identity(NamedTuple):
    """The caller: Clerk user id, active organization and role within it."""

    user_id: str
    org_id: str
    role: Role
    org_slug: str | None = None
    personal: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def clerk_role(raw: Any) -> Role:
    """Our role for a Clerk role key, from a token claim or a membership event alike: ``admin``
    and ``org:admin`` (in any case) are admin; anything else, or nothing, is member."""
    return "admin" if isinstance(raw, str) and raw.strip().lower() in _ADMIN_ROLES else "member"


def personal_org_id(user_id: str) -> str:
    """The id of a user's personal organization."""
    return f"{PERSONAL_ORG_PREFIX}{user_id}"


def active_org_id(raw: Any) -> str | None:
    """The organization an ``org_id`` (or ``o.id``) claim names, or None when it names none:
    missing, empty, JSON null, or any text not shaped like an organization id (``None``,
    ``null``, ``<nil>``, ``undefined``, a number...). None means the caller's personal org."""
    if isinstance(raw, str) and ORG_ID_PATTERN.fullmatch(raw):
        return raw
    return None


def _org_object(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = claims.get("o")
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            parsed = untrusted_json.loads(raw)
        except json.JSONDecodeError:
            return {}
        if isinstance(parsed, dict):
            return parsed
    return {}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if "\x00" in text:
        raise UnauthorizedError("The token carries an unusable claim.")
    return text or None


def identity_from_claims(claims: Mapping[str, Any] | None) -> Identity:
    """Build the caller's identity; 401 when the claims name no user."""
    if not claims:
        raise UnauthorizedError("A valid bearer token is required.")
    user_id = _text(claims.get("sub"))
    if user_id is None:
        raise UnauthorizedError("The token has no subject.")
    # Role and slug are read from the same source as a valid org id, never on their own.
    org_id = active_org_id(claims.get("org_id"))
    if org_id is not None:
        role, slug = claims.get("org_role"), claims.get("org_slug")
    else:
        nested = _org_object(claims)
        org_id = active_org_id(nested.get("id"))
        role, slug = nested.get("rol"), nested.get("slg")
    if org_id is None:
        return Identity(user_id=user_id, org_id=personal_org_id(user_id), role="admin", personal=True)
    return Identity(user_id=user_id, org_id=org_id, role=clerk_role(_text(role)), org_slug=_text(slug))


def require_admin(identity: Identity) -> None:
    """403 unless the caller is an admin of the active organization."""
    if not identity.is_admin:
        raise ForbiddenError(
            "This action needs the admin role in the organization.", details={"required_role": "admin"}
        )
