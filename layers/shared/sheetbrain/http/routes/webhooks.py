"""POST /api/webhooks/clerk and /api/webhooks/stripe: signed by the provider, no JWT."""

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sheetbrain.http.models import OPENAPI_EXTENSION
from sheetbrain.http.resolver import raw_body

router = APIGatewayHttpRouter()


def _header(name: str, description: str, pattern: str) -> dict[str, Any]:
    return {
        "in": "header",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _signed(*headers: dict[str, Any]) -> dict[str, Any]:
    """The raw delivery as the provider sends it: verified on its bytes before any parsing, so a
    request without a valid signature is a 400 whatever its shape."""
    return {
        OPENAPI_EXTENSION: {
            "parameters": list(headers),
            "requestBody": {
                "required": True,
                "description": "The provider's event, exactly as signed",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        }
    }


_CLERK = _signed(
    _header("svix-id", "The message id (Svix also sends it as `webhook-id`)", "^[^\\s,]+$"),
    _header("svix-timestamp", "Seconds since 1970; more than 5 minutes off is refused as stale", "^[0-9]{1,12}$"),
    _header("svix-signature", "Space-separated `v1,<base64 HMAC-SHA256>` signatures", "^v1,[A-Za-z0-9+/=]+"),
)
_STRIPE = _signed(
    _header("Stripe-Signature", "`t=<timestamp>,v1=<hex HMAC-SHA256>`", "^t=[0-9]+,.*v1=[0-9a-f]+"),
)


class WebhookAck(BaseModel):
    received: bool
    event_id: str
    outcome: str


@router.post(
    "/api/webhooks/clerk",
    summary="Clerk (Svix-signed) user/org/membership sync",
    tags=["webhooks"],
    openapi_extensions=_CLERK,
)
def clerk_webhook() -> WebhookAck:
    """200 once the event is committed (also for a duplicate); 400 for a bad signature."""
    from sheetbrain.webhooks.clerk import handle_clerk_webhook

    receipt = handle_clerk_webhook(raw_body(router), router.current_event.headers)
    return WebhookAck(received=True, event_id=receipt.event_id, outcome=receipt.outcome)


@router.post(
    "/api/webhooks/stripe",
    summary="Stripe (signed) subscription/invoice/checkout sync",
    tags=["webhooks"],
    openapi_extensions=_STRIPE,
)
def stripe_webhook() -> WebhookAck:
    """200 once the event is committed (also for a duplicate); 400 for a bad signature."""
    from sheetbrain.webhooks.stripe import handle_stripe_webhook

    receipt = handle_stripe_webhook(raw_body(router), router.current_event.headers)
    return WebhookAck(received=True, event_id=receipt.event_id, outcome=receipt.outcome)
