"""Monthly quotas. ``consume`` runs in the transaction that records the work, so a request that
fails afterwards consumes nothing; ``check`` is only an early, read-only refusal before the
work starts (the consume stays the authority)."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import NamedTuple

import psycopg

from sheetbrain.db import metering_repo
from sheetbrain.errors import ConfigurationError, QuotaExceededError

# Metered features: the entitlement and the usage metric that counts against it.
METERED = {"audits_per_month": "audits", "ai_tokens_per_month": "ai_tokens"}


class Consumption(NamedTuple):
    used: int  # this month, after the consumption
    limit: int  # -1 unlimited
    duplicate: bool  # the idempotency key had been counted already


def month_start(now: datetime) -> date:
    return now.astimezone(UTC).date().replace(day=1)


def next_month_start(now: datetime) -> datetime:
    first = month_start(now)
    return datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)


def consume(
    conn: psycopg.Connection,
    *,
    org_id: str,
    user_id: str | None,
    feature: str,
    quantity: int,
    idempotency_key: str,
    now: datetime | None = None,
) -> Consumption:
    """Consume ``quantity`` of a metered feature within the caller's transaction; returns the
    month's usage after it and the limit. 429 ``quota_exceeded`` when it would pass the limit."""
    at = now or datetime.now(UTC)
    result = metering_repo.usage_consume_entitled(
        conn,
        org_id=org_id,
        user_id=user_id,
        feature=feature,
        metric=METERED[feature],
        quantity=quantity,
        idempotency_key=idempotency_key,
        now=at,
    )
    if result is None:
        raise _no_entitlement(feature)
    if not result.accepted:
        raise _exceeded(conn, org_id, feature, result.lim, result.used, at)
    return Consumption(used=result.used, limit=result.lim, duplicate=result.duplicate)


def check(conn: psycopg.Connection, *, org_id: str, feature: str, now: datetime | None = None) -> None:
    """Refuse early, without consuming, when a metered feature is already used up (the
    consume in the work's transaction stays the authority)."""
    send_check(conn, org_id=org_id, feature=feature, now=now or datetime.now(UTC))()


def send_check(conn: psycopg.Connection, *, org_id: str, feature: str, now: datetime) -> Callable[[], None]:
    """``check`` sent: calling the result reads it and refuses. In a pipelined transaction the
    reads sent with it, before the call, share its round trip."""
    usage = metering_repo.entitlement_and_usage(conn, org_id, feature, METERED[feature], month_start(now), now)

    def settle() -> None:
        limit, used = usage.result()
        if limit is None:
            raise _no_entitlement(feature)
        if 0 <= limit <= used:
            raise _exceeded(conn, org_id, feature, limit, used, now)

    return settle


def _no_entitlement(feature: str) -> ConfigurationError:
    """The org's plan has no row for a metered feature: plans are data, and a missing row must
    be fixed there, not read as unlimited (nor as zero)."""
    return ConfigurationError(f"The plan defines no limit for {feature}.", details={"feature": feature})


def _exceeded(
    conn: psycopg.Connection, org_id: str, feature: str, limit: int, used: int, at: datetime
) -> QuotaExceededError:
    resets_at = next_month_start(at)
    return QuotaExceededError(
        f"The monthly quota of {limit} for {feature} is used up; it resets on {resets_at:%Y-%m-%d}.",
        retry_after=max(1, int((resets_at - at).total_seconds())),
        details={
            "plan": metering_repo.effective_plan(conn, org_id, at),
            "feature": feature,
            "limit": limit,
            "used": used,
            "resets_at": resets_at.isoformat(),
        },
    )
