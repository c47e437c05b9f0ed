"""The resolver every API function shares: validation, error mapping, identity, headers.

Request flow: API Gateway (JWT verified by its authorizer) → the function's handler →
Powertools' request validation, which our subclass of it opens with the guard (for an
authenticated caller) and the request checks (size, content type), so that nothing is judged
before the caller is admitted and nothing parsed before the checks → our middleware (response headers) → the
route → domain code. Exception handlers sit outside the middlewares in Powertools, so both paths
add headers through ``_response_headers``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
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
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = "application/json"
_MULTIPART = "multipart/form-data"


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
        app.append_context(**{ADMITTED_KEY: True})
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


def _media_type(event: APIGatewayProxyEventV2) -> str:
    """The body's media type from its Content-Type header, in lower case without parameters."""
    return (event.headers.get("content-type") or "").split(";")[0].strip().lower()


def _check_request(event: APIGatewayProxyEventV2, multipart_paths: frozenset[str]) -> None:
    """413 for a body over the limit, 400 for a body the route does not read: neither JSON nor,
    where the route takes it, multipart. A body that is not text at all raises UnicodeError or
    binascii.Error, which ``_unreadable`` answers with 400."""
    body = event.body or ""
    limit = get_settings().max_body_bytes
    # A base64 body is 4/3 of its decoded size; compare what the client actually sent.
    size = len(body) * 3 // 4 if event.is_base64_encoded else len(body.encode())
    if size > limit:
        raise PayloadTooLargeError(
            f"The request body exceeds {limit} bytes.", details={"limit_bytes": limit, "size_bytes": size}
        )
    if event.request_context.http.method not in _BODY_METHODS or not body:
        return
    media_type = _media_type(event)
    allowed = {_JSON, _MULTIPART} if event.path in multipart_paths else {_JSON}
    if media_type not in allowed:
        expected = " or ".join(sorted(allowed))
        raise BadRequestError(
            f"Unsupported content type {media_type or '(none)'!r}; send {expected}.",
            details={"content_type": media_type, "allowed": sorted(allowed)},
        )


class _CheckedRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation (the first middleware of every route), opened with our
    request checks: Powertools parses the body by its Content-Type (a form, multipart, JSON)
    before any middleware of ours runs, so a body it should never read is refused here first."""

    def __init__(self, multipart_paths: frozenset[str]) -> None:
        super().__init__()
        self.multipart_paths = multipart_paths

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        bind_request(request_id=_request_id(app))
        authorizer = _event(app).request_context.authorizer
        if authorizer is not None and authorizer.jwt_claim:
            # A caller API Gateway authenticated passes the guard before anything about the
            # request is judged: a refused body counts against its rate limit and carries the
            # RateLimit-* headers, and a deleted or throttled caller learns that first.
            authenticate(cast(BaseRouter, app))
        _check_request(_event(app), self.multipart_paths)
        return super().handler(app, next_middleware)

    def _get_body(self, app: EventHandlerInstance) -> Any:
        # The checks let through only JSON, or multipart on a route that takes it. Powertools'
        # own choice by Content-Type is case-sensitive, so the body is read by the checked type.
        event = _event(app)
        if not event.body or _media_type(event) != _MULTIPART:
            return self._parse_json_data(app)
        try:
            return self._parse_multipart_data(app, event.headers.get("content-type") or "")
        except ValueError as exc:  # its refusals that are not validation errors, e.g. no boundary
            raise BadRequestError("The multipart body could not be parsed (boundary missing or wrong).") from exc


def _response_headers_middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    return _with_headers(app, next_middleware(app))


def make_resolver(*, multipart_paths: Iterable[str] = ()) -> APIGatewayHttpResolver:
    """A resolver with validation on, the contract's error shape, and the shared middlewares."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=untrusted_json.loads)
    # Powertools runs this first on every validated route; a route declared with
    # enable_validation=False would skip the request checks (none is).
    app._request_validation_middleware = _CheckedRequestValidation(frozenset(multipart_paths))
    app.use(middlewares=[_response_headers_middleware])

    @app.exception_handler(SheetBrainError)
    def _domain(exc: SheetBrainError) -> Response[Any]:
        return _with_headers(app, http_errors.from_domain_error(exc, request_id=_request_id(app)))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        return _with_headers(app, http_errors.from_validation_error(exc))

    @app.exception_handler([UnicodeError, binascii.Error])
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
        return _with_headers(app, http_errors.unexpected(exc, request_id=_request_id(app)))

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
