"""Clerk webhooks: signed with the real Svix algorithm, through the real handler and inbox."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests import clerk_events as ce
from tests.support import Reply, SettingsEnv, call


@pytest.fixture(autouse=True)
def clerk_secret(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(CLERK_WEBHOOK_SECRET=ce.SECRET)


def deliver(event: dict[str, Any] | str, **header_args: Any) -> Reply:
    body = event if isinstance(event, str) else ce.body_of(event)
    headers = ce.svix_headers(body, **header_args)
    return call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=headers)


def rows(owner: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(sql, params).fetchall()


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_each_event_type_is_applied(database: DatabaseUrls) -> None:
    org_id, user_id, mem_id = uid("org"), uid("user"), uid("orgmem")
    t = int(time.time() * 1000)
    # Given created events
    for event in (
        ce.user("user.created", user_id, t),
        ce.org("organization.created", org_id, t),
        ce.membership("organizationMembership.created", mem_id, org_id, user_id, t),
    ):
        assert deliver(event).json()["outcome"] == "processed"
    # When each object is updated
    assert deliver(ce.user("user.updated", user_id, t + 10, email="new@example.com", first="Grace")).status == 200
    assert deliver(ce.org("organization.updated", org_id, t + 10, name="Acme 2")).status == 200
    assert (
        deliver(
            ce.membership("organizationMembership.updated", mem_id, org_id, user_id, t + 10, role="org:admin")
        ).status
        == 200
    )
    # Then the rows hold the newest data
    assert rows(database.owner, "SELECT email, first_name, last_name, image_url FROM users WHERE id = %s", user_id) == [
        ("new@example.com", "Grace", "Lovelace", f"https://img.clerk.com/{user_id}")
    ]
    assert rows(database.owner, "SELECT name, slug, deleted_at FROM organizations WHERE id = %s", org_id) == [
        ("Acme 2", f"slug-{org_id}", None)
    ]
    assert rows(database.owner, "SELECT role, clerk_id FROM memberships WHERE org_id = %s", org_id) == [
        ("admin", mem_id)
    ]
    # When they are deleted
    assert deliver(ce.membership("organizationMembership.deleted", mem_id, org_id, user_id, t + 20)).status == 200
    assert deliver(ce.user("user.deleted", user_id, t + 30)).status == 200
    assert deliver(ce.org("organization.deleted", org_id, t + 40)).status == 200
    # Then deletes are soft, personal data is scrubbed, and a late update does not resurrect
    assert deliver(ce.user("user.updated", user_id, t + 50, email="back@example.com")).status == 200
    assert rows(database.owner, "SELECT email, deleted_at IS NOT NULL FROM users WHERE id = %s", user_id) == [
        (None, True)
    ]
    assert rows(database.owner, "SELECT deleted_at IS NOT NULL FROM organizations WHERE id = %s", org_id) == [(True,)]
    assert rows(database.owner, "SELECT deleted_at IS NOT NULL FROM memberships WHERE org_id = %s", org_id) == [(True,)]


def test_a_duplicate_delivery_is_answered_200_and_changes_nothing(database: DatabaseUrls) -> None:
    user_id = uid("user")
    event = ce.user("user.created", user_id, int(time.time() * 1000))
    first = deliver(event, msg_id="msg_dup_" + user_id)
    second = deliver(event, msg_id="msg_dup_" + user_id)
    assert (first.status, first.json()["outcome"]) == (200, "processed")
    assert (second.status, second.json()["outcome"]) == (200, "duplicate")
    assert rows(
        database.owner, "SELECT status, attempts FROM webhook_inbox WHERE event_id = %s", "msg_dup_" + user_id
    ) == [("processed", 1)]


def _scenario(org_id: str, users: list[str], t0: int) -> list[dict[str, Any]]:
    """Fifty events of one organization's life, in the order Clerk emitted them."""
    events: list[dict[str, Any]] = [ce.org("organization.created", org_id, t0)]
    t = t0
    for i, user_id in enumerate(users):
        t += 10
        events.append(ce.user("user.created", user_id, t))
        t += 10
        events.append(ce.membership("organizationMembership.created", f"mem_{user_id}", org_id, user_id, t))
        t += 10
        events.append(ce.user("user.updated", user_id, t, first=f"Name{i}"))
    for i, user_id in enumerate(users[:6]):
        t += 10
        events.append(
            ce.membership("organizationMembership.updated", f"mem_{user_id}", org_id, user_id, t, role="org:admin")
        )
        t += 10
        events.append(ce.org("organization.updated", org_id, t, name=f"Acme v{i}"))
    t += 10
    events.append(ce.membership("organizationMembership.deleted", f"mem_{users[1]}", org_id, users[1], t))
    t += 10
    events.append(ce.membership("organizationMembership.created", f"mem2_{users[1]}", org_id, users[1], t))
    t += 10
    events.append(ce.membership("organizationMembership.deleted", f"mem_{users[2]}", org_id, users[2], t))
    t += 10
    events.append(ce.user("user.deleted", users[3], t))
    while len(events) < 50:
        t += 10
        events.append(ce.user("user.updated", users[4], t, first=f"Late{len(events)}"))
    return events[:50]


