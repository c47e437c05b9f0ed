"""Billing: Stripe webhooks through the inbox (signed for real), checkout and portal through the
real stripe client against a local stand-in, entitlements and the billing view."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sheetbrain.billing import stripe_gateway
from sheetbrain.config import reset_settings
from sheetbrain_dev.database import DatabaseUrls

from tests import stripe_events as se
from tests.stripe_standin import StripeStandIn
from tests.support import Reply, call, claims_for


@pytest.fixture(scope="module")
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn().start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def stripe_settings(database: DatabaseUrls, standin: StripeStandIn) -> Iterator[None]:
    values = {
        "STRIPE_WEBHOOK_SECRET": se.SECRET,
        "STRIPE_API_KEY": "sk_test_sheetbrain",
        "STRIPE_API_BASE": standin.url,
        "STRIPE_PRICE_PRO": se.PRICES["pro"],
        "STRIPE_PRICE_BUSINESS": se.PRICES["business"],
        "STRIPE_PRICE_ENTERPRISE": se.PRICES["enterprise"],
    }
    os.environ.update(values)
    reset_settings()
    stripe_gateway.reset_client()
    yield
    for key in values:
        del os.environ[key]
    reset_settings()
    stripe_gateway.reset_client()


def deliver(evt: dict[str, Any] | str, *, timestamp: int | None = None, secret: str = se.SECRET) -> Reply:
    body = evt if isinstance(evt, str) else se.body_of(evt)
    headers = {
        "content-type": "application/json",
        "stripe-signature": se.signature(body, timestamp=timestamp, secret=secret),
    }
    return call("POST", "/api/webhooks/stripe", raw_body=body.encode(), headers=headers)


def one(owner: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(owner) as conn:
        row = conn.execute(sql, params).fetchone()
    return row if row is None or len(row) > 1 else row[0]


def new_org(admin: bool = True) -> tuple[str, str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    org, user = f"org_bill{suffix}", f"user_bill{suffix}"
    claims = claims_for(user, org, "org:admin" if admin else "org:member")
    assert call("GET", "/api/billing", claims=claims).status == 200
    return org, user, claims


def plan_at(owner: str, org: str, at: datetime) -> str:
    return str(one(owner, "SELECT effective_plan(%s, %s)", org, at))


def state(owner: str, org: str) -> tuple[Any, ...]:
    return one(
        owner,
        """SELECT plan_code, status, cancel_at_period_end, past_due_since IS NOT NULL, stripe_customer_id,
                  stripe_subscription_id, current_period_end FROM subscriptions WHERE org_id = %s""",
        org,
    )


def lifecycle(org: str, customer: str, sub: str, t0: int) -> list[dict[str, Any]]:
    """checkout → active → invoice failed → past_due → invoice paid → active → cancel at period
    end → deleted, with Stripe's distinct event times."""
    return [
        se.checkout_completed(org, customer, sub, t0),
        se.subscription("customer.subscription.created", org, customer, sub, t0 + 1),
        se.invoice("invoice.paid", customer, sub, t0 + 2),
        se.invoice("invoice.payment_failed", customer, sub, t0 + 100),
        se.subscription("customer.subscription.updated", org, customer, sub, t0 + 101, status="past_due"),
        se.invoice("invoice.paid", customer, sub, t0 + 200),
        se.subscription("customer.subscription.updated", org, customer, sub, t0 + 201, status="active"),
        se.subscription("customer.subscription.updated", org, customer, sub, t0 + 300, cancel_at_period_end=True),
        se.subscription("customer.subscription.deleted", org, customer, sub, t0 + 400, status="canceled"),
    ]


