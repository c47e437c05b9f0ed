"""The one settings model: read from the environment once per container, validated, cached.

Locally every value comes from environment variables. In AWS the template passes the *names*
of secrets (``DATABASE_SECRET_ARN``...), and their values are fetched through Powertools
parameters (Secrets Manager, cached) the first time ``get_settings()`` runs, never at import.
"""

import functools
import json
import os
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from sheetbrain.errors import ConfigurationError

VERSION = "0.1.0"


class Settings(BaseModel):
    """Runtime configuration. Each field is read from the upper-case environment variable of
    its name (a plain model over ``os.environ``: pydantic-settings cost 0.1 s of cold start)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    environment: Literal["local", "test", "aws"] = "local"
    service_name: str = Field(
        default="sheetbrain", validation_alias=AliasChoices("powertools_service_name", "service_name")
    )

    @property
    def version(self) -> str:
        return VERSION

    # Database: either a URL (local) or the ARN of a Secrets Manager secret holding it (AWS).
    database_url: SecretStr | None = None
    database_secret_arn: str | None = None
    # The system login (a member of sheetbrain_system) for work that crosses organizations:
    # webhook sync and maintenance. Only the webhook and cleanup functions are given one.
    system_database_url: SecretStr | None = None
    system_database_secret_arn: str | None = None
    db_pool_min_size: int = Field(default=0, ge=0)
    db_pool_max_size: int = Field(default=4, ge=1)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, gt=0)

    # Provider secrets: optional here, demanded by the code paths that need them.
    clerk_webhook_secret: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    provider_secrets_arn: str | None = None

    # Only for a local stand-in of Stripe's API (tests, offline development).
    stripe_api_base: str | None = None

    stripe_price_pro: str | None = None
    stripe_price_business: str | None = None
    stripe_price_enterprise: str | None = None

    max_body_bytes: int = Field(default=6 * 1024 * 1024, gt=0)

    # Policies: which embedder ("local-minilm" offline, "bedrock-titan-v2" in AWS), sizes.
    embedder: str = "local-minilm"
    max_policy_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    policy_chunk_chars: int = Field(default=1000, ge=200)
    policy_chunk_overlap: int = Field(default=150, ge=0)
    retrieval_min_similarity: float = Field(default=0.3, ge=-1, le=1)

    # Maintenance: the S3 bucket of audit-log archives (the stack's ArchiveBucket), the event
    # bus of notifications, how long a soft-deleted organization's data is kept, how far back
    # closed usage periods are re-checked, and how long one task run may keep starting batches
    # (under the function's 300 s timeout; the next run continues).
    archive_bucket: str | None = None
    notifications_event_bus: str = "default"
    # Send threshold events right after the audit that crossed them (AWS); otherwise the
    # alerts task sends what is pending.
    notify_inline: bool = False
    purge_grace_days: int = Field(default=30, ge=0)
    rollup_lookback_days: int = Field(default=35, ge=1)
    task_time_budget_s: float = Field(default=240.0, gt=0)

    # Optional AI review (also needs the plan's ai_review flag).
    ai_review_enabled: bool = False
    bedrock_model_id: str = "anthropic.claude-3-5-haiku-20241022-v1:0"
    ai_review_timeout_s: float = Field(default=20.0, gt=0)
    ai_review_max_tokens: int = Field(default=1500, gt=0)
    # The prompt's cap, counted as an upper bound of its tokens (its UTF-8 bytes plus framing):
    # the most severe findings that fit are reviewed, the rest summarised.
    ai_review_max_input_tokens: int = Field(default=20_000, ge=2_000)
    # Time kept back from the function's remaining time to record the audit after the review.
    ai_review_record_margin_s: float = Field(default=3.0, ge=0)

    # Web push of threshold notifications: the VAPID key (base64url raw P-256 scalar or PEM) and
    # its contact (mailto:), or in AWS a secret holding both (vapid_private_key, vapid_subject).
    vapid_private_key: SecretStr | None = None
    vapid_subject: str | None = None
    vapid_secret_arn: str | None = None
    # Push services endpoints may point at: comma-separated hosts, "*.domain" for its subdomains
    # (default: sheetbrain.notifications.endpoints.DEFAULT_PUSH_HOSTS).
    webpush_allowed_hosts: str | None = None
    # Local testing only: also allow http://127.0.0.1 endpoints. Refused in AWS.
    webpush_allow_http: bool = False
    webpush_ttl_s: int = Field(default=86_400, ge=0, le=28 * 86_400)

    @model_validator(mode="after")
    def _no_plain_http_push_in_aws(self) -> "Settings":
        if self.webpush_allow_http and self.environment == "aws":
            raise ValueError("WEBPUSH_ALLOW_HTTP is for local testing and is refused when ENVIRONMENT=aws")
        return self

    def require_vapid(self) -> tuple[str, str]:
        """The VAPID private key and subject, from the environment or the secret named by
        ``vapid_secret_arn`` (Powertools' cache); a ConfigurationError names what is missing."""
        key = self.vapid_private_key.get_secret_value() if self.vapid_private_key else None
        subject = self.vapid_subject
        if (key is None or subject is None) and self.vapid_secret_arn:
            values = _read_secret_json(self.vapid_secret_arn)
            key = key or (str(values["vapid_private_key"]) if values.get("vapid_private_key") else None)
            subject = subject or (str(values["vapid_subject"]) if values.get("vapid_subject") else None)
        if not key or not subject:
            raise ConfigurationError(
                "Web push needs VAPID_PRIVATE_KEY and VAPID_SUBJECT (local) or VAPID_SECRET_ARN (AWS)."
            )
        if not subject.startswith("mailto:") or "@" not in subject:
            raise ConfigurationError("VAPID_SUBJECT must be a mailto: address.")
        return key, subject

    def require_database_url(self, *, system: bool = False) -> str:
        """The connection string (the system login's with ``system``), or a ConfigurationError
        naming what is missing. A URL from the environment is used as it is; one named by a
        secret is read through Powertools' cache (five minutes) each time, so the pool's new
        connections pick up a rotated password without a cold start."""
        url, arn = (
            (self.system_database_url, self.system_database_secret_arn)
            if system
            else (self.database_url, self.database_secret_arn)
        )
        if url is not None:
            return url.get_secret_value()
        if arn:
            return _read_secret(arn, "url")
        if system:
            raise ConfigurationError(
                "No system database login configured: set SYSTEM_DATABASE_URL (local) or "
                "SYSTEM_DATABASE_SECRET_ARN (AWS)."
            )
        raise ConfigurationError("No database configured: set DATABASE_URL (local) or DATABASE_SECRET_ARN (AWS).")


def _resolve_secrets(settings: Settings) -> Settings:
    """Fill the provider secrets from Secrets Manager when the environment names them (database
    URLs are read per new connection: ``Settings.require_database_url``)."""
    updates: dict[str, object] = {}
    if settings.provider_secrets_arn:
        values = _read_secret_json(settings.provider_secrets_arn)
        for key in ("clerk_webhook_secret", "stripe_webhook_secret", "stripe_api_key"):
            if getattr(settings, key) is None and values.get(key):
                updates[key] = SecretStr(str(values[key]))
    return settings.model_copy(update=updates) if updates else settings


def _read_secret_json(arn: str) -> dict[str, object]:
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(arn, max_age=300)
    try:
        value = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"Secret {arn} is not a JSON object.") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"Secret {arn} is not a JSON object.")
    return value


def _read_secret(arn: str, key: str) -> str:
    """A secret that is either a plain string or a JSON object holding ``key``.

    RDS-managed secrets are JSON with host/port/username/password/dbname; those are assembled
    into a URL so either form can be named by the stack parameter.
    """
    from aws_lambda_powertools.utilities import parameters

    raw = str(parameters.get_secret(arn, max_age=300))
    if not raw.lstrip().startswith("{"):
        return raw
    value = _read_secret_json(arn)
    if key in value:
        return str(value[key])
    try:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=str(value["host"]),
            port=str(value.get("port", 5432)),
            user=str(value["username"]),
            password=str(value["password"]),
            dbname=str(value.get("dbname", "postgres")),
            sslmode="require",
        )
    except KeyError as exc:
        raise ConfigurationError(f"Secret {arn} lacks '{key}' or the RDS fields ({exc}).") from exc


@functools.cache
def get_settings() -> Settings:
    """Validated settings, built once per container."""
    try:
        env = {key.lower(): value for key, value in os.environ.items()}
        return _resolve_secrets(Settings.model_validate(env))
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid configuration: {exc}") from exc


def reset_settings() -> None:
    """Forget cached settings (tests and the dev server change the environment)."""
    get_settings.cache_clear()
