"""The shared edge through real handlers: health, error shape, identity, request checks."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field
from sheetbrain.http import current_identity, make_resolver
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import LocalContext
from sheetbrain_dev.template import Route, _path_pattern

from tests.support import SettingsEnv, call, claims_for


def _assert_error_shape(reply_json: dict, code: str) -> None:
    assert set(reply_json) == {"error"}
    assert reply_json["error"]["code"] == code
    assert isinstance(reply_json["error"]["message"], str) and reply_json["error"]["message"]
    assert isinstance(reply_json["error"]["details"], dict)


def test_health_reports_the_database(database: DatabaseUrls) -> None:
    reply = call("GET", "/api/health")
    assert reply.status == 200
    assert reply.json() == {"status": "ok", "database": "ok", "version": "0.1.0"}
    assert reply.header("X-Request-Id")


def test_health_with_the_database_down_is_503_not_a_stack_trace(
    database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    # Given a database URL nobody listens on
    settings_env(DATABASE_URL="postgresql://nobody@127.0.0.1:9/none", DB_CONNECT_TIMEOUT_S="1")
    reply = call("GET", "/api/health")
    # Then the contract's 503, with no trace in the body
    assert reply.status == 503
    _assert_error_shape(reply.json(), "dependency_unavailable")
    assert "Traceback" not in reply.body.decode()


class ProbeIn(BaseModel):
    note: str = Field(default="", max_length=5)


def _probe_app(multipart_paths: tuple[str, ...] = ()):
    """A resolver like the functions', with one route that echoes the caller's identity."""
    app = make_resolver(multipart_paths=multipart_paths)

    @app.post("/api/probe")
    def probe(body: ProbeIn) -> dict[str, str]:
        identity = current_identity(app)
        return {"user_id": identity.user_id, "org_id": identity.org_id, "role": identity.role}

    return app


def _probe(
    headers: dict[str, str],
    body: bytes,
    claims: dict[str, str] | None,
    base64_body: bool = False,
    *,
    text_body: str | None = None,
    multipart_paths: tuple[str, ...] = (),
) -> tuple[int, dict]:
    route = Route("POST", "/api/probe", "Probe", True, _path_pattern("/api/probe"))
    event = http_event(
        route=route,
        path="/api/probe",
        path_params={},
        method="POST",
        raw_query="",
        headers=list(headers.items()),
        body=body,
        claims=claims,
    )
    if text_body is not None:  # a body as the event carries it, which need not be encodable text
        event["body"], event["isBase64Encoded"] = text_body, False
    result = _probe_app(multipart_paths).resolve(event, LocalContext(function_name="Probe"))
    return result["statusCode"], json.loads(result["body"])


def test_identity_never_comes_from_x_user_headers() -> None:
    # Given a token for user_a and headers claiming to be someone else
    headers = {"content-type": "application/json", "x-user-id": "user_evil", "x-user-org": "org_evil"}
    status, body = _probe(headers, b"{}", claims_for("user_a", "org_a", "org:member"))
    # Then the verified claims win
    assert status == 200
    assert body == {"user_id": "user_a", "org_id": "org_a", "role": "member"}


def test_headers_alone_without_claims_are_unauthorized() -> None:
    status, body = _probe({"content-type": "application/json", "x-user-id": "user_evil"}, b"{}", None)
    assert status == 401
    _assert_error_shape(body, "unauthorized")


@pytest.mark.parametrize(
    ("content_type", "status", "code"),
    [("text/plain", 400, "bad_request"), ("", 400, "bad_request")],
)
def test_wrong_content_type_is_400(content_type: str, status: int, code: str) -> None:
    got, body = _probe({"content-type": content_type}, b"{}", claims_for("u", "org_1"))
    assert got == status
    _assert_error_shape(body, code)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        # Powertools would parse the form and validate it: 422 for a field that is too long
        ("application/x-www-form-urlencoded", b"note=too+long"),
        # ... and the multipart body: with its boundary, the same 422
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\ntoo long\r\n--x--\r\n',
        ),
        # without one, its parser's ValueError("Missing boundary") was a 500
        ("multipart/form-data", b"--x\r\n"),
    ],
)
def test_a_body_that_is_not_json_is_400_before_powertools_parses_it(content_type: str, raw: bytes) -> None:
    got, body = _probe({"content-type": content_type}, raw, claims_for("u", "org_1"))
    assert got == 400
    _assert_error_shape(body, "bad_request")
    assert body["error"]["details"]["allowed"] == ["application/json"]


def test_json_media_type_is_matched_case_insensitively() -> None:
    got, body = _probe({"content-type": "Application/JSON; charset=UTF-8"}, b"{}", claims_for("u", "org_1"))
    assert got == 200
    assert body["user_id"] == "u"


def test_multipart_where_a_route_takes_it_still_needs_a_boundary() -> None:
    # Given a JSON route that also takes multipart, when multipart arrives without its boundary
    got, body = _probe(
        {"content-type": "multipart/form-data"}, b"--x\r\n", claims_for("u", "o"), multipart_paths=("/api/probe",)
    )
    # Then it is the client's error, not Powertools' ValueError (500)
    assert got == 400
    _assert_error_shape(body, "bad_request")


def test_a_lone_surrogate_in_a_text_body_is_400() -> None:
    got, body = _probe({"content-type": "application/json"}, b"", claims_for("u", "o"), text_body='{"note": "\ud800"}')
    assert got == 400
    _assert_error_shape(body, "malformed_body")


def test_oversized_body_is_413(settings_env: SettingsEnv) -> None:
    settings_env(MAX_BODY_BYTES="100")
    got, body = _probe({"content-type": "application/json"}, b'{"x": "' + b"a" * 200 + b'"}', claims_for("u", "o"))
    assert got == 413
    _assert_error_shape(body, "payload_too_large")


def test_malformed_json_is_400() -> None:
    got, body = _probe({"content-type": "application/json"}, b'{"note": ', claims_for("u", "o"))
    assert got == 400
    _assert_error_shape(body, "malformed_json")


def test_invalid_field_is_422_naming_the_field() -> None:
    got, body = _probe({"content-type": "application/json"}, b'{"note": "too long"}', claims_for("u", "o"))
    assert got == 422
    _assert_error_shape(body, "validation_error")
    assert [f["field"] for f in body["error"]["details"]["fields"]] == ["body.note"]


def test_unknown_route_in_a_function_is_404_with_error_shape(database: DatabaseUrls) -> None:
    # POST /api/health is not a route of the audit function's resolver
    from sheetbrain_dev.lambda_runtime import invoke

    from tests.support import TEMPLATE

    route = TEMPLATE.find_route("GET", "/api/health")[0]
    event = http_event(
        route=route,
        path="/api/nowhere",
        path_params={},
        method="GET",
        raw_query="",
        headers=[],
        body=b"",
        claims=None,
    )
    result = invoke(TEMPLATE.functions[route.function], event)
    assert result["statusCode"] == 404
    _assert_error_shape(json.loads(result["body"]), "route_not_found")
