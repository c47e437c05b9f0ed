"""Inputs that used to reach a 500: each gets the contract's 4xx and leaves nothing behind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError as PydanticValidationError
from sheetbrain.http.models import RequestModel
from sheetbrain.http.routes.audits import AuditIn
from sheetbrain_dev.database import DatabaseUrls

from tests.support import SettingsEnv, call, claims_for


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


@pytest.mark.parametrize("path", ["/api/audit", "/api/billing/checkout", "/api/billing/portal"])
@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("multipart/form-data", b"--x\r\n"),  # no boundary: Powertools' parser raised ValueError, a 500
        ("application/x-www-form-urlencoded", b"plan=pro&return_url=x"),  # parsed as a form: a 422
    ],
)
def test_json_routes_refuse_other_content_types_with_400(
    admin: tuple[str, dict[str, str]], path: str, content_type: str, raw: bytes
) -> None:
    reply = call("POST", path, claims=admin[1], raw_body=raw, headers={"content-type": content_type})
    assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")


def _invoke_with_text_body(method: str, path: str, text: str, claims: dict[str, str]) -> dict:
    """Invoke the real function with a body as the event carries it: text that need not be encodable."""
    from sheetbrain_dev.events import http_event
    from sheetbrain_dev.lambda_runtime import invoke

    from tests.support import TEMPLATE

    route, params = TEMPLATE.find_route(method, path)  # type: ignore[misc]
    event = http_event(
        route=route,
        path=path,
        path_params=params,
        method=method,
        raw_query="",
        headers=[("content-type", "application/json")],
        body=b"{}",
        claims=claims,
    )
    event["body"], event["isBase64Encoded"] = text, False
    return invoke(TEMPLATE.functions[route.function], event)


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/audit"), ("POST", "/api/webhooks/clerk")])
def test_a_lone_surrogate_in_a_text_body_is_400(admin: tuple[str, dict[str, str]], method: str, path: str) -> None:
    result = _invoke_with_text_body(method, path, '{"formulas": ["=A1\ud800"]}', admin[1])
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "malformed_body"


def _grid(values: object) -> dict:
    return {"sheet": {"name": "Q", "formulas": [["=A1"]], "values": values}}


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ([[0] * 300_000], "more than 500 columns"),
        ([[0]] * 50_001, "at most 50000 items"),
        ([[0] * 500] * 101, "more than 50000 cells"),
        ([[{"a": 1}]], "valid string"),
        ([[[1, 2]]], "valid string"),
    ],
)
def test_grid_values_are_scalar_cells_within_the_grid_limits(
    admin: tuple[str, dict[str, str]], values: object, why: str
) -> None:
    raw = json.dumps(_grid(values), separators=(",", ":")).encode()
    reply = call("POST", "/api/audit", claims=admin[1], raw_body=raw, headers={"content-type": "application/json"})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_error")
    assert why in reply.json()["error"]["message"]
    assert all(f["field"].startswith("body.sheet.values") for f in reply.json()["error"]["details"]["fields"])


def test_grid_values_nested_deeper_than_python_recurses_are_422(admin: tuple[str, dict[str, str]]) -> None:
    # Given a cell nested deeper than Python's recursion limit, yet shallow enough for json.loads
    cell = "[" * 1_200 + "]" * 1_200
    raw = b'{"sheet": {"name": "Q", "formulas": [["=A1"]], "values": [[' + cell.encode() + b"]]}}"
    reply = call("POST", "/api/audit", claims=admin[1], raw_body=raw, headers={"content-type": "application/json"})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_error")


def test_the_text_check_walks_any_depth_without_recursing() -> None:
    # Given a request model that takes anything, and a NUL at the bottom of a very deep value
    class Anything(RequestModel):
        value: Any

    deep: Any = ["\u0000"]
    for _ in range(20_000):
        deep = [deep]
    # When it is validated, then the NUL is found (no RecursionError)
    with pytest.raises(PydanticValidationError) as caught:
        Anything.model_validate({"value": deep})
    assert "NUL characters are not allowed" in caught.value.errors()[0]["msg"]
    assert Anything.model_validate({"value": [[["ok"]], {"k": [1, None]}]}).value == [[["ok"]], {"k": [1, None]}]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        # two lone surrogates side by side in the strings checked together: still two problems
        (["ok", "a\ud800", "\udc00b"], "body.value[1]: invalid Unicode (a lone surrogate)"),
        ({"k": ["ok"], "k\u0000": 1}, "body.value: NUL characters are not allowed"),  # a key: its dict is named
        ([{"a": "ok"}, [["x", "\u0000"]]], "body.value[1][0][1]: NUL characters are not allowed"),
    ],
)
def test_the_text_check_names_the_first_unstorable_string(value: Any, why: str) -> None:
    class Anything(RequestModel):
        value: Any

    with pytest.raises(PydanticValidationError) as caught:
        Anything.model_validate({"value": value})
    assert caught.value.errors()[0]["msg"] == f"Value error, {why}"


@pytest.mark.parametrize(
    "body",
    [
        lambda text: {"formulas": ["=A1", text]},
        lambda text: {"sheet": {"name": "S", "formulas": [["=A1", None, ""], ["", text]]}},
    ],
)
def test_a_formula_may_have_8192_characters_and_no_more(body: Any) -> None:
    assert AuditIn.model_validate(body("=" + "A" * 8_191))
    with pytest.raises(PydanticValidationError) as caught:
        AuditIn.model_validate(body("=" + "A" * 8_192))
    assert "a formula is longer than 8192 characters" in caught.value.errors()[0]["msg"]


def test_an_overlong_audit_id_is_404_like_any_malformed_id(admin: tuple[str, dict[str, str]]) -> None:
    reply = call("GET", "/api/audits/" + "a" * 100, claims=admin[1])
    assert (reply.status, reply.json()["error"]["code"]) == (404, "not_found")


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
    assert (reply.status, reply.json()["error"]["code"]) == (400, "malformed_json")
    with psycopg.connect(database.owner) as conn:
        logged = conn.execute("SELECT success FROM ingestion_logs WHERE org_id = %s", (org,)).fetchall()
    assert logged == [(False,)]


def test_a_signed_stripe_event_with_unusable_values_is_recorded_not_retried(
    database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    import time

    from tests import stripe_events as se

    settings_env(STRIPE_WEBHOOK_SECRET=se.SECRET, STRIPE_PRICE_PRO=se.PRICES["pro"])
    org = f"org_bad{uuid.uuid4().hex[:8]}"
    assert call("GET", "/api/stats", claims=claims_for(f"user_{org}", org)).status == 200
    evt = se.checkout_completed(org, "cus_x", "sub_x", int(time.time()))
    evt["data"]["object"]["amount_total"] = "lots"
    body = se.body_of(evt)
    reply = call("POST", "/api/webhooks/stripe", raw_body=body.encode(),
                 headers={"content-type": "application/json", "stripe-signature": se.signature(body)})  # fmt: skip
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
