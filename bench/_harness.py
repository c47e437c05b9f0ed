"""Shared set-up for benchmarks: a dedicated embedded database and in-process API calls."""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
from typing import Any

from sheetbrain.config import reset_settings
from sheetbrain.db.connection import close_pool
from sheetbrain_dev.database import DatabaseUrls, ensure_database
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import invoke
from sheetbrain_dev.template import load_template

TEMPLATE = load_template()


def bench_database(name: str = "sheetbrain_bench") -> DatabaseUrls:
    """A migrated database of its own (embedded), the layer pointed at it."""
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.pop("SYSTEM_DATABASE_URL", None)
    urls = ensure_database(name)
    os.environ["DATABASE_URL"] = urls.app
    os.environ["SYSTEM_DATABASE_URL"] = urls.system
    reset_settings()
    close_pool()
    return urls


def call(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request through the real handler, routed like API Gateway."""
    found = TEMPLATE.find_route(method, path)
    assert found is not None
    route, params = found
    event = http_event(
        route=route,
        path=path,
        path_params=params,
        method=method,
        raw_query="",
        headers=list((headers or {}).items()),
        body=body,
        claims=claims,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and JSON logs: not figures
        result = invoke(TEMPLATE.functions[route.function], event)
    return int(result["statusCode"]), json.loads(result["body"]) if result.get("body") else None


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000
