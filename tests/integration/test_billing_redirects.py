"""Checkout and portal send the browser back only to the configured origins: any other
success_url, cancel_url or return_url is a 422 naming the field, and Stripe is never called."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sheetbrain.billing import stripe_gateway
from sheetbrain_dev.database import DatabaseUrls

from tests import stripe_events as se
from tests.stripe_standin import StripeStandIn
from tests.support import SettingsEnv, call, claims_for


@pytest.fixture(autouse=True)
def billing_settings(database: DatabaseUrls, standin: StripeStandIn, settings_env: SettingsEnv) -> Iterator[None]:
    settings_env(
        STRIPE_API_KEY="sk_test_sheetbrain",
        STRIPE_API_BASE=standin.url,
        STRIPE_PRICE_PRO=se.PRICES["pro"],
        ALLOWED_REDIRECT_ORIGINS="https://docs.google.com,http://localhost:3000",
    )
    stripe_gateway.reset_client()
    yield
    stripe_gateway.reset_client()


def admin() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return claims_for(f"user_redir{suffix}", f"org_redir{suffix}", "org:admin")


def stripe_calls(standin: StripeStandIn, org: str) -> list[str]:
    return [path for path, params, _ in standin.requests if params.get("metadata", {}).get("org_id") == org]


def test_checkout_to_another_host_is_refused_naming_the_fields(standin: StripeStandIn) -> None:
    claims = admin()
    # When an admin asks for a checkout that would return to another host
    reply = call(
        "POST",
        "/api/billing/checkout",
        claims=claims,
        body={"plan": "pro", "success_url": "https://evil.example/ok", "cancel_url": "https://docs.google.com@x.test/"},
    )
    # Then 422, each bad field named with its reason, and no Stripe call
    assert reply.status == 422
    error = reply.json()["error"]
    assert error["code"] == "validation_error"
    assert [(f["field"], f["message"]) for f in error["details"]["fields"]] == [
        ("body.success_url", "Value error, https://evil.example is not an allowed redirect origin"),
        ("body.cancel_url", "Value error, a redirect URL may not carry user info"),
    ]
    assert stripe_calls(standin, claims["org_id"]) == []


def test_portal_to_another_host_is_refused(standin: StripeStandIn) -> None:
    claims = admin()
    reply = call("POST", "/api/billing/portal", claims=claims, body={"return_url": "https://docs.google.com.evil/"})
    assert reply.status == 422
    assert [f["field"] for f in reply.json()["error"]["details"]["fields"]] == ["body.return_url"]
    assert stripe_calls(standin, claims["org_id"]) == []


def test_urls_on_the_configured_origins_reach_stripe_as_given(standin: StripeStandIn) -> None:
    claims = admin()
    success, cancel = "https://docs.google.com/spreadsheets/d/abc/edit", "http://localhost:3000/cancel"
    reply = call(
        "POST",
        "/api/billing/checkout",
        claims=claims,
        body={"plan": "pro", "success_url": success, "cancel_url": cancel},
    )
    assert reply.status == 200
    sessions = [p for path, p, _ in standin.requests if path == "/v1/checkout/sessions"]
    assert (sessions[-1]["success_url"], sessions[-1]["cancel_url"]) == (success, cancel)
    portal = call("POST", "/api/billing/portal", claims=claims, body={"return_url": success})
    assert portal.status == 200
