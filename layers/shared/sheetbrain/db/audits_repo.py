"""Audits, findings, the hash-chained audit log and AI-token usage."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
import pydantic_core
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


class AuditRecord(NamedTuple):
    id: uuid.UUID
    org_id: str
    user_id: str | None
    sheet_name: str | None
    sheet_range: str | None
    spreadsheet_id: str | None
    purpose: str | None
    formulas: int
    findings: int
    compliant: int
    score: int
    by_severity: dict[str, int]
    duration_ms: int
    rag_used: bool
    clauses_used: int
    ai_review: dict[str, Any] | None
    created_at: datetime


class FindingRecord(NamedTuple):
    ordinal: int
    cell: str | None
    formula: str
    rule: str
    severity: str
    message: str
    suggestion: str | None
    policy: dict[str, Any] | None


def _findings_doc(findings: Sequence[FindingRecord]) -> str:
    """The stored document (sql/0011): the findings in order, and each rule's citation once.
    pydantic-core writes it (the layer has it for validation) in a third of json.dumps's time."""
    return pydantic_core.to_json(
        {
            "findings": [
                {"cell": f.cell, "formula": f.formula, "rule": f.rule, "severity": f.severity, "message": f.message,
                 "suggestion": f.suggestion}
                for f in findings
            ],
            "citations": {f.rule: f.policy for f in findings if f.policy is not None},
        }
    ).decode()  # fmt: skip


def _findings_of(doc: dict[str, Any]) -> list[FindingRecord]:
    citations = doc.get("citations") or {}
    return [
        FindingRecord(i, f.get("cell"), f["formula"], f["rule"], f["severity"], f["message"], f.get("suggestion"),
                      citations.get(f["rule"]))
        for i, f in enumerate(doc["findings"])
    ]  # fmt: skip


def insert_audit(
    conn: psycopg.Connection,
    audit: AuditRecord,
    findings: Sequence[FindingRecord],
    grid_map: dict[str, Any] | None = None,
) -> None:
    """The audit with its findings, one document in its row (sql/0011), and the layout of the
    grid it audited, if any (sql/0017)."""
    conn.execute(
        """INSERT INTO audits (id, org_id, user_id, sheet_name, sheet_range, spreadsheet_id, purpose, formulas,
                               findings, compliant, score, by_severity, duration_ms, rag_used, clauses_used,
                               ai_review, created_at, findings_doc, grid_map)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::json, %s::json)""",
        (
            audit.id, audit.org_id, audit.user_id, audit.sheet_name, audit.sheet_range, audit.spreadsheet_id,
            audit.purpose, audit.formulas, audit.findings, audit.compliant, audit.score, Jsonb(audit.by_severity),
            audit.duration_ms, audit.rag_used, audit.clauses_used,
            Jsonb(audit.ai_review) if audit.ai_review is not None else None, audit.created_at, _findings_doc(findings),
            pydantic_core.to_json(grid_map).decode() if grid_map is not None else None,
        ),
    )  # fmt: skip


def append_log(
    conn: psycopg.Connection,
    *,
    org_id: str,
    event: str,
    audit_id: uuid.UUID | None,
    user_id: str | None,
    actor: str,
    payload: str,
    at: datetime,
) -> None:
    """Append to the org's hash chain (serialised on its head row). Nothing is read back, so
    in a pipelined transaction the append travels with the COMMIT."""
    conn.execute(
        "SELECT FROM audit_log_append(%s, %s, %s, %s, %s, %s, %s)",
        (org_id, event, audit_id, user_id, actor, payload, at),
    )


def list_audits(
    conn: psycopg.Connection, org_id: str, *, limit: int, before: tuple[datetime, uuid.UUID] | None
) -> list[AuditRecord]:
    """Newest first; ``before`` is the (created_at, id) of the previous page's last row."""
    with conn.cursor(row_factory=class_row(AuditRecord)) as cur:
        return cur.execute(
            """SELECT id, org_id, user_id, sheet_name, sheet_range, spreadsheet_id, purpose, formulas, findings,
                      compliant, score, by_severity, duration_ms, rag_used, clauses_used, ai_review, created_at
               FROM audits
               WHERE org_id = %(org)s AND (%(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s, %(id)s))
               ORDER BY created_at DESC, id DESC LIMIT %(limit)s""",
            {"org": org_id, "at": before[0] if before else None, "id": before[1] if before else None, "limit": limit},
        ).fetchall()


