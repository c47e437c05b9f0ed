"""Settings from Secrets Manager (moto): database URLs named by a secret, in either form, a
rotated password reaching new connections without a cold start, each secret read only by the
path that uses it, and an unreachable service told apart from a missing secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.handlers
import pytest
from moto import mock_aws
from sheetbrain import aws
from sheetbrain.config import clear_secret_cache, get_settings, reset_settings
from sheetbrain.errors import ConfigurationError, DependencyUnavailableError

from tests.secrets_standin import SecretsManagerFailing

SECRET_SETTINGS = (
    "DATABASE_URL",
    "SYSTEM_DATABASE_URL",
    "DATABASE_SECRET_ARN",
    "SYSTEM_DATABASE_SECRET_ARN",
    "CLERK_WEBHOOK_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "CLERK_WEBHOOK_SECRET_ARN",
    "STRIPE_WEBHOOK_SECRET_ARN",
    "STRIPE_API_KEY_SECRET_ARN",
    "DB_SSLMODE",
    "DB_SSLROOTCERT",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    aws.reset_clients()
    yield
    reset_settings()
    aws.reset_clients()


@pytest.fixture
def secrets(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager")


@pytest.fixture
def secret_reads() -> Iterator[list[str]]:
    """The SecretId of every GetSecretValue call any client made, in order (a hook that botocore
    registers on every session it creates, as moto's own is)."""
    seen: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params["SecretId"])

    hook = ("before-parameter-build.secrets-manager.GetSecretValue", record)
    botocore.handlers.BUILTIN_HANDLERS.append(hook)
    aws.reset_clients()
    yield seen
    botocore.handlers.BUILTIN_HANDLERS.remove(hook)


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
    assert settings.require_database_url(system=True) == "host=db port=5432 user=sys password=p dbname=sb"


