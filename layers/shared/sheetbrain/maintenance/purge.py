"""The ``purge`` task: organizations soft-deleted longer than ``purge_grace_days`` removed with
all their data.

Each organization's big tables are emptied in bounded batches (one short transaction each,
``app.purge`` on so the append-only tables let the deletes through), then the organization row
is deleted and the foreign keys cascade to what little is left. Every step deletes whatever is
still there, so an interrupted run is simply continued by the next one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sheetbrain.config import get_settings
from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.maintenance.batches import BatchClock
from sheetbrain.observability import logger, metrics

ORG_PAGE = 50
REPORTED_ORGS = 100


def purge() -> dict[str, Any]:
    """Delete the data of organizations soft-deleted before the grace period, in batches."""
    now = datetime.now(UTC)
    deleted_before = now - timedelta(days=get_settings().purge_grace_days)
    clock = BatchClock()
    rows: dict[str, int] = {}
    purged: list[str] = []
    seen: set[str] = set()
    while not clock.spent():
        with clock.batch(), system_transaction() as conn:
            found = maintenance_repo.purgeable_orgs(conn, deleted_before=deleted_before, limit=ORG_PAGE)
        page = [org_id for org_id in found if org_id not in seen]
        if not page:
            break
        for org_id in page:
            seen.add(org_id)
            if _purge_org(org_id, clock, rows):
                purged.append(org_id)
            if clock.spent():
                break
    metrics.add_metric(name="Purge.Organizations", unit="Count", value=len(purged))
    metrics.add_metric(name="Purge.Rows", unit="Count", value=sum(rows.values()))
    return {
        "grace_days": get_settings().purge_grace_days,
        "orgs_purged": len(purged),
        "purged": purged[:REPORTED_ORGS],
        "rows_deleted": rows,
        "incomplete": clock.spent(),
        **clock.summary(),
    }


def _purge_org(org_id: str, clock: BatchClock, rows: dict[str, int]) -> bool:
    """Empty one organization's tables, then delete it; False when the time budget ran out
    first (the next run continues)."""
    for table, batch in maintenance_repo.PURGE_TABLES:
        while True:
            if clock.spent():
                return False
            with clock.batch(), system_transaction() as conn:
                n = maintenance_repo.delete_org_rows(conn, table=table, org_id=org_id, batch=batch)
            if n:
                rows[table] = rows.get(table, 0) + n
            if n < batch:
                break
    with clock.batch(), system_transaction() as conn:
        gone = maintenance_repo.delete_org(conn, org_id)
    if gone:
        logger.info("organization purged", org_id=org_id)
    return gone
