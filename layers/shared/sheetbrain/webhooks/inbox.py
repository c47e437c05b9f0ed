"""Receive a verified provider event exactly once.

Applying an event and recording it as done commit in one transaction: a crash before the
commit leaves nothing (the provider retries), after it leaves both. The transaction opens by
claiming the delivery in the inbox, sent with its BEGIN: a redelivery of an applied event
finds it there and ends with a ROLLBACK, without running its work, and a new event costs one
round trip more per statement of its work, then the commit. A transient fault (database unavailable)
propagates as a 5xx so the provider retries; a permanent fault (a payload we cannot apply) is
recorded as failed with its error, answered 200, and retried with backoff by the cleanup task.
"""

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import psycopg

from sheetbrain.db import inbox_repo, system_transaction, system_transaction_opening
from sheetbrain.errors import DependencyUnavailableError, NeedsReviewError, SheetBrainError, ValidationError
from sheetbrain.observability import logger, metrics

Outcome = Literal["processed", "ignored", "duplicate", "failed"]
# An applier returns False when it does not handle the event type (recorded as ignored).
Applier = Callable[[psycopg.Connection, Mapping[str, Any]], bool]
MAX_ATTEMPTS = 8
NOT_JSON = "body is not a JSON object"
UNUSABLE = "unusable payload"
REDACTED = "details redacted"
# What every failure text of this module starts with: an error code (snake_case) or our label
# for a payload of the wrong shape, then ": " and a message that may quote the payload.
_ERROR_LABEL = re.compile(rf"([a-z][a-z0-9_]{{0,63}}|{UNUSABLE}):")


class Receipt(NamedTuple):
    provider: str
    event_id: str
    outcome: Outcome


class _AlreadyApplied(Exception):
    """Raised inside a duplicate's transaction to end it (it has written nothing)."""


def receive(*, provider: str, event_id: str, event: dict[str, Any] | None, raw_body: str, apply: Applier) -> Receipt:
    """Apply and record one event; see the module docstring."""
    event_type = str((event or {}).get("type", ""))
    if event is None:
        _record_failure(provider, event_id, event_type, None, raw_body, NOT_JSON, retry=False)
        outcome: Outcome = "failed"
    else:
        outcome = _process(provider, event_id, event, apply)
    logger.info("webhook received", provider=provider, event_id=event_id, event_type=event_type, outcome=outcome)
    metrics.add_metric(name=f"Webhook.{outcome}", unit="Count", value=1)
    return Receipt(provider=provider, event_id=event_id, outcome=outcome)


def _process(provider: str, event_id: str, event: dict[str, Any], apply: Applier) -> Outcome:
    event_type = str(event.get("type", ""))
    try:
        claim = inbox_repo.claim(provider=provider, event_id=event_id, event_type=event_type, payload=event)
        with system_transaction_opening(claim) as (conn, claimed):
            if claimed is None:
                raise _AlreadyApplied
            status: Outcome = "processed"
            if not apply(conn, event):
                inbox_repo.mark_ignored(conn, claimed[0])
                status = "ignored"
    except _AlreadyApplied:
        return "duplicate"
    except DependencyUnavailableError:
        raise
    except SheetBrainError as exc:
        logger.warning("webhook event failed", provider=provider, event_id=event_id, error=exc.message)
        retry = not isinstance(exc, NeedsReviewError)
        _record_failure(provider, event_id, event_type, event, None, f"{exc.code}: {exc.message}", retry=retry)
        return "failed"
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        # A signed payload with values of the wrong shape (a number out of range...): retrying
        # the same bytes cannot help, and a 5xx would make the provider resend it for days.
        logger.warning("webhook payload unusable", provider=provider, event_id=event_id, error=repr(exc))
        _record_failure(provider, event_id, event_type, event, None, f"{UNUSABLE}: {exc!r}", retry=False)
        return "failed"
    return status


def _record_failure(
    provider: str,
    event_id: str,
    event_type: str,
    event: dict[str, Any] | None,
    raw_body: str | None,
    error: str,
    *,
    retry: bool,
    escaped: bool = False,
) -> None:
    try:
        with system_transaction() as conn:
            inbox_repo.record_failure(
                conn,
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                payload=event,
                raw_body=raw_body,
                error=error,
                retry=retry,
                max_attempts=MAX_ATTEMPTS,
            )
    except ValidationError:
        if escaped:
            raise
        # The database refuses the payload itself (a NUL character, an unpaired surrogate): keep
        # an ASCII-escaped JSON copy for inspection. Retrying the same bytes cannot help. The id
        # and type come from the payload too (a Stripe event's id, any event's type), so they are
        # escaped alike, and so is the error (an applier's message may quote the payload): a
        # delivery is kept, never refused for a character we cannot store.
        kept = json.dumps(raw_body if raw_body is not None else event)
        _record_failure(provider, _escaped(event_id), _escaped(event_type), None, kept,
                        f"{_escaped(error)} (payload not storable as sent)", retry=False, escaped=True)  # fmt: skip


def _escaped(text: str) -> str:
    """``text`` with every character outside printable ASCII written as a JSON escape."""
    return json.dumps(text)[1:-1]


def redacted_error(error: str | None) -> str | None:
    """A failure's text without anything the payload may have put in it: the error code or
    label it starts with (``invalid_webhook_payload``, ``unusable payload``) and a note that
    the rest is gone; a fixed text of ours stays whole; anything else is only the note."""
    if error is None or error == NOT_JSON:
        return error
    label = _ERROR_LABEL.match(error)
    return f"{label.group(1)} ({REDACTED})" if label else f"({REDACTED})"


def retry_due(appliers: Mapping[str, Applier], *, batch: int = 100) -> dict[str, int]:
    """Re-apply failed deliveries whose backoff has elapsed, one transaction each."""
    with system_transaction() as conn:
        due = inbox_repo.due_failures(conn, batch=batch)
    counts = {"retried": 0, "processed": 0, "failed": 0}
    for provider, event_id, payload in due:
        applier = appliers.get(provider)
        if applier is None:
            continue
        counts["retried"] += 1
        outcome = _process(provider, event_id, payload, applier)
        counts["failed" if outcome == "failed" else "processed"] += 1
    return counts
