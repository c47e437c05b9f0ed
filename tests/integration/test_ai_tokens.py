"""The AI-token allowance: a call's tokens held before it is made (in the statement that checks
the limit), settled after it, charged when it timed out, released when it was never made; the
prompt's cap; the call's deadline from the function's remaining time. Bedrock is botocore's
Stubber or a local socket, never AWS."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from botocore.stub import Stubber
from sheetbrain.auditing import ai_review
from sheetbrain.db import metering_repo, tenant_transaction
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import LocalContext, invoke_lock, load_handler
from sheetbrain_dev.server import to_http

from tests.support import CONVERSE_OK, TEMPLATE, Reply, SettingsEnv, call, claims_for

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"  # the default model: $0.80 / $4.00 per M tokens
FRAMING = 32  # tokens the bound adds for the turn markers around the two texts
LIMIT = 3000  # the test org's monthly AI tokens


@pytest.fixture
def ai_org(database: DatabaseUrls, settings_env: SettingsEnv) -> tuple[str, dict[str, str]]:
    """An org with the AI review and 3,000 AI tokens a month; answers capped at 400 tokens."""
    suffix = uuid.uuid4().hex[:8]
    org_id = f"org_tok{suffix}"
    claims = claims_for(f"user_tok{suffix}", org_id, "org:admin")
    assert call("GET", "/api/stats", claims=claims).status == 200
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES "
            "(%s, 'ai_review', 1, 'test'), (%s, 'ai_tokens_per_month', %s, 'test')",
            (org_id, org_id, LIMIT),
        )
    settings_env(AI_REVIEW_ENABLED="true", AI_REVIEW_MAX_TOKENS="400")
    return org_id, claims


def holds(owner: str, org_id: str) -> list[tuple[int, int]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            "SELECT tokens, input_tokens FROM ai_token_reservations WHERE org_id = %s ORDER BY reserved_at", (org_id,)
        ).fetchall()


def used(owner: str, org_id: str) -> int:
    """AI tokens counted for the org, all months together (a test may straddle a month's end)."""
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM usage_monthly WHERE org_id = %s AND metric = 'ai_tokens'",
            (org_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def ledger(owner: str, org_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            "SELECT model, input_tokens, output_tokens, cost_micros, outcome FROM ai_token_usage WHERE org_id = %s "
            "ORDER BY id",
            (org_id,),
        ).fetchall()


def wire_bound(request: dict[str, Any]) -> int:
    """The input-token bound of a Converse request as sent: its system and message texts'
    UTF-8 bytes, plus the framing."""
    system = "".join(block["text"] for block in request["system"])
    message = "".join(block["text"] for m in request["messages"] for block in m["content"])
    return len(system.encode()) + len(message.encode()) + FRAMING


@contextmanager
def watching_calls(owner: str, org_id: str) -> Iterator[list[dict[str, Any]]]:
    """Each Converse call the review's client makes, as it is about to be sent: its parameters,
    and the org's holds at that moment (read on another connection). Entered after the last
    settings change, which makes new clients."""
    seen: list[dict[str, Any]] = []
    client = ai_review.client()

    def before(params: dict[str, Any], **_: Any) -> None:
        seen.append({"params": dict(params), "holds": holds(owner, org_id)})

    client.meta.events.register_first("before-parameter-build.bedrock-runtime.Converse", before, unique_id="seen")
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-parameter-build.bedrock-runtime.Converse", unique_id="seen")


def test_a_call_holds_its_bound_while_it_runs_and_is_settled_at_what_it_spent(
    ai_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given a model that answers with 1,200 input and 300 output tokens
    with watching_calls(database.owner, org_id) as calls, Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        # When an audit is reviewed
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
        stub.assert_no_pending_responses()
    assert body["ai_review"]["status"] == "completed"
    # Then while the model ran, the call held its prompt's bound plus the 400 answer tokens
    (sent,) = calls
    bound = wire_bound(sent["params"])
    assert sent["holds"] == [(bound + 400, bound)]
    # and afterwards the hold is gone and the 1,500 tokens spent are counted, once
    assert holds(database.owner, org_id) == []
    assert used(database.owner, org_id) == 1500
    assert ledger(database.owner, org_id) == [(HAIKU, 1200, 300, 2160, "completed")]


def test_a_call_that_would_pass_the_allowance_is_not_made(
    ai_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given 2,000 of the 3,000 tokens spent by one call
    with watching_calls(database.owner, org_id) as calls, Stubber(ai_review.client()) as stub:
        stub.add_response(
            "converse", {**CONVERSE_OK, "usage": {"inputTokens": 1700, "outputTokens": 300, "totalTokens": 2000}}
        )
        call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]})
        # When the next audit's call would hold its bound (some 650 prompt tokens) and 400 more
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
        stub.assert_no_pending_responses()
    # Then it is skipped, though 1,000 tokens were left: what it may spend does not fit
    assert body["ai_review"] == {"status": "skipped", "reason": "monthly AI token allowance used up"}
    assert len(calls) == 1
    assert (used(database.owner, org_id), holds(database.owner, org_id)) == (2000, [])


def test_two_audits_racing_at_the_limit_never_hold_more_than_it(
    ai_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, _ = ai_org
    # Given two reservations of 2,000 tokens each against the limit of 3,000, made at the same
    # moment on two connections, each kept open for 0.3 s after it (as a call would be running)
    barrier = threading.Barrier(2)
    now = datetime.now(UTC)
    outcomes: dict[str, tuple[metering_repo.ReserveRow, float, float]] = {}
    errors: list[BaseException] = []

    def reserve(name: str) -> None:
        try:
            with tenant_transaction(org_id) as conn:
                barrier.wait()
                started = time.monotonic()
                row = metering_repo.ai_tokens_reserve(
                    conn, org_id=org_id, reservation_id=uuid.uuid4(), tokens=2000, input_tokens=1600,
                    input_cost_micros=1280, model=HAIKU, now=now, reserved_at=now,
                    expires_at=now + timedelta(minutes=1),
                )  # fmt: skip
                time.sleep(0.3)
            outcomes[name] = (row, started, time.monotonic())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reserve, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Then both asked before either had committed
    (row_a, start_a, end_a), (row_b, start_b, end_b) = outcomes["a"], outcomes["b"]
    assert start_a < end_b and start_b < end_a
    # and exactly one was granted; the other saw its 2,000 held and was refused
    rows = sorted([row_a, row_b], key=lambda r: not r.accepted)
    assert [(r.accepted, r.used, r.reserved, r.lim) for r in rows] == [(True, 0, 0, 3000), (False, 0, 2000, 3000)]
    assert holds(database.owner, org_id) == [(2000, 1600)]


class _Bedrock(BaseHTTPRequestHandler):
    """A Converse endpoint that answers only after ``delay_s``, keeping what it was sent."""

    delay_s = 5.0
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append(json.loads(self.rfile.read(length)))
        time.sleep(self.delay_s)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass  # the client gave up

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def slow_bedrock(settings_env: SettingsEnv) -> Iterator[list[dict[str, Any]]]:
    """A local Bedrock that takes 5 s to answer, as the review's endpoint: the requests it got."""
    received: list[dict[str, Any]] = []
    handler = type("SlowBedrock", (_Bedrock,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=f"http://127.0.0.1:{server.server_port}")
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def test_a_timed_out_call_is_charged_its_input_bound(
    ai_org: tuple[str, dict[str, str]], slow_bedrock: list[dict[str, Any]], settings_env: SettingsEnv,
    database: DatabaseUrls,
) -> None:  # fmt: skip
    org_id, claims = ai_org
    # Given a model that does not answer within the review's timeout of 0.5 s
    settings_env(AI_REVIEW_TIMEOUT_S="0.5")
    # When an audit is reviewed
    body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
    # Then the review is unavailable; the call was sent once (not retried), and, as Bedrock bills
    # it, is charged the bound of the input it was sent (0.80 micro-dollars a token) and no output
    assert body["ai_review"]["reason"] == "timeout"
    (sent,) = slow_bedrock
    bound = wire_bound(sent)
    assert ledger(database.owner, org_id) == [(HAIKU, bound, 0, round(bound * 0.80), "unavailable: timeout")]
    assert (used(database.owner, org_id), holds(database.owner, org_id)) == (bound, [])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("fault", ["throttled", "unreachable"])
def test_a_call_refused_or_never_sent_releases_its_hold(
    fault: str, ai_org: tuple[str, dict[str, str]], settings_env: SettingsEnv, database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    seen: list[list[tuple[int, int]]] = []
    # Given Bedrock refusing the call (throttled), or no Bedrock listening at all
    if fault == "unreachable":
        settings_env(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=f"http://127.0.0.1:{_closed_port()}")
    client = ai_review.client()
    client.meta.events.register_first("before-parameter-build.bedrock-runtime.Converse",
                                      lambda **_: seen.append(holds(database.owner, org_id)))  # fmt: skip
    with Stubber(client) as stub:
        if fault == "throttled":
            stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
        else:
            stub.deactivate()
        # When an audit is reviewed
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
    # Then the call held tokens while it was tried, and nothing is charged for it afterwards
    expected = {"throttled": "throttled", "unreachable": "unreachable: EndpointConnectionError"}[fault]
    assert body["ai_review"]["reason"] == expected
    assert len(seen) == 1 and len(seen[0]) == 1
    assert (used(database.owner, org_id), holds(database.owner, org_id), ledger(database.owner, org_id)) == (0, [], [])


def test_a_review_that_fails_before_its_call_releases_its_hold(
    ai_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    seen: list[tuple[int, list[tuple[int, int]]]] = []

    def broken_client(params: dict[str, Any], **_: Any) -> None:
        seen.append((wire_bound(params), holds(database.owner, org_id)))
        raise RuntimeError("the client broke before sending")

    # Given a Bedrock client that fails, not as Bedrock or the network fail, before it sends
    client = ai_review.client()
    client.meta.events.register_first("before-parameter-build.bedrock-runtime.Converse", broken_client)
    # When an audit is reviewed
    reply = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]})
    # Then the audit fails as a fault of ours; the call had its bound held when it was tried,
    # and that hold is given back: nothing held, counted or on the ledger
    assert (reply.status, reply.json()["error"]["code"]) == (500, "internal_error")
    ((bound, held),) = seen
    assert held == [(bound + 400, bound)]
    assert (used(database.owner, org_id), holds(database.owner, org_id), ledger(database.owner, org_id)) == (0, [], [])


def test_a_hold_whose_invocation_died_is_charged_its_input_bound_by_the_next_reservation(
    ai_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given a hold of 1,100 tokens (700 of input, costing 560 micro-dollars) left by an
    # invocation that ended a second ago without settling it
    now = datetime.now(UTC)
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            """INSERT INTO ai_token_reservations (id, org_id, month, tokens, input_tokens, input_cost_micros, model,
                                                  reserved_at, expires_at)
               VALUES (%s, %s, date_trunc('month', %s AT TIME ZONE 'UTC')::date, 1100, 700, 560, %s, %s, %s)""",
            (uuid.uuid4(), org_id, now - timedelta(seconds=2), HAIKU, now - timedelta(seconds=2),
             now - timedelta(seconds=1)),
        )  # fmt: skip
    # When the org's next audit is reviewed (1,500 tokens)
    with Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
    # Then the lapsed hold is charged its 700 input tokens, on the ledger and the allowance
    assert body["ai_review"]["status"] == "completed"
    assert ledger(database.owner, org_id) == [
        (HAIKU, 700, 0, 560, "unavailable: lapsed (input tokens estimated)"),
        (HAIKU, 1200, 300, 2160, "completed"),
    ]
    assert (used(database.owner, org_id), holds(database.owner, org_id)) == (2200, [])


def test_findings_beyond_the_prompt_cap_are_counted_not_sent(
    ai_org: tuple[str, dict[str, str]], settings_env: SettingsEnv, database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given a cap of 2,000 input tokens and 40 divisions by zero (a finding each)
    settings_env(AI_REVIEW_MAX_INPUT_TOKENS="2000")
    formulas = [f"=B{row}/0" for row in range(1, 41)]
    with watching_calls(database.owner, org_id) as calls, Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        # When the audit is reviewed
        body = call("POST", "/api/audit", claims=claims, body={"formulas": formulas}).json()
    assert len(body["findings"]) == 40
    # Then the prompt sent stays within the cap and carries some findings, the others counted
    (sent,) = calls
    prompt = json.loads(sent["params"]["messages"][0]["content"][0]["text"])
    reviewed = len(prompt["findings"])
    assert wire_bound(sent["params"]) <= 2000 and 0 < reviewed < 40
    assert prompt["omitted_findings"] == {"count": 40 - reviewed, "by_rule": {"FX14": 40 - reviewed}}
    # and the result says how many were reviewed and how many left out
    review = body["ai_review"]
    assert (review["status"], review["findings_reviewed"], review["findings_omitted"]) == (
        "completed",
        reviewed,
        40 - reviewed,
    )


def audit_with_time_left(claims: dict[str, str], body: dict[str, Any], timeout_s: int) -> Reply:
    """POST /api/audit through the audit function, with a Lambda context of ``timeout_s``."""
    found = TEMPLATE.find_route("POST", "/api/audit")
    assert found is not None
    route, params = found
    event = http_event(route=route, path="/api/audit", path_params=params, method="POST", raw_query="",
                       headers=[("host", "api.test"), ("content-type", "application/json")],
                       body=json.dumps(body).encode(), claims=claims)  # fmt: skip
    handler = load_handler(TEMPLATE.functions[route.function])
    with invoke_lock:
        result = handler(event, LocalContext(function_name=route.function, timeout_s=timeout_s))
    return Reply(*to_http(result))


def test_the_call_ends_before_the_function_must_record_the_audit(
    ai_org: tuple[str, dict[str, str]], slow_bedrock: list[dict[str, Any]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given a function with 7 s to run, 3 s of which are kept to record the audit and 1 s to
    # connect, a review timeout of 20 s (the default), and a model that answers after 5 s
    # When an audit is reviewed
    reply = audit_with_time_left(claims, {"formulas": ["=B2/0"]}, timeout_s=7)
    # Then the call gives up before the function would run out (at most 2 s of waiting), and is
    # charged as a timed-out call
    assert reply.status == 200
    assert reply.json()["ai_review"]["reason"] == "timeout"
    (sent,) = slow_bedrock
    assert used(database.owner, org_id) == wire_bound(sent)


def test_no_call_is_made_without_a_second_left_for_it(
    ai_org: tuple[str, dict[str, str]], slow_bedrock: list[dict[str, Any]], database: DatabaseUrls
) -> None:
    org_id, claims = ai_org
    # Given a function with 4 s to run: less than a second is left after the 3 s margin and the
    # 1 s to connect
    # When an audit is reviewed
    reply = audit_with_time_left(claims, {"formulas": ["=B2/0"]}, timeout_s=4)
    # Then the review is skipped, Bedrock is never asked and nothing is held or charged
    assert reply.json()["ai_review"] == {"status": "skipped", "reason": "not enough time left in this invocation"}
    assert slow_bedrock == []
    assert (used(database.owner, org_id), holds(database.owner, org_id)) == (0, [])
