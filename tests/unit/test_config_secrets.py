"""Settings from Secrets Manager (moto): database URLs named by a secret, in either form, and a
rotated password reaching new connections without a cold start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from sheetbrain.config import get_settings, reset_settings
from sheetbrain.errors import ConfigurationError


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("DATABASE_URL", "SYSTEM_DATABASE_URL", "DATABASE_SECRET_ARN", "SYSTEM_DATABASE_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        parameters.clear_caches()
        reset_settings()
        yield boto3.client("secretsmanager")
    parameters.clear_caches()
    reset_settings()


def test_a_plain_secret_and_an_rds_secret_both_give_a_url(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = secrets.create_secret(Name="app", SecretString="postgresql://app:one@db/sheetbrain")["ARN"]
    rds = secrets.create_secret(
        Name="system",
        SecretString=json.dumps({"host": "db", "port": 5432, "username": "sys", "password": "p", "dbname": "sb"}),
    )["ARN"]
    monkeypatch.setenv("DATABASE_SECRET_ARN", plain)
    monkeypatch.setenv("SYSTEM_DATABASE_SECRET_ARN", rds)
    settings = get_settings()
    assert settings.require_database_url() == "postgresql://app:one@db/sheetbrain"
    system = settings.require_database_url(system=True)
    assert "user=sys" in system and "host=db" in system and "sslmode=require" in system


def test_a_rotated_password_reaches_new_connections_once_the_cache_expires(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = secrets.create_secret(Name="app", SecretString="postgresql://app:one@db/sheetbrain")["ARN"]
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    settings = get_settings()
    assert settings.require_database_url().endswith(":one@db/sheetbrain")
    # When the secret rotates and Powertools' five-minute cache has expired
    secrets.put_secret_value(SecretId=arn, SecretString="postgresql://app:two@db/sheetbrain")
    parameters.clear_caches()
    # Then the same settings (no new container) give the new password
    assert get_settings() is settings
    assert settings.require_database_url().endswith(":two@db/sheetbrain")


def test_no_database_setting_is_a_configuration_error(secrets: Any) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_SECRET_ARN"):
        get_settings().require_database_url()
