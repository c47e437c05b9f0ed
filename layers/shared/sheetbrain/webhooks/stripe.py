"""Stripe webhooks: the Stripe-Signature header verified on the raw body, then the inbox."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sheetbrain import untrusted_json
from sheetbrain.config import get_settings
from sheetbrain.errors import BadRequestError, ConfigurationError
from sheetbrain.webhooks.clerk import WebhookSignatureError
from sheetbrain.webhooks.inbox import Receipt, receive
from sheetbrain.webhooks.providers import APPLIERS, STRIPE

TOLERANCE_S = 300


def verify_stripe(raw_body: bytes, headers: Mapping[str, str]) -> None:
    """Raise WebhookSignatureError unless the signature and its timestamp (5 min) hold."""
    secret = get_settings().stripe_webhook_secret
    if secret is None:
        raise ConfigurationError("STRIPE_WEBHOOK_SECRET is not configured.")
    import stripe  # ~0.25 s of import: only the paths that talk to Stripe pay it

    header = {k.lower(): v for k, v in headers.items()}.get("stripe-signature")
    try:
        stripe.WebhookSignature.verify_header(raw_body, header, secret.get_secret_value(), tolerance=TOLERANCE_S)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(f"Webhook signature verification failed: {exc.user_message or exc}.") from exc
    except ValueError as exc:  # a body not UTF-8: Stripe's verifier decodes it before any check
        raise WebhookSignatureError("Webhook signature verification failed: malformed signature or body.") from exc


def handle_stripe_webhook(raw_body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify, then record and apply the event exactly once."""
    verify_stripe(raw_body, headers)
    text = raw_body.decode("utf-8", errors="replace")
    event: dict[str, Any] | None
    try:
        parsed = untrusted_json.loads(text)
        event = parsed if isinstance(parsed, dict) and isinstance(parsed.get("id"), str) and parsed["id"] else None
    except json.JSONDecodeError:
        event = None
    # A body without an event id is kept under the digest of its bytes (same body, same row).
    event_id = event["id"] if event else "malformed:" + hashlib.sha256(raw_body).hexdigest()[:32]
    receipt = receive(provider=STRIPE, event_id=event_id, event=event, raw_body=text, apply=APPLIERS[STRIPE])
    if event is None:
        raise BadRequestError("The webhook body is not a Stripe event object.", details={"event_id": event_id})
    return receipt
