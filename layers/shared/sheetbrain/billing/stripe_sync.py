"""Apply Stripe events to subscriptions, plan history and the ledger.

Stripe does not guarantee order. Subscription state is taken only from subscription events and
applied only when the event is not older (``event.created``) than the newest one applied for
that org, so a late event never overwrites newer state; events of the same second are ordered
by the states they carry (``subscription_order``). A price that sells no plan here does not
refuse a subscription event (see ``_subscription_changed``). Checkout completion only links
ids; invoices only append to the ledger. Each is safe in any order and, through the inbox, once.

A Stripe customer belongs to one organization for good, and an organization to one customer:
an event that would link a customer to a second org (a checkout's ``client_reference_id`` or a
subscription's metadata naming another org), or another customer to an org, is refused,
logged and kept failed for review, never retried and never applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

from sheetbrain.billing.plans import FREE_PLAN, plan_for_price
from sheetbrain.billing.subscription_order import SubscriptionFacts, decide, past_due_since
from sheetbrain.db import billing_repo as repo
from sheetbrain.errors import NeedsReviewError, ValidationError
from sheetbrain.observability import logger


class StripePayloadError(ValidationError):
    code = "invalid_webhook_payload"


class UnknownStripeCustomerError(ValidationError):
    """No organization is linked to the customer yet (its checkout event may still come):
    recorded failed and retried with backoff."""

    code = "unknown_stripe_customer"


def _ts(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _object(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise StripePayloadError("Stripe event has no data.object.", details={"field": "data.object"})
    return obj


def _created(event: Mapping[str, Any]) -> datetime:
    created = _ts(event.get("created"))
    if created is None:
        raise StripePayloadError("Stripe event has no numeric created.", details={"field": "created"})
    return created


def _id(value: Any) -> str | None:
    # Stripe fields may be an id or an expanded object.
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _metadata_org(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    return _id(metadata.get("org_id")) if isinstance(metadata, dict) else None


def _org(conn: psycopg.Connection, obj: Mapping[str, Any], customer: str | None, subscription: str | None) -> str:
    org_id = _metadata_org(obj) or repo.org_for_stripe(conn, customer, subscription)
    if org_id is None:
        raise UnknownStripeCustomerError(
            f"No organization is linked to Stripe customer {customer} / subscription {subscription} yet.",
            details={"customer": customer, "subscription": subscription},
        )
    return org_id


class StripeCustomerConflictError(NeedsReviewError):
    """An event would link a Stripe customer to a second organization, or a second customer to
    an organization: mappings never move."""

    code = "stripe_customer_conflict"


def _keep_customer_mapping(
    conn: psycopg.Connection, event: Mapping[str, Any], org_id: str, customer: str | None
) -> None:
    """Refuse (logged, kept for review) an event whose customer belongs to another org, or
    whose org belongs to another customer."""
    if customer is None:
        return
    customer_org, org_customer = repo.customer_links(conn, org_id, customer)
    if customer_org in (None, org_id) and org_customer in (None, customer):
        return
    logger.warning(
        "stripe customer mapping conflict refused",
        event_id=event.get("id"),
        event_type=event.get("type"),
        org_id=org_id,
        customer=customer,
        customer_org=customer_org,
        org_customer=org_customer,
    )
    raise StripeCustomerConflictError(
        f"Stripe customer {customer} is linked to organization {customer_org}, organization {org_id} to "
        f"customer {org_customer}; the event would move a link and is kept for review.",
        details={"org_id": org_id, "customer": customer, "customer_org": customer_org, "org_customer": org_customer},
    )


def _checkout_completed(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    session = _object(event)
    if session.get("mode") != "subscription":
        return
    customer, subscription = _id(session.get("customer")), _id(session.get("subscription"))
    org_id = _id(session.get("client_reference_id")) or _org(conn, session, customer, subscription)
    _keep_customer_mapping(conn, event, org_id, customer)
    repo.link_stripe_ids(conn, org_id, customer, subscription)
    repo.append_ledger(
        conn,
        org_id=org_id,
        source_event_id=str(event["id"]),
        kind="checkout_completed",
        amount_cents=int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or "usd"),
        stripe_object=_id(session.get("id")),
        occurred_at=_created(event),
        details={"subscription": subscription, "payment_status": session.get("payment_status")},
    )


def _subscription_state(sub: Mapping[str, Any], deleted: bool) -> tuple[repo.SubscriptionState, str | None]:
    """The subscription's state and its price; the state's plan is None for a price we do not sell."""
    sub_id = _id(sub.get("id"))
    if sub_id is None:
        raise StripePayloadError("Stripe subscription has no id.", details={"field": "data.object.id"})
    items = sub.get("items")
    first: Mapping[str, Any] = {}
    if isinstance(items, dict) and isinstance(items.get("data"), list) and items["data"]:
        first = items["data"][0] if isinstance(items["data"][0], dict) else {}
    price = _id(first.get("price"))
    status = "canceled" if deleted else str(sub.get("status") or "")
    # Since API version 2025-03-31 the billing period lives on the subscription items.
    start = _ts(sub.get("current_period_start")) or _ts(first.get("current_period_start"))
    end = _ts(sub.get("current_period_end")) or _ts(first.get("current_period_end"))
    state = repo.SubscriptionState(
        subscription_id=sub_id,
        customer_id=_id(sub.get("customer")),
        plan_code=plan_for_price(price),
        status=status,
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        canceled_at=_ts(sub.get("canceled_at")),
    )
    return state, price


def _subscription_changed(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    """Apply a subscription event (``subscription_order.decide`` says which state wins).

    A price that sells no plan here (rotated, annual, switched in the portal) does not refuse
    the event: its status, period and cancel flags apply, so a cancellation always takes effect.
    The org's subscription keeps its stored plan; a subscription new to the org is recorded on
    the free plan (no paid limits for an unmapped price) until an event with a known price comes.
    Either way a warning names the price. A second live subscription beside the org's live one
    is kept out, logged with both ids and recorded in the ledger: the customer may pay twice.
    """
    sub = _object(event)
    event_type = str(event.get("type"))
    state, price = _subscription_state(sub, deleted=event_type == "customer.subscription.deleted")
    org_id = _org(conn, sub, state.customer_id, state.subscription_id)
    _keep_customer_mapping(conn, event, org_id, state.customer_id)
    created = _created(event)
    stored = repo.lock_subscription(conn, org_id)
    same = stored.subscription_id == state.subscription_id
    # A price that sells no plan keeps the subscription's stored plan; a new one starts free.
    plan = state.plan_code or (stored.plan_code if same else FREE_PLAN)
    current = SubscriptionFacts(
        stored.subscription_id,
        stored.plan_code,
        stored.status,
        stored.current_period_start,
        stored.current_period_end,
        stored.cancel_at_period_end,
        stored.canceled_at,
    )
    incoming = SubscriptionFacts(
        state.subscription_id,
        plan,
        state.status,
        state.current_period_start,
        state.current_period_end,
        state.cancel_at_period_end,
        state.canceled_at,
    )
    verdict = decide(current, stored.source_event_created, incoming, created)
    if verdict.apply:
        repo.write_subscription(
            conn,
            org_id,
            state,
            plan,
            created,
            past_due_since=past_due_since(stored.past_due_since, state.status, created),
        )
    before = (stored.plan_code, stored.status)
    after = (plan, state.status) if verdict.apply else before
    if state.plan_code is None:
        logger.warning(
            "stripe price sells no plan",
            org_id=org_id,
            event_id=event["id"],
            subscription=state.subscription_id,
            price=price,
            applied=verdict.apply,
            plan=after[0],
        )
    if verdict.apply and before != after:
        repo.record_plan_change(
            conn,
            org_id=org_id,
            before=before,
            after=after,
            reason=event_type,
            effective_at=created,
            source_event=str(event["id"]),
        )
    if verdict.second_live:
        logger.warning(
            "second live stripe subscription kept out",
            org_id=org_id,
            event_id=event["id"],
            subscription=state.subscription_id,
            current_subscription=stored.subscription_id,
            status=state.status,
        )
        repo.append_ledger(
            conn,
            org_id=org_id,
            source_event_id=str(event["id"]),
            kind="second_live_subscription",
            amount_cents=0,
            currency="usd",
            stripe_object=state.subscription_id,
            occurred_at=created,
            details={
                "current_subscription": stored.subscription_id,
                "status": state.status,
                "plan": state.plan_code,
                "price": price,
            },
        )
    if event_type == "customer.subscription.deleted":
        repo.append_ledger(
            conn,
            org_id=org_id,
            source_event_id=str(event["id"]),
            kind="subscription_canceled",
            amount_cents=0,
            currency="usd",
            stripe_object=state.subscription_id,
            occurred_at=created,
            details={"plan": after[0] if verdict.apply else state.plan_code, "price": price},
        )


def _invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    direct = _id(invoice.get("subscription"))
    if direct:
        return direct
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    return _id(details.get("subscription")) if isinstance(details, dict) else None


def _invoice(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    invoice = _object(event)
    paid = event.get("type") == "invoice.paid"
    customer, subscription = _id(invoice.get("customer")), _invoice_subscription(invoice)
    org_id = _org(conn, invoice, customer, subscription)
    repo.append_ledger(
        conn,
        org_id=org_id,
        source_event_id=str(event["id"]),
        kind="invoice_paid" if paid else "invoice_payment_failed",
        amount_cents=int(invoice.get("amount_paid" if paid else "amount_due") or 0),
        currency=str(invoice.get("currency") or "usd"),
        stripe_object=_id(invoice.get("id")),
        occurred_at=_created(event),
        details={"subscription": subscription, "attempt_count": invoice.get("attempt_count")},
    )


HANDLERS: dict[str, Callable[[psycopg.Connection, Mapping[str, Any]], None]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.paid": _invoice,
    "invoice.payment_failed": _invoice,
}


def apply_stripe_event(conn: psycopg.Connection, event: Mapping[str, Any]) -> bool:
    """Apply one verified Stripe event in the caller's transaction; False for other types."""
    handler = HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return False
    if not isinstance(event.get("id"), str):
        raise StripePayloadError("Stripe event has no id.", details={"field": "id"})
    handler(conn, event)
    return True
