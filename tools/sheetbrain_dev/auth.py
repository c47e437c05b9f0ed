"""Local stand-in for Clerk + API Gateway's JWT authorizer.

A local RS256 key pair and its JWKS are created once under ``.sheetbrain/``. ``mint`` signs
tokens shaped like a Clerk session token from our JWT template (``aud`` + flat org claims);
``verify`` checks them as the HTTP API authorizer does (signature via JWKS, issuer, audience,
expiry), and ``authorizer_claims`` passes the claims on as API Gateway does: every value a string.
Which org claims name an organization is the layer's rule (``sheetbrain.tenancy.identity``),
applied by the handlers to what arrives here, as in AWS; nothing here decides it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sheetbrain_dev.paths import STATE_DIR

ISSUER = "https://clerk.sheetbrain.local"
AUDIENCE = "sheetbrain"
KEY_ID = "sheetbrain-dev-1"
_KEY_FILE = STATE_DIR / "jwt-private.pem"
_JWKS_FILE = STATE_DIR / "jwks.json"


def _private_key() -> rsa.RSAPrivateKey:
    if not _KEY_FILE.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = _KEY_FILE.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(_KEY_FILE)
    loaded = serialization.load_pem_private_key(_KEY_FILE.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def jwks() -> dict[str, Any]:
    """The public JWKS (also written to .sheetbrain/jwks.json for other tools)."""
    public = _private_key().public_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    jwk.update({"kid": KEY_ID, "use": "sig", "alg": "RS256"})
    doc = {"keys": [jwk]}
    if not _JWKS_FILE.exists():
        _JWKS_FILE.write_text(json.dumps(doc, indent=2))
    return doc


def mint(
    user_id: str,
    org_id: str | None = None,
    role: str | None = None,
    *,
    org_slug: str | None = None,
    ttl_s: int = 3600,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    now: float | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A session token as the "sheetbrain" Clerk JWT template would issue it; ``claims`` adds or
    replaces claims as they are (e.g. ``{"org_id": None}``, what the template renders for a user
    with no active organization)."""
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "sub": user_id,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued - 5,
        "exp": issued + ttl_s,
        "sid": f"sess_{uuid.uuid4().hex[:24]}",
        "azp": "http://localhost",
    }
    if org_id:
        payload["org_id"] = org_id
        payload["org_role"] = role or "org:member"
        if org_slug:
            payload["org_slug"] = org_slug
    payload.update(claims or {})
    return jwt.encode(payload, _private_key(), algorithm="RS256", headers={"kid": KEY_ID})


class TokenError(Exception):
    pass


def verify(token: str) -> dict[str, Any]:
    """Claims of a valid token; TokenError (→ 401) otherwise."""
    keys = {k["kid"]: k for k in jwks()["keys"]}
    try:
        header = jwt.get_unverified_header(token)
        jwk = keys.get(header.get("kid", ""))
        if jwk is None:
            raise TokenError("unknown signing key")
        key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
    return claims


def _claim_string(value: Any) -> str:
    # API Gateway hands JWT claims to the function as strings; lists become "[a b]" and
    # objects "map[k:v]" (Go's fmt.Sprint), which is why a nested "o" claim does not survive.
    # A JSON null is rendered as Go renders a nil value, "<nil>": inferred from that same
    # formatting, not measured (see the README's Clerk section). Never Python's "None".
    if value is None:
        return "<nil>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_claim_string(v)}" for k, v in value.items()) + "]"
    return str(value)


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as the HTTP API JWT authorizer passes them in requestContext."""
    return {key: _claim_string(value) for key, value in claims.items()}


def claims_for(user_id: str, org_id: str | None = None, role: str = "org:member") -> dict[str, str]:
    """Claims as the JWT authorizer passes them for a token minted for this user and org (tests
    and benches call handlers with them, as API Gateway would after verifying the token)."""
    return authorizer_claims(verify(mint(user_id, org_id, role)))
