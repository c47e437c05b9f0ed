"""``sheetbrain serve``: the HTTP API of template.yaml on 127.0.0.1, as API Gateway would serve it.

Routes come from the template; a route with the JWT authorizer gets its bearer token verified
here against the local JWKS, and the claims travel in the event exactly where the HTTP API puts
them, so handlers cannot tell this server from AWS.

Each request runs on an instance of its function of its own (a worker process, see
``lambda_runtime.InstancePool``), so concurrent requests run concurrently, as Lambda scales out,
and no two share an instance's module-level state. What API Gateway answers itself, this server
answers the same way: 404 ``{"message": "Not Found"}`` for a method or path no route declares,
500 ``{"message": "Internal Server Error"}`` when the function fails.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sheetbrain_dev import auth, local_bucket, push_page
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import FunctionThrottledError, InstancePool, invoke
from sheetbrain_dev.template import Function, Route, Template

log = logging.getLogger("sheetbrain_dev.serve")
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_MAX_INSTANCES = 4  # per function: each instance is a Python process with the layer loaded
# A client that stops sending (a slow body, an idle keep-alive connection) frees its thread after this.
SOCKET_TIMEOUT_S = 30
_NOT_FOUND = (404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
_INTERNAL_ERROR = (500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
_UNAVAILABLE = (503, {"Content-Type": "application/json"}, b'{"message":"Service Unavailable"}')
# Dev-only pages, answered here before template routing (API Gateway does not serve them);
# also the web push example page, GET /dev/push and its files (``push_page``).
OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    # API Gateway answers these itself (before any function); we keep the contract's shape.
    # Imported here, as ``docs`` imports the layer: the server starts without loading it.
    from sheetbrain.http.error_body import error_body

    headers = {"Content-Type": "application/json", "X-Request-Id": uuid.uuid4().hex[:20]}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sheetbrain"'
    return status, headers, error_body(code, message).encode()


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD> and answers an HTML 501 when it is
        # missing; API Gateway takes every method to its routing, and a method no route
        # declares (TRACE, CONNECT, FOO...) gets its 404 there.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        try:
            status, headers, body = self._respond()
        except FunctionThrottledError:
            log.warning("%s %s: no instance became free in time", self.command, self.path)
            status, headers, body = _UNAVAILABLE
        except Exception:
            # A handler that fails (an import error, a failing decorator, a timeout): API
            # Gateway answers 500 with its own body, and the connection stays usable.
            log.exception("%s %s failed", self.command, self.path)
            status, headers, body = _INTERNAL_ERROR
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
        # The body was not read (or not all of it): what is left of it must not be taken for
        # the next request on this connection.
        self.close_connection = True
        return _error(status, code, message)

    def _read_body(self) -> bytes | tuple[int, dict[str, str], bytes]:
        """The request body, or the reply that refuses it before anything is read."""
        if self.headers.get_all("Transfer-Encoding"):
            return self._refuse(400, "bad_request", "The local server takes bodies with a Content-Length only.")
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            return self._refuse(400, "bad_request", "The request has conflicting Content-Length headers.")
        raw = values.pop() if values else "0"
        # Digits only: int() would also take "-5", "+5", " 5", "5_0" or Unicode digits.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
            return self._refuse(400, "bad_request", "The Content-Length header is not a byte count.")
        length = int(raw)
        if length > MAX_BODY:
            return self._refuse(413, "payload_too_large", f"The request body exceeds {MAX_BODY} bytes.")
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            return self._refuse(400, "bad_request", "The request body did not arrive in time.")
        if len(body) != length:
            return self._refuse(400, "bad_request", "The request body is shorter than its Content-Length.")
        return body

    def _respond(self) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(self.path)
        path = unquote(url.path)  # API Gateway routes and passes on the decoded path
        if self.command == "POST" and path.startswith(local_bucket.PATH_PREFIX):
            return self.server.local_bucket_post(self, path[len(local_bucket.PATH_PREFIX) :])
        body = self._read_body()
        if isinstance(body, tuple):
            return body
        if self.command == "GET" and path in (OPENAPI_PATH, DOCS_PATH):
            return self.server.docs(path, url.query)
        if self.command in ("GET", "HEAD") and push_page.serves(path):
            return push_page.respond(path) or _NOT_FOUND
        found = self.server.template.find_route(self.command, path)
        if found is None:
            return _NOT_FOUND
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
            run=self.server.invoke_function,
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
    run: Callable[[Function, dict[str, Any]], Any] = invoke,
) -> tuple[int, dict[str, str], bytes]:
    """The route's function run on the v2 event API Gateway would build (in this process,
    unless ``run`` says otherwise); its HTTP reply."""
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
    return to_http(run(template.functions[route.function], event))


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

    def __init__(
        self, address: tuple[str, int], template: Template, *, max_instances: int = DEFAULT_MAX_INSTANCES
    ) -> None:
        super().__init__(address, _Handler)
        self.template = template
        self.max_instances = max_instances
        self._docs_lock = threading.Lock()
        self._openapi_json: str | None = None
        self._pools_lock = threading.Lock()
        self._pools: dict[str, InstancePool] = {}

    def invoke_function(self, function: Function, event: dict[str, Any]) -> Any:
        """One invocation on an instance of the function that serves nothing else meanwhile."""
        with self._pools_lock:
            pool = self._pools.get(function.logical_id)
            if pool is None:
                pool = self._pools[function.logical_id] = InstancePool(function, self.max_instances)
        return pool.invoke(event)

    def server_close(self) -> None:
        super().server_close()
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

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

    # --- The local stand-ins of the upload bucket and the ingest queue (issue 16) -------------

    def local_bucket_post(self, handler: _Handler, bucket: str) -> tuple[int, dict[str, str], bytes]:
        """S3's browser POST to ``bucket``: the signed policy checked (``local_bucket.check_post``),
        the file stored, an ObjectCreated event queued for the ingest worker."""
        from datetime import UTC, datetime
        from pathlib import Path

        from sheetbrain.config import get_settings
        from sheetbrain.db import system_transaction, work_queue_repo
        from sheetbrain.policies.uploads import LOCAL_ACCESS_KEY_ID
        from sheetbrain.policies.work_queue import INGEST_QUEUE

        settings = get_settings()
        xml = {"Content-Type": "application/xml"}
        raw = (handler.headers.get("Content-Length") or "").strip()
        # The size range is the policy's to check; a body beyond the largest upload is not read.
        if not (raw.isascii() and raw.isdigit()) or int(raw) > settings.max_upload_bytes + 64 * 1024:
            handler.close_connection = True
            refusal = local_bucket.Refusal(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
            )
            return refusal.status, xml, refusal.xml()
        body = handler.rfile.read(int(raw))
        if settings.upload_bucket != bucket or not settings.local_bucket_dir or settings.local_bucket_secret is None:
            refusal = local_bucket.Refusal(404, "NoSuchBucket", "The specified bucket does not exist.")
            return refusal.status, xml, refusal.xml()
        try:
            fields, file = local_bucket.parse_form(body, handler.headers.get("Content-Type", ""))
            local_bucket.check_post(
                bucket,
                fields,
                file,
                secret=settings.local_bucket_secret.get_secret_value(),
                access_key_id=LOCAL_ACCESS_KEY_ID,
                now=datetime.now(UTC),
            )
            stored = local_bucket.store(Path(settings.local_bucket_dir), bucket, fields["key"], file)
        except local_bucket.Refusal as refusal:
            return refusal.status, xml, refusal.xml()
        with system_transaction() as conn:
            work_queue_repo.send(conn, queue=INGEST_QUEUE, body=stored.s3_event())
        return 204, {"ETag": f'"{stored.etag}"', "Location": f"{local_bucket.PATH_PREFIX}{bucket}/{stored.key}"}, b""

    def start_queue_runner(self) -> None:
        """Deliver the local work queue to the template's ingest worker, on its instances."""
        from sheetbrain_dev.local_queue import WORKER_FUNCTION, QueueRunner

        function = self.template.functions.get(WORKER_FUNCTION)
        if function is None:
            return
        self.queue_runner = QueueRunner(lambda event: self.invoke_function(function, event))
        self.queue_runner.start()
