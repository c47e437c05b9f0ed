"""The local database: ``DATABASE_URL`` when set, else an embedded PostgreSQL 16 + pgvector.

The embedded server (pgserver) lives in ``.pgdata`` under the project and keeps running between
commands, so the second start is instant. Migrations run as the owner (the server's superuser);
the application connects as ``sheetbrain_dev``, a login member of ``sheetbrain_app``: not owner,
not superuser, so row-level security applies exactly as in AWS.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sheetbrain.db.migrations import apply_migrations

from sheetbrain_dev.paths import PGDATA, SQL_DIR

APP_LOGIN_ROLE = "sheetbrain_dev"
SYSTEM_LOGIN_ROLE = "sheetbrain_dev_system"


@dataclass(frozen=True)
class DatabaseUrls:
    owner: str  # runs migrations and test set-up
    app: str  # what the API handlers use (DATABASE_URL)
    system: str  # webhook sync and maintenance, across organizations (SYSTEM_DATABASE_URL)
    applied: tuple[str, ...] = ()  # migrations applied by this call


def _embedded_owner_url(dbname: str, pgdata: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless for a local server.
        warnings.simplefilter("ignore")
        import pgserver

        logging.getLogger("pgserver").setLevel(logging.WARNING)

        from pgserver.utils import PostmasterInfo

        server = pgserver.get_server(pgdata, cleanup_mode=None)
    # Read afresh: `make sam-env` restarts the server on a TCP port of its own, and the socket's
    # name carries the port, which pgserver's URI leaves out (and its handle may hold the old one).
    info = PostmasterInfo.read_from_pgdata(server.pgdata) or server.get_postmaster_info()
    base = info.get_uri()
    if info.port is not None:
        base = make_conninfo(base, port=str(info.port))
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return make_conninfo(base, dbname=dbname)


def _ensure_login(owner_url: str, login: str, group: str) -> str:
    """A login role inheriting ``group`` (sheetbrain_app or sheetbrain_system, made by the
    migrations); its URL on the same server and database."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone():
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE {}").format(
                    sql.Identifier(login), sql.Identifier(group)
                )
            )
    params = conninfo_to_dict(owner_url)
    params["user"] = login
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def embedded_pgdata() -> Path:
    """The embedded server's data directory: ``.pgdata``, or ``SHEETBRAIN_PGDATA`` when set (the
    pinned-clock runs use a server of their own, so the everyday one keeps the real clock)."""
    chosen = os.environ.get("SHEETBRAIN_PGDATA")
    return Path(chosen) if chosen else PGDATA


def ensure_database(dbname: str = "sheetbrain", *, pgdata: Path | None = None) -> DatabaseUrls:
    """Start (or reuse) the database, apply migrations, and return the owner, app and system URLs.

    With ``DATABASE_URL`` set, that server is used as it is: it is the application connection,
    ``SYSTEM_DATABASE_URL`` (default: the same) the system one, and ``MIGRATION_DATABASE_URL``
    (default: the same) the owner's.
    """
    external = os.environ.get("DATABASE_URL")
    if external:
        owner = os.environ.get("MIGRATION_DATABASE_URL", external)
        applied = apply_migrations(owner, SQL_DIR)
        system = os.environ.get("SYSTEM_DATABASE_URL", external)
        return DatabaseUrls(owner=owner, app=external, system=system, applied=tuple(applied))
    owner = _embedded_owner_url(dbname, pgdata or embedded_pgdata())
    applied = apply_migrations(owner, SQL_DIR)
    return DatabaseUrls(
        owner=owner,
        app=_ensure_login(owner, APP_LOGIN_ROLE, "sheetbrain_app"),
        system=_ensure_login(owner, SYSTEM_LOGIN_ROLE, "sheetbrain_system"),
        applied=tuple(applied),
    )


def drop_database(owner_url: str) -> None:
    """Drop the database named by ``owner_url`` (test teardown)."""
    params = conninfo_to_dict(owner_url)
    dbname = str(params["dbname"])
    with psycopg.connect(make_conninfo(owner_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
