"""The webhook inbox's own rules, with appliers written here: exactly once, what a failure
stores, which faults are retried, and the retry task's counts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
import pytest
from sheetbrain.errors import DependencyUnavailableError, ValidationError
from sheetbrain.webhooks.inbox import NeedsReviewError, receive, retry_due
from sheetbrain_dev.database import DatabaseUrls

EVENT_TYPE = "user.updated"


def new_event_id() -> str:
    return f"evt_inbox_{uuid.uuid4().hex[:12]}"


def inbox_row(owner: str, event_id: str) -> dict[str, Any] | None:
    """The stored row of a delivery: status, attempts, event type, error, retry delay in minutes."""
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT status, attempts, event_type, last_error, payload, raw_body,"
            " round(extract(epoch FROM next_attempt_at - now()) / 60) FROM webhook_inbox"
            " WHERE provider = 'clerk' AND event_id = %s",
            (event_id,),
        ).fetchone()
    if row is None:
        return None
    keys = ("status", "attempts", "event_type", "last_error", "payload", "raw_body", "retry_in_min")
    return dict(zip(keys, row, strict=True))


def make_due(owner: str, event_id: str) -> None:
    with psycopg.connect(owner) as conn:
        conn.execute(
            "UPDATE webhook_inbox SET next_attempt_at = now() - interval '1 second' "
            "WHERE provider = 'clerk' AND event_id = %s AND next_attempt_at IS NOT NULL",
            (event_id,),
        )


def park_other_due_failures(owner: str) -> None:
    """Earlier tests may leave failed deliveries due: postpone them, so the counts are this test's."""
    with psycopg.connect(owner) as conn:
        conn.execute(
            "UPDATE webhook_inbox SET next_attempt_at = now() + interval '1 day'"
            " WHERE status = 'failed' AND next_attempt_at <= now()"
        )


class Recorder:
    """An applier that records each call and does what it is told."""

    def __init__(self, *, handles: bool = True, raises: Exception | None = None) -> None:
        self.calls = 0
        self.handles = handles
        self.raises = raises

    def __call__(self, conn: psycopg.Connection, event: Mapping[str, Any]) -> bool:
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        conn.execute("SELECT 1")
        return self.handles


def test_a_transient_database_fault_propagates_and_leaves_no_row_so_the_redelivery_applies(
    database: DatabaseUrls,
) -> None:
    # Given an applier that meets an unavailable database
    event_id = new_event_id()
    event = {"type": EVENT_TYPE, "data": {"id": "user_t"}}
    down = Recorder(raises=DependencyUnavailableError("The database is unavailable; try again shortly."))

    # When the delivery is received
    # Then the fault reaches the caller (a 5xx, so the provider resends) and nothing is recorded
    with pytest.raises(DependencyUnavailableError):
        receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=down)
    assert inbox_row(database.owner, event_id) is None

    # And the provider's redelivery is applied as a new event
    up = Recorder()
    receipt = receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=up)
    assert receipt.outcome == "processed"
    assert up.calls == 1
    row = inbox_row(database.owner, event_id)
    assert row is not None
    assert (row["status"], row["attempts"], row["event_type"], row["last_error"], row["payload"]) == (
        "processed",
        1,
        EVENT_TYPE,
        None,
        event,
    )


def test_a_failed_delivery_stores_its_type_error_and_payload_and_waits_one_minute(database: DatabaseUrls) -> None:
    # Given an applier that refuses the event
    event_id = new_event_id()
    event = {"type": EVENT_TYPE, "data": {"id": "user_f"}}

    # When it is received
    receipt = receive(
        provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=Recorder(raises=ValidationError("no"))
    )

    # Then it is acknowledged as failed with every field stored
    assert receipt == ("clerk", event_id, "failed")
    assert inbox_row(database.owner, event_id) == {
        "status": "failed",
        "attempts": 1,
        "event_type": EVENT_TYPE,
        "last_error": "validation_error: no",
        "payload": event,
        "raw_body": None,
        "retry_in_min": 1,
    }


def test_an_event_for_review_and_an_unusable_payload_are_never_retried(database: DatabaseUrls) -> None:
    # Given one event that needs a person's review and one whose values have the wrong shape
    review_id, unusable_id = new_event_id(), new_event_id()
    event = {"type": EVENT_TYPE, "data": {}}

    # When each is received
    outcomes = [
        receive(provider="clerk", event_id=review_id, event=event, raw_body="{}",
                apply=Recorder(raises=NeedsReviewError("names another org"))).outcome,
        receive(provider="clerk", event_id=unusable_id, event=event, raw_body="{}",
                apply=Recorder(raises=KeyError("id"))).outcome,
    ]  # fmt: skip

    # Then both are kept failed with their error and no retry time
    assert outcomes == ["failed", "failed"]
    review, unusable = inbox_row(database.owner, review_id), inbox_row(database.owner, unusable_id)
    assert review is not None
    assert unusable is not None
    assert (review["last_error"], review["retry_in_min"]) == ("validation_error: names another org", None)
    assert (unusable["last_error"], unusable["retry_in_min"]) == ("unusable payload: KeyError('id')", None)
    assert (review["payload"], unusable["payload"]) == (event, event)


