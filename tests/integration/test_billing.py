"""Billing: Stripe webhooks through the inbox (signed for real), checkout and portal through the
real stripe client against a local stand-in, entitlements and the billing view."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sheetbrain.billing import service, stripe_gateway
from sheetbrain.db import tenancy_repo
from sheetbrain_dev.database import DatabaseUrls

from tests import stripe_events as se
from tests.stripe_standin import StripeStandIn
from tests.support import Reply, SettingsEnv, call, claims_for


@pytest.fixture(autouse=True)
def stripe_settings(database: DatabaseUrls, standin: StripeStandIn, settings_env: SettingsEnv) -> Iterator[None]:
    settings_env(
        STRIPE_WEBHOOK_SECRET=se.SECRET,
        STRIPE_API_KEY="sk_test_sheetbrain",
        STRIPE_API_BASE=standin.url,
        STRIPE_PRICE_PRO=se.PRICES["pro"],
        STRIPE_PRICE_BUSINESS=se.PRICES["business"],
        STRIPE_PRICE_ENTERPRISE=se.PRICES["enterprise"],
        ALLOWED_REDIRECT_ORIGINS="https://app.test",
    )
    stripe_gateway.reset_client()
    yield
    stripe_gateway.reset_client()  # settings_env then restores the variables and settings


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


@pytest.mark.dates
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


@pytest.mark.dates
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
    assert (
        one(
            database.owner,
            "SELECT count(*) FROM billing_ledger WHERE org_id = %s AND kind = 'second_live_subscription'",
            org,
        )
        == 0
    )
    # but once the live one ends, a new live subscription takes over
    assert deliver(se.subscription("customer.subscription.deleted", org, customer, "sub_live", t + 20)).status == 200
    assert (
        deliver(
            se.subscription("customer.subscription.created", org, customer, "sub_new", t + 30, plan="business")
        ).status
        == 200
    )
    assert state(database.owner, org)[:2] == ("business", "active") and state(database.owner, org)[5] == "sub_new"


def test_a_clashing_customer_idempotency_key_is_a_retryable_503(database: DatabaseUrls, standin: StripeStandIn) -> None:
    org, _, claims = new_org()
    body = {"plan": "pro", "success_url": "https://app.test/ok", "cancel_url": "https://app.test/cancel"}
    # Given another first-time call for the org that sent the customer's idempotency key with
    # other parameters (the org renamed meanwhile) and has not stored its customer yet
    other = stripe_gateway.create_customer(org_id=org, name="Renamed Ltd")
    # When this call creates the customer under the same key, Stripe answers idempotency_error
    clash = call("POST", "/api/billing/checkout", claims=claims, body=body)
    # Then the caller gets a retryable 503, not a 500
    assert (clash.status, clash.json()["error"]["code"]) == (503, "dependency_unavailable")
    assert [h["idempotency-key"] for path, p, h in standin.requests if p.get("metadata", {}).get("org_id") == org] == [
        f"sheetbrain-customer-{org}"
    ] * 2
    # and once the other call has stored its customer, the retry uses it
    with psycopg.connect(database.owner) as conn:
        conn.execute("INSERT INTO subscriptions (org_id, stripe_customer_id) VALUES (%s, %s)", (org, other))
    retried = call("POST", "/api/billing/checkout", claims=claims, body=body)
    assert retried.status == 200
    sessions = [
        p for path, p, _ in standin.requests if path == "/v1/checkout/sessions" and p["client_reference_id"] == org
    ]
    assert [s["customer"] for s in sessions] == [other]


def test_a_refused_key_and_unclassified_stripe_errors_are_named_errors(standin: StripeStandIn) -> None:
    _, _, claims = new_org()
    body = {"return_url": "https://app.test/settings"}
    # A restricted key without the permission (403): the operator must fix the configuration
    standin.failures = [403]
    denied = call("POST", "/api/billing/portal", claims=claims, body=body)
    assert (denied.status, denied.json()["error"]["code"]) == (500, "configuration_error")
    # which permission is missing is for the operator's log, not the caller's body
    assert "customers.create" not in denied.body.decode()
    # An error type the gateway does not classify (a card error) is named, not an internal error
    standin.failures = [402]
    refused = call("POST", "/api/billing/portal", claims=claims, body=body)
    error = refused.json()["error"]
    assert (refused.status, error["code"]) == (500, "payment_provider_error")
    assert error["details"]["provider_error"] == "CardError" and "Traceback" not in error["message"]
    assert call("POST", "/api/billing/portal", claims=claims, body=body).status == 200


def test_checkout_reads_the_billing_account_once_and_the_org_only_to_create_a_customer(
    standin: StripeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, _, claims = new_org()
    body = {"plan": "pro", "success_url": "https://app.test/ok", "cancel_url": "https://app.test/cancel"}
    transactions: list[str] = []
    org_reads: list[str] = []
    tenant_transaction, get_org = service.tenant_transaction, tenancy_repo.get_org

    def counted_transaction(org_id: str, user_id: str | None = None) -> Any:
        transactions.append(org_id)
        return tenant_transaction(org_id, user_id)

    def counted_get_org(conn: psycopg.Connection, org_id: str) -> Any:
        org_reads.append(org_id)
        return get_org(conn, org_id)

    monkeypatch.setattr(service, "tenant_transaction", counted_transaction)
    monkeypatch.setattr(tenancy_repo, "get_org", counted_get_org)
    # First checkout: one read of subscription and org, one write of the new customer
    assert call("POST", "/api/billing/checkout", claims=claims, body=body).status == 200
    assert (transactions, org_reads) == ([org, org], [org])
    transactions.clear()
    org_reads.clear()
    # Later ones: the subscription read once, the org never
    assert call("POST", "/api/billing/checkout", claims=claims, body=body).status == 200
    assert (transactions, org_reads) == ([org], [])


def test_a_cancellation_at_a_price_we_do_not_sell_still_ends_the_paid_plan(
    database: DatabaseUrls, logged_warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    org, _, claims = new_org()
    customer, sub = f"cus_{org}", f"sub_{org}"
    t = int(time.time()) - 1000
    annual = "price_pro_annual_2025"
    assert deliver(se.subscription("customer.subscription.created", org, customer, sub, t)).status == 200
    # The customer switched to an annual price in the portal (not configured here) ...
    year_end = t + 100 + 365 * 86400
    switched = se.subscription(
        "customer.subscription.updated", org, customer, sub, t + 100, price=annual, period_end=year_end
    )
    assert deliver(switched).json()["outcome"] == "processed"
    assert state(database.owner, org)[:3] == ("pro", "active", False)
    assert state(database.owner, org)[6] == datetime.fromtimestamp(year_end, tz=UTC)
    # ... asked to cancel at period end, then Stripe ended the subscription
    cancel = se.subscription(
        "customer.subscription.updated", org, customer, sub, t + 200, price=annual, cancel_at_period_end=True
    )
    assert deliver(cancel).json()["outcome"] == "processed"
    assert state(database.owner, org)[:3] == ("pro", "active", True)
    deleted = se.subscription("customer.subscription.deleted", org, customer, sub, t + 300, price=annual)
    assert deliver(deleted).json()["outcome"] == "processed"
    assert state(database.owner, org)[:2] == ("pro", "canceled")
    assert call("GET", "/api/billing", claims=claims).json()["plan"] == "free"
    assert one(
        database.owner,
        "SELECT details FROM billing_ledger WHERE org_id = %s AND kind = 'subscription_canceled'",
        org,
    ) == {"plan": "pro", "price": annual}
    assert one(
        database.owner,
        "SELECT array_agg(to_plan || ':' || to_status ORDER BY effective_at) FROM plan_changes WHERE org_id = %s",
        org,
    ) == ["pro:active", "pro:canceled"]
    unknown = [kw for msg, kw in logged_warnings if msg == "stripe price sells no plan"]
    assert [(kw["subscription"], kw["price"], kw["plan"]) for kw in unknown] == [(sub, annual, "pro")] * 3


def test_a_new_subscription_at_a_price_we_do_not_sell_is_recorded_without_paid_limits(
    database: DatabaseUrls, logged_warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    org, _, claims = new_org()
    customer, sub = f"cus_{org}", f"sub_{org}"
    t = int(time.time()) - 1000
    created = se.subscription("customer.subscription.created", org, customer, sub, t, price="price_legacy")
    assert deliver(created).json()["outcome"] == "processed"
    # Its status and ids are on record; no paid plan is granted for a price mapped to none
    assert state(database.owner, org)[:2] == ("free", "active")
    assert state(database.owner, org)[4:6] == (customer, sub)
    assert call("GET", "/api/billing", claims=claims).json()["plan"] == "free"
    assert ("stripe price sells no plan", "price_legacy") in [(m, kw.get("price")) for m, kw in logged_warnings]
    # A later event at a price we sell brings its plan
    moved = se.subscription("customer.subscription.updated", org, customer, sub, t + 10, plan="business")
    assert deliver(moved).status == 200
    assert state(database.owner, org)[:2] == ("business", "active")


def test_a_second_live_subscription_is_kept_out_but_logged_and_recorded(
    database: DatabaseUrls, logged_warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    org, _, _ = new_org()
    customer, first, second = f"cus_{org}", f"sub_{org}_1", f"sub_{org}_2"
    t = int(time.time()) - 100
    assert deliver(se.subscription("customer.subscription.created", org, customer, first, t)).status == 200
    # A second checkout went through too: the customer now pays for two subscriptions
    double = se.subscription("customer.subscription.created", org, customer, second, t + 5, plan="business")
    assert deliver(double).json()["outcome"] == "processed"
    assert state(database.owner, org)[:2] == ("pro", "active") and state(database.owner, org)[5] == first
    seen = [kw for msg, kw in logged_warnings if msg == "second live stripe subscription kept out"]
    assert [(kw["subscription"], kw["current_subscription"]) for kw in seen] == [(second, first)]
    ledger = one(
        database.owner,
        "SELECT stripe_object, details FROM billing_ledger WHERE org_id = %s AND kind = 'second_live_subscription'",
        org,
    )
    assert ledger == (
        second,
        {"current_subscription": first, "status": "active", "plan": "business", "price": se.PRICES["business"]},
    )


def test_a_subscription_is_found_by_its_own_id_before_a_customer_match(database: DatabaseUrls) -> None:
    from sheetbrain.db import billing_repo

    # Given the customer's id on one org without a subscription, and the subscription on another
    first, _, _ = new_org()
    second, _, _ = new_org()
    with psycopg.connect(database.owner) as conn:
        for org, customer, sub in ((first, "cus_shared", None), (second, "cus_other", "sub_wanted")):
            conn.execute(
                """INSERT INTO subscriptions (org_id, stripe_customer_id, stripe_subscription_id) VALUES (%s, %s, %s)
                   ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = EXCLUDED.stripe_customer_id,
                       stripe_subscription_id = EXCLUDED.stripe_subscription_id""",
                (org, customer, sub),
            )
        # When an event names both, Then the subscription's org wins
        assert billing_repo.org_for_stripe(conn, "cus_shared", "sub_wanted") == second
        conn.rollback()
