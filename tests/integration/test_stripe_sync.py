"""How the Stripe sync reads an event's payload and what it stores: events applied through
``apply_stripe_event`` in the layer's own system transaction, against the real database.
(The signed path through the webhook handler and inbox: test_billing.py, test_stripe_rules.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.billing.stripe_sync import apply_stripe_event
from sheetbrain.db.connection import system_transaction
from sheetbrain.errors import SheetBrainError
from sheetbrain.observability import logger
from sheetbrain_dev.database import DatabaseUrls

from tests import stripe_events as se
from tests.support import SettingsEnv

T = 1_800_000_000  # 2027-01-15 08:00:00 UTC: a fixed moment, so stored times are exact
PRO, BUSINESS = se.PRICES["pro"], se.PRICES["business"]


@pytest.fixture(autouse=True)
def stripe_settings(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(
        STRIPE_WEBHOOK_SECRET=se.SECRET,
        STRIPE_PRICE_PRO=PRO,
        STRIPE_PRICE_BUSINESS=BUSINESS,
        STRIPE_PRICE_ENTERPRISE=se.PRICES["enterprise"],
    )


@pytest.fixture
def owner(database: DatabaseUrls) -> str:
    return database.owner


@pytest.fixture
def unsold_prices(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keys of each "stripe price sells no plan" warning, still logged as usual."""
    seen: list[dict[str, Any]] = []
    warn = logger.warning

    def spy(msg: object, *args: Any, **kwargs: Any) -> None:
        if msg == "stripe price sells no plan":
            seen.append(kwargs)
        warn(msg, *args, **kwargs)

    monkeypatch.setattr(logger, "warning", spy)
    return seen


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def new_org(owner: str) -> str:
    org = f"org_sync{uuid.uuid4().hex[:10]}"
    with psycopg.connect(owner) as conn:
        conn.execute("INSERT INTO organizations (id) VALUES (%s)", (org,))
    return org


def linked_org(owner: str) -> tuple[str, str, str]:
    """A new org linked by its checkout to customer ``cus_<org>`` and subscription ``sub_<org>``."""
    org = new_org(owner)
    customer, sub = f"cus_{org}", f"sub_{org}"
    apply(se.checkout_completed(org, customer, sub, T))
    return org, customer, sub


def apply(event: dict[str, Any]) -> bool:
    with system_transaction() as conn:
        return apply_stripe_event(conn, event)


