"""The AI review's prompt within its cap, its token bound, and the call's time within the
function's remaining time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sheetbrain.auditing.ai_review import SYSTEM_PROMPT, build_prompt, call_timeout, input_tokens_bound
from sheetbrain.config import Settings

SYSTEM_BYTES = len(SYSTEM_PROMPT.encode())
FRAMING = 32  # the turn markers around the two texts, in tokens


def finding(index: int, rule: str, severity: str, message: str) -> dict[str, Any]:
    return {"index": index, "rule": rule, "severity": severity, "message": message}


def test_the_token_bound_counts_utf8_bytes_of_both_texts_and_the_framing() -> None:
    # Given a system text of 2 ASCII bytes and a message of one 2-byte and one 3-byte character
    # When the input tokens are bounded
    # Then each byte may be a token: 2 + 5, plus 32 for the framing
    assert input_tokens_bound("ab", "é€") == 39


def test_a_prompt_within_the_cap_holds_every_finding_and_its_clause() -> None:
    # Given one finding and the clause cited for its rule
    findings = [finding(0, "FX14", "critical", "Division by zero")]
    clauses = {"FX14": {"policy": "Controls", "clause": "1.1", "text": "Never divide by zero."}}
    # When the prompt is built under a cap it fits in
    prompt = build_prompt(findings, clauses, 2000)
    # Then it is the whole JSON, nothing is left out, and its bound is its bytes with the system's
    expected = (
        '{"findings": [{"index": 0, "rule": "FX14", "severity": "critical", "message": "Division by zero"}], '
        '"policy_clauses": [{"rule": "FX14", "policy": "Controls", "clause": "1.1", "text": "Never divide by zero."}]}'
    )
    assert prompt.text == expected
    assert (prompt.reviewed, prompt.omitted) == ((0,), 0)
    assert prompt.input_tokens == SYSTEM_BYTES + 209 + FRAMING == len(expected.encode()) + SYSTEM_BYTES + FRAMING


def test_over_the_cap_the_most_severe_findings_are_kept_and_the_rest_counted_by_rule() -> None:
    # Given six findings of about 1,070 bytes each, of every severity, and clauses for two rules
    long = "x" * 1000
    findings = [
        finding(0, "FX01", "low", long),
        finding(1, "FX14", "critical", long),
        finding(2, "FX02", "info", long),
        finding(3, "FX07", "high", long),
        finding(4, "FX03", "medium", long),
        finding(5, "FX14", "critical", long),
    ]
    clauses = {
        "FX14": {"policy": "Controls", "clause": "1.1", "text": "Never divide by zero."},
        "FX01": {"policy": "Controls", "clause": "9.9", "text": "A low clause."},
    }
    # When the cap leaves room for three of them besides the system prompt
    cap = SYSTEM_BYTES + FRAMING + 3500
    prompt = build_prompt(findings, clauses, cap)
    # Then the two critical ones and the high one are sent, in their order, with the clause of
    # their rule only; the low, info and medium ones are counted by rule, and said to be left out
    sent = json.loads(prompt.text)
    assert (prompt.reviewed, prompt.omitted) == ((1, 3, 5), 3)
    assert [f["index"] for f in sent["findings"]] == [1, 3, 5]
    assert [c["rule"] for c in sent["policy_clauses"]] == ["FX14"]
    assert sent["omitted_findings"] == {"count": 3, "by_rule": {"FX01": 1, "FX02": 1, "FX03": 1}}
    # and the bound of what is sent stays within the cap
    assert prompt.input_tokens == SYSTEM_BYTES + len(prompt.text.encode()) + FRAMING <= cap


def test_a_finding_too_large_for_the_cap_gives_way_to_smaller_ones_after_it() -> None:
    # Given a critical finding of 5,000 bytes and a low one of a few bytes
    findings = [finding(0, "FX14", "critical", "y" * 5000), finding(1, "FX01", "low", "short")]
    # When the cap is 2,000 tokens
    prompt = build_prompt(findings, {}, 2000)
    # Then the low one is sent and the large one counted as left out
    assert (prompt.reviewed, prompt.omitted) == ((1,), 1)
    assert json.loads(prompt.text)["omitted_findings"] == {"count": 1, "by_rule": {"FX14": 1}}


def test_no_finding_that_fits_leaves_an_empty_prompt() -> None:
    prompt = build_prompt([finding(0, "FX14", "critical", "z" * 3000)], {}, 2000)
    assert (prompt.reviewed, prompt.omitted) == ((), 1)


SETTINGS = Settings(ai_review_timeout_s=20, ai_review_record_margin_s=3)


@pytest.mark.parametrize(
    ("remaining_ms", "expected"),
    [
        # no Lambda context: the configured timeout
        (None, 20.0),
        # ample time: the configured timeout (24 s left after 3 s margin and 1 s to connect)
        (28_000, 20.0),
        # 10.5 s left: 6.5 s after the margin and the connect bound, in whole seconds
        (10_500, 6.0),
        # exactly one second left for the answer
        (5_000, 1.0),
        # less than a second: no call
        (4_999, None),
        (0, None),
    ],
)
def test_the_call_waits_no_longer_than_the_function_has_left(remaining_ms: int | None, expected: float | None) -> None:
    assert call_timeout(SETTINGS, remaining_ms) == expected
