"""Subscriptions, plan history and the billing ledger."""

from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


class SubscriptionRow(NamedTuple):
    org_id: str
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    plan_code: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    past_due_since: datetime | None


def get_subscription(conn: psycopg.Connection, org_id: str) -> SubscriptionRow | None:
    with conn.cursor(row_factory=class_row(SubscriptionRow)) as cur:
        return cur.execute(
            """SELECT org_id, stripe_customer_id, stripe_subscription_id, plan_code, status, current_period_end,
                      cancel_at_period_end, past_due_since
               FROM subscriptions WHERE org_id = %s""",
            (org_id,),
        ).fetchone()


def save_customer(conn: psycopg.Connection, org_id: str, customer_id: str) -> str:
    """Store the org's Stripe customer unless one is already stored; returns the stored one."""
    row = conn.execute(
        """INSERT INTO subscriptions (org_id, stripe_customer_id) VALUES (%s, %s)
           ON CONFLICT (org_id) DO UPDATE
               SET stripe_customer_id = coalesce(subscriptions.stripe_customer_id, EXCLUDED.stripe_customer_id)
           RETURNING stripe_customer_id""",
        (org_id, customer_id),
    ).fetchone()
    assert row is not None
    return str(row[0])


def link_stripe_ids(
    conn: psycopg.Connection, org_id: str, customer_id: str | None, subscription_id: str | None
) -> None:
    """Remember which customer and subscription belong to the org (order-independent)."""
    conn.execute(
        """INSERT INTO subscriptions (org_id, stripe_customer_id, stripe_subscription_id) VALUES (%s, %s, %s)
           ON CONFLICT (org_id) DO UPDATE SET
               stripe_customer_id = coalesce(EXCLUDED.stripe_customer_id, subscriptions.stripe_customer_id),
               stripe_subscription_id =
                   coalesce(subscriptions.stripe_subscription_id, EXCLUDED.stripe_subscription_id)""",
        (org_id, customer_id, subscription_id),
    )


def org_for_stripe(conn: psycopg.Connection, customer_id: str | None, subscription_id: str | None) -> str | None:
    """The organization a Stripe customer or subscription belongs to, if known."""
    row = conn.execute(
        """SELECT org_id FROM subscriptions
           WHERE stripe_subscription_id = %s OR stripe_customer_id = %s
           -- the subscription's own row first (DESC would put a row without one, NULL, first)
           ORDER BY coalesce(stripe_subscription_id = %s, false) DESC
           LIMIT 1""",
        (subscription_id, customer_id, subscription_id),
    ).fetchone()
    return str(row[0]) if row else None


class SubscriptionState(NamedTuple):
    subscription_id: str
    customer_id: str | None
    plan_code: str | None  # None: its price sells no plan here (see apply_subscription_state)
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None


class SubscriptionOutcome(NamedTuple):
    """What apply_subscription_state did; ``before`` and ``after`` are (plan, status)."""

    applied: bool
    before: tuple[str, str]
    after: tuple[str, str]  # == before when not applied
    current_subscription: str | None  # the org's subscription before this event
    second_live: bool  # a live subscription beside the org's live one: kept out, possibly double billing


LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
FREE_PLAN = "free"
_ENDED = 2


def _stage(status: str) -> int:
    """How far along its life a subscription status is: not yet live, live, ended."""
    if status in ("none", "incomplete"):
        return 0
    if status in ("canceled", "incomplete_expired"):
        return _ENDED
    return 1


