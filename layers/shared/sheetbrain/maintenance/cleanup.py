"""The ``cleanup`` task: expire what has outlived its purpose, retry what failed."""

from __future__ import annotations

from typing import Any

from sheetbrain.db import inbox_repo, system_transaction
from sheetbrain.maintenance.tasks import task
from sheetbrain.tenancy.clerk_sync import apply_clerk_event
from sheetbrain.webhooks.inbox import retry_due

# Longer than Stripe's 3-day retry window, so a redelivery still finds its row.
INBOX_RETENTION_DAYS = 7
BATCH = 5_000


@task("cleanup")
def cleanup() -> dict[str, Any]:
    """Processed webhook rows past retention deleted in batches; due failed rows retried."""
    deleted = 0
    while True:
        with system_transaction() as conn:
            n = inbox_repo.delete_processed_before(conn, older_than_days=INBOX_RETENTION_DAYS, batch=BATCH)
        deleted += n
        if n < BATCH:
            break
    retried = retry_due({"clerk": apply_clerk_event})
    return {"webhook_inbox_deleted": deleted, "webhook_retries": retried}
