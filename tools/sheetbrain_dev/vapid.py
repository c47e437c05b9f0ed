"""The local VAPID key of web push, made once under ``.sheetbrain/`` like the JWT key.

``sheetbrain serve`` (and the other commands that run the layer) put it in VAPID_PRIVATE_KEY
(base64url of the raw P-256 scalar) unless the environment has one, with a local VAPID_SUBJECT.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sheetbrain_dev.paths import STATE_DIR

KEY_FILE = STATE_DIR / "vapid-private.pem"
LOCAL_SUBJECT = "mailto:dev@sheetbrain.local"


def private_key() -> ec.EllipticCurvePrivateKey:
    """The local VAPID key, made on first use (mode 0600)."""
    if not KEY_FILE.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = KEY_FILE.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(KEY_FILE)
    loaded = serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded


def raw_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The form VAPID_PRIVATE_KEY takes: base64url (no padding) of the 32-byte scalar."""
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(scalar).rstrip(b"=").decode()


def apply_environment() -> None:
    """VAPID_PRIVATE_KEY and VAPID_SUBJECT for local runs, unless already set."""
    if not os.environ.get("VAPID_PRIVATE_KEY"):
        os.environ["VAPID_PRIVATE_KEY"] = raw_private_key(private_key())
    os.environ.setdefault("VAPID_SUBJECT", LOCAL_SUBJECT)
