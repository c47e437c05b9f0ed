"""Load a function's handler from template.yaml and call it as the Lambda runtime would.

Two ways: ``invoke`` runs the handler in this process, one event at a time (``sheetbrain
invoke``, the tests and benches); ``InstancePool`` keeps worker processes per function, each a
Lambda instance serving one event at a time, so that concurrent requests run concurrently, as
Lambda scales out, without two requests ever sharing one instance's module-level state.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sheetbrain_dev.paths import ROOT
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


class FunctionError(Exception):
    """The handler raised, or its instance died or timed out: API Gateway answers 500."""

    def __init__(self, error_type: str, error_message: str) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message

    def payload(self) -> dict[str, str]:
        """The error as Lambda's Invoke API reports it."""
        return {"errorType": self.error_type, "errorMessage": self.error_message}


class FunctionTimeoutError(FunctionError):
    """The invocation outlived the function's timeout; its instance was stopped, as Lambda does."""


class FunctionThrottledError(FunctionError):
    """Every instance stayed busy for as long as API Gateway waits for an integration."""


# HTTP APIs wait at most 30 s for an integration.
INTEGRATION_TIMEOUT_S = 30.0


class FunctionInstance:
    """One execution environment: a worker process that imported the handler once (its cold
    start) and serves one event at a time (``sheetbrain_dev.lambda_worker``)."""

    def __init__(self, function: Function) -> None:
        self.function = function
        paths = [str(ROOT / "tools"), str(ROOT / "layers" / "shared")]
        inherited = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, *([inherited] if inherited else [])])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sheetbrain_dev.lambda_worker", str(function.template_path), function.logical_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def invoke(self, event: dict[str, Any], timeout_s: float) -> Any:
        """Send one event and wait for its result; FunctionError when the handler failed."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(event).encode() + b"\n")
            stdin.flush()
        except OSError as exc:
            gone = f"{self.function.logical_id}: its instance is gone ({exc})"
            raise FunctionError("Runtime.ExitError", gone) from exc
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            self.stop()
            raise FunctionTimeoutError("Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds")
        line = stdout.readline()
        if not line:
            raise FunctionError("Runtime.ExitError", f"{self.function.logical_id}: exited with {self._process.wait()}")
        reply = json.loads(line)
        if "error" in reply:
            error = reply["error"]
            raise FunctionError(str(error["errorType"]), str(error["errorMessage"]))
        return reply["result"]

    def stop(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()


class InstancePool:
    """A function's instances: an idle one serves the next event; when all are busy a new one
    starts (a cold start), up to ``max_instances``, beyond which a request waits for one."""

    def __init__(self, function: Function, max_instances: int) -> None:
        self.function = function
        self._slots = threading.BoundedSemaphore(max_instances)
        self._lock = threading.Lock()
        self._idle: list[FunctionInstance] = []
        self._all: set[FunctionInstance] = set()
        self._closed = False

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run one event on an instance of its own; FunctionError as ``FunctionInstance.invoke``."""
        if not self._slots.acquire(timeout=INTEGRATION_TIMEOUT_S):
            busy = f"{self.function.logical_id}: every instance stayed busy"
            raise FunctionThrottledError("TooManyRequestsException", busy)
        try:
            instance = self._checkout()
            try:
                result = instance.invoke(event, min(float(self.function.timeout_s), INTEGRATION_TIMEOUT_S))
            except FunctionError:
                if not instance.alive:
                    self._discard(instance)
                else:
                    self._checkin(instance)  # a handler error leaves its instance usable, as in Lambda
                raise
            self._checkin(instance)
            return result
        finally:
            self._slots.release()

    def _checkout(self) -> FunctionInstance:
        with self._lock:
            if self._closed:
                raise FunctionError("Runtime.ExitError", f"{self.function.logical_id}: the server is shutting down")
            while self._idle:
                instance = self._idle.pop()  # the most recently used: warm, as Lambda prefers
                if instance.alive:
                    return instance
                self._all.discard(instance)
            instance = FunctionInstance(self.function)
            self._all.add(instance)
            return instance

    def _checkin(self, instance: FunctionInstance) -> None:
        with self._lock:
            if self._closed:
                instance.stop()
            else:
                self._idle.append(instance)

    def _discard(self, instance: FunctionInstance) -> None:
        instance.stop()
        with self._lock:
            self._all.discard(instance)

    def close(self) -> None:
        """Stop every instance (the server is shutting down)."""
        with self._lock:
            self._closed = True
            instances, self._all, self._idle = list(self._all), set(), []
        for instance in instances:
            instance.stop()
