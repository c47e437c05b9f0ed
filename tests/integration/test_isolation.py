"""Isolation: as org A, nothing of org B is returned or changed, even with B's ids in hand."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sheetbrain.db import tenancy_repo as repo
from sheetbrain.db import tenant_transaction
from sheetbrain.errors import SheetBrainError
from sheetbrain_dev import auth
from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for


@pytest.fixture
def two_orgs(database: DatabaseUrls) -> tuple[str, str, str, str]:
    """Org A with one member, org B with two, created on first sight through the API."""
    suffix = uuid.uuid4().hex[:8]
    org_a, org_b = f"org_a{suffix}", f"org_b{suffix}"
    user_a, user_b, user_b2 = f"user_a{suffix}", f"user_b{suffix}", f"user_b2{suffix}"
    for user, org in ((user_a, org_a), (user_b, org_b), (user_b2, org_b)):
        assert call("GET", "/api/stats", claims=claims_for(user, org, "org:admin")).status == 200
    return org_a, user_a, org_b, user_b


def test_stats_are_scoped_to_the_callers_org(two_orgs: tuple[str, str, str, str]) -> None:
    org_a, user_a, _, _ = two_orgs
    a = call("GET", "/api/stats", claims=claims_for(user_a, org_a)).json()
    assert (a["org_id"], a["users"]) == (org_a, 1)


def test_repository_functions_in_a_tenant_of_a_see_nothing_of_b(two_orgs: tuple[str, str, str, str]) -> None:
    org_a, user_a, org_b, _ = two_orgs
    with tenant_transaction(org_a, user_a) as conn:
        assert repo.get_org(conn, org_b) is None
        assert repo.org_member_count(conn, org_b) == 0
        assert repo.get_org(conn, org_a) is not None


def test_raw_sql_with_the_wrong_org_set_sees_and_changes_nothing(
    two_orgs: tuple[str, str, str, str], database: DatabaseUrls
) -> None:
    org_a, user_a, org_b, user_b = two_orgs
    with tenant_transaction(org_a, user_a) as conn:
        # Queries that name B explicitly, without any org filter of the application's own
        assert conn.execute("SELECT * FROM memberships WHERE org_id = %s", (org_b,)).fetchall() == []
        assert conn.execute("SELECT * FROM organizations WHERE id = %s", (org_b,)).fetchall() == []
        assert conn.execute("SELECT id FROM users WHERE id = %s", (user_b,)).fetchall() == []
        assert conn.execute("SELECT * FROM webhook_inbox").fetchall() == []
        updated = conn.execute("UPDATE memberships SET role = 'member' WHERE org_id = %s", (org_b,)).rowcount
        assert updated == 0
        assert conn.execute("DELETE FROM organizations WHERE id = %s", (org_b,)).rowcount == 0
    # And writing a row into B is refused by the policy
    with pytest.raises(SheetBrainError), tenant_transaction(org_a, user_a) as conn:
        conn.execute("INSERT INTO memberships (org_id, user_id, role) VALUES (%s, %s, 'admin')", (org_b, user_a))
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM memberships WHERE org_id = %s", (org_b,)).fetchone() == (2,)


def test_outside_a_tenant_transaction_nothing_is_visible(
    two_orgs: tuple[str, str, str, str], database: DatabaseUrls
) -> None:
    with psycopg.connect(database.app) as conn:
        assert conn.execute("SELECT count(*) FROM organizations").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM memberships").fetchone() == (0,)


def test_the_application_role_is_neither_owner_nor_superuser(database: DatabaseUrls) -> None:
    with psycopg.connect(database.app) as conn:
        row = conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        owners = conn.execute(
            "SELECT DISTINCT tableowner = current_user FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    assert row == (False, False)
    assert owners == [(False,)]


def test_a_deleted_org_or_user_gets_403(database: DatabaseUrls) -> None:
    suffix = uuid.uuid4().hex[:8]
    org, user = f"org_d{suffix}", f"user_d{suffix}"
    assert call("GET", "/api/stats", claims=claims_for(user, org)).status == 200
    with psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE organizations SET deleted_at = now() WHERE id = %s", (org,))
    reply = call("GET", "/api/stats", claims=claims_for(user, org))
    assert reply.status == 403
    assert reply.json()["error"]["code"] == "tenant_deleted"


def test_a_token_without_org_works_in_the_personal_org(database: DatabaseUrls) -> None:
    user = f"user_p{uuid.uuid4().hex[:8]}"
    body = call("GET", "/api/stats", claims=claims_for(user)).json()
    assert body == {
        "org_id": f"personal_{user}", "name": "Personal", "personal": True, "users": 1, "policies": 0,
        "audits_total": 0, "audits_this_month": 0, "plan": "free", "status": "none",
    }  # fmt: skip


def _authorizer_claims(user: str, org_claims: dict[str, object]) -> dict[str, str]:
    """Claims as they reach the handler for a token carrying these org claims (dev authorizer)."""
    return auth.authorizer_claims(auth.verify(auth.mint(user, claims=org_claims)))


@pytest.mark.parametrize(
    "org_claims",
    [
        pytest.param({"org_id": None, "org_role": "org:admin", "org_slug": None}, id="json-null"),
        pytest.param({"org_id": "null", "org_role": "org:admin"}, id="null-text"),
        pytest.param({"org_id": "None", "org_role": "org:admin"}, id="python-none-text"),
        pytest.param({"org_id": "", "org_role": "org:admin"}, id="empty"),
        pytest.param({"o": {"id": None, "rol": "admin"}}, id="v2-object-null-id"),
    ],
)
def test_two_users_with_null_org_claims_land_in_two_personal_orgs(
    database: DatabaseUrls, org_claims: dict[str, object]
) -> None:
    # Given two users whose tokens carry an org claim that names no organization
    suffix = uuid.uuid4().hex[:8]
    user_a, user_b = f"user_na{suffix}", f"user_nb{suffix}"
    a, b = _authorizer_claims(user_a, org_claims), _authorizer_claims(user_b, org_claims)
    # When each records an audit
    audit_a = call("POST", "/api/audit", claims=a, body={"formulas": ["=A1/0"]}).json()["audit_id"]
    audit_b = call("POST", "/api/audit", claims=b, body={"formulas": ["=B1/0"]}).json()["audit_id"]
    # Then each works in their own personal organization, as its only member
    stats_a, stats_b = call("GET", "/api/stats", claims=a).json(), call("GET", "/api/stats", claims=b).json()
    assert (stats_a["org_id"], stats_a["personal"], stats_a["users"]) == (f"personal_{user_a}", True, 1)
    assert (stats_b["org_id"], stats_b["personal"], stats_b["users"]) == (f"personal_{user_b}", True, 1)
    # And neither lists nor reads the other's audit
    assert [x["audit_id"] for x in call("GET", "/api/audits", claims=a).json()["audits"]] == [audit_a]
    assert [x["audit_id"] for x in call("GET", "/api/audits", claims=b).json()["audits"]] == [audit_b]
    assert call("GET", f"/api/audits/{audit_b}", claims=a).status == 404
    assert call("GET", f"/api/audits/{audit_a}", claims=b).status == 404
    # And no organization was named after the claim's text
    with psycopg.connect(database.owner) as conn:
        named = conn.execute(
            "SELECT id FROM organizations WHERE id IN ('None', 'null', '<nil>', '', 'undefined')"
        ).fetchall()
    assert named == []


def test_every_route_as_org_a_neither_shows_nor_changes_org_bs_rows(database: DatabaseUrls) -> None:
    # Given two populated organizations: a policy and an audit each
    suffix = uuid.uuid4().hex[:8]
    a = claims_for(f"user_ia{suffix}", f"org_ia{suffix}", "org:admin")
    b = claims_for(f"user_ib{suffix}", f"org_ib{suffix}", "org:admin")
    policy = "# Rules\n\n1. All lookups must use exact match.\n"
    ids = {}
    for name, claims in (("a", a), ("b", b)):
        ids[f"policy_{name}"] = call(
            "POST", "/api/ingest", claims=claims, body={"title": name, "content": policy}
        ).json()["policy_id"]
        ids[f"audit_{name}"] = call(
            "POST", "/api/audit", claims=claims, body={"formulas": ["=VLOOKUP(A1,B:C,2)"]}
        ).json()["audit_id"]
    # When org A reads, lists and deletes with B's ids in hand, Then 404 and nothing of B
    assert call("GET", f"/api/policies/{ids['policy_b']}", claims=a).status == 404
    assert call("DELETE", f"/api/policies/{ids['policy_b']}", claims=a).status == 404
    assert call("GET", f"/api/audits/{ids['audit_b']}", claims=a).status == 404
    assert [p["id"] for p in call("GET", "/api/policies", claims=a).json()["policies"]] == [ids["policy_a"]]
    assert [x["audit_id"] for x in call("GET", "/api/audits", claims=a).json()["audits"]] == [ids["audit_a"]]
    stats = call("GET", "/api/stats", claims=a).json()
    assert (stats["policies"], stats["audits_total"], stats["users"]) == (1, 1, 1)
    usage = call("GET", "/api/usage", claims=a, query="metric=audits&granularity=month").json()
    assert sum(p["quantity"] for p in usage["points"]) == 1
    billing = call("GET", "/api/billing", claims=a).json()
    assert {u["feature"]: u["used"] for u in billing["usage"]}["audits_per_month"] == 1
    # A's audit cites A's policy, never B's
    cited = call("GET", f"/api/audits/{ids['audit_a']}", claims=a).json()["findings"]
    assert {f["policy"]["policy_id"] for f in cited if f["policy"]} == {ids["policy_a"]}
    # And B's rows are all still there
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM policies WHERE id = %s", (ids["policy_b"],)).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM audits WHERE id = %s", (ids["audit_b"],)).fetchone() == (1,)


def test_repository_reads_with_bs_ids_inside_as_tenant_see_nothing(database: DatabaseUrls) -> None:
    from sheetbrain.db import audits_repo, billing_repo, metering_repo, policies_repo

    suffix = uuid.uuid4().hex[:8]
    b_claims = claims_for(f"user_rb{suffix}", f"org_rb{suffix}", "org:admin")
    policy_b = call("POST", "/api/ingest", claims=b_claims, body={"title": "B", "content": "1. No links."}).json()
    audit_b = call("POST", "/api/audit", claims=b_claims, body={"formulas": ["=A1/0"]}).json()
    org_a, user_a = f"org_ra{suffix}", f"user_ra{suffix}"
    assert call("GET", "/api/stats", claims=claims_for(user_a, org_a)).status == 200
    org_b = f"org_rb{suffix}"
    import datetime as dt

    with tenant_transaction(org_a, user_a) as conn:
        # Even asking for org B by name, inside A's transaction RLS returns nothing of B
        assert policies_repo.get_policy(conn, org_b, uuid.UUID(policy_b["policy_id"])) is None
        assert policies_repo.list_policies(conn, org_b, limit=10, before=None) == []
        assert policies_repo.org_rules(conn, org_b, None).result() == []
        assert audits_repo.get_audit(conn, org_b, uuid.UUID(audit_b["audit_id"])) is None
        assert audits_repo.list_audits(conn, org_b, limit=10, before=None) == []
        assert billing_repo.get_subscription(conn, org_b) is None
        assert metering_repo.monthly_usage(conn, org_b, "audits", dt.date.today().replace(day=1)) == 0
        assert not policies_repo.delete_policy(conn, org_b, uuid.UUID(policy_b["policy_id"]))


def test_the_api_login_cannot_cross_organizations_or_purge_by_setting_flags(
    two_orgs: tuple[str, str, str, str], database: DatabaseUrls
) -> None:
    org_a, _, org_b, _ = two_orgs
    with psycopg.connect(database.app) as conn:
        # Given the API functions' login asking to be a system transaction
        conn.execute("SELECT set_config('app.org_id', %s, true), set_config('app.system', 'on', true)", (org_a,))
        # Then it still sees only its own org
        assert conn.execute("SELECT count(*) FROM organizations WHERE id = %s", (org_b,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM webhook_inbox").fetchone() == (0,)
    with psycopg.connect(database.app) as conn:
        conn.execute("SELECT set_config('app.org_id', %s, true), set_config('app.purge', 'on', true)", (org_a,))
        # and cannot rewrite the append-only audit log of its own org either
        conn.execute("SELECT * FROM audit_log_append(%s, 'x', NULL, NULL, 'actor', '{}', now())", (org_a,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log WHERE org_id = %s", (org_a,))
    # while the system login does cross organizations
    with psycopg.connect(database.system) as conn:
        conn.execute("SELECT set_config('app.system', 'on', true)")
        assert conn.execute("SELECT count(*) FROM organizations WHERE id IN (%s, %s)", (org_a, org_b)).fetchone() == (
            2,
        )
