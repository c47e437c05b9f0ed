"""The ``sheetbrain`` command: local server, one-off invocations, tokens, migrations, audits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def _prepare_environment() -> None:
    """Point the layer at the (embedded or configured) database, migrated."""
    from sheetbrain.config import reset_settings

    from sheetbrain_dev import vapid
    from sheetbrain_dev.database import ensure_database

    urls = ensure_database()
    os.environ["DATABASE_URL"] = urls.app
    os.environ["SYSTEM_DATABASE_URL"] = urls.system
    os.environ.setdefault("ENVIRONMENT", "local")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SheetBrain")
    vapid.apply_environment()
    reset_settings()


def cmd_serve(args: argparse.Namespace) -> int:
    from sheetbrain_dev.server import ApiServer
    from sheetbrain_dev.template import load_template

    _prepare_environment()
    template = load_template()
    server = ApiServer(("127.0.0.1", args.port), template, max_instances=max(1, args.max_instances))
    _local_ingestion_environment(server.server_port)
    server.start_queue_runner()
    print(f"SheetBrain API on http://127.0.0.1:{server.server_port} ({len(template.routes)} routes)", flush=True)
    for route in template.routes:
        note = "" if route.authorized else "  (no JWT)"
        print(f"  {route.method:6} {route.path:28} -> {route.function}{note}")
    print(f"Web push example page (this server only): http://localhost:{server.server_port}/dev/push", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _local_ingestion_environment(port: int) -> None:
    """The stand-ins of the upload bucket and the queue (issue 16), unless the environment names others."""
    from sheetbrain.config import reset_settings

    from sheetbrain_dev import local_bucket
    from sheetbrain_dev.paths import STATE_DIR

    os.environ.setdefault("UPLOAD_BUCKET", "sheetbrain-local-uploads")
    os.environ.setdefault("S3_ENDPOINT_URL", f"http://127.0.0.1:{port}{local_bucket.PATH_PREFIX.rstrip('/')}")
    os.environ.setdefault("LOCAL_BUCKET_DIR", str(STATE_DIR / "bucket"))
    os.environ.setdefault("LOCAL_BUCKET_SECRET", local_bucket.local_secret())
    reset_settings()


def cmd_invoke(args: argparse.Namespace) -> int:
    from sheetbrain_dev.lambda_runtime import FunctionError, FunctionInstance
    from sheetbrain_dev.template import load_template

    template = load_template(args.template) if args.template else load_template()
    function = template.functions.get(args.function)
    if function is None:
        print(
            f"Unknown function {args.function!r}; known: {', '.join(sorted(template.functions))}",
            file=sys.stderr,
        )
        return 2
    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"Cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    # As `sam local invoke`: stdout carries the result alone, for `| jq`. Everything else (the
    # embedded database starting, the function's logs, EMF metrics and prints, which its own
    # instance writes to stderr) goes to stderr.
    with _stdout_kept_for_result() as result_out:
        _prepare_environment()
        instance = FunctionInstance(function)
        try:
            result, code = instance.invoke(event, float(function.timeout_s)), 0
        except FunctionError as exc:
            result, code = exc.payload(), 1
        finally:
            instance.stop()
        result_out.write(json.dumps(result, indent=2) + "\n")
    return code


@contextmanager
def _stdout_kept_for_result() -> Iterator[TextIO]:
    """A stream to the original stdout, while file descriptor 1 (and so any subprocess or
    library writing to it) points at stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with os.fdopen(os.dup(saved), "w", encoding="utf-8") as result_out:
            yield result_out
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def cmd_token(args: argparse.Namespace) -> int:
    from sheetbrain.tenancy.identity import active_org_id

    from sheetbrain_dev.auth import mint

    if args.org is not None and active_org_id(args.org) is None:
        # The handlers would read such a claim as no active organization (the personal one).
        print(
            f"--org {args.org!r} is not an organization id (org_ followed by 1 to 64 letters, "
            "digits, _ or -); leave it out for the user's personal organization",
            file=sys.stderr,
        )
        return 2
    print(mint(args.user, args.org, args.role, org_slug=args.slug, ttl_s=args.ttl))
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from sheetbrain.db.migrations import MigrationError

    from sheetbrain_dev.database import ensure_database

    try:
        urls = ensure_database()
    except MigrationError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print("\n".join(f"applied {name}" for name in urls.applied) or "up to date")
    return 0


