"""Which subscription state wins: older events never, same-second events by their own state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sheetbrain.billing.subscription_order import SubscriptionFacts, Verdict, decide

T = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
PERIOD_END = T + timedelta(days=30)
NEXT_PERIOD_END = PERIOD_END + timedelta(days=30)


def facts(
    status: str,
    *,
    sub: str | None = "sub_1",
    plan: str = "pro",
    period_end: datetime | None = PERIOD_END,
    cancel: bool = False,
    canceled_at: datetime | None = None,
) -> SubscriptionFacts:
    start = period_end - timedelta(days=30) if period_end else None
    return SubscriptionFacts(sub, plan, status, start, period_end, cancel, canceled_at)


APPLY, KEEP, SECOND_LIVE = Verdict(True, False), Verdict(False, False), Verdict(False, True)

# (why, stored state, incoming state, verdict when the incoming event is of the same second)
SAME_SECOND = [
    ("activation beats the incomplete creation", facts("active"), facts("incomplete"), KEEP),
    ("incomplete never undoes an activation", facts("incomplete"), facts("active"), APPLY),
    ("canceled is final", facts("canceled", canceled_at=T), facts("active"), KEEP),
    ("a cancellation ends a live subscription", facts("past_due"), facts("canceled", canceled_at=T), APPLY),
    ("canceled is final even over a later period", facts("canceled"), facts("active", period_end=NEXT_PERIOD_END),
     KEEP),
    ("incomplete_expired is final", facts("incomplete_expired"), facts("active"), KEEP),
    ("a renewal's new period beats the old one", facts("past_due"), facts("active", period_end=NEXT_PERIOD_END),
     APPLY),
    ("the old period never undoes a renewal", facts("active", period_end=NEXT_PERIOD_END), facts("past_due"), KEEP),
    ("a renewal's failed charge follows it", facts("active"), facts("past_due"), APPLY),
    ("... in either order", facts("past_due"), facts("active"), KEEP),
    ("a trial ends active", facts("trialing"), facts("active"), APPLY),
    ("a trial ends paused", facts("trialing"), facts("paused"), APPLY),
    ("a paused subscription resumes", facts("paused"), facts("active"), APPLY),
    ("dunning ends unpaid", facts("past_due"), facts("unpaid"), APPLY),
    ("a scheduled cancellation is not dropped", facts("active", cancel=True), facts("active"), KEEP),
    ("... in either order", facts("active"), facts("active", cancel=True), APPLY),
    ("an identical state changes nothing", facts("active"), facts("active"), KEEP),
    # nothing in the object orders two plans of one second: a fixed order (by plan code), so
    # that arrival order does not decide
    ("plans of one second: by code", facts("active", plan="business"), facts("active"), APPLY),
    ("... in either order", facts("active"), facts("active", plan="business"), KEEP),
    ("a status we do not know ranks lowest", facts("mystery"), facts("incomplete"), APPLY),
    ("... in either order", facts("incomplete"), facts("mystery"), KEEP),
    ("a later cancellation time is the newer state", facts("canceled", canceled_at=T),
     facts("canceled", canceled_at=T + timedelta(seconds=1)), APPLY),
    ("... in either order", facts("canceled", canceled_at=T + timedelta(seconds=1)),
     facts("canceled", canceled_at=T), KEEP),
    ("a later period start is the newer state", SubscriptionFacts("sub_1", "pro", "active", T, PERIOD_END, False, None),
     SubscriptionFacts("sub_1", "pro", "active", T + timedelta(days=1), PERIOD_END, False, None), APPLY),
    ("... in either order", SubscriptionFacts("sub_1", "pro", "active", T + timedelta(days=1), PERIOD_END, False, None),
     SubscriptionFacts("sub_1", "pro", "active", T, PERIOD_END, False, None), KEEP),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "incoming", "verdict"), [c[1:] for c in SAME_SECOND], ids=[c[0] for c in SAME_SECOND]
)
def test_same_second_events_are_ordered_by_their_own_state(
    stored: SubscriptionFacts, incoming: SubscriptionFacts, verdict: Verdict
) -> None:
    # Given the stored state applied from an event of second T, When another of second T comes
    # Then the states decide
    assert decide(stored, T, incoming, T) == verdict


@pytest.mark.parametrize(
    ("stored", "incoming", "verdict"), [c[1:] for c in SAME_SECOND], ids=[c[0] for c in SAME_SECOND]
)
def test_either_arrival_order_of_a_second_ends_in_the_same_state(
    stored: SubscriptionFacts, incoming: SubscriptionFacts, verdict: Verdict
) -> None:
    # Given two states of one second, When they arrive in one order or the other
    first_order = incoming if decide(stored, T, incoming, T).apply else stored
    second_order = stored if decide(incoming, T, stored, T).apply else incoming
    # Then the same state is kept
    assert first_order == second_order


@pytest.mark.parametrize(
    ("why", "stored", "watermark", "incoming", "created", "verdict"),
    [
        ("a newer event applies", facts("canceled"), T, facts("active", sub="sub_2"), T + timedelta(seconds=1), APPLY),
        ("an older event never does", facts("incomplete"), T, facts("active"), T - timedelta(seconds=1), KEEP),
        ("a first event applies", facts("none", sub=None), None, facts("incomplete"), T, APPLY),
        ("a second live subscription is kept out", facts("active"), T, facts("active", sub="sub_2"),
         T + timedelta(seconds=5), SECOND_LIVE),
        ("an abandoned second checkout is kept out", facts("active"), T, facts("incomplete", sub="sub_2"),
         T + timedelta(seconds=5), KEEP),
        ("a live one replaces one that never went live", facts("incomplete"), T, facts("active", sub="sub_2"),
         T + timedelta(seconds=5), APPLY),
        ("a new subscription in the second its predecessor ended", facts("canceled"), T,
         facts("active", sub="sub_2"), T, APPLY),
    ],
)  # fmt: skip
def test_other_seconds_and_other_subscriptions(
    why: str,
    stored: SubscriptionFacts,
    watermark: datetime | None,
    incoming: SubscriptionFacts,
    created: datetime,
    verdict: Verdict,
) -> None:
    # Given a stored state and its watermark, When an event comes, Then the verdict is as stated
    assert decide(stored, watermark, incoming, created) == verdict, why
