"""Lexeme statistics and postings follow policies in and out: common words are left out of
searches, and full-text candidates are found through the postings."""

from __future__ import annotations

import uuid

import psycopg
from sheetbrain.db import policies_repo, tenant_transaction
from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for


def stats(owner: str, org: str, lexeme: str) -> tuple[int | None, int | None]:
    """(chunks holding the lexeme, chunks in the org); the postings must agree with the first."""
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            """SELECT (SELECT chunks FROM policy_lexemes WHERE org_id = %s AND lexeme = %s),
                      (SELECT chunks FROM policy_corpus WHERE org_id = %s),
                      (SELECT count(*) FROM policy_postings p JOIN policy_chunks c ON c.id = p.chunk_id
                       WHERE p.org_id = %s AND p.lexeme = %s AND c.tsv @@ to_tsquery('english', %s))""",
            (org, lexeme, org, org, lexeme, lexeme),
        ).fetchone()
    assert row is not None
    assert row[2] == (row[0] or 0)
    return row[0], row[1]


def test_ingest_counts_lexemes_and_delete_takes_them_back(database: DatabaseUrls) -> None:
    org = f"org_lex{uuid.uuid4().hex[:8]}"
    claims = claims_for(f"user_lex{uuid.uuid4().hex[:8]}", org, "org:admin")
    text = "# Rules\n\n1. Lookups must use exact match.\n\n2. Lookups must not span other workbooks.\n"
    first = call("POST", "/api/ingest", claims=claims, body={"title": "A", "content": text}).json()
    second = call("POST", "/api/ingest", claims=claims, body={"title": "B", "content": text}).json()
    chunks = first["chunks"] + second["chunks"]
    assert stats(database.owner, org, "lookup") == (chunks, chunks)
    assert stats(database.owner, org, "exact")[0] == chunks // 2
    assert call("DELETE", f"/api/policies/{first['policy_id']}", claims=claims).status == 204
    assert stats(database.owner, org, "lookup") == (second["chunks"], second["chunks"])
    assert call("DELETE", f"/api/policies/{second['policy_id']}", claims=claims).status == 204
    assert stats(database.owner, org, "lookup") == (None, 0)


def test_full_text_search_finds_the_clause_through_the_postings(database: DatabaseUrls) -> None:
    org = f"org_lex{uuid.uuid4().hex[:8]}"
    claims = claims_for(f"user_lex{uuid.uuid4().hex[:8]}", org, "org:admin")
    text = "# Rules\n\n1. Lookups must use exact match.\n\n2. Hardcoded VAT rates are forbidden.\n"
    assert call("POST", "/api/ingest", claims=claims, body={"title": "A", "content": text}).status == 201
    with tenant_transaction(org) as conn:
        hits = policies_repo.send_hybrid_search(
            conn, org_id=org, query="a VAT rate typed into a cell", vector=None, model="none", dim=384,
            k=5, pool=40, min_similarity=0.0, mode="text",
        ).fetchall()  # fmt: skip
    assert [hit.clause for hit in hits] == ["2"]
