"""Migrations: converge from empty, serialise concurrent runners, refuse edited files."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from sheetbrain.db import audits_repo
from sheetbrain.db.migrations import MigrationError, apply_migrations, discover
from sheetbrain_dev.database import DatabaseUrls, drop_database
from sheetbrain_dev.paths import SQL_DIR


@pytest.fixture
def empty_db(database: DatabaseUrls, request: pytest.FixtureRequest) -> str:
    name = f"mig_{request.node.name[:40].lower().replace('[', '_').replace(']', '')}"
    admin = make_conninfo(database.owner, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(database.owner, dbname=name)
    yield url
    drop_database(url)


def _schema(url: str) -> dict[str, list[tuple[str, str, str]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
               WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"""
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
    schema: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, kind, nullable in rows:
        schema.setdefault(table, []).append((column, kind, nullable))
    schema["__indexes__"] = [(t, i, d) for t, i, d in indexes]
    return schema


def test_migrations_applied_in_steps_converge_to_the_schema_applied_at_once(
    empty_db: str, database: DatabaseUrls, tmp_path: Path
) -> None:
    # Given an empty database and the files of sql/, as a deployed database meets them: first
    # only the older half (an earlier release), later all of them
    files = discover(SQL_DIR)
    earlier = tmp_path / "sql"
    earlier.mkdir()
    for migration in files[: len(files) // 2]:
        shutil.copy(migration.path, earlier / migration.file_name)
    # When they are applied release by release
    first = apply_migrations(empty_db, earlier)
    second = apply_migrations(empty_db, SQL_DIR)
    # Then each file ran once, a rerun does nothing, and the schema equals the session's
    # database, which applied every file in one run
    assert first + second == [m.file_name for m in files] and first and second
    assert apply_migrations(empty_db, SQL_DIR) == []
    assert _schema(empty_db) == _schema(database.owner)
    assert {"organizations", "users", "memberships", "schema_migrations"} <= set(_schema(empty_db))


def test_concurrent_runners_apply_each_file_exactly_once(empty_db: str) -> None:
    # Given two runners starting together on an empty database
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(apply_migrations(empty_db, SQL_DIR))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one applied everything, the other waited and found nothing to do
    assert not errors
    assert sorted(len(r) for r in results) == [0, len(discover(SQL_DIR))]


def test_an_edited_landed_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    # Given a database migrated from a copy of sql/
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    apply_migrations(empty_db, sql_dir)
    # When a landed file is edited
    first = sorted(sql_dir.glob("*.sql"))[-1]
    first.write_text(first.read_text() + "\n-- sneaky edit\n")
    # Then the runner refuses, naming the file
    with pytest.raises(MigrationError, match=f"{first.name} was edited after it was applied"):
        apply_migrations(empty_db, sql_dir)


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="does not match"):
        discover(tmp_path)


def test_failed_migration_rolls_back_and_is_not_recorded(empty_db: str, tmp_path: Path) -> None:
    # Given a migration that fails halfway
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE b (id int); SELECT no_such_function();")
    # When it runs, Then the error is reported and nothing of 0002 remains
    with pytest.raises(MigrationError):
        apply_migrations(empty_db, tmp_path)
    with psycopg.connect(empty_db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()]
        has_b = conn.execute("SELECT to_regclass('public.b')").fetchone()
    assert versions == [1]
    assert has_b == (None,)


def test_findings_recorded_before_0011_are_still_read_from_their_rows(empty_db: str, tmp_path: Path) -> None:
    # Given a database of the release before 0011, holding an audit with two finding rows
    earlier = tmp_path / "sql"
    earlier.mkdir()
    for migration in discover(SQL_DIR):
        if migration.version < 11:
            shutil.copy(migration.path, earlier / migration.file_name)
    apply_migrations(empty_db, earlier)
    policy = {"policy_id": str(uuid.uuid4()), "title": "Controls", "clause": "1.1", "excerpt": "x", "score": 1.0,
              "match": "rule"}  # fmt: skip
    with psycopg.connect(empty_db) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('org_m', 'M')")
        audit = conn.execute(
            """INSERT INTO audits (org_id, formulas, findings, compliant, score, by_severity, duration_ms, rag_used)
               VALUES ('org_m', 2, 2, 0, 0, '{}', 1, true) RETURNING id"""
        ).fetchone()
        assert audit is not None
        conn.execute(
            """INSERT INTO audit_findings (audit_id, org_id, ordinal, cell, formula, rule, severity, message,
                                           suggestion, policy)
               VALUES (%(a)s, 'org_m', 1, NULL, '=1/0', 'FX03', 'high', 'Division by zero', NULL, NULL),
                      (%(a)s, 'org_m', 0, 'B2', '=VLOOKUP(A2,C:D,2)', 'FX02', 'high', 'Approximate match',
                       '=VLOOKUP(A2,C:D,2,FALSE)', %(p)s)""",
            {"a": audit[0], "p": Jsonb(policy)},
        )
    # When the later release migrates it (adding the column, copying nothing)
    apply_migrations(empty_db, SQL_DIR)
    # Then the audit reads its findings from the rows, in order
    with psycopg.connect(empty_db) as conn:
        found = audits_repo.get_audit(conn, "org_m", audit[0])
    assert found is not None
    assert found[1] == [
        audits_repo.FindingRecord(0, "B2", "=VLOOKUP(A2,C:D,2)", "FX02", "high", "Approximate match",
                                  "=VLOOKUP(A2,C:D,2,FALSE)", policy),
        audits_repo.FindingRecord(1, None, "=1/0", "FX03", "high", "Division by zero", None, None),
    ]  # fmt: skip
