"""What a failed webhook row keeps of its error once its payload is redacted."""

from __future__ import annotations

import pytest
from sheetbrain.webhooks.inbox import redacted_error


@pytest.mark.parametrize(
    ("error", "kept"),
    [
        # an error code, then a message that may quote the payload: the code stays
        ("invalid_webhook_payload: Clerk event data lacks 'id'.", "invalid_webhook_payload (details redacted)"),
        (
            "unknown_stripe_customer: No organization is linked to Stripe customer cus_1 / subscription sub_1 yet.",
            "unknown_stripe_customer (details redacted)",
        ),
        # the inbox's own label for a payload of the wrong shape, whose repr quotes a value
        (
            "unusable payload: ValueError(\"invalid literal for int() with base 10: 'ada@example.com'\")",
            "unusable payload (details redacted)",
        ),
        # a payload the database refused, kept escaped: the same code, the suffix goes too
        (
            "invalid_webhook_payload: lacks 'id'. (payload not storable as sent)",
            "invalid_webhook_payload (details redacted)",
        ),
        # the inbox's fixed text stays whole
        ("body is not a JSON object", "body is not a JSON object"),
        # anything not shaped like ours keeps nothing of its text
        ("Ada Lovelace <ada@example.com>: refused", "(details redacted)"),
        ("ada@example.com", "(details redacted)"),
        ("ada lovelace: refused", "(details redacted)"),
        ("", "(details redacted)"),
        (None, None),
    ],
)
def test_only_the_code_or_a_fixed_text_survives(error: str | None, kept: str | None) -> None:
    # Given a failure's text, When it is redacted, Then only what cannot be personal is left
    assert redacted_error(error) == kept
