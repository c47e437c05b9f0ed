"""Test helpers: call real handlers with API Gateway v2 events built from template.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sheetbrain_dev import server
from sheetbrain_dev.auth import claims_for
from sheetbrain_dev.template import load_template

TEMPLATE = load_template()
__all__ = ["TEMPLATE", "Reply", "call", "claims_for"]


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
    sent_headers = {"host": "api.test", "user-agent": "pytest", **(headers or {})}
    payload = raw_body if raw_body is not None else b""
    if body is not None:
        payload = json.dumps(body).encode()
        sent_headers.setdefault("content-type", "application/json")
    status, reply_headers, reply_body = server.call(
        TEMPLATE, method, path, query=query, headers=list(sent_headers.items()), body=payload, claims=claims
    )
    return Reply(status, reply_headers, reply_body)
