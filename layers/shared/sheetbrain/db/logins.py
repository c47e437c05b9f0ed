"""Login roles of the application: made or brought up to date by the owner.

The migrations create the NOLOGIN groups ``sheetbrain_app`` and ``sheetbrain_system``; a login
is a member of one of them with a password. ``ensure_login`` converges: it creates the login,
or sets the password of an existing one (a rotated secret) and grants the group again.

The password reaches the server as a SCRAM-SHA-256 verifier (RFC 7677, PostgreSQL's stored
form), never as plain text, so no statement log or ``pg_stat_statements`` entry holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import string
from typing import Any

import psycopg
from psycopg import sql

from sheetbrain.errors import ConfigurationError

_SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
# Printable ASCII without quotes, backslash or space: SASLprep leaves such a password as it is on
# both sides (libpq and the server), and it survives any URL or conninfo quoting.
_PASSWORD_ALPHABET = frozenset(string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_`{|}~")
_MIN_PASSWORD_CHARS = 16
_MAX_PASSWORD_CHARS = 1024
APP_GROUP = "sheetbrain_app"
SYSTEM_GROUP = "sheetbrain_system"
_GROUPS = frozenset({APP_GROUP, SYSTEM_GROUP})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_password(password: str) -> None:
    """Refuse a password that is short, long, or outside printable ASCII (ConfigurationError)."""
    if not _MIN_PASSWORD_CHARS <= len(password) <= _MAX_PASSWORD_CHARS:
        raise ConfigurationError(
            f"A login password must have {_MIN_PASSWORD_CHARS} to {_MAX_PASSWORD_CHARS} characters."
        )
    if not set(password) <= _PASSWORD_ALPHABET:
        raise ConfigurationError("A login password must be printable ASCII without quotes, backslashes or spaces.")


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = _SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of ``password``: ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>``."""
    check_password(password)
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def ensure_login(conn: psycopg.Connection[Any], login: str, group: str, password: str) -> bool:
    """Make ``login`` a login member of ``group`` with ``password``; True when it was created.

    An existing role keeps its attributes, and is refused (ConfigurationError) when it is a
    superuser or bypasses row-level security: a login of the application must not.
    """
    if group not in _GROUPS:
        raise ConfigurationError(f"A login joins {APP_GROUP} or {SYSTEM_GROUP}, not {group}.")
    if not login or login in _GROUPS or login.startswith("pg_") or len(login) > 63:
        raise ConfigurationError(f"{login!r} cannot be a login of the application.")
    verifier = scram_sha256_verifier(password)
    found = conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
    if found is None:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {} IN ROLE {}"
            ).format(sql.Identifier(login), sql.Literal(verifier), sql.Identifier(group))
        )
        return True
    if found[0] or found[1]:
        raise ConfigurationError(f"{login} is a superuser or bypasses row-level security: not an application login.")
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(login), sql.Literal(verifier)))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login)))
    return False
