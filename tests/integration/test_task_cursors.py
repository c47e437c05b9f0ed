"""A scheduled task's scan goes on where the previous run stopped, and wraps around (sql/0013)."""

import uuid
from typing import Any

import psycopg
import pytest
from sheetbrain.maintenance.batches import Scan
from sheetbrain.maintenance.tasks import run_task
from sheetbrain_dev.database import DatabaseUrls

KEYS = [f"org_{c}" for c in "abcdefghij"]


def fetch_from(keys: list[Any], page: int = 3) -> Any:
    return lambda after: [k for k in keys if k > after][:page]


def run(task: str, budget: int, keys: list[Any] = KEYS, origin: Any = "") -> list[Any]:
    """One run that has time for ``budget`` keys; the keys it did, in order."""
    scan = Scan(task, origin=origin)
    seen: list[Any] = []
    while len(seen) < budget:
        page = scan.page(fetch_from(keys))
        if not page:
            break
        for key in page:
            seen.append(key)
            scan.done(key)
            if len(seen) == budget:
                break
    scan.save()
    return seen


def test_runs_cut_short_go_on_where_the_last_stopped_and_each_pass_covers_every_key(database: DatabaseUrls) -> None:
    task = f"test-{uuid.uuid4().hex[:8]}"
    # A first run with time for four keys, then one with time for all
    assert run(task, 4) == KEYS[:4]
    # The next starts after the fourth, reaches the end, wraps around and ends at the fourth
    assert run(task, 100) == KEYS[4:] + KEYS[:4]
    # A whole pass leaves the cursor at the start
    assert run(task, 100) == KEYS


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


def test_a_whole_rollup_pass_leaves_its_cursor_at_the_start(database: DatabaseUrls) -> None:
    run_task("rollup")
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT position FROM task_cursors WHERE task = 'rollup'").fetchone() == ("",)


def test_the_api_login_cannot_touch_task_cursors(database: DatabaseUrls) -> None:
    with psycopg.connect(database.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM task_cursors")
