"""Usage series for GET /api/usage, served from the daily and monthly aggregates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sheetbrain.db import metering_repo, tenant_transaction
from sheetbrain.errors import ValidationError
from sheetbrain.tenancy.identity import Identity

MAX_DAYS = 400


def usage_series(
    identity: Identity, *, metric: str, start: date | None, end: date | None, granularity: Literal["day", "month"]
) -> list[metering_repo.UsagePoint]:
    """Usage of ``metric`` between two dates (default: the last 30 days), by day or month."""
    last = end or datetime.now(UTC).date()
    first = start or last - timedelta(days=29)
    if first > last:
        raise ValidationError("'from' must not be after 'to'.", details={"field": "from"})
    if granularity == "day" and (last - first).days >= MAX_DAYS:
        raise ValidationError(f"A daily series spans at most {MAX_DAYS} days.", details={"field": "to"})
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return metering_repo.usage_series(
            conn, org_id=identity.org_id, metric=metric, start=first, end=last, granularity=granularity
        )
