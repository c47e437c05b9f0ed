"""Retrieval's citations are remembered per org until its policies change (sql/0012)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from sheetbrain.auditing import citations
from sheetbrain.db import policies_repo, system_transaction
from sheetbrain_dev.database import DatabaseUrls

from tests.support import SettingsEnv, call, claims_for

DIVISION = "# Arithmetic\n\n1. A formula must never divide by zero or by an empty cell."
DIVISORS = "# Divisors\n\n1. Every divisor must be checked before a formula divides by it."


@pytest.fixture
def searches(database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The queries of each retrieval the audits run (on the test database)."""
    seen: list[list[str]] = []
    real = citations.policies.retrieve

    def counted(identity: Any, queries: Sequence[str], **options: Any) -> Any:
        if queries:
            seen.append(list(queries))
        return real(identity, queries, **options)

    monkeypatch.setattr(citations.policies, "retrieve", counted)
    return seen


def new_org(policy: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    claims = claims_for(f"user_cc{suffix}", f"org_cc{suffix}", "org:admin")
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Arithmetic", "content": policy}).status == 201
    return claims


def cited(claims: dict[str, str], **extra: Any) -> dict[str, Any] | None:
    """The citation of the division-by-zero finding of a one-formula audit."""
    reply = call("POST", "/api/audit", claims=claims, body={"formulas": ["=B2/0"], **extra})
    assert reply.status == 200, reply.json()
    [finding] = [f for f in reply.json()["findings"] if f["rule"] == "FX14"]
    policy: dict[str, Any] | None = finding["policy"]
    return policy


def test_a_check_is_searched_once_until_the_orgs_policies_change(searches: list[list[str]]) -> None:
    # Given an org with a policy on division
    claims = new_org(DIVISION)
    # When it audits twice, Then only the first audit searches, and both cite the same clause
    first = cited(claims)
    assert first is not None and first["match"] == "retrieval"
    assert cited(claims) == first and len(searches) == 1
    # When a second policy is added, Then the next audit searches again, once
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Divisors", "content": DIVISORS}).status == 201
    cited(claims)
    cited(claims)
    assert len(searches) == 2
    # When the first policy is deleted, Then the next audit searches again and never cites it
    assert call("DELETE", f"/api/policies/{first['policy_id']}", claims=claims).status == 204
    after = cited(claims)
    assert len(searches) == 3 and (after is None or after["policy_id"] != first["policy_id"])


def test_another_orgs_remembered_citations_are_not_used(searches: list[list[str]]) -> None:
    one, other = new_org(DIVISION), new_org(DIVISION)
    first, second = cited(one), cited(other)
    assert len(searches) == 2
    assert first is not None and second is not None and first["policy_id"] != second["policy_id"]


def test_a_changed_search_setting_searches_again(searches: list[list[str]], settings_env: SettingsEnv) -> None:
    claims = new_org(DIVISION)
    cited(claims)
    # A citation remembered under another similarity floor is not used, and the new answer is
    settings_env(RETRIEVAL_MIN_SIMILARITY="0.9")
    cited(claims)
    cited(claims)
    assert len(searches) == 2


def test_nothing_close_enough_is_remembered_too(searches: list[list[str]]) -> None:
    claims = new_org("# Travel\n\n1. Economy class for flights under six hours.")
    assert cited(claims) is None
    assert cited(claims) is None and len(searches) == 1


def test_audits_citing_chosen_policies_neither_use_nor_fill_the_memory(
    searches: list[list[str]], database: DatabaseUrls
) -> None:
    claims = new_org(DIVISION)
    [policy] = call("GET", "/api/policies", claims=claims).json()["policies"]
    cited(claims, policy_ids=[policy["id"]])
    cited(claims, policy_ids=[policy["id"]])
    assert len(searches) == 2
    with psycopg.connect(database.owner) as conn:
        row = conn.execute("SELECT count(*) FROM policy_citations WHERE org_id = %s", (claims["org_id"],)).fetchone()
    assert row == (0,)


def remembered_rows(owner_url: str, org_id: str) -> int:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM policy_citations WHERE org_id = %s", (org_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_reembedding_is_a_new_corpus_version(database: DatabaseUrls) -> None:
    # Given an org that audited (so it remembers a citation)
    claims = new_org(DIVISION)
    org_id = claims["org_id"]
    cited(claims)
    assert remembered_rows(database.owner, org_id) == 1
    with psycopg.connect(database.owner) as conn:
        before = conn.execute("SELECT version FROM policy_corpus WHERE org_id = %s", (org_id,)).fetchone()
        chunk = conn.execute("SELECT id, embedding_dim FROM policy_chunks WHERE org_id = %s", (org_id,)).fetchone()
    assert before is not None and chunk is not None
    # When the re-embedding task's login stores a new vector for its chunk
    with system_transaction() as conn:
        vectors = [(chunk[0], [0.1] * chunk[1])]
        assert policies_repo.set_embeddings(conn, model="other-model", dim=chunk[1], vectors=vectors) == 1
    # Then the corpus has a new version and nothing of the old one is remembered
    with psycopg.connect(database.owner) as conn:
        after = conn.execute("SELECT version FROM policy_corpus WHERE org_id = %s", (org_id,)).fetchone()
    assert after == (before[0] + 1,) and remembered_rows(database.owner, org_id) == 0


def test_a_deleted_policys_text_is_not_kept_in_the_memory(database: DatabaseUrls) -> None:
    claims = new_org(DIVISION)
    first = cited(claims)
    assert first is not None and remembered_rows(database.owner, claims["org_id"]) == 1
    assert call("DELETE", f"/api/policies/{first['policy_id']}", claims=claims).status == 204
    assert remembered_rows(database.owner, claims["org_id"]) == 0


def test_answers_found_at_a_version_no_longer_current_are_not_written(database: DatabaseUrls) -> None:
    claims = new_org(DIVISION)
    org_id = claims["org_id"]
    answer = {"policy_id": str(uuid.uuid4()), "title": "T", "clause": "1", "excerpt": "e", "score": 0.5,
              "match": "retrieval"}  # fmt: skip
    with psycopg.connect(database.owner) as conn:
        row = conn.execute("SELECT version FROM policy_corpus WHERE org_id = %s", (org_id,)).fetchone()
        assert row is not None
        version = int(row[0])
        # An audit that read the current version remembers its answer
        policies_repo.remember_citations(conn, org_id, version, [("FX14", "key", answer)])
        assert policies_repo.citation_cache(conn, org_id).result() == policies_repo.CitationCache(
            version, {"FX14": ("key", answer)}
        )
        # The corpus changes (a policy added, say): what was remembered goes
        conn.execute("SELECT policy_corpus_changed(ARRAY[%s])", (org_id,))
        assert conn.execute("SELECT count(*) FROM policy_citations WHERE org_id = %s", (org_id,)).fetchone() == (0,)
        # An audit that read the version before (its searches ran during the change) writes nothing
        policies_repo.remember_citations(conn, org_id, version, [("FX14", "key", answer)])
        assert conn.execute("SELECT count(*) FROM policy_citations WHERE org_id = %s", (org_id,)).fetchone() == (0,)
        assert policies_repo.citation_cache(conn, org_id).result() == policies_repo.CitationCache(version + 1, {})
