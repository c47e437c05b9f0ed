"""POST /api/audit end to end through the handler with real JWT claims: findings, citations,
persistence, isolation, quota, the audit log's hash chain, and the AI review through boto3."""

from __future__ import annotations

import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from botocore.stub import Stubber
from sheetbrain import aws
from sheetbrain.auditing import ai_review
from sheetbrain.auditing.audit_log import verify_all
from sheetbrain_dev.cli import main
from sheetbrain_dev.database import DatabaseUrls

from tests.support import CONVERSE_OK, SettingsEnv, call, claims_for

POLICY = """# Spreadsheet controls

## 1. Lookups
1.1 All lookups must use exact match.

## 2. External data
2.1 Workbooks must not link to other workbooks.

## 3. Rates
3.1 VAT is 20%.
"""

GRID = {
    "sheet": {
        "name": "Q3",
        "range": "A1:C4",
        "formulas": [
            ["", "", ""],
            ["", "=VLOOKUP(A2, Rates!A:B, 2)", "=B2*0.2"],
            ["", "=[Budget.xlsx]Sheet1!A1", "=SUM(B2:B3)"],
            ["", "=B2/0", ""],
        ],
        "values": [["Item", "Price", "VAT"], ["Pen", 10, 2], ["Ink", 5, 15], ["", 0, ""]],
    },
    "context": {"spreadsheet_id": "sheet-123", "purpose": "quarterly VAT"},
}


@pytest.fixture
def org(database: DatabaseUrls) -> tuple[str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    org_id = f"org_aud{suffix}"
    claims = claims_for(f"user_aud{suffix}", org_id, "org:admin")
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY}).status == 201
    return org_id, claims


def by_rule(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["rule"]: f for f in findings}


def test_a_grid_audit_returns_rules_cells_suggestions_and_citations(org: tuple[str, dict[str, str]]) -> None:
    _, claims = org
    reply = call("POST", "/api/audit", claims=claims, body=GRID)
    assert reply.status == 200, reply.json()
    body = reply.json()
    found = by_rule(body["findings"])
    # approximate lookup, raised to high by the policy, cited deterministically from clause 1.1
    assert found["FX02"]["cell"] == "Q3!B2" and found["FX02"]["severity"] == "high"
    assert found["FX02"]["suggestion"] == "=VLOOKUP(A2,Rates!A:B,2,FALSE)"
    assert found["FX02"]["policy"]["clause"] == "1.1" and found["FX02"]["policy"]["match"] == "rule"
    # the watched VAT rate, the external link and the division by zero
    assert found["FX07"]["cell"] == "Q3!C2" and found["FX07"]["policy"]["clause"] == "3.1"
    assert found["FX22"]["cell"] == "Q3!B3" and found["FX22"]["policy"]["clause"] == "2.1"
    assert found["FX14"]["cell"] == "Q3!B4" and found["FX14"]["severity"] == "critical"
    assert body["rag_used"] is True and body["clauses_used"] >= 3
    summary = body["summary"]
    assert summary["formulas"] == 5 and summary["findings"] == len(body["findings"])
    assert sum(summary["by_severity"].values()) == summary["findings"]
    assert 0 <= summary["compliant"] < summary["formulas"]


def test_the_audit_is_readable_afterwards_and_invisible_to_another_org(org: tuple[str, dict[str, str]]) -> None:
    _, claims = org
    created = call(
        "POST", "/api/audit", claims=claims, body={"formulas": ["=SUM(A1:A10)", "=VLOOKUP(B2, Sheet1!A:B, 2)"]}
    )
    audit_id = created.json()["audit_id"]
    again = call("GET", f"/api/audits/{audit_id}", claims=claims).json()
    assert again["findings"] == created.json()["findings"] and again["summary"] == created.json()["summary"]
    listed = call("GET", "/api/audits", claims=claims, query="limit=1").json()
    assert listed["audits"][0]["audit_id"] == audit_id and listed["next_cursor"]
    stranger = claims_for(f"user_x{uuid.uuid4().hex[:6]}", f"org_x{uuid.uuid4().hex[:6]}", "org:admin")
    assert call("GET", f"/api/audits/{audit_id}", claims=stranger).status == 404
    assert call("GET", "/api/audits", claims=stranger).json()["audits"] == []
    assert call("GET", "/api/audits/not-a-uuid", claims=claims).status == 404


