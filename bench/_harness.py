"""Shared set-up for benchmarks: a dedicated embedded database and in-process API calls."""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
from collections.abc import Callable
from typing import Any

# Before the layer is imported: its logger and tracer read these when they are made, at import
# (set later, the X-Ray SDK tracer and INFO logging were what the benchmarks measured).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # the template's default (SdkTracing off)
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from sheetbrain.config import reset_settings
from sheetbrain.db.connection import close_pool
from sheetbrain_dev import lambda_runtime, server
from sheetbrain_dev.database import DatabaseUrls, ensure_database
from sheetbrain_dev.events import http_event
from sheetbrain_dev.template import load_template

TEMPLATE = load_template()


def bench_database(name: str = "sheetbrain_bench") -> DatabaseUrls:
    """A migrated database of its own (embedded), the layer pointed at it."""
    os.environ.pop("DATABASE_URL", None)
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
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and JSON logs: not figures
        status, _, reply = server.call(
            TEMPLATE, method, path, headers=list((headers or {}).items()), body=body, claims=claims
        )
    return status, json.loads(reply) if reply else None


def handler_call(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> Callable[[], dict[str, Any]]:
    """One request as Lambda runs it, to time: the v2 event is built here once (API Gateway's
    work), and each call of the result invokes the function's handler, decorators included,
    on it and returns the handler's result dict (nothing decoded: that is the client's work)."""
    found = TEMPLATE.find_route(method, path)
    if found is None:
        raise LookupError(f"no route {method} {path} in template.yaml")
    route, params = found
    event = http_event(route=route, path=path, path_params=params, method=method, raw_query="",
                       headers=list((headers or {}).items()), body=body, claims=claims)  # fmt: skip
    function = TEMPLATE.functions[route.function]

    def invoke() -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics: not figures
            result: dict[str, Any] = lambda_runtime.invoke(function, event)
        return result

    return invoke


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000
