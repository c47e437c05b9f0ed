"""The optional AI review: Amazon Bedrock's Converse API sees the deterministic findings and the
retrieved clauses and adds judgments the checks cannot make. Its output is validated; on any
failure (throttling, timeout, malformed output) the deterministic result stands and the review
reports itself unavailable, with the reason. Nothing is ever invented in its place.

What a call may cost is known before it is made: the prompt is capped (``AI_REVIEW_MAX_INPUT_TOKENS``,
counted as an upper bound of its tokens), and the answer by ``maxTokens``. The caller holds that
much of the org's allowance during the call and settles it with the figures returned here."""

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from sheetbrain import aws
from sheetbrain.config import Settings, get_settings
from sheetbrain.observability import logger
from sheetbrain.severity import RANK

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
    reviewed: int = 0  # findings in the prompt
    omitted: int = 0  # findings left out of it by the cap (summarised in it by rule)

    @property
    def cost_micros(self) -> int:
        return cost_micros(self.model, self.input_tokens, self.output_tokens)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "model": self.model}
        if self.reason:
            body["reason"] = self.reason
        if self.omitted:
            body["findings_reviewed"] = self.reviewed
            body["findings_omitted"] = self.omitted
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


# The turn markers and roles a call adds around the system prompt and the message, in tokens.
FRAMING_TOKENS = 32
# Connecting to Bedrock is bounded on its own, and counted in the call's time.
CONNECT_TIMEOUT_S = 1.0


def input_tokens_bound(system: str, message: str) -> int:
    """An upper bound of the input tokens of a call: Claude's tokenizer is a byte-level BPE, whose
    every token covers at least one byte of UTF-8, plus the framing around the two texts. Used
    to hold allowance before the call and to charge a call that timed out (Bedrock bills its
    input, and no usage comes back): never less than the model counts."""
    return len(system.encode()) + len(message.encode()) + FRAMING_TOKENS


@dataclass(frozen=True)
class Prompt:
    """The user message of a review, within the cap."""

    text: str
    reviewed: tuple[int, ...]  # the "index" of each finding in it
    omitted: int
    input_tokens: int  # its upper bound with the system prompt (input_tokens_bound)


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def _render(findings: Sequence[Mapping[str, Any]], clauses: Sequence[Mapping[str, Any]],
            omitted: Mapping[str, Any] | None) -> str:  # fmt: skip
    body: dict[str, Any] = {"findings": list(findings), "policy_clauses": list(clauses)}
    if omitted is not None:
        body["omitted_findings"] = omitted
    return json.dumps(body, ensure_ascii=False)


