"""A scheduled task's scan goes on where the previous run stopped, and wraps around (sql/0013)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sheetbrain.db import maintenance_repo, system_transaction
from sheetbrain.errors import SheetBrainError
from sheetbrain.maintenance.batches import Scan
from sheetbrain.maintenance.tasks import run_task
from sheetbrain_dev.database import DatabaseUrls

from tests.maintenance_support import consume, new_org

KEYS = [f"org_{c}" for c in "abcdefghij"]


def fetch_from(keys: list[Any], page: int = 3) -> Any:
    """Keys after ``after`` (and up to ``until``), as the tasks' queries return them."""
    return lambda after, until: [k for k in keys if k > after and (until is None or k <= until)][:page]


def run(task: str, budget: int, keys: list[Any] = KEYS, origin: Any = "", fail_at: Any = None) -> list[Any]:
    """One run that has time for ``budget`` keys (and raises on ``fail_at``); the keys it did."""
    scan = Scan(task, origin=origin)
    seen: list[Any] = []
    while len(seen) < budget:
        page = scan.page(fetch_from(keys))
        if not page:
            break
        for key in page:
            if key == fail_at:
                raise RuntimeError("the run fails here")
            with system_transaction() as conn:
                scan.done(conn, key)
            seen.append(key)
            if len(seen) == budget:
                break
    scan.finish()
    return seen


def cursor(owner_url: str, task: str) -> Any:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SELECT position FROM task_cursors WHERE task = %s", (task,)).fetchone()
    return row[0] if row else None


def test_runs_cut_short_go_on_where_the_last_stopped_and_each_pass_covers_every_key(database: DatabaseUrls) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    # A first run with time for four keys, then one with time for all
    assert run(task, 4) == KEYS[:4]
    # The next starts after the fourth, reaches the end, wraps around and ends at the fourth
    assert run(task, 100) == KEYS[4:] + KEYS[:4]
    # A whole pass leaves the cursor at the start
    assert run(task, 100) == KEYS


def test_a_run_that_fails_keeps_the_progress_it_made(database: DatabaseUrls) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError):
        run(task, 100, fail_at="org_f")
    assert cursor(database.owner, task) == "org_e"
    assert run(task, 100) == KEYS[5:] + KEYS[:5]


def test_keys_gone_or_added_between_runs_are_walked_in_order(database: DatabaseUrls) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    assert run(task, 2) == KEYS[:2]
    # org_b (where the cursor stands) is deleted and org_aa is added before it
    keys = sorted([k for k in KEYS if k != "org_b"] + ["org_aa"])
    assert run(task, 100, keys) == [*KEYS[2:], "org_a", "org_aa"]


def test_pairs_of_keys_resume_too(database: DatabaseUrls) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    pairs = [(org, feature) for org in KEYS[:3] for feature in ("ai", "audits")]
    assert run(task, 3, pairs, origin=("", "")) == pairs[:3]
    assert run(task, 100, pairs, origin=("", "")) == pairs[3:] + pairs[:3]


@pytest.mark.parametrize(("stored", "origin"), [(["org_a", "ai"], ""), ("org_c", ("", "")), (["org_a"], ("", ""))])
def test_a_cursor_of_another_shape_is_ignored(database: DatabaseUrls, stored: Any, origin: Any) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    with system_transaction() as conn:
        maintenance_repo.save_task_cursor(conn, task, stored)
    keys = KEYS if origin == "" else [(k, "ai") for k in KEYS]
    assert run(task, 100, keys, origin=origin) == keys


def test_a_rollup_pass_resumes_past_an_org_that_fails_and_ends_at_the_start(
    database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two orgs with usage, and the aggregates of the first failing to be checked
    orgs = sorted(new_org(database.owner, prefix="org_rollcur") for _ in range(2))
    for org, user in orgs:
        consume(database.owner, org, user, "audits", 1, datetime.now(UTC))
    real = maintenance_repo.correct_daily

    def failing(conn: psycopg.Connection, *, org_id: str, **period: Any) -> Any:
        if org_id == orgs[0][0]:
            raise SheetBrainError("Internal database error.")
        return real(conn, org_id=org_id, **period)

    monkeypatch.setattr(maintenance_repo, "correct_daily", failing)
    # When the rollup runs, Then the failure is reported, the other org is still checked, and
    # the whole pass leaves the cursor at the start
    summary = run_task("rollup")
    assert orgs[0][0] in summary["failed"] and orgs[1][0] not in summary["failed"]
    assert summary["orgs"] >= 1 and cursor(database.owner, "rollup") == ""


def test_the_api_login_cannot_touch_task_cursors(database: DatabaseUrls) -> None:
    with psycopg.connect(database.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM task_cursors")
