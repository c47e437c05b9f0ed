"""Which subscription state wins when Stripe's events arrive out of order: a pure rule.

Stripe does not guarantee delivery order and stamps events in whole seconds (``created``).
An event older than the newest one applied never wins. Two events of one subscription in the
same second are ordered by the states they carry, never by which arrived last, so any arrival
order of a second's events ends in the same state:

1. an ended subscription (``canceled``, ``incomplete_expired``) is final: nothing of the same
   second brings it back;
2. a later billing period (``current_period_end``) is the newer state: a renewal happened;
3. within one period, the status further along Stripe's transitions wins:
   ``incomplete`` < ``trialing`` < ``paused`` < ``active`` < ``past_due`` < ``unpaid``
   (a trial ends in ``paused`` or ``active``; a resumed one becomes ``active``; a renewal's
   failed charge follows the renewal in the same second: ``active`` then ``past_due``;
   dunning ends in ``unpaid``). A recovery, ``past_due`` → ``active``, comes when a retried
   charge succeeds, hours or days after the failure, not in its second;
4. a scheduled cancellation over none (a customer's request to leave is not dropped);
5. then the remaining fields (canceled_at, period start, and last the plan code: nothing in
   the object orders two plans of one second, so a fixed, arbitrary order), so states that
   differ in anything stored are never equal. Equal keys mean equal stored states: nothing
   to change.

Another subscription than the org's current one is judged by ``replaces`` instead (a stale or
abandoned second checkout never overrides a live subscription).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

STATUS_ORDER = {
    "none": 0,
    "incomplete": 1,
    "trialing": 2,
    "paused": 3,
    "active": 4,
    "past_due": 5,
    "unpaid": 6,
    "incomplete_expired": 7,
    "canceled": 8,
}
ENDED = frozenset({"canceled", "incomplete_expired"})
LIVE = frozenset({"active", "trialing", "past_due"})


class SubscriptionFacts(NamedTuple):
    """What we store of a subscription's state (the org's row, or an event's object)."""

    subscription_id: str | None
    plan_code: str
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None


class Verdict(NamedTuple):
    apply: bool
    second_live: bool  # a live subscription beside the org's live one: kept out, possibly double billing


def _at(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("-inf")


def precedence(state: SubscriptionFacts) -> tuple[bool, float, int, bool, float, float, str]:
    """The order of states of one subscription stamped in the same second (module doc)."""
    return (
        state.status in ENDED,
        _at(state.current_period_end),
        STATUS_ORDER.get(state.status, 0),
        state.cancel_at_period_end,
        _at(state.canceled_at),
        _at(state.current_period_start),
        state.plan_code,
    )


def replaces(incoming_status: str, current_status: str) -> bool:
    """Whether another subscription takes the org's current one's place: only once the
    current one has ended, or when a live one replaces one that never went live."""
    return current_status in ENDED or (incoming_status in LIVE and current_status not in LIVE)


def past_due_since(stored_since: datetime | None, status: str, event_created: datetime) -> datetime | None:
    """Since when a subscription is past due once ``status`` is stored: from the first
    ``past_due`` event (a later one keeps it), and not at all under any other status."""
    if status != "past_due":
        return None
    return stored_since if stored_since is not None else event_created


def decide(
    current: SubscriptionFacts,
    watermark: datetime | None,
    incoming: SubscriptionFacts,
    event_created: datetime,
) -> Verdict:
    """Whether an event's subscription state replaces the org's stored one. ``watermark`` is
    the ``created`` of the newest event applied (None: none yet); ``incoming.plan_code`` is
    the plan the state would store."""
    if watermark is not None and watermark > event_created:
        return Verdict(apply=False, second_live=False)
    if current.subscription_id is not None and current.subscription_id != incoming.subscription_id:
        if replaces(incoming.status, current.status):
            return Verdict(apply=True, second_live=False)
        return Verdict(apply=False, second_live=incoming.status in LIVE and current.status in LIVE)
    if watermark == event_created and precedence(incoming) <= precedence(current):
        return Verdict(apply=False, second_live=False)
    return Verdict(apply=True, second_live=False)
