"""Policy ingestion and retrieval through the real handlers, with real files made here."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain.policies import service
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev.database import DatabaseUrls

from tests.support import Reply, call, claims_for
from tests.unit.policies.conftest import build_docx, build_pdf

POLICY = """# Spreadsheet controls

## 1. Lookups
1.1 All lookups must use exact match. Approximate VLOOKUP is prohibited.

## 2. External data
2.1 Workbooks must not link to other workbooks or import data from the web.

## 3. Rates
3.1 VAT is 20%.
"""


def multipart(fields: dict[str, tuple[str | None, bytes, str | None]]) -> tuple[bytes, str]:
    boundary = f"----sheetbrain{uuid.uuid4().hex}"
    out = b""
    for name, (filename, data, ctype) in fields.items():
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def upload(claims: dict[str, str], filename: str, data: bytes, ctype: str = "application/octet-stream") -> Reply:
    body, content_type = multipart({"file": (filename, data, ctype), "title": (None, b"Uploaded policy", None)})
    return call("POST", "/api/ingest", claims=claims, raw_body=body, headers={"content-type": content_type})


@pytest.fixture
def admin(database: DatabaseUrls) -> tuple[str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    org = f"org_pol{suffix}"
    return org, claims_for(f"user_pol{suffix}", org, "org:admin")


def logs(owner: str, org: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            "SELECT success, error_code, chunks, vectors_upserted FROM ingestion_logs WHERE org_id = %s ORDER BY id",
            (org,),
        ).fetchall()


def counts(owner: str, org: str) -> tuple[int, int]:
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM policies WHERE org_id = %s),
                      (SELECT count(*) FROM policy_chunks WHERE org_id = %s)""",
            (org, org),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_json_ingest_stores_chunks_vectors_and_mapped_rules(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    org, claims = admin
    reply = call(
        "POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY, "category": "finance"}
    )
    assert reply.status == 201, reply.json()
    body = reply.json()
    assert body["chunks"] >= 3 and body["vectors_upserted"] == body["chunks"]
    policy = call("GET", f"/api/policies/{body['policy_id']}", claims=claims).json()
    assert policy["content"].startswith("# Spreadsheet controls")
    tags = {tag for rule in policy["rules"] for tag in rule["check_tags"]}
    assert {"approximate_lookup", "external_link", "web_import", "hardcoded_constant"} <= tags
    assert policy["profile"]["severities"]["FX02"] == "high"
    assert list(policy["profile"]["parameters"]["FX07"]["watched"].values()) == [0.2]
    listed = call("GET", "/api/policies", claims=claims).json()
    assert [p["id"] for p in listed["policies"]] == [body["policy_id"]] and "content" not in listed["policies"][0]
    assert logs(database.owner, org) == [(True, None, body["chunks"], body["vectors_upserted"])]


def test_pdf_and_docx_uploads_are_extracted(admin: tuple[str, dict[str, str]]) -> None:
    _, claims = admin
    pdf = build_pdf([["1. Lookups", "All lookups must use exact match."], ["2. Links", "No external links."]])
    docx = build_docx([("heading1", "Data rules"), ("para", "Formulas must not import data from the web.")])
    assert upload(claims, "policy.pdf", pdf, "application/pdf").status == 201
    reply = upload(claims, "policy.docx", docx)
    assert reply.status == 201
    assert reply.json()["chunks"] >= 1


@pytest.mark.parametrize(
    ("filename", "data", "status", "code"),
    [
        ("empty.txt", b"", 422, None),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", 422, None),
        ("binary.txt", bytes(range(256)) * 40, 422, None),
    ],
)
def test_bad_files_get_clear_errors_and_leave_only_a_failed_log(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls, filename: str, data: bytes, status: int, code: str | None
) -> None:
    org, claims = admin
    reply = upload(claims, filename, data)
    assert reply.status == status
    assert reply.json()["error"]["message"]
    assert counts(database.owner, org) == (0, 0)
    assert [row[0] for row in logs(database.owner, org)] == [False]


def test_an_oversized_document_is_413(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, claims = admin
    monkeypatch.setenv("MAX_POLICY_BYTES", "1000")
    from sheetbrain.config import reset_settings

    reset_settings()
    try:
        reply = upload(claims, "big.txt", b"Policy text. " * 200, "text/plain")
    finally:
        monkeypatch.delenv("MAX_POLICY_BYTES")
        reset_settings()
    assert (reply.status, reply.json()["error"]["code"]) == (413, "payload_too_large")
    assert logs(database.owner, org)[0][:2] == (False, "payload_too_large")


def test_non_latin_documents_are_stored_and_found(admin: tuple[str, dict[str, str]]) -> None:
    _, claims = admin
    text = "# 表計算の規則\n\n1. 参照は完全一致でなければならない。\n\n2. Ο ΦΠΑ είναι 24%.\n"  # noqa: RUF001 - Greek on purpose
    reply = upload(claims, "規則.txt", text.encode(), "text/plain")
    assert reply.status == 201
    policy = call("GET", f"/api/policies/{reply.json()['policy_id']}", claims=claims).json()
    assert "完全一致" in policy["content"]


def test_members_cannot_ingest_or_delete(admin: tuple[str, dict[str, str]]) -> None:
    org, claims = admin
    created = call("POST", "/api/ingest", claims=claims, body={"title": "P", "content": POLICY}).json()
    member = claims_for(f"user_member{uuid.uuid4().hex[:6]}", org, "org:member")
    refused = call("POST", "/api/ingest", claims=member, body={"title": "P", "content": POLICY})
    assert refused.status == 403
    assert call("DELETE", f"/api/policies/{created['policy_id']}", claims=member).status == 403
    assert call("GET", f"/api/policies/{created['policy_id']}", claims=member).status == 200


def test_delete_removes_chunks_and_vectors(admin: tuple[str, dict[str, str]], database: DatabaseUrls) -> None:
    org, claims = admin
    created = call("POST", "/api/ingest", claims=claims, body={"title": "P", "content": POLICY}).json()
    assert counts(database.owner, org)[1] > 0
    assert call("DELETE", f"/api/policies/{created['policy_id']}", claims=claims).status == 204
    assert counts(database.owner, org) == (0, 0)
    assert call("GET", f"/api/policies/{created['policy_id']}", claims=claims).status == 404
    assert call("DELETE", f"/api/policies/{created['policy_id']}", claims=claims).status == 404
    assert call("GET", "/api/policies/not-a-uuid", claims=claims).status == 404


def test_the_plan_policy_limit_is_enforced(admin: tuple[str, dict[str, str]]) -> None:
    _, claims = admin
    for i in range(3):  # free plan: 3 policies
        assert call("POST", "/api/ingest", claims=claims, body={"title": f"P{i}", "content": POLICY}).status == 201
    refused = call("POST", "/api/ingest", claims=claims, body={"title": "P4", "content": POLICY})
    assert refused.status == 429
    assert refused.json()["error"]["details"]["limit"] == 3


def test_invalid_json_bodies(admin: tuple[str, dict[str, str]]) -> None:
    _, claims = admin
    missing = call("POST", "/api/ingest", claims=claims, body={"content": "x"})
    assert missing.status == 422 and missing.json()["error"]["details"]["fields"][0]["field"] == "body.title"
    broken = call("POST", "/api/ingest", claims=claims, raw_body=b"{", headers={"content-type": "application/json"})
    assert broken.status == 400


def test_hybrid_retrieval_finds_the_governing_clause_within_the_org(admin: tuple[str, dict[str, str]]) -> None:
    org, claims = admin
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY}).status == 201
    other_org = f"org_other{uuid.uuid4().hex[:6]}"
    other = claims_for(f"user_o{uuid.uuid4().hex[:6]}", other_org, "org:admin")
    assert call("POST", "/api/ingest", claims=other, body={"title": "Other", "content": POLICY}).status == 201
    identity = Identity(user_id=claims["sub"], org_id=org, role="admin")
    hits = service.retrieve(identity, ["VLOOKUP without FALSE does an approximate match"], k=3)[0]
    assert hits and hits[0].clause == "1.1"
    titles = {h.title for h in hits}
    assert titles == {"Controls"}


def test_changing_the_embedding_model_reembeds_every_chunk(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    from sheetbrain.maintenance.tasks import run_task

    org, claims = admin
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY}).status == 201
    # Given vectors made by another model (as after switching EMBEDDER)
    with psycopg.connect(database.owner) as conn:
        conn.execute("UPDATE policy_chunks SET embedding_model = 'previous-model' WHERE org_id = %s", (org,))
    identity = Identity(user_id=claims["sub"], org_id=org, role="admin")
    query = ["VLOOKUP without FALSE does an approximate match"]
    assert all(h.vector_rank is None for h in service.retrieve(identity, query, k=3)[0])
    # When the reembed task runs, Then every chunk has the current model's vector again
    summary = run_task("reembed")
    assert summary["chunks_reembedded"] >= 3 and not summary["incomplete"]
    with psycopg.connect(database.owner) as conn:
        models = conn.execute("SELECT DISTINCT embedding_model FROM policy_chunks WHERE org_id = %s", (org,)).fetchall()
    assert models == [(service.embedder().model,)]
    assert any(h.vector_rank is not None for h in service.retrieve(identity, query, k=3)[0])
    assert run_task("reembed")["chunks_reembedded"] == 0
