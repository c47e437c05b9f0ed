"""POST /api/audit as a use case: engine, citations, optional AI review, then one transaction
that consumes the quota and records the audit, its findings and its audit-log link.

The AI review holds an upper bound of its tokens before the call (checked against the allowance
in the same statement) and the recording transaction swaps the hold for what it spent."""

import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg

from sheetbrain.auditing.audit_log import actor_digest, canonical
from sheetbrain.auditing.citations import Found, cite
from sheetbrain.config import get_settings
from sheetbrain.db import audits_repo, metering_repo, policies_repo, tenant_transaction
from sheetbrain.errors import NotFoundError
from sheetbrain.metering import quota
from sheetbrain.notifications.thresholds import deliver_pending, inline_events_client, record_crossings
from sheetbrain.observability import logger, metrics
from sheetbrain.policies import service as policies
from sheetbrain.reporting.grid_map import GridMap, map_from_findings, map_grid, split_cell
from sheetbrain.severity import NON_COMPLIANT, SEVERITIES
from sheetbrain.tenancy.identity import Identity

if TYPE_CHECKING:
    # The engine loads on the first audit, not with the function: its other routes (health,
    # stats, listing audits) never need it.
    # Loaded only when a review runs: most plans have none, and its models cost cold start.
    from sheetbrain.auditing import ai_review
    from sheetbrain.engine import Finding, PolicyProfile

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")


class AuditInput(NamedTuple):
    formulas: list[str] | None
    sheet_name: str | None
    sheet_range: str | None
    grid_formulas: list[list[str | None]] | None
    grid_values: list[list[Any]] | None
    spreadsheet_id: str | None
    purpose: str | None
    policy_ids: list[uuid.UUID] | None
    ai_review: bool | None


class AuditOutcome(NamedTuple):
    audit: audits_repo.AuditRecord
    findings: list[audits_repo.FindingRecord]


def _origin(sheet_range: str | None) -> str:
    start = (sheet_range or "A1").split(":")[0].split("!")[-1]
    return start.replace("$", "").upper() if _CELL.match(start) else "A1"


class _Context(NamedTuple):
    profile: "PolicyProfile"
    org_policies: list[policies_repo.PolicyRules]
    remembered: policies_repo.CitationCache | None
    ai_allowed: bool
    ai_skip_reason: str | None


def _context(identity: Identity, data: AuditInput, now: datetime) -> _Context:
    """Everything the audit reads before the engine runs, in one transaction: the quota check
    (refusing early without consuming), the org's policy profile and rules, the citations
    retrieval found before (for an audit citing all the org's policies), the AI allowance."""
    with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:
        # All sent before any is read: one round trip.
        settle_quota = quota.send_check(conn, org_id=identity.org_id, feature="audits_per_month", now=now)
        profiles = policies_repo.org_profiles(conn, identity.org_id)
        org_policies = policies_repo.org_rules(conn, identity.org_id, data.policy_ids)
        remembered = policies_repo.citation_cache(conn, identity.org_id) if data.policy_ids is None else None
        settle_ai = _send_ai_allowance(conn, identity, data.ai_review, now)
        settle_quota()
        allowed, reason = settle_ai()
        return _Context(policies.profile_of(profiles.result()), org_policies.result(),
                        remembered.result() if remembered is not None else None, allowed, reason)  # fmt: skip


def _run_engine(data: AuditInput, profile: "PolicyProfile") -> "tuple[list[Finding], int]":
    """The findings and the number of formulas audited, under the org's policy profile."""
    from sheetbrain.engine import Sheet, audit_formulas, audit_sheet

    if data.formulas is not None:
        findings = audit_formulas(data.formulas, profile)
        return findings, sum(1 for f in data.formulas if f and f.strip())
    name = data.sheet_name or "Sheet1"
    sheet = Sheet(name, data.grid_formulas or [], data.grid_values or [], origin=_origin(data.sheet_range))
    findings = audit_sheet(sheet, profile)
    count = sum(1 for row in data.grid_formulas or [] for cell in row if isinstance(cell, str) and cell.startswith("="))
    return findings, count


