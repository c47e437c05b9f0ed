"""The guard of every authenticated request: admission, seats and rate limits in one statement."""

from datetime import UTC, datetime
from typing import NamedTuple

from sheetbrain.db import metering_repo, single_statement
from sheetbrain.errors import ForbiddenError, RateLimitedError
from sheetbrain.tenancy.identity import Identity
from sheetbrain.tenancy.service import TenantDeletedError

WINDOW_S = 60


class SeatLimitReachedError(ForbiddenError):
    """The caller is a member of a shared organization beyond its plan's seats: the
    earliest-joined members hold them (see ``request_admission`` in sql/0015)."""

    code = "seat_limit_reached"


class RateLimitState(NamedTuple):
    """What the RateLimit-* headers report (limit -1: no limit applies)."""

    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        if self.limit < 0:
            return {}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(self.reset_s),
        }


class GuardDecision(NamedTuple):
    plan: str
    rate: RateLimitState


def guard_request(identity: Identity, now: datetime | None = None) -> GuardDecision:
    """Admit the caller (rows on first sight; 403 when deleted, 403 ``seat_limit_reached``
    beyond the plan's seats) and take one request from its org's and its own per-minute
    limits; 429 ``rate_limited`` when either is spent. A refused request moves no counter."""
    with single_statement() as conn:
        row = metering_repo.request_guard(
            conn,
            org_id=identity.org_id,
            user_id=identity.user_id,
            role=identity.role,
            personal=identity.personal,
            now=now or datetime.now(UTC),
            window_s=WINDOW_S,
        )
    if row.user_deleted:
        raise TenantDeletedError("This user account has been deleted.", details={"user_id": identity.user_id})
    if row.org_deleted:
        raise TenantDeletedError("This organization has been deleted.", details={"org_id": identity.org_id})
    if row.membership_deleted:
        raise TenantDeletedError(
            "You are no longer a member of this organization.", details={"org_id": identity.org_id}
        )
    if row.seat_refused:
        raise SeatLimitReachedError(
            f"Every one of the {row.plan} plan's {row.seats} seats is held by members who joined earlier; "
            "an admin can upgrade the plan or remove a member.",
            details={"plan": row.plan, "seats": row.seats, "org_id": identity.org_id},
        )
    rate = RateLimitState(limit=row.lim, remaining=row.remaining, reset_s=row.reset_s)
    if not row.allowed:
        raise RateLimitedError(
            f"Rate limit of {row.lim} requests per minute reached; retry in {row.reset_s} s.",
            retry_after=row.reset_s,
            details={"plan": row.plan, "limit": row.lim, "window_s": WINDOW_S, "retry_after_s": row.reset_s},
        )
    return GuardDecision(plan=row.plan, rate=rate)
