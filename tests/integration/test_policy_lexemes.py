"""Lexeme statistics follow policies in and out, so common words can be left out of searches."""

from __future__ import annotations

import uuid

import psycopg
from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for


def stats(owner: str, org: str, lexeme: str) -> tuple[int | None, int | None]:
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            """SELECT (SELECT chunks FROM policy_lexemes WHERE org_id = %s AND lexeme = %s),
                      (SELECT chunks FROM policy_corpus WHERE org_id = %s)""",
            (org, lexeme, org),
        ).fetchone()
    assert row is not None
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
