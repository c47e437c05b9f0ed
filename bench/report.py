"""GET /api/audits/{id}/report for a 50,000-cell audit: server time and page size.

A 500 x 100 grid (50,000 cells: labels, numbers and copied formulas, blank separator rows and a
blank column block, a few planted slips, a policy cited) is audited once through POST
/api/audit; its report is then fetched through the real handler (in-process, the embedded
database) and timed: the whole request, and the rendering alone (html_report.render on the
same audit). Then the worst case the API admits, every one of the 50,000 cells flagged (50,000
findings, a citation each), rendered alone.
Targets (issue 18): < 1 s on the server, page < 3 MB.
    .venv/bin/python bench/report.py [--runs 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid

from _harness import bench_database, call, handler_call, percentiles
from sheetbrain.auditing import service
from sheetbrain.reporting.grid_map import map_grid
from sheetbrain.reporting.html_report import ReportFinding, ReportInput, render
from sheetbrain.severity import SEVERITIES
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev import auth

POLICY = """# Spreadsheet controls
## 1. Lookups
1.1 All lookups must use exact match.
## 2. Rates
2.1 VAT is 20%.
"""
ROWS, COLUMNS = 500, 100


def _column(c: int) -> str:
    letters = ""
    while c:
        c, rest = divmod(c - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def grid() -> tuple[list[list[str | None]], list[list[object]]]:
    """Column A labels, B-AH numbers, AI-AR blank, AS-CV formulas copied down each row; every
    50th row blank (a section break); slips: a reference moved by one every 37th row, an
    approximate lookup every 101st, a hard-coded VAT rate every 73rd."""
    formulas: list[list[str | None]] = []
    values: list[list[object]] = []
    for r in range(1, ROWS + 1):
        if r % 50 == 0:
            formulas.append([None] * COLUMNS)
            values.append([None] * COLUMNS)
            continue
        f_row: list[str | None] = [None] * COLUMNS
        v_row: list[object] = [None] * COLUMNS
        v_row[0] = f"Item {r}"
        for c in range(2, 35):
            v_row[c - 1] = (r * 7 + c * 13) % 97
        for c in range(45, COLUMNS + 1):
            a, b = _column(c - 43), _column(c - 42)
            f_row[c - 1] = f"={a}{r}*{b}{r}+{a}{r}"
        if r % 37 == 0:
            f_row[50] = f"={_column(8)}{r + 1}*{_column(9)}{r}+{_column(8)}{r}"
        if r % 101 == 0:
            f_row[60] = f"=VLOOKUP(A{r},A1:B{ROWS},2)"
        if r % 73 == 0:
            f_row[70] = f"=B{r}*0.2"
        formulas.append(f_row)
        values.append(v_row)
    return formulas, values


def worst_case() -> ReportInput:
    """Every cell of the 50,000 flagged, a citation for every rule: the largest report the API admits."""
    formulas = [[f"=A{r}+{c}" for c in range(COLUMNS)] for r in range(1, ROWS + 1)]
    policy = {"policy_id": str(uuid.uuid4()), "title": "Controls", "clause": "1.1", "excerpt": "x" * 1000,
              "score": 1.0, "match": "rule"}  # fmt: skip
    findings = [
        ReportFinding(f"Data!{_column(c + 1)}{r + 1}", formulas[r][c] + "+0" * 100, f"FX{(r + c) % 40:02d}",
                      SEVERITIES[(r * COLUMNS + c) % 5], "A message of about the length the checks write, " * 3,
                      "=SUGGESTED(" + "A1," * 50 + ")", policy)
        for r in range(ROWS) for c in range(COLUMNS)
    ]  # fmt: skip
    return ReportInput("Worst case", [("Audit", "bench")], findings, [map_grid("Data", formulas, None, "A1")], "-")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bench_database("sheetbrain_bench_report")
    suffix = uuid.uuid4().hex[:8]
    org, user = f"org_report{suffix}", f"user_report{suffix}"
    claims = auth.claims_for(user, org, "org:admin")
    headers = {"content-type": "application/json"}
    status, _ = call("POST", "/api/ingest", body=json.dumps({"title": "Controls", "content": POLICY}).encode(),
                     headers=headers, claims=claims)  # fmt: skip
    assert status == 201, status
    formulas, values = grid()
    body = {"sheet": {"name": "Data", "range": "A1", "formulas": formulas, "values": values}}
    started = time.perf_counter()
    status, audit = call("POST", "/api/audit", body=json.dumps(body).encode(), headers=headers, claims=claims)
    assert status == 200, audit
    print(f"audited {ROWS * COLUMNS:,} cells ({audit['summary']['formulas']:,} formulas) in "
          f"{time.perf_counter() - started:.1f} s: {audit['summary']['findings']:,} findings")  # fmt: skip

    invoke = handler_call("GET", f"/api/audits/{audit['audit_id']}/report", claims=claims)
    reply = invoke()  # warm: jinja2 imported, template compiled
    assert reply["statusCode"] == 200, reply["statusCode"]
    page = base64.b64decode(reply["body"]) if reply.get("isBase64Encoded") else reply["body"].encode()
    samples = []
    for _ in range(args.runs):
        t = time.perf_counter()
        invoke()
        samples.append(time.perf_counter() - t)
    p50, p99 = percentiles(samples)
    print(f"GET report (handler, database read included): p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
          f"page {len(page):,} bytes ({len(page) / 2**20:.2f} MiB)")  # fmt: skip

    identity = Identity(user_id=user, org_id=org, role="admin")
    t = time.perf_counter()
    service.report_page(identity, uuid.UUID(audit["audit_id"]))
    print(f"report_page (read + render): {(time.perf_counter() - t) * 1000:.0f} ms")

    report = worst_case()
    render(report)
    samples = []
    for _ in range(max(3, args.runs // 3)):
        t = time.perf_counter()
        html = render(report)
        samples.append(time.perf_counter() - t)
    p50, p99 = percentiles(samples)
    print(f"worst case, 50,000 findings on 50,000 cells, render alone: p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
          f"page {len(html.encode()):,} bytes ({len(html.encode()) / 2**20:.2f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
