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
    plan_code: str | None  # None: its price sells no plan here (see stripe_sync._subscription_changed)
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None


class StoredSubscription(NamedTuple):
    """The org's subscription row as an event finds it (locked)."""

    subscription_id: str | None
    customer_id: str | None
    plan_code: str
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    past_due_since: datetime | None
    source_event_created: datetime | None  # watermark: Stripe's created of the newest applied event


def lock_subscription(conn: psycopg.Connection, org_id: str) -> StoredSubscription:
    """The org's subscription row (made on first sight), locked until the transaction ends, so
    concurrent events for one org are applied one after the other."""
    conn.execute("INSERT INTO subscriptions (org_id) VALUES (%s) ON CONFLICT (org_id) DO NOTHING", (org_id,))
    with conn.cursor(row_factory=class_row(StoredSubscription)) as cur:
        row = cur.execute(
            """SELECT stripe_subscription_id AS subscription_id, stripe_customer_id AS customer_id, plan_code,
                      status, current_period_start, current_period_end, cancel_at_period_end, canceled_at,
                      past_due_since, source_event_created
               FROM subscriptions WHERE org_id = %s FOR UPDATE""",
            (org_id,),
        ).fetchone()
    assert row is not None
    return row


def write_subscription(
    conn: psycopg.Connection,
    org_id: str,
    state: SubscriptionState,
    plan: str,
    event_created: datetime,
    *,
    past_due_since: datetime | None,
) -> None:
    """Store a subscription's state as the org's, as the caller decided it (which state wins,
    its plan, since when it is past due: ``billing.subscription_order``)."""
    conn.execute(
        """UPDATE subscriptions SET
               stripe_subscription_id = %(sub)s,
               stripe_customer_id = coalesce(%(cus)s, stripe_customer_id),
               plan_code = %(plan)s, status = %(status)s,
               current_period_start = %(start)s, current_period_end = %(end)s,
               cancel_at_period_end = %(cancel)s, canceled_at = %(canceled)s,
               past_due_since = %(past_due_since)s,
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
            "past_due_since": past_due_since,
            "at": event_created,
        },
    )


def customer_links(conn: psycopg.Connection, org_id: str, customer_id: str) -> tuple[str | None, str | None]:
    """The organization a Stripe customer is linked to, and the customer the org is linked to
    (either None when there is none), in one statement."""
    row = conn.execute(
        """SELECT (SELECT org_id FROM subscriptions WHERE stripe_customer_id = %s),
                  (SELECT stripe_customer_id FROM subscriptions WHERE org_id = %s)""",
        (customer_id, org_id),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


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