def test_full_lifecycle_moves_plan_and_limits(database: DatabaseUrls) -> None:
    org, _, claims = new_org()
    customer, sub = f"cus_{org}", f"sub_{org}"
    t0 = int(time.time()) - 1000
    events = lifecycle(org, customer, sub, t0)
    owner = database.owner

    # checkout completed, subscription active: pro limits
    for evt in events[:3]:
        assert deliver(evt).json()["outcome"] == "processed"
    assert state(owner, org)[:2] == ("pro", "active")
    billing = call("GET", "/api/billing", claims=claims).json()
    assert billing["plan"] == "pro" and billing["entitlements"]["audits_per_month"] == 1000

    # invoice failed → past_due: the plan holds through the grace period, then free limits
    for evt in events[3:5]:
        assert deliver(evt).status == 200
    assert state(owner, org)[:4] == ("pro", "past_due", False, True)
    past_due_at = datetime.fromtimestamp(t0 + 101, tz=UTC)
    assert plan_at(owner, org, past_due_at + timedelta(days=6)) == "pro"
    assert plan_at(owner, org, past_due_at + timedelta(days=8)) == "free"
    assert one(owner, "SELECT entitlement(%s, 'audits_per_month', %s)", org, past_due_at + timedelta(days=8)) == 10

    # invoice paid → restored
    for evt in events[5:7]:
        assert deliver(evt).status == 200
    assert state(owner, org)[:4] == ("pro", "active", False, False)
    assert plan_at(owner, org, past_due_at + timedelta(days=30)) == "pro"

    # canceled at period end: still pro until Stripe ends it, then free
    assert deliver(events[7]).status == 200
    assert state(owner, org)[:3] == ("pro", "active", True)
    assert deliver(events[8]).status == 200
    assert state(owner, org)[:2] == ("pro", "canceled")
    assert call("GET", "/api/billing", claims=claims).json()["plan"] == "free"

    # every money-related event is in the ledger once; plan changes are recorded with reasons
    kinds = one(owner, "SELECT array_agg(kind ORDER BY occurred_at) FROM billing_ledger WHERE org_id = %s", org)
    assert kinds == [
        "checkout_completed",
        "invoice_paid",
        "invoice_payment_failed",
        "invoice_paid",
        "subscription_canceled",
    ]
    changes = one(
        owner,
        "SELECT array_agg(to_status || ':' || reason ORDER BY effective_at) FROM plan_changes WHERE org_id = %s",
        org,
    )
    assert changes == [
        "active:customer.subscription.created",
        "past_due:customer.subscription.updated",
        "active:customer.subscription.updated",
        "canceled:customer.subscription.deleted",
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege), psycopg.connect(owner) as conn:
        conn.execute("UPDATE billing_ledger SET amount_cents = 0 WHERE org_id = %s", (org,))


def test_shuffled_and_duplicated_delivery_ends_in_the_same_state(database: DatabaseUrls) -> None:
    t0 = int(time.time()) - 1000
    org_a, _, _ = new_org()
    org_b, _, _ = new_org()
    ordered = lifecycle(org_a, f"cus_{org_a}", f"sub_{org_a}", t0)
    mixed = lifecycle(org_b, f"cus_{org_b}", f"sub_{org_b}", t0)
    mixed = mixed + random.Random(3).sample(mixed, 4)
    random.Random(11).shuffle(mixed)
    for evt in ordered:
        assert deliver(evt).status == 200
    first_pass = [deliver(evt).json()["outcome"] for evt in mixed]
    # An event seen before its org is known is recorded failed; Stripe redelivers it (as the
    # cleanup task's retry would), and the redelivery applies it.
    second_pass = [deliver(evt).json()["outcome"] for evt in mixed]
    assert "duplicate" in first_pass
    assert set(second_pass) <= {"duplicate", "processed"}
    ids = [evt["id"] for evt in mixed]
    assert (
        one(database.owner, "SELECT count(*) FROM webhook_inbox WHERE event_id = ANY(%s) AND status = 'failed'", ids)
        == 0
    )
    a, b = state(database.owner, org_a), state(database.owner, org_b)
    assert a[:4] == b[:4] == ("pro", "canceled", False, False)
    assert one(database.owner, "SELECT count(*) FROM billing_ledger WHERE org_id = %s", org_b) == 5


def test_signature_timestamp_type_and_body_errors(database: DatabaseUrls) -> None:
    org, _, _ = new_org()
    evt = se.subscription("customer.subscription.created", org, "cus_x", "sub_x", int(time.time()))
    bad = deliver(evt, secret="whsec_wrong")
    assert (bad.status, bad.json()["error"]["code"]) == (400, "invalid_signature")
    stale = deliver(evt, timestamp=int(time.time()) - 600)
    assert (stale.status, stale.json()["error"]["code"]) == (400, "invalid_signature")
    assert one(database.owner, "SELECT count(*) FROM webhook_inbox WHERE event_id = %s", evt["id"]) == 0
    unknown = deliver(se.event("payment_intent.created", {"id": "pi_1", "object": "payment_intent"}, int(time.time())))
    assert (unknown.status, unknown.json()["outcome"]) == (200, "ignored")
    malformed = deliver('{"id": "evt_broken", ')
    assert (malformed.status, malformed.json()["error"]["code"]) == (400, "bad_request")
    assert (
        one(
            database.owner,
            "SELECT status FROM webhook_inbox WHERE provider = 'stripe' AND raw_body = %s",
            '{"id": "evt_broken", ',
        )
        == "failed"
    )


