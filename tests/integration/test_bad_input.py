"""Inputs that used to reach a 500: each gets the contract's 4xx and leaves nothing behind."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for


@pytest.fixture
def admin(database: DatabaseUrls) -> tuple[str, dict[str, str]]:
    org = f"org_bad{uuid.uuid4().hex[:8]}"
    return org, claims_for(f"user_bad{uuid.uuid4().hex[:8]}", org, "org:admin")


@pytest.mark.parametrize(
    "body",
    [
        {"formulas": ["=A1\u0000"]},
        {"formulas": ["=A1\ud800"]},
        {"sheet": {"name": "Q\u00003", "formulas": [["=A1"]]}},
        {"formulas": ["=A1"], "context": {"spreadsheet_id": "x\u0000"}},
    ],
)
def test_unstorable_text_is_422(admin: tuple[str, dict[str, str]], database: DatabaseUrls, body: dict) -> None:
    org, claims = admin
    reply = call("POST", "/api/audit", claims=claims, body=body)
    assert reply.status == 422
    assert reply.json()["error"]["code"] == "validation_error"
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM audits WHERE org_id = %s", (org,)).fetchone() == (0,)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"formulas": ["=A1"], "n": ' + b"9" * 5000 + b"}", 400),  # an integer Python refuses to convert
        (b'{"formulas": ["=\xff\xfe"]}', 400),  # not UTF-8
        (b'{"formulas": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),  # deeper than Python's recursion limit
    ],
)
def test_unreadable_json_bodies_are_400(admin: tuple[str, dict[str, str]], raw: bytes, status: int) -> None:
    reply = call("POST", "/api/audit", claims=admin[1], raw_body=raw, headers={"content-type": "application/json"})
    assert reply.status == status
    assert reply.json()["error"]["code"] in ("malformed_json", "malformed_body")


def test_ingest_checks_the_role_before_reading_the_body(admin: tuple[str, dict[str, str]]) -> None:
    org, _ = admin
    member = claims_for(f"user_m{uuid.uuid4().hex[:6]}", org, "org:member")
    reply = call("POST", "/api/ingest", claims=member, raw_body=b"{", headers={"content-type": "application/json"})
    assert reply.status == 403


def test_ingest_rejects_unreadable_bodies_with_400(admin: tuple[str, dict[str, str]]) -> None:
    _, claims = admin
    not_utf8 = call("POST", "/api/ingest", claims=claims, raw_body=b'{"title": "\xff"}',
                    headers={"content-type": "application/json"})  # fmt: skip
    assert not_utf8.status == 400
    nul_title = call("POST", "/api/ingest", claims=claims, body={"title": "a\u0000b", "content": "1. No links."})
    assert nul_title.status == 422


def test_usage_dates_out_of_range_are_422(admin: tuple[str, dict[str, str]]) -> None:
    reply = call("GET", "/api/usage", claims=admin[1], query="to=0001-01-01")
    assert reply.status == 422


def test_a_nul_in_a_claim_is_401() -> None:
    claims = claims_for("user_nul", "org_nul")
    claims["sub"] = "user\u0000x"
    assert call("GET", "/api/stats", claims=claims).status == 401


def test_an_ingest_body_nested_too_deep_is_400_and_logged(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org, claims = admin
    raw = b'{"title": ' + b"[" * 5000 + b"]" * 5000 + b', "content": "x"}'
    reply = call("POST", "/api/ingest", claims=claims, raw_body=raw, headers={"content-type": "application/json"})
    assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")
    with psycopg.connect(database.owner) as conn:
        logged = conn.execute("SELECT success FROM ingestion_logs WHERE org_id = %s", (org,)).fetchall()
    assert logged == [(False,)]


def test_a_signed_stripe_event_with_unusable_values_is_recorded_not_retried(database: DatabaseUrls) -> None:
    import os
    import time

    from sheetbrain.config import reset_settings

    from tests import stripe_events as se

    os.environ["STRIPE_WEBHOOK_SECRET"] = se.SECRET
    os.environ["STRIPE_PRICE_PRO"] = se.PRICES["pro"]
    reset_settings()
    try:
        org = f"org_bad{uuid.uuid4().hex[:8]}"
        assert call("GET", "/api/stats", claims=claims_for(f"user_{org}", org)).status == 200
        evt = se.checkout_completed(org, "cus_x", "sub_x", int(time.time()))
        evt["data"]["object"]["amount_total"] = "lots"
        body = se.body_of(evt)
        reply = call("POST", "/api/webhooks/stripe", raw_body=body.encode(),
                     headers={"content-type": "application/json", "stripe-signature": se.signature(body)})  # fmt: skip
    finally:
        del os.environ["STRIPE_WEBHOOK_SECRET"], os.environ["STRIPE_PRICE_PRO"]
        reset_settings()
    assert (reply.status, reply.json()["outcome"]) == (200, "failed")
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT status, next_attempt_at FROM webhook_inbox WHERE event_id = %s", (evt["id"],)
        ).fetchone()
    assert row == ("failed", None)


def test_base64_bodies_that_are_not_base64_are_400(admin: tuple[str, dict[str, str]]) -> None:
    from sheetbrain_dev.events import http_event
    from sheetbrain_dev.lambda_runtime import invoke

    from tests.support import TEMPLATE

    route, params = TEMPLATE.find_route("POST", "/api/ingest")  # type: ignore[misc]
    event = http_event(
        route=route,
        path="/api/ingest",
        path_params=params,
        method="POST",
        raw_query="",
        headers=[("content-type", "multipart/form-data; boundary=x")],
        body=b"x",
        claims=admin[1],
    )
    event["body"] = "***not base64***"
    result = invoke(TEMPLATE.functions[route.function], event)
    assert result["statusCode"] == 400
