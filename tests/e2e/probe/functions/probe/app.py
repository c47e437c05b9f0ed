"""A function for the dev server's tests: it reports its instance's state, waits for a file,
sleeps, or fails. Its module-level counters are what one Lambda instance keeps between events."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

_in_flight = 0
_max_in_flight = 0
_served = 0
_WAIT_LIMIT_S = 20.0


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _in_flight, _max_in_flight, _served
    _in_flight += 1
    _max_in_flight = max(_max_in_flight, _in_flight)
    _served += 1
    try:
        query = event.get("queryStringParameters") or {}
        path = event["rawPath"]
        if path == "/probe/crash":
            raise RuntimeError("the probe fails on purpose")
        if path == "/probe/wait":
            # Say that this invocation has started, then wait until the test releases it.
            Path(query["started"], f"{os.getpid()}-{_served}").touch()
            release, deadline = Path(query["release"]), time.monotonic() + _WAIT_LIMIT_S
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        if path == "/probe/sleep":
            time.sleep(float(query["s"]))
        body = {"pid": os.getpid(), "max_in_flight": _max_in_flight, "served": _served}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
    finally:
        _in_flight -= 1