def test_an_unhandled_type_is_ignored_and_a_redelivery_of_an_applied_event_runs_nothing(
    database: DatabaseUrls,
) -> None:
    # Given an event no applier handles, and an event that was applied
    ignored_id, applied_id = new_event_id(), new_event_id()
    event = {"type": "session.created", "data": {}}
    first = Recorder()
    receive(provider="clerk", event_id=applied_id, event=event, raw_body="{}", apply=first)

    # When the first is received, and the second is delivered again
    ignored = receive(provider="clerk", event_id=ignored_id, event=event, raw_body="{}", apply=Recorder(handles=False))
    again = Recorder()
    duplicate = receive(provider="clerk", event_id=applied_id, event=event, raw_body="{}", apply=again)

    # Then the first is recorded as ignored, and the redelivery is a duplicate that ran no work
    assert ignored.outcome == "ignored"
    assert duplicate.outcome == "duplicate"
    assert (first.calls, again.calls) == (1, 0)
    row = inbox_row(database.owner, ignored_id)
    assert row is not None
    assert (row["status"], row["attempts"], row["event_type"]) == ("ignored", 1, "session.created")
    applied = inbox_row(database.owner, applied_id)
    assert applied is not None
    assert (applied["status"], applied["attempts"]) == ("processed", 1)


def test_a_retry_that_succeeds_is_processed_and_counted(database: DatabaseUrls) -> None:
    # Given a delivery that failed once, now due
    event_id = new_event_id()
    event = {"type": EVENT_TYPE, "data": {"id": "user_r"}}
    refuse = Recorder(raises=ValidationError("x"))
    park_other_due_failures(database.owner)
    receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=refuse)
    make_due(database.owner, event_id)

    # When the retry task runs with an applier that now succeeds (and none for another provider)
    applier = Recorder()
    counts = retry_due({"clerk": applier})

    # Then it is applied once, counted as processed, and stored as done with its error cleared
    assert applier.calls == 1
    assert counts == {"retried": 1, "processed": 1, "failed": 0}
    assert inbox_row(database.owner, event_id) == {
        "status": "processed",
        "attempts": 2,
        "event_type": EVENT_TYPE,
        "last_error": None,
        "payload": event,
        "raw_body": None,
        "retry_in_min": None,
    }
    # And a second run finds nothing due
    assert retry_due({"clerk": applier}) == {"retried": 0, "processed": 0, "failed": 0}


def test_a_due_retry_of_a_provider_without_an_applier_is_skipped_and_not_counted(database: DatabaseUrls) -> None:
    # Given a failed Clerk delivery that is due
    event_id = new_event_id()
    event = {"type": EVENT_TYPE, "data": {}}
    refuse = Recorder(raises=ValidationError("x"))
    park_other_due_failures(database.owner)
    receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=refuse)
    make_due(database.owner, event_id)

    # When the retry task knows only Stripe's applier
    counts = retry_due({"stripe": Recorder()})

    # Then nothing is retried and the row is as it was
    assert counts == {"retried": 0, "processed": 0, "failed": 0}
    row = inbox_row(database.owner, event_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("failed", 1)


def test_a_body_that_is_not_json_is_kept_raw_and_not_retried(database: DatabaseUrls) -> None:
    # Given a verified body that is not a JSON object
    event_id = new_event_id()

    # When it is received
    receipt = receive(provider="clerk", event_id=event_id, event=None, raw_body="[1, 2]", apply=Recorder())

    # Then it is failed with the fixed text, its bytes kept, and no retry
    assert receipt.outcome == "failed"
    assert inbox_row(database.owner, event_id) == {
        "status": "failed",
        "attempts": 1,
        "event_type": "",
        "last_error": "body is not a JSON object",
        "payload": None,
        "raw_body": "[1, 2]",
        "retry_in_min": None,
    }


def test_the_retry_task_takes_at_most_its_batch_and_100_by_default(database: DatabaseUrls) -> None:
    # Given 103 failed Clerk deliveries, all due
    park_other_due_failures(database.owner)
    prefix = new_event_id()
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO webhook_inbox (provider, event_id, event_type, payload, status, attempts, last_error,"
            " next_attempt_at) SELECT 'clerk', %s || i, 'user.updated', '{\"type\": \"user.updated\"}',"
            " 'failed', 1, 'validation_error: x', now() - interval '1 minute' FROM generate_series(1, 103) i",
            (prefix,),
        )
    applier = Recorder()

    # When the task runs with a batch of 2, then with its default, then again
    runs = [retry_due({"clerk": applier}, batch=2), retry_due({"clerk": applier}), retry_due({"clerk": applier})]

    # Then 2, then 100, then the last 1 are applied
    assert runs == [
        {"retried": 2, "processed": 2, "failed": 0},
        {"retried": 100, "processed": 100, "failed": 0},
        {"retried": 1, "processed": 1, "failed": 0},
    ]
    assert applier.calls == 103


def test_a_retry_that_fails_again_is_counted_failed_and_one_without_an_applier_does_not_stop_the_others(
    database: DatabaseUrls,
) -> None:
    # Given a due Stripe delivery (no applier will be given) due before a due Clerk delivery
    park_other_due_failures(database.owner)
    stripe_id, clerk_id = new_event_id(), new_event_id()
    event = {"type": EVENT_TYPE, "data": {}}
    refuse = Recorder(raises=ValidationError("still no"))
    receive(provider="stripe", event_id=stripe_id, event=event, raw_body="{}", apply=refuse)
    receive(provider="clerk", event_id=clerk_id, event=event, raw_body="{}", apply=refuse)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "UPDATE webhook_inbox SET next_attempt_at = now() - interval '2 minutes' WHERE event_id = %s", (stripe_id,)
        )
    make_due(database.owner, clerk_id)

    # When the retry task runs with only Clerk's applier, which fails again
    counts = retry_due({"clerk": refuse})

    # Then the Clerk delivery was retried and counted failed, with its second attempt 2 minutes off
    assert counts == {"retried": 1, "processed": 0, "failed": 1}
    row = inbox_row(database.owner, clerk_id)
    assert row is not None
    assert (row["status"], row["attempts"], row["last_error"], row["retry_in_min"]) == (
        "failed",
        2,
        "validation_error: still no",
        2,
    )


