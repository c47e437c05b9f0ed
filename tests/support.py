"""Test helpers: call real handlers with API Gateway v2 events built from template.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sheetbrain_dev import auth
from sheetbrain_dev.events import http_event
from sheetbrain_dev.lambda_runtime import invoke
from sheetbrain_dev.server import to_http
from sheetbrain_dev.template import load_template

TEMPLATE = load_template()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower())


def claims_for(user_id: str, org_id: str | None = None, role: str = "org:member") -> dict[str, str]:
    """Claims as the JWT authorizer passes them for a token minted for this user and org."""
    return auth.authorizer_claims(auth.verify(auth.mint(user_id, org_id, role)))


def call(
    method: str,
    path: str,
    *,
    claims: dict[str, str] | None = None,
    body: Any = None,
    raw_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Reply:
    """Route like API Gateway, build the event, run the real handler, return the HTTP reply."""
    found = TEMPLATE.find_route(method, path)
    assert found is not None, f"no route {method} {path} in template.yaml"
    route, params = found
    sent_headers = {"host": "api.test", "user-agent": "pytest", **(headers or {})}
    payload = raw_body if raw_body is not None else b""
    if body is not None:
        payload = json.dumps(body).encode()
        sent_headers.setdefault("content-type", "application/json")
    event = http_event(
        route=route,
        path=path,
        path_params=params,
        method=method,
        raw_query=query,
        headers=list(sent_headers.items()),
        body=payload,
        claims=claims,
    )
    status, reply_headers, reply_body = to_http(invoke(TEMPLATE.functions[route.function], event))
    return Reply(status, reply_headers, reply_body)