def _summary(findings: "list[Finding]", formulas: int) -> tuple[dict[str, int], int, int]:
    by_severity = dict.fromkeys(SEVERITIES, 0)
    failing: set[Any] = set()
    for f in findings:
        by_severity[f.severity] += 1
        if f.severity in NON_COMPLIANT:
            failing.add(f.cell if f.cell is not None else f.index)
    compliant = max(0, formulas - len(failing))
    score = round(100 * compliant / formulas) if formulas else 100
    return by_severity, compliant, score


def _send_ai_allowance(
    conn: psycopg.Connection, identity: Identity, requested: bool | None, now: datetime
) -> Callable[[], tuple[bool, str | None]]:
    """Whether the plan includes the AI review (and why not, when the caller asked for it),
    sent: calling the result reads it. Nothing is read when it was not asked for or is switched
    off. The token allowance is decided when the call's tokens are held (``_ai_review``)."""
    if requested is False or not get_settings().ai_review_enabled:
        return lambda: (False, None)
    included = metering_repo.entitlement(conn, identity.org_id, "ai_review", now)

    def settle() -> tuple[bool, str | None]:
        if not included.result():
            return False, "not included in the plan" if requested else None
        return True, None

    return settle


# A hold outlives its invocation by this much before it counts as lapsed: clocks of functions
# and database differ by less.
_HOLD_GRACE = timedelta(seconds=60)
ALLOWANCE_USED_UP = "monthly AI token allowance used up"


def _ai_review(
    identity: Identity,
    audit_id: uuid.UUID,
    findings: list[audits_repo.FindingRecord],
    clauses_by_rule: dict[str, dict[str, Any]],
    now: datetime,
    remaining_ms: Callable[[], int] | None,
) -> "tuple[ai_review.ReviewResult | None, str | None]":
    """The review, or why it was skipped: the prompt within its cap, a deadline within the
    function's remaining time, the call's tokens held (or refused) before it is made. The hold
    is settled by the audit's transaction; when the review fails unexpectedly, released here."""
    from sheetbrain.auditing import ai_review

    settings = get_settings()
    prompt = ai_review.build_prompt(
        [{"index": r.ordinal, "cell": r.cell, "formula": r.formula, "rule": r.rule, "severity": r.severity,
          "message": r.message} for r in findings],
        clauses_by_rule,
        settings.ai_review_max_input_tokens,
    )  # fmt: skip
    if findings and not prompt.reviewed:
        return None, "no finding fits in the review's prompt"
    left_ms = remaining_ms() if remaining_ms is not None else None
    read_timeout_s = ai_review.call_timeout(settings, left_ms)
    if read_timeout_s is None:
        return None, "not enough time left in this invocation"
    model = settings.bedrock_model_id
    reserved_at = datetime.now(UTC)
    lifetime_ms = left_ms if left_ms is not None else (read_timeout_s + ai_review.CONNECT_TIMEOUT_S) * 1000
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        hold = metering_repo.ai_tokens_reserve(
            conn,
            org_id=identity.org_id,
            reservation_id=audit_id,
            tokens=prompt.input_tokens + settings.ai_review_max_tokens,
            input_tokens=prompt.input_tokens,
            input_cost_micros=ai_review.cost_micros(model, prompt.input_tokens, 0),
            model=model,
            now=now,
            reserved_at=reserved_at,
            expires_at=reserved_at + timedelta(milliseconds=lifetime_ms) + _HOLD_GRACE,
        )
    if not hold.accepted:
        logger.info("ai review refused by the token allowance", used=hold.used, reserved=hold.reserved,
                    limit=hold.lim, needed=prompt.input_tokens + settings.ai_review_max_tokens)  # fmt: skip
        # A plan with the review but no token allowance is a fault in the plans' data: no call.
        return None, ALLOWANCE_USED_UP if hold.lim is not None else "the plan defines no AI token allowance"
    try:
        return ai_review.review(prompt, read_timeout_s=read_timeout_s), None
    except BaseException:
        _release(identity, audit_id, now)
        raise


def _release(identity: Identity, audit_id: uuid.UUID, now: datetime) -> None:
    """Give a hold back when no call was made; if that fails too, the hold lapses and is
    charged its input bound (logged here)."""
    try:
        with tenant_transaction(identity.org_id, identity.user_id) as conn:
            metering_repo.ai_tokens_settle(conn, org_id=identity.org_id, user_id=identity.user_id,
                                           reservation_id=audit_id, tokens=0, now=now)  # fmt: skip
    except Exception:
        logger.exception("AI token hold not released", audit_id=str(audit_id))


