"""Hostile input: how long each takes to be answered through the real ingest and audit
handlers, at a size N and 2N (linear work doubles, quadratic work quadruples), and the largest
that fits a request body (6 MiB; a document, 5 MiB) where it differs. Target: each answered
within 2 s. A request is built before its clock starts, for an organization already seen.

Run: .venv/bin/python bench/hostile_input.py  (uses a database of its own, sheetbrain_bench_hostile)
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from _harness import bench_database, call
from sheetbrain.policies.chunking import chunk_text
from sheetbrain.policies.extract import DocumentError, extract_text
from sheetbrain_dev import auth


def _builders() -> ModuleType:
    """The tests' document builders (one home for how a hostile file is made), loaded from
    their file: the benchmarks run as scripts, with only bench/ on their path."""
    path = Path(__file__).resolve().parents[1] / "tests" / "unit" / "policies" / "conftest.py"
    spec = importlib.util.spec_from_file_location("hostile_document_builders", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BUILD = _builders()
build_docx_bomb = _BUILD.build_docx_bomb
build_pdf_with_content = _BUILD.build_pdf_with_content
dense_text_operators = _BUILD.dense_text_operators

MIB = 1024 * 1024


def fresh_admin() -> dict[str, str]:
    """An admin of a new organization, already seen (its rows made), whose plan has room for a
    policy: each request is timed as an org's first upload, not refused by the policy count."""
    org = f"org_benchhostile{uuid.uuid4().hex[:8]}"
    claims = auth.claims_for(f"user_{org}", org, "org:admin")
    call("GET", "/api/stats", claims=claims)
    return claims


Request = Callable[[], tuple[int, str]]  # sends a request built beforehand: (status, outcome)


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"hostile") -> tuple[bytes, str]:
    """(headers, payload) parts as one multipart/form-data body."""
    body = b"".join(b"--" + boundary + b"\r\n" + headers + b"\r\n" + payload + b"\r\n" for headers, payload in parts)
    return body + b"--" + boundary + b"--\r\n", "multipart/form-data; boundary=" + boundary.decode()


def file_part(name: str, data: bytes) -> tuple[bytes, bytes]:
    return (f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode(), data)


def send(path: str, body: bytes, content_type: str) -> tuple[int, Request]:
    claims = fresh_admin()

    def request() -> tuple[int, str]:
        status, reply = call("POST", path, body=body, headers={"content-type": content_type}, claims=claims)
        error = (reply or {}).get("error") or {}
        details = error.get("details") or {}
        return status, str(details.get("budget") or error.get("code") or "")

    return len(body), request


def ingest(parts: list[tuple[bytes, bytes]]) -> tuple[int, Request]:
    return send("/api/ingest", *multipart(parts))


def upload(name: str, data: bytes) -> tuple[int, Request]:
    return ingest([file_part(name, data)])


def tiny_parts(count: int) -> tuple[int, Request]:
    return ingest([file_part("p.txt", b"1.1 Lookups must use exact match.")] + [(b"", b"x")] * count)


def many_headers(count: int) -> tuple[int, Request]:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(count))
    return ingest([(headers + b'Content-Disposition: form-data; name="file"; filename="p.txt"\r\n', b"1.1 Rules.")])


def heading_of_blanks(blanks: int) -> tuple[int, Request]:
    return upload("policy.md", b"# Data" + b" " * blanks + b"rules\n\n1.1 Lookups must use exact match.\n")


def chunk_only(blanks: int) -> tuple[int, Request]:
    """Extraction and chunking alone (what took 11.5 s at 60,000 blanks), without embedding:
    a heading of blanks, then a line of blanks between two words."""
    data = b"# Data" + b" " * blanks + b"rules\n\n1.1 Lookups must use exact match.\n" + b"a" + b" " * blanks + b"b\n"

    def request() -> tuple[int, str]:
        return 200, f"{len(chunk_text(extract_text(data, 'policy.md', None).text))} chunks"

    return len(data), request


def dense_pdf(operators: int) -> tuple[int, Request]:
    return upload("dense.pdf", build_pdf_with_content([dense_text_operators(operators)], compress=True))


def dense_pdf_plain(operators: int) -> tuple[int, Request]:
    return upload("dense.pdf", build_pdf_with_content([dense_text_operators(operators)], compress=False))


def dense_pages(pages: int) -> tuple[int, Request]:
    """Pages each just under the per-page operations budget (45,000 operators, 90,000 tokens)."""
    return upload("pages.pdf", build_pdf_with_content([dense_text_operators(45_000)] * pages, compress=True))


def pdf_junk(size: int) -> tuple[int, Request]:
    return upload("junk.pdf", b"%PDF-1.7\n" + b"1 0 obj << /Type /Page >> endobj\n" * (size // 33))


def docx_bomb(padding: int) -> tuple[int, Request]:
    return upload("policy.docx", build_docx_bomb(padding))


def zip_of_members(members: int) -> tuple[int, Request]:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        for i in range(members):
            archive.writestr(f"{i}", b"")
    return upload("many.docx", out.getvalue())


def sheet_range(columns: int) -> tuple[int, Request]:
    body = {"sheet": {"name": "Q3", "range": "ZZZ1", "formulas": [["=1"] * columns]}}
    return send("/api/audit", json.dumps(body).encode(), "application/json")


CASES: list[tuple[str, Callable[[int], tuple[int, Request]], int, int | None]] = [
    # (what, how, N, the size that fills a 6 MiB body, where it differs from 2N)
    ("DOCX bomb (bytes of blanks inflated)", docx_bomb, 256 * MIB, None),
    ("ZIP 'DOCX' of N empty members", zip_of_members, 20_000, 60_000),
    ("PDF, one Flate stream of N text operators", dense_pdf, 2_000_000, None),
    ("PDF, one plain stream of N text operators", dense_pdf_plain, 300_000, 740_000),
    ("PDF, N Flate pages of 45,000 operators", dense_pages, 30, 1_000),
    ("PDF header then N bytes of junk objects", pdf_junk, 2 * MIB, 5 * MIB - 4096),
    ("multipart: a file and N empty parts", tiny_parts, 60_000, 380_000),
    ("multipart: a part with N header lines", many_headers, 30_000, 380_000),
    ("Markdown heading of N blanks (ingested)", heading_of_blanks, 60_000, 5 * MIB - 100),
    ("Markdown N blanks: extract + chunk only", chunk_only, 60_000, 5 * MIB // 2 - 100),
    ("sheet.range ZZZ1, N columns", sheet_range, 2, 4),
]


def measure(build: Callable[[int], tuple[int, Request]], n: int) -> str:
    size, request = build(n)  # built before the clock starts
    started = time.perf_counter()
    try:
        status, outcome = request()
    except DocumentError as exc:  # the extraction-only case refuses by raising
        status, outcome = exc.status, exc.code
    return f"{size / 1e6:6.2f} MB {time.perf_counter() - started:6.2f} s {status} {outcome}"


def main() -> None:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on damaged files are not figures
    warnings.filterwarnings("ignore", "No application metrics")
    bench_database("sheetbrain_bench_hostile")
    upload("warm.txt", b"1.1 Lookups must use exact match.")[1]()  # imports and the embedder, warm
    print(f"{'input':44} {'N':>10} {'body, seconds at N':32} {'at 2N':32} {'at a full body (~6 MiB)'}")
    for what, build, n, full in CASES:
        figures = [measure(build, n), measure(build, 2 * n), measure(build, full) if full else ""]
        print(f"{what:44} {n:>10} {figures[0]:32} {figures[1]:32} {figures[2]}", flush=True)


if __name__ == "__main__":
    main()
