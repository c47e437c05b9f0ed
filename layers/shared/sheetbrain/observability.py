"""Logger, tracer and metrics: the one place they are made, so every module shares them.

The X-Ray SDK costs about 0.3 s of import on every cold start, so the Powertools Tracer is
built only when SDK tracing is on (``POWERTOOLS_TRACE_DISABLED`` not "true"; the stack's
``XRaySdkTracing`` parameter). Otherwise ``tracer`` is a stand-in with the same decorators
that leaves functions untouched, and Lambda's own active tracing still records invocations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

SERVICE = "sheetbrain"
F = TypeVar("F", bound=Callable[..., Any])

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="SheetBrain", service=SERVICE)


class _UntracedTracer:
    """The Tracer surface the layer uses, doing nothing (SDK tracing off)."""

    def capture_lambda_handler(self, lambda_handler: F | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda fn: fn)

    def capture_method(self, method: F | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda fn: fn)

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None


def _make_tracer() -> Any:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true":
        return _UntracedTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


tracer = _make_tracer()


def bind_request(*, request_id: str | None, org_id: str | None = None, user_id: str | None = None) -> None:
    """Append request keys to every log line of this invocation (cleared per invocation)."""
    logger.append_keys(request_id=request_id, org_id=org_id, user_id=user_id)