def get_audit(
    conn: psycopg.Connection, org_id: str, audit_id: uuid.UUID
) -> tuple[AuditRecord, list[FindingRecord]] | None:
    row = conn.execute(
        """SELECT id, org_id, user_id, sheet_name, sheet_range, spreadsheet_id, purpose, formulas, findings,
                  compliant, score, by_severity, duration_ms, rag_used, clauses_used, ai_review, created_at,
                  findings_doc
           FROM audits WHERE org_id = %s AND id = %s""",
        (org_id, audit_id),
    ).fetchone()
    if row is None:
        return None
    audit, doc = AuditRecord(*row[:-1]), row[-1]
    if doc is not None:
        return audit, _findings_of(doc)
    # Recorded before sql/0011: its findings are rows.
    with conn.cursor(row_factory=class_row(FindingRecord)) as cur:
        rows = cur.execute(
            """SELECT ordinal, cell, formula, rule, severity, message, suggestion, policy
               FROM audit_findings WHERE org_id = %s AND audit_id = %s ORDER BY ordinal""",
            (org_id, audit_id),
        ).fetchall()
    return audit, rows


def get_grid_map(conn: psycopg.Connection, org_id: str, audit_id: uuid.UUID) -> dict[str, Any] | None:
    """The layout of the grid an audit read (sql/0017); None for a list of formulas or an audit
    recorded before it was kept."""
    row = conn.execute("SELECT grid_map FROM audits WHERE org_id = %s AND id = %s", (org_id, audit_id)).fetchone()
    return row[0] if row is not None else None


def record_ai_usage(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str | None,
    audit_id: uuid.UUID | None,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_micros: int,
    outcome: str,
) -> None:
    conn.execute(
        """INSERT INTO ai_token_usage (org_id, user_id, audit_id, model, input_tokens, output_tokens, cost_micros,
                                       outcome)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (org_id, user_id, audit_id, model, input_tokens, output_tokens, cost_micros, outcome),
    )


class LogRow(NamedTuple):
    org_id: str
    seq: int
    created_at: datetime
    event: str
    audit_id: uuid.UUID | None
    actor: str
    payload: str
    prev_hash: str
    hash: str


def log_anchor(conn: psycopg.Connection, org_id: str) -> tuple[int, str, int, str] | None:
    """(anchor_seq, anchor_hash, head seq, head hash) of an org's chain, if it has one."""
    row = conn.execute(
        "SELECT anchor_seq, anchor_hash, seq, hash FROM audit_log_heads WHERE org_id = %s", (org_id,)
    ).fetchone()
    return (int(row[0]), str(row[1]), int(row[2]), str(row[3])) if row else None


def log_rows(conn: psycopg.Connection, org_id: str, *, after_seq: int, limit: int) -> list[LogRow]:
    """A page of an org's chain in sequence order."""
    with conn.cursor(row_factory=class_row(LogRow)) as cur:
        return cur.execute(
            """SELECT org_id, seq, created_at, event, audit_id, actor, payload, prev_hash, hash FROM audit_log
               WHERE org_id = %s AND seq > %s ORDER BY seq LIMIT %s""",
            (org_id, after_seq, limit),
        ).fetchall()


def orgs_with_log(conn: psycopg.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT org_id FROM audit_log_heads ORDER BY org_id").fetchall()]


def org_audit_counts(conn: psycopg.Connection, org_id: str, month_start: datetime) -> tuple[int, int, int]:
    """(policies, audits in total, audits since month_start) of an org; policies counted as the
    plan's limit counts them (a failed ingestion holds no place)."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM policies WHERE org_id = %(org)s AND status <> 'failed'),
                  (SELECT count(*) FROM audits WHERE org_id = %(org)s),
                  (SELECT count(*) FROM audits WHERE org_id = %(org)s AND created_at >= %(since)s)""",
        {"org": org_id, "since": month_start},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
