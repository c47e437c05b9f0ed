"""POST /api/audit with a grid as the Sheets add-on sends it (formulas and current values): Excel's
error-checking rules read the values that arrive with the request."""

from __future__ import annotations

import uuid
from typing import Any

from sheetbrain_dev.database import DatabaseUrls

from tests.support import call, claims_for

# Net margin = profit / revenue, with revenue not filled in yet: C2 shows #DIV/0!, C3 doubles it
# (and shows it too), C4 wraps C3 in IFERROR. B5 totals B2:B4, where B3 holds "250" as text.
GRID = {
    "sheet": {
        "name": "Plan",
        "range": "A1:C5",
        "formulas": [
            ["", "", ""],
            ["", "", "=B2/B4"],
            ["", "", "=C2*2"],
            ["", "", "=IFERROR(C3,0)"],
            ["", "=SUM(B2:B4)", ""],
        ],
        "values": [
            ["Item", "Amount", "Margin"],
            ["Profit", 100, "#DIV/0!"],
            ["Costs", "250", "#DIV/0!"],
            ["Revenue", 0, 0],
            ["Total", 100, ""],
        ],
    },
}


def test_a_grid_with_an_error_and_a_number_as_text_gets_one_chain_and_the_skipped_number(
    database: DatabaseUrls,
) -> None:
    # Given a member of a fresh organization
    suffix = uuid.uuid4().hex[:8]
    claims = claims_for(f"user_xr{suffix}", f"org_xr{suffix}", "org:admin")
    # When the grid is audited
    reply = call("POST", "/api/audit", claims=claims, body=GRID)
    # Then the division shows one FX36 naming C3, as advice (a divisor not filled in yet is missing
    # data, not a broken formula), and the text "250" the total skipped is high
    assert reply.status == 200, reply.json()
    findings: list[dict[str, Any]] = reply.json()["findings"]
    picked = [(f["cell"], f["rule"], f["severity"], f["message"]) for f in findings if f["rule"] in ("FX36", "FX37")]
    assert picked == [
        ("Plan!C2", "FX36", "medium", "the formula shows #DIV/0! now; 1 formula reading it shows #DIV/0! too: C3"),
        ("Plan!B3", "FX37", "high", 'number stored as text ("250"): SUM in B5 skips it'),
    ]