def _snapshot(owner: str, org_id: str, users: list[str]) -> dict[str, Any]:
    def norm(value: Any) -> Any:
        text = str(value)
        for i, user_id in enumerate(users):
            text = text.replace(user_id, f"U{i}")
        return text.replace(org_id, "ORG")

    org_rows = rows(
        owner,
        "SELECT id, name, slug, image_url, deleted_at IS NOT NULL FROM organizations WHERE id = %s",
        org_id,
    )
    user_rows = rows(
        owner,
        "SELECT id, email, first_name, last_name, deleted_at IS NOT NULL FROM users WHERE id = ANY(%s) ORDER BY id",
        users,
    )
    member_rows = rows(
        owner,
        "SELECT user_id, role, clerk_id, deleted_at IS NOT NULL FROM memberships WHERE org_id = %s ORDER BY user_id",
        org_id,
    )
    return {"orgs": norm(org_rows), "users": sorted(norm(user_rows)), "members": norm(member_rows)}


def test_a_shuffled_sequence_converges_to_the_ordered_result(database: DatabaseUrls) -> None:
    # Given the same 50-event history for two fresh organizations
    t0 = int(time.time() * 1000)
    ordered_org, shuffled_org = uid("org"), uid("org")
    ordered_users = [uid("user") for _ in range(8)]
    shuffled_users = [u.replace("user_", "user_s") for u in ordered_users]
    ordered = _scenario(ordered_org, ordered_users, t0)
    shuffled = _scenario(shuffled_org, shuffled_users, t0)
    assert len(ordered) == 50
    # When one is delivered in order and the other shuffled
    for event in ordered:
        assert deliver(event).status == 200
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        assert deliver(event).status == 200
    # Then both end in the same rows
    ordered_state = _snapshot(database.owner, ordered_org, ordered_users)
    shuffled_state = _snapshot(database.owner, shuffled_org, shuffled_users)
    assert "True" in ordered_state["members"]  # the scenario did delete something
    assert ordered_state == {
        **shuffled_state,
        "users": [s.replace("user_s", "user_") for s in shuffled_state["users"]],
    }


def test_bad_signature_is_400_and_records_nothing(database: DatabaseUrls) -> None:
    body = ce.body_of(ce.user("user.created", uid("user"), int(time.time() * 1000)))
    headers = ce.svix_headers(body, msg_id="msg_badsig", secret="whsec_" + "A" * 40)
    reply = call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=headers)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "invalid_signature"
    assert rows(database.owner, "SELECT 1 FROM webhook_inbox WHERE event_id = 'msg_badsig'") == []


