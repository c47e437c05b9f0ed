"""The ``rollup`` task: usage aggregates of closed periods recomputed from the raw events.

``usage_consume`` keeps ``usage_daily``/``usage_monthly`` current as events are written; this
task re-derives the closed ones (days before today, months before this month, within the
look-back window of ``rollup_lookback_days``) from ``usage_events``, sets those that differ and
reports each difference. Open periods are left alone: requests are still writing them.
Recomputing is idempotent, so a second run finds nothing to correct.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sheetbrain.config import get_settings
from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.errors import SheetBrainError
from sheetbrain.maintenance.batches import BatchClock, Scan
from sheetbrain.observability import logger, metrics

ORG_PAGE = 200
REPORTED_CORRECTIONS = 100


def rollup() -> dict[str, Any]:
    """Compare closed periods' aggregates with the raw events, one org per transaction; correct
    and report the differences."""
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=get_settings().rollup_lookback_days)
    first_month, this_month = first_day.replace(day=1), today.replace(day=1)
    clock = BatchClock()
    orgs = daily = monthly = 0
    corrections: list[dict[str, Any]] = []
    failed: list[str] = []
    scan = Scan("rollup", origin="")
    while not clock.spent():
        with clock.batch(), system_transaction() as conn:
            page = scan.page(
                lambda after, until: maintenance_repo.rollup_orgs(
                    conn, since_month=first_month, after_org=after, until_org=until, limit=ORG_PAGE
                )
            )
        if not page:
            break
        for org_id in page:
            try:
                with clock.batch(), system_transaction() as conn:
                    by_day = maintenance_repo.correct_daily(conn, org_id=org_id, start=first_day, end=today)
                    by_month = maintenance_repo.correct_monthly(conn, org_id=org_id, start=first_month, end=this_month)
                    scan.done(conn, org_id)
            except SheetBrainError:
                # One org's failure does not stop the pass (the next one retries it); a database
                # that is down fails the cursor's own write below and ends the run.
                logger.exception("usage aggregates of an org not checked", org_id=org_id)
                failed.append(org_id)
                with system_transaction() as conn:
                    scan.done(conn, org_id)
                continue
            orgs += 1
            daily += len(by_day)
            monthly += len(by_month)
            for granularity, found in (("day", by_day), ("month", by_month)):
                for c in found:
                    report: dict[str, Any] = {
                        "org_id": org_id,
                        "metric": c.metric,
                        "granularity": granularity,
                        "period": c.period.isoformat(),
                        "stored": c.stored,
                        "actual": c.actual,
                    }
                    logger.warning("usage aggregate corrected", **report)
                    corrections.append(report)
            if clock.spent():
                break
    scan.finish()
    metrics.add_metric(name="Rollup.Corrections", unit="Count", value=daily + monthly)
    return {
        "orgs": orgs,
        "days": [first_day.isoformat(), (today - timedelta(days=1)).isoformat()],
        "months": [first_month.isoformat(), this_month.isoformat()],
        "daily_corrected": daily,
        "monthly_corrected": monthly,
        "corrections": corrections[:REPORTED_CORRECTIONS],
        "failed": failed[:REPORTED_CORRECTIONS],
        "incomplete": clock.spent(),
        **clock.summary(),
    }
