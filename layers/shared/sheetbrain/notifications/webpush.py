"""One Web Push message: its payload, encryption, VAPID authorization, the POST, and what the
push service's answer means.

The cryptography is the libraries': ``http_ece`` encrypts the payload as RFC 8291 prescribes
(``aes128gcm``, RFC 8188, an ephemeral ECDH key per message), ``py_vapid`` signs the RFC 8292
JWT (ES256). They load cryptography (~40 ms), so they are imported when a message is built,
never at import: no API function's cold start pays for them.

The POST goes to the address ``endpoints.resolve`` checked, with the endpoint's host as the TLS
server name and Host header; redirects are not followed (http.client follows none), and only
the first 512 bytes of an answer are read.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from sheetbrain.notifications.endpoints import PushTarget

MAX_PAYLOAD_BYTES = 3072  # the encrypted body; push services accept 4096
VAPID_TTL_S = 12 * 3600  # RFC 8292 section 2: exp no more than 24 hours ahead; we use 12
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
_ANSWER_BYTES = 512

Verdict = Literal["sent", "gone", "retry", "failed"]


class PushPayloadTooLargeError(ValueError):
    """A message whose encrypted body would pass MAX_PAYLOAD_BYTES."""


def verdict(status: int) -> Verdict:
    """What a push service's HTTP status means for the delivery: 2xx sent; 404 and 410 the
    subscription is gone (expired or unsubscribed: delete it); 429 and 5xx try again after the
    backoff; any other answer is a refusal that trying again would not change (failed)."""
    if 200 <= status < 300:
        return "sent"
    if status in (404, 410):
        return "gone"
    if status == 429 or status >= 500:
        return "retry"
    return "failed"


def urgency(threshold: int) -> str:
    """RFC 8030 Urgency: the limit reached is worth waking a device for; warnings are not."""
    return "high" if threshold >= 100 else "normal"


def b64url_decode(value: str) -> bytes:
    """Base64url with or without padding (as browsers hand out keys); ValueError otherwise."""
    if not value or any(c not in _B64URL for c in value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _vapid(private_key: str) -> Any:
    from py_vapid import Vapid02

    key = private_key.strip()
    if key.startswith("-----BEGIN"):
        return Vapid02.from_pem(key.encode())
    return Vapid02.from_string(key)


def vapid_public_key(private_key: str) -> str:
    """The application server key browsers subscribe with: the uncompressed P-256 point of the
    VAPID key, base64url without padding."""
    from cryptography.hazmat.primitives import serialization

    point = _vapid(private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(point)


def valid_receiver_key(p256dh: bytes) -> bool:
    """Whether ``p256dh`` is an uncompressed point on P-256 (a browser's subscription key)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(p256dh) != 65 or p256dh[0] != 4:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        return False
    return True


def encrypt(plaintext: bytes, *, p256dh: bytes, auth: bytes) -> bytes:
    """The RFC 8291 ``aes128gcm`` body for the subscription's keys (one record, a fresh
    ephemeral key and salt per message)."""
    import http_ece
    from cryptography.hazmat.primitives.asymmetric import ec

    body: bytes = http_ece.encrypt(
        plaintext,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=p256dh,
        auth_secret=auth,
        version="aes128gcm",
    )
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PushPayloadTooLargeError(f"encrypted payload of {len(body)} bytes > {MAX_PAYLOAD_BYTES}")
    return body


def vapid_authorization(target: PushTarget, *, private_key: str, subject: str, now: float | None = None) -> str:
    """The ``Authorization: vapid t=<JWT>, k=<public key>`` header (RFC 8292): ``aud`` the
    endpoint's origin, ``exp`` 12 hours ahead, ``sub`` the contact."""
    issued = int(time.time() if now is None else now)
    header: dict[str, str] = _vapid(private_key).sign(
        {"aud": target.origin, "exp": issued + VAPID_TTL_S, "sub": subject}
    )
    return header["Authorization"]


def request_headers(*, authorization: str, ttl_s: int, threshold: int, length: int) -> dict[str, str]:
    return {
        "Authorization": authorization,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
        "TTL": str(ttl_s),
        "Urgency": urgency(threshold),
    }


def usage_payload(*, kind: str, org_id: str, metric: str, threshold: int, used: int, limit: int, period: str) -> bytes:
    """The decrypted body the contract promises: compact JSON."""
    doc = {
        "type": kind,
        "org_id": org_id,
        "metric": metric,
        "threshold": threshold,
        "used": used,
        "limit": limit,
        "period": period,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


class PushAnswer(NamedTuple):
    status: int
    reason: str  # the status line's reason and the start of the body, for the history


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verified against the endpoint's host name (SNI and certificate)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to a fixed address (the local stand-in of WEBPUSH_ALLOW_HTTP only)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), timeout=CONNECT_TIMEOUT_S)
        self.sock.settimeout(self.timeout)


_tls_context: ssl.SSLContext | None = None


def _context() -> ssl.SSLContext:
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


def post(target: PushTarget, address: str, body: bytes, headers: Mapping[str, str]) -> PushAnswer:
    """POST the message to the checked ``address``; OSError and http.client.HTTPException
    (unreachable, timed out, not HTTP) propagate for the caller to retry."""
    conn: http.client.HTTPConnection
    if target.is_local_http:
        conn = _PinnedHTTPConnection(target.host, target.port, address=address, timeout=READ_TIMEOUT_S)
    else:
        conn = _PinnedHTTPSConnection(
            target.host, target.port, address=address, timeout=READ_TIMEOUT_S, context=_context()
        )
    try:
        conn.request("POST", target.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        text = response.read(_ANSWER_BYTES).decode("utf-8", "replace")
        return PushAnswer(response.status, f"{response.status} {response.reason} {text}".strip()[:_ANSWER_BYTES])
    finally:
        conn.close()
