"""The ``retention`` task: audit-log rows past the plan's ``audit_retention_days`` archived to S3,
verified, then deleted, with the chain's anchor moved to the archive boundary.

One object per organization and UTC day, ``audit-log/{org}/{YYYY-MM-DD}.jsonl.gz``: every
column of each row, one JSON object per line, in chain order. The order of the steps is what
makes a crash harmless:

1. read the day's rows (the oldest remaining ones, in chain order: a prefix of the chain);
2. write the object and read it back: row count, last sequence number and last hash must
   match, or nothing is deleted;
3. delete the rows in batches of bounded size, each batch moving ``audit_log_heads``'s
   ``anchor_seq``/``anchor_hash`` to its last row in the same transaction.

A crash after 2 leaves rows that are already archived: the rerun finds the same rows, finds an
identical object (rows already deleted by an interrupted step 3 stay in it) and goes on with
the deletes. A chain verifier starts from the anchor: the first remaining row's ``prev_hash``
is ``anchor_hash``, and the archive's last line of the previous day ends with that hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sheetbrain.config import get_settings
from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.errors import ConfigurationError
from sheetbrain.maintenance import archive
from sheetbrain.maintenance.batches import BatchClock
from sheetbrain.observability import logger, metrics

ORG_PAGE = 100
READ_PAGE = 2_000
DELETE_BATCH = 5_000
REPORTED_OBJECTS = 100


def retention() -> dict[str, Any]:
    """Archive, verify and delete audit-log rows past each org's retention (see module doc)."""
    now = datetime.now(UTC)
    clock = BatchClock()
    totals = {"orgs": 0, "objects_written": 0, "objects_already_archived": 0, "rows_archived": 0, "rows_deleted": 0}
    objects: list[dict[str, Any]] = []
    after = ""
    while not clock.spent():
        with clock.batch(), system_transaction() as conn:
            candidates = maintenance_repo.retention_candidates(conn, now=now, after_org=after, limit=ORG_PAGE)
        if not candidates:
            break
        bucket = get_settings().archive_bucket
        if not bucket:
            raise ConfigurationError("Audit logs are due for archiving but ARCHIVE_BUCKET is not set.")
        for org in candidates:
            after = org.org_id
            totals["orgs"] += 1
            _archive_org(org, bucket, clock, totals, objects)
            if clock.spent():
                break
    metrics.add_metric(name="Retention.ObjectsWritten", unit="Count", value=totals["objects_written"])
    metrics.add_metric(name="Retention.RowsArchived", unit="Count", value=totals["rows_archived"])
    metrics.add_metric(name="Retention.RowsDeleted", unit="Count", value=totals["rows_deleted"])
    return {**totals, "archives": objects[:REPORTED_OBJECTS], "incomplete": clock.spent(), **clock.summary()}


def _archive_org(
    org: maintenance_repo.RetentionOrg,
    bucket: str,
    clock: BatchClock,
    totals: dict[str, int],
    objects: list[dict[str, Any]],
) -> None:
    anchor = org.anchor_seq
    while not clock.spent():
        rows = _oldest_day(org, anchor, clock)
        if not rows:
            return
        day = rows[0].created_at.astimezone(UTC).date().isoformat()
        key = archive.object_key(org.org_id, day)
        written = _ensure_archived(bucket, key, anchor, rows)
        totals["objects_written" if written else "objects_already_archived"] += 1
        totals["rows_archived"] += len(rows)
        objects.append({"org_id": org.org_id, "key": key, "rows": len(rows), "written": written})
        last = rows[-1].seq
        while anchor < last:
            through = min(anchor + DELETE_BATCH, last)
            with clock.batch(), system_transaction() as conn:
                deleted = maintenance_repo.delete_audit_log_range(
                    conn, org_id=org.org_id, after_seq=anchor, through_seq=through
                )
            if deleted == 0:
                # The anchor is not where this run left it: another writer moved it. Stop here;
                # the next run starts again from the database's anchor.
                logger.warning("retention anchor moved", org_id=org.org_id, expected_anchor=anchor)
                return
            totals["rows_deleted"] += deleted
            anchor = through
        logger.info("audit log archived", org_id=org.org_id, key=key, rows=len(rows))


def _oldest_day(org: maintenance_repo.RetentionOrg, anchor: int, clock: BatchClock) -> list[maintenance_repo.LogRow]:
    """The chain's rows after ``anchor`` up to the first one of a later day (or one not past
    retention): the next object's content. Empty when the oldest row is still kept."""
    rows: list[maintenance_repo.LogRow] = []
    day_end: datetime | None = None
    after = anchor
    while True:
        with clock.batch(), system_transaction() as conn:
            page = maintenance_repo.audit_log_rows(conn, org_id=org.org_id, after_seq=after, limit=READ_PAGE)
        for row in page:
            if day_end is None:
                start = row.created_at.astimezone(UTC)
                day_end = min(datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1), org.cutoff)
            if row.created_at >= day_end:
                return rows
            rows.append(row)
        if len(page) < READ_PAGE:
            return rows
        after = page[-1].seq


def _seq(line: str) -> int:
    return int(json.loads(line)["seq"])


def _ensure_archived(bucket: str, key: str, anchor: int, rows: list[maintenance_repo.LogRow]) -> bool:
    """Make the object hold the rows (after whatever it already holds of rows deleted before
    ``anchor``), verified by reading it back. False when an identical object was already there."""
    existing = archive.read_lines(bucket, key)
    kept = [line for line in existing or [] if _seq(line) <= anchor]
    lines = kept + [row.line for row in rows]
    if existing == lines:
        return False
    last = rows[-1]
    archive.write_lines(
        bucket, key, lines, {"rows": str(len(lines)), "last-seq": str(last.seq), "last-hash": last.hash}
    )
    back = archive.read_lines(bucket, key)
    if back is None or len(back) != len(lines):
        raise archive.ArchiveVerificationError(f"Archive {key} read back with a different row count.")
    tail = json.loads(back[-1])
    if tail.get("hash") != last.hash or tail.get("seq") != last.seq:
        raise archive.ArchiveVerificationError(f"Archive {key} read back with a different last row.")
    return True
