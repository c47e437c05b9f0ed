"""The request guard (admission + org and user rate limits) against one durable upsert.

Both run in-process through the layer's pool against the embedded database, interleaved in the
same run so machine noise hits both alike. Target (issue 4): guard p50 / upsert p50 <= 1.5
(the guard is one statement: one round trip, one commit). ``--members N`` puts the caller last
of N members of an org with N seats: the seat check (issue 15) counts N - 1 members ahead.
    .venv/bin/python bench/guard.py [--n 3000] [--members 1]
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg
from _harness import bench_database, percentiles
from sheetbrain.db import single_statement
from sheetbrain.metering.guard import guard_request
from sheetbrain.tenancy.identity import Identity


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--members", type=int, default=1)
    args = parser.parse_args()
    urls = bench_database()
    with psycopg.connect(urls.owner, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_upsert (id int PRIMARY KEY, n bigint NOT NULL)")
        conn.execute("GRANT SELECT, INSERT, UPDATE ON bench_upsert TO sheetbrain_app")
        org = f"org_bench{uuid.uuid4().hex[:8]}"
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        # An enterprise-size limit so the measured path is the common "allowed" one.
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES "
            "(%s, 'requests_per_minute', 100000000, 'bench'), (%s, 'user_requests_per_minute', 100000000, 'bench'), "
            "(%s, 'seats', %s, 'bench')",
            (org, org, org, args.members),
        )
        for i in range(args.members - 1):  # members who joined before the caller
            conn.execute("INSERT INTO users (id) VALUES (%s)", (f"user_{org}_{i:04d}",))
            conn.execute("INSERT INTO memberships (org_id, user_id) VALUES (%s, %s)", (org, f"user_{org}_{i:04d}"))
    identity = Identity(user_id=f"user_{org}", org_id=org, role="admin")

    def upsert() -> None:
        with single_statement() as conn:
            conn.execute("INSERT INTO bench_upsert VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = bench_upsert.n + 1")

    guard_request(identity)
    upsert()
    guard_s: list[float] = []
    upsert_s: list[float] = []
    started = time.perf_counter()
    for _ in range(args.n):
        t = time.perf_counter()
        guard_request(identity)
        guard_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        upsert()
        upsert_s.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    g50, g99 = percentiles(guard_s)
    u50, u99 = percentiles(upsert_s)
    print(f"guard  : p50 {g50:.3f} ms  p99 {g99:.3f} ms  throughput {len(guard_s) / sum(guard_s):,.0f}/s")
    print(f"upsert : p50 {u50:.3f} ms  p99 {u99:.3f} ms  throughput {len(upsert_s) / sum(upsert_s):,.0f}/s")
    print(
        f"ratio guard/upsert: p50 {g50 / u50:.2f}  p99 {g99 / u99:.2f}  (target p50 <= 1.5); "
        f"{args.n} each in {wall:.1f} s; caller last of {args.members} members"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
