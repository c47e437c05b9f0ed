"""Usage series for GET /api/usage, served from the daily and monthly aggregates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal, NamedTuple

from sheetbrain.db import metering_repo, tenant_transaction
from sheetbrain.tenancy.identity import Identity

# The days one answer of a daily series covers. A longer window is answered in pages: its first
# MAX_DAYS days and where the next page starts. A window whose start is after its end is empty.
# Both rules hold for any pair of dates, so every request the document allows is answered (a
# cap refused with 422 depends on two parameters together, which the document cannot state).
MAX_DAYS = 400


class UsageSeries(NamedTuple):
    points: list[metering_repo.UsagePoint]
    next_from: date | None  # the next page's ``from`` when the window was longer than one answer


def usage_series(
    identity: Identity, *, metric: str, start: date | None, end: date | None, granularity: Literal["day", "month"]
) -> UsageSeries:
    """Usage of ``metric`` between two dates (default: the last 30 days), by day or month."""
    last = end or datetime.now(UTC).date()
    first = start or last - timedelta(days=29)
    if first > last:
        return UsageSeries([], None)
    next_from = None
    if granularity == "day" and (last - first).days >= MAX_DAYS:
        last = first + timedelta(days=MAX_DAYS - 1)
        next_from = last + timedelta(days=1)
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        points = metering_repo.usage_series(
            conn, org_id=identity.org_id, metric=metric, start=first, end=last, granularity=granularity
        )
    return UsageSeries(points, next_from)