def cmd_verify_audit_log(args: argparse.Namespace) -> int:
    from sheetbrain.auditing.audit_log import verify_all

    _prepare_environment()
    broken = 0
    for report in verify_all(args.org):
        if report.ok:
            print(f"{report.org_id}: ok ({report.rows_checked} rows)")
        else:
            broken += 1
            print(f"{report.org_id}: BROKEN at seq {report.first_broken_seq}: {report.reason} "
                  f"({report.rows_checked} rows verified before it)")  # fmt: skip
    return 1 if broken else 0


def cmd_audit(args: argparse.Namespace) -> int:
    from sheetbrain_dev.audit_cmd import run

    return run(args.file, args.json, args.html)


def cmd_openapi(args: argparse.Namespace) -> int:
    from sheetbrain_dev import openapi

    # The functions are imported, never invoked: no database, tracing off.
    for key, value in {
        "ENVIRONMENT": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SheetBrain",
    }.items():
        os.environ.setdefault(key, value)
    try:
        if args.check:
            if not openapi.is_current():
                print(
                    f"{openapi.OPENAPI_FILE.name} is stale: the routes' models changed. "
                    "Run `sheetbrain openapi` (make openapi) and commit the result.",
                    file=sys.stderr,
                )
                return 1
            print(f"{openapi.OPENAPI_FILE.name} is up to date")
            return 0
        path = openapi.write()
    except openapi.OpenApiBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def cmd_sam_env(args: argparse.Namespace) -> int:
    from sheetbrain_dev import sam_env

    return sam_env.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sheetbrain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API of template.yaml on 127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument(
        "--max-instances", type=int, default=4, help="concurrent instances (worker processes) per function"
    )
    serve.set_defaults(fn=cmd_serve)

    inv = sub.add_parser("invoke", help="invoke one function with an event file, as `sam local invoke`")
    inv.add_argument("function", help="logical id in template.yaml, e.g. AuditFunction")
    inv.add_argument("--event", required=True, help="JSON event file (see events/)")
    inv.add_argument("--template", type=Path, help="the SAM template (default: template.yaml)")
    inv.set_defaults(fn=cmd_invoke)

    tok = sub.add_parser("token", help="mint a bearer token the local server accepts")
    tok.add_argument("--user", required=True)
    tok.add_argument("--org")
    tok.add_argument("--role", default="org:member", help="org:admin or org:member")
    tok.add_argument("--slug")
    tok.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    tok.set_defaults(fn=cmd_token)

    mig = sub.add_parser("migrate", help="apply sql/ migrations to DATABASE_URL or the embedded database")
    mig.set_defaults(fn=cmd_migrate)

    ver = sub.add_parser("verify-audit-log", help="verify the audit log's hash chains; report the first broken link")
    ver.add_argument("--org", help="only this organization")
    ver.set_defaults(fn=cmd_verify_audit_log)

    aud = sub.add_parser("audit", help="audit the formulas of a workbook, offline")
    aud.add_argument("file")
    aud.add_argument("--json", action="store_true", help="print findings as JSON")
    aud.add_argument("--html", metavar="OUT.html", help="also write the audit as a self-contained HTML report")
    aud.set_defaults(fn=cmd_audit)

    api = sub.add_parser("openapi", help="write openapi.json, the OpenAPI document of every function's routes")
    api.add_argument("--check", action="store_true", help="exit 1 if the committed openapi.json is stale")
    api.set_defaults(fn=cmd_openapi)
    sam = sub.add_parser("sam-env", help="the embedded PostgreSQL on a loopback TCP port, and env.json for `sam local`")
    sam.add_argument("--port", type=int, help="the TCP port (default: the current one, else a free one)")
    sam.add_argument(
        "--host",
        default="127.0.0.1",
        help="the host the containers connect to (127.0.0.1 with --docker-network host; "
        "host.docker.internal on Docker Desktop)",
    )
    sam.add_argument("--out", type=Path, default=Path("env.json"), help="where to write (default ./env.json)")
    sam.set_defaults(fn=cmd_sam_env)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
