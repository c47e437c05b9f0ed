"""Identity from verified JWT claims (API Gateway's authorizer, or the dev server's).

Claims arrive as API Gateway passes them: every value a string. The active organization comes
from the flat ``org_id``/``org_role``/``org_slug`` claims of our Clerk JWT template, or from a v2
``o`` object when it arrives intact (a dict, or a JSON string of one). With no active org the
caller works in their personal organization.
"""

import json
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from sheetbrain import untrusted_json
from sheetbrain.errors import ForbiddenError, UnauthorizedError

Role = Literal["admin", "member"]

PERSONAL_ORG_PREFIX = "personal_"
_ADMIN_ROLES = frozenset({"admin", "org:admin"})


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
    nested = _org_object(claims)
    org_id = _text(claims.get("org_id")) or _text(nested.get("id"))
    if org_id is None:
        return Identity(user_id=user_id, org_id=personal_org_id(user_id), role="admin", personal=True)
    if org_id.startswith(PERSONAL_ORG_PREFIX):
        raise UnauthorizedError("The token names a reserved organization id.")
    role = clerk_role(_text(claims.get("org_role")) or _text(nested.get("rol")))
    slug = _text(claims.get("org_slug")) or _text(nested.get("slg"))
    return Identity(user_id=user_id, org_id=org_id, role=role, org_slug=slug)


def require_admin(identity: Identity) -> None:
    """403 unless the caller is an admin of the active organization."""
    if not identity.is_admin:
        raise ForbiddenError(
            "This action needs the admin role in the organization.", details={"required_role": "admin"}
        )
