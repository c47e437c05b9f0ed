"""Calls to Stripe's API through the ``stripe`` client (imported on first use: ~0.25 s)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sheetbrain.config import get_settings
from sheetbrain.errors import ConfigurationError, DependencyUnavailableError, SheetBrainError, ValidationError
from sheetbrain.observability import logger

if TYPE_CHECKING:
    from stripe import StripeClient

T = TypeVar("T")


class PaymentProviderError(SheetBrainError):
    """Stripe answered with an error this module does not classify (a card error, a newer error
    type): reported as what it is, with Stripe's error type, rather than as an unexpected 500.
    The contract has no 502, so it keeps the 500 status under its own code."""

    code = "payment_provider_error"
    status = 500
    public_details = ("provider_error", "provider_code")  # Stripe's names for what it refused


@functools.cache
def _client() -> StripeClient:
    import stripe

    settings = get_settings()
    api_key = settings.stripe_api_key  # the only secret this path reads
    if api_key is None:
        raise ConfigurationError("Neither STRIPE_API_KEY nor STRIPE_API_KEY_SECRET_ARN is configured.")
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        api_key.get_secret_value(),
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=2,
    )


def reset_client() -> None:
    """Forget the client (settings changed)."""
    _client.cache_clear()


def _call(what: str, fn: Callable[[], T]) -> T:
    """Run one Stripe call, turning every Stripe error into a domain error (never an unhandled 500)."""
    import stripe

    try:
        return fn()
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("stripe unavailable", call=what, error=type(exc).__name__)
        raise DependencyUnavailableError("The payment provider is unavailable; try again shortly.") from exc
    except stripe.IdempotencyError as exc:
        # Another request used the key: two first-time checkout/portal calls for one org both
        # create its customer under ``sheetbrain-customer-{org}`` (still in flight, or sent with
        # other parameters, e.g. the org renamed in between). By the time the caller retries, the
        # other request has stored the customer and no new one is created.
        logger.warning("stripe idempotency conflict", call=what, request_id=exc.request_id)
        raise DependencyUnavailableError(
            "The payment provider is still processing another request for this organization; try again shortly."
        ) from exc
    except stripe.AuthenticationError as exc:
        raise ConfigurationError("The Stripe API key was refused.") from exc
    except stripe.PermissionError as exc:
        # A restricted key without the permission this call needs: an operator fixes the key.
        raise ConfigurationError(f"The Stripe API key is not permitted to call {what}.") from exc
    except stripe.InvalidRequestError as exc:
        raise ValidationError(
            f"The payment provider refused the request: {exc.user_message or exc}",
            details={"param": getattr(exc, "param", None)},
        ) from exc
    except stripe.StripeError as exc:
        logger.warning(
            "stripe error",
            call=what,
            error=type(exc).__name__,
            http_status=exc.http_status,
            code=exc.code,
            request_id=exc.request_id,
        )
        reason = f"{type(exc).__name__}: {exc.user_message}" if exc.user_message else type(exc).__name__
        raise PaymentProviderError(
            f"The payment provider could not complete the request ({reason}).",
            details={"provider_error": type(exc).__name__, "provider_code": exc.code},
        ) from exc


def create_customer(*, org_id: str, name: str) -> str:
    """A Stripe customer for an organization (idempotent per org for 24 h on Stripe's side)."""
    customer = _call(
        "customers.create",
        lambda: _client().v1.customers.create(
            params={"name": name or org_id, "metadata": {"org_id": org_id}},
            options={"idempotency_key": f"sheetbrain-customer-{org_id}"},
        ),
    )
    return str(customer.id)


def create_checkout_session(*, org_id: str, customer_id: str, price_id: str, success_url: str, cancel_url: str) -> str:
    """A subscription-mode Checkout Session; returns its URL."""
    params: Any = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": org_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"org_id": org_id},
        "subscription_data": {"metadata": {"org_id": org_id}},
    }
    session = _call("checkout.sessions.create", lambda: _client().v1.checkout.sessions.create(params=params))
    return str(session.url)


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    """A customer portal session; returns its URL."""
    session = _call(
        "billing_portal.sessions.create",
        lambda: _client().v1.billing_portal.sessions.create(params={"customer": customer_id, "return_url": return_url}),
    )
    return str(session.url)
