"""`make sam-env`: the embedded PostgreSQL on a loopback TCP port, passwords required there, and
an env.json that `sam local` applies to each function of the template. Docker is not needed
for what is tested here: the file's names against the template's, and real connections over
TCP with the file's URLs (what a container on the host network makes)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sheetbrain.config import Settings
from sheetbrain_dev import sam_env
from sheetbrain_dev.pinned_clock import stop_server
from sheetbrain_dev.template import load_template

FUNCTIONS = {
    "AuditFunction",
    "IngestFunction",
    "BillingFunction",
    "WebhookFunction",
    "CleanupFunction",
    "IngestWorkerFunction",
    "MigrationFunction",
}


@pytest.fixture(scope="module")
def pgdata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A server of its own: the test restarts it on a TCP port, which the session's must not see."""
    directory = tmp_path_factory.mktemp("sam-env") / "pgdata"
    yield directory
    stop_server(directory)


def _write(pgdata: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    monkeypatch.setenv("SHEETBRAIN_PGDATA", str(pgdata))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_local_sam")
    monkeypatch.delenv("CLERK_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    status = sam_env.run(_args(out))
    assert status == 0
    content: dict[str, dict[str, str]] = json.loads(out.read_text())
    return content


def _args(out: Path, port: int | None = None) -> object:
    import argparse

    return argparse.Namespace(port=port, host="127.0.0.1", out=out)


def test_env_json_names_the_templates_functions_and_their_variables_and_the_app_login_connects_over_tcp(
    pgdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given `sheetbrain sam-env` run against an embedded server
    out = tmp_path / "env.json"
    env = _write(pgdata, out, monkeypatch)

    # Then env.json names exactly the template's functions, each with exactly the variables the
    # template declares for it (SAM applies no other)
    template = load_template()
    assert set(env) == FUNCTIONS == set(template.functions)
    for name, function in template.functions.items():
        assert set(env[name]) == set(function.environment), name
    # And it is readable by its owner only: it holds passwords
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    # And each function gets local values: its own login's URL, no secret ARN, no TLS
    audit, webhook, billing = env["AuditFunction"], env["WebhookFunction"], env["BillingFunction"]
    assert audit["ENVIRONMENT"] == "local" and audit["DATABASE_SECRET_ARN"] == "" and audit["DB_SSLROOTCERT"] == ""
    assert "DATABASE_URL" not in webhook and "SYSTEM_DATABASE_URL" in webhook
    assert billing["STRIPE_API_KEY"] == "sk_test_local_sam"
    assert webhook["CLERK_WEBHOOK_SECRET"] == ""
    assert billing["VAPID_SUBJECT"] == "mailto:dev@sheetbrain.local" and len(billing["VAPID_PRIVATE_KEY"]) == 43
    assert billing["STRIPE_PRICE_PRO"] == ""  # a parameter's default
    assert env["IngestFunction"]["INGEST_QUEUE_URL"] == ""  # a resource: none locally (the local queue)
    app = conninfo_to_dict(audit["DATABASE_URL"])
    assert (app["host"], app["user"], app["dbname"], app["sslmode"]) == (
        "127.0.0.1",
        "sheetbrain_dev",
        "sheetbrain",
        "disable",
    )
    port = int(str(app["port"]))

    # When the app login connects with that URL as the layer's settings build it, over TCP
    settings = Settings.model_validate({key.lower(): value for key, value in audit.items()})
    with psycopg.connect(settings.require_database_url(), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_user, inet_server_addr()::text, inet_server_port(),"
            " pg_has_role('sheetbrain_app', 'MEMBER'), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        ).fetchone()
    # Then it is the app login, on the loopback port, a member of sheetbrain_app, no superuser
    assert row == ("sheetbrain_dev", "127.0.0.1/32", port, True, False)

    # And the system and owner logins connect the same way
    with psycopg.connect(webhook["SYSTEM_DATABASE_URL"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, pg_has_role('sheetbrain_system', 'MEMBER')").fetchone() == (
            "sheetbrain_dev_system",
            True,
        )
    with psycopg.connect(env["MigrationFunction"]["MIGRATION_DATABASE_URL"], connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM schema_migrations").fetchone() == (True,)

    # And over TCP a wrong password, or none, is refused
    for password in ("wrong-password-123456", ""):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(make_conninfo(audit["DATABASE_URL"], password=password), connect_timeout=5).close()


def test_a_second_run_keeps_the_port_and_replaces_the_passwords(
    pgdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two runs
    first = _write(pgdata, tmp_path / "first.json", monkeypatch)["AuditFunction"]["DATABASE_URL"]
    second = _write(pgdata, tmp_path / "second.json", monkeypatch)["AuditFunction"]["DATABASE_URL"]
    # Then the port is the same, and only the second password is accepted
    assert conninfo_to_dict(first)["port"] == conninfo_to_dict(second)["port"]
    with psycopg.connect(second, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("sheetbrain_dev",)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(first, connect_timeout=5).close()


def test_only_host_lines_are_made_to_require_passwords(tmp_path: Path) -> None:
    # Given pg_hba.conf as initdb --auth=trust writes it
    hba = tmp_path / "pg_hba.conf"
    hba.write_text(
        "# comment: host all all trust\n"
        "local   all             all                                     trust\n"
        "host    all             all             127.0.0.1/32            trust\n"
        "host    all             all             ::1/128                 trust\n"
        "host    replication     all             127.0.0.1/32            trust\n"
    )
    # When the TCP lines are rewritten, twice
    assert sam_env.require_passwords_on_tcp(hba) is True
    assert sam_env.require_passwords_on_tcp(hba) is False
    # Then the socket keeps trust and every host line asks for SCRAM
    assert hba.read_text() == (
        "# comment: host all all trust\n"
        "local   all             all                                     trust\n"
        "host    all             all             127.0.0.1/32            scram-sha-256\n"
        "host    all             all             ::1/128                 scram-sha-256\n"
        "host    replication     all             127.0.0.1/32            scram-sha-256\n"
    )
