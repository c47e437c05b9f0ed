"""The billing use cases: checkout, portal, and the billing view of an organization."""

from datetime import UTC, datetime
from typing import NamedTuple

from sheetbrain.billing import stripe_gateway
from sheetbrain.billing.plans import price_for_plan
from sheetbrain.billing.subscription_order import LIVE
from sheetbrain.db import billing_repo, metering_repo, tenancy_repo, tenant_transaction
from sheetbrain.errors import ConflictError
from sheetbrain.metering.quota import METERED, month_start, next_month_start
from sheetbrain.tenancy.identity import Identity, require_admin


class _Account(NamedTuple):
    subscription: billing_repo.SubscriptionRow | None
    org_name: str  # read only when no Stripe customer is stored yet, else ""


def _account(identity: Identity) -> _Account:
    """The org's subscription row, and its name when a Stripe customer must still be created."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        sub = billing_repo.get_subscription(conn, identity.org_id)
        if sub is not None and sub.stripe_customer_id:
            return _Account(sub, "")
        org = tenancy_repo.get_org(conn, identity.org_id)
    return _Account(sub, org.name if org else "")


def _customer_id(identity: Identity, account: _Account) -> str:
    """The org's Stripe customer, created once (Stripe call outside any DB transaction)."""
    sub = account.subscription
    if sub is not None and sub.stripe_customer_id:
        return sub.stripe_customer_id
    created = stripe_gateway.create_customer(org_id=identity.org_id, name=account.org_name)
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return billing_repo.save_customer(conn, identity.org_id, created)


def start_checkout(identity: Identity, *, plan: str, success_url: str, cancel_url: str) -> str:
    """A Checkout Session URL for subscribing the org to ``plan`` (admins only)."""
    require_admin(identity)
    price = price_for_plan(plan)
    account = _account(identity)
    sub = account.subscription
    if sub is not None and sub.status in LIVE:
        raise ConflictError(
            "The organization already has a subscription; change it in the billing portal.",
            details={"plan": sub.plan_code, "status": sub.status},
        )
    return stripe_gateway.create_checkout_session(
        org_id=identity.org_id,
        customer_id=_customer_id(identity, account),
        price_id=price,
        success_url=success_url,
        cancel_url=cancel_url,
    )


def open_portal(identity: Identity, *, return_url: str) -> str:
    """A customer portal URL for the org (admins only)."""
    require_admin(identity)
    customer_id = _customer_id(identity, _account(identity))
    return stripe_gateway.create_portal_session(customer_id=customer_id, return_url=return_url)


class UsageLine(NamedTuple):
    feature: str
    used: int
    limit: int  # -1 unlimited


class BillingView(NamedTuple):
    plan: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    entitlements: dict[str, int]
    usage: list[UsageLine]
    usage_resets_at: datetime


def billing_view(identity: Identity, now: datetime | None = None) -> BillingView:
    """Plan, subscription status, entitlements and usage against limits, in one transaction."""
    at = now or datetime.now(UTC)
    with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:  # reads only
        sub = billing_repo.get_subscription(conn, identity.org_id)
        plan, limits = metering_repo.entitlements(conn, identity.org_id, at)
        usage = [
            UsageLine(
                feature, metering_repo.monthly_usage(conn, identity.org_id, metric, month_start(at)), limits[feature]
            )
            for feature, metric in METERED.items()
            if feature in limits
        ]
        if "seats" in limits:
            usage.append(UsageLine("seats", tenancy_repo.org_member_count(conn, identity.org_id), limits["seats"]))
    return BillingView(
        plan=plan,
        status=sub.status if sub else "none",
        current_period_end=sub.current_period_end if sub else None,
        cancel_at_period_end=sub.cancel_at_period_end if sub else False,
        entitlements=limits,
        usage=usage,
        usage_resets_at=next_month_start(at),
    )
