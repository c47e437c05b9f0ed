"""boto3 clients, made on first use and shared per container: importing boto3 costs cold
start, and a client per call costs its setup every time."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str, *, connect_timeout: float = 3, read_timeout: float = 30, max_attempts: int = 3) -> Any:
    """A client for ``service`` with explicit timeouts and standard retries, ``max_attempts``
    calls in all, the first included (botocore's ``total_max_attempts``: its ``max_attempts``
    counts retries only, so 1 there made two calls, and a timed-out model call was sent twice)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
    )
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget every client (tests switching AWS mocks or endpoints)."""
    client.cache_clear()
