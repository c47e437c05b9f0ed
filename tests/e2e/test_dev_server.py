"""The local runtime end to end: `sheetbrain serve` over real HTTP, tokens, `sheetbrain invoke`."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from sheetbrain_dev import auth
from sheetbrain_dev.cli import main
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.paths import ROOT
from sheetbrain_dev.server import ApiServer
from sheetbrain_dev.template import load_template


@pytest.fixture(scope="module")
def base_url(database: DatabaseUrls) -> Iterator[str]:
    server = ApiServer(("127.0.0.1", 0), load_template())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def get(url: str, token: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(url, headers={**(headers or {})})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_health_answers_ok_over_http(base_url: str) -> None:
    status, headers, body = get(f"{base_url}/api/health")
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok"
    assert headers.get("X-Request-Id")


def test_a_minted_token_is_accepted_by_an_authenticated_route(base_url: str) -> None:
    token = auth.mint("user_srv", "org_srv", "org:admin")
    status, _, body = get(f"{base_url}/api/stats", token)
    assert status == 200
    assert body["org_id"] == "org_srv"


def test_x_user_headers_are_ignored_by_the_server(base_url: str) -> None:
    token = auth.mint("user_hdr", "org_hdr")
    status, _, body = get(f"{base_url}/api/stats", token, {"x-user-id": "user_evil", "x-user-org": "org_evil"})
    assert status == 200 and body["org_id"] == "org_hdr"


def _tampered() -> str:
    header, payload, signature = auth.mint("user_t", "org_t").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["org_id"] = "org_other"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="missing"),
        pytest.param(_tampered(), id="tampered"),
        pytest.param(auth.mint("user_t", "org_t", now=time.time() - 7200), id="expired"),
        pytest.param(auth.mint("user_t", "org_t", issuer="https://evil.example"), id="wrong-issuer"),
        pytest.param(auth.mint("user_t", "org_t", audience="other-app"), id="wrong-audience"),
        pytest.param("not-a-jwt", id="garbage"),
    ],
)
def test_bad_tokens_get_401_with_the_error_shape(base_url: str, token: str | None) -> None:
    status, headers, body = get(f"{base_url}/api/stats", token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized" and body["error"]["message"]
    assert headers.get("X-Request-Id")


def test_unknown_route_is_404_with_the_error_shape(base_url: str) -> None:
    status, _, body = get(f"{base_url}/api/nothing-here")
    assert status == 404 and body["error"]["code"] == "route_not_found"


@pytest.mark.parametrize(
    ("function", "event", "expected_status"),
    [
        ("AuditFunction", "health.json", 200),
        ("AuditFunction", "audit_stats.json", 200),
        ("WebhookFunction", "webhook_clerk_unsigned.json", 400),
        ("IngestFunction", "ingest_list_policies.json", 200),
        ("BillingFunction", "billing_overview.json", 200),
    ],
)
def test_invoke_prints_the_handlers_result(
    database: DatabaseUrls,
    capsys: pytest.CaptureFixture[str],
    function: str,
    event: str,
    expected_status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "CLERK_WEBHOOK_SECRET" not in os.environ:
        monkeypatch.setenv("CLERK_WEBHOOK_SECRET", "whsec_" + "A" * 40)
    monkeypatch.setenv("MIGRATION_DATABASE_URL", database.owner)
    assert main(["invoke", function, "--event", str(ROOT / "events" / event)]) == 0
    result = _printed_result(capsys.readouterr().out)
    assert result["statusCode"] == expected_status


def test_invoke_cleanup_runs_its_task(
    database: DatabaseUrls, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATION_DATABASE_URL", database.owner)
    assert main(["invoke", "CleanupFunction", "--event", str(ROOT / "events" / "schedule_cleanup.json")]) == 0
    result = _printed_result(capsys.readouterr().out)
    assert result["task"] == "cleanup" and "webhook_inbox_deleted" in result


def _printed_result(printed: str) -> dict:
    # Logs and EMF metrics are single-line JSON; the result is printed indented, last.
    lines = printed.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def test_every_sample_event_is_valid_json() -> None:
    paths = sorted(Path(ROOT / "events").glob("*.json"))
    assert paths, "events/ holds no sample event"
    for path in paths:
        json.loads(path.read_text())


def test_a_crashing_handler_gets_api_gateways_500_and_the_server_keeps_serving(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sheetbrain_dev import server

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the handler module failed to import")

    with monkeypatch.context() as patched:
        patched.setattr(server, "invoke", crash)
        assert get(f"{base_url}/api/health")[::2] == (500, {"message": "Internal Server Error"})
    assert get(f"{base_url}/api/health")[0] == 200


def test_a_percent_encoded_path_is_routed_decoded(base_url: str) -> None:
    assert get(f"{base_url}/api/h%65alth")[0] == 200


@pytest.mark.parametrize("org", ["None", "null", "acme", "personal_user_1"])
def test_token_refuses_an_org_that_is_not_an_org_id(org: str, capsys: pytest.CaptureFixture[str]) -> None:
    # When a token is asked for with an org the handlers would read as no org at all
    code = main(["token", "--user", "user_1", "--org", org])
    # Then nothing is minted, and the reason is given on stderr
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert "not an organization id" in captured.err