def apply_subscription_state(
    conn: psycopg.Connection, org_id: str, state: SubscriptionState, event_created: datetime
) -> SubscriptionOutcome:
    """Apply a subscription's state unless it would replace newer or more authoritative state.

    Older events (Stripe's ``created``) never win. Stripe stamps whole seconds, so on a tie the
    state further along its life wins (incomplete < live < ended): a late ``created`` cannot
    undo the same second's activation. And an event of another subscription than the org's
    current one (a stale or abandoned second checkout) applies only when the current one has
    ended, or when it brings a live subscription to replace one that never went live. A live
    one arriving while the current one is live too is kept out and reported (``second_live``):
    the customer may be billed twice.

    A state without a plan (its price sells no plan here: a rotated or annual price, a portal
    switch) still applies its status, period and cancel flags. The org's subscription keeps its
    stored plan; a subscription new to the org gets the free plan, so no paid limits are granted
    for a price nobody mapped to a plan, yet its status and ids are on record.

    The row is locked first so concurrent events for one org are applied one after the other.
    """
    conn.execute("INSERT INTO subscriptions (org_id) VALUES (%s) ON CONFLICT (org_id) DO NOTHING", (org_id,))
    before = conn.execute(
        """SELECT plan_code, status, source_event_created, stripe_subscription_id FROM subscriptions
           WHERE org_id = %s FOR UPDATE""",
        (org_id,),
    ).fetchone()
    assert before is not None
    old = (str(before[0]), str(before[1]))
    watermark, current_sub = before[2], before[3]
    if watermark is not None and (
        watermark > event_created or (watermark == event_created and _stage(state.status) < _stage(old[1]))
    ):
        return SubscriptionOutcome(False, old, old, current_sub, second_live=False)
    if current_sub is not None and current_sub != state.subscription_id:
        replaces = _stage(old[1]) == _ENDED or (state.status in LIVE_STATUSES and old[1] not in LIVE_STATUSES)
        if not replaces:
            second_live = state.status in LIVE_STATUSES and old[1] in LIVE_STATUSES
            return SubscriptionOutcome(False, old, old, current_sub, second_live=second_live)
    plan = state.plan_code or (old[0] if current_sub == state.subscription_id else FREE_PLAN)
    conn.execute(
        """UPDATE subscriptions SET
               stripe_subscription_id = %(sub)s,
               stripe_customer_id = coalesce(%(cus)s, stripe_customer_id),
               plan_code = %(plan)s, status = %(status)s,
               current_period_start = %(start)s, current_period_end = %(end)s,
               cancel_at_period_end = %(cancel)s, canceled_at = %(canceled)s,
               past_due_since = CASE WHEN %(status)s = 'past_due'
                                     THEN coalesce(past_due_since, %(at)s) END,
               source_event_created = %(at)s
           WHERE org_id = %(org)s""",
        {
            "org": org_id,
            "sub": state.subscription_id,
            "cus": state.customer_id,
            "plan": plan,
            "status": state.status,
            "start": state.current_period_start,
            "end": state.current_period_end,
            "cancel": state.cancel_at_period_end,
            "canceled": state.canceled_at,
            "at": event_created,
        },
    )
    return SubscriptionOutcome(True, old, (plan, state.status), current_sub, second_live=False)


def record_plan_change(
    conn: psycopg.Connection,
    *,
    org_id: str,
    before: tuple[str, str],
    after: tuple[str, str],
    reason: str,
    effective_at: datetime,
    source_event: str,
) -> None:
    conn.execute(
        """INSERT INTO plan_changes
               (org_id, from_plan, from_status, to_plan, to_status, reason, effective_at, source_event)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (org_id, before[0], before[1], after[0], after[1], reason, effective_at, source_event),
    )


def append_ledger(
    conn: psycopg.Connection,
    *,
    org_id: str,
    source_event_id: str,
    kind: str,
    amount_cents: int,
    currency: str,
    stripe_object: str | None,
    occurred_at: datetime,
    details: dict[str, Any],
) -> None:
    """Append a money-related event once (the provider's event id is unique)."""
    conn.execute(
        """INSERT INTO billing_ledger (org_id, source_event_id, kind, amount_cents, currency, stripe_object,
                                       occurred_at, details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source_event_id) DO NOTHING""",
        (org_id, source_event_id, kind, amount_cents, currency, stripe_object, occurred_at, Jsonb(details)),
    )
