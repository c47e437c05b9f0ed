"""``make sam-env``: the embedded PostgreSQL on a loopback TCP port too, and ``env.json`` for
``sam local invoke`` / ``sam local start-api`` (which run each function in a Docker container,
where the embedded server's Unix socket is out of reach).

What it does, each time (it converges; run it again after a reboot):

- starts the embedded server if needed and applies the migrations (``ensure_database``);
- has it listen on 127.0.0.1 at a port of its own (``--port``, else the one it already listens
  on, else a free one), besides its socket: PostgreSQL takes ``listen_addresses`` and ``port``
  only at start, so the server is restarted once (a running ``sheetbrain serve`` reconnects);
- requires passwords (SCRAM-SHA-256) on TCP: the socket stays ``trust`` as pgserver made it,
  but any local user can reach a loopback port, so the server's ``host`` lines are rewritten;
- gives the owner and both application logins new random passwords;
- writes ``env.json`` (mode 0600: it holds those passwords and the local secrets), keyed by the
  template's function logical ids, each with every variable the template declares for that
  function and its local value. SAM passes on only declared variables, so the template
  declares the local ones (``DATABASE_URL``...) empty: empty means unset to the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sheetbrain.db.logins import APP_GROUP, SYSTEM_GROUP, ensure_login, scram_sha256_verifier

from sheetbrain_dev import vapid
from sheetbrain_dev.database import APP_LOGIN_ROLE, SYSTEM_LOGIN_ROLE, embedded_pgdata, ensure_database
from sheetbrain_dev.template import Template, load_template

LOOPBACK = "127.0.0.1"
DATABASE_NAME = "sheetbrain"
# What the functions get instead of their AWS values: no secrets ARN, no TLS (the embedded
# server has no certificate; the traffic stays on this machine), no X-Ray daemon, no model calls
# that need a plan's flag, threshold events from the alerts task rather than inline.
LOCAL_VALUES = {
    "ENVIRONMENT": "local",
    "DB_SSLROOTCERT": "",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AI_REVIEW_ENABLED": "false",
    "NOTIFY_INLINE": "false",
}
# Provider secrets taken from the shell's environment when set (as `sheetbrain serve` does).
PROVIDER_SECRETS = ("CLERK_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY")


@dataclass(frozen=True)
class TcpUrls:
    """The three logins' connection strings over TCP (what a container can reach)."""

    port: int
    owner: str
    app: str
    system: str


def _postmaster(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, about XDG_RUNTIME_DIR
        from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        raise RuntimeError(f"The embedded PostgreSQL in {pgdata} is not running.")
    return info


def _pg_ctl(pgdata: Path, args: list[str]) -> None:
    import pgserver

    # pg_ctl refuses root; the data directory's owner (pgserver's own user when run as root) may.
    user = pgdata.owner() if os.geteuid() == 0 else None
    pgserver.pg_ctl(args, pgdata=pgdata, user=user, timeout=60)


def require_passwords_on_tcp(hba_file: Path) -> bool:
    """Rewrite the ``host`` lines of pg_hba.conf from ``trust`` to ``scram-sha-256``; True when
    the file changed. Local (socket) lines are left as they are."""
    lines = hba_file.read_text().splitlines(keepends=True)
    changed = False
    for index, line in enumerate(lines):
        fields = line.split()
        if fields and fields[0] in {"host", "hostssl", "hostnossl"} and fields[-1] == "trust":
            lines[index] = line[: line.rstrip().rfind("trust")] + "scram-sha-256\n"
            changed = True
    if changed:
        with hba_file.open("w") as out:  # in place: keeps the file's owner and mode
            out.writelines(lines)
    return changed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def listen_on_loopback(pgdata: Path, port: int | None = None) -> int:
    """Have the running embedded server listen on 127.0.0.1 as well as its socket, passwords
    required there; its TCP port. Restarts the server only when the address or port changes."""
    hba_changed = require_passwords_on_tcp(pgdata / "pg_hba.conf")
    info = _postmaster(pgdata)
    if info.hostname == LOOPBACK and info.port is not None and port in (None, info.port):
        if hba_changed:
            _pg_ctl(pgdata, ["reload"])
        return int(info.port)
    chosen = port or _free_port()
    options = f"-h {LOOPBACK} -p {chosen} -k {shlex.quote(str(info.socket_dir))}"
    _pg_ctl(pgdata, ["-w", "-m", "fast", "-l", str(pgdata / "log"), "-o", options, "restart"])
    return chosen


def _tcp_url(socket_url: str, *, host: str, port: int, password: str) -> str:
    params = conninfo_to_dict(socket_url)
    return make_conninfo(
        host=host,
        port=str(port),
        dbname=str(params["dbname"]),
        user=str(params["user"]),
        password=password,
        sslmode="disable",
    )


def prepare_database(pgdata: Path, *, port: int | None = None, host: str = LOOPBACK) -> TcpUrls:
    """The embedded database migrated, on a loopback TCP port, its logins with new passwords."""
    os.environ.pop("DATABASE_URL", None)  # the embedded server, whatever the shell says
    urls = ensure_database(DATABASE_NAME, pgdata=pgdata)
    tcp_port = listen_on_loopback(pgdata, port)
    urls = ensure_database(DATABASE_NAME, pgdata=pgdata)  # the socket's name follows the port
    passwords = {role: secrets.token_urlsafe(24) for role in ("owner", "app", "system")}
    with psycopg.connect(urls.owner, autocommit=True) as conn:
        owner = str(conninfo_to_dict(urls.owner)["user"])
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(owner), sql.Literal(scram_sha256_verifier(passwords["owner"]))
            )
        )
        ensure_login(conn, APP_LOGIN_ROLE, APP_GROUP, passwords["app"])
        ensure_login(conn, SYSTEM_LOGIN_ROLE, SYSTEM_GROUP, passwords["system"])
    return TcpUrls(
        port=tcp_port,
        owner=_tcp_url(urls.owner, host=host, port=tcp_port, password=passwords["owner"]),
        app=_tcp_url(urls.app, host=host, port=tcp_port, password=passwords["app"]),
        system=_tcp_url(urls.system, host=host, port=tcp_port, password=passwords["system"]),
    )


