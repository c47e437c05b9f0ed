"""Clerk webhook throughput in-process against the embedded database: new events and duplicates.

Each event goes through the real handler: Svix signature check on the raw body, the inbox
insert and the user upsert in one committed transaction. Target (issue 3): >= 500 events/s.
    .venv/bin/python bench/webhooks.py [--events 2000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import time

from _harness import bench_database, call

SECRET = "whsec_" + base64.b64encode(b"bench-secret-0123456789abcdef").decode()


def signed(event: dict, msg_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, separators=(",", ":"))
    ts = int(time.time())
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
    headers = {
        "content-type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": f"v1,{sig}",
    }
    return body.encode(), headers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    bench_database()
    os.environ["CLERK_WEBHOOK_SECRET"] = SECRET
    run = f"{time.time_ns():x}"
    deliveries = []
    for i in range(args.events):
        now_ms = int(time.time() * 1000) + i
        event = {
            "type": "user.updated",
            "object": "event",
            "timestamp": now_ms,
            "data": {
                "id": f"user_b{run}_{i % 500}",
                "object": "user",
                "first_name": f"N{i}",
                "updated_at": now_ms,
                "email_addresses": [],
                "image_url": "",
            },
        }
        deliveries.append(signed(event, f"msg_{run}_{i}"))
    call("POST", "/api/webhooks/clerk", body=deliveries[0][0], headers=deliveries[0][1])  # warm: import svix

    for label in ("new events", "duplicates"):
        started = time.perf_counter()
        for body, headers in deliveries[1:]:
            status, reply = call("POST", "/api/webhooks/clerk", body=body, headers=headers)
            assert status == 200, reply
        elapsed = time.perf_counter() - started
        print(
            f"{label:11}: {len(deliveries) - 1} in {elapsed:.2f} s = {(len(deliveries) - 1) / elapsed:,.0f} events/s "
            f"(target >= 500)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
