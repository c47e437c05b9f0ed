"""The migration custom resource's work: apply pending migrations as the owner login."""

from __future__ import annotations

from pathlib import Path

from sheetbrain.config import get_settings
from sheetbrain.db.migrations import DatabaseAheadError, apply_migrations
from sheetbrain.deploy.custom_resource import Outcome
from sheetbrain.observability import logger

PHYSICAL_ID = "sheetbrain-database-migrations"


def migrate(directory: Path) -> Outcome:
    """Apply the pending files of ``directory``. A database newer than the code (a rollback to
    the previous release, whose update runs this again with its older files) is nothing to do:
    forward-only migrations keep what older code uses. Any other failure raises."""
    conninfo = get_settings().require_migration_database_url()
    try:
        applied = apply_migrations(conninfo, directory)
    except DatabaseAheadError as exc:
        logger.warning("database ahead of this code; nothing applied", detail=str(exc))
        return Outcome(f"Nothing applied: {exc}", {"Applied": "0", "Latest": ""})
    summary = f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "Up to date."
    return Outcome(summary[:900], {"Applied": str(len(applied)), "Latest": applied[-1] if applied else ""})
