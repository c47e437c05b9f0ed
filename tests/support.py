"""Test helpers: call real handlers with API Gateway v2 events built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sheetbrain import aws
from sheetbrain.config import reset_settings
from sheetbrain.db.connection import close_pool
from sheetbrain_dev import server
from sheetbrain_dev.auth import claims_for
from sheetbrain_dev.template import load_template

TEMPLATE = load_template()
__all__ = ["TEMPLATE", "Reply", "SettingsEnv", "call", "claims_for", "settings_environment"]

SettingsEnv = Callable[..., None]
"""``settings_env(NAME="value", ...)``: set environment variables and make the layer read them."""
_DATABASE_URLS = frozenset({"DATABASE_URL", "SYSTEM_DATABASE_URL"})


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


def _forget_settings(names: set[str]) -> None:
    """Make the layer read the environment again: its settings and the AWS clients built from
    them, and its database pools when a database URL is among ``names``."""
    reset_settings()
    aws.reset_clients()
    if names & _DATABASE_URLS:
        close_pool()


@contextmanager
def settings_environment() -> Iterator[SettingsEnv]:
    """Yields ``settings_env(NAME="value", ...)``, which sets environment variables and makes the
    layer read them; on exit the variables are restored and the layer reads them again. Its own
    MonkeyPatch, so a test's ``monkeypatch`` is undone on its own schedule."""
    patch = pytest.MonkeyPatch()
    changed: set[str] = set()

    def settings_env(**values: str) -> None:
        for name, value in values.items():
            patch.setenv(name, value)
        changed.update(values)
        _forget_settings(set(values))

    try:
        yield settings_env
    finally:
        patch.undo()
        if changed:
            _forget_settings(changed)


# A Bedrock Converse answer of the AI review: one finding confirmed, 1,200 tokens in and 300 out.
CONVERSE_OK = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [{"text": json.dumps({
                "summary": "One real risk.",
                "judgments": [{"finding": 0, "verdict": "confirmed", "explanation": "Division by zero errors out."}],
                "additional_findings": [],
            })}],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1200, "outputTokens": 300, "totalTokens": 1500},
    "metrics": {"latencyMs": 850},
}  # fmt: skip
