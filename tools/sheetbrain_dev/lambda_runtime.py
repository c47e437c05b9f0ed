"""Load a function's handler from template.yaml and call it as the Lambda runtime would."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sheetbrain_dev.template import Function

# Only the template's Powertools and pydantic settings apply locally: the rest (secret ARNs,
# Bedrock as the embedder, inline EventBridge delivery...) describes AWS; locally the
# environment decides.
_LOCAL_ENV_PREFIXES = ("POWERTOOLS_", "PYDANTIC_")
_modules: dict[str, ModuleType] = {}
_load_lock = threading.Lock()
# Powertools keeps the current event on the resolver class, and Lambda runs one event per
# container at a time: invoking one handler at a time keeps both true in a threaded server.
invoke_lock = threading.Lock()


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 29
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def apply_function_environment(function: Function) -> None:
    """The template's plain-string Powertools and pydantic variables, unless the environment
    sets them."""
    for key, value in function.environment.items():
        if isinstance(value, str) and key.startswith(_LOCAL_ENV_PREFIXES):
            os.environ.setdefault(key, value)


def load_module(function: Function) -> ModuleType:
    """Import ``functions/<name>/app.py`` once, under a unique module name (its handler's module)."""
    module_name = function.handler.rsplit(".", 1)[0]
    with _load_lock:
        module = _modules.get(function.logical_id)
        if module is None:
            apply_function_environment(function)
            path = function.code_dir / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"sheetbrain_fn_{function.logical_id}", path)
            if spec is None or spec.loader is None:
                raise RuntimeError(f"Cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _modules[function.logical_id] = module
    return module


def load_handler(function: Function) -> Callable[[dict[str, Any], Any], Any]:
    """Import ``functions/<name>/app.py`` under a unique module name and return its handler."""
    attr = function.handler.rsplit(".", 1)[1]
    handler: Callable[[dict[str, Any], Any], Any] = getattr(load_module(function), attr)
    return handler


def invoke(function: Function, event: dict[str, Any]) -> Any:
    """One invocation with a fresh context, serialised like a single Lambda container."""
    handler = load_handler(function)
    with invoke_lock:
        return handler(event, LocalContext(function_name=function.logical_id))