def test_a_delivery_signed_with_standard_webhooks_headers_is_kept_under_its_id(database: DatabaseUrls) -> None:
    # Given two events signed as Svix signs them but sent under the Standard Webhooks names
    # (webhook-id, webhook-timestamp, webhook-signature), which Svix's verifier accepts too
    replies = []
    for user_id in (uid("user"), uid("user")):
        body = ce.body_of(ce.user("user.created", user_id, int(time.time() * 1000)))
        headers = {k.replace("svix-", "webhook-"): v for k, v in ce.svix_headers(body).items()}
        reply = call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=headers)
        replies.append((headers["webhook-id"], reply))
    # Then each is applied under its own id, and the second is no duplicate of the first
    for msg_id, reply in replies:
        assert (reply.status, reply.json()["event_id"], reply.json()["outcome"]) == (200, msg_id, "processed")
        assert rows(database.owner, "SELECT status FROM webhook_inbox WHERE event_id = %s", msg_id) == [("processed",)]
    assert rows(database.owner, "SELECT 1 FROM webhook_inbox WHERE event_id = ''") == []


def test_a_delivery_without_an_id_is_400_saying_so(database: DatabaseUrls) -> None:
    body = ce.body_of(ce.user("user.created", uid("user"), int(time.time() * 1000)))
    headers = {k: v for k, v in ce.svix_headers(body).items() if k != "svix-id"}
    reply = call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=headers)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")
    assert "svix-id" in reply.json()["error"]["message"]
    assert rows(database.owner, "SELECT 1 FROM webhook_inbox WHERE event_id = ''") == []


@pytest.mark.parametrize("signature", ["v1", "v1,not*base64", "v1,"])
def test_a_malformed_signature_header_is_400_not_a_crash(database: DatabaseUrls, signature: str) -> None:
    body = ce.body_of(ce.user("user.created", uid("user"), int(time.time() * 1000)))
    headers = {**ce.svix_headers(body, msg_id="msg_badheader"), "svix-signature": signature}
    reply = call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=headers)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "invalid_signature")
    assert rows(database.owner, "SELECT 1 FROM webhook_inbox WHERE event_id = 'msg_badheader'") == []


def test_membership_roles_are_mapped_as_token_roles_are(database: DatabaseUrls) -> None:
    # Given memberships whose role keys differ from the canonical ones only in case and spacing
    org_id, t = uid("org"), int(time.time() * 1000)
    cases = {"ORG:ADMIN": "admin", " Admin ": "admin", "org:member": "member", "basic_member": "member"}
    users = {uid("user"): role for role in cases}
    for user_id, role in users.items():
        event = ce.membership("organizationMembership.created", f"mem_{user_id}", org_id, user_id, t, role=role)
        assert deliver(event).json()["outcome"] == "processed"
    # Then the rows hold the role the same claim in a token gives (tests/unit/test_identity.py)
    stored = dict(rows(database.owner, "SELECT user_id, role FROM memberships WHERE org_id = %s", org_id))
    assert stored == {user_id: cases[role] for user_id, role in users.items()}


def test_a_ten_minute_old_timestamp_is_400_and_records_nothing(database: DatabaseUrls) -> None:
    user_id = uid("user")
    reply = deliver(ce.user("user.created", user_id, 1), msg_id="msg_stale", timestamp=int(time.time()) - 600)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "invalid_signature"
    assert rows(database.owner, "SELECT 1 FROM webhook_inbox WHERE event_id = 'msg_stale'") == []
    assert rows(database.owner, "SELECT 1 FROM users WHERE id = %s", user_id) == []


def test_signed_malformed_json_is_400_and_kept_as_failed(database: DatabaseUrls) -> None:
    reply = deliver('{"type": "user.created", "data": ', msg_id="msg_malformed")
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "bad_request"
    assert rows(
        database.owner,
        "SELECT status, payload, raw_body, next_attempt_at FROM webhook_inbox WHERE event_id = 'msg_malformed'",
    ) == [("failed", None, '{"type": "user.created", "data": ', None)]


