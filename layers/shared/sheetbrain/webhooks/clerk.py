"""Clerk webhooks: Svix signature and timestamp verified on the raw body, then the inbox."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from sheetbrain import untrusted_json
from sheetbrain.config import get_settings
from sheetbrain.errors import BadRequestError, ConfigurationError
from sheetbrain.webhooks.inbox import Receipt, receive
from sheetbrain.webhooks.providers import APPLIERS, CLERK


class WebhookSignatureError(BadRequestError):
    code = "invalid_signature"


@functools.cache
def _verifier(secret: str) -> Any:
    # svix's package import loads every API model (~0.6 s): only this path pays it, once.
    from svix.webhooks import Webhook

    return Webhook(secret)


def reset_verifiers() -> None:
    """Forget the verifiers, and the signing secrets they hold (a SnapStart hook)."""
    _verifier.cache_clear()


def verify_clerk(raw_body: bytes, headers: Mapping[str, str]) -> None:
    """Raise WebhookSignatureError unless Svix's signature and timestamp (5 min) hold."""
    secret = get_settings().clerk_webhook_secret
    if secret is None:
        raise ConfigurationError("CLERK_WEBHOOK_SECRET is not configured.")
    from svix.webhooks import WebhookVerificationError

    verifier = _verifier(secret.get_secret_value())  # a malformed secret stays a server fault
    try:
        verifier.verify(raw_body, dict(headers))
    except WebhookVerificationError as exc:
        raise WebhookSignatureError(f"Webhook signature verification failed: {exc}.") from exc
    except ValueError as exc:  # a signature header it cannot split or decode, a body not UTF-8
        raise WebhookSignatureError("Webhook signature verification failed: malformed signature or body.") from exc


def delivery_id(headers: Mapping[str, str]) -> str:
    """The id the delivery was signed with, read as svix's verifier reads it: ``svix-id``, else
    the Standard Webhooks ``webhook-id``. 400 without one: it is the key of exactly-once."""
    lowered = {k.lower(): v for k, v in headers.items()}
    event_id = lowered.get("svix-id", lowered.get("webhook-id", ""))
    if not event_id:
        raise BadRequestError("The webhook delivery has no svix-id (or webhook-id) header.")
    return event_id


def handle_clerk_webhook(raw_body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify, then record and apply the event exactly once."""
    event_id = delivery_id(headers)
    verify_clerk(raw_body, headers)
    text = raw_body.decode("utf-8", errors="replace")
    event: dict[str, Any] | None
    try:
        parsed = untrusted_json.loads(text)
        event = parsed if isinstance(parsed, dict) else None
    except json.JSONDecodeError:
        event = None
    receipt = receive(provider=CLERK, event_id=event_id, event=event, raw_body=text, apply=APPLIERS[CLERK])
    if event is None:
        raise BadRequestError("The webhook body is not a JSON object.", details={"event_id": event_id})
    return receipt