# The findings an audit lists: Lambda answers at most 6 MB, and a hostile grid can hold 50,000
# formulas with several findings each and 8,192 characters apiece. The most severe are listed
# first, up to a count and a size (with room left for the rest of the reply); the summary still
# counts every finding, and the reply says how many were left out.
MAX_LISTED_FINDINGS = 5_000
MAX_LISTED_BYTES = 3 * 1024 * 1024
_FINDING_OVERHEAD_BYTES = 160  # JSON keys, cell, rule, severity and a citation's reference


def listed_findings(findings: "list[Finding]") -> "list[Finding]":
    """The findings an audit records and answers, in their order: the most severe first chosen
    until ``MAX_LISTED_FINDINGS`` or ``MAX_LISTED_BYTES`` (of formula, message and suggestion text)."""
    if len(findings) <= MAX_LISTED_FINDINGS and _text_bytes(findings) <= MAX_LISTED_BYTES:
        return findings
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    chosen: set[int] = set()
    spent = 0
    for i in sorted(range(len(findings)), key=lambda i: rank.get(findings[i].severity, len(rank))):
        size = _text_bytes([findings[i]])
        if len(chosen) == MAX_LISTED_FINDINGS or spent + size > MAX_LISTED_BYTES:
            break
        chosen.add(i)
        spent += size
    return [f for i, f in enumerate(findings) if i in chosen]


def _text_bytes(findings: "list[Finding]") -> int:
    return sum(
        len(f.formula.encode()) + len(f.message.encode()) + len((f.suggestion or "").encode()) + _FINDING_OVERHEAD_BYTES
        for f in findings
    )