def test_a_payload_the_database_cannot_store_is_kept_escaped_as_failed(database: DatabaseUrls) -> None:
    # Given a signed event whose text holds a NUL (jsonb and text refuse it), and a malformed body
    # holding a raw NUL byte
    event = ce.user("user.created", uid("user"), 1000, first="A\u0000da")
    # When each is delivered
    stored = deliver(event, msg_id="msg_nul_event")
    malformed = deliver('{"type": "user.created\x00', msg_id="msg_nul_body")
    # Then neither is a 5xx the sender would retry for days: both are failed for good, kept escaped
    assert (stored.status, stored.json()["outcome"]) == (200, "failed")
    assert malformed.status == 400
    kept = {
        r[0]: r[1:]
        for r in rows(
            database.owner,
            """SELECT event_id, status, payload, raw_body, next_attempt_at FROM webhook_inbox
               WHERE event_id IN ('msg_nul_event', 'msg_nul_body')""",
        )
    }
    assert kept["msg_nul_body"] == ("failed", None, '"{\\"type\\": \\"user.created\\u0000"', None)
    status, payload, raw, retry_at = kept["msg_nul_event"]
    assert (status, payload, retry_at) == ("failed", None, None) and "\\u0000" in raw


def test_a_signed_body_nested_too_deep_is_400_and_kept_as_failed(database: DatabaseUrls) -> None:
    reply = deliver('{"type": "user.created", "data": ' + "[" * 5000 + "]" * 5000 + "}", msg_id="msg_deep")
    assert reply.status == 400
    assert rows(database.owner, "SELECT status, payload FROM webhook_inbox WHERE event_id = 'msg_deep'") == [
        ("failed", None)
    ]


def test_an_unknown_event_type_is_acknowledged_and_recorded_as_ignored(database: DatabaseUrls) -> None:
    reply = deliver(ce.envelope("session.created", {"id": "sess_1"}, 1), msg_id="msg_unknown")
    assert (reply.status, reply.json()["outcome"]) == (200, "ignored")
    assert rows(database.owner, "SELECT status FROM webhook_inbox WHERE event_id = 'msg_unknown'") == [("ignored",)]


def test_a_payload_missing_fields_is_recorded_failed_for_retry(database: DatabaseUrls) -> None:
    reply = deliver(ce.envelope("user.created", {"object": "user"}, 1), msg_id="msg_noid")
    assert (reply.status, reply.json()["outcome"]) == (200, "failed")
    status, error, retry = rows(
        database.owner,
        "SELECT status, last_error, next_attempt_at IS NOT NULL FROM webhook_inbox WHERE event_id = 'msg_noid'",
    )[0]
    assert status == "failed" and "id" in error and retry


def test_deleting_a_user_keeps_audit_history_with_the_user_nulled(database: DatabaseUrls) -> None:
    from sheetbrain.auditing.audit_log import verify_all

    from tests.support import claims_for

    org_id, user_id = uid("org"), uid("user")
    claims = claims_for(user_id, org_id, "org:admin")
    created = call("POST", "/api/audit", claims=claims, body={"formulas": ["=A1/0"]})
    assert created.status == 200
    assert deliver(ce.user("user.deleted", user_id, int(time.time() * 1000))).status == 200
    assert rows(database.owner, "SELECT user_id FROM audits WHERE org_id = %s", org_id) == [(None,)]
    assert rows(database.owner, "SELECT user_id FROM audit_log WHERE org_id = %s", org_id) == [(None,)]
    assert verify_all(org_id)[0].ok  # the chain does not cover the user reference
    # and the log still refuses any other change
    with pytest.raises(psycopg.errors.InsufficientPrivilege), psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE audit_log SET event = 'x' WHERE org_id = %s", (org_id,))