def test_an_audit_is_answered_in_utf8_with_its_text_as_sent(org: tuple[str, dict[str, str]]) -> None:
    # Given a grid whose sheet name is not ASCII
    _, claims = org
    created = call("POST", "/api/audit", claims=claims, body={"sheet": {"name": "Été", "formulas": [["=B2/0"]]}})
    assert created.status == 200
    # Then its findings name the cells in that sheet, and the reply is UTF-8 JSON (as pydantic
    # writes it, like /api/ingest's), not ASCII with \u escapes; reading it back answers the same
    assert created.json()["findings"][0]["cell"] == "Été!A1"
    assert '"cell":"Été!A1"'.encode() in created.body
    assert created.header("Content-Type") == "application/json"
    again = call("GET", f"/api/audits/{created.json()['audit_id']}", claims=claims)
    assert again.json() == created.json() and '"cell":"Été!A1"'.encode() in again.body


def test_cursor_pagination_walks_every_audit_once(org: tuple[str, dict[str, str]]) -> None:
    _, claims = org
    ids = [
        call("POST", "/api/audit", claims=claims, body={"formulas": [f"=A{i}+1"]}).json()["audit_id"] for i in range(5)
    ]
    seen: list[str] = []
    cursor = ""
    while True:
        page = call(
            "GET", "/api/audits", claims=claims, query=f"limit=2&cursor={cursor}" if cursor else "limit=2"
        ).json()
        seen += [a["audit_id"] for a in page["audits"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))
    assert call("GET", "/api/audits", claims=claims, query="cursor=garbage!").status == 422


@pytest.mark.dates
def test_the_eleventh_free_audit_is_refused_and_a_failed_audit_consumes_nothing(database: DatabaseUrls) -> None:
    suffix = uuid.uuid4().hex[:8]
    org_id, claims = f"org_q{suffix}", claims_for(f"user_q{suffix}", f"org_q{suffix}", "org:admin")
    # A request that fails validation consumes nothing
    assert call("POST", "/api/audit", claims=claims, body={"formulas": []}).status == 422
    for i in range(10):
        assert call("POST", "/api/audit", claims=claims, body={"formulas": [f"=A{i}*2"]}).status == 200
    refused = call("POST", "/api/audit", claims=claims, body={"formulas": ["=A1"]})
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert (error["details"]["plan"], error["details"]["limit"], error["details"]["used"]) == ("free", 10, 10)
    assert error["details"]["resets_at"] and int(refused.header("Retry-After") or 0) > 0
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM audits WHERE org_id = %s", (org_id,)).fetchone() == (10,)


