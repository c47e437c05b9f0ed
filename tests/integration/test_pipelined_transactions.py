"""tenant_transaction(pipelined=True): statements queue until a result is read or the COMMIT,
and every way out other than success leaves nothing behind and the pooled connection clean."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sheetbrain.db import tenant_transaction
from sheetbrain.errors import SheetBrainError
from sheetbrain_dev.database import DatabaseUrls

INSERT = "INSERT INTO usage_thresholds (org_id, feature, percents) VALUES (%s, %s, '{10}')"


@pytest.fixture
def org(database: DatabaseUrls) -> str:
    org_id = f"org_pipe{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database.owner, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Pipelined')", (org_id,))
    return org_id


def _features(org_id: str) -> list[str]:
    with tenant_transaction(org_id) as conn:
        rows = conn.execute("SELECT feature FROM usage_thresholds WHERE org_id = %s ORDER BY feature", (org_id,))
        return [row[0] for row in rows.fetchall()]


def test_queued_statements_commit_with_the_transaction(org: str) -> None:
    with tenant_transaction(org, pipelined=True) as conn:
        conn.execute(INSERT, (org, "a"))
        read = conn.execute("SELECT count(*) FROM usage_thresholds WHERE org_id = %s", (org,))
        assert read.fetchone() == (1,)  # the read sends the queued insert before it
        conn.execute(INSERT, (org, "b"))  # sent with the COMMIT
    assert _features(org) == ["a", "b"]


def _queue_then_fail(org: str) -> None:
    with tenant_transaction(org, pipelined=True) as conn:
        conn.execute(INSERT, (org, "a"))
        raise RuntimeError("the body failed")


def _queue_a_failing_statement(org: str) -> None:
    with tenant_transaction(org, pipelined=True) as conn:
        conn.execute(INSERT, (org, "a"))
        conn.execute("SELECT * FROM no_such_table")  # its error arrives with the COMMIT


def test_an_error_in_the_body_rolls_back_what_was_queued(org: str) -> None:
    with pytest.raises(RuntimeError):
        _queue_then_fail(org)
    assert _features(org) == []


def test_a_failing_statement_never_read_fails_the_commit_and_rolls_back(org: str) -> None:
    with pytest.raises(SheetBrainError):
        _queue_a_failing_statement(org)
    assert _features(org) == []
    with tenant_transaction(org, pipelined=True) as conn:  # the pooled connection is usable
        conn.execute(INSERT, (org, "c"))
    assert _features(org) == ["c"]


def test_the_org_scope_holds_in_pipelined_transactions(org: str) -> None:
    with tenant_transaction(org, pipelined=True) as conn:
        conn.execute(INSERT, (org, "a"))
    with tenant_transaction(f"org_other{uuid.uuid4().hex[:6]}", pipelined=True) as conn:
        seen = conn.execute("SELECT count(*) FROM usage_thresholds WHERE org_id = %s", (org,)).fetchone()
    assert seen == (0,)
