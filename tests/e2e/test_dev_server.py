"""The local runtime end to end: `sheetbrain serve` over real HTTP, tokens, `sheetbrain invoke`."""

from __future__ import annotations

import json
import os
import socket
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

PROBE_TEMPLATE = Path(__file__).parent / "probe" / "template.yaml"


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


def test_unknown_route_is_api_gateways_404(base_url: str) -> None:
    status, _, body = get(f"{base_url}/api/nothing-here")
    assert (status, body) == (404, {"message": "Not Found"})


def _raw(base_url: str, request: bytes, timeout_s: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; the status, headers and body of the reply (until the server closes
    or Content-Length is met). A server that does not answer fails the test with a timeout."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a reply: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "OPTIONS", "PURGE"])
def test_an_undeclared_method_is_api_gateways_404(base_url: str, method: str) -> None:
    # When a method no route declares asks for a declared path
    status, headers, body = _raw(base_url, f"{method} /api/health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    # Then API Gateway's 404, in JSON (not the standard library's HTML 501)
    assert (status, headers["content-type"], json.loads(body)) == (404, "application/json", {"message": "Not Found"})


def test_head_of_an_undeclared_route_is_404_without_a_body(base_url: str) -> None:
    status, _, body = _raw(base_url, b"HEAD /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, body) == (404, b"")


@pytest.mark.parametrize(
    ("content_length", "expected_status"),
    [
        pytest.param("-5", 400, id="negative"),
        pytest.param("-0", 400, id="negative-zero"),
        pytest.param("abc", 400, id="not-a-number"),
        pytest.param("+5", 400, id="signed"),
        pytest.param("5_0", 400, id="underscored"),
        pytest.param("1e3", 400, id="exponent"),
        pytest.param("\u0665".encode().decode("latin-1"), 400, id="non-ascii-digit"),
        pytest.param("9" * 40, 400, id="absurdly-long"),
        pytest.param(str(10 * 1024 * 1024 + 1), 413, id="over-the-body-limit"),
    ],
)
def test_a_bad_content_length_is_refused_at_once(base_url: str, content_length: str, expected_status: int) -> None:
    # Given a request whose Content-Length is not a usable byte count, and no body after it
    request = (
        f"POST /api/audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode("latin-1")
    # When it is sent, Then the reply comes at once (no body is waited for) and closes the connection
    status, headers, body = _raw(base_url, request, timeout_s=5.0)
    assert (status, headers.get("connection")) == (expected_status, "close")
    assert json.loads(body)["error"]["code"] == ("bad_request" if expected_status == 400 else "payload_too_large")


def test_conflicting_content_lengths_are_refused(base_url: str) -> None:
    request = b"POST /api/audit HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\n{}{}"
    status, headers, _ = _raw(base_url, request)
    assert (status, headers.get("connection")) == (400, "close")


@pytest.fixture(scope="module")
def probe_url() -> Iterator[str]:
    """A server for tests/e2e/probe/template.yaml: functions that wait, fail or time out."""
    server = ApiServer(("127.0.0.1", 0), load_template(PROBE_TEMPLATE), max_instances=3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _get_in_background(url: str) -> tuple[threading.Thread, list[tuple[int, dict[str, str], dict]]]:
    replies: list[tuple[int, dict[str, str], dict]] = []
    thread = threading.Thread(target=lambda: replies.append(get(url)), daemon=True)
    thread.start()
    return thread, replies


def _wait_for_files(directory: Path, count: int, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while len(list(directory.iterdir())) < count:
        assert time.monotonic() < deadline, f"{count} invocations did not start within {limit_s} s"
        time.sleep(0.01)


def test_a_slow_request_does_not_hold_up_another(probe_url: str, tmp_path: Path) -> None:
    # Given a request that is inside its handler and stays there until released
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()
    slow, slow_reply = _get_in_background(f"{probe_url}/probe/wait?started={started}&release={release}")
    _wait_for_files(started, 1)
    # When another request arrives meanwhile
    status, _, body = get(f"{probe_url}/probe/state")
    # Then it is answered while the first still waits, by another instance
    assert status == 200 and slow.is_alive() and slow_reply == []
    release.touch()
    slow.join(timeout=20)
    assert slow_reply[0][0] == 200 and slow_reply[0][2]["pid"] != body["pid"]


def test_each_concurrent_request_has_an_instance_of_its_own(probe_url: str, tmp_path: Path) -> None:
    # Given three requests inside the same function at once
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()
    pending = [_get_in_background(f"{probe_url}/probe/wait?started={started}&release={release}") for _ in range(3)]
    _wait_for_files(started, 3)
    release.touch()
    for thread, _ in pending:
        thread.join(timeout=20)
    replies = [replies[0] for _, replies in pending]
    # Then each ran in an instance of its own, whose module state saw one request at a time
    assert [status for status, _, _ in replies] == [200, 200, 200]
    assert len({body["pid"] for _, _, body in replies}) == 3
    assert [body["max_in_flight"] for _, _, body in replies] == [1, 1, 1]
    # And a later request is served by one of those warm instances
    status, _, later = get(f"{probe_url}/probe/state")
    assert status == 200 and later["pid"] in {body["pid"] for _, _, body in replies} and later["served"] >= 2


def test_a_failing_handler_gets_api_gateways_500_and_its_function_keeps_serving(probe_url: str) -> None:
    assert get(f"{probe_url}/probe/crash")[::2] == (500, {"message": "Internal Server Error"})
    assert get(f"{probe_url}/probe/state")[0] == 200


def test_an_invocation_past_its_timeout_is_stopped_and_gets_500(probe_url: str) -> None:
    # Given a function with a 1 s timeout, when an invocation sleeps for 5 s
    began = time.monotonic()
    status, _, body = get(f"{probe_url}/probe/sleep?s=5")
    # Then it is cut off at its timeout, and the function serves the next one on a new instance
    assert (status, body) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - began < 4
    assert get(f"{probe_url}/probe/sleep?s=0")[0] == 200


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
    capfd: pytest.CaptureFixture[str],
    function: str,
    event: str,
    expected_status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "CLERK_WEBHOOK_SECRET" not in os.environ:
        monkeypatch.setenv("CLERK_WEBHOOK_SECRET", "whsec_" + "A" * 40)
    monkeypatch.setenv("MIGRATION_DATABASE_URL", database.owner)
    assert main(["invoke", function, "--event", str(ROOT / "events" / event)]) == 0
    printed = capfd.readouterr()
    # stdout is the result alone (as `sam local invoke`, so that it pipes into jq); logs and
    # metrics went to stderr
    assert json.loads(printed.out)["statusCode"] == expected_status
    assert '"_aws"' in printed.err and '"_aws"' not in printed.out


def test_invoke_cleanup_runs_its_task(
    database: DatabaseUrls, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATION_DATABASE_URL", database.owner)
    assert main(["invoke", "CleanupFunction", "--event", str(ROOT / "events" / "schedule_cleanup.json")]) == 0
    result = json.loads(capfd.readouterr().out)
    assert result["task"] == "cleanup" and "webhook_inbox_deleted" in result


def test_invoke_prints_a_failed_invocation_as_lambdas_error_and_exits_1(
    database: DatabaseUrls, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATION_DATABASE_URL", database.owner)
    # Given an event the probe's crash route fails on
    event = tmp_path / "crash.json"
    event.write_text(json.dumps({"rawPath": "/probe/crash"}))
    # When it is invoked
    code = main(["invoke", "ProbeFunction", "--event", str(event), "--template", str(PROBE_TEMPLATE)])
    # Then stdout holds Lambda's error object alone, the traceback went to stderr
    printed = capfd.readouterr()
    assert code == 1
    assert json.loads(printed.out) == {"errorType": "RuntimeError", "errorMessage": "the probe fails on purpose"}
    assert "Traceback" in printed.err


def test_every_sample_event_is_valid_json() -> None:
    paths = sorted(Path(ROOT / "events").glob("*.json"))
    assert paths, "events/ holds no sample event"
    for path in paths:
        json.loads(path.read_text())


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
