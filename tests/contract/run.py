"""The contract run of `make contract`: schemathesis against `sheetbrain serve` and the document
it serves at /api/openapi.json, with every check but `unsupported_method`.

Set-up, each run afresh: a database of its own on the embedded server (``sheetbrain_contract``,
dropped at the end), a local stand-in of Stripe's API (so checkout and portal answer as they do
with Stripe), webhook signing secrets, the server on a free port, and an enterprise-plan
organization whose rate limits are overridden to unlimited, so that no 429 hides an answer; its
admin's token comes from `sheetbrain token`. The webhook routes cannot be fuzzed with valid
signatures (a fuzzer cannot sign what it generates): their signature headers are documented as
required, and a schema-valid delivery whose signature does not verify is expected to get the
documented 400 (``schemathesis.toml`` beside this file); a missing header, a 400 too.

    python -m tests.contract.run [--max-examples N] [--seed S] [schemathesis run options...]

Exits with schemathesis's status: 0 when the run ends with no failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from sheetbrain_dev.database import drop_database, ensure_database

from tests.stripe_events import PRICES
from tests.stripe_standin import StripeStandIn

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
DATABASE = "sheetbrain_contract"
# Checks: all but unsupported_method (API Gateway, not the handlers, answers undeclared methods).
EXCLUDED_CHECKS = "unsupported_method"
DEFAULT_MAX_EXAMPLES = 10  # what `make contract` runs: about 2 minutes here
DEFAULT_SEED = 20261202  # fixed, so that CI is repeatable; pass --seed to explore others
BIN = Path(sys.executable).parent
LOG = ROOT / ".schemathesis" / "server.log"


def _whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    LOG.parent.mkdir(exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "sheetbrain_dev.cli", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=LOG.open("w"),  # the functions' logs: kept out of the run's report
        text=True,
        start_new_session=True,  # its instances (worker processes) are stopped with it
    )
    assert server.stdout is not None
    first = server.stdout.readline()  # "SheetBrain API on http://127.0.0.1:PORT (N routes)"
    if "http://" not in first:
        server.kill()
        raise SystemExit(f"sheetbrain serve did not start: {first!r}")
    url = first.split(" on ", 1)[1].split()[0]
    subprocess.Popen(["cat"], stdin=server.stdout, stdout=subprocess.DEVNULL)  # keep its pipe drained
    for _ in range(100):
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=5) as reply:
                if reply.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("sheetbrain serve did not answer /api/health")


def _enterprise_org(owner_url: str, url: str, env: dict[str, str]) -> str:
    """An enterprise-plan organization with unlimited request rates; its admin's bearer token."""
    org = "org_contract_" + secrets.token_hex(4)
    token = subprocess.run(
        [BIN / "sheetbrain", "token", "--user", "user_contract", "--org", org, "--role", "org:admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    request = urllib.request.Request(url + "/api/stats", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10):
        pass
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO subscriptions (org_id, plan_code, status) VALUES (%s, 'enterprise', 'active')", (org,)
        )
        for feature in ("requests_per_minute", "user_requests_per_minute"):
            conn.execute(
                "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, %s, -1, 'contract')",
                (org, feature),
            )
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args, st_options = parser.parse_known_args(argv)  # the rest goes to `st run` (e.g. --phases)

    os.environ.pop("DATABASE_URL", None)  # the run's own database on the embedded server
    owner = ensure_database(DATABASE).owner
    drop_database(owner)
    urls = ensure_database(DATABASE)
    standin = StripeStandIn().start()
    env = {
        **os.environ,
        "DATABASE_URL": urls.app,
        "SYSTEM_DATABASE_URL": urls.system,
        "MIGRATION_DATABASE_URL": urls.owner,
        "CLERK_WEBHOOK_SECRET": _whsec(),
        "STRIPE_WEBHOOK_SECRET": _whsec(),
        "STRIPE_API_KEY": "sk_test_contract",
        "STRIPE_API_BASE": standin.url,
        **{f"STRIPE_PRICE_{plan.upper()}": price for plan, price in PRICES.items()},
    }
    server, url = _start_server(env)
    started = time.monotonic()
    try:
        token = _enterprise_org(urls.owner, url, env)
        command = [
            str(BIN / "st"),
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/api/openapi.json",
            "--url",
            url,
            "--exclude-checks",
            EXCLUDED_CHECKS,
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--header",
            f"Authorization: Bearer {token}",
            *st_options,
        ]
        status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        standin.shutdown()
        drop_database(urls.owner)
    print(f"contract run: {time.monotonic() - started:.0f} s, {args.max_examples} examples per operation; log: {LOG}")
    return status


if __name__ == "__main__":
    sys.exit(main())
