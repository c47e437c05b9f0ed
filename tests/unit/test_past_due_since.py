"""Since when a subscription is past due: a pure rule (``billing.subscription_order``), the
repository stores what it says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sheetbrain.billing.subscription_order import past_due_since

FIRST = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2027, 3, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored_since", "status", "expected"),
    [
        (None, "past_due", LATER),  # the first past_due event starts the count
        (FIRST, "past_due", FIRST),  # a later one keeps its start
        (FIRST, "active", None),  # a recovery ends it
        (FIRST, "unpaid", None),  # dunning over: no longer past due
        (FIRST, "canceled", None),
        (None, "active", None),
        (None, "trialing", None),
    ],
)
def test_past_due_starts_with_the_first_past_due_event_and_ends_with_any_other_status(
    stored_since: datetime | None, status: str, expected: datetime | None
) -> None:
    # Given the stored start (or none) and an event of LATER that stores ``status``
    # When the rule is asked, Then the start is kept, set, or cleared
    assert past_due_since(stored_since, status, LATER) == expected