def run_audit(identity: Identity, data: AuditInput, remaining_ms: Callable[[], int] | None = None) -> AuditOutcome:
    """Audit formulas for the caller's org and record everything in one transaction.
    ``remaining_ms``: the function's remaining time (Lambda's context), which bounds the review."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    audit_id = uuid.uuid4()
    context = _context(identity, data, now)
    findings, formulas = _run_engine(data, context.profile)
    citations = cite(identity, findings, context.org_policies, only_these=data.policy_ids is not None,
                     remembered=context.remembered)  # fmt: skip
    policy_by_rule = {rule: citation.to_dict() for rule, citation in citations.by_rule.items()}
    finding_records = [
        audits_repo.FindingRecord(
            ordinal=i,
            cell=f.cell,
            formula=f.formula,
            rule=f.rule,
            severity=f.severity,
            message=f.message,
            suggestion=f.suggestion,
            policy=policy_by_rule.get(f.rule),
        )
        for i, f in enumerate(listed_findings(findings))
    ]
    review = None
    skipped_reason = context.ai_skip_reason
    if context.ai_allowed:
        clauses = {rule: {"policy": c.title, "clause": c.clause, "text": c.excerpt}
                   for rule, c in citations.by_rule.items()}  # fmt: skip
        review, skipped_reason = _ai_review(identity, audit_id, finding_records, clauses, now, remaining_ms)
    review_body = (
        review.to_dict() if review else ({"status": "skipped", "reason": skipped_reason} if skipped_reason else None)
    )
    by_severity, compliant, score = _summary(findings, formulas)
    audit = audits_repo.AuditRecord(
        id=audit_id,
        org_id=identity.org_id,
        user_id=identity.user_id,
        sheet_name=data.sheet_name,
        sheet_range=data.sheet_range,
        spreadsheet_id=data.spreadsheet_id,
        purpose=data.purpose,
        formulas=formulas,
        findings=len(findings),
        compliant=compliant,
        score=score,
        by_severity=by_severity,
        duration_ms=int((time.perf_counter() - started) * 1000),
        rag_used=citations.rag_used,
        clauses_used=citations.clauses_used,
        ai_review=review_body,
        created_at=now,
    )
    # The grid's layout, for the audit's report (sheetbrain/reporting): one character a cell.
    grid = (
        map_grid(data.sheet_name or "Sheet1", data.grid_formulas, data.grid_values, data.sheet_range).to_doc()
        if data.grid_formulas is not None
        else None
    )
    try:
        _record(identity, audit, finding_records, review, now, citations.found, context.remembered, grid)
    except Exception:
        if review is not None:
            _record_orphan_usage(identity, audit.id, review, now)
        raise
    metrics.add_metric(name="AuditCompleted", unit="Count", value=1)
    metrics.add_metric(name="AuditFindings", unit="Count", value=len(findings))
    logger.info("audit completed", audit_id=str(audit.id), formulas=formulas, findings=len(findings))
    return AuditOutcome(audit, finding_records)


def _record(
    identity: Identity,
    audit: audits_repo.AuditRecord,
    findings: list[audits_repo.FindingRecord],
    review: "ai_review.ReviewResult | None",
    now: datetime,
    found: Sequence[Found] = (),
    remembered: policies_repo.CitationCache | None = None,
    grid_map: dict[str, Any] | None = None,
) -> None:
    """Quota, audit, findings, audit log and AI-token usage, and what retrieval ``found`` to be
    remembered at the corpus version read before: all committed or none.

    Pipelined: the audit and its findings travel with the quota consumption (the first result
    read), the audit-log append with the COMMIT; a refused quota rolls all of it back."""
    crossings: list[int] = []
    with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:
        audits_repo.insert_audit(conn, audit, findings, grid_map)
        audits = quota.consume(conn, org_id=identity.org_id, user_id=identity.user_id, feature="audits_per_month",
                               quantity=1, idempotency_key=f"audit:{audit.id}", now=now)  # fmt: skip
        crossings += record_crossings(conn, org_id=identity.org_id, feature="audits_per_month",
                                      used_before=audits.used - 1, used_after=audits.used, limit=audits.limit,
                                      now=now)  # fmt: skip
        if review is not None:
            crossings += _record_ai_usage(conn, identity, audit.id, review, now, recorded=True)
        if remembered is not None:
            policies_repo.remember_citations(conn, identity.org_id, remembered.version, found)
        audits_repo.append_log(
            conn,
            org_id=identity.org_id,
            event="audit.completed",
            audit_id=audit.id,
            user_id=identity.user_id,
            actor=actor_digest(identity.user_id),
            payload=canonical(
                {
                    "formulas": audit.formulas,
                    "compliant": audit.compliant,
                    "findings": audit.findings,
                    "by_severity": audit.by_severity,
                    "duration_ms": audit.duration_ms,
                    "rag_used": audit.rag_used,
                    "clauses_used": audit.clauses_used,
                    "ai_review": (audit.ai_review or {}).get("status"),
                    "org_id": audit.org_id,
                }
            ),
            at=now,
        )
    if crossings and get_settings().notify_inline:
        _deliver_notifications(identity.org_id)


def _record_orphan_usage(
    identity: Identity, audit_id: uuid.UUID, review: "ai_review.ReviewResult", now: datetime
) -> None:
    """The audit is lost, but the model call was made and paid for: keep it on the ledger and
    settle its hold. When that fails too, the log line is the only record of the spend (the hold
    lapses and is charged its input bound); the audit's own error stands."""
    try:
        with tenant_transaction(identity.org_id, identity.user_id) as conn:
            _record_ai_usage(conn, identity, audit_id, review, now, recorded=False)
    except Exception:
        logger.exception("AI tokens of a failed audit not recorded", model=review.model,
                         input_tokens=review.input_tokens, output_tokens=review.output_tokens,
                         cost_micros=review.cost_micros)  # fmt: skip


def _record_ai_usage(
    conn: psycopg.Connection,
    identity: Identity,
    audit_id: uuid.UUID,
    review: "ai_review.ReviewResult",
    now: datetime,
    *,
    recorded: bool,
) -> list[int]:
    """The model call's tokens and cost on the ledger, and its hold on the monthly allowance
    swapped for them (they are spent whatever the allowance says now, so counted without a
    limit). ``recorded``: the audit row exists in this transaction (else the ledger row names
    no audit)."""
    spent = review.input_tokens + review.output_tokens
    tokens = metering_repo.ai_tokens_settle(conn, org_id=identity.org_id, user_id=identity.user_id,
                                            reservation_id=audit_id, tokens=spent, now=now)  # fmt: skip
    if not spent:
        return []
    audits_repo.record_ai_usage(
        conn,
        org_id=identity.org_id,
        user_id=identity.user_id,
        audit_id=audit_id if recorded else None,
        model=review.model,
        input_tokens=review.input_tokens,
        output_tokens=review.output_tokens,
        cost_micros=review.cost_micros,
        outcome=review.status if review.reason is None else f"{review.status}: {review.reason}",
    )
    token_limit = metering_repo.entitlement(conn, identity.org_id, "ai_tokens_per_month", now).result()
    return record_crossings(conn, org_id=identity.org_id, feature="ai_tokens_per_month",
                            used_before=tokens.used - tokens.spent, used_after=tokens.used,
                            limit=token_limit if token_limit is not None else -1, now=now)  # fmt: skip


