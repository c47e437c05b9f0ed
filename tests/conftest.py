"""Shared fixtures: one embedded PostgreSQL database per test session, migrated, with the
application connecting as a role that is neither owner nor superuser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sheetbrain.config import reset_settings
from sheetbrain.db.connection import close_pool
from sheetbrain_dev.database import DatabaseUrls, drop_database, ensure_database

if TYPE_CHECKING:
    from tests.stripe_standin import StripeStandIn
    from tests.support import SettingsEnv


@pytest.fixture(scope="session", autouse=True)
def _test_environment() -> None:
    os.environ.update(
        {
            "ENVIRONMENT": "test",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "SheetBrain",
            "POWERTOOLS_DEV": "false",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )


@pytest.fixture(scope="session")
def database() -> Iterator[DatabaseUrls]:
    """A fresh, migrated database for this session; DATABASE_URL points the layer at it."""
    saved = os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SYSTEM_DATABASE_URL", None)
    urls = ensure_database(f"sheetbrain_test_{os.getpid()}")
    os.environ["DATABASE_URL"] = urls.app
    os.environ["SYSTEM_DATABASE_URL"] = urls.system
    reset_settings()
    close_pool()
    yield urls
    close_pool()
    drop_database(urls.owner)
    if saved is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = saved
    reset_settings()


@pytest.fixture
def settings_env() -> Iterator[SettingsEnv]:
    """``settings_env(NAME="value", ...)`` for this test: see ``tests.support.settings_environment``."""
    from tests.support import settings_environment  # not at import: the unit tests need none of it

    with settings_environment() as apply:
        yield apply


@pytest.fixture
def logged_warnings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The layer's warnings (message, keys), still logged as usual."""
    from sheetbrain.observability import logger

    seen: list[tuple[str, dict[str, Any]]] = []
    warn = logger.warning

    def spy(msg: object, *args: Any, **kwargs: Any) -> None:
        seen.append((str(msg), kwargs))
        warn(msg, *args, **kwargs)

    monkeypatch.setattr(logger, "warning", spy)
    return seen


@pytest.fixture(scope="module")
def standin() -> Iterator[StripeStandIn]:
    """A local stand-in of Stripe's API for the module's tests (tests/stripe_standin.py)."""
    from tests.stripe_standin import StripeStandIn

    server = StripeStandIn().start()
    yield server
    server.shutdown()
    server.server_close()
