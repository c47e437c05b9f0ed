"""Web push: subscriptions through the API, threshold crossings delivered to a push service
stand-in on 127.0.0.1 that decrypts each message with the browser's keys and verifies the VAPID
JWT, the push service's answers (404/410, 429/5xx, other 4xx), the SSRF refusals, one message
per threshold and period under overlapping runs, thresholds and history through the API."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sheetbrain.db import system_transaction, tenancy_repo, tenant_transaction
from sheetbrain.notifications import record_crossings
from sheetbrain.notifications.push import deliver_push_pending
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.vapid import raw_private_key

from tests.maintenance_support import new_org
from tests.support import Reply, SettingsEnv, call, claims_for
from tests.webpush_support import Browser, PushServiceStandIn, b64url, verify_vapid

NOW = datetime.now(UTC)
PERIOD = date(NOW.year, NOW.month, 1)
SUBJECT = "mailto:alerts@sheetbrain.test"
VAPID_KEY = ec.generate_private_key(ec.SECP256R1())
VAPID_PUBLIC = b64url(
    VAPID_KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
)


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushServiceStandIn]:
    standin = PushServiceStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture(autouse=True)
def push_settings(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(WEBPUSH_ALLOW_HTTP="true", VAPID_PRIVATE_KEY=raw_private_key(VAPID_KEY), VAPID_SUBJECT=SUBJECT)


@pytest.fixture(autouse=True)
def empty_outbox(database: DatabaseUrls) -> None:
    # Each test sends what it made: deliveries other tests left pending are set aside.
    with psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE notification_deliveries SET status = 'failed' WHERE status = 'pending'")


def member(org: str, user: str | None = None, role: str = "org:admin") -> dict[str, str]:
    return claims_for(user or f"user_{uuid.uuid4().hex[:8]}", org, role)


def subscribe(claims: dict[str, str], browser: Browser, endpoint: str) -> Reply:
    return call("POST", "/api/notifications/subscriptions", claims=claims, body=browser.subscription(endpoint))


def cross(org: str, before: int, after: int, limit: int, feature: str = "audits_per_month") -> list[int]:
    with tenant_transaction(org) as conn:
        return record_crossings(
            conn, org_id=org, feature=feature, used_before=before, used_after=after, limit=limit, now=NOW
        )


def deliveries(owner_url: str, org: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT n.threshold, d.status, d.attempts, d.http_status, d.last_error FROM notification_deliveries d "
            "JOIN notifications n ON n.id = d.notification_id WHERE d.org_id = %s ORDER BY n.threshold, d.id",
            (org,),
        ).fetchall()


def subscriptions(owner_url: str, org: str) -> list[str]:
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute("SELECT endpoint FROM push_subscriptions WHERE org_id = %s ORDER BY endpoint", (org,))
        return [r[0] for r in rows.fetchall()]


def expire_backoff(owner_url: str, org: str) -> None:
    with psycopg.connect(owner_url) as conn:
        conn.execute(
            "UPDATE notification_deliveries SET claimed_until = now() - interval '1 second' WHERE org_id = %s", (org,)
        )


def test_a_crossing_reaches_the_browser_encrypted_and_signed(
    database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    # Given a member whose browser subscribed with the key the API advertises
    org, _ = new_org(database.owner)
    claims = member(org, role="org:member")
    key = call("GET", "/api/notifications/vapid-public-key", claims=claims)
    assert (key.status, key.json()) == (200, {"public_key": VAPID_PUBLIC})
    browser = Browser()
    name = uuid.uuid4().hex
    created = subscribe(claims, browser, push_service.endpoint(name))
    assert created.status == 201

    # When audits step from 7 to 10 of 10 (80% and 100%) and the outbox is sent
    cross(org, 7, 10, 10)
    sent_at = time.time()
    result = deliver_push_pending()

    # Then the push service got one message per threshold, which the browser decrypts
    assert result == {"sent": 2, "gone": 0, "retry": 0, "failed": 0, "released": 0}
    messages = push_service.to(name)
    assert len(messages) == 2
    decrypted = sorted((browser.decrypt(m.body) for m in messages), key=lambda d: d["threshold"])
    assert decrypted == [
        {"type": "usage_threshold", "org_id": org, "metric": "audits_per_month", "threshold": t,
         "used": 10, "limit": 10, "period": PERIOD.isoformat()}
        for t in (80, 100)
    ]  # fmt: skip
    for message in messages:
        # aes128gcm under 3 KB, a TTL, an Urgency that is high for the limit itself
        assert message.headers["content-encoding"] == "aes128gcm"
        assert len(message.body) == int(message.headers["content-length"]) < 3072
        assert message.headers["ttl"] == "86400"
        threshold = browser.decrypt(message.body)["threshold"]
        assert message.headers["urgency"] == ("high" if threshold == 100 else "normal")
        # a VAPID JWT signed by the advertised key, for this origin, expiring within 12 hours
        claims_seen, k = verify_vapid(message.headers["authorization"])
        assert k == VAPID_PUBLIC
        assert claims_seen["aud"] == push_service.origin
        assert claims_seen["sub"] == SUBJECT
        assert sent_at < claims_seen["exp"] <= time.time() + 12 * 3600
    assert [(t, s, a, h) for t, s, a, h, _ in deliveries(database.owner, org)] == [
        (80, "sent", 1, 201),
        (100, "sent", 1, 201),
    ]

    # And the history shows each notification with its web push delivery
    history = call("GET", "/api/notifications", claims=claims)
    assert history.status == 200
    items = history.json()["notifications"]
    assert [(i["threshold"], i["metric"], i["used"], i["limit"], i["period"]) for i in items] == [
        (100, "audits_per_month", 10, 10, PERIOD.isoformat()),
        (80, "audits_per_month", 10, 10, PERIOD.isoformat()),
    ]
    assert [[(d["channel"], d["status"]) for d in i["deliveries"]] for i in items] == [
        [("eventbridge", "pending"), ("webpush", "sent")],
        [("eventbridge", "pending"), ("webpush", "sent")],
    ]

    # And sending again sends nothing more
    assert deliver_push_pending()["sent"] == 0
    assert len(push_service.to(name)) == 2


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_removed(
    status: int, database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    # Given two subscribed browsers, one of which the push service says is gone
    org, _ = new_org(database.owner)
    claims = member(org)
    gone, kept = uuid.uuid4().hex, uuid.uuid4().hex
    assert subscribe(claims, Browser(), push_service.endpoint(gone)).status == 201
    assert subscribe(claims, Browser(), push_service.endpoint(kept)).status == 201
    push_service.answer(gone, status)

    # When a crossing is delivered
    cross(org, 0, 5, 10)
    result = deliver_push_pending()

    # Then the gone one is deleted, its delivery recorded as gone; the other was sent
    assert (result["sent"], result["gone"]) == (1, 1)
    assert subscriptions(database.owner, org) == [push_service.endpoint(kept)]
    assert sorted((s, h) for _, s, _, h, _ in deliveries(database.owner, org)) == [("gone", status), ("sent", 201)]
    statuses = call("GET", "/api/notifications", claims=claims).json()["notifications"][0]["deliveries"]
    assert sorted(d["status"] for d in statuses if d["channel"] == "webpush") == ["gone", "sent"]

    # And a later crossing goes only to the subscription that is left
    cross(org, 5, 8, 10)
    deliver_push_pending()
    assert len(push_service.to(gone)) == 1 and len(push_service.to(kept)) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_push_service_is_retried_after_a_backoff(
    status: int, database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    # Given a subscription whose push service fails the first attempt
    org, _ = new_org(database.owner)
    name = uuid.uuid4().hex
    assert subscribe(member(org), Browser(), push_service.endpoint(name)).status == 201
    push_service.answer(name, status)
    cross(org, 0, 5, 10)

    # When the outbox is sent
    assert deliver_push_pending()["retry"] == 1

    # Then the delivery is pending with one attempt, and waits a minute before the next
    [(_, state, attempts, http_status, error)] = deliveries(database.owner, org)
    assert (state, attempts, http_status) == ("pending", 1, status)
    assert error.startswith(str(status))
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM claimed_until - now()) FROM notification_deliveries WHERE org_id = %s", (org,)
        ).fetchone()
    assert row is not None and 50 < float(row[0]) <= 60
    assert deliver_push_pending()["sent"] == 0

    # When the backoff has passed, Then it is sent, once
    expire_backoff(database.owner, org)
    assert deliver_push_pending()["sent"] == 1
    assert [(s, a, h) for _, s, a, h, _ in deliveries(database.owner, org)] == [("sent", 2, 201)]
    assert len(push_service.to(name)) == 2


def test_an_unreachable_push_service_is_retried(database: DatabaseUrls, push_service: PushServiceStandIn) -> None:
    # Given a subscription to a port where nothing listens
    org, _ = new_org(database.owner)
    listener = __import__("socket").socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    assert subscribe(member(org), Browser(), f"http://127.0.0.1:{port}/push/x").status == 201
    cross(org, 0, 5, 10)

    # When the outbox is sent, Then the delivery is kept for a retry with the error
    assert deliver_push_pending()["retry"] == 1
    [(_, state, attempts, http_status, error)] = deliveries(database.owner, org)
    assert (state, attempts, http_status) == ("pending", 1, None)
    assert error.startswith("ConnectionRefusedError")


def test_other_client_errors_are_recorded_as_failed_and_not_retried(
    database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    org, _ = new_org(database.owner)
    name = uuid.uuid4().hex
    assert subscribe(member(org), Browser(), push_service.endpoint(name)).status == 201
    push_service.answer(name, 403)
    cross(org, 0, 5, 10)

    assert deliver_push_pending()["failed"] == 1
    expire_backoff(database.owner, org)
    assert deliver_push_pending()["sent"] == 0
    assert [(s, a, h) for _, s, a, h, _ in deliveries(database.owner, org)] == [("failed", 1, 403)]
    assert len(push_service.to(name)) == 1
    assert subscriptions(database.owner, org) == [push_service.endpoint(name)]


def test_attempts_used_up_end_as_failed(database: DatabaseUrls, push_service: PushServiceStandIn) -> None:
    # Given a push service that answers 503 to every one of the ten attempts
    org, _ = new_org(database.owner)
    name = uuid.uuid4().hex
    assert subscribe(member(org), Browser(), push_service.endpoint(name)).status == 201
    push_service.answer(name, *([503] * 10))
    cross(org, 0, 5, 10)

    # When each backoff passes and the outbox is sent, ten times
    for _ in range(10):
        expire_backoff(database.owner, org)
        deliver_push_pending()

    # Then the delivery is failed after its tenth attempt and never sent again
    assert [(s, a) for _, s, a, _, _ in deliveries(database.owner, org)] == [("failed", 10)]
    expire_backoff(database.owner, org)
    deliver_push_pending()
    assert len(push_service.to(name)) == 10


def test_overlapping_alert_runs_send_one_message_per_threshold_and_period(
    database: DatabaseUrls, push_service: PushServiceStandIn
) -> None:
    # Given two subscribed browsers
    org, _ = new_org(database.owner)
    browsers = {uuid.uuid4().hex: Browser(), uuid.uuid4().hex: Browser()}
    for name, browser in browsers.items():
        assert subscribe(member(org), browser, push_service.endpoint(name)).status == 201

    # When two runs record the same crossings and send the outbox at the same time, twice
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            cross(org, 0, 10, 10)
            barrier.wait()
            deliver_push_pending(batch=2)
            deliver_push_pending(batch=2)
            deliver_push_pending(batch=2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    # Then each browser got each threshold once
    for name, browser in browsers.items():
        assert sorted(browser.decrypt(m.body)["threshold"] for m in push_service.to(name)) == [50, 80, 100]
    assert [(t, s) for t, s, *_ in deliveries(database.owner, org)] == [
        (50, "sent"), (50, "sent"), (80, "sent"), (80, "sent"), (100, "sent"), (100, "sent"),
    ]  # fmt: skip


def test_subscribing_refuses_endpoints_outside_the_rules(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    org, _ = new_org(database.owner)
    claims = member(org)
    refused = {
        "ftp://updates.push.services.mozilla.com/wpush/v2/x": "not https",
        "https://push.example.com/x": "push.example.com is not a known push service (WEBPUSH_ALLOWED_HOSTS)",
        "https://fcm.googleapis.com:8443/fcm/send/x": "a port other than 443",
        "http://127.0.0.2:8080/x": "http is allowed only to 127.0.0.1 (WEBPUSH_ALLOW_HTTP)",
        "https://user@fcm.googleapis.com/fcm/send/x": "credentials in the URL",
    }
    for endpoint, reason in refused.items():
        reply = subscribe(claims, Browser(), endpoint)
        assert (reply.status, reply.json()["error"]["message"]) == (
            422,
            f"The push endpoint is not allowed: {reason}.",
        ), endpoint

    # And without WEBPUSH_ALLOW_HTTP, every http endpoint is refused, 127.0.0.1's too
    settings_env(WEBPUSH_ALLOW_HTTP="false")
    for endpoint in ("http://127.0.0.1:9/push/x", "http://updates.push.services.mozilla.com/wpush/v2/x"):
        reply = subscribe(claims, Browser(), endpoint)
        assert (reply.status, reply.json()["error"]["message"]) == (422, "The push endpoint is not allowed: not https.")
    assert subscriptions(database.owner, org) == []


def test_subscribing_refuses_keys_that_are_not_a_browsers(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    claims = member(org)
    good = Browser().subscription("https://fcm.googleapis.com/fcm/send/abc")
    not_on_curve = b64url(b"\x04" + b"\x01" * 64)
    cases = [
        ({**good, "keys": {**good["keys"], "p256dh": not_on_curve}}, "body.keys.p256dh"),
        ({**good, "keys": {**good["keys"], "p256dh": "!!"}}, "body.keys.p256dh"),
        ({**good, "keys": {**good["keys"], "auth": b64url(b"short")}}, "body.keys.auth"),
    ]
    for body, field in cases:
        reply = call("POST", "/api/notifications/subscriptions", claims=claims, body=body)
        assert (reply.status, reply.json()["error"]["details"]["field"]) == (422, field)
    assert subscriptions(database.owner, org) == []


def test_the_same_endpoint_is_one_subscription(database: DatabaseUrls) -> None:
    # Given a browser subscribed once
    org, _ = new_org(database.owner)
    claims = member(org)
    endpoint = f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}"
    first = subscribe(claims, Browser(), endpoint)

    # When it subscribes again (new keys), Then 200 with the same id
    again = subscribe(claims, Browser(), endpoint)
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()

    # When another user, or another organization, sends the same endpoint, Then 409
    other_org, _ = new_org(database.owner)
    assert subscribe(member(org), Browser(), endpoint).status == 409
    assert subscribe(member(other_org), Browser(), endpoint).status == 409
    assert subscriptions(database.owner, org) == [endpoint]
    assert subscriptions(database.owner, other_org) == []


def test_a_user_has_at_most_ten_subscriptions(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    claims = member(org)
    for i in range(10):
        assert subscribe(claims, Browser(), f"https://fcm.googleapis.com/fcm/send/{org}-{i}").status == 201
    reply = subscribe(claims, Browser(), f"https://fcm.googleapis.com/fcm/send/{org}-10")
    assert (reply.status, reply.json()["error"]["details"]) == (409, {"limit": 10})


def test_a_user_deletes_only_their_own_subscription(database: DatabaseUrls) -> None:
    # Given two members of an organization, each with a subscription, and an admin of another
    org, _ = new_org(database.owner)
    alice, bob = member(org, role="org:admin"), member(org, role="org:member")
    other_org, _ = new_org(database.owner)
    mallory = member(other_org, role="org:admin")
    endpoint = f"https://web.push.apple.com/{uuid.uuid4().hex}"
    sub_id = subscribe(alice, Browser(), endpoint).json()["subscription_id"]

    # When another member (even of another organization, even an admin) deletes it: 404
    for claims in (bob, mallory):
        reply = call("DELETE", f"/api/notifications/subscriptions/{sub_id}", claims=claims)
        assert (reply.status, reply.json()["error"]["code"]) == (404, "not_found")
    assert call("DELETE", "/api/notifications/subscriptions/not-a-uuid", claims=alice).status == 404
    assert subscriptions(database.owner, org) == [endpoint]

    # When its user deletes it: 204, and it is gone
    assert call("DELETE", f"/api/notifications/subscriptions/{sub_id}", claims=alice).status == 204
    assert subscriptions(database.owner, org) == []
    assert call("DELETE", f"/api/notifications/subscriptions/{sub_id}", claims=alice).status == 404


def test_row_level_security_keeps_a_member_off_another_users_subscription(database: DatabaseUrls) -> None:
    # Given alice's subscription
    org, _ = new_org(database.owner)
    alice_id = f"user_{uuid.uuid4().hex[:8]}"
    subscribe(member(org, alice_id), Browser(), f"https://web.push.apple.com/{uuid.uuid4().hex}")

    # When bob's transaction deletes every subscription of the org (no WHERE user_id)
    bob_id = f"user_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database.owner) as conn:
        conn.execute("INSERT INTO users (id) VALUES (%s)", (bob_id,))
    with tenant_transaction(org, bob_id) as conn:
        deleted = conn.execute("DELETE FROM push_subscriptions WHERE org_id = %s", (org,)).rowcount

    # Then the policy let none of alice's go
    assert deleted == 0
    assert len(subscriptions(database.owner, org)) == 1


def test_subscriptions_go_with_their_user_membership_or_organization(database: DatabaseUrls) -> None:
    # Given an org of four members (more than the free plan's seats), three of them subscribed
    org, _ = new_org(database.owner, overrides={"seats": -1})
    users = [f"user_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for i, user in enumerate(users):
        subscribe(member(org, user), Browser(), f"https://fcm.googleapis.com/fcm/send/{org}-{i}")
    at = datetime.now(UTC)

    # When Clerk says the first user is deleted, Then their subscription goes
    with system_transaction() as conn:
        tenancy_repo.delete_user(conn, users[0], at)
    assert subscriptions(database.owner, org) == [f"https://fcm.googleapis.com/fcm/send/{org}-{i}" for i in (1, 2)]

    # When the second one's membership ends, Then theirs goes
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES (%s, %s, 'member') ON CONFLICT DO NOTHING",
            (org, users[1]),
        )
    with system_transaction() as conn:
        tenancy_repo.delete_membership(conn, org_id=org, user_id=users[1], clerk_id="orgmem_1", at=at)
    assert subscriptions(database.owner, org) == [f"https://fcm.googleapis.com/fcm/send/{org}-2"]

    # When the organization is deleted, Then every subscription of it goes
    with system_transaction() as conn:
        tenancy_repo.delete_org(conn, org, at)
    assert subscriptions(database.owner, org) == []


def test_an_endpoint_refused_at_sending_time_is_failed_without_a_request(
    database: DatabaseUrls, push_service: PushServiceStandIn, settings_env: SettingsEnv
) -> None:
    # Given a subscription to the local stand-in, made while WEBPUSH_ALLOW_HTTP was on
    org, _ = new_org(database.owner)
    name = uuid.uuid4().hex
    assert subscribe(member(org), Browser(), push_service.endpoint(name)).status == 201
    cross(org, 0, 5, 10)

    # When the setting is off by the time the outbox is sent
    settings_env(WEBPUSH_ALLOW_HTTP="false")
    result = deliver_push_pending()

    # Then the delivery failed with the reason, and no request left
    assert result["failed"] == 1
    assert deliveries(database.owner, org) == [(50, "failed", 1, None, "The push endpoint is not allowed: not https.")]
    assert push_service.to(name) == []


def test_a_host_resolving_to_a_private_address_is_never_contacted(
    database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    # Given hosts on the allow-list (by the setting) whose addresses are private, loopback or
    # link-local (the literal addresses resolve to themselves; "localhost" through the resolver)
    settings_env(WEBPUSH_ALLOWED_HOSTS="10.0.0.7,127.0.0.1,169.254.169.254,localhost")
    org, _ = new_org(database.owner, overrides={"seats": -1})  # five members: more than the free plan's seats
    hosts = ["10.0.0.7", "127.0.0.1", "169.254.169.254", "localhost"]
    for host in hosts:
        assert subscribe(member(org), Browser(), f"https://{host}/push").status == 201
    cross(org, 0, 5, 10)

    # When the outbox is sent
    result = deliver_push_pending()

    # Then each is refused after resolving, none is tried again
    assert result["failed"] == 4
    errors = sorted(e for *_, e in deliveries(database.owner, org))
    assert errors == sorted(
        [
            "The push endpoint is not allowed: 10.0.0.7 resolves to a non-public address (10.0.0.7).",
            "The push endpoint is not allowed: 127.0.0.1 resolves to a non-public address (127.0.0.1).",
            "The push endpoint is not allowed: 169.254.169.254 resolves to a non-public address (169.254.169.254).",
            "The push endpoint is not allowed: localhost resolves to a non-public address (127.0.0.1).",
        ]
    )


def test_thresholds_read_by_members_written_by_admins(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    admin, reader = member(org, role="org:admin"), member(org, role="org:member")

    # Given no thresholds of its own, the defaults are read
    defaults = {"thresholds": {"audits_per_month": [50, 80, 100], "ai_tokens_per_month": [50, 80, 100]}}
    assert call("GET", "/api/notifications/thresholds", claims=reader).json() == defaults

    # When a member tries to write, Then 403
    body = {"thresholds": {"audits_per_month": [90, 25]}}
    assert call("PUT", "/api/notifications/thresholds", claims=reader, body=body).status == 403

    # When an admin writes one metric, Then it is stored sorted; the other keeps the defaults
    expected = {"thresholds": {"audits_per_month": [25, 90], "ai_tokens_per_month": [50, 80, 100]}}
    reply = call("PUT", "/api/notifications/thresholds", claims=admin, body=body)
    assert (reply.status, reply.json()) == (200, expected)
    assert call("GET", "/api/notifications/thresholds", claims=reader).json() == expected


@pytest.mark.parametrize(
    "thresholds",
    [
        {"audits_per_month": []},
        {"audits_per_month": [10, 20, 30, 40, 50, 60]},
        {"audits_per_month": [0]},
        {"audits_per_month": [101]},
        {"audits_per_month": [50, 50]},
        {"audits_per_month": [50.5]},
        {"audits_per_month": [True]},
        {"audits_per_month": ["50"]},
        {"policies": [50]},
    ],
)
def test_thresholds_outside_the_rules_are_refused(thresholds: dict[str, Any], database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    admin = member(org)
    reply = call("PUT", "/api/notifications/thresholds", claims=admin, body={"thresholds": thresholds})
    assert reply.status == 422
    assert call("GET", "/api/notifications/thresholds", claims=admin).json()["thresholds"]["audits_per_month"] == [
        50,
        80,
        100,
    ]


def test_a_threshold_change_never_resends_one_already_notified(database: DatabaseUrls) -> None:
    # Given 50% notified this period
    org, _ = new_org(database.owner)
    admin = member(org)
    assert len(cross(org, 0, 6, 10)) == 1

    # When the admin sets 50% and 90%, and usage steps to 10 of 10
    body = {"thresholds": {"audits_per_month": [50, 90]}}
    assert call("PUT", "/api/notifications/thresholds", claims=admin, body=body).status == 200
    cross(org, 6, 10, 10)

    # Then 90% is notified, 50% not a second time, and the defaults' 80 and 100 not at all
    items = call("GET", "/api/notifications", claims=admin).json()["notifications"]
    assert [i["threshold"] for i in items] == [90, 50]


def test_the_history_is_paged_newest_first(database: DatabaseUrls) -> None:
    org, _ = new_org(database.owner)
    claims = member(org, role="org:member")
    for before, after in ((0, 5), (5, 8), (8, 10)):
        cross(org, before, after, 10)

    first = call("GET", "/api/notifications", claims=claims, query="limit=2").json()
    second = call("GET", "/api/notifications", claims=claims, query=f"limit=2&cursor={first['next_cursor']}").json()

    assert [i["threshold"] for i in first["notifications"]] == [100, 80]
    assert [i["threshold"] for i in second["notifications"]] == [50]
    assert second["next_cursor"] is None
    # A cursor of another shape is refused by the documented pattern; one of that shape is a position
    bad = call("GET", "/api/notifications", claims=claims, query="cursor=bm90LWEtY3Vyc29y")
    assert bad.status == 422
    assert [f["field"] for f in bad.json()["error"]["details"]["fields"]] == ["query.cursor"]
    made_up = call("GET", "/api/notifications", claims=claims, query="cursor=1-1")
    assert (made_up.status, made_up.json()["notifications"]) == (200, [])
    # Another organization's history is its own
    other, _ = new_org(database.owner)
    assert call("GET", "/api/notifications", claims=member(other)).json() == {"notifications": [], "next_cursor": None}
