"""``sheetbrain serve``: the HTTP API of template.yaml on 127.0.0.1, as API Gateway would serve it.

Routes come from the template; a route with the JWT authorizer gets its bearer token verified
here against the local JWKS, and the claims travel in the event exactly where the HTTP API puts
them, so handlers cannot tell this server from AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sheetbrain_dev import auth
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import invoke
from sheetbrain_dev.template import Route, Template

log = logging.getLogger("sheetbrain_dev.serve")
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
# Dev-only pages, answered here before template routing (API Gateway does not serve them).
OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    # API Gateway answers these itself (before any function); we keep the contract's shape.
    body = {"error": {"code": code, "message": message, "details": {}}}
    headers = {"Content-Type": "application/json", "X-Request-Id": uuid.uuid4().hex[:20]}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sheetbrain"'
    return status, headers, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        try:
            status, headers, body = self._respond()
        except Exception:
            # A handler that crashes outright (an import error, a failing decorator): API
            # Gateway answers 500 with its own body, and the connection stays usable.
            log.exception("%s %s failed", self.command, self.path)
            status, headers, body = 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _respond(self) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(self.path)
        path = unquote(url.path)  # API Gateway routes and passes on the decoded path
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return _error(400, "bad_request", "The Content-Length header is not a number.")
        if length > MAX_BODY:
            return _error(413, "payload_too_large", f"The request body exceeds {MAX_BODY} bytes.")
        body = self.rfile.read(length) if length else b""
        if self.command == "GET" and path in (OPENAPI_PATH, DOCS_PATH):
            return self.server.docs(path, url.query)
        found = self.server.template.find_route(self.command, path)
        if found is None:
            return _error(404, "route_not_found", "No such route.")
        route, params = found
        claims = None
        if route.authorized:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _error(401, "unauthorized", "A bearer token is required.")
            try:
                claims = auth.authorizer_claims(auth.verify(token.strip()))
            except auth.TokenError as exc:
                return _error(401, "unauthorized", f"The bearer token is invalid: {exc}.")
        return invoke_route(
            self.server.template,
            route,
            params,
            method=self.command,
            path=path,
            query=url.query,
            headers=list(self.headers.items()),
            body=body,
            claims=claims,
            source_ip=self.client_address[0],
        )


def invoke_route(
    template: Template,
    route: Route,
    params: dict[str, str],
    *,
    method: str,
    path: str,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    claims: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    """The route's function run on the v2 event API Gateway would build; its HTTP reply."""
    event = http_event(
        route=route,
        path=path,
        path_params=params,
        method=method,
        raw_query=query,
        headers=headers,
        body=body,
        claims=claims,
        source_ip=source_ip,
    )
    return to_http(invoke(template.functions[route.function], event))


def call(
    template: Template,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    claims: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A request routed as API Gateway routes it (the authorizer's claims given), in process."""
    found = template.find_route(method, path)
    if found is None:
        raise LookupError(f"no route {method} {path} in template.yaml")
    route, params = found
    return invoke_route(template, route, params, method=method, path=path, query=query, headers=headers,
                        body=body, claims=claims)  # fmt: skip


def to_http(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Map a handler's v2 response (or a bare value, as API Gateway does) to status/headers/body."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], template: Template) -> None:
        super().__init__(address, _Handler)
        self.template = template
        self._docs_lock = threading.Lock()
        self._openapi_json: str | None = None

    def docs(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        """The OpenAPI document built from the code (once per server), or a Swagger UI page of it."""
        from sheetbrain_dev import openapi

        with self._docs_lock:
            if self._openapi_json is None:
                try:
                    self._openapi_json = openapi.render(openapi.build_document(self.template))
                except openapi.OpenApiBuildError as exc:
                    return _error(500, "openapi_unavailable", str(exc))
            document = self._openapi_json
        headers = {"X-Request-Id": uuid.uuid4().hex[:20], "Cache-Control": "no-store"}
        # Swagger UI shows "?format=json" as the document's address, as Powertools' page does.
        if path == OPENAPI_PATH or parse_qs(query).get("format") == ["json"]:
            return 200, {**headers, "Content-Type": "application/json"}, document.encode()
        page = openapi.swagger_html(document)
        return 200, {**headers, "Content-Type": "text/html; charset=utf-8"}, page.encode()