@pytest.mark.parametrize(
    ("event_id", "event_type", "kept_id", "kept_type"),
    [
        ("evt_nul_type_{}", "user.\x00created", "evt_nul_type_{}", "user.\\u0000created"),
        ("evt_nul_\x00id_{}", "user.created", "evt_nul_\\u0000id_{}", "user.created"),
    ],
)
def test_an_id_or_type_the_database_cannot_store_is_kept_escaped_not_refused(
    database: DatabaseUrls, event_id: str, event_type: str, kept_id: str, kept_type: str
) -> None:
    # Given a verified event whose type (or, for Stripe, its own id) holds a NUL character
    unique = uuid.uuid4().hex[:8]
    event = {"type": event_type, "data": {}}

    # When it is received
    receipt = receive(provider="clerk", event_id=event_id.format(unique), event=event, raw_body="{}", apply=Recorder())

    # Then it is answered as failed, and kept with the id and type escaped, never retried
    assert receipt.outcome == "failed"
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT status, event_type, payload, raw_body, next_attempt_at, last_error FROM webhook_inbox"
            " WHERE provider = 'clerk' AND event_id = %s",
            (kept_id.format(unique),),
        ).fetchone()
    assert row == (
        "failed",
        kept_type,
        None,
        '{"type": "user.' + ("\\u0000created" if "\x00" in event_type else "created") + '", "data": {}}',
        None,
        "validation_error: A text value holds a character that cannot be stored (NUL or an unpaired surrogate)."
        " (payload not storable as sent)",
    )


def test_an_event_without_a_type_is_stored_with_an_empty_type_and_counted_in_the_metrics(
    database: DatabaseUrls,
) -> None:
    # Given an event with no type, which no applier handles, and the metrics emptied
    from sheetbrain.observability import metrics

    event_id = new_event_id()
    metrics.clear_metrics()

    # When it is received
    receipt = receive(
        provider="clerk", event_id=event_id, event={"data": {}}, raw_body="{}", apply=Recorder(handles=False)
    )

    # Then it is ignored, stored with an empty type, and counted once as Webhook.ignored
    assert receipt.outcome == "ignored"
    row = inbox_row(database.owner, event_id)
    assert row is not None
    assert (row["status"], row["event_type"], row["payload"]) == ("ignored", "", {"data": {}})
    recorded = metrics.metric_set["Webhook.ignored"]
    assert (recorded["Unit"], recorded["Value"]) == ("Count", [1.0])
    metrics.clear_metrics()


def test_an_error_text_quoting_an_unstorable_character_is_kept_escaped(database: DatabaseUrls) -> None:
    # Given an applier whose refusal quotes a value holding a NUL (from a payload of its own)
    event_id = new_event_id()
    event = {"type": EVENT_TYPE, "data": {"name": "Ada"}}
    refuse = Recorder(raises=ValidationError("bad name A\u0000da"))

    # When the event is received
    receipt = receive(provider="clerk", event_id=event_id, event=event, raw_body="{}", apply=refuse)

    # Then it is failed and kept, its error escaped, never retried
    assert receipt.outcome == "failed"
    row = inbox_row(database.owner, event_id)
    assert row is not None
    assert (row["status"], row["last_error"], row["retry_in_min"]) == (
        "failed",
        "validation_error: bad name A\\u0000da (payload not storable as sent)",
        None,
    )
