"""Server errors through a real handler: Secrets Manager down is a 503, a missing secret a 500,
and neither body carries configuration text (a setting's name, a secret's ARN); the log does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import Reply, SettingsEnv, call

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-webhook-AbCdEf"


@pytest.fixture
def no_stripe_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_ARN", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def secrets(no_stripe_secret: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


def deliver() -> Reply:
    body = b'{"id": "evt_1", "type": "invoice.paid"}'
    headers = {"content-type": "application/json", "stripe-signature": "t=1,v1=00"}
    return call("POST", "/api/webhooks/stripe", raw_body=body, headers=headers)


def assert_opaque(reply: Reply, status: int, code: str, message: str) -> None:
    error = reply.json()["error"]
    assert (reply.status, error["code"], error["message"]) == (status, code, message)
    assert error["details"] == {"request_id": reply.header("X-Request-Id")}
    assert reply.header("X-Request-Id")


def logged(caplog: pytest.LogCaptureFixture, key: str) -> list[Any]:
    """The values of ``key`` among the layer's structured log records."""
    return [record.__dict__[key] for record in caplog.records if key in record.__dict__]


def test_secrets_manager_unreachable_answers_503_without_the_secret(
    no_stripe_secret: None, settings_env: SettingsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the webhook function's signing secret behind an endpoint where nothing listens
    settings_env(STRIPE_WEBHOOK_SECRET_ARN=ARN, AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:9")
    # When Stripe delivers an event
    reply = deliver()
    # Then a 503 that Stripe retries, which names no secret
    assert_opaque(
        reply, 503, "dependency_unavailable", "A service this request depends on is unavailable; try again shortly."
    )
    assert "secretsmanager" not in reply.body.decode()
    # and the log says which secret could not be read
    assert logged(caplog, "secret") == [ARN]


def test_a_missing_secret_answers_500_without_its_arn(
    secrets: Any, settings_env: SettingsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a stack parameter naming a secret that does not exist
    settings_env(STRIPE_WEBHOOK_SECRET_ARN=ARN)
    reply = deliver()
    # Then a 500 whose body has neither the ARN nor the service's words, only the request id
    assert_opaque(reply, 500, "configuration_error", "An unexpected error occurred.")
    assert "arn:" not in reply.body.decode() and "ResourceNotFound" not in reply.body.decode()
    # and the log carries what the body does not
    assert logged(caplog, "reason") == [
        f"Secret {ARN} could not be read: An error occurred (ResourceNotFoundException) when calling the "
        "GetSecretValue operation: Secrets Manager can't find the specified secret."
    ]


def test_an_unset_secret_answers_500_without_the_setting_name(
    no_stripe_secret: None, settings_env: SettingsEnv
) -> None:
    settings_env()
    reply = deliver()
    assert_opaque(reply, 500, "configuration_error", "An unexpected error occurred.")
    assert "STRIPE_WEBHOOK_SECRET" not in reply.body.decode()
