"""CloudFormation custom resources: run a piece of deploy-time work and always answer.

CloudFormation sends a custom resource's function an event (``RequestType`` Create, Update or
Delete, a pre-signed S3 ``ResponseURL``...) and then waits for a PUT to that URL, up to an hour,
whatever happened to the function. A function that timed out or raised without answering
leaves the stack waiting that hour and then failed. So ``handle`` answers on every path:

- the work is run in a thread and waited for until ``margin_s`` before the function's own time
  runs out; past that, FAILED is sent ("did not finish in time") while the function can still
  send it;
- an exception of the work is FAILED, its reason the error's type and first line (bounded: the
  reason is shown to anyone who can read the stack's events), the rest in the log;
- Delete does nothing and answers SUCCESS (the work is forward-only);
- an event missing what an answer needs (no ResponseURL) is logged and raised: there is no one
  to answer.

The answer is the cfn-response document (Status, Reason, PhysicalResourceId, StackId, RequestId,
LogicalResourceId, Data), PUT with an empty Content-Type (the pre-signed URL signs none).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sheetbrain.observability import logger

SUCCESS: Literal["SUCCESS"] = "SUCCESS"
FAILED: Literal["FAILED"] = "FAILED"
# CloudFormation refuses an answer over 4 KiB; the reason is shown in the console.
_MAX_REASON_CHARS = 1000
_SEND_ATTEMPTS = 3
_SEND_TIMEOUT_S = 10.0


class LambdaContextLike(Protocol):
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Outcome:
    """What the work reports back: a short summary for the reason, and values for ``Data``
    (readable with ``!GetAtt Resource.Key``)."""

    summary: str
    data: dict[str, str] = field(default_factory=dict)


class WorkTimedOutError(Exception):
    """The work was still running when the function had to answer."""


class MissingResponseUrlError(ValueError):
    """The event carries no ResponseURL: nothing can be answered."""


def _reason(exc: BaseException) -> str:
    first_line = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:_MAX_REASON_CHARS]


def send_response(
    event: Mapping[str, Any],
    status: Literal["SUCCESS", "FAILED"],
    reason: str,
    physical_id: str,
    data: Mapping[str, str] | None = None,
) -> None:
    """PUT the answer to the event's pre-signed URL, retrying twice; a failure to deliver it is
    logged and raised (the stack then waits for CloudFormation's own timeout)."""
    url = event.get("ResponseURL")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise MissingResponseUrlError("The event has no ResponseURL to answer to.")
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:_MAX_REASON_CHARS],
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId", ""),
            "RequestId": event.get("RequestId", ""),
            "LogicalResourceId": event.get("LogicalResourceId", ""),
            "NoEcho": False,
            "Data": dict(data or {}),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, _SEND_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=_SEND_TIMEOUT_S) as reply:  # noqa: S310
                reply.read()
            logger.info("custom resource answered", status=status, attempt=attempt)
            return
        except (urllib.error.URLError, OSError) as exc:
            logger.warning("custom resource answer not delivered", attempt=attempt, error=type(exc).__name__)
            if attempt == _SEND_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)


def _run_with_deadline(work: Callable[[], Outcome], seconds: float) -> Outcome:
    """``work()`` in a daemon thread, waited for at most ``seconds``. A thread left running is
    ended with the function (a migration's open transaction is rolled back by the server)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["outcome"] = work()
        except BaseException as exc:  # handed to the caller, which answers FAILED
            result["error"] = exc

    thread = threading.Thread(target=target, name="custom-resource-work", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        raise WorkTimedOutError(f"The work did not finish within {seconds:.1f} s, before the function's timeout.")
    if "error" in result:
        raise result["error"]
    outcome: Outcome = result["outcome"]
    return outcome


def handle(
    event: Mapping[str, Any],
    context: LambdaContextLike,
    work: Callable[[], Outcome],
    *,
    physical_id: str,
    margin_s: float = 5.0,
) -> None:
    """Run ``work`` for Create and Update, nothing for Delete, and answer CloudFormation on every
    path. ``physical_id`` names the resource on Create; Update and Delete keep the id
    CloudFormation sends (a new one would make it delete the old)."""
    if not isinstance(event.get("ResponseURL"), str):
        logger.error("custom resource event without ResponseURL", keys=sorted(event))
        raise MissingResponseUrlError("The event has no ResponseURL to answer to.")
    request_type = event.get("RequestType")
    resource_id = str(event.get("PhysicalResourceId") or physical_id)
    if request_type == "Delete":
        send_response(event, SUCCESS, "Nothing to undo: the work is forward-only.", resource_id)
        return
    if request_type not in ("Create", "Update"):
        send_response(event, FAILED, f"Unknown RequestType {str(request_type)[:40]!r}.", resource_id)
        return
    seconds = context.get_remaining_time_in_millis() / 1000 - margin_s
    try:
        outcome = _run_with_deadline(work, seconds)
    except Exception as exc:  # every failure is answered; the log keeps the whole story
        logger.exception("custom resource work failed", request_type=request_type)
        reason = f"{_reason(exc)} (log stream {context.log_stream_name})"
        send_response(event, FAILED, reason, resource_id)
        return
    send_response(event, SUCCESS, outcome.summary, resource_id, outcome.data)
