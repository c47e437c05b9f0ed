"""The ``alerts`` task: monthly quota thresholds notified once per period, then delivered (as
EventBridge events, then as web push messages to the org's subscribed browsers).

The audit route records AI-token and audit crossings as it consumes them; this task catches
every organization up from its current usage (a limit lowered by a plan change, a crossing
that no request recorded) and re-sends what is undelivered. Thresholds are recorded from zero
to the current usage: those already notified this period hit the unique key and add nothing,
and so do those an admin added when the usage already reached them (that change recorded them
as passed: ``notifications.service.replace_thresholds``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.maintenance.batches import BatchClock, Scan
from sheetbrain.metering.quota import METERED, month_start
from sheetbrain.notifications import deliver_pending, record_crossings
from sheetbrain.notifications.push import deliver_push_pending
from sheetbrain.observability import metrics

PAGE = 200
DELIVERY_BATCH = 100
PUSH_BATCH = 20
# Recording may use this share of the run's budget: delivery always gets the rest.
RECORD_SHARE = 0.75


def alerts() -> dict[str, Any]:
    """Record the threshold crossings of this month's usage for every org, then deliver."""
    now = datetime.now(UTC)
    clock = BatchClock()
    checked = created = 0
    scan = Scan("alerts", origin=("", ""))
    while not clock.spent(RECORD_SHARE):
        with clock.batch(), system_transaction() as conn:
            page = scan.page(
                lambda after, until: maintenance_repo.monthly_usage_page(
                    conn, month=month_start(now), features=METERED, now=now, after=after, until=until, limit=PAGE
                )
            )
            for usage in page:
                if usage.lim is not None:
                    created += len(
                        record_crossings(
                            conn,
                            org_id=usage.org_id,
                            feature=usage.feature,
                            used_before=0,
                            used_after=usage.used,
                            limit=usage.lim,
                            now=now,
                        )
                    )
            if page:
                scan.done(conn, (page[-1].org_id, page[-1].feature))
        if not page:
            break
        checked += len(page)
    scan.finish()
    sent = failed = 0
    while not clock.spent():
        with clock.batch():
            result = deliver_pending(batch=DELIVERY_BATCH)
        sent += result["sent"]
        failed += result["failed"]
        # Stop on a short batch, or on failures: those rows are retried by the next run.
        if result["failed"] or result["sent"] < DELIVERY_BATCH:
            break
    pushed = {"sent": 0, "gone": 0, "retry": 0, "failed": 0}
    while not clock.spent():
        with clock.batch():
            result = deliver_push_pending(batch=PUSH_BATCH, deadline=clock.deadline())
        for key in pushed:
            pushed[key] += result[key]
        if result["released"] or sum(result[k] for k in pushed) < PUSH_BATCH:
            break
    metrics.add_metric(name="Alerts.NotificationsCreated", unit="Count", value=created)
    return {
        "usage_rows_checked": checked,
        "notifications_created": created,
        "delivered": sent,
        "delivery_failed": failed,
        "push": pushed,
        "incomplete": clock.spent(),
        **clock.summary(),
    }