def _deliver_notifications(org_id: str) -> None:
    """Send the thresholds just crossed now; what fails stays pending for the alerts task."""
    try:
        deliver_pending(batch=10, org_id=org_id, client=inline_events_client())
    except Exception:
        logger.exception("threshold notifications not delivered inline")


def list_audits(
    identity: Identity, *, limit: int, cursor: tuple[datetime, uuid.UUID] | None
) -> list[audits_repo.AuditRecord]:
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return audits_repo.list_audits(conn, identity.org_id, limit=limit, before=cursor)


def get_audit(identity: Identity, audit_id: uuid.UUID) -> AuditOutcome:
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        found = audits_repo.get_audit(conn, identity.org_id, audit_id)
    if found is None:
        raise NotFoundError("Audit not found.", details={"audit_id": str(audit_id)})
    return AuditOutcome(*found)


def report_page(identity: Identity, audit_id: uuid.UUID) -> str:
    """GET /api/audits/{id}/report: the audit as one self-contained HTML page, for the caller's
    org only (another org's id is not found, as for the audit itself)."""
    from sheetbrain.reporting import html_report

    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        found = audits_repo.get_audit(conn, identity.org_id, audit_id)
        grid_doc = audits_repo.get_grid_map(conn, identity.org_id, audit_id) if found is not None else None
    if found is None:
        raise NotFoundError("Audit not found.", details={"audit_id": str(audit_id)})
    audit, findings = found
    return html_report.render(
        html_report.ReportInput(
            title=f"Audit of {audit.sheet_name}" if audit.sheet_name else "Audit of formulas",
            facts=_report_facts(audit),
            findings=[
                html_report.ReportFinding(f.cell, f.formula, f.rule, f.severity, f.message, f.suggestion, f.policy)
                for f in findings
            ],
            maps=_report_maps(audit, findings, grid_doc),
            full_listing=f"GET /api/audits/{audit.id} returns every finding as JSON.",
        )
    )


def _report_maps(
    audit: audits_repo.AuditRecord, findings: list[audits_repo.FindingRecord], grid_doc: dict[str, Any] | None
) -> list[GridMap]:
    if grid_doc is not None:
        return [GridMap.from_doc(grid_doc)]
    # No layout kept: a list of formulas (no cells), or a grid audited before sql/0017.
    cells = [where for f in findings if f.cell for where in (split_cell(f.cell),) if where is not None]
    if audit.sheet_name is None and not cells:
        return []
    name = audit.sheet_name or (cells[0][0] if cells else "Sheet1")
    return [map_from_findings(name, audit.sheet_range, [at for sheet, at in cells if sheet == name])]


def _report_facts(audit: audits_repo.AuditRecord) -> list[tuple[str, str]]:
    facts = [("Audit", str(audit.id)), ("Recorded", audit.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    if audit.sheet_name is not None:
        facts.append(("Sheet", audit.sheet_name + (f" ({audit.sheet_range})" if audit.sheet_range else "")))
    if audit.spreadsheet_id:
        facts.append(("Spreadsheet", audit.spreadsheet_id))
    if audit.purpose:
        facts.append(("Purpose", audit.purpose))
    facts += [
        ("Formulas audited", f"{audit.formulas:,}"),
        ("Compliant", f"{audit.compliant:,} of {audit.formulas:,} ({audit.score}%)"),
        ("Findings", f"{audit.findings:,}"),
        ("Policy clauses used", f"{audit.clauses_used:,}"),
    ]
    if audit.ai_review:
        facts.append(("AI review", str(audit.ai_review.get("status", ""))))
    return facts
