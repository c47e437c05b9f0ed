"""The migration custom resource's work: apply pending migrations as the owner login, then make
the application's logins when the stack made the database (their passwords in the stack's
secrets, which CloudFormation generated and the RDS Proxy reads)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from sheetbrain.config import get_settings, read_secret_json
from sheetbrain.db.logins import APP_GROUP, SYSTEM_GROUP, ensure_login
from sheetbrain.db.migrations import DatabaseAheadError, apply_migrations
from sheetbrain.deploy.custom_resource import Outcome
from sheetbrain.errors import ConfigurationError
from sheetbrain.observability import logger

PHYSICAL_ID = "sheetbrain-database-migrations"
_MAX_LOGINS = 4


@dataclass(frozen=True)
class LoginSpec:
    """One login the resource makes: its group (sheetbrain_app or sheetbrain_system) and the
    secret holding its RDS fields (username and password)."""

    group: str
    secret_arn: str


def login_specs(properties: Mapping[str, Any] | None) -> list[LoginSpec]:
    """The ``Logins`` of the resource's properties: ``[{"Group": ..., "SecretArn": ...}]``, at
    most four; anything else is a ConfigurationError (the deploy fails, naming it)."""
    raw = (properties or {}).get("Logins", [])
    if not isinstance(raw, list) or len(raw) > _MAX_LOGINS:
        raise ConfigurationError(f"Logins must be a list of at most {_MAX_LOGINS} entries.")
    specs = []
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) != {"Group", "SecretArn"}:
            raise ConfigurationError("Each of Logins is {Group, SecretArn}.")
        group, arn = entry["Group"], entry["SecretArn"]
        if group not in (APP_GROUP, SYSTEM_GROUP):
            raise ConfigurationError(f"A login joins {APP_GROUP} or {SYSTEM_GROUP}.")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise ConfigurationError("A login's SecretArn is an ARN.")
        specs.append(LoginSpec(group=group, secret_arn=arn))
    return specs


def _make_logins(conninfo: str, logins: Sequence[LoginSpec]) -> list[str]:
    made = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for spec in logins:
            fields = read_secret_json(spec.secret_arn)
            username, password = fields.get("username"), fields.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                raise ConfigurationError(f"Secret {spec.secret_arn} lacks a username and password.")
            created = ensure_login(conn, username, spec.group, password)
            made.append(f"{username} ({'created' if created else 'password set'})")
    return made


def migrate(directory: Path, logins: Sequence[LoginSpec] = ()) -> Outcome:
    """Apply the pending files of ``directory``, then make or update ``logins``. A database
    newer than the code (a rollback to the previous release, whose update runs this again with
    its older files) is nothing to migrate: forward-only migrations keep what older code uses.
    Any other failure raises."""
    conninfo = get_settings().require_migration_database_url()
    try:
        applied = apply_migrations(conninfo, directory)
    except DatabaseAheadError as exc:
        logger.warning("database ahead of this code; nothing applied", detail=str(exc))
        applied, summary = [], f"Nothing applied: {exc}"
    else:
        summary = f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "Up to date."
    made = _make_logins(conninfo, logins) if logins else []
    if made:
        summary += f" Logins: {', '.join(made)}."
    data = {"Applied": str(len(applied)), "Latest": applied[-1] if applied else ""}
    if logins:
        data["Logins"] = str(len(made))
    return Outcome(summary[:900], data)
