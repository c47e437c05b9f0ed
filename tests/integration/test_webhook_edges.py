"""The webhook handlers' edges, called as the webhook function calls them, with bodies signed by
the real algorithms: which header names the delivery, what a refusal says, and the id a Stripe
body without one is kept under."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sheetbrain.config import reset_settings
from sheetbrain.errors import BadRequestError, ConfigurationError
from sheetbrain.webhooks.clerk import WebhookSignatureError, delivery_id, handle_clerk_webhook
from sheetbrain.webhooks.stripe import handle_stripe_webhook
from sheetbrain_dev.database import DatabaseUrls

from tests import clerk_events as ce
from tests import stripe_events as se
from tests.support import SettingsEnv


@pytest.fixture(autouse=True)
def secrets(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(CLERK_WEBHOOK_SECRET=ce.SECRET, STRIPE_WEBHOOK_SECRET=se.SECRET)


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CLERK_WEBHOOK_SECRET")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.parametrize(
    ("headers", "event_id"),
    [
        ({"svix-id": "msg_1", "webhook-id": "msg_2"}, "msg_1"),
        ({"Svix-Id": "msg_3"}, "msg_3"),
        ({"WEBHOOK-ID": "msg_4"}, "msg_4"),
    ],
)
def test_the_delivery_id_is_svix_id_then_webhook_id_in_any_case(headers: dict[str, str], event_id: str) -> None:
    assert delivery_id(headers) == event_id


@pytest.mark.parametrize("headers", [{}, {"svix-id": ""}, {"webhook-id": ""}, {"x-id": "msg_5"}])
def test_no_delivery_id_is_a_bad_request_naming_the_headers(headers: dict[str, str]) -> None:
    with pytest.raises(BadRequestError) as refused:
        delivery_id(headers)
    assert refused.value.message == "The webhook delivery has no svix-id (or webhook-id) header."


def test_a_clerk_body_that_is_not_an_object_is_refused_and_kept(database: DatabaseUrls) -> None:
    # Given a signed Clerk delivery whose body is a JSON list
    body = "[1, 2]"
    headers = ce.svix_headers(body, msg_id=f"msg_{uuid.uuid4().hex[:10]}")

    # When it is handled
    with pytest.raises(BadRequestError) as refused:
        handle_clerk_webhook(body.encode(), headers)

    # Then it is a 400 naming the delivery, and the body is kept as failed
    assert refused.value.message == "The webhook body is not a JSON object."
    assert refused.value.details == {"event_id": headers["svix-id"]}
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT status, raw_body FROM webhook_inbox WHERE provider = 'clerk' AND event_id = %s",
            (headers["svix-id"],),
        ).fetchone()
    assert row == ("failed", "[1, 2]")


def test_a_clerk_signature_by_another_secret_is_refused_saying_so() -> None:
    body = ce.body_of(ce.user("user.created", "user_sig", 1))
    headers = ce.svix_headers(body, secret="whsec_" + "B" * 40)
    with pytest.raises(WebhookSignatureError) as refused:
        handle_clerk_webhook(body.encode(), headers)
    assert (refused.value.code, refused.value.status) == ("invalid_signature", 400)
    assert refused.value.message == "Webhook signature verification failed: No matching signature found."


def test_a_malformed_clerk_signature_is_refused_saying_so() -> None:
    body = ce.body_of(ce.user("user.created", "user_sig", 1))
    headers = {**ce.svix_headers(body), "svix-signature": "v1,not*base64"}
    with pytest.raises(WebhookSignatureError) as refused:
        handle_clerk_webhook(body.encode(), headers)
    assert refused.value.message == "Webhook signature verification failed: malformed signature or body."


def test_a_stripe_body_without_an_event_id_is_kept_under_the_digest_of_its_bytes(database: DatabaseUrls) -> None:
    # Given a signed Stripe body that is JSON but has no string id
    body = '{"id": 7, "type": "invoice.paid"}'
    headers = {"Stripe-Signature": se.signature(body)}
    kept_as = "malformed:" + hashlib.sha256(body.encode()).hexdigest()[:32]

    # When it is handled
    with pytest.raises(BadRequestError) as refused:
        handle_stripe_webhook(body.encode(), headers)

    # Then it is a 400 naming the digest id it is kept under, failed, with its bytes
    assert refused.value.message == "The webhook body is not a Stripe event object."
    assert refused.value.details == {"event_id": kept_as}
    assert len(kept_as) == len("malformed:") + 32
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT status, raw_body FROM webhook_inbox WHERE provider = 'stripe' AND event_id = %s", (kept_as,)
        ).fetchone()
    assert row == ("failed", body)


def test_a_stripe_event_is_received_under_its_own_id() -> None:
    # Given a signed Stripe event of a type nothing applies
    evt = se.event("payment_intent.created", {"id": "pi_1", "object": "payment_intent"}, int(time.time()))
    body = se.body_of(evt)

    # When it is handled
    receipt = handle_stripe_webhook(body.encode(), {"stripe-signature": se.signature(body)})

    # Then it is received as ignored under the event's id
    assert receipt == ("stripe", evt["id"], "ignored")


def test_a_stripe_signature_five_minutes_and_a_second_old_is_refused() -> None:
    evt = se.event("payment_intent.created", {"id": "pi_2", "object": "payment_intent"}, int(time.time()))
    body = se.body_of(evt)
    header = se.signature(body, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookSignatureError) as refused:
        handle_stripe_webhook(body.encode(), {"Stripe-Signature": header})
    assert refused.value.message.startswith("Webhook signature verification failed: Timestamp outside the tolerance")
    fresh = se.signature(body, timestamp=int(time.time()) - 240)
    assert handle_stripe_webhook(body.encode(), {"Stripe-Signature": fresh}).outcome == "ignored"


def test_without_signing_secrets_the_handlers_are_misconfigured(no_secrets: None) -> None:
    with pytest.raises(ConfigurationError) as clerk:
        handle_clerk_webhook(b"{}", {"svix-id": "msg_6"})
    with pytest.raises(ConfigurationError) as stripe:
        handle_stripe_webhook(b"{}", {"stripe-signature": "t=1,v1=00"})
    assert clerk.value.message == "CLERK_WEBHOOK_SECRET is not configured."
    assert stripe.value.message == "STRIPE_WEBHOOK_SECRET is not configured."


@pytest.mark.parametrize(
    "body",
    [
        '{"id": "evt_broken", ',  # not JSON
        '{"id": "", "type": "invoice.paid"}',  # an empty id (the inbox's key cannot be empty)
    ],
)
def test_a_signed_stripe_body_without_a_usable_id_is_kept_under_the_digest_of_its_bytes(
    database: DatabaseUrls, body: str
) -> None:
    # Given a signed Stripe body that is not JSON, or whose id is empty
    kept_as = "malformed:" + hashlib.sha256(body.encode()).hexdigest()[:32]

    # When it is handled, Then a 400 naming the digest id, and the bytes kept as failed
    with pytest.raises(BadRequestError) as refused:
        handle_stripe_webhook(body.encode(), {"Stripe-Signature": se.signature(body)})
    assert refused.value.details == {"event_id": kept_as}
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT status, raw_body FROM webhook_inbox WHERE provider = 'stripe' AND event_id = %s", (kept_as,)
        ).fetchone()
    assert row == ("failed", body)


def test_a_stripe_body_that_is_not_utf8_is_a_signature_failure_not_a_server_error() -> None:
    # Given a body that is not UTF-8, unsigned or signed alike (Stripe's verifier decodes it first)
    body = b'{"id": "evt_\xff"}'
    ts = int(time.time())
    signed = f"t={ts},v1=" + hmac.new(se.SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()

    # When each is handled, Then a 400 invalid_signature saying the body is malformed (not a 500)
    for header in ("t=1,v1=00", signed):
        with pytest.raises(WebhookSignatureError) as refused:
            handle_stripe_webhook(body, {"Stripe-Signature": header})
        assert refused.value.message == "Webhook signature verification failed: malformed signature or body."


def test_a_clerk_body_that_is_not_utf8_is_a_signature_failure() -> None:
    # Given a body that is not UTF-8, signed as Svix signs (over the raw bytes)
    body = b'{"type": "user.created", "data": {"id": "user_\xff"}}'
    msg_id, ts = "msg_not_utf8", str(int(time.time()))
    key = base64.b64decode(ce.SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    headers = {"svix-id": msg_id, "svix-timestamp": ts, "svix-signature": "v1," + base64.b64encode(mac).decode()}

    # When it is handled, Then a 400 invalid_signature saying the body is malformed
    with pytest.raises(WebhookSignatureError) as refused:
        handle_clerk_webhook(body, headers)
    assert refused.value.message == "Webhook signature verification failed: malformed signature or body."
