"""The web push example page of `sheetbrain serve` (/dev/push): its files served by the local
server alone, with their content types and a Content-Security-Policy, and the page in a real
headless chromium: it loads without a script error or a policy refusal, registers its service
worker, subscribes with the server's VAPID key and a pasted token, and shows what arrives.

This machine cannot reach Google's push service (FCM), which chromium's own
``pushManager.subscribe`` needs: a real subscription fails here, and the page says so. The
whole path is then shown with the browser's push service replaced by the tests' stand-in (the
one of tests/integration/test_webpush.py, which decrypts with the subscription's keys): the
page's subscription goes through the API, the alerts task's sender encrypts the message to the
stand-in, and the decrypted message is handed to the service worker as a push event through
the DevTools protocol (``ServiceWorker.deliverPushMessage``), as the browser would after its
push service delivered it.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sheetbrain.db import tenant_transaction
from sheetbrain.notifications import record_crossings
from sheetbrain.notifications.push import deliver_push_pending
from sheetbrain_dev import auth, push_page
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.server import ApiServer, call
from sheetbrain_dev.template import load_template
from sheetbrain_dev.vapid import raw_private_key

from tests.chromium_support import Browser
from tests.maintenance_support import new_org
from tests.support import settings_environment
from tests.webpush_support import Browser as PushKeys
from tests.webpush_support import PushServiceStandIn, b64url, unb64url

VAPID_KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PUBLIC = b64url(
    VAPID_KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
)
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; worker-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types sheetbrain-push"
)


@pytest.fixture(scope="module")
def base_url(database: DatabaseUrls) -> Iterator[str]:
    # The server's function instances inherit the environment they start in: the VAPID key and
    # the stand-in's plain-HTTP endpoints are set before the first request.
    with settings_environment() as settings_env:
        settings_env(
            VAPID_PRIVATE_KEY=raw_private_key(VAPID_KEY),
            VAPID_SUBJECT="mailto:dev@sheetbrain.test",
            WEBPUSH_ALLOW_HTTP="true",
        )
        server = ApiServer(("127.0.0.1", 0), load_template())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushServiceStandIn]:
    standin = PushServiceStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    driven = Browser(tmp_path / "profile")
    yield driven
    driven.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.build_opener(_NoRedirects).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.mark.parametrize(
    ("path", "content_type", "policy", "starts"),
    [
        ("/dev/push/", "text/html; charset=utf-8", PAGE_POLICY, b"<!doctype html>"),
        ("/dev/push/page.js", "text/javascript; charset=utf-8", PAGE_POLICY, b"// The local web push page"),
        ("/dev/push/page.css", "text/css; charset=utf-8", PAGE_POLICY, b":root"),
        ("/dev/push/sw.js", "text/javascript; charset=utf-8", "default-src 'none'", b"// The service worker"),
        ("/dev/push/icon.svg", "image/svg+xml", "default-src 'none'", b"<svg "),
    ],
)
def test_the_page_and_its_worker_are_served_with_their_type_and_policy(
    base_url: str, path: str, content_type: str, policy: str, starts: bytes
) -> None:
    # When each file is fetched, and asked for with HEAD
    status, headers, body = fetch(base_url + path)
    head_status, head_headers, head_body = fetch(base_url + path, "HEAD")

    # Then it comes with its type, its policy, no sniffing and no caching
    assert status == 200 and body.startswith(starts)
    assert headers["Content-Type"] == content_type
    assert headers["Content-Security-Policy"] == policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert (head_status, head_headers["Content-Length"], head_body) == (200, str(len(body)), b"")


def test_the_page_is_at_its_workers_scope(base_url: str) -> None:
    # When the page is asked for without its final slash, Then it is sent to /dev/push/ (the
    # service worker's scope: only a page inside it is controlled by the worker)
    status, headers, body = fetch(base_url + "/dev/push")
    assert (status, headers["Location"], body) == (308, "/dev/push/", b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dev/push/other.js"),
        ("GET", "/dev/push/../push/sw.js"),
        ("GET", "/dev/push/%2e%2e/%2e%2e/template.yaml"),
        ("GET", "/dev/pushx"),
        ("GET", "/dev/push/static/push/sw.js"),
        ("POST", "/dev/push"),
        ("DELETE", "/dev/push/sw.js"),
    ],
)
def test_nothing_else_is_served_there(base_url: str, method: str, path: str) -> None:
    # When anything but the page's files is asked for, Then API Gateway's 404, as for any path
    status, _, body = fetch(base_url + path, method)
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_the_page_is_the_local_servers_alone() -> None:
    # Given the routes of template.yaml (what API Gateway serves in AWS) and the OpenAPI document
    template = load_template()

    # Then no route serves the page: a request for it is routed nowhere, and the document lists none
    assert template.find_route("GET", "/dev/push") is None
    assert template.find_route("GET", "/dev/push/sw.js") is None
    with pytest.raises(LookupError):
        call(template, "GET", "/dev/push")
    document = json.loads((Path(__file__).parents[2] / "openapi.json").read_text())
    assert [p for p in document["paths"] if not p.startswith("/api/")] == []
    # And its files live with the dev tools, outside the layer that ships
    assert push_page.STATIC_DIR.is_relative_to(Path(__file__).parents[2] / "tools")


# --- in chromium ---------------------------------------------------------------------------

STATE = """JSON.stringify({status: document.getElementById("status").textContent,
  kind: document.getElementById("status").dataset.kind, worker: document.body.dataset.worker || null,
  subscription: document.getElementById("subscription").textContent,
  endpoint: document.getElementById("endpoint").textContent,
  received: Array.from(document.querySelectorAll("#received li"), (li) => li.textContent)})"""
NOTIFICATIONS = """navigator.serviceWorker.getRegistration("/dev/push/").then((r) => r.getNotifications())
  .then((ns) => JSON.stringify(ns.map((n) => [n.title, n.body, n.tag])))"""
REGISTRATION = """navigator.serviceWorker.getRegistration("/dev/push/").then((r) => JSON.stringify(
  r && {scope: r.scope, active: r.active && r.active.scriptURL, state: r.active && r.active.state}))"""


def open_page(browser: Browser, base_url: str) -> None:
    browser.send("Browser.grantPermissions", permissions=["notifications"], origin=base_url)
    browser.page("Runtime.enable")
    browser.page("ServiceWorker.enable")
    browser.open(f"{base_url}/dev/push/", 800, 900)
    browser.wait_until("document.body.dataset.worker === 'ready'")


def paste_token(browser: Browser, token: str) -> None:
    browser.evaluate(f"document.getElementById('token').value = {json.dumps(token)}; true")


def state(browser: Browser) -> dict[str, object]:
    result: dict[str, object] = browser.evaluate(STATE)
    return result


def subscriptions(owner_url: str, org: str) -> list[tuple[str, str]]:
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute("SELECT user_id, endpoint FROM push_subscriptions WHERE org_id = %s", (org,))
        return [(str(u), str(e)) for u, e in rows.fetchall()]


def test_the_page_loads_clean_and_registers_its_service_worker(
    base_url: str, browser: Browser, database: DatabaseUrls
) -> None:
    # When chromium opens the page
    open_page(browser, base_url)

    # Then its service worker is registered and active for /dev/push/, and nothing was refused
    # or thrown (the policy allows all the page uses)
    assert browser.evaluate(REGISTRATION, await_promise=True) == {
        "scope": f"{base_url}/dev/push/",
        "active": f"{base_url}/dev/push/sw.js",
        "state": "activated",
    }
    assert state(browser)["status"] == "Ready: paste a token, then subscribe."
    assert browser.console_errors() == []
    assert browser.exceptions() == []

    # When the developer subscribes without a token, Then the page asks for one
    browser.evaluate("document.getElementById('subscribe').click(); true")
    browser.wait_until("document.getElementById('status').dataset.kind === 'error'")
    assert state(browser)["status"] == "Paste a bearer token first (sheetbrain token --user … --org …)."

    # When they paste a token that is not one, Then the API's 401 is shown with what to do
    paste_token(browser, "not-a-token")
    browser.evaluate("document.getElementById('status').dataset.kind = 'info'; true")
    browser.evaluate("document.getElementById('subscribe').click(); true")
    browser.wait_until("document.getElementById('status').dataset.kind === 'error'")
    assert state(browser)["status"] == (
        "GET /api/notifications/vapid-public-key: 401 The bearer token is invalid: Not enough segments. "
        "Mint a new token: they last an hour."
    )

    # When they try a notification of the page's own, Then the worker shows it (no server involved)
    browser.evaluate("document.getElementById('try').click(); true")
    browser.wait_until("document.getElementById('status').dataset.kind === 'ok'")
    assert browser.wait_until(f"{NOTIFICATIONS}.then((ns) => ns !== '[]' && ns)", await_promise=True) == [
        ["SheetBrain: notifications work here", "Shown by this page, without the server or a push service.",
         "sheetbrain-try"],
    ]  # fmt: skip

    # When they paste a token and subscribe with chromium's own push service (Google's FCM,
    # unreachable from this machine: chromium keeps trying without an answer)
    org, user = new_org(database.owner, prefix="org_page")
    paste_token(browser, auth.mint(user, org, "org:admin"))
    browser.evaluate("document.getElementById('status').dataset.kind = 'info'; true")
    browser.evaluate("document.getElementById('subscribe').click(); true")
    shown = browser.wait_until(
        "document.getElementById('status').dataset.kind === 'error' && "
        "JSON.stringify(document.getElementById('status').textContent)",
        timeout_s=60,
    )

    # Then after 20 s the page says the browser could not subscribe, and the server holds no subscription
    assert shown == (
        "The browser could not subscribe through its push service: Error: "
        "no answer in 20 s (is the push service reachable from this machine?)"
    )
    assert subscriptions(database.owner, org) == []
    assert browser.exceptions() == []


# Replaces the browser's push service in the page: subscribe() answers with the stand-in's
# endpoint and the test's keys, and keeps the key the page passed.
STAND_IN_PUSH_SERVICE = """
(() => {
  const made = {endpoint: %(endpoint)s, expirationTime: null, keys: {p256dh: %(p256dh)s, auth: %(auth)s}};
  let current = null;
  window.__subscribedWith = null;
  PushManager.prototype.subscribe = function (options) {
    window.__subscribedWith = Array.from(new Uint8Array(options.applicationServerKey));
    current = {endpoint: made.endpoint, options: {applicationServerKey: options.applicationServerKey.buffer},
               toJSON: () => made, unsubscribe: async () => { current = null; return true; }};
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def test_a_subscription_from_the_page_receives_and_shows_a_threshold_notification(
    base_url: str, browser: Browser, database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    # Given the page open with the browser's push service replaced by the stand-in
    org, user = new_org(database.owner, prefix="org_page")
    keys, name = PushKeys(), uuid.uuid4().hex
    endpoint = push_service.endpoint(name)
    subscription = keys.subscription(endpoint)["keys"]
    browser.page(
        "Page.addScriptToEvaluateOnNewDocument",
        source=STAND_IN_PUSH_SERVICE
        % {"endpoint": json.dumps(endpoint), "p256dh": json.dumps(subscription["p256dh"]),
           "auth": json.dumps(subscription["auth"])},
    )  # fmt: skip
    open_page(browser, base_url)

    # When the developer pastes a token and subscribes
    paste_token(browser, auth.mint(user, org, "org:member"))
    browser.evaluate("document.getElementById('subscribe').click(); true")
    browser.wait_until("document.getElementById('status').dataset.kind !== 'info'")

    # Then the page subscribed with the server's VAPID key and registered the subscription as the token's user
    seen = state(browser)
    assert (seen["kind"], seen["status"]) == (
        "ok",
        "Subscribed: this browser now receives the organization's threshold notifications.",
    )
    assert bytes(browser.evaluate("JSON.stringify(window.__subscribedWith)")) == unb64url(VAPID_PUBLIC)
    assert subscriptions(database.owner, org) == [(user, endpoint)]
    with psycopg.connect(database.owner) as conn:
        row = conn.execute("SELECT id::text FROM push_subscriptions WHERE endpoint = %s", (endpoint,)).fetchone()
    assert row is not None and seen["subscription"] == row[0]

    # When audits cross 80% and the alerts task's sender runs
    now = datetime.now(UTC)
    with tenant_transaction(org) as conn:
        record_crossings(conn, org_id=org, feature="audits_per_month", used_before=7, used_after=8, limit=10, now=now)
    with settings_environment() as settings_env:
        settings_env(VAPID_PRIVATE_KEY=raw_private_key(VAPID_KEY), VAPID_SUBJECT="mailto:dev@sheetbrain.test",
                     WEBPUSH_ALLOW_HTTP="true")  # fmt: skip
        sent = deliver_push_pending()
    assert sent["sent"] == 1

    # And the push service hands the message to the browser, which decrypts it for its worker
    (message,) = push_service.to(name)
    payload = keys.decrypt(message.body)
    registration = next(
        r["registrationId"]
        for e in browser.events
        if e["method"] == "ServiceWorker.workerRegistrationUpdated"
        for r in e["params"]["registrations"]
        if r["scopeURL"] == f"{base_url}/dev/push/" and not r["isDeleted"]
    )
    browser.page(
        "ServiceWorker.deliverPushMessage", origin=base_url, registrationId=registration, data=json.dumps(payload)
    )

    # Then the worker shows the notification and the page lists it
    period = payload["period"]
    title = "SheetBrain: 80% of your audits"
    body = f"8 of 10 audits used this period (from {period})."
    received = browser.wait_until("document.querySelectorAll('#received li').length && "
                                  "JSON.stringify(document.querySelector('#received li').textContent)")  # fmt: skip
    assert received.endswith(f" — {title}: {body}")
    # (the worker shows it and tells the page at once: either may come first)
    shown = browser.wait_until(f"{NOTIFICATIONS}.then((ns) => ns !== '[]' && ns)", await_promise=True)
    assert shown == [[title, body, f"{org}:audits_per_month:80:{period}"]]

    # When the developer refreshes the history, Then it shows the notification and its delivery
    browser.evaluate("document.getElementById('history').click(); true")
    rows = browser.wait_until(
        "document.querySelectorAll('#notifications tr').length && JSON.stringify(Array.from("
        "document.querySelectorAll('#notifications tr'), (tr) => Array.from(tr.cells, (td) => td.textContent)))"
    )
    assert [row[1:] for row in rows] == [["audits_per_month", "80%", "8 / 10", "eventbridge pending, webpush sent"]]

    # When they unsubscribe, Then the server's subscription is gone and the page says so
    browser.evaluate("document.getElementById('status').dataset.kind = 'info'; true")
    browser.evaluate("document.getElementById('unsubscribe').click(); true")
    browser.wait_until("document.getElementById('status').dataset.kind !== 'info'")
    assert (state(browser)["status"], state(browser)["subscription"]) == (
        "Unsubscribed, here and on the server.",
        "none",
    )
    assert subscriptions(database.owner, org) == []
    assert browser.console_errors() == []
    assert browser.exceptions() == []
