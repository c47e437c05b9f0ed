"""The tamper-evident audit log: canonical payloads, digests, and chain verification.

A row's hash is sha256 over ``prev_hash|org|seq|epoch_microseconds|event|audit_id|actor|payload``
(see ``audit_log_digest`` in sql/0007); verification rebuilds that text from the stored columns,
so editing any column, deleting a row or reordering rows breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sheetbrain.db import audits_repo, system_transaction

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE = 5_000


def canonical(payload: dict[str, Any]) -> str:
    """The exact JSON text that is stored and hashed (sorted keys, no whitespace)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def actor_digest(user_id: str | None) -> str:
    """A stable pseudonym for the acting user: the chain survives the user's deletion."""
    return hashlib.sha256(f"sheetbrain-actor:{user_id or ''}".encode()).hexdigest()[:32]


def digest(
    prev_hash: str,
    org_id: str,
    seq: int,
    at: datetime,
    event: str,
    audit_id: uuid.UUID | None,
    actor: str,
    payload: str,
) -> str:
    micros = (at - EPOCH) // timedelta(microseconds=1)
    text = f"{prev_hash}|{org_id}|{seq}|{micros}|{event}|{audit_id or ''}|{actor}|{payload}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    org_id: str
    rows_checked: int
    ok: bool
    first_broken_seq: int | None = None
    reason: str | None = None


def _rows(org_id: str, after_seq: int) -> Iterator[audits_repo.LogRow]:
    while True:
        with system_transaction() as conn:
            page = audits_repo.log_rows(conn, org_id, after_seq=after_seq, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after_seq = page[-1].seq


def verify_org(org_id: str) -> ChainReport:
    """Walk one org's chain from its archive anchor; report the first broken link."""
    with system_transaction() as conn:
        anchor = audits_repo.log_anchor(conn, org_id)
    if anchor is None:
        return ChainReport(org_id, 0, True)
    anchor_seq, expected_prev, head_seq, head_hash = anchor
    expected_seq = anchor_seq + 1
    checked = 0
    for row in _rows(org_id, anchor_seq):
        if row.seq != expected_seq:
            return ChainReport(org_id, checked, False, expected_seq, f"row {expected_seq} is missing")
        if row.prev_hash != expected_prev:
            return ChainReport(org_id, checked, False, row.seq, "prev_hash does not match the previous row's hash")
        recomputed = digest(row.prev_hash, row.org_id, row.seq, row.created_at, row.event, row.audit_id, row.actor,
                            row.payload)  # fmt: skip
        if recomputed != row.hash:
            return ChainReport(org_id, checked, False, row.seq, "the row's content does not match its hash")
        expected_prev, expected_seq, checked = row.hash, row.seq + 1, checked + 1
    if expected_seq - 1 != head_seq or expected_prev != head_hash:
        return ChainReport(org_id, checked, False, expected_seq, "the chain ends before its recorded head")
    return ChainReport(org_id, checked, True)


def verify_all(org_id: str | None = None) -> list[ChainReport]:
    """Verify one org's chain, or every org's."""
    if org_id is not None:
        return [verify_org(org_id)]
    with system_transaction() as conn:
        orgs = audits_repo.orgs_with_log(conn)
    return [verify_org(org) for org in orgs]
