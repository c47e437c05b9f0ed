"""A stand-in for Secrets Manager's endpoint that answers every call with one error, as the
service does when it throttles or fails (the JSON 1.1 protocol's error shape), so that botocore
parses a real HTTP answer and the layer sees what it would see from AWS."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SecretsManagerFailing(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, error_type: str) -> None:
        self.status, self.error_type, self.calls = status, error_type, 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> SecretsManagerFailing:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: SecretsManagerFailing

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.calls += 1
        body = json.dumps({"__type": self.server.error_type, "message": "stand-in failure"}).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-requestid", "00000000-0000-0000-0000-000000000000")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass
