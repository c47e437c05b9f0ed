"""Headless chromium (Debian's package; `make test` installs it when missing) driven over the
DevTools protocol on a pipe, for the browser tests: the audit report and the web push page."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless chromium driven over the DevTools protocol on a pipe (fds 3 and 4): a viewport
    of any width (a window cannot be narrower than 500 px), print media, real mouse events."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM, "chromium is missing: `make test` installs it (apt-get install -y chromium)"
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', CHROMIUM,
             "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(to_browser, from_browser), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._next, self.events = b"", 0, []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], 60)
            assert ready, "chromium did not answer within 60 s"
            chunk = os.read(self._read, 1 << 20)
            assert chunk, "chromium closed its pipe"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.send(method, self.session, **params)

    def open(self, url: str, width: int, height: int, media: str = "screen") -> None:
        self.page("Page.enable")
        self.page("Log.enable")
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=True)
        self.page("Emulation.setEmulatedMedia", media=media)
        self.page("Page.navigate", url=url)
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            self._receive()

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The expression's value in the page (a JSON string is parsed; a promise is awaited when asked)."""
        reply = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        assert "exceptionDetails" not in reply, reply["exceptionDetails"]
        value = reply["result"].get("value")
        return json.loads(value) if isinstance(value, str) else value

    def wait_until(self, expression: str, timeout_s: float = 20.0, *, await_promise: bool = False) -> Any:
        """Evaluate ``expression`` every 100 ms until it is truthy; its value (fails after the timeout)."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression, await_promise=await_promise)
            if value:
                return value
            assert time.monotonic() < deadline, f"not true within {timeout_s} s: {expression}"
            time.sleep(0.1)

    def exceptions(self) -> list[str]:
        """Uncaught exceptions and unhandled rejections of the page (after ``Runtime.enable``)."""
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                found.append(details.get("exception", {}).get("description", details["text"]))
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)

    def console_errors(self) -> list[str]:
        return [e["params"]["entry"]["text"] for e in self.events if e["method"] == "Log.entryAdded"
                and e["params"]["entry"]["level"] == "error"]  # fmt: skip
