"""What is kept of people after they leave: a deleted user's personal organization is purged
after the grace period, and failed webhook rows lose their payload after the inbox's
retention. Events are signed with the real algorithms; the tasks run as the cleanup function
runs them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain.maintenance.tasks import run_task
from sheetbrain_dev.database import DatabaseUrls

from tests import clerk_events as ce
from tests import stripe_events as se
from tests.support import Reply, SettingsEnv, call, claims_for

DAY_MS = 86_400_000


@pytest.fixture(autouse=True)
def webhook_secrets(database: DatabaseUrls, settings_env: SettingsEnv) -> None:
    settings_env(CLERK_WEBHOOK_SECRET=ce.SECRET, STRIPE_WEBHOOK_SECRET=se.SECRET)


def deliver_clerk(event: dict[str, Any]) -> Reply:
    body = ce.body_of(event)
    return call("POST", "/api/webhooks/clerk", raw_body=body.encode(), headers=ce.svix_headers(body))


def deliver_stripe(event: dict[str, Any]) -> Reply:
    body = se.body_of(event)
    headers = {"content-type": "application/json", "stripe-signature": se.signature(body)}
    return call("POST", "/api/webhooks/stripe", raw_body=body.encode(), headers=headers)


def rows(owner: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_deleted_users_personal_organization_is_purged_after_the_grace_period(database: DatabaseUrls) -> None:
    # Given two users who each audited in their personal organization
    suffix = uuid.uuid4().hex[:8]
    long_gone, recently_gone = f"user_gone{suffix}", f"user_recent{suffix}"
    personal = {}
    for user in (long_gone, recently_gone):
        reply = call("POST", "/api/audit", claims=claims_for(user), body={"formulas": ["=A1/0", "=SUM(A1:A3)"]})
        assert reply.status == 200
        personal[user] = f"personal_{user}"
    # When Clerk reports them deleted, 40 and 5 days ago (the event's own timestamp)
    now_ms = int(time.time() * 1000)
    assert deliver_clerk(ce.user("user.deleted", long_gone, now_ms - 40 * DAY_MS)).json()["outcome"] == "processed"
    assert deliver_clerk(ce.user("user.deleted", recently_gone, now_ms - 5 * DAY_MS)).json()["outcome"] == "processed"
    # Then both personal organizations are deleted as of their user's deletion
    assert rows(
        database.owner,
        "SELECT id, round(extract(epoch FROM now() - deleted_at) / 86400) FROM organizations WHERE id = ANY(%s) "
        "ORDER BY 2 DESC",
        list(personal.values()),
    ) == [(personal[long_gone], 40), (personal[recently_gone], 5)]

    # When the purge runs (grace period 30 days)
    summary = run_task("purge")

    # Then the long-deleted user's personal org and its data are gone; the other is kept whole
    assert personal[long_gone] in summary["purged"] and personal[recently_gone] not in summary["purged"]
    for table in ("organizations", "audits", "audit_log", "usage_events", "memberships"):
        column = "id" if table == "organizations" else "org_id"
        counted = rows(
            database.owner,
            f"SELECT {column}, count(*) FROM {table} WHERE {column} = ANY(%s) GROUP BY 1 ORDER BY 1",
            list(personal.values()),
        )
        assert counted == [(personal[recently_gone], 1)], table  # one audit: one row of each
    # And the users stay as tombstones, personal data scrubbed
    assert rows(database.owner, "SELECT email, deleted_at IS NOT NULL FROM users WHERE id = %s", long_gone) == [
        (None, True)
    ]


def test_a_personal_org_first_seen_after_its_user_was_deleted_is_born_deleted(database: DatabaseUrls) -> None:
    # Given a user deleted in Clerk before we ever saw them
    user = f"user_late{uuid.uuid4().hex[:8]}"
    assert deliver_clerk(ce.user("user.deleted", user, int(time.time() * 1000))).status == 200
    # When a token issued before the deletion still reaches the API
    reply = call("GET", "/api/stats", claims=claims_for(user))
    # Then the caller is refused and the personal org it created is already deleted
    assert (reply.status, reply.json()["error"]["code"]) == (403, "tenant_deleted")
    assert rows(
        database.owner, "SELECT deleted_at IS NOT NULL FROM organizations WHERE id = %s", f"personal_{user}"
    ) == [(True,)]


def test_failed_webhook_rows_lose_their_payload_after_retention_and_keep_what_is_not_personal(
    database: DatabaseUrls,
) -> None:
    # Given failed deliveries carrying emails: a Stripe invoice whose amount is an email (its
    # error quotes it), a signed Clerk body that is not JSON, and a Clerk event lacking its id
    email = f"ada.{uuid.uuid4().hex[:6]}@example.com"
    org, customer = f"org_inbox{uuid.uuid4().hex[:8]}", f"cus_{uuid.uuid4().hex[:8]}"
    assert call("GET", "/api/stats", claims=claims_for(f"user_{org}", org, "org:admin")).status == 200
    t = int(time.time()) - 10
    assert deliver_stripe(se.checkout_completed(org, customer, f"sub_{org}", t)).json()["outcome"] == "processed"
    invoice = se.invoice("invoice.paid", customer, f"sub_{org}", t)
    invoice["data"]["object"]["amount_paid"] = email
    assert deliver_stripe(invoice).json()["outcome"] == "failed"
    assert (
        email in rows(database.owner, "SELECT last_error FROM webhook_inbox WHERE event_id = %s", invoice["id"])[0][0]
    )
    not_json = f'["{email}"]'
    clerk_headers = ce.svix_headers(not_json)
    call("POST", "/api/webhooks/clerk", raw_body=not_json.encode(), headers=clerk_headers)
    lacking = ce.envelope("user.updated", {"object": "user", "email_addresses": [{"email_address": email}]}, 1)
    lacking_headers = ce.svix_headers(ce.body_of(lacking))
    call("POST", "/api/webhooks/clerk", raw_body=ce.body_of(lacking).encode(), headers=lacking_headers)
    ids = [invoice["id"], clerk_headers["svix-id"], lacking_headers["svix-id"]]
    # and a fresh failure of the same kinds, still within retention
    recent = se.invoice("invoice.paid", f"cus_{uuid.uuid4().hex[:8]}", "sub_unknown", int(time.time()) - 10)
    recent["data"]["object"]["customer_email"] = email
    assert deliver_stripe(recent).json()["outcome"] == "failed"
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "UPDATE webhook_inbox SET received_at = now() - interval '8 days' WHERE event_id = ANY(%s)", (ids,)
        )
    before = rows(
        database.owner,
        "SELECT id, provider, event_type, status, attempts, received_at FROM webhook_inbox WHERE event_id = ANY(%s) "
        "ORDER BY event_id",
        ids,
    )
    assert [r[3] for r in before] == ["failed"] * 3

    # When the cleanup runs
    summary = run_task("cleanup")

    # Then the old rows keep id, provider, type, status, attempts, timestamps and the error's
    # code, and nothing of the payload
    assert summary["webhook_payloads_redacted"] >= 3
    after = rows(
        database.owner,
        "SELECT id, provider, event_type, status, attempts, received_at FROM webhook_inbox WHERE event_id = ANY(%s) "
        "ORDER BY event_id",
        ids,
    )
    assert after == before
    kept = dict(
        rows(
            database.owner,
            "SELECT event_id, jsonb_build_array(payload, raw_body, last_error, next_attempt_at) FROM webhook_inbox "
            "WHERE event_id = ANY(%s)",
            ids,
        )
    )
    assert kept == {
        invoice["id"]: [None, None, "unusable payload (details redacted)", None],
        clerk_headers["svix-id"]: [None, None, "body is not a JSON object", None],
        lacking_headers["svix-id"]: [None, None, "invalid_webhook_payload (details redacted)", None],
    }
    # And the failure still within retention keeps its payload for review and retry
    assert rows(
        database.owner,
        "SELECT payload->'data'->'object'->>'customer_email', next_attempt_at IS NOT NULL FROM webhook_inbox "
        "WHERE event_id = %s",
        recent["id"],
    ) == [(email, True)]
    assert rows(database.owner, "SELECT count(*) FROM webhook_inbox WHERE strpos(last_error, %s) > 0", email) == [(0,)]
