"""Migrations on deploy: the custom resource applies sql/ as the owner (whose connection is in
Secrets Manager: moto) on create and update, does nothing on delete, and answers CloudFormation
on every path, a failure, an exception and a timeout included: a local endpoint stands in for
the pre-signed S3 URL and receives the PUT."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg.conninfo import make_conninfo
from sheetbrain import aws
from sheetbrain.config import reset_settings
from sheetbrain.deploy import custom_resource
from sheetbrain.deploy.migrate import PHYSICAL_ID, migrate
from sheetbrain_dev.database import DatabaseUrls, drop_database
from sheetbrain_dev.paths import SQL_DIR

from tests.support import SettingsEnv


@dataclass
class Answers:
    """What the stand-in for CloudFormation's pre-signed URL received."""

    received: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def cloudformation() -> Iterator[Answers]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answers.received.append((self.path, dict(self.headers), json.loads(body)))
            answers.at.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answers.url = f"http://127.0.0.1:{server.server_address[1]}/stack-bucket/response?X-Amz-Signature=abc"
    yield answers
    server.shutdown()
    server.server_close()


@dataclass
class Context:
    remaining_ms: int = 600_000
    log_stream_name: str = "2026/12/02/[$LATEST]abc"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_ms - (time.monotonic() - self.started) * 1000)


def event(answers: Answers, request_type: str, physical_id: str | None = None) -> dict[str, Any]:
    found = {
        "RequestType": request_type,
        "ResponseURL": answers.url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/sheetbrain/guid",
        "RequestId": f"req-{request_type.lower()}",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "CodeVersion": "7"},
    }
    if physical_id is not None:
        found["PhysicalResourceId"] = physical_id
    return found


