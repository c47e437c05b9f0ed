"""The plans we sell and which Stripe price sells each (price ids are settings, plans are data).

The one home of the list of plans on the Python side: checkout's request model, the Stripe
sync and the settings' ``STRIPE_PRICE_<PLAN>`` import it. A plan's limits are rows of
``plan_entitlements`` (sql/0004, changed by a new migration: README, "Where to change what").
"""

from __future__ import annotations

from typing import Literal, get_args

from sheetbrain.config import get_settings
from sheetbrain.errors import ConfigurationError, ValidationError

# The plan an organization has without a subscription (and the database's default).
FREE_PLAN = "free"
PaidPlan = Literal["pro", "business", "enterprise"]
PAID_PLANS: tuple[str, ...] = get_args(PaidPlan)


def _prices() -> dict[str, str | None]:
    settings = get_settings()
    # Each paid plan has its setting, STRIPE_PRICE_<PLAN> (tests/unit/test_one_home.py holds them together).
    return {plan: getattr(settings, f"stripe_price_{plan}") for plan in PAID_PLANS}


def price_for_plan(plan: str) -> str:
    """The configured Stripe price of a paid plan."""
    if plan not in PAID_PLANS:
        raise ValidationError(
            f"Unknown plan {plan!r}; choose one of {', '.join(PAID_PLANS)}.",
            details={"field": "plan", "allowed": list(PAID_PLANS)},
        )
    price = _prices()[plan]
    if not price:
        raise ConfigurationError(f"No Stripe price is configured for plan {plan!r} (STRIPE_PRICE_{plan.upper()}).")
    return price


def plan_for_price(price_id: str | None) -> str | None:
    """The plan a Stripe price sells, or None for a price we do not know."""
    for plan, price in _prices().items():
        if price and price == price_id:
            return plan
    return None
