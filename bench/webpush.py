"""What web push costs: whether any function's handler loads its libraries at cold start, what
loading them costs the first message of a container, and the time of one message's encryption
and VAPID signature. Run:
    .venv/bin/python bench/webpush.py [--runs 7]

The libraries (py-vapid, http-ece and cryptography under them) are imported inside the
functions that build a message, so no handler should load them at import: the first column
says so for each function (a fresh interpreter imports its app.py and lists what it loaded).
The import cost is the median over fresh interpreters; the per-message figure is the median of
runs of 200 messages (a 150-byte payload, as the contract's JSON is).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ["audit", "ingest", "billing", "webhook", "cleanup"]
HEAVY = ("cryptography", "py_vapid", "http_ece", "sheetbrain.notifications.webpush")

LOADED = """
import sys
import app
print(",".join(m for m in {heavy!r} if m in sys.modules) or "-")
"""
IMPORT_COST = """
import time
t = time.perf_counter()
import http_ece, py_vapid
from cryptography.hazmat.primitives.asymmetric import ec
print(time.perf_counter() - t)
"""
PER_MESSAGE = """
import base64, time
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sheetbrain.notifications import webpush
from sheetbrain.notifications.endpoints import PushTarget
vapid = ec.generate_private_key(ec.SECP256R1())
raw = base64.urlsafe_b64encode(vapid.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()
browser = ec.generate_private_key(ec.SECP256R1())
p256dh = browser.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
target = PushTarget("https", "fcm.googleapis.com", 443, "/fcm/send/x")
payload = b"x" * 150
t = time.perf_counter()
for _ in range(200):
    webpush.encrypt(payload, p256dh=p256dh, auth=b"0" * 16)
    webpush.vapid_authorization(target, private_key=raw, subject="mailto:ops@example.com")
print((time.perf_counter() - t) / 200)
"""


def _run(code: str, extra_path: list[Path]) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in [*extra_path, ROOT / "layers/shared", ROOT / "tools"]),
        "ENVIRONMENT": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SheetBrain",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print("web push libraries loaded by each handler at import (target: none)")
    for name in FUNCTIONS:
        print(f"  {name:8} {_run(LOADED.format(heavy=HEAVY), [ROOT / 'functions' / name])}")
    imports = [float(_run(IMPORT_COST, [])) for _ in range(runs)]
    messages = [float(_run(PER_MESSAGE, [])) for _ in range(runs)]
    print(
        f"first message of a container: importing py-vapid, http-ece, cryptography "
        f"{statistics.median(imports) * 1000:.0f} ms (min {min(imports) * 1000:.0f}, max {max(imports) * 1000:.0f})"
    )
    print(
        f"per message: encrypt (aes128gcm) + VAPID signature {statistics.median(messages) * 1000:.2f} ms "
        f"(min {min(messages) * 1000:.2f}, max {max(messages) * 1000:.2f})"
    )


if __name__ == "__main__":
    main()
