"""The one settings model: read from the environment once per container, validated, cached.

Locally every value comes from environment variables. In AWS the template passes the *names*
of secrets (``DATABASE_SECRET_ARN``, ``STRIPE_API_KEY_SECRET_ARN``...), one secret per purpose,
and each is fetched through Powertools parameters (Secrets Manager, cached five minutes) only
when the code path that uses it first asks for it: never at import, never in ``get_settings()``,
and never a secret the running function does not use.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from sheetbrain.errors import ConfigurationError, DependencyUnavailableError
from sheetbrain.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

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
    # The owner login (DDL) of the migration function that runs on deploy; nothing else has it.
    migration_database_url: SecretStr | None = None
    migration_database_secret_arn: str | None = None
    # Where to connect instead of what the URL or secret names: the stack's RDS Proxy (its
    # endpoint, 5432) and the stack's database name. An RDS-managed master secret holds only the
    # username and password, and a login's secret names the database itself, not the proxy.
    database_host: str | None = None
    database_port: int | None = Field(default=None, ge=1, le=65535)
    database_name: str | None = None
    db_pool_min_size: int = Field(default=0, ge=0)
    db_pool_max_size: int = Field(default=4, ge=1)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, gt=0)
    # TLS to the database: libpq's sslmode and sslrootcert, applied to every connection string
    # (``database_conninfo``). In AWS the defaults are verify-full against the system's roots
    # (an RDS Proxy's certificate is publicly trusted); ``rds`` names the RDS CA bundle shipped
    # in the layer (a direct RDS instance). Locally the URL is used as it is unless set.
    db_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    db_sslrootcert: str | None = None

    # Provider secrets: each from its own environment variable locally, or from its own Secrets
    # Manager secret in AWS (``*_SECRET_ARN``), read on first use by the path that needs it: the
    # billing function reads only the API key, the webhook function only the signing secrets,
    # and IAM lets each read only those. Read them through the properties below.
    clerk_webhook_secret_value: SecretStr | None = Field(default=None, validation_alias="clerk_webhook_secret")
    clerk_webhook_secret_arn: str | None = None
    stripe_webhook_secret_value: SecretStr | None = Field(default=None, validation_alias="stripe_webhook_secret")
    stripe_webhook_secret_arn: str | None = None
    stripe_api_key_value: SecretStr | None = Field(default=None, validation_alias="stripe_api_key")
    stripe_api_key_secret_arn: str | None = None

    # Where checkout and portal sessions may send the browser back to: comma-separated origins
    # (scheme://host[:port]), read by ``redirect_origins()`` when a billing route needs them.
    allowed_redirect_origins: str = ""

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
    # Connections the worker writes embedded batches on, side by side and while the next batch
    # is embedded (each batch's vectors go into the HNSW index as it commits). The worker's
    # system pool (DB_POOL_MAX_SIZE) must hold them; 0 writes each batch before embedding the next.
    ingest_write_connections: int = Field(default=2, ge=0, le=8)
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

    @property
    def clerk_webhook_secret(self) -> SecretStr | None:
        """Svix signing secret of the Clerk endpoint (webhook function only)."""
        return _provider_secret(self.clerk_webhook_secret_value, self.clerk_webhook_secret_arn, "clerk_webhook_secret")

    @property
    def stripe_webhook_secret(self) -> SecretStr | None:
        """Stripe's webhook signing secret (webhook function only)."""
        return _provider_secret(
            self.stripe_webhook_secret_value, self.stripe_webhook_secret_arn, "stripe_webhook_secret"
        )

    @property
    def stripe_api_key(self) -> SecretStr | None:
        """Stripe's API key (billing function only)."""
        return _provider_secret(self.stripe_api_key_value, self.stripe_api_key_secret_arn, "stripe_api_key")

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

    # The template declares the local-only variables of `sam local` (env.json, `make sam-env`)
    # empty, since SAM passes on only declared variables: empty is unset, never a value.
    @field_validator(
        "database_url",
        "system_database_url",
        "migration_database_url",
        "clerk_webhook_secret_value",
        "stripe_webhook_secret_value",
        "stripe_api_key_value",
        "vapid_private_key",
        "vapid_subject",
        "database_host",
        "database_port",
        "database_name",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _no_plain_http_push_in_aws(self) -> Settings:
        if self.webpush_allow_http and self.environment == "aws":
            raise ValueError("WEBPUSH_ALLOW_HTTP is for local testing and is refused when ENVIRONMENT=aws")
        return self

    def require_vapid(self) -> tuple[str, str]:
        """The VAPID private key and subject, from the environment or the secret named by
        ``vapid_secret_arn`` (Powertools' cache); a ConfigurationError names what is missing."""
        key = self.vapid_private_key.get_secret_value() if self.vapid_private_key else None
        subject = self.vapid_subject
        if (key is None or subject is None) and self.vapid_secret_arn:
            values = _secret_json(self.vapid_secret_arn, _fetch_secret(self.vapid_secret_arn))
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
        naming what is missing. A URL named by a secret is read through Powertools' cache (five
        minutes) each time, so the pool's new connections pick up a rotated password without a
        cold start. Either way, the TLS settings are applied: ``database_conninfo``."""
        url, arn = (
            (self.system_database_url, self.system_database_secret_arn)
            if system
            else (self.database_url, self.database_secret_arn)
        )
        if url is not None:
            return database_conninfo(url.get_secret_value(), self)
        if arn:
            return database_conninfo(_database_secret(arn, host_configured=bool(self.database_host)), self)
        if system:
            raise ConfigurationError(
                "No system database login configured: set SYSTEM_DATABASE_URL (local) or "
                "SYSTEM_DATABASE_SECRET_ARN (AWS)."
            )
        raise ConfigurationError("No database configured: set DATABASE_URL (local) or DATABASE_SECRET_ARN (AWS).")

    def require_migration_database_url(self) -> str:
        """The owner login's connection string (the migration function's), TLS settings applied."""
        if self.migration_database_url is not None:
            return database_conninfo(self.migration_database_url.get_secret_value(), self)
        if self.migration_database_secret_arn:
            return database_conninfo(
                _database_secret(self.migration_database_secret_arn, host_configured=bool(self.database_host)), self
            )
        raise ConfigurationError(
            "No owner login for migrations: set MIGRATION_DATABASE_URL (local) or MIGRATION_DATABASE_SECRET_ARN (AWS)."
        )

    def tls_settings(self) -> tuple[str | None, str | None]:
        """The sslmode and sslrootcert to apply to database connections (None: leave as is):
        the settings', or in AWS by default verify-full against the system's roots."""
        in_aws = self.environment == "aws"
        mode = self.db_sslmode or ("verify-full" if in_aws else None)
        rootcert = self.db_sslrootcert or ("system" if in_aws and mode in _VERIFYING else None)
        if rootcert == "rds":
            rootcert = str(RDS_CA_BUNDLE)
        return mode, rootcert


_VERIFYING = frozenset({"verify-ca", "verify-full"})
# The RDS CA bundle (all regions' roots), put into the layer by `make rds-ca` before `sam build`
# when the functions connect to an RDS instance directly rather than through an RDS Proxy.
RDS_CA_BUNDLE = Path(__file__).parent / "db" / "certs" / "rds-global-bundle.pem"


def database_conninfo(url: str, settings: Settings) -> str:
    """``url`` (a URL or key=value conninfo) with the TLS settings applied. A Unix-socket host
    (the embedded local server) takes no TLS and is left as it is."""
    mode, rootcert = settings.tls_settings()
    overrides = _endpoint_overrides(settings)
    if mode is None and rootcert is None and not overrides:
        return url
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError:
        # Not chained: libpq's message quotes the string, password included.
        raise ConfigurationError("The database connection string cannot be parsed.") from None
    if overrides:
        params.pop("hostaddr", None)  # the proxy is reached by name: verify-full checks it
        params.update(overrides)
        url = make_conninfo(**{key: str(value) for key, value in params.items() if value is not None})
    host = str(params.get("host") or "")
    if host.startswith("/") or (not host and not params.get("hostaddr")):
        return url  # a Unix socket: libpq ignores TLS there
    if rootcert is not None and rootcert != "system" and not Path(rootcert).is_file():
        raise ConfigurationError(
            f"DB_SSLROOTCERT names {rootcert}, which is not a file"
            + (" (run `make rds-ca` before `sam build`)." if rootcert == str(RDS_CA_BUNDLE) else ".")
        )
    updates: dict[str, Any] = {}
    if mode is not None:
        updates["sslmode"] = mode
    if rootcert is not None:
        updates["sslrootcert"] = rootcert
    return make_conninfo(url, **updates)


def _endpoint_overrides(settings: Settings) -> dict[str, str]:
    overrides: dict[str, str] = {}
    if settings.database_host:
        overrides["host"] = settings.database_host
    if settings.database_port:
        overrides["port"] = str(settings.database_port)
    if settings.database_name:
        overrides["dbname"] = settings.database_name
    return overrides


_SECRETS_CONNECT_TIMEOUT_S = 2
_SECRETS_READ_TIMEOUT_S = 5
_SECRETS_ATTEMPTS = 2  # calls in all: the first and one retry (aws.client counts the first)
# Error codes by which AWS says "slow down": the call may succeed later.
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


@functools.cache
def _secrets_provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider over a client with short timeouts and one retry:
    an unreachable service is answered with a 503 within seconds, not after boto3's minute."""
    from aws_lambda_powertools.utilities import parameters

    from sheetbrain import aws

    return parameters.SecretsProvider(
        boto3_client=aws.client(
            "secretsmanager",
            connect_timeout=_SECRETS_CONNECT_TIMEOUT_S,
            read_timeout=_SECRETS_READ_TIMEOUT_S,
            max_attempts=_SECRETS_ATTEMPTS,
        )
    )