@pytest.fixture
def empty_db(database: DatabaseUrls) -> Iterator[str]:
    name = "migration_resource_test"
    admin = make_conninfo(database.owner, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(database.owner, dbname=name)
    yield url
    drop_database(url)


@pytest.fixture
def owner_secret(empty_db: str, settings_env: SettingsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The owner's connection in a Secrets Manager secret named by the function's environment."""
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    with mock_aws():
        aws.reset_clients()
        reset_settings()
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="sheetbrain-owner", SecretString=json.dumps({"url": empty_db})
        )["ARN"]
        settings_env(MIGRATION_DATABASE_SECRET_ARN=arn)
        yield empty_db
        aws.reset_clients()
        reset_settings()


def applied_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    return [f"{version:04d}_{name}.sql" for version, name in rows]


def run(answers: Answers, request_type: str, directory: Path = SQL_DIR, **kwargs: Any) -> dict[str, Any]:
    received = len(answers.received)
    custom_resource.handle(
        event(answers, request_type, kwargs.pop("physical_id", None)),
        kwargs.pop("context", Context()),
        lambda: migrate(directory),
        physical_id=PHYSICAL_ID,
        **kwargs,
    )
    assert len(answers.received) == received + 1
    return answers.received[-1][2]


def test_create_applies_every_migration_and_answers_success(owner_secret: str, cloudformation: Answers) -> None:
    files = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    # When CloudFormation creates the resource on an empty database
    answer = run(cloudformation, "Create")
    # Then every file is applied as the owner, and the answer is SUCCESS with what was applied
    assert applied_versions(owner_secret) == files
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "sheetbrain-database-migrations"
    assert answer["Data"] == {"Applied": str(len(files)), "Latest": files[-1]}
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/sheetbrain/guid",
        "req-create",
        "DatabaseMigrations",
    )
    # And it was PUT to the pre-signed URL as it was given, with no Content-Type to sign
    path, headers, _ = cloudformation.received[-1]
    assert path == "/stack-bucket/response?X-Amz-Signature=abc"
    assert headers.get("Content-Type", "") == ""


def test_an_update_with_nothing_pending_is_success_and_keeps_the_resource(
    owner_secret: str, cloudformation: Answers
) -> None:
    run(cloudformation, "Create")
    # When a later deploy updates it with no new file
    answer = run(cloudformation, "Update", physical_id="sheetbrain-database-migrations")
    # Then nothing is applied, and the same resource answers SUCCESS
    assert (answer["Status"], answer["Reason"], answer["Data"]) == (
        "SUCCESS",
        "Up to date.",
        {"Applied": "0", "Latest": ""},
    )
    assert answer["PhysicalResourceId"] == "sheetbrain-database-migrations"


def test_an_update_with_new_files_applies_them(owner_secret: str, cloudformation: Answers, tmp_path: Path) -> None:
    # Given a database migrated by the previous release, and a release with one more file
    run(cloudformation, "Create")
    for source in SQL_DIR.glob("*.sql"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    (tmp_path / "0999_release_marker.sql").write_text("CREATE TABLE release_marker (id int PRIMARY KEY);\n")
    # When the deploy updates the resource
    answer = run(cloudformation, "Update", tmp_path, physical_id="sheetbrain-database-migrations")
    # Then that file alone is applied
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Applied": "1", "Latest": "0999_release_marker.sql"}
    assert applied_versions(owner_secret)[-1] == "0999_release_marker.sql"


def test_a_failing_migration_fails_the_deploy_and_applies_nothing_of_it(
    owner_secret: str, cloudformation: Answers, tmp_path: Path
) -> None:
    # Given a release whose only file fails
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE broken (id int PRIMARY KEY);\nSELECT no_such_function();\n")
    # When CloudFormation creates the resource
    answer = run(cloudformation, "Create", tmp_path)
    # Then it answers FAILED naming the error (CloudFormation rolls back), and the file left nothing
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("MigrationError: Migration failed: function no_such_function() does not exist")
    assert answer["Reason"].endswith("(log stream 2026/12/02/[$LATEST]abc)")
    with psycopg.connect(owner_secret) as conn:
        assert conn.execute("SELECT to_regclass('broken')").fetchone() == (None,)


def test_a_rollback_to_older_code_is_nothing_to_do(owner_secret: str, cloudformation: Answers, tmp_path: Path) -> None:
    # Given a database migrated by this release, and the previous release's files (one fewer)
    run(cloudformation, "Create")
    files = sorted(SQL_DIR.glob("*.sql"))
    for source in files[:-1]:
        (tmp_path / source.name).write_bytes(source.read_bytes())
    # When the rollback's update runs the older code
    answer = run(cloudformation, "Update", tmp_path, physical_id="sheetbrain-database-migrations")
    # Then it succeeds without touching the database (forward-only: older code still works on it)
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Applied": "0", "Latest": ""}
    assert applied_versions(owner_secret) == [p.name for p in files]


def test_delete_does_nothing_and_answers_success(
    cloudformation: Answers, settings_env: SettingsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no owner login at all (anything that tried to connect would fail)
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    monkeypatch.delenv("MIGRATION_DATABASE_SECRET_ARN", raising=False)
    reset_settings()
    # When the stack is deleted
    answer = run(cloudformation, "Delete", physical_id="sheetbrain-database-migrations")
    # Then the resource answers SUCCESS, keeping its id
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", "sheetbrain-database-migrations")


def test_a_missing_owner_secret_is_answered_failed(
    cloudformation: Answers, settings_env: SettingsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    with mock_aws():
        aws.reset_clients()
        reset_settings()
        # Given a secret ARN that names no secret
        settings_env(MIGRATION_DATABASE_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf")
        # When CloudFormation creates the resource
        answer = run(cloudformation, "Create")
        aws.reset_clients()
    reset_settings()
    # Then the exception is answered FAILED, by its type, without the stack waiting an hour
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "ConfigurationError: Secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone"
    )


def test_work_past_the_functions_time_is_answered_before_the_time_runs_out(
    owner_secret: str, cloudformation: Answers, tmp_path: Path
) -> None:
    # Given a migration slower than the function has left (3 s of sleep, 2.5 s remaining, 1 s margin)
    (tmp_path / "0001_slow.sql").write_text("SELECT pg_sleep(3);\n")
    context = Context(remaining_ms=2_500)
    # When CloudFormation creates the resource
    answer = run(cloudformation, "Create", tmp_path, context=context, margin_s=1.0)
    # Then FAILED reached CloudFormation while the function still had time
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("WorkTimedOutError: The work did not finish within 1.")
    assert cloudformation.at[-1] - context.started < 2.5


def test_an_event_without_a_response_url_is_refused() -> None:
    with pytest.raises(custom_resource.MissingResponseUrlError):
        custom_resource.handle(
            {"RequestType": "Create"}, Context(), lambda: custom_resource.Outcome("x"), physical_id="p"
        )


# --- The stack's own database: the resource makes the application's logins ------------------


def _verifies(verifier: str, password: str) -> bool:
    """Whether PostgreSQL's stored SCRAM verifier is that of ``password`` (what a login checks)."""
    import base64
    import hashlib
    import hmac

    _, head, keys = verifier.split("$")
    iterations, salt = head.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    return hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest() == stored_key


@pytest.fixture
def login_names(owner_secret: str) -> Iterator[tuple[str, str]]:
    import os

    names = (f"sb_lambda_{os.getpid()}", f"sb_lambda_system_{os.getpid()}")
    yield names
    with psycopg.connect(owner_secret, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _login_secret(name: str, password: str) -> str:
    """A login's secret as the template's GenerateSecretString makes it (RDS fields)."""
    fields = {"username": name, "password": password, "host": "db.example", "port": 5432, "dbname": "sheetbrain"}
    return boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name=f"login-{name}", SecretString=json.dumps(fields)
    )["ARN"]


def run_with(answers: Answers, request_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    from sheetbrain.deploy.migrate import login_specs

    found = event(answers, request_type, None if request_type == "Create" else PHYSICAL_ID)
    found["ResourceProperties"] = {**found["ResourceProperties"], **properties}
    received = len(answers.received)
    # As functions/migrate/app.py does: the properties are read inside the work
    custom_resource.handle(
        found, Context(), lambda: migrate(SQL_DIR, login_specs(found["ResourceProperties"])), physical_id=PHYSICAL_ID
    )
    assert len(answers.received) == received + 1
    return answers.received[-1][2]


def _role(owner: str, name: str) -> tuple[Any, ...] | None:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            "SELECT rolpassword, rolcanlogin, rolsuper, rolbypassrls,"
            " pg_has_role(rolname, 'sheetbrain_app', 'MEMBER'), pg_has_role(rolname, 'sheetbrain_system', 'MEMBER')"
            " FROM pg_authid WHERE rolname = %s",
            (name,),
        ).fetchone()


def test_create_makes_the_logins_of_the_stacks_secrets_and_an_update_sets_rotated_passwords(
    owner_secret: str, login_names: tuple[str, str], cloudformation: Answers
) -> None:
    app, system = login_names
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    app_arn = _login_secret(app, "Aa1!app-password-0001")
    system_arn = _login_secret(system, "Ss1!system-password-01")
    logins = {
        "Logins": [
            {"Group": "sheetbrain_app", "SecretArn": app_arn},
            {"Group": "sheetbrain_system", "SecretArn": system_arn},
        ]
    }
    # When the stack's resource is created with its two login secrets
    answer = run_with(cloudformation, "Create", logins)
    # Then the migrations are applied, then each login is made in its group, with its password
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Logins"] == "2"
    assert answer["Reason"].endswith(f"Logins: {app} (created), {system} (created).")
    app_role, system_role = _role(owner_secret, app), _role(owner_secret, system)
    assert app_role is not None and system_role is not None
    assert app_role[1:] == (True, False, False, True, False)
    # (sheetbrain_system holds sheetbrain_app's privileges too: sql/0003)
    assert system_role[1:] == (True, False, False, True, True)
    assert app_role[0].startswith("SCRAM-SHA-256$") and _verifies(app_role[0], "Aa1!app-password-0001")
    assert _verifies(system_role[0], "Ss1!system-password-01")

    # When the app login's secret is rotated and the next deploy updates the resource
    client.put_secret_value(
        SecretId=app_arn, SecretString=json.dumps({"username": app, "password": "Rr2#rotated-password-02"})
    )
    from sheetbrain.config import clear_secret_cache

    clear_secret_cache()
    answer = run_with(cloudformation, "Update", logins)
    # Then the login keeps its group, and only the new password verifies
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert f"{app} (password set)" in answer["Reason"]
    app_role = _role(owner_secret, app)
    assert app_role is not None and app_role[4] is True
    assert _verifies(app_role[0], "Rr2#rotated-password-02") and not _verifies(app_role[0], "Aa1!app-password-0001")


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"Logins": "sheetbrain_app"}, "ConfigurationError: Logins must be a list"),
        ({"Logins": [{"Group": "sheetbrain_app"}]}, "ConfigurationError: Each of Logins is {Group, SecretArn}."),
        ({"Logins": [{"Group": "pg_read_all_data", "SecretArn": "arn:x"}]}, "ConfigurationError: A login joins"),
    ],
)
def test_malformed_logins_fail_the_deploy(
    owner_secret: str, cloudformation: Answers, properties: dict[str, Any], reason: str
) -> None:
    answer = run_with(cloudformation, "Create", properties)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(reason), answer["Reason"]


def test_a_login_secret_naming_a_superuser_fails_the_deploy_and_changes_no_password(
    owner_secret: str, cloudformation: Answers
) -> None:
    # Given a login secret that names the server's superuser (a mistake, or a hostile edit)
    with psycopg.connect(owner_secret) as conn:
        superuser, before = conn.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = current_user"
        ).fetchone() or ("", None)
    arn = _login_secret(superuser, "Zz9!superuser-password")
    # When the resource runs
    answer = run_with(cloudformation, "Create", {"Logins": [{"Group": "sheetbrain_app", "SecretArn": arn}]})
    # Then the deploy fails, and the superuser's password is as it was
    assert answer["Status"] == "FAILED"
    assert "is a superuser or bypasses row-level security" in answer["Reason"]
    with psycopg.connect(owner_secret) as conn:
        assert conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (superuser,)).fetchone() == (
            before,
        )
