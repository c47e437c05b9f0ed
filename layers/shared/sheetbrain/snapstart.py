"""Lambda SnapStart: what init prepares before the snapshot, and the runtime hooks around it.

With SnapStart, Lambda runs a function's init once, when a version is published, snapshots the
memory of that environment, and starts every later environment from a copy of it. So:

- init should do the work the first request would otherwise do (imports, the routes' request
  models, settings): it is paid once per version, not once per environment;
- nothing may cross the snapshot that belongs to one environment: an open connection (its socket
  is dead in every copy, or worse, shared by all of them), a credential or secret fetched
  before the snapshot (the copies would share it past its rotation), and the state of Python's
  ``random`` (every copy would draw the same numbers: the same retry jitter in every instance,
  so their retries land together).

``prepare`` (called by each API function's ``app.py`` at import) registers the hooks and, when
Lambda says this init is one whose result is kept (``AWS_LAMBDA_INITIALIZATION_TYPE`` is
``snap-start`` or ``provisioned-concurrency``), does the first request's work ahead. An
on-demand init does no more than before: it would only move the cost from the first request
into the cold start.

The hooks come from ``snapshot_restore_py`` (AWS's library, in the Python managed runtimes and in
the layer): Lambda runs the before-snapshot hooks in the reverse order of registration and the
after-restore hooks in order.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
from collections.abc import Iterable
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

from sheetbrain.observability import logger

# Inits whose result serves many requests later: worth doing the first request's work in.
PRIMED_INITIALIZATION_TYPES = frozenset({"snap-start", "provisioned-concurrency"})

# What holds a connection, a credential or a secret, and the function that lets go of it:
# (module, function). Only modules already imported are asked (a hook never imports one):
# the billing function never loads the Clerk verifier, nor the webhook function Stripe's client.
RELEASES: tuple[tuple[str, str], ...] = (
    ("sheetbrain.db.connection", "close_pool"),  # pooled connections and the pools' threads
    ("sheetbrain.config", "forget_secrets"),  # fetched secrets and Secrets Manager's client
    ("sheetbrain.aws", "reset_clients"),  # boto3 clients: credentials, kept-alive sockets
    ("sheetbrain.billing.stripe_gateway", "reset_client"),  # Stripe's API key and its session
    ("sheetbrain.webhooks.clerk", "reset_verifiers"),  # the Svix signing secret
    ("sheetbrain.policies.service", "reset_embedder"),  # the embedder's Bedrock client
)

_registered = False


def release_environment_state() -> list[str]:
    """Close connections and forget credentials and secrets, in every module loaded that holds
    some; returns the ``module.function`` names called."""
    called: list[str] = []
    for module_name, function_name in RELEASES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        getattr(module, function_name)()
        called.append(f"{module_name}.{function_name}")
    return called


def before_snapshot() -> None:
    """Runtime hook: nothing of this environment's connections or secrets enters the snapshot."""
    released = release_environment_state()
    logger.info("snapstart: before snapshot", released=released)


def after_restore() -> None:
    """Runtime hook: this copy of the snapshot is an environment of its own. Re-seed ``random``
    from the OS (every copy restores the same generator state), and drop anything that reached
    for a connection or a secret since the snapshot hook ran."""
    random.seed()  # os.urandom: differs per environment (secrets and uuid4 read it directly)
    released = release_environment_state()
    logger.info("snapstart: after restore", released=released)


def register_hooks() -> None:
    """Register the two hooks once per process (idempotent: ``app.py`` of each function calls
    ``prepare``, and tests import several)."""
    global _registered
    if _registered:
        return
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True


def primed_init() -> bool:
    """Whether Lambda keeps this init's result for many environments or requests."""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand") in PRIMED_INITIALIZATION_TYPES


def prepare(app: Any = None, *, modules: Iterable[str] = ()) -> bool:
    """At init: register the hooks, and in a primed init load what the first request would:
    settings (validated), ``modules`` (the audit engine...), and each route's request models and
    validation (``app``, a Powertools resolver, builds them for its OpenAPI schema). Opens no
    connection and reads no secret. Returns whether it primed."""
    register_hooks()
    if not primed_init():
        return False
    from sheetbrain.config import get_settings

    get_settings()
    for name in modules:
        importlib.import_module(name)
    if app is not None:
        app.get_openapi_schema()
    return True
