"""The ``cleanup`` task clearing 1,000,000 expired rate-limit buckets.

The rows are inserted by one ``INSERT ... SELECT generate_series`` as the owner; then the task
runs through the registry exactly as the cleanup function runs it, deleting in batches of one
short transaction each. Targets (issue 8): under 60 s in all, no transaction over 1 s (the
longest batch, timed inside the task around the whole transaction, commit included).
    .venv/bin/python bench/cleanup.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import uuid

import psycopg
from _harness import bench_database
from sheetbrain.maintenance.tasks import run_task


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    urls = bench_database("sheetbrain_bench_cleanup")
    org = f"org_bench{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    with psycopg.connect(urls.owner, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO rate_limit_buckets (org_id, key, window_start, count, expires_at)
               SELECT %s, 'org:' || %s || ':' || g, now() - interval '10 minutes', 1, now() - interval '1 minute'
                 FROM generate_series(1, %s) g""",
            (org, org, args.rows),
        )
        conn.execute("ANALYZE rate_limit_buckets")
    inserted_s = time.perf_counter() - started

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and JSON logs: not figures
        summary = run_task("cleanup")
    total_s = time.perf_counter() - started

    with psycopg.connect(urls.owner) as conn:
        row = conn.execute("SELECT count(*) FROM rate_limit_buckets WHERE org_id = %s", (org,)).fetchone()
    left = int(row[0]) if row else -1
    longest_ms = float(summary["longest_batch_ms"])
    print(f"inserted {args.rows:,} expired buckets in {inserted_s:.1f} s")
    print(
        f"cleanup: {summary['rate_limit_buckets_deleted']:,} deleted in {total_s:.1f} s "
        f"({summary['batches']} batches), longest transaction {longest_ms:.0f} ms, {left} left"
    )
    ok = total_s < 60 and longest_ms < 1000 and left == 0
    print(f"targets (< 60 s, no transaction > 1 s, none left): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
