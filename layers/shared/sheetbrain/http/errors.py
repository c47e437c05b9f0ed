"""The one mapping from exceptions to the JSON error shape of the API contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from sheetbrain.errors import BadRequestError, RateLimitedError, SheetBrainError
from sheetbrain.http.error_body import error_body
from sheetbrain.observability import logger


class MalformedJsonError(BadRequestError):
    """A body that is not JSON at all, found by a route that parses it itself (400)."""

    code = "malformed_json"

    def __init__(self, message: str = "The request body is not valid JSON.") -> None:
        super().__init__(message)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """A JSON error response in the contract's shape."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, details),
        headers=headers or {},
    )


# What a 5xx body says, whatever the error's own text: that text is for operators (it may name
# a setting, a secret's ARN, a key's permissions), so it goes to the log with the request id,
# and the body carries only the request id to quote.
UNEXPECTED_MESSAGE = "An unexpected error occurred."
UNAVAILABLE_MESSAGE = "A service this request depends on is unavailable; try again shortly."


def server_error_message(status: int) -> str:
    """The body's message for a server error of ``status``."""
    return UNAVAILABLE_MESSAGE if status == HTTPStatus.SERVICE_UNAVAILABLE else UNEXPECTED_MESSAGE


def from_domain_error(exc: SheetBrainError, *, request_id: str = "") -> Response[str]:
    """Map a domain error; client errors are logged as info, server errors with their trace.
    A client error's body says what was wrong; a server error's body says only that it
    happened, with the request id and the error's ``public_details`` (never its message)."""
    if exc.status >= 500:
        logger.exception("request failed", code=exc.code, status=exc.status, reason=exc.message, details=exc.details)
        details = {key: exc.details[key] for key in exc.public_details if key in exc.details}
        details["request_id"] = request_id
        return error_response(exc.status, exc.code, server_error_message(exc.status), details)
    logger.info("request refused", code=exc.code, status=exc.status)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def invalid_fields(
    errors: Iterable[Mapping[str, Any]], *, prefix: Sequence[str] = ()
) -> tuple[str, list[dict[str, Any]]]:
    """The 422 message and ``details.fields`` for pydantic errors: each field's dotted path
    (under ``prefix``, e.g. ``("body",)`` for a body a route validates itself), type and message."""
    fields = [
        {
            "field": ".".join(str(part) for part in (*prefix, *e.get("loc", ()))),
            "type": e.get("type"),
            "message": e.get("msg"),
        }
        for e in errors
    ]
    return "The request is invalid: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields


def from_validation_error(exc: RequestValidationError) -> Response[str]:
    """400 for a body that is not JSON at all, 422 naming each invalid field otherwise."""
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        malformed = MalformedJsonError()
        return error_response(HTTPStatus.BAD_REQUEST, malformed.code, malformed.message)
    message, fields = invalid_fields(errors)
    logger.info("request invalid", fields=[f["field"] for f in fields])
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", message, {"fields": fields})


def route_not_found() -> Response[str]:
    return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "No such route.")


def unexpected(exc: Exception, *, request_id: str = "") -> Response[str]:
    """Anything unforeseen: logged with its trace, answered without one."""
    logger.exception("unhandled error", error=type(exc).__name__)
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", UNEXPECTED_MESSAGE, {"request_id": request_id}
    )
