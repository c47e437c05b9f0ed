"""The optional AI review: Amazon Bedrock's Converse API sees the deterministic findings and the
retrieved clauses and adds judgments the checks cannot make. Its output is validated; on any
failure (throttling, timeout, malformed output) the deterministic result stands and the review
reports itself unavailable, with the reason. Nothing is ever invented in its place."""

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from sheetbrain import aws
from sheetbrain.config import get_settings
from sheetbrain.observability import logger

# USD per million tokens (input, output), by model family; the longest matching prefix wins.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "anthropic.claude-3-5-haiku": (0.80, 4.00),
    "anthropic.claude-3-haiku": (0.25, 1.25),
    "anthropic.claude-3-5-sonnet": (3.00, 15.00),
    "anthropic.claude-3-7-sonnet": (3.00, 15.00),
    "anthropic.claude-sonnet-4": (3.00, 15.00),
    "anthropic.claude-opus-4": (15.00, 75.00),
}
_DEFAULT_PRICE = (15.00, 75.00)  # unknown model: bill at the dearest known price, never at zero

SYSTEM_PROMPT = (
    "You review spreadsheet formula audits. You get deterministic findings (numbered) and the "
    "organization's policy clauses. For each finding decide whether it is a real problem in context "
    "(confirmed), a false positive, or uncertain, with a one-sentence explanation citing the clause "
    "when one applies. Add at most five further problems the checks could not see, only when the "
    'formulas show them. Answer with JSON only: {"summary": str, "judgments": [{"finding": int, '
    '"verdict": "confirmed"|"false_positive"|"uncertain", "explanation": str}], '
    '"additional_findings": [{"cell": str|null, "severity": "high"|"medium"|"low", "message": str}]}'
)


class Judgment(BaseModel):
    finding: int = Field(ge=0)
    verdict: Literal["confirmed", "false_positive", "uncertain"]
    explanation: str = Field(min_length=1, max_length=1000)


class AdditionalFinding(BaseModel):
    cell: str | None = Field(default=None, max_length=64)
    severity: Literal["high", "medium", "low"]
    message: str = Field(min_length=1, max_length=1000)


class ReviewOutput(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    judgments: list[Judgment] = Field(max_length=1000)
    additional_findings: list[AdditionalFinding] = Field(default_factory=list, max_length=5)


@dataclass(frozen=True)
class ReviewResult:
    status: Literal["completed", "unavailable"]
    reason: str | None
    output: ReviewOutput | None
    model: str
    input_tokens: int
    output_tokens: int

    @property
    def cost_micros(self) -> int:
        return cost_micros(self.model, self.input_tokens, self.output_tokens)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "model": self.model}
        if self.reason:
            body["reason"] = self.reason
        if self.output is not None:
            body.update(self.output.model_dump())
        return body


# A cross-region inference profile prefixes the model id with its geography (us., eu., apac.,
# global., ...); the price is the model's.
_PROFILE_PREFIX = re.compile(r"^[a-z-]+\.(?=[a-z]+\.)")


def cost_micros(model: str, input_tokens: int, output_tokens: int) -> int:
    """Cost of a call in micro-dollars from the price table."""
    model_id = _PROFILE_PREFIX.sub("", model.split("/")[-1])
    matches = [prefix for prefix in PRICES_PER_MTOK if model_id.startswith(prefix)]
    price_in, price_out = PRICES_PER_MTOK[max(matches, key=len)] if matches else _DEFAULT_PRICE
    return round(input_tokens * price_in + output_tokens * price_out)


def client() -> Any:
    """The bedrock-runtime client: one attempt, bounded by the review's timeout."""
    return aws.client("bedrock-runtime", read_timeout=get_settings().ai_review_timeout_s, max_attempts=1)


def _prompt(findings: list[dict[str, Any]], clauses: list[dict[str, Any]]) -> str:
    return json.dumps({"findings": findings, "policy_clauses": clauses}, ensure_ascii=False)


def _json_text(text: str) -> str:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return fenced.group(1) if fenced else text


def review(findings: list[dict[str, Any]], clauses: list[dict[str, Any]]) -> ReviewResult:
    """One Converse call; never raises for the model's or the network's faults."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    model = settings.bedrock_model_id
    try:
        response = client().converse(
            modelId=model,
            system=[{"text": SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": [{"text": _prompt(findings, clauses)}]}],
            inferenceConfig={"maxTokens": settings.ai_review_max_tokens, "temperature": 0},
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        logger.warning("ai review failed", error=code)
        reason = "throttled" if code in ("ThrottlingException", "TooManyRequestsException") else f"model_error: {code}"
        return ReviewResult("unavailable", reason, None, model, 0, 0)
    except BotoCoreError as exc:
        logger.warning("ai review unreachable", error=type(exc).__name__)
        reason = "timeout" if "Timeout" in type(exc).__name__ else f"unreachable: {type(exc).__name__}"
        return ReviewResult("unavailable", reason, None, model, 0, 0)
    usage = response.get("usage") or {}
    tokens_in, tokens_out = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
    try:
        blocks = response["output"]["message"]["content"]
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict))
        output = ReviewOutput.model_validate_json(_json_text(text))
    except (KeyError, TypeError, PydanticValidationError, ValueError) as exc:
        logger.warning("ai review output invalid", error=type(exc).__name__)
        return ReviewResult("unavailable", "invalid_output", None, model, tokens_in, tokens_out)
    if any(j.finding >= len(findings) for j in output.judgments):
        return ReviewResult("unavailable", "invalid_output: judgment for an unknown finding", None, model, tokens_in,
                            tokens_out)  # fmt: skip
    return ReviewResult("completed", None, output, model, tokens_in, tokens_out)
