"""The ``cleanup`` task: expire what has outlived its purpose, retry what failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from sheetbrain.config import get_settings
from sheetbrain.db import inbox_repo, metering_repo, system_transaction
from sheetbrain.maintenance.batches import BatchClock
from sheetbrain.observability import metrics
from sheetbrain.webhooks.inbox import redacted_error, retry_due
from sheetbrain.webhooks.providers import APPLIERS

# Longer than Stripe's 3-day retry window, so a redelivery still finds its row.
INBOX_RETENTION_DAYS = 7
BATCH = 5_000


def _in_batches(clock: BatchClock, delete_batch: Callable[[psycopg.Connection], int]) -> int:
    """Repeat a bounded delete, one short transaction per batch, until a batch comes up short
    (or the run's time budget is spent)."""
    total = 0
    while True:
        with clock.batch(), system_transaction() as conn:
            n = delete_batch(conn)
        total += n
        if n < BATCH or clock.spent():
            return total


def _redact_failed_payloads(conn: psycopg.Connection) -> int:
    """One batch of failed deliveries past retention: payloads dropped, errors redacted. Their
    retries ended long before (the backoff spans about two hours), so nothing waits on them."""
    found = inbox_repo.failed_payloads_before(conn, older_than_days=INBOX_RETENTION_DAYS, batch=BATCH)
    return inbox_repo.redact(conn, [(row_id, redacted_error(error)) for row_id, error in found])


def expire_ingestions(now: datetime, clock: BatchClock) -> dict[str, int]:
    """Uploads that never arrived fail (``upload_expired``, with an ingestion-log row each), and
    jobs whose inline attempt died without queueing them are sent to the worker (issue 16)."""
    from sheetbrain.db import ingestion_repo, policies_repo
    from sheetbrain.policies import work_queue

    after_s = get_settings().upload_abandon_after_s
    expired = 0
    while True:
        with clock.batch(), system_transaction() as conn:
            gone = ingestion_repo.expire_uploads(conn, now=now, after_s=after_s, batch=BATCH)
            for upload in gone:
                policies_repo.log_ingestion(
                    conn, org_id=upload.org_id, user_id=upload.created_by, policy_id=upload.policy_id,
                    filename=upload.filename, content_type=upload.content_type, size_bytes=0, chunks=0, vectors=0,
                    duration_ms=0, success=False, error_code="upload_expired",
                    error_message="The upload did not arrive before its URL expired.",
                )  # fmt: skip
        expired += len(gone)
        if len(gone) < BATCH or clock.spent():
            break
    with clock.batch(), system_transaction() as conn:
        stalled = ingestion_repo.stalled_jobs(conn, batch=BATCH)
        for job_id in stalled:
            work_queue.send_job(conn, job_id)
    metrics.add_metric(name="Cleanup.UploadsExpired", unit="Count", value=expired)
    return {"uploads_expired": expired, "ingestion_jobs_requeued": len(stalled)}


def cleanup() -> dict[str, Any]:
    """Expired rate-limit buckets and processed webhook rows past retention deleted in
    batches; failed webhook rows past retention redacted (payload dropped, error reduced to
    its code); failed webhook deliveries whose backoff elapsed retried."""
    now = datetime.now(UTC)
    clock = BatchClock()
    buckets = _in_batches(clock, lambda conn: metering_repo.delete_expired_buckets(conn, now=now, batch=BATCH))
    inbox = _in_batches(
        clock, lambda conn: inbox_repo.delete_processed_before(conn, older_than_days=INBOX_RETENTION_DAYS, batch=BATCH)
    )
    redacted = _in_batches(clock, _redact_failed_payloads)
    retried = retry_due(APPLIERS)
    ingestion = expire_ingestions(now, clock)
    metrics.add_metric(name="Cleanup.RateLimitBucketsDeleted", unit="Count", value=buckets)
    metrics.add_metric(name="Cleanup.WebhookInboxDeleted", unit="Count", value=inbox)
    metrics.add_metric(name="Cleanup.WebhookPayloadsRedacted", unit="Count", value=redacted)
    metrics.add_metric(name="Cleanup.LongestBatchMs", unit="Milliseconds", value=clock.longest_ms)
    return {
        "rate_limit_buckets_deleted": buckets,
        "webhook_inbox_deleted": inbox,
        "webhook_payloads_redacted": redacted,
        "webhook_retries": retried,
        **ingestion,
        **clock.summary(),
    }