def refusal(event: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    with pytest.raises(SheetBrainError) as caught:
        apply(event)
    exc = caught.value
    return type(exc).__name__, exc.code, exc.message, exc.details


def rows(owner: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(sql, params).fetchall()


def subscription_row(owner: str, org: str) -> tuple[Any, ...] | None:
    found = rows(
        owner,
        """SELECT stripe_customer_id, stripe_subscription_id, plan_code, status, current_period_start,
                  current_period_end, cancel_at_period_end, canceled_at, past_due_since, source_event_created
           FROM subscriptions WHERE org_id = %s""",
        org,
    )
    return found[0] if found else None


def ledger(owner: str, org: str) -> list[tuple[Any, ...]]:
    return rows(
        owner,
        """SELECT source_event_id, kind, amount_cents, currency, stripe_object, occurred_at, details
           FROM billing_ledger WHERE org_id = %s ORDER BY id""",
        org,
    )


def plan_changes(owner: str, org: str) -> list[tuple[Any, ...]]:
    return rows(
        owner,
        """SELECT from_plan, from_status, to_plan, to_status, reason, effective_at, source_event
           FROM plan_changes WHERE org_id = %s ORDER BY id""",
        org,
    )


def sub_event(
    event_type: str, org: str, sub: str, created: float, *, customer: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A subscription event of ``org``'s customer (``cus_<org>`` unless named) whose object
    fields ``fields`` replace (``metadata=None`` drops the org from the metadata)."""
    evt = se.subscription(event_type, org, customer or f"cus_{org}", sub, int(created))
    evt["created"] = created
    evt["data"]["object"].update(fields)
    return evt


def item(price: str, start: int, end: int) -> dict[str, Any]:
    return {"data": [{"price": {"id": price}, "current_period_start": start, "current_period_end": end}]}


# --- event types and the event's own fields --------------------------------------------------


def test_an_event_type_it_does_not_handle_is_not_applied(owner: str) -> None:
    # Given events of a type the sync does not handle, and one without a type
    org = new_org(owner)
    others = [
        se.event("payment_intent.created", {"id": "pi_1", "customer": f"cus_{org}"}, T),
        {"id": "evt_no_type", "data": {"object": {"id": "cs_1", "mode": "subscription"}}, "created": T},
    ]
    # When they are applied, Then each is reported as not handled and nothing is stored
    assert [apply(evt) for evt in others] == [False, False]
    assert (subscription_row(owner, org), ledger(owner, org)) == (None, [])


@pytest.mark.parametrize("event_id", [None, 42, ["evt_1"]])
def test_an_event_without_a_text_id_is_refused(owner: str, event_id: Any) -> None:
    # Given a subscription event whose id is missing or not text
    org = new_org(owner)
    evt = sub_event("customer.subscription.created", org, f"sub_{org}", T)
    if event_id is None:
        del evt["id"]
    else:
        evt["id"] = event_id
    # When it is applied, Then it is refused naming the field, and nothing is stored
    assert refusal(evt) == ("StripePayloadError", "invalid_webhook_payload", "Stripe event has no id.", {"field": "id"})
    assert subscription_row(owner, org) is None


@pytest.mark.parametrize(
    "data",
    [None, "text", {}, {"object": None}, {"object": "sub_1"}, {"object": ["sub_1"]}],
    ids=["no-data", "data-text", "no-object", "object-null", "object-text", "object-list"],
)
@pytest.mark.parametrize("event_type", ["checkout.session.completed", "customer.subscription.updated", "invoice.paid"])
def test_an_event_without_an_object_is_refused(owner: str, event_type: str, data: Any) -> None:
    # Given an event of each handled kind whose data.object is missing or not an object
    evt = se.event(event_type, {}, T)
    evt["data"] = data
    # When it is applied, Then it is refused naming data.object
    assert refusal(evt) == (
        "StripePayloadError",
        "invalid_webhook_payload",
        "Stripe event has no data.object.",
        {"field": "data.object"},
    )


@pytest.mark.parametrize("created", [None, "1800000000", True, [T]], ids=["missing", "text", "bool", "list"])
@pytest.mark.parametrize("kind", ["checkout", "subscription", "invoice"])
def test_an_event_without_a_numeric_created_is_refused_and_stores_nothing(owner: str, kind: str, created: Any) -> None:
    # Given an org whose customer is linked, and an event of it whose created is not a number
    org = new_org(owner)
    customer, sub = f"cus_{org}", f"sub_{org}"
    evt = {
        "checkout": se.checkout_completed(org, customer, sub, T),
        "subscription": sub_event("customer.subscription.updated", org, sub, T),
        "invoice": se.invoice("invoice.paid", customer, sub, T),
    }[kind]
    if kind == "invoice":
        apply(se.checkout_completed(org, customer, sub, T - 10))
    if created is None:
        del evt["created"]
    else:
        evt["created"] = created
    before = (subscription_row(owner, org), ledger(owner, org))
    # When it is applied, Then it is refused naming the field, and nothing changed
    assert refusal(evt) == (
        "StripePayloadError",
        "invalid_webhook_payload",
        "Stripe event has no numeric created.",
        {"field": "created"},
    )
    assert (subscription_row(owner, org), ledger(owner, org)) == before


def test_a_fractional_created_is_kept_to_the_microsecond(owner: str) -> None:
    # Given a checkout and a subscription event stamped with a fractional created
    org = new_org(owner)
    checkout = se.checkout_completed(org, f"cus_{org}", f"sub_{org}", T)
    checkout["created"] = T + 0.25
    # When they are applied
    assert apply(checkout) is True
    assert apply(sub_event("customer.subscription.created", org, f"sub_{org}", T + 1.5)) is True
    # Then the ledger's time and the subscription's watermark are those instants
    assert ledger(owner, org)[0][5] == at(T + 0.25)
    row = subscription_row(owner, org)
    assert row is not None and row[9] == at(T + 1.5)


# --- checkout.session.completed ----------------------------------------------------------------


def test_a_completed_checkout_links_the_ids_and_records_its_amount(owner: str) -> None:
    # Given a subscription checkout of 49.00 EUR naming the org
    org = new_org(owner)
    customer, sub = f"cus_{org}", f"sub_{org}"
    evt = se.checkout_completed(org, customer, sub, T)
    session = evt["data"]["object"]
    session.update(amount_total=4900, currency="eur", payment_status="no_payment_required")
    # When it is applied
    assert apply(evt) is True
    # Then the org holds the customer and subscription, still on the free plan without status
    assert subscription_row(owner, org) == (customer, sub, "free", "none", None, None, False, None, None, None)
    # And the ledger holds the checkout once, with its amount, currency and session
    assert ledger(owner, org) == [
        (
            evt["id"],
            "checkout_completed",
            4900,
            "eur",
            session["id"],
            at(T),
            {"subscription": sub, "payment_status": "no_payment_required"},
        )
    ]


def test_a_checkout_without_amount_currency_or_session_id_records_zero_usd(owner: str) -> None:
    # Given a subscription checkout without amount, currency, session id or payment status
    org = new_org(owner)
    evt = se.checkout_completed(org, f"cus_{org}", f"sub_{org}", T)
    for field in ("amount_total", "currency", "id", "payment_status"):
        del evt["data"]["object"][field]
    # When it is applied, Then its ledger line is 0 USD without a Stripe object
    assert apply(evt) is True
    assert ledger(owner, org) == [
        (evt["id"], "checkout_completed", 0, "usd", None, at(T), {"subscription": f"sub_{org}", "payment_status": None})
    ]


@pytest.mark.parametrize("mode", ["payment", "setup", None])
def test_a_checkout_that_is_not_a_subscription_stores_nothing(owner: str, mode: str | None) -> None:
    # Given a one-off payment or setup checkout (or one without a mode) naming the org
    org = new_org(owner)
    evt = se.checkout_completed(org, f"cus_{org}", f"sub_{org}", T)
    evt["data"]["object"]["mode"] = mode
    # When it is applied, Then it is handled but links nothing and records nothing
    assert apply(evt) is True
    assert (subscription_row(owner, org), ledger(owner, org)) == (None, [])


def test_a_checkout_takes_its_org_from_the_reference_then_the_metadata_then_the_link(owner: str) -> None:
    # Given three orgs, the third already linked to its customer
    by_ref, by_meta, by_link = new_org(owner), new_org(owner), new_org(owner)
    apply(se.checkout_completed(by_link, f"cus_{by_link}", f"sub_{by_link}", T))
    # When a checkout names its org only as client_reference_id (expanded ids), one only in
    # its metadata, and one of the linked customer names none
    ref = se.checkout_completed(by_ref, {"id": f"cus_{by_ref}"}, {"id": f"sub_{by_ref}"}, T)  # type: ignore[arg-type]
    ref["data"]["object"]["metadata"] = {}
    meta = se.checkout_completed(by_meta, f"cus_{by_meta}", f"sub_{by_meta}", T)
    meta["data"]["object"]["client_reference_id"] = ""
    link = se.checkout_completed(by_link, f"cus_{by_link}", f"sub_{by_link}", T + 5)
    link["data"]["object"].update(client_reference_id=None, metadata={"org_id": ""})
    for evt in (ref, meta, link):
        assert apply(evt) is True
    # Then each is linked to and recorded for its own org
    for org, n in ((by_ref, 1), (by_meta, 1), (by_link, 2)):
        row = subscription_row(owner, org)
        assert row is not None and row[:2] == (f"cus_{org}", f"sub_{org}")
        assert [line[1] for line in ledger(owner, org)] == ["checkout_completed"] * n


def _checkout_naming_no_org(customer: str, subscription: str) -> dict[str, Any]:
    evt = se.checkout_completed("org_none", customer, subscription, T)
    evt["data"]["object"].update(client_reference_id=None, metadata=None)
    return evt


@pytest.mark.parametrize(
    "event",
    [
        _checkout_naming_no_org,
        lambda cus, sub: sub_event("customer.subscription.updated", "org_none", sub, T, customer=cus, metadata=None),
        lambda cus, sub: se.invoice("invoice.payment_failed", cus, sub, T),
    ],
    ids=["checkout", "subscription", "invoice"],
)
def test_an_event_of_an_unknown_customer_naming_no_org_is_refused_for_a_retry(
    owner: str, event: Callable[[str, str], dict[str, Any]]
) -> None:
    # Given an event naming no org, of a customer and subscription linked to none
    evt = event("cus_nobody", "sub_nobody")
    # When it is applied, Then it is refused as an unknown customer, naming both ids
    assert refusal(evt) == (
        "UnknownStripeCustomerError",
        "unknown_stripe_customer",
        "No organization is linked to Stripe customer cus_nobody / subscription sub_nobody yet.",
        {"customer": "cus_nobody", "subscription": "sub_nobody"},
    )


def test_a_checkout_without_a_customer_links_only_its_subscription(owner: str) -> None:
    # Given a subscription checkout naming the org but no customer
    org = new_org(owner)
    evt = se.checkout_completed(org, "", f"sub_{org}", T)
    evt["data"]["object"]["customer"] = None
    # When it is applied, Then the subscription is linked and the checkout recorded
    assert apply(evt) is True
    row = subscription_row(owner, org)
    assert row is not None and row[:2] == (None, f"sub_{org}")
    assert [line[1] for line in ledger(owner, org)] == ["checkout_completed"]


# --- customer links never move ---------------------------------------------------------------


def test_a_customer_linked_to_another_org_is_refused_naming_both(owner: str) -> None:
    # Given org A linked to its customer, and org B without a customer
    org_a, org_b = new_org(owner), new_org(owner)
    customer = f"cus_{org_a}"
    apply(se.checkout_completed(org_a, customer, f"sub_{org_a}", T))
    # When a subscription event of A's customer names B in its metadata
    evt = sub_event("customer.subscription.created", org_b, f"sub_{org_b}", T + 10, customer=customer)
    # Then it is refused for review with both orgs, and B gets nothing
    assert refusal(evt) == (
        "StripeCustomerConflictError",
        "stripe_customer_conflict",
        f"Stripe customer {customer} is linked to organization {org_a}, organization {org_b} to customer None; "
        "the event would move a link and is kept for review.",
        {"org_id": org_b, "customer": customer, "customer_org": org_a, "org_customer": None},
    )
    assert subscription_row(owner, org_b) is None


def test_an_org_linked_to_another_customer_is_refused_naming_both(owner: str) -> None:
    # Given org A linked to its customer
    org = new_org(owner)
    apply(se.checkout_completed(org, f"cus_{org}", f"sub_{org}", T))
    # When a subscription event of another, unlinked customer names A
    evt = sub_event("customer.subscription.created", org, f"sub_{org}", T + 10, customer="cus_other")
    # Then it is refused for review, and A keeps its customer and plan
    assert refusal(evt) == (
        "StripeCustomerConflictError",
        "stripe_customer_conflict",
        f"Stripe customer cus_other is linked to organization None, organization {org} to customer cus_{org}; "
        "the event would move a link and is kept for review.",
        {"org_id": org, "customer": "cus_other", "customer_org": None, "org_customer": f"cus_{org}"},
    )
    row = subscription_row(owner, org)
    assert row is not None and row[:4] == (f"cus_{org}", f"sub_{org}", "free", "none")


def test_the_org_own_customer_and_a_first_customer_are_accepted(owner: str) -> None:
    # Given org A linked to its customer, and org B linked to none
    org_a, org_b = new_org(owner), new_org(owner)
    apply(se.checkout_completed(org_a, f"cus_{org_a}", f"sub_{org_a}", T))
    # When each gets a subscription event of its own customer
    for org in (org_a, org_b):
        assert apply(sub_event("customer.subscription.created", org, f"sub_{org}", T + 10)) is True
    # Then both are applied
    for org in (org_a, org_b):
        row = subscription_row(owner, org)
        assert row is not None and row[:4] == (f"cus_{org}", f"sub_{org}", "pro", "active")


# --- subscription events -----------------------------------------------------------------------


def test_a_subscription_event_stores_every_field_of_its_state(owner: str) -> None:
    # Given an org, and a trialing business subscription (expanded customer) set to cancel at
    # period end, with a cancellation time and its period on its first item
    org = new_org(owner)
    sub = f"sub_{org}"
    evt = sub_event(
        "customer.subscription.created",
        org,
        sub,
        T,
        customer={"id": f"cus_{org}", "object": "customer"},
        status="trialing",
        cancel_at_period_end=True,
        canceled_at=T - 60,
        items=item(BUSINESS, T - 100, T + 1000),
    )
    # When it is applied
    assert apply(evt) is True
    # Then every field is stored, with the event's created as the watermark
    assert subscription_row(owner, org) == (
        f"cus_{org}",
        sub,
        "business",
        "trialing",
        at(T - 100),
        at(T + 1000),
        True,
        at(T - 60),
        None,
        at(T),
    )
    # And the plan change is recorded with its reason, time and event
    assert plan_changes(owner, org) == [
        ("free", "none", "business", "trialing", "customer.subscription.created", at(T), evt["id"])
    ]


def test_a_period_on_the_subscription_itself_wins_over_its_item(owner: str) -> None:
    # Given a subscription event of an older API version: the period on the subscription
    # itself, another on its item
    org = new_org(owner)
    evt = sub_event(
        "customer.subscription.created",
        org,
        f"sub_{org}",
        T,
        current_period_start=T - 10,
        current_period_end=T + 10,
        items=item(PRO, T - 500, T + 500),
    )
    # When it is applied, Then the subscription's own period is stored
    assert apply(evt) is True
    row = subscription_row(owner, org)
    assert row is not None and row[4:6] == (at(T - 10), at(T + 10))


@pytest.mark.parametrize(
    "items",
    [None, "si_1", {"data": "si_1"}, {"data": []}, {"data": ["si_1"]}, {"data": [{"price": None}]}],
    ids=["none", "text", "data-text", "data-empty", "item-text", "item-without-price"],
)
def test_a_subscription_without_a_readable_item_is_kept_on_the_free_plan(owner: str, items: Any) -> None:
    # Given a new active subscription whose items hold no price (and so no period)
    org = new_org(owner)
    evt = sub_event("customer.subscription.created", org, f"sub_{org}", T, items=items)
    # When it is applied, Then its status is stored on the free plan, without a period
    assert apply(evt) is True
    row = subscription_row(owner, org)
    assert row is not None and row[:6] == (f"cus_{org}", f"sub_{org}", "free", "active", None, None)


def test_a_price_given_as_a_bare_id_sells_its_plan(owner: str) -> None:
    # Given a subscription whose item names its price by id only
    org = new_org(owner)
    evt = sub_event("customer.subscription.created", org, f"sub_{org}", T)
    evt["data"]["object"]["items"]["data"][0]["price"] = BUSINESS
    # When it is applied, Then the price's plan is stored
    assert apply(evt) is True
    row = subscription_row(owner, org)
    assert row is not None and row[2] == "business"


@pytest.mark.parametrize("sub_id", [None, "", 7, {"object": "subscription"}])
def test_a_subscription_without_an_id_is_refused(owner: str, sub_id: Any) -> None:
    # Given a subscription event whose object has no usable id
    org = new_org(owner)
    evt = sub_event("customer.subscription.updated", org, "sub_x", T, id=sub_id)
    # When it is applied, Then it is refused naming the field, and nothing is stored
    assert refusal(evt) == (
        "StripePayloadError",
        "invalid_webhook_payload",
        "Stripe subscription has no id.",
        {"field": "data.object.id"},
    )
    assert subscription_row(owner, org) is None


def test_a_subscription_event_without_org_metadata_reaches_the_linked_org(owner: str) -> None:
    # Given an org linked by its checkout
    org = new_org(owner)
    apply(se.checkout_completed(org, f"cus_{org}", f"sub_{org}", T))
    # When its subscription's event names no org (metadata without one, then none at all)
    apply(sub_event("customer.subscription.created", org, f"sub_{org}", T + 1, metadata={"plan": "pro"}))
    apply(sub_event("customer.subscription.updated", org, f"sub_{org}", T + 2, metadata="x", status="past_due"))
    # Then both are applied to that org
    row = subscription_row(owner, org)
    assert row is not None and row[2:4] == ("pro", "past_due")


def test_a_deleted_subscription_is_canceled_whatever_status_it_carries(owner: str) -> None:
    # Given an active pro subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    # When its deletion arrives still saying active
    deleted = sub_event("customer.subscription.deleted", org, sub, T + 100, status="active")
    assert apply(deleted) is True
    # Then it is stored canceled, the change recorded, and the cancellation in the ledger
    row = subscription_row(owner, org)
    assert row is not None and row[2:4] == ("pro", "canceled") and row[7] == at(T + 100)
    assert plan_changes(owner, org)[1:] == [
        ("pro", "active", "pro", "canceled", "customer.subscription.deleted", at(T + 100), deleted["id"])
    ]
    assert ledger(owner, org) == [
        (deleted["id"], "subscription_canceled", 0, "usd", sub, at(T + 100), {"plan": "pro", "price": PRO})
    ]


def test_an_update_is_not_a_cancellation(owner: str) -> None:
    # Given an active pro subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    # When an update says canceled
    apply(sub_event("customer.subscription.updated", org, sub, T + 100, status="canceled"))
    # Then the status is stored, but no cancellation is put in the ledger (only deletions are)
    row = subscription_row(owner, org)
    assert row is not None and row[3] == "canceled"
    assert ledger(owner, org) == []


def test_a_late_deletion_is_recorded_with_its_own_plan_and_not_applied(owner: str) -> None:
    # Given a subscription moved to business at T + 10
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    apply(sub_event("customer.subscription.updated", org, sub, T + 10, items=item(BUSINESS, T, T + 1000)))
    # When a deletion stamped earlier, at the pro price, arrives late
    late = sub_event("customer.subscription.deleted", org, sub, T + 5)
    assert apply(late) is True
    # Then the stored state stays, no plan change is recorded, and the ledger names the
    # deletion's own plan and price
    row = subscription_row(owner, org)
    assert row is not None and row[2:4] == ("business", "active") and row[9] == at(T + 10)
    assert [change[2:5] for change in plan_changes(owner, org)] == [
        ("pro", "active", "customer.subscription.created"),
        ("business", "active", "customer.subscription.updated"),
    ]
    assert ledger(owner, org) == [
        (late["id"], "subscription_canceled", 0, "usd", sub, at(T + 5), {"plan": "pro", "price": PRO})
    ]


def test_an_update_that_changes_neither_plan_nor_status_records_no_plan_change(owner: str) -> None:
    # Given an active pro subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    # When it is set to cancel at period end (same plan, same status)
    apply(sub_event("customer.subscription.updated", org, sub, T + 10, cancel_at_period_end=True))
    # Then the flag is stored and the plan history holds only the creation
    row = subscription_row(owner, org)
    assert row is not None and row[6] is True and row[9] == at(T + 10)
    assert [change[4] for change in plan_changes(owner, org)] == ["customer.subscription.created"]


def test_a_plan_change_of_an_applied_update_names_both_plans(owner: str) -> None:
    # Given an active pro subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    # When it moves to business, past due
    moved = sub_event(
        "customer.subscription.updated", org, sub, T + 20, status="past_due", items=item(BUSINESS, T, T + 1000)
    )
    apply(moved)
    # Then the change from pro/active to business/past_due is recorded, and the past-due time
    assert plan_changes(owner, org)[1:] == [
        ("pro", "active", "business", "past_due", "customer.subscription.updated", at(T + 20), moved["id"])
    ]
    row = subscription_row(owner, org)
    assert row is not None and row[8] == at(T + 20)


def test_a_later_past_due_event_keeps_the_first_past_due_time(owner: str) -> None:
    # Given a subscription past due since T + 10
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    apply(sub_event("customer.subscription.updated", org, sub, T + 10, status="past_due"))
    # When another past-due event comes at T + 50, then a recovery at T + 90
    apply(sub_event("customer.subscription.updated", org, sub, T + 50, status="past_due", cancel_at_period_end=True))
    row = subscription_row(owner, org)
    # Then it stays past due since T + 10, and the recovery clears it
    assert row is not None and (row[3], row[8]) == ("past_due", at(T + 10))
    apply(sub_event("customer.subscription.updated", org, sub, T + 90))
    row = subscription_row(owner, org)
    assert row is not None and (row[3], row[8]) == ("active", None)


def test_an_unknown_price_on_a_known_subscription_keeps_its_plan_but_applies_its_status(owner: str) -> None:
    # Given an active business subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T, items=item(BUSINESS, T, T + 1000)))
    # When an update at a price we do not sell makes it past due
    apply(
        sub_event(
            "customer.subscription.updated", org, sub, T + 10, status="past_due", items=item("price_x", T, T + 2000)
        )
    )
    # Then the business plan stays, with the new status and period; the change is recorded so
    row = subscription_row(owner, org)
    assert row is not None and row[2:6] == ("business", "past_due", at(T), at(T + 2000))
    assert [change[:4] for change in plan_changes(owner, org)] == [
        ("free", "none", "business", "active"),
        ("business", "active", "business", "past_due"),
    ]


@pytest.mark.parametrize(("price", "plan"), [(BUSINESS, "business"), ("price_x", None)])
def test_a_second_live_subscription_is_recorded_in_the_ledger_in_full(owner: str, price: str, plan: str | None) -> None:
    # Given an org with a live pro subscription
    org = new_org(owner)
    first, second = f"sub_{org}_1", f"sub_{org}_2"
    apply(sub_event("customer.subscription.created", org, first, T))
    # When a second live subscription, at a price we sell or one we do not, is created for it
    double = sub_event("customer.subscription.created", org, second, T + 5, items=item(price, T, T + 1000))
    assert apply(double) is True
    # Then the first stays the org's, no plan change is recorded, and the ledger holds the
    # second with its status, its price's plan and its price
    row = subscription_row(owner, org)
    assert row is not None and row[1:4] == (first, "pro", "active")
    assert len(plan_changes(owner, org)) == 1
    assert ledger(owner, org) == [
        (
            double["id"],
            "second_live_subscription",
            0,
            "usd",
            second,
            at(T + 5),
            {"current_subscription": first, "status": "active", "plan": plan, "price": price},
        )
    ]


def test_a_deletion_at_a_price_we_do_not_sell_is_recorded_with_the_stored_plan(owner: str) -> None:
    # Given an active business subscription
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T, items=item(BUSINESS, T, T + 1000)))
    # When its deletion comes at a price we do not sell
    deleted = sub_event("customer.subscription.deleted", org, sub, T + 10, items=item("price_x", T, T + 1000))
    assert apply(deleted) is True
    # Then it ends on the business plan, and the ledger names that plan and the price
    row = subscription_row(owner, org)
    assert row is not None and row[2:4] == ("business", "canceled")
    assert ledger(owner, org) == [
        (deleted["id"], "subscription_canceled", 0, "usd", sub, at(T + 10), {"plan": "business", "price": "price_x"})
    ]


def test_a_late_update_at_a_price_we_do_not_sell_changes_nothing(owner: str) -> None:
    # Given a subscription last updated at T + 10
    org = new_org(owner)
    sub = f"sub_{org}"
    apply(sub_event("customer.subscription.created", org, sub, T))
    apply(sub_event("customer.subscription.updated", org, sub, T + 10, cancel_at_period_end=True))
    before = subscription_row(owner, org)
    # When an update stamped T + 5 at a price we do not sell arrives late
    assert apply(sub_event("customer.subscription.updated", org, sub, T + 5, items=item("price_x", T, T + 9))) is True
    # Then nothing is changed or recorded
    assert subscription_row(owner, org) == before
    assert (len(plan_changes(owner, org)), ledger(owner, org)) == (1, [])


# One stored state (from an event at T), and a same-second event that differs in one field:
# the state further along wins, whichever arrived first (subscription_order's precedence).
SAME_SECOND_FIELDS = {
    "period_end": ({"items": item(PRO, T - 100, T + 900)}, {"items": item(PRO, T - 100, T + 1000)}),
    "status": ({"status": "active"}, {"status": "past_due"}),
    "ended": ({"status": "unpaid"}, {"status": "canceled"}),
    "cancel_at_period_end": ({"cancel_at_period_end": False}, {"cancel_at_period_end": True}),
    "canceled_at": ({"canceled_at": T - 50}, {"canceled_at": T - 40}),
    "period_start": ({"items": item(PRO, T - 200, T + 1000)}, {"items": item(PRO, T - 100, T + 1000)}),
    "plan": ({"items": item(BUSINESS, T - 100, T + 1000)}, {"items": item(PRO, T - 100, T + 1000)}),
}


@pytest.mark.parametrize("field", list(SAME_SECOND_FIELDS))
@pytest.mark.parametrize("first", ["behind", "ahead"])
def test_of_two_states_in_one_second_the_one_further_along_is_kept(owner: str, field: str, first: str) -> None:
    # Given a subscription whose state was set by an event of second T
    behind, ahead = SAME_SECOND_FIELDS[field]
    base = {"items": item(PRO, T - 100, T + 1000), "canceled_at": None}
    org = new_org(owner)
    sub = f"sub_{org}"
    states = {"behind": {**base, **behind}, "ahead": {**base, **ahead}}
    second = "ahead" if first == "behind" else "behind"
    apply(sub_event("customer.subscription.created", org, sub, T - 10))
    apply(sub_event("customer.subscription.updated", org, sub, T, **states[first]))
    # When another event of the same second differs from it in that field alone
    apply(sub_event("customer.subscription.updated", org, sub, T, **states[second]))
    # Then the stored state is the one further along, with the same second as watermark
    expected = sub_event("customer.subscription.updated", org, sub, T, **states["ahead"])["data"]["object"]
    period = expected["items"]["data"][0]
    row = subscription_row(owner, org)
    assert row is not None
    assert row[2:8] == (
        "business" if period["price"]["id"] == BUSINESS else "pro",
        expected["status"],
        at(period["current_period_start"]),
        at(period["current_period_end"]),
        expected["cancel_at_period_end"],
        None if expected["canceled_at"] is None else at(expected["canceled_at"]),
    )
    assert row[9] == at(T)


def test_a_subscription_replacing_an_ended_one_starts_free_at_an_unknown_price(owner: str) -> None:
    # Given an org whose business subscription ended
    org = new_org(owner)
    old, new = f"sub_{org}_old", f"sub_{org}_new"
    apply(sub_event("customer.subscription.created", org, old, T, items=item(BUSINESS, T, T + 1000)))
    apply(sub_event("customer.subscription.deleted", org, old, T + 10, items=item(BUSINESS, T, T + 1000)))
    # When a new subscription at a price we do not sell takes its place
    apply(sub_event("customer.subscription.created", org, new, T + 20, items=item("price_x", T + 20, T + 900)))
    # Then it is the org's, on the free plan (not the ended one's business plan)
    row = subscription_row(owner, org)
    assert row is not None and row[1:4] == (new, "free", "active")
    assert plan_changes(owner, org)[-1][:4] == ("business", "canceled", "free", "active")


# --- invoices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "updates", "line"),
    [
        # 12.00 GBP paid (15.00 due) on the third attempt: the amount paid
        (
            "invoice.paid",
            {"amount_paid": 1200, "currency": "gbp", "attempt_count": 3},
            ("invoice_paid", 1200, "gbp", 3),
        ),
        # a charge of 15.00 that failed: the amount due
        ("invoice.payment_failed", {}, ("invoice_payment_failed", 1500, "usd", 1)),
    ],
    ids=["paid", "failed"],
)
def test_an_invoice_records_the_amount_paid_or_due(
    owner: str, event_type: str, updates: dict[str, Any], line: tuple[str, int, str, int]
) -> None:
    # Given an org linked to its customer
    org, customer, sub = linked_org(owner)
    # When an invoice of 15.00 due arrives, as ``updates`` says
    evt = se.invoice(event_type, customer, sub, T + 10, amount=1500)
    evt["data"]["object"].update(updates)
    assert apply(evt) is True
    # Then the ledger holds it with the amount, currency and attempt of ``line``
    kind, amount, currency, attempt = line
    assert ledger(owner, org)[1:] == [
        (
            evt["id"],
            kind,
            amount,
            currency,
            evt["data"]["object"]["id"],
            at(T + 10),
            {"subscription": sub, "attempt_count": attempt},
        )
    ]


@pytest.mark.parametrize("event_type", ["invoice.paid", "invoice.payment_failed"])
def test_an_invoice_without_amount_currency_or_id_records_zero_usd(owner: str, event_type: str) -> None:
    # Given an org linked to its customer
    org, customer, sub = linked_org(owner)
    # When an invoice without amounts, currency, id or attempt count arrives
    evt = se.invoice(event_type, customer, sub, T + 10)
    for field in ("amount_paid", "amount_due", "currency", "id", "attempt_count"):
        del evt["data"]["object"][field]
    assert apply(evt) is True
    # Then its line is 0 USD without a Stripe object
    kind = "invoice_paid" if event_type == "invoice.paid" else "invoice_payment_failed"
    assert ledger(owner, org)[1:] == [
        (evt["id"], kind, 0, "usd", None, at(T + 10), {"subscription": sub, "attempt_count": None})
    ]


def test_an_invoice_names_its_subscription_directly_or_through_its_parent(owner: str) -> None:
    # Given an org linked to its customer and subscription
    org, customer, sub = linked_org(owner)
    # When invoices name the subscription on the invoice itself (older API), expanded, through
    # parent.subscription_details, or not at all (no parent, a parent without details)
    direct = se.invoice("invoice.paid", customer, "ignored", T + 1)
    direct["data"]["object"]["subscription"] = sub
    expanded = se.invoice("invoice.paid", customer, "ignored", T + 2)
    expanded["data"]["object"].update(subscription={"id": sub}, parent=None)
    nested = se.invoice("invoice.paid", customer, sub, T + 3)
    nested["data"]["object"]["subscription"] = ""
    no_parent = se.invoice("invoice.paid", customer, sub, T + 4)
    no_parent["data"]["object"]["parent"] = "x"
    no_details = se.invoice("invoice.paid", customer, sub, T + 5)
    no_details["data"]["object"]["parent"] = {"type": "subscription_details", "subscription_details": "x"}
    for evt in (direct, expanded, nested, no_parent, no_details):
        assert apply(evt) is True
    # Then each is recorded for the org, with the subscription it names
    assert [line[6]["subscription"] for line in ledger(owner, org)[1:]] == [sub, sub, sub, None, None]


def test_an_invoice_is_found_by_its_subscription_or_its_metadata(owner: str) -> None:
    # Given org A linked to its subscription only, and org B linked to nothing
    org_a, org_b = new_org(owner), new_org(owner)
    link = se.checkout_completed(org_a, "", f"sub_{org_a}", T)
    link["data"]["object"]["customer"] = None
    apply(link)
    # When an invoice of an unknown customer names A's subscription, and one names B in its metadata
    by_sub = se.invoice("invoice.paid", "cus_new", f"sub_{org_a}", T + 1)
    by_meta = se.invoice("invoice.paid", "cus_new_b", "sub_new_b", T + 2)
    by_meta["data"]["object"]["metadata"] = {"org_id": org_b}
    for evt in (by_sub, by_meta):
        assert apply(evt) is True
    # Then each is recorded for its org
    assert [line[0] for line in ledger(owner, org_a)[1:]] == [by_sub["id"]]
    assert [line[0] for line in ledger(owner, org_b)] == [by_meta["id"]]


def test_each_event_at_a_price_we_do_not_sell_is_logged_with_the_plan_it_leaves(
    owner: str, unsold_prices: list[dict[str, Any]]
) -> None:
    # Given an org with a live pro subscription
    org = new_org(owner)
    sub, other = f"sub_{org}", f"sub_{org}_2"
    apply(sub_event("customer.subscription.created", org, sub, T))
    # When it moves to a price we do not sell, an update at a price we sell follows, a late one
    # at an unsold price comes, and a second live subscription at an unsold price is created
    events = [
        sub_event("customer.subscription.updated", org, sub, T + 10, items=item("price_a", T, T + 900)),
        sub_event("customer.subscription.updated", org, sub, T + 20, items=item(BUSINESS, T, T + 900)),
        sub_event("customer.subscription.updated", org, sub, T + 15, items=item("price_b", T, T + 900)),
        sub_event("customer.subscription.created", org, other, T + 30, items=item("price_c", T, T + 900)),
    ]
    for evt in events:
        assert apply(evt) is True
    # Then each unsold price is logged once, with whether it applied and the org's plan after it
    assert [(kw["event_id"], kw["subscription"], kw["price"], kw["applied"], kw["plan"]) for kw in unsold_prices] == [
        (events[0]["id"], sub, "price_a", True, "pro"),
        (events[2]["id"], sub, "price_b", False, "business"),
        (events[3]["id"], other, "price_c", False, "business"),
    ]
    assert [kw["org_id"] for kw in unsold_prices] == [org] * 3


def test_a_subscription_without_a_status_is_refused_by_the_status_check(owner: str) -> None:
    # Given a new subscription whose object carries no status
    org = new_org(owner)
    evt = sub_event("customer.subscription.created", org, f"sub_{org}", T, status=None)
    # When it is applied, Then the table's status check refuses it, and nothing is stored
    assert refusal(evt) == (
        "ValidationError",
        "validation_error",
        "The data violates a constraint.",
        {"constraint": "subscriptions_status_check"},
    )
    assert (subscription_row(owner, org), plan_changes(owner, org)) == (None, [])
