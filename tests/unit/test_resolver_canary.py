"""A canary for the private Powertools hooks ``sheetbrain/http/resolver.py`` relies on: the
request checks run inside Powertools' validation middleware (``_request_validation_middleware``)
and read the body through its ``_get_body``, ``_parse_json_data`` and ``_parse_multipart_data``.
An upgrade of Powertools that renames or stops calling them fails here, by name."""

from __future__ import annotations

import inspect
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from pydantic import BaseModel
from sheetbrain.http.resolver import make_resolver


def test_the_resolver_keeps_its_validation_middleware_where_we_replace_it() -> None:
    # Given a resolver with validation on, When Powertools builds it
    app = APIGatewayHttpResolver(enable_validation=True)
    # Then the validation middleware is the attribute resolver.py replaces
    assert isinstance(app._request_validation_middleware, OpenAPIRequestValidationMiddleware)
    # and routing takes it from there (the attribute, not a copy made at construction)
    source = inspect.getsource(inspect.getmodule(APIGatewayHttpResolver))
    assert "all_middlewares.append(app._request_validation_middleware)" in source


def test_the_middleware_reads_the_body_through_the_methods_we_override_and_call() -> None:
    # Given Powertools' validation middleware
    middleware = OpenAPIRequestValidationMiddleware
    # Then its handler reads the body through _get_body, and the parsers keep their signatures
    assert "self._get_body(app)" in inspect.getsource(middleware.handler)
    assert list(inspect.signature(middleware._get_body).parameters) == ["self", "app"]
    assert list(inspect.signature(middleware._parse_json_data).parameters) == ["self", "app"]
    assert list(inspect.signature(middleware._parse_multipart_data).parameters) == ["self", "app", "content_type"]


class _Item(BaseModel):
    name: str


def _event(content_type: str, body: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "POST /api/items",
        "rawPath": "/api/items",
        "rawQueryString": "",
        "headers": {"content-type": content_type, "content-length": str(len(body))},
        "requestContext": {
            "http": {"method": "POST", "path": "/api/items", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "canary-1",
            "routeKey": "POST /api/items",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def test_our_checks_run_before_powertools_reads_the_body() -> None:
    # Given our resolver with one JSON route
    app = make_resolver()

    @app.post("/api/items")
    def create(item: _Item) -> dict[str, str]:
        return {"name": item.name}

    # When a form body comes (which Powertools would parse as a form), Then our check refuses it
    refused = app.resolve(_event("application/x-www-form-urlencoded", "name=x"), {})
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"])["error"]["code"] == "bad_request"
    # and a JSON one is read by the overridden _get_body and validated as usual
    answered = app.resolve(_event("application/json", '{"name": "x"}'), {})
    assert (answered["statusCode"], json.loads(answered["body"])) == (200, {"name": "x"})
