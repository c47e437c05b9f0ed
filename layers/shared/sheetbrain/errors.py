"""Domain errors. One base class; the HTTP mapping lives in ``sheetbrain.http.errors`` only."""

from __future__ import annotations

from typing import Any


class SheetBrainError(Exception):
    """Base of every error the layer raises on purpose.

    ``code`` is the stable snake_case identifier clients see; ``status`` the HTTP status the
    edge maps it to; ``details`` structured context (field names, limits...). A server error's
    (5xx) message and details go to the log only, except the keys named in ``public_details``.
    """

    code = "internal_error"
    status = 500
    public_details: tuple[str, ...] = ()

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class BadRequestError(SheetBrainError):
    code = "bad_request"
    status = 400


class UnauthorizedError(SheetBrainError):
    code = "unauthorized"
    status = 401


class ForbiddenError(SheetBrainError):
    code = "forbidden"
    status = 403


class NotFoundError(SheetBrainError):
    code = "not_found"
    status = 404


class ConflictError(SheetBrainError):
    code = "conflict"
    status = 409


class PayloadTooLargeError(SheetBrainError):
    code = "payload_too_large"
    status = 413


class ValidationError(SheetBrainError):
    code = "validation_error"
    status = 422


class NeedsReviewError(ValidationError):
    """A verified event that must not be applied as it stands and that no retry can fix: kept
    failed, with its error, for a person to review (never retried)."""


class RateLimitedError(SheetBrainError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class QuotaExceededError(RateLimitedError):
    code = "quota_exceeded"


class DependencyUnavailableError(SheetBrainError):
    """A dependency (the database, a provider API) is down or timed out: transient, retry later."""

    code = "dependency_unavailable"
    status = 503


class ConfigurationError(SheetBrainError):
    code = "configuration_error"
    status = 500
