"""Admission of a verified caller, and organization statistics."""

from datetime import UTC, datetime
from typing import NamedTuple

from sheetbrain.db import audits_repo, billing_repo, metering_repo, tenant_transaction
from sheetbrain.db import tenancy_repo as repo
from sheetbrain.errors import ForbiddenError, NotFoundError
from sheetbrain.tenancy.identity import Identity


class TenantDeletedError(ForbiddenError):
    code = "tenant_deleted"


class OrgStats(NamedTuple):
    org_id: str
    name: str
    personal: bool
    users: int
    policies: int
    audits_total: int
    audits_this_month: int
    plan: str
    status: str


def org_stats(identity: Identity, now: datetime | None = None) -> OrgStats:
    """Statistics of the caller's organization (the old system's get_org_stats), one transaction."""
    at = now or datetime.now(UTC)
    month_start = datetime(at.year, at.month, 1, tzinfo=UTC)
    with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:  # reads only
        org = repo.get_org(conn, identity.org_id)
        if org is None:
            raise NotFoundError("Organization not found.")
        members = repo.org_member_count(conn, identity.org_id)
        policies, audits_total, audits_month = audits_repo.org_audit_counts(conn, identity.org_id, month_start)
        plan = metering_repo.effective_plan(conn, identity.org_id, at)
        subscription = billing_repo.get_subscription(conn, identity.org_id)
    return OrgStats(
        org_id=org.id,
        name=org.name,
        personal=org.is_personal,
        users=members,
        policies=policies,
        audits_total=audits_total,
        audits_this_month=audits_month,
        plan=plan,
        status=subscription.status if subscription else "none",
    )
