"""POST /api/audit of a 200-formula grid through the handler, in-process, against the embedded
database (no AI review), next to the engine alone and one durable commit in the same run.

Prints p50/p99 of the whole request, of the engine on the same grid, and of one durable
upsert, and the ratio (request - engine) / commit: everything but the engine (guard, quota,
policy profile, citations, the recording transaction, request validation and the JSON reply)
measured in durable commits. The request is the handler's invocation alone, as Lambda runs it:
the API Gateway event is built once beforehand and the reply is not decoded.
Target (issue 7): ratio <= 3.
    .venv/bin/python bench/audit_api.py [--n 200]
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg
from _harness import bench_database, call, handler_call, percentiles
from sheetbrain.audit import Sheet, audit_sheet
from sheetbrain.db import single_statement
from sheetbrain.policies import service as policies
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev import auth

POLICY = """# Spreadsheet controls
## 1. Lookups
1.1 All lookups must use exact match.
## 2. External data
2.1 Workbooks must not link to other workbooks or import data from the web.
## 3. Rates
3.1 VAT is 20%.
## 4. Errors
4.1 Errors must not be hidden behind IFERROR returning zero.
"""


def grid() -> dict[str, object]:
    """20 rows x 10 formula columns = 200 formulas: copied blocks with a few real problems."""
    rows: list[list[str | None]] = [["Item", *[f"M{c}" for c in range(1, 11)]]]
    for r in range(2, 22):
        row: list[str | None] = [f"Item {r}"]
        for c in range(10):
            col = chr(ord("B") + c)
            if c == 0:
                row.append(f"=VLOOKUP(A{r}, Rates!A:B, 2)")
            elif c == 9:
                row.append(f"=SUM(B{r}:J{r})")
            elif r == 7 and c == 4:
                row.append(f"={col}{r - 1}*0.2")
            else:
                row.append(f"=IFERROR({col}{r - 1}/A{r}, 0)")
        rows.append(row)
    return {"sheet": {"name": "Q3", "range": f"A1:K{len(rows)}", "formulas": rows}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    urls = bench_database()
    org = f"org_auditbench{uuid.uuid4().hex[:8]}"
    user = f"user_{org}"
    claims = auth.claims_for(user, org, "org:admin")
    body = grid()
    import json

    payload = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    status, _ = call("GET", "/api/stats", claims=claims)
    assert status == 200
    with psycopg.connect(urls.owner, autocommit=True) as conn:
        for feature in ("audits_per_month", "requests_per_minute", "user_requests_per_minute"):
            conn.execute(
                "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, %s, -1, 'bench')",
                (org, feature),
            )
        conn.execute("CREATE TABLE IF NOT EXISTS bench_upsert (id int PRIMARY KEY, n bigint NOT NULL)")
        conn.execute("GRANT SELECT, INSERT, UPDATE ON bench_upsert TO sheetbrain_app")
    status, _ = call("POST", "/api/ingest", body=json.dumps({"title": "Controls", "content": POLICY}).encode(),
                     headers=headers, claims=claims)  # fmt: skip
    assert status == 201
    identity = Identity(user_id=user, org_id=org, role="admin")
    sheet = body["sheet"]
    assert isinstance(sheet, dict)
    profile = policies.org_profile(identity)

    def engine() -> None:
        audit_sheet(Sheet("Q3", sheet["formulas"], [], origin="A1"), profile)

    def commit() -> None:
        with single_statement() as conn:
            conn.execute("INSERT INTO bench_upsert VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = bench_upsert.n + 1")

    invoke = handler_call("POST", "/api/audit", body=payload, headers=headers, claims=claims)

    def request() -> None:
        result = invoke()
        assert result["statusCode"] == 200, result["body"]

    for fn in (request, engine, commit):  # warm: imports, the embedder, cached plans
        fn()
    samples: dict[str, list[float]] = {"request": [], "engine": [], "commit": []}
    for _ in range(args.n):
        for name, fn in (("request", request), ("engine", engine), ("commit", commit)):
            t = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t)
    figures = {name: percentiles(values) for name, values in samples.items()}
    for name, (p50, p99) in figures.items():
        print(f"{name:8}: p50 {p50:8.3f} ms  p99 {p99:8.3f} ms")
    overhead = figures["request"][0] - figures["engine"][0]
    print(f"everything but the engine: p50 {overhead:.3f} ms = {overhead / figures['commit'][0]:.2f} durable commits "
          f"(target <= 3); {args.n} requests of 200 formulas")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