def _omitted_summary(findings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_rule = Counter(str(f.get("rule")) for f in findings)
    return {"count": len(findings), "by_rule": dict(sorted(by_rule.items()))}


def build_prompt(
    findings: Sequence[Mapping[str, Any]], clauses_by_rule: Mapping[str, Mapping[str, Any]], max_input_tokens: int
) -> Prompt:
    """The findings (each with its "index", "rule" and "severity") and the clauses cited for
    their rules, within ``max_input_tokens`` counted as ``input_tokens_bound``. When all do not
    fit, the most severe come first (then in their order), each with its rule's clause, and the
    ones left out are counted by rule in ``omitted_findings``."""
    clauses = [{"rule": rule, **clause} for rule, clause in clauses_by_rule.items()]
    whole = _render(findings, clauses, None)
    if input_tokens_bound(SYSTEM_PROMPT, whole) <= max_input_tokens:
        return Prompt(whole, tuple(int(f["index"]) for f in findings), 0, input_tokens_bound(SYSTEM_PROMPT, whole))
    # Room for the rest: the skeleton, and the summary of every finding (a subset's summary has
    # no more rules and no larger counts, so it is never longer).
    budget = max_input_tokens - input_tokens_bound(SYSTEM_PROMPT, _render([], [], _omitted_summary(findings)))
    order = sorted(range(len(findings)), key=lambda i: (RANK.get(str(findings[i].get("severity")), 99), i))
    chosen: set[int] = set()
    rules: set[str] = set()
    for i in order:
        rule = str(findings[i].get("rule"))
        cost = _size(findings[i]) + 2  # ", " between items
        clause = clauses_by_rule.get(rule) if rule not in rules else None
        if clause is not None:
            cost += _size({"rule": rule, **clause}) + 2
        if cost <= budget:
            budget -= cost
            chosen.add(i)
            rules.add(rule)
    kept = [findings[i] for i in sorted(chosen)]
    left = [findings[i] for i in range(len(findings)) if i not in chosen]
    text = _render(kept, [c for c in clauses if c["rule"] in rules], _omitted_summary(left))
    bound = input_tokens_bound(SYSTEM_PROMPT, text)
    assert bound <= max_input_tokens, (bound, max_input_tokens)
    return Prompt(text, tuple(int(f["index"]) for f in kept), len(left), bound)


def call_timeout(settings: Settings, remaining_ms: int | None) -> float | None:
    """How long the model may take to answer: ``AI_REVIEW_TIMEOUT_S``, or less when the
    function's remaining time, less the margin to record the audit and the connect bound, is
    shorter (then in whole seconds, so that few clients are ever made); None below a second."""
    configured = settings.ai_review_timeout_s
    if remaining_ms is None:
        return configured
    left = remaining_ms / 1000 - settings.ai_review_record_margin_s - CONNECT_TIMEOUT_S
    if left >= configured:
        return configured
    whole = math.floor(left)
    return float(whole) if whole >= 1 else None


def client(read_timeout_s: float | None = None) -> Any:
    """The bedrock-runtime client: one attempt, reading for at most ``read_timeout_s`` (by
    default ``AI_REVIEW_TIMEOUT_S``). Bedrock answers a Converse call in one piece once done, so
    the read timeout bounds the wait for the whole answer."""
    timeout = get_settings().ai_review_timeout_s if read_timeout_s is None else read_timeout_s
    return aws.client("bedrock-runtime", connect_timeout=CONNECT_TIMEOUT_S, read_timeout=timeout, max_attempts=1)


def _json_text(text: str) -> str:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    return fenced.group(1) if fenced else text


def review(prompt: Prompt, *, read_timeout_s: float | None = None) -> ReviewResult:
    """One Converse call; never raises for the model's or the network's faults. A call that
    timed out is charged its input tokens' bound (Bedrock bills it); one refused or never sent,
    nothing."""
    from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

    settings = get_settings()
    model = settings.bedrock_model_id

    def unavailable(reason: str, input_tokens: int = 0, output_tokens: int = 0) -> ReviewResult:
        return ReviewResult("unavailable", reason, None, model, input_tokens, output_tokens, len(prompt.reviewed),
                            prompt.omitted)  # fmt: skip

    try:
        response = client(read_timeout_s).converse(
            modelId=model,
            system=[{"text": SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": [{"text": prompt.text}]}],
            inferenceConfig={"maxTokens": settings.ai_review_max_tokens, "temperature": 0},
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        logger.warning("ai review failed", error=code)
        return unavailable("throttled" if code in ("ThrottlingException", "TooManyRequestsException")
                           else f"model_error: {code}")  # fmt: skip
    except ReadTimeoutError:
        logger.warning("ai review timed out", input_tokens=prompt.input_tokens)
        return unavailable("timeout", prompt.input_tokens)
    except BotoCoreError as exc:  # e.g. ConnectTimeoutError, EndpointConnectionError: not sent
        logger.warning("ai review unreachable", error=type(exc).__name__)
        return unavailable(f"unreachable: {type(exc).__name__}")
    usage = response.get("usage") or {}
    tokens_in, tokens_out = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
    try:
        blocks = response["output"]["message"]["content"]
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict))
        output = ReviewOutput.model_validate_json(_json_text(text))
    except (KeyError, TypeError, PydanticValidationError, ValueError) as exc:
        logger.warning("ai review output invalid", error=type(exc).__name__)
        return unavailable("invalid_output", tokens_in, tokens_out)
    reviewed = frozenset(prompt.reviewed)
    if any(j.finding not in reviewed for j in output.judgments):
        return unavailable("invalid_output: judgment for an unknown finding", tokens_in, tokens_out)
    return ReviewResult("completed", None, output, model, tokens_in, tokens_out, len(prompt.reviewed), prompt.omitted)
