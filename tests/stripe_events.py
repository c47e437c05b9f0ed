"""Stripe events shaped like Stripe's documented payloads, signed as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

SECRET = "whsec_stripe_test_secret"
PRICES = {"pro": "price_pro_test", "business": "price_business_test", "enterprise": "price_enterprise_test"}


def signature(body: str, *, timestamp: int | None = None, secret: str = SECRET) -> str:
    """The Stripe-Signature header: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def event(event_type: str, obj: dict[str, Any], created: int, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_completed(org_id: str, customer: str, subscription: str, created: int) -> dict[str, Any]:
    return event(
        "checkout.session.completed",
        {
            "id": f"cs_test_{uuid.uuid4().hex[:12]}",
            "object": "checkout.session",
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "customer": customer,
            "subscription": subscription,
            "client_reference_id": org_id,
            "metadata": {"org_id": org_id},
            "amount_total": 2900,
            "currency": "usd",
        },
        created,
    )


def subscription(
    event_type: str,
    org_id: str,
    customer: str,
    sub_id: str,
    created: int,
    *,
    status: str = "active",
    plan: str = "pro",
    cancel_at_period_end: bool = False,
    period_end: int | None = None,
    price: str | None = None,
) -> dict[str, Any]:
    """A subscription event; ``price`` overrides the plan's configured price (one we do not sell)."""
    end = period_end or created + 30 * 86400
    return event(
        event_type,
        {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": created if event_type == "customer.subscription.deleted" else None,
            "metadata": {"org_id": org_id},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{sub_id}",
                        "object": "subscription_item",
                        "price": {
                            "id": price or PRICES[plan],
                            "object": "price",
                            "unit_amount": 2900,
                            "currency": "usd",
                        },
                        "quantity": 1,
                        "current_period_start": end - 30 * 86400,
                        "current_period_end": end,
                    }
                ],
            },
        },
        created,
    )


def invoice(event_type: str, customer: str, sub_id: str, created: int, amount: int = 2900) -> dict[str, Any]:
    paid = event_type == "invoice.paid"
    return event(
        event_type,
        {
            "id": f"in_{uuid.uuid4().hex[:14]}",
            "object": "invoice",
            "customer": customer,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub_id}},
            "amount_due": amount,
            "amount_paid": amount if paid else 0,
            "currency": "usd",
            "status": "paid" if paid else "open",
            "attempt_count": 1,
        },
        created,
    )


def body_of(evt: dict[str, Any]) -> str:
    return json.dumps(evt, separators=(",", ":"))
