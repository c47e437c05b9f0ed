"""POST /api/webhooks/clerk and /api/webhooks/stripe: signed by the provider, no JWT."""

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sheetbrain.http.resolver import raw_body

router = APIGatewayHttpRouter()


class WebhookAck(BaseModel):
    received: bool
    event_id: str
    outcome: str


@router.post("/api/webhooks/clerk", summary="Clerk (Svix-signed) user/org/membership sync", tags=["webhooks"])
def clerk_webhook() -> WebhookAck:
    """200 once the event is committed (also for a duplicate); 400 for a bad signature."""
    from sheetbrain.webhooks.clerk import handle_clerk_webhook

    receipt = handle_clerk_webhook(raw_body(router), router.current_event.headers)
    return WebhookAck(received=True, event_id=receipt.event_id, outcome=receipt.outcome)


@router.post("/api/webhooks/stripe", summary="Stripe (signed) subscription/invoice/checkout sync", tags=["webhooks"])
def stripe_webhook() -> WebhookAck:
    """200 once the event is committed (also for a duplicate); 400 for a bad signature."""
    from sheetbrain.webhooks.stripe import handle_stripe_webhook

    receipt = handle_stripe_webhook(raw_body(router), router.current_event.headers)
    return WebhookAck(received=True, event_id=receipt.event_id, outcome=receipt.outcome)
