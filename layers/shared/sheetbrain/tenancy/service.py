"""Admission of a verified caller, and organization statistics."""

from __future__ import annotations

from dataclasses import dataclass

from sheetbrain.db import tenancy_repo as repo
from sheetbrain.db import tenant_transaction
from sheetbrain.errors import ForbiddenError, NotFoundError
from sheetbrain.tenancy.identity import Identity


class TenantDeletedError(ForbiddenError):
    code = "tenant_deleted"


@dataclass(frozen=True)
class OrgStats:
    org_id: str
    name: str
    personal: bool
    users: int


def org_stats(identity: Identity) -> OrgStats:
    """Statistics of the caller's organization."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        org = repo.get_org(conn, identity.org_id)
        if org is None:
            raise NotFoundError("Organization not found.")
        members = repo.org_member_count(conn, identity.org_id)
    return OrgStats(org_id=org.id, name=org.name, personal=org.is_personal, users=members)