def clear_secret_cache() -> None:
    """Forget fetched secrets, as if Powertools' five minutes had passed (tests)."""
    if _secrets_provider.cache_info().currsize:
        _secrets_provider().clear_cache()  # type: ignore[no-untyped-call]


def _unavailable(exc: BaseException | None) -> bool:
    """Whether a failed Secrets Manager call means the service is unreachable or overloaded
    (retry later) rather than that the secret is missing, forbidden or undecryptable."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _THROTTLED or status >= 500
    return False


def _fetch_secret(arn: str) -> str:
    """A secret's string, through Powertools' cache. Secrets Manager unreachable, throttling or
    failing: DependencyUnavailableError (503). A secret missing, forbidden or not a string:
    ConfigurationError, whose text (with the ARN) only ever reaches the log."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = _secrets_provider().get(arn, max_age=300)
    except GetParameterError as exc:
        # Powertools wraps every error of the call, raised inside its except: the original is
        # the context of the one it raises.
        cause = exc.__cause__ or exc.__context__
        if _unavailable(cause):
            logger.warning("secrets manager unavailable", secret=arn, error=type(cause).__name__)
            raise DependencyUnavailableError("Secrets Manager is unavailable; try again shortly.") from exc
        raise ConfigurationError(f"Secret {arn} could not be read: {exc}") from exc
    if not isinstance(value, str):
        raise ConfigurationError(f"Secret {arn} holds no string (a binary secret?).")
    return value


