"""The one settings model: read from the environment once per container, validated, cached.

Locally every value comes from environment variables. In AWS the template passes the *names*
of secrets (``DATABASE_SECRET_ARN``...), and their values are fetched through Powertools
parameters (Secrets Manager, cached) the first time ``get_settings()`` runs, never at import.
"""

import functools
import json
import os
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError

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

    # Asynchronous ingestion (issue 16). POST /api/ingest works inline for at most
    # INGEST_INLINE_BUDGET_S (documents over INGEST_INLINE_MAX_BYTES not at all), then hands the
    # job to the queue: SQS (INGEST_QUEUE_URL) in AWS, the work_queue table locally.
    ingest_inline_budget_s: float = Field(default=1.2, gt=0, le=1.8)
    ingest_inline_max_bytes: int = Field(default=256 * 1024, ge=0)
    ingest_queue_url: str | None = None
    ingest_dead_letter_queue_arn: str | None = None
    # The worker: embedding calls at once, its extraction time budget (the API's stays 1.5 s),
    # how long a job's lease lasts between batches.
    embed_concurrency: int = Field(default=8, ge=1, le=64)
    worker_extract_seconds: float = Field(default=120.0, gt=0, le=600)
    ingest_lease_s: int = Field(default=300, ge=10)
    # Presigned uploads: the bucket (S3, or the local server's stand-in at S3_ENDPOINT_URL with
    # LOCAL_BUCKET_DIR and LOCAL_BUCKET_SECRET), the largest file, how long a URL lasts, and how
    # long after that an upload that never arrived is given up (the cleanup task).
    upload_bucket: str | None = None
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    upload_url_expiry_s: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    upload_abandon_after_s: int = Field(default=3600, ge=0)
    s3_endpoint_url: str | None = None
    local_bucket_dir: str | None = None
    local_bucket_secret: SecretStr | None = None
    # The local queue's stand-in of SQS's redrive policy and visibility timeout.
    ingest_max_receive_count: int = Field(default=5, ge=1)
    local_queue_visibility_s: int = Field(default=5400, ge=0)

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