def test_a_failure_after_the_quota_check_rolls_everything_back(
    database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:8]
    org_id, claims = f"org_r{suffix}", claims_for(f"user_r{suffix}", f"org_r{suffix}", "org:admin")
    from sheetbrain.db import audits_repo

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(audits_repo, "append_log", broken)
    assert call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).status == 500
    with psycopg.connect(database.owner) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM audits WHERE org_id = %(o)s),
                      (SELECT count(*) FROM usage_events WHERE org_id = %(o)s),
                      (SELECT count(*) FROM audit_log WHERE org_id = %(o)s)""",
            {"o": org_id},
        ).fetchone()
    assert row == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"formulas": ["=A1"], "sheet": {"name": "S", "formulas": [["=A1"]]}}, "body"),
        ({"formulas": ["=" + "A" * 9000]}, "body.formulas"),
        ({"sheet": {"name": "S", "range": "not a range", "formulas": [["=A1"]]}}, "body.sheet.range"),
        ({"sheet": {"name": "S", "formulas": [["=A1"] * 501]}}, "body.sheet.formulas"),
        ({"formulas": ["=A1"] * 2001}, "body.formulas"),
        ({"formulas": ["", "   "]}, "body"),
        ({"sheet": {"name": "S", "formulas": [["", None, "text"]]}}, "body"),
    ],
)
def test_invalid_requests_get_422_naming_the_field(
    org: tuple[str, dict[str, str]], body: dict[str, Any], field: str
) -> None:
    reply = call("POST", "/api/audit", claims=org[1], body=body)
    assert reply.status == 422
    assert field in [f["field"] for f in reply.json()["error"]["details"]["fields"]]


def test_the_audit_log_is_a_hash_chain_and_tampering_is_caught(
    org: tuple[str, dict[str, str]], database: DatabaseUrls, capsys: pytest.CaptureFixture[str]
) -> None:
    org_id, claims = org
    for formulas in (["=A1+1"], ["=B2/0"], ["=SUM(A1:A3)"]):
        assert call("POST", "/api/audit", claims=claims, body={"formulas": formulas}).status == 200
    assert verify_all(org_id)[0].ok and verify_all(org_id)[0].rows_checked == 3
    with psycopg.connect(database.owner) as conn:
        conn.execute("SET app.purge = 'on'")  # by hand, past the append-only trigger
        conn.execute(
            'UPDATE audit_log SET payload = replace(payload, \'"findings":\', \'"findings":0,"x":\') '
            "WHERE org_id = %s AND seq = 2",
            (org_id,),
        )
    report = verify_all(org_id)[0]
    assert (report.ok, report.first_broken_seq) == (False, 2)
    os.environ["MIGRATION_DATABASE_URL"] = database.owner
    try:
        assert main(["verify-audit-log", "--org", org_id]) == 1
    finally:
        del os.environ["MIGRATION_DATABASE_URL"]
    assert f"{org_id}: BROKEN at seq 2" in capsys.readouterr().out


# ---- AI review through boto3: botocore's Stubber, and a real socket timeout ---------------------


@pytest.fixture
def pro_org(database: DatabaseUrls, settings_env: SettingsEnv) -> tuple[str, dict[str, str]]:
    """An org whose plan includes the AI review, with the review switched on."""
    suffix = uuid.uuid4().hex[:8]
    org_id = f"org_ai{suffix}"
    claims = claims_for(f"user_ai{suffix}", org_id, "org:admin")
    assert call("GET", "/api/stats", claims=claims).status == 200
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES "
            "(%s, 'ai_review', 1, 'test'), (%s, 'ai_tokens_per_month', 3000, 'test')",
            (org_id, org_id),
        )
    settings_env(AI_REVIEW_ENABLED="true")
    return org_id, claims


def tokens(owner: str, org_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            """SELECT model, input_tokens, output_tokens, cost_micros, outcome FROM ai_token_usage
               WHERE org_id = %s ORDER BY id""",
            (org_id,),
        ).fetchall()


def test_ai_review_success_records_tokens_and_cost(pro_org: tuple[str, dict[str, str]], database: DatabaseUrls) -> None:
    org_id, claims = pro_org
    with Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
        stub.assert_no_pending_responses()
    assert body["ai_review"]["status"] == "completed"
    assert body["ai_review"]["judgments"][0]["verdict"] == "confirmed"
    _, tin, tout, cost, outcome = tokens(database.owner, org_id)[0]
    assert (tin, tout, outcome) == (1200, 300, "completed")
    assert cost == round(1200 * 0.80 + 300 * 4.00)  # claude 3.5 haiku: $0.80 / $4 per M tokens
    with psycopg.connect(database.owner) as conn:
        assert conn.execute(
            "SELECT quantity FROM usage_monthly WHERE org_id = %s AND metric = 'ai_tokens'", (org_id,)
        ).fetchone() == (1500,)


def test_ai_review_throttled_or_malformed_leaves_the_deterministic_result(
    pro_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = pro_org
    malformed = {
        **CONVERSE_OK,
        "output": {"message": {"role": "assistant", "content": [{"text": "Sure! Here you go"}]}},
    }
    with Stubber(ai_review.client()) as stub:
        stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
        stub.add_response("converse", malformed)
        throttled = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
        invalid = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
    assert throttled["ai_review"] == {
        "status": "unavailable",
        "reason": "throttled",
        "model": ai_review.get_settings().bedrock_model_id,
    }
    assert invalid["ai_review"]["status"] == "unavailable" and invalid["ai_review"]["reason"] == "invalid_output"
    for body in (throttled, invalid):
        assert [f["rule"] for f in body["findings"]] == ["FX14"]
        assert "judgments" not in body["ai_review"]
    # the malformed answer still cost tokens, and they are on the ledger
    assert [row[4] for row in tokens(database.owner, org_id)] == ["unavailable: invalid_output"]


class _SlowBedrock(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_ai_review_timeout_is_reported_unavailable(
    pro_org: tuple[str, dict[str, str]], settings_env: SettingsEnv
) -> None:
    _, claims = pro_org
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowBedrock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings_env(AI_REVIEW_TIMEOUT_S="0.5", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=f"http://127.0.0.1:{server.server_port}")
    try:
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
    finally:
        server.shutdown()
        server.server_close()
    assert body["ai_review"]["status"] == "unavailable" and body["ai_review"]["reason"] == "timeout"
    assert [f["rule"] for f in body["findings"]] == ["FX14"]


@pytest.mark.dates
def test_ai_review_is_skipped_when_the_token_allowance_is_spent(
    pro_org: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org_id, claims = pro_org
    with Stubber(ai_review.client()) as stub:
        stub.add_response(
            "converse", {**CONVERSE_OK, "usage": {"inputTokens": 2500, "outputTokens": 600, "totalTokens": 3100}}
        )
        call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]})
        # 3100 of 3000 tokens used: the next audit does not call the model at all
        body = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).json()
        stub.assert_no_pending_responses()
    assert body["ai_review"] == {"status": "skipped", "reason": "monthly AI token allowance used up"}
    assert len(tokens(database.owner, org_id)) == 1


@pytest.mark.dates
def test_token_thresholds_notify_once_per_period(
    pro_org: tuple[str, dict[str, str]], database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    from moto import mock_aws

    org_id, claims = pro_org
    # (answers of at most 300 tokens: each call holds its prompt's bound of 829 and 300 more, so
    # a second call fits next to the first's 1500 tokens)
    settings_env(NOTIFY_INLINE="true", AI_REVIEW_MAX_TOKENS="300")
    with mock_aws(), Stubber(ai_review.client()) as stub:
        for _ in range(3):  # 1500 tokens each against 3000: 50%, then 80% and 100%, then nothing new
            stub.add_response("converse", CONVERSE_OK)
            assert call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).status == 200
    aws.reset_clients()
    with psycopg.connect(database.owner) as conn:
        rows = conn.execute(
            """SELECT threshold, delivered_at IS NOT NULL FROM notifications
               WHERE org_id = %s AND feature = 'ai_tokens_per_month' ORDER BY threshold""",
            (org_id,),
        ).fetchall()
    assert rows == [(50, True), (80, True), (100, True)]


def test_ai_tokens_stay_on_the_ledger_when_the_audit_cannot_be_recorded(
    pro_org: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sheetbrain.db import audits_repo

    org_id, claims = pro_org

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(audits_repo, "append_log", broken)
    with Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        assert call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]}).status == 500
    assert [row[1:3] for row in tokens(database.owner, org_id)] == [(1200, 300)]
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT count(*) FROM audits WHERE org_id = %s", (org_id,)).fetchone() == (0,)


def test_tokens_that_cannot_reach_the_ledger_are_logged_and_the_audit_error_stands(
    pro_org: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sheetbrain.auditing import service
    from sheetbrain.db import audits_repo

    org_id, claims = pro_org
    logged: list[tuple[str, dict[str, Any]]] = []

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(audits_repo, "append_log", broken)
    monkeypatch.setattr(audits_repo, "record_ai_usage", broken)
    monkeypatch.setattr(service.logger, "exception", lambda message, **fields: logged.append((message, fields)))
    with Stubber(ai_review.client()) as stub:
        stub.add_response("converse", CONVERSE_OK)
        reply = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"]})
    assert (reply.status, reply.json()["error"]["code"]) == (500, "internal_error")
    lost = [f for message, f in logged if message == "AI tokens of a failed audit not recorded"]
    assert [(f["input_tokens"], f["output_tokens"]) for f in lost] == [(1200, 300)]
    assert tokens(database.owner, org_id) == []


def test_citations_restricted_to_chosen_policies_search_those_policies(database: DatabaseUrls) -> None:
    # Given an org whose first policy holds seven clauses on division by zero, and a second
    # policy holding one weaker one
    suffix = uuid.uuid4().hex[:8]
    claims = claims_for(f"user_cite{suffix}", f"org_cite{suffix}", "org:admin")
    clauses = "\n\n".join(f"{i}. A formula must never divide by zero or by an empty cell ({i})." for i in range(1, 8))
    for title, content in (("Many", f"# Division\n\n{clauses}"), ("One", "# Arithmetic\n\n1. Check a divisor first.")):
        assert call("POST", "/api/ingest", claims=claims, body={"title": title, "content": content}).status == 201
    chosen = next(p["id"] for p in call("GET", "/api/policies", claims=claims).json()["policies"]
                  if p["title"] == "One")  # fmt: skip

    # When an audit asks for citations from the second policy only
    reply = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"], "policy_ids": [chosen]})

    # Then its clause is cited, though the first policy's clauses fill the org-wide top five
    cited = [f for f in reply.json()["findings"] if f["policy"]]
    assert len(cited) == 1, reply.json()
    [finding] = cited
    assert (finding["policy"]["policy_id"], finding["policy"]["match"]) == (chosen, "retrieval")


def test_an_audit_past_its_listing_bound_lists_the_most_severe_and_counts_the_rest(
    org: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a listing bound of 2 findings and formulas with one critical, one high and low findings
    from sheetbrain.auditing import service

    monkeypatch.setattr(service, "MAX_LISTED_FINDINGS", 2)
    _, claims = org
    formulas = ["=A1/0", "=#REF!+A1", "=TODAY()-A1", "=NOW()-A2"]

    # When it is audited and read back
    reply = call("POST", "/api/audit", claims=claims, body={"formulas": formulas})
    again = call("GET", f"/api/audits/{reply.json()['audit_id']}", claims=claims).json()

    # Then the two critical findings (FX14, FX15) are listed, and the summary also counts the two
    # low ones (FX01: TODAY and NOW are volatile)
    body = reply.json()
    assert [(f["rule"], f["severity"]) for f in body["findings"]] == [("FX14", "critical"), ("FX15", "critical")]
    assert (body["summary"]["findings"], body["findings_omitted"]) == (4, 2)
    assert (again["findings"], again["findings_omitted"]) == (body["findings"], 2)
