"""SnapStart: the hooks every API function registers run where Lambda runs them, and matter:
a connection opened before the snapshot is closed and a restored environment opens its own; a
restored environment draws random numbers of its own; a secret fetched before the snapshot is
fetched again after the restore."""

from __future__ import annotations

import importlib
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from sheetbrain import aws, snapstart
from sheetbrain.config import get_settings, reset_settings
from sheetbrain.db import connection
from sheetbrain_dev import lambda_runtime
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.snapstart import run_after_restore, run_before_snapshot
from sheetbrain_dev.template import load_template
from snapshot_restore_py import get_after_restore, get_before_snapshot

from tests.support import SettingsEnv

API_FUNCTIONS = ("AuditFunction", "IngestFunction", "BillingFunction", "WebhookFunction")


def _backend_pid() -> int:
    with connection.single_statement() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _backend_alive(owner_url: str, pid: int) -> bool:
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return bool(row and row[0])


def _gone_within(owner_url: str, pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _backend_alive(owner_url, pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_each_api_function_registers_the_hooks_once() -> None:
    # Given each HTTP API function's handler module, imported as Lambda's init imports it
    functions = load_template().functions
    for name in API_FUNCTIONS:
        lambda_runtime.load_module(functions[name])
    # Then the runtime finds exactly our two hooks, once each, however many modules called prepare
    before = [func for func, _, _ in get_before_snapshot()]
    after = [func for func, _, _ in get_after_restore()]
    assert before.count(snapstart.before_snapshot) == 1
    assert after.count(snapstart.after_restore) == 1


def test_the_connection_of_init_is_closed_before_the_snapshot_and_a_restore_opens_its_own(
    database: DatabaseUrls,
) -> None:
    snapstart.register_hooks()
    # Given an environment whose init left a pooled connection open
    pid_before = _backend_pid()
    assert _backend_alive(database.owner, pid_before)
    # When Lambda runs the before-snapshot hooks
    run_before_snapshot()
    # Then no pool is left and the server has seen that connection end
    assert connection._pools == {}
    assert _gone_within(database.owner, pid_before, seconds=5)
    # When an environment is restored and serves a request
    run_after_restore()
    pid_after = _backend_pid()
    # Then it runs on a connection of its own
    assert pid_after != pid_before
    assert _backend_alive(database.owner, pid_after)


def test_each_restored_environment_draws_its_own_random_numbers() -> None:
    snapstart.register_hooks()
    # Given the generator's state as the snapshot holds it
    random.seed(20261202)
    snapshot = random.getstate()
    # Without the hooks, two environments restored from it draw the same numbers
    random.setstate(snapshot)
    first_unhooked = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    second_unhooked = [random.random() for _ in range(4)]
    assert first_unhooked == second_unhooked
    # When two environments are restored from it, each running the after-restore hooks
    random.setstate(snapshot)
    run_after_restore()
    first = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    run_after_restore()
    second = [random.random() for _ in range(4)]
    # Then each draws its own sequence, and neither is the snapshot's
    assert first != second
    assert first_unhooked not in (first, second)


@pytest.fixture
def secrets(settings_env: SettingsEnv) -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        reset_settings()
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        yield client
        aws.reset_clients()
        reset_settings()


def test_a_secret_fetched_before_the_snapshot_is_fetched_again_after_the_restore(
    secrets: Any, settings_env: SettingsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapstart.register_hooks()
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    # Given Stripe's API key read from its secret before the snapshot
    arn = secrets.create_secret(Name="stripe-api-key", SecretString="sk_test_before")["ARN"]
    settings_env(STRIPE_API_KEY_SECRET_ARN=arn)
    key = get_settings().stripe_api_key
    assert key is not None and key.get_secret_value() == "sk_test_before"
    # And the secret rotated while the snapshot sat in the cache
    secrets.put_secret_value(SecretId=arn, SecretString="sk_test_after")
    cached = get_settings().stripe_api_key
    assert cached is not None and cached.get_secret_value() == "sk_test_before"  # Powertools' five minutes
    # When an environment is restored from the snapshot
    run_before_snapshot()
    run_after_restore()
    # Then it reads the secret as it is now
    fresh = get_settings().stripe_api_key
    assert fresh is not None and fresh.get_secret_value() == "sk_test_after"


def test_a_primed_init_loads_what_the_first_request_needs_without_a_connection(
    database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no pool, and an init Lambda will snapshot
    connection.close_pool()
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    # When the audit function's init prepares
    primed = snapstart.prepare(modules=("sheetbrain.engine",))
    # Then it primed, the engine is loaded, and no connection was opened
    assert primed is True
    assert "sheetbrain.engine.engine" in sys.modules
    assert connection._pools == {}


def test_an_on_demand_init_does_no_more_than_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an ordinary cold start
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    # When init prepares, naming a module nothing has imported
    primed = snapstart.prepare(modules=("sheetbrain.policies.clause_map",))
    # Then it registers the hooks only
    assert primed is False


def test_every_release_names_a_function_of_its_module() -> None:
    for module_name, function_name in snapstart.RELEASES:
        assert callable(getattr(importlib.import_module(module_name), function_name)), module_name