def test_checkout_creates_the_customer_once_and_returns_a_session_url(standin: StripeStandIn) -> None:
    org, _, claims = new_org()
    body = {"plan": "pro", "success_url": "https://app.test/ok", "cancel_url": "https://app.test/cancel"}
    first = call("POST", "/api/billing/checkout", claims=claims, body=body)
    second = call("POST", "/api/billing/checkout", claims=claims, body=body)
    assert first.status == 200 and first.json()["url"].startswith("https://checkout.stripe.test/")
    assert second.status == 200
    customers = [p for path, p, _ in standin.requests if path == "/v1/customers" and p["metadata"]["org_id"] == org]
    sessions = [
        p for path, p, _ in standin.requests if path == "/v1/checkout/sessions" and p["client_reference_id"] == org
    ]
    assert len(customers) == 1
    assert sessions[0]["mode"] == "subscription"
    assert sessions[0]["line_items"] == [{"price": se.PRICES["pro"], "quantity": "1"}]
    assert sessions[0]["subscription_data"] == {"metadata": {"org_id": org}}
    assert len({s["customer"] for s in sessions}) == 1


def test_portal_returns_a_url_and_members_are_refused(standin: StripeStandIn) -> None:
    org, user, claims = new_org()
    reply = call("POST", "/api/billing/portal", claims=claims, body={"return_url": "https://app.test/settings"})
    assert reply.status == 200 and reply.json()["url"].startswith("https://billing.stripe.test/")
    member = claims_for(f"{user}_m", org, "org:member")
    refused = call("POST", "/api/billing/portal", claims=member, body={"return_url": "https://app.test/settings"})
    assert (refused.status, refused.json()["error"]["code"]) == (403, "forbidden")


def test_checkout_validation_and_provider_outage(standin: StripeStandIn) -> None:
    _, _, claims = new_org()
    invalid = call(
        "POST", "/api/billing/checkout", claims=claims, body={"plan": "gold", "success_url": "x", "cancel_url": "y"}
    )
    assert invalid.status == 422
    assert {f["field"] for f in invalid.json()["error"]["details"]["fields"]} >= {"body.plan", "body.success_url"}
    # A failing provider: the client retries twice, then the caller gets a clean 503.
    standin.failures = [500, 500, 500]
    down = call("POST", "/api/billing/portal", claims=claims, body={"return_url": "https://app.test/settings"})
    assert (down.status, down.json()["error"]["code"]) == (503, "dependency_unavailable")
    # One transient failure is absorbed by the client's retry.
    standin.failures = [500]
    recovered = call("POST", "/api/billing/portal", claims=claims, body={"return_url": "https://app.test/settings"})
    assert recovered.status == 200


def test_billing_view_shows_usage_against_limits(database: DatabaseUrls) -> None:
    _, _, claims = new_org()
    body = call("GET", "/api/billing", claims=claims).json()
    assert body["plan"] == "free" and body["status"] == "none"
    lines = {u["feature"]: u for u in body["usage"]}
    assert lines["audits_per_month"] == {"feature": "audits_per_month", "used": 0, "limit": 10}
    assert lines["seats"]["used"] == 1


def test_same_second_events_do_not_undo_an_activation(database: DatabaseUrls) -> None:
    org, _, _ = new_org()
    customer, sub = f"cus_{org}", f"sub_{org}"
    t = int(time.time()) - 100
    # Given Stripe's created (incomplete) and updated (active) stamped in the same second,
    # delivered in the wrong order
    assert (
        deliver(se.subscription("customer.subscription.updated", org, customer, sub, t, status="active")).status == 200
    )
    assert (
        deliver(se.subscription("customer.subscription.created", org, customer, sub, t, status="incomplete")).status
        == 200
    )
    # Then the subscription stays active
    assert state(database.owner, org)[:2] == ("pro", "active")


def test_events_of_a_second_abandoned_subscription_do_not_override_the_live_one(database: DatabaseUrls) -> None:
    org, _, _ = new_org()
    customer = f"cus_{org}"
    t = int(time.time()) - 100
    assert deliver(se.subscription("customer.subscription.created", org, customer, "sub_live", t)).status == 200
    # A second checkout's subscription never went live and expired later
    assert (
        deliver(
            se.subscription("customer.subscription.created", org, customer, "sub_stale", t + 5, status="incomplete")
        ).status
        == 200
    )
    assert (
        deliver(
            se.subscription(
                "customer.subscription.updated", org, customer, "sub_stale", t + 10, status="incomplete_expired"
            )
        ).status
        == 200
    )
    assert state(database.owner, org)[:2] == ("pro", "active")
    assert state(database.owner, org)[5] == "sub_live"
    # but once the live one ends, a new live subscription takes over
    assert deliver(se.subscription("customer.subscription.deleted", org, customer, "sub_live", t + 20)).status == 200
    assert (
        deliver(
            se.subscription("customer.subscription.created", org, customer, "sub_new", t + 30, plan="business")
        ).status
        == 200
    )
    assert state(database.owner, org)[:2] == ("business", "active") and state(database.owner, org)[5] == "sub_new"
