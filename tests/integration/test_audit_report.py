"""GET /api/audits/{id}/report through the handler: the page, its headers, its authorization,
user text made inert, and audits without a stored grid layout."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for

EVIL = "<script>alert(1)</script>"
POLICY = f"""# Spreadsheet controls

## 1. Lookups
1.1 All lookups must use exact match. {EVIL}
"""
GRID = {
    "sheet": {
        "name": "Q3",
        "range": "B2:D5",
        "formulas": [["", "", ""], ["", "=VLOOKUP(B3, Rates!A:B, 2)", "=C3*0.2"], [], ["", "=C3/0", ""]],
        "values": [["Item", "Price", "VAT"], ["Pen", 10, 2]],
    }
}


@pytest.fixture
def claims(database: DatabaseUrls) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    claims = claims_for(f"user_rep{suffix}", f"org_rep{suffix}", "org:admin")
    assert call("POST", "/api/ingest", claims=claims, body={"title": "Controls", "content": POLICY}).status == 201
    return claims


def audit(claims: dict[str, str], body: dict[str, object]) -> str:
    reply = call("POST", "/api/audit", claims=claims, body=body)
    assert reply.status == 200, reply.json()
    return str(reply.json()["audit_id"])


def test_a_grid_audit_is_a_page_with_its_heat_map_table_and_citations(claims: dict[str, str]) -> None:
    # Given a grid audit of B2:D5 with an approximate lookup in C3 and a division by zero in C5
    audit_id = audit(claims, GRID)
    # When its report is fetched
    reply = call("GET", f"/api/audits/{audit_id}/report", claims=claims)
    # Then it is HTML with a policy that allows nothing external, and is never cached by others
    assert reply.status == 200
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    policy = reply.header("Content-Security-Policy") or ""
    assert policy.startswith("default-src 'none'; style-src 'sha256-") and policy.endswith("frame-ancestors 'none'")
    assert "http" not in policy and "*" not in policy and "unsafe" not in policy
    assert reply.header("Cache-Control") == "private, no-store" and reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("X-Request-Id") and reply.header("RateLimit-Limit")
    page = reply.body.decode()
    # And the heat map draws the grid from B2 with the flagged cells marked by their highest severity
    assert '<th scope="col">B</th><th scope="col">C</th><th scope="col">D</th>' in page
    assert '<td data-cell="C3" data-severity="high">H' in page
    assert '<td data-cell="C5" data-severity="critical">C' in page
    assert '<tr><th scope="row">2<td class=v><td class=v><td class=v></tr>' in page
    assert '<tr><th scope="row">4<td colspan=3></tr>' in page
    # And the table cites the clause, its excerpt's markup inert
    cited = "Controls: <q>1.1 All lookups must use exact match. &lt;script&gt;alert(1)&lt;/script&gt;</q>"
    assert "<td>FX02</td><td>VLOOKUP uses approximate match</td>" in page and f"<td>{cited}</td>" in page
    assert EVIL not in page and page.count("<script") == 1


def test_another_orgs_audit_is_not_found(claims: dict[str, str]) -> None:
    audit_id = audit(claims, GRID)
    stranger = claims_for(f"user_x{uuid.uuid4().hex[:6]}", f"org_x{uuid.uuid4().hex[:6]}", "org:admin")
    reply = call("GET", f"/api/audits/{audit_id}/report", claims=stranger)
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"
    assert call("GET", f"/api/audits/{uuid.uuid4()}/report", claims=claims).status == 404
    assert call("GET", "/api/audits/not-a-uuid/report", claims=claims).status == 404
    assert call("GET", f"/api/audits/{audit_id}/report").status == 401


def test_a_sheet_name_and_formula_holding_script_come_out_inert(claims: dict[str, str]) -> None:
    # Given a sheet named with a script element and a formula quoting one, divided by zero
    audit_id = audit(claims, {"sheet": {"name": EVIL, "formulas": [[f'=LEN("{EVIL}")/0']]}})
    page = call("GET", f"/api/audits/{audit_id}/report", claims=claims).body.decode()
    # Then the page's only script element is its own, and the texts show escaped
    assert page.count("<script") == 1 and EVIL not in page
    assert '<table data-sheet="&lt;script&gt;alert(1)&lt;/script&gt;">' in page
    assert "<code>=LEN(&#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;)/0</code>" in page
    assert "<title>Audit of &lt;script&gt;alert(1)&lt;/script&gt;</title>" in page


def test_a_list_of_formulas_has_no_grid_to_draw(claims: dict[str, str]) -> None:
    audit_id = audit(claims, {"formulas": ["=VLOOKUP(B2, Sheet1!A:B, 2)"]})
    page = call("GET", f"/api/audits/{audit_id}/report", claims=claims).body.decode()
    assert "This audit was of a list of formulas, not of a sheet" in page and "<td data-cell=" not in page
    assert re.search(r'<tr data-cell="" data-rank="1" data-i="0"><td>—</td>', page)


def test_an_audit_recorded_without_a_layout_draws_its_flagged_cells(
    claims: dict[str, str], database: DatabaseUrls
) -> None:
    # Given a grid audit whose layout is missing, as for audits recorded before sql/0017
    audit_id = audit(claims, GRID)
    with psycopg.connect(database.owner, autocommit=True) as conn:
        conn.execute("UPDATE audits SET grid_map = NULL WHERE id = %s", (audit_id,))
    # When its report is fetched
    page = call("GET", f"/api/audits/{audit_id}/report", claims=claims).body.decode()
    # Then the range is drawn with only its flagged cells, and the page says why
    assert "only its flagged cells are shown" in page
    assert '<td data-cell="C3" data-severity="high">H' in page
    assert '<td data-cell="C5" data-severity="critical">C' in page
    assert '<tr class="gap"><th scope="row">2</th>' not in page  # a single empty row is drawn as a row
