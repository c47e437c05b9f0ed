"""Forward-only migrations: ``sql/NNNN_<what>.sql`` files, applied in order, checksummed.

Applied files are recorded in ``schema_migrations``; a file whose checksum no longer matches
its record is refused (landed migrations are never edited: add a new one). A session-level
advisory lock serialises concurrent runners, so two deploys or two dev servers starting at once
apply each file exactly once: the second waits, then finds nothing to do.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sheetbrain.errors import SheetBrainError
from sheetbrain.observability import logger

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Arbitrary but fixed: "sheetbrain migrations" as a 63-bit key.
ADVISORY_LOCK_KEY = 0x5EE7B2A1_0000_0001

_BOOKKEEPING = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
)
"""


class MigrationError(SheetBrainError):
    code = "migration_error"
    status = 500


class DatabaseAheadError(MigrationError):
    """The database has migrations newer than every file on disk: the code is older than the
    database (a rollback, or an older release deployed again). Forward-only migrations leave
    what older code uses, so the caller may treat this as nothing to do."""

    code = "database_ahead"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: bytes  # what is checksummed is what runs

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """The migration files of ``directory`` in version order; refuses bad names and duplicates."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"Migration file name {path.name!r} does not match NNNN_<what>.sql.")
        version = int(match["version"])
        if version in found:
            raise MigrationError(
                f"Two migrations share version {version:04d}: {found[version].file_name}, {path.name}."
            )
        found[version] = Migration(version, match["name"], path, path.read_bytes())
    return [found[v] for v in sorted(found)]


def apply_migrations(conninfo: str, directory: Path) -> list[str]:
    """Apply pending migrations; returns the file names applied (empty when up to date)."""
    migrations = discover(directory)
    applied_now: list[str] = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            try:
                conn.execute(_BOOKKEEPING)
                recorded = {
                    row[0]: (row[1], row[2])
                    for row in conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
                }
                _check_landed(migrations, recorded)
                for migration in migrations:
                    if migration.version in recorded:
                        continue
                    _apply_one(conn, migration)
                    applied_now.append(migration.file_name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    except psycopg.Error as exc:
        raise MigrationError(f"Migration failed: {exc}") from exc
    return applied_now


def _check_landed(migrations: list[Migration], recorded: dict[int, tuple[str, str]]) -> None:
    on_disk = {m.version: m for m in migrations}
    newest_on_disk = max(on_disk, default=0)
    missing = sorted(v for v in recorded if v not in on_disk)
    if missing and missing[0] > newest_on_disk and all(v in recorded for v in on_disk):
        for version in on_disk:
            _check_checksum(on_disk[version], recorded[version][1])
        raise DatabaseAheadError(
            f"The database has migrations up to {missing[-1]:04d}, newer than this code's {newest_on_disk:04d}."
        )
    for version, (name, checksum) in sorted(recorded.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(
                f"Migration {version:04d}_{name}.sql was applied to this database but is missing from disk."
            )
        _check_checksum(migration, checksum)


def _check_checksum(migration: Migration, checksum: str) -> None:
    if migration.checksum != checksum:
        raise MigrationError(
            f"Migration {migration.file_name} was edited after it was applied "
            f"(checksum {checksum[:12]} recorded, {migration.checksum[:12]} on disk). "
            "Landed migrations are forward-only: restore the file and add a new migration instead."
        )


def _apply_one(conn: psycopg.Connection, migration: Migration) -> None:
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(migration.sql)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (%s, %s, %s, %s)",
            (
                migration.version,
                migration.name,
                migration.checksum,
                int((time.perf_counter() - started) * 1000),
            ),
        )
    logger.info("migration applied", migration=migration.file_name)
