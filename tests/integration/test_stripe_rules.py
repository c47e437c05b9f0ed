"""Stripe events the arrival order must not decide, and customer links that never move:
signed Stripe events through the real webhook handler and inbox."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests import stripe_events as se
from tests.support import Reply, SettingsEnv, call, claims_for


@pytest.fixture(autouse=True)
def stripe_settings(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(
        STRIPE_WEBHOOK_SECRET=se.SECRET,
        STRIPE_PRICE_PRO=se.PRICES["pro"],
        STRIPE_PRICE_BUSINESS=se.PRICES["business"],
        STRIPE_PRICE_ENTERPRISE=se.PRICES["enterprise"],
    )


def deliver(evt: dict[str, Any]) -> Reply:
    body = se.body_of(evt)
    headers = {"content-type": "application/json", "stripe-signature": se.signature(body)}
    return call("POST", "/api/webhooks/stripe", raw_body=body.encode(), headers=headers)


def one(owner: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(owner) as conn:
        row = conn.execute(sql, params).fetchone()
    return row if row is None or len(row) > 1 else row[0]


def new_org() -> str:
    org = f"org_rules{uuid.uuid4().hex[:8]}"
    assert call("GET", "/api/stats", claims=claims_for(f"user_{org}", org, "org:admin")).status == 200
    return org


def subscribed(org: str, t: int) -> tuple[str, str]:
    customer, sub = f"cus_{org}", f"sub_{org}"
    assert deliver(se.checkout_completed(org, customer, sub, t)).json()["outcome"] == "processed"
    assert deliver(se.subscription("customer.subscription.created", org, customer, sub, t + 1)).status == 200
    return customer, sub


def stored(owner: str, org: str) -> tuple[Any, ...]:
    return one(
        owner,
        "SELECT plan_code, status, cancel_at_period_end, extract(epoch FROM current_period_end)::bigint "
        "FROM subscriptions WHERE org_id = %s",
        org,
    )


def test_a_renewal_and_its_failed_charge_in_one_second_end_past_due_in_either_order(database: DatabaseUrls) -> None:
    t = int(time.time()) - 1000
    renewed_end = t + 60 * 86400
    finals = []
    for order in ((0, 1), (1, 0)):
        # Given a subscription whose renewal (new period, active) and failed charge (same
        # period, past_due) Stripe stamped in the same second
        org = new_org()
        customer, sub = subscribed(org, t)
        same_second = [
            se.subscription("customer.subscription.updated", org, customer, sub, t + 500, period_end=renewed_end),
            se.subscription(
                "customer.subscription.updated", org, customer, sub, t + 500, status="past_due", period_end=renewed_end
            ),
        ]
        # When they arrive in one order or the other
        for i in order:
            assert deliver(same_second[i]).json()["outcome"] == "processed"
        finals.append(stored(database.owner, org))
    # Then both orders end in the state further along: past_due in the renewed period
    assert finals == [("pro", "past_due", False, renewed_end)] * 2


def test_a_cancellation_requested_in_the_second_of_another_update_is_kept_in_either_order(
    database: DatabaseUrls,
) -> None:
    t = int(time.time()) - 1000
    finals = []
    for order in ((0, 1), (1, 0)):
        org = new_org()
        customer, sub = subscribed(org, t)
        same_second = [
            se.subscription("customer.subscription.updated", org, customer, sub, t + 500),
            se.subscription("customer.subscription.updated", org, customer, sub, t + 500, cancel_at_period_end=True),
        ]
        for i in order:
            assert deliver(same_second[i]).status == 200
        finals.append(stored(database.owner, org)[:3])
    assert finals == [("pro", "active", True)] * 2


def test_a_checkout_naming_another_org_for_a_linked_customer_is_refused_for_review(
    database: DatabaseUrls, logged_warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    # Given org A linked to its customer
    t = int(time.time()) - 1000
    org_a, org_b = new_org(), new_org()
    customer, _ = subscribed(org_a, t)
    # When a checkout of that customer names org B as its client_reference_id
    claim = se.checkout_completed(org_b, customer, f"sub_{org_b}", t + 10)
    reply = deliver(claim)
    # Then it is refused, kept failed for review (no retry), and logged with both orgs
    assert (reply.status, reply.json()["outcome"]) == (200, "failed")
    error, retry = one(
        database.owner, "SELECT last_error, next_attempt_at FROM webhook_inbox WHERE event_id = %s", claim["id"]
    )
    assert error.startswith("stripe_customer_conflict: ") and retry is None
    assert [(kw["org_id"], kw["customer"], kw["customer_org"]) for m, kw in logged_warnings
            if m == "stripe customer mapping conflict refused"] == [(org_b, customer, org_a)]  # fmt: skip
    # And nothing moved: A keeps its customer and plan, B has no link and no ledger entry
    assert one(database.owner, "SELECT org_id FROM subscriptions WHERE stripe_customer_id = %s", customer) == org_a
    assert one(database.owner, "SELECT count(*) FROM subscriptions WHERE org_id = %s", org_b) == 0
    assert one(database.owner, "SELECT count(*) FROM billing_ledger WHERE org_id = %s", org_b) == 0
    # And a subscription event whose metadata names B for A's customer is refused alike
    moved = se.subscription("customer.subscription.updated", org_b, customer, f"sub_{org_a}", t + 20, plan="business")
    assert deliver(moved).json()["outcome"] == "failed"
    assert stored(database.owner, org_a)[:2] == ("pro", "active")


def test_a_checkout_of_another_customer_naming_a_linked_org_does_not_replace_its_customer(
    database: DatabaseUrls,
) -> None:
    # Given org A linked to its customer
    t = int(time.time()) - 1000
    org_a = new_org()
    customer, sub = subscribed(org_a, t)
    # When a checkout of another customer names org A (a client_reference_id set by someone else)
    intruder = f"cus_intruder{uuid.uuid4().hex[:6]}"
    claim = se.checkout_completed(org_a, intruder, f"sub_{intruder}", t + 10)
    # Then it is refused and A's link stays
    assert deliver(claim).json()["outcome"] == "failed"
    assert one(database.owner, "SELECT stripe_customer_id, stripe_subscription_id FROM subscriptions WHERE org_id = %s",
               org_a) == (customer, sub)  # fmt: skip
    assert one(database.owner, "SELECT count(*) FROM subscriptions WHERE stripe_customer_id = %s", intruder) == 0
    # And A's own customer's invoices still reach A
    paid = se.invoice("invoice.paid", customer, sub, t + 30)
    assert deliver(paid).json()["outcome"] == "processed"
    assert one(database.owner, "SELECT org_id FROM billing_ledger WHERE source_event_id = %s", paid["id"]) == org_a
