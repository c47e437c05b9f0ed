"""The resolver every API function shares: validation, error mapping, identity, headers.

Request flow: API Gateway (JWT verified by its authorizer) → the function's handler →
Powertools' body validation → our middlewares (request checks, response headers) → the route →
domain code. Exception handlers
sit outside the middlewares in Powertools, so both paths add headers through
``_response_headers``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from sheetbrain import untrusted_json
from sheetbrain.config import get_settings
from sheetbrain.errors import BadRequestError, PayloadTooLargeError, RateLimitedError, SheetBrainError
from sheetbrain.http import errors as http_errors
from sheetbrain.metering.guard import RateLimitState, guard_request
from sheetbrain.observability import bind_request
from sheetbrain.tenancy.identity import Identity, identity_from_claims

# Filled per request by later guards (rate limits): header name → value.
RESPONSE_HEADERS_KEY = "response_headers"
IDENTITY_KEY = "identity"
ADMITTED_KEY = "admitted"
PLAN_KEY = "plan"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def current_identity(app: BaseRouter) -> Identity:
    """The verified caller of the current request (claims from the JWT authorizer only)."""
    cached = app.context.get(IDENTITY_KEY)
    if isinstance(cached, Identity):
        return cached
    authorizer = _event(app).request_context.authorizer
    claims = authorizer.jwt_claim if authorizer is not None else None
    identity = identity_from_claims(claims)
    app.append_context(**{IDENTITY_KEY: identity})
    bind_request(request_id=_request_id(app), org_id=identity.org_id, user_id=identity.user_id)
    return identity


def authenticate(app: BaseRouter) -> Identity:
    """The verified caller, through the guard: rows created on first sight, 403 if deleted,
    429 past the rate limit; the RateLimit-* headers go on the response whatever follows."""
    identity = current_identity(app)
    if not app.context.get(ADMITTED_KEY):
        try:
            decision = guard_request(identity)
        except RateLimitedError as exc:
            add_response_headers(
                app, RateLimitState(limit=int(exc.details["limit"]), remaining=0, reset_s=exc.retry_after).headers()
            )
            raise
        add_response_headers(app, decision.rate.headers())
        app.append_context(**{ADMITTED_KEY: True, PLAN_KEY: decision.plan})
    return identity


def add_response_headers(app: BaseRouter, headers: dict[str, str]) -> None:
    """Headers to put on this request's response, whatever its outcome (e.g. RateLimit-*)."""
    merged = dict(app.context.get(RESPONSE_HEADERS_KEY) or {})
    merged.update(headers)
    app.append_context(**{RESPONSE_HEADERS_KEY: merged})


def _event(app: BaseRouter) -> APIGatewayProxyEventV2:
    return cast(APIGatewayProxyEventV2, app.current_event)


def _request_id(app: BaseRouter) -> str:
    return _event(app).request_context.request_id or ""


def _response_headers(app: BaseRouter) -> dict[str, str]:
    headers = {"X-Request-Id": _request_id(app)}
    headers.update(app.context.get(RESPONSE_HEADERS_KEY) or {})
    return headers


def _with_headers(app: BaseRouter, response: Response[Any]) -> Response[Any]:
    for name, value in _response_headers(app).items():
        response.headers.setdefault(name, value)
    return response


def _check_request(
    multipart_paths: frozenset[str],
) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response[Any]]:
    def middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        bind_request(request_id=_request_id(app))
        body = event.body or ""
        limit = get_settings().max_body_bytes
        # A base64 body is 4/3 of its decoded size; compare what the client actually sent.
        size = len(body) * 3 // 4 if event.is_base64_encoded else len(body.encode())
        if size > limit:
            raise PayloadTooLargeError(
                f"The request body exceeds {limit} bytes.", details={"limit_bytes": limit, "size_bytes": size}
            )
        if event.request_context.http.method in _BODY_METHODS and body:
            content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
            allowed = {"application/json"}
            if event.path in multipart_paths:
                allowed.add("multipart/form-data")
            if content_type not in allowed:
                expected = " or ".join(sorted(allowed))
                raise BadRequestError(
                    f"Unsupported content type {content_type or '(none)'!r}; send {expected}.",
                    details={"content_type": content_type, "allowed": sorted(allowed)},
                )
        return _with_headers(app, next_middleware(app))

    return middleware


def _parse_json(text: str) -> Any:
    """Powertools' body parser, bounded: Powertools parses before any middleware runs, so the
    size limit and the contract's 400 for an unreadable body are enforced here."""
    limit = get_settings().max_body_bytes
    if len(text) > limit:
        raise PayloadTooLargeError(f"The request body exceeds {limit} bytes.", details={"limit_bytes": limit})
    return untrusted_json.loads(text)


def make_resolver(*, multipart_paths: Iterable[str] = ()) -> APIGatewayHttpResolver:
    """A resolver with validation on, the contract's error shape, and the shared middlewares."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=_parse_json)
    app.use(middlewares=[_check_request(frozenset(multipart_paths))])

    @app.exception_handler(SheetBrainError)
    def _domain(exc: SheetBrainError) -> Response[Any]:
        return _with_headers(app, http_errors.from_domain_error(exc))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        return _with_headers(app, http_errors.from_validation_error(exc))

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(_: RequestUnsupportedContentType) -> Response[Any]:
        # Powertools' validation runs before our middlewares and checks JSON bodies itself.
        return _with_headers(
            app,
            http_errors.error_response(400, "bad_request", "Unsupported content type; send application/json."),
        )

    @app.exception_handler([UnicodeDecodeError, binascii.Error])
    def _unreadable(_: Exception) -> Response[Any]:
        return _with_headers(
            app,
            http_errors.error_response(400, "malformed_body", "The request body is not valid UTF-8 (or base64)."),
        )

    @app.exception_handler(RouteNotFoundError)
    def _no_route(_: RouteNotFoundError) -> Response[Any]:
        return _with_headers(app, http_errors.route_not_found())

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        return _with_headers(app, http_errors.unexpected(exc))

    return app


def raw_body(app: BaseRouter) -> bytes:
    """The request body exactly as the client sent it (signatures are computed over these bytes)."""
    body = app.current_event.body or ""
    if app.current_event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise BadRequestError("The request body is not valid base64.") from exc
    return body.encode("utf-8")
