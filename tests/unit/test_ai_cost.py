"""The AI-token ledger's cost: one price per model, whichever inference profile served it."""

from __future__ import annotations

import pytest
from sheetbrain.auditing.ai_review import cost_micros

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.mark.parametrize("prefix", ["", "us.", "eu.", "apac.", "global.", "us-gov."])
def test_a_cross_region_profile_costs_what_its_model_costs(prefix: str) -> None:
    # Given 1,000 input and 1,000 output tokens of Claude 3.5 Haiku ($0.80 / $4.00 per million)
    # When they are priced under the model id or a geography's inference profile
    # Then the cost is the model's: 800 + 4,000 micro-dollars
    assert cost_micros(prefix + HAIKU, 1000, 1000) == 4800


def test_a_profile_arn_is_priced_by_its_model() -> None:
    arn = f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{HAIKU}"
    assert cost_micros(arn, 1000, 1000) == 4800
