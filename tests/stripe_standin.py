"""A local HTTP stand-in for the few Stripe API endpoints we call, so tests exercise the real
``stripe`` client end to end (its ``api_base`` pointed here) instead of patched functions."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

_ids = itertools.count(1)
_KEY_REUSED = (
    "Keys for idempotent requests can only be used with the same parameters they were first used with. "
    "Try using a key other than '{}' if you meant to execute a different request."
)


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part] = value
                break
            container: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = container
                node = node[index]
            else:
                node = node.setdefault(part, container)
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _lists(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_lists(v) for v in node]
    return node


class StripeStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        # idempotency key -> (path, parameters, answer), as Stripe keeps them for 24 h
        self.idempotent: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
        self.failures: list[int] = []  # HTTP statuses to answer the next requests with
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self) -> StripeStandIn:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: StripeStandIn

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{next(_ids)}")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        params = _nest(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        server = self.server
        with server.lock:
            server.requests.append((self.path, params, headers))
            if not headers.get("authorization", "").startswith("Bearer sk_test_"):
                self._reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
                return
            if server.failures:
                self._reply(server.failures.pop(0), {"error": {"type": "api_error", "message": "Stand-in failure"}})
                return
            key = headers.get("idempotency-key")
            if key and key in server.idempotent:
                path, first, answer = server.idempotent[key]
                if (path, first) == (self.path, params):
                    self._reply(200, answer)
                else:
                    self._reply(400, {"error": {"type": "idempotency_error", "message": _KEY_REUSED.format(key)}})
                return
            body = self._create(self.path, params)
            if body is None:
                self._reply(404, {"error": {"type": "invalid_request_error", "message": f"No route {self.path}"}})
                return
            if key:
                server.idempotent[key] = (self.path, params, body)
            self._reply(200, body)

    def _create(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        n = next(_ids)
        if path == "/v1/customers":
            customer = {
                "id": f"cus_test{n}",
                "object": "customer",
                "name": params.get("name"),
                "metadata": params.get("metadata", {}),
            }
            self.server.customers[customer["id"]] = customer
            return customer
        if path == "/v1/checkout/sessions":
            if params.get("customer") not in self.server.customers:
                return {"error": "unknown customer"}
            return {
                "id": f"cs_test_{n}",
                "object": "checkout.session",
                "mode": params.get("mode"),
                "customer": params.get("customer"),
                "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}",
                "client_reference_id": params.get("client_reference_id"),
            }
        if path == "/v1/billing_portal/sessions":
            return {
                "id": f"bps_{n}",
                "object": "billing_portal.session",
                "customer": params.get("customer"),
                "url": f"https://billing.stripe.test/p/session/bps_{n}",
                "return_url": params.get("return_url"),
            }
        return None
