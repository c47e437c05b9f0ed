"""Which Stripe price sells which plan (price ids are settings, plans are data)."""

from __future__ import annotations

from sheetbrain.config import get_settings
from sheetbrain.errors import ConfigurationError, ValidationError

PAID_PLANS = ("pro", "business", "enterprise")


def _prices() -> dict[str, str | None]:
    settings = get_settings()
    return {
        "pro": settings.stripe_price_pro,
        "business": settings.stripe_price_business,
        "enterprise": settings.stripe_price_enterprise,
    }


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
