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
from sheetbrain_dev import server
from sheetbrain_dev.database import DatabaseUrls, ensure_database
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
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and JSON logs: not figures
        status, _, reply = server.call(
            TEMPLATE, method, path, headers=list((headers or {}).items()), body=body, claims=claims
        )
    return status, json.loads(reply) if reply else None


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000
