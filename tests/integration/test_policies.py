"""Policy ingestion and retrieval through the real handlers, with real files made here."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain.policies import service
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev.database import DatabaseUrls

from tests.support import Reply, SettingsEnv, call, claims_for
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


class FailingEmbedder:
    """An embedder that must not be reached, or that fails like a bug would."""

    model = "failing"
    dimension = 384

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("secret internals: connection string postgres://u:p@db")


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
    admin: tuple[str, dict[str, str]], database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    org, claims = admin
    settings_env(MAX_POLICY_BYTES="1000")
    reply = upload(claims, "big.txt", b"Policy text. " * 200, "text/plain")
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


def test_a_full_plan_is_refused_before_the_document_is_read_and_without_a_reset_time(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an org at its plan's limit of 3 policies
    org, claims = admin
    for i in range(3):
        assert call("POST", "/api/ingest", claims=claims, body={"title": f"P{i}", "content": POLICY}).status == 201

    # When a broken PDF is uploaded, with an embedder that fails if it is reached
    monkeypatch.setattr(service, "embedder", FailingEmbedder)
    refused = upload(claims, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "application/pdf")

    # Then the limit answers first (not the 422 of extraction, nor the embedder's failure)
    error = refused.json()["error"]
    assert (refused.status, error["code"]) == (429, "quota_exceeded")
    assert error["details"] == {"plan": "free", "feature": "policies", "limit": 3, "used": 3, "resets_at": None}
    # And the contract's Retry-After paces retries (a count has no reset time to give)
    assert refused.header("Retry-After") == "60"
    assert refused.header("RateLimit-Limit") is not None
    assert logs(database.owner, org)[-1][:2] == (False, "quota_exceeded")


def test_invalid_json_bodies(admin: tuple[str, dict[str, str]], database: DatabaseUrls) -> None:
    org, claims = admin
    missing = call("POST", "/api/ingest", claims=claims, body={"content": "x"})
    assert missing.status == 422 and missing.json()["error"]["details"]["fields"][0]["field"] == "body.title"
    assert missing.json()["error"]["message"] == "The request is invalid: body.title: Field required"
    broken = call("POST", "/api/ingest", claims=claims, raw_body=b"{", headers={"content-type": "application/json"})
    assert (broken.status, broken.json()["error"]["code"]) == (400, "malformed_json")
    assert [row[:2] for row in logs(database.owner, org)] == [(False, "validation_error"), (False, "malformed_json")]


def test_a_malformed_multipart_body_is_400_and_logged(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a multipart request without a boundary
    org, claims = admin
    reply = call(
        "POST", "/api/ingest", claims=claims, raw_body=b"--x\r\n", headers={"content-type": "multipart/form-data"}
    )

    # Then it is refused and logged as a failed ingest
    assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")
    assert logs(database.owner, org) == [(False, "bad_request", 0, 0)]


@pytest.mark.parametrize(("field", "value"), [("title", "t" * 301), ("category", "c" * 101)])
def test_multipart_title_and_category_have_the_json_limits(
    admin: tuple[str, dict[str, str]],
    database: DatabaseUrls,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: str,
) -> None:
    # Given an upload whose title or category is longer than the JSON body allows
    org, claims = admin
    monkeypatch.setattr(service, "embedder", FailingEmbedder)  # nothing is embedded for it
    body, content_type = multipart(
        {"file": ("policy.txt", POLICY.encode(), "text/plain"), field: (None, value.encode(), None)}
    )

    # When it is sent
    reply = call("POST", "/api/ingest", claims=claims, raw_body=body, headers={"content-type": content_type})

    # Then a 422 names the field, before any work, and the attempt is logged
    assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_error")
    assert [f["field"] for f in reply.json()["error"]["details"]["fields"]] == [f"body.{field}"]
    assert counts(database.owner, org) == (0, 0)
    assert logs(database.owner, org) == [(False, "validation_error", 0, 0)]


def test_an_upload_without_title_is_named_after_its_file_within_the_title_limit(
    admin: tuple[str, dict[str, str]],
) -> None:
    # Given an upload with no title and a file name longer than a title may be
    _, claims = admin
    name = "p" * 400 + ".txt"
    body, content_type = multipart({"file": (name, POLICY.encode(), "text/plain")})

    # When it is sent, Then it is stored under the name cut to 300 characters
    reply = call("POST", "/api/ingest", claims=claims, raw_body=body, headers={"content-type": content_type})
    assert reply.status == 201, reply.json()
    policy = call("GET", f"/api/policies/{reply.json()['policy_id']}", claims=claims).json()
    assert policy["title"] == name[:300]


def test_a_file_name_that_cannot_be_stored_is_422(admin: tuple[str, dict[str, str]], database: DatabaseUrls) -> None:
    # Given an upload whose (RFC 2231 encoded) file name holds a NUL
    org, claims = admin
    body = (
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%00b.txt\r\n"
        b"Content-Type: text/plain\r\n\r\n" + POLICY.encode() + b"\r\n--b--\r\n"
    )

    # When it is sent
    reply = call(
        "POST", "/api/ingest", claims=claims, raw_body=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )

    # Then a 422 names the file part, and the attempt is logged
    assert (reply.status, reply.json()["error"]["details"]) == (422, {"field": "body.file"})
    assert logs(database.owner, org) == [(False, "validation_error", 0, 0)]


def test_an_unexpected_failure_is_logged_as_a_failed_ingest_without_internals(
    admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an embedder that fails with a non-domain error (a bug, a driver error)
    org, claims = admin
    monkeypatch.setattr(service, "embedder", FailingEmbedder)

    # When a policy is ingested
    reply = call("POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY})

    # Then the client gets a plain 500, and the attempt is logged as failed, without internals
    assert (reply.status, reply.json()["error"]["code"]) == (500, "internal_error")
    with psycopg.connect(database.owner) as conn:
        rows = conn.execute(
            "SELECT success, error_code, error_message FROM ingestion_logs WHERE org_id = %s", (org,)
        ).fetchall()
    assert rows == [(False, "internal_error", "An unexpected error occurred.")]
    assert counts(database.owner, org) == (0, 0)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_long_policy_id_is_404_like_any_unknown_id(admin: tuple[str, dict[str, str]], method: str) -> None:
    reply = call(method, "/api/policies/" + "a" * 100, claims=admin[1])
    assert (reply.status, reply.json()["error"]["code"]) == (404, "not_found")


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