def _declared_value(value: Any, parameters: Mapping[str, Any]) -> str:
    """What `sam local` makes of a template value: a literal as a string, a parameter's
    reference as its default, anything else (a resource's name or ARN) empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        default = parameters[value["Ref"]].get("Default")
        return "" if default is None else str(default)
    return ""


def environment_file(template: Template, urls: TcpUrls, local_secrets: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """env.json's content: for each function of the template, each variable it declares, with
    its local value."""
    parameters = template.document.get("Parameters", {})
    local = {
        **LOCAL_VALUES,
        "DATABASE_URL": urls.app,
        "SYSTEM_DATABASE_URL": urls.system,
        "MIGRATION_DATABASE_URL": urls.owner,
        **local_secrets,
    }
    result: dict[str, dict[str, str]] = {}
    for name, function in sorted(template.functions.items()):
        variables: dict[str, str] = {}
        for variable, value in sorted(function.environment.items()):
            if variable.endswith("_SECRET_ARN"):
                variables[variable] = ""  # the value comes from the variable beside it instead
            elif variable in local:
                variables[variable] = local[variable]
            else:
                variables[variable] = _declared_value(value, parameters)
        result[name] = variables
    return result


def local_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The provider secrets of the shell (empty when unset) and the local VAPID key."""
    values = {name: environ.get(name, "") for name in PROVIDER_SECRETS}
    values["VAPID_PRIVATE_KEY"] = environ.get("VAPID_PRIVATE_KEY") or vapid.raw_private_key(vapid.private_key())
    values["VAPID_SUBJECT"] = environ.get("VAPID_SUBJECT") or vapid.LOCAL_SUBJECT
    return values


def write_private_json(path: Path, content: object) -> None:
    """Write ``content`` as JSON, readable by its owner only, whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(content, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(tmp, 0o600)  # an older file of that name may have had another mode
    tmp.replace(path)


def run(args: argparse.Namespace) -> int:
    """``sheetbrain sam-env``: prepare the database and write env.json; the exit status."""
    if args.port is not None and not 1024 <= args.port <= 65535:
        print("error: --port must be from 1024 to 65535", file=sys.stderr)
        return 2
    try:
        urls = prepare_database(embedded_pgdata(), port=args.port, host=args.host)
    except (RuntimeError, psycopg.Error, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_private_json(args.out, environment_file(load_template(), urls, local_secrets(os.environ)))
    print(f"PostgreSQL listens on {LOOPBACK}:{urls.port} (passwords required); wrote {args.out}")
    print(f"  sam local invoke AuditFunction -e events/health.json --env-vars {args.out} --docker-network host")
    return 0
