"""Application logins: the SCRAM verifier the owner stores instead of a password, what a
password may be, and the template's empty local-only variables read as unset."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from sheetbrain.config import Settings
from sheetbrain.db.logins import check_password, scram_sha256_verifier
from sheetbrain.errors import ConfigurationError


def test_the_verifier_is_postgresqls_scram_form_of_the_password() -> None:
    # Given a password and a fixed salt
    password, salt = "correct-horse-battery-staple", bytes(range(16))
    # When its verifier is made
    verifier = scram_sha256_verifier(password, salt=salt)
    # Then it reads SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey> (RFC 5802 / 7677 keys)
    head, keys = verifier.split("$", 2)[1:]
    iterations, salt_b64 = head.split(":")
    stored_b64, server_b64 = keys.split(":")
    assert verifier.startswith("SCRAM-SHA-256$") and iterations == "4096"
    assert base64.b64decode(salt_b64) == salt
    # And a client that knows the password derives the same keys (what SCRAM checks at login)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    assert base64.b64decode(stored_b64) == hashlib.sha256(client_key).digest()
    assert base64.b64decode(server_b64) == hmac.new(salted, b"Server Key", "sha256").digest()
    # And two verifiers of one password differ by their random salts
    assert scram_sha256_verifier(password) != scram_sha256_verifier(password)


@pytest.mark.parametrize(
    "password",
    [
        "short-15-chars!",
        "x" * 1025,
        "sixteen chars ok",
        "quote'inside-1234",
        'dq"inside-123456',
        "back\\slash-123456",
        "ünïcode-password-1",
    ],
)
def test_a_password_outside_the_safe_alphabet_or_length_is_refused(password: str) -> None:
    with pytest.raises(ConfigurationError):
        check_password(password)


def test_a_password_of_sixteen_safe_characters_is_accepted() -> None:
    check_password("Ab1!#$%&()*+,-./")


def test_the_templates_empty_local_variables_are_unset() -> None:
    # Given the variables as the template declares them in AWS: empty, beside the secrets' ARNs
    settings = Settings.model_validate(
        {
            "environment": "aws",
            "database_url": "",
            "system_database_url": "",
            "migration_database_url": "",
            "stripe_api_key": "",
            "clerk_webhook_secret": "",
            "stripe_webhook_secret": "",
            "vapid_private_key": "",
            "vapid_subject": "",
        }
    )
    # Then none of them is a value: the secrets are read instead (none configured here)
    assert settings.database_url is None and settings.system_database_url is None
    assert settings.stripe_api_key is None and settings.vapid_private_key is None
    with pytest.raises(ConfigurationError, match="No database configured"):
        settings.require_database_url()
