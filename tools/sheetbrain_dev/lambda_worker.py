"""One local Lambda execution environment: ``python -m sheetbrain_dev.lambda_worker TEMPLATE FUNCTION``.

The process imports the function's handler once (its cold start), then serves one event at a
time, read as a JSON line on stdin, answering each with a JSON line on a private copy of the
original stdout. Everything the handler prints or logs goes to stderr, as Lambda's runtime
sends it to CloudWatch rather than into the response. Module-level state (Powertools'
logger keys and metrics, the resolver's current event, the connection pool) belongs to this
process alone, as it belongs to one Lambda instance.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO


def _json_default(value: Any) -> Any:
    # Lambda's Python runtime serialises Decimal results; anything else unknown is a marshal error.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _reply(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _error_line(exc: BaseException) -> str:
    return json.dumps({"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}})


def serve(template_path: Path, logical_id: str, requests: TextIO, replies: TextIO) -> None:
    """Import the handler, then answer each event line with a ``result`` or ``error`` line."""
    from sheetbrain_dev.lambda_runtime import LocalContext, load_handler
    from sheetbrain_dev.template import load_template

    function = load_template(template_path).functions[logical_id]
    try:
        handler = load_handler(function)
    except Exception as exc:  # an init error: Lambda reports it on the first invocation
        traceback.print_exc()
        for _ in requests:
            _reply(replies, _error_line(exc))
        return
    for line in requests:
        event = json.loads(line)
        context = LocalContext(function_name=logical_id, timeout_s=function.timeout_s)
        try:
            # A result that is not JSON fails here, as Lambda's runtime fails to marshal it.
            line = json.dumps({"result": handler(event, context)}, default=_json_default)
        except Exception as exc:
            traceback.print_exc()
            line = _error_line(exc)
        finally:
            sys.stdout.flush()
        _reply(replies, line)


def main(argv: list[str]) -> int:
    template_path, logical_id = Path(argv[0]), argv[1]
    # Keep the original stdout for replies; from here on fd 1 (print, Powertools' logger, EMF
    # metrics) writes to stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a handler reading stdin must not swallow the next event
    serve(template_path, logical_id, requests, replies)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