def _secret_json(arn: str, raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ConfigurationError(f"Secret {arn} is not a JSON object.")
    return value


def _secret_field(arn: str, key: str) -> str:
    """A secret that is either the value itself or a JSON object holding it under ``key``."""
    raw = _fetch_secret(arn)
    if not raw.lstrip().startswith("{"):
        return raw
    value = _secret_json(arn, raw).get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"Secret {arn} is a JSON object without a '{key}' string.")
    return value


def _provider_secret(value: SecretStr | None, arn: str | None, key: str) -> SecretStr | None:
    if value is not None:
        return value
    if arn:
        return SecretStr(_secret_field(arn, key))
    return None


def _database_secret(arn: str, *, host_configured: bool = False) -> str:
    """A database secret: a URL, ``{"url": ...}``, or RDS fields (JSON with username/password
    and host/port/dbname), assembled into a conninfo string. The host may be missing where
    ``DATABASE_HOST`` names it (an RDS-managed master secret holds only the login)."""
    raw = _fetch_secret(arn)
    if not raw.lstrip().startswith("{"):
        return raw
    value = _secret_json(arn, raw)
    if "url" in value:
        return str(value["url"])
    if "host" not in value and not host_configured:
        raise ConfigurationError(f"Secret {arn} names no host, and DATABASE_HOST is not set.")
    try:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=str(value.get("host", "")),
            port=str(value.get("port", 5432)),
            user=str(value["username"]),
            password=str(value["password"]),
            dbname=str(value.get("dbname", "postgres")),
        )
    except KeyError as exc:
        raise ConfigurationError(f"Secret {arn} lacks 'url' or the RDS fields ({exc}).") from exc


def read_secret_json(arn: str) -> dict[str, Any]:
    """A secret that is a JSON object (a login's RDS fields), through Powertools' cache."""
    return _secret_json(arn, _fetch_secret(arn))


@functools.cache
def get_settings() -> Settings:
    """Validated settings, built once per container."""
    try:
        env = {key.lower(): value for key, value in os.environ.items()}
        return Settings.model_validate(env)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid configuration: {exc}") from exc


def forget_secrets() -> None:
    """Forget fetched secrets and the Secrets Manager client that fetched them (its credentials
    and connections): the next secret read fetches afresh. A SnapStart hook (``snapstart``)."""
    clear_secret_cache()
    _secrets_provider.cache_clear()


def reset_settings() -> None:
    """Forget cached settings and fetched secrets (tests and the dev server change the environment)."""
    get_settings.cache_clear()
    forget_secrets()