def test_a_rotated_password_reaches_new_connections_once_the_cache_expires(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = secrets.create_secret(Name="app", SecretString="postgresql://app:one@db/sheetbrain")["ARN"]
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    settings = get_settings()
    assert settings.require_database_url().endswith(":one@db/sheetbrain")
    # When the secret rotates and Powertools' five-minute cache has expired
    secrets.put_secret_value(SecretId=arn, SecretString="postgresql://app:two@db/sheetbrain")
    clear_secret_cache()
    # Then the same settings (no new container) give the new password
    assert get_settings() is settings
    assert settings.require_database_url().endswith(":two@db/sheetbrain")


def test_no_database_setting_is_a_configuration_error(secrets: Any) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_SECRET_ARN"):
        get_settings().require_database_url()


def _every_secret(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every secret of the stack, each named in the environment: name → ARN."""
    values = {
        "DATABASE_SECRET_ARN": "postgresql://app:pw@db/sheetbrain",
        "SYSTEM_DATABASE_SECRET_ARN": "postgresql://sys:pw@db/sheetbrain",
        "CLERK_WEBHOOK_SECRET_ARN": "whsec_Y2xlcmtjbGVya2NsZXJr",
        "STRIPE_WEBHOOK_SECRET_ARN": json.dumps({"stripe_webhook_secret": "whsec_stripe"}),
        "STRIPE_API_KEY_SECRET_ARN": "sk_test_key",
    }
    arns = {}
    for name, value in values.items():
        arns[name] = secrets.create_secret(Name=name.lower(), SecretString=value)["ARN"]
        monkeypatch.setenv(name, arns[name])
    return arns


def test_settings_read_no_secret_until_a_path_asks_for_one(
    secrets: Any, secret_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment that names every secret of the stack
    _every_secret(secrets, monkeypatch)
    # When the settings are built (as every function does on its first request)
    get_settings()
    # Then no secret has been read
    assert secret_reads == []


def test_the_billing_path_reads_only_the_stripe_api_key_and_only_once(
    secrets: Any, secret_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arns = _every_secret(secrets, monkeypatch)
    settings = get_settings()
    # When the billing path asks for the API key, twice
    first, second = settings.stripe_api_key, settings.stripe_api_key
    # Then one GetSecretValue, of that secret alone
    assert first is not None and second is not None
    assert (first.get_secret_value(), second.get_secret_value()) == ("sk_test_key", "sk_test_key")
    assert secret_reads == [arns["STRIPE_API_KEY_SECRET_ARN"]]


def test_the_webhook_paths_read_only_the_signing_secrets(
    secrets: Any, secret_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arns = _every_secret(secrets, monkeypatch)
    settings = get_settings()
    clerk, stripe = settings.clerk_webhook_secret, settings.stripe_webhook_secret
    # A plain secret and a JSON object holding the value under its name read alike
    assert clerk is not None and clerk.get_secret_value() == "whsec_Y2xlcmtjbGVya2NsZXJr"
    assert stripe is not None and stripe.get_secret_value() == "whsec_stripe"
    assert secret_reads == [arns["CLERK_WEBHOOK_SECRET_ARN"], arns["STRIPE_WEBHOOK_SECRET_ARN"]]


def test_a_value_in_the_environment_is_used_without_reading_any_secret(
    secrets: Any, secret_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _every_secret(secrets, monkeypatch)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_local")
    api_key = get_settings().stripe_api_key
    assert api_key is not None and api_key.get_secret_value() == "sk_test_local"
    assert secret_reads == []


def test_a_missing_or_malformed_secret_is_a_configuration_error(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret that does not exist (deleted, or a wrong ARN in the stack)
    monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf")
    with pytest.raises(ConfigurationError, match="gone-AbCdEf"):
        _ = get_settings().stripe_api_key
    # A JSON object without the value under its name
    wrong = secrets.create_secret(Name="wrong", SecretString=json.dumps({"api_key": "sk_test"}))["ARN"]
    monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", wrong)
    reset_settings()
    with pytest.raises(ConfigurationError, match="without a 'stripe_api_key' string"):
        _ = get_settings().stripe_api_key
    # A database secret that is JSON but neither {"url"} nor RDS fields
    odd = secrets.create_secret(Name="odd", SecretString=json.dumps({"host": "db"}))["ARN"]
    monkeypatch.setenv("DATABASE_SECRET_ARN", odd)
    reset_settings()
    with pytest.raises(ConfigurationError, match="lacks 'url' or the RDS fields"):
        get_settings().require_database_url()


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-api-key-AbCdEf"


def test_secrets_manager_unreachable_is_a_dependency_outage(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Secrets Manager's endpoint at an address where nothing listens
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", ARN)
    # When the billing path asks for its key
    with pytest.raises(DependencyUnavailableError) as raised:
        _ = get_settings().stripe_api_key
    # Then it is a 503 whose message says what is down, not which secret
    assert (raised.value.status, raised.value.code) == (503, "dependency_unavailable")
    assert ARN not in raised.value.message


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "ThrottlingException"), (500, "InternalServiceError"), (503, "ServiceUnavailable")],
)
def test_secrets_manager_throttling_or_failing_is_a_dependency_outage(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, status: int, error_type: str
) -> None:
    # Given Secrets Manager answering every call with the error
    standin = SecretsManagerFailing(status, error_type).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", standin.url)
        monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", ARN)
        # Then the layer retries once, and then reports an outage
        with pytest.raises(DependencyUnavailableError):
            _ = get_settings().stripe_api_key
        assert standin.calls == 2
    finally:
        standin.shutdown()
        standin.server_close()


def test_a_secret_refused_by_the_service_is_a_configuration_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Secrets Manager refusing the role (a policy that does not name the secret)
    standin = SecretsManagerFailing(400, "AccessDeniedException").start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", standin.url)
        monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", ARN)
        # Then it is the operator's to fix, not retried
        with pytest.raises(ConfigurationError, match="AccessDeniedException"):
            _ = get_settings().stripe_api_key
        assert standin.calls == 1
    finally:
        standin.shutdown()
        standin.server_close()
