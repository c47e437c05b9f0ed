"""The audit's HTML page: heat map layout, escaping, the CSP's hashes, bounds."""

from __future__ import annotations

import base64
import hashlib
import html
import re

from sheetbrain.reporting import html_report
from sheetbrain.reporting.grid_map import GridMap, map_from_findings, map_grid
from sheetbrain.reporting.html_report import Cell, ReportFinding, ReportInput, Row, heat_map, render

CITED = {"title": "Controls", "clause": "1.1", "excerpt": "Lookups use exact match."}


def finding(cell: str | None, severity: str = "high", rule: str = "FX02", **more: object) -> ReportFinding:
    values: dict[str, object] = {"formula": "=A1", "message": "m", "suggestion": None, "policy": None} | more
    return ReportFinding(cell, rule=rule, severity=severity, **values)  # type: ignore[arg-type]


def report(findings: list[ReportFinding], maps: list[GridMap]) -> str:
    return render(ReportInput("Audit", [("Audit", "a1")], findings, maps, "GET /api/audits/a1 has them all."))


def test_runs_of_empty_rows_and_columns_are_drawn_as_one() -> None:
    # Given a grid from B2: a row with a formula, a value and a flagged formula four columns
    # apart, two empty rows, then a row with one value
    grid = map_grid("S", [["=1", None, None, None, None, "=2"], [], [], [None]], [[None, 7], [], [], [None, 8]], "B2")
    # When it is drawn with G2 flagged high
    drawn = heat_map(grid, {(2, 7): "high"})
    # Then columns D-F (empty throughout) are one, rows 3-4 are one, empty cells of a row merge
    assert drawn.columns == [("B", False), ("C", False), ("D\u2013F", True), ("G", False)]
    assert drawn.rows == [
        Row("2", 0, [Cell("f", 1), Cell("v", 1), Cell(".", 1), Cell("f", 1, "G2", "high")]),
        Row("3\u20134", 2, [Cell(".", 4)]),
        Row("5", 0, [Cell(".", 1), Cell("v", 1), Cell(".", 2)]),
    ]
    assert drawn.flagged == 1


def test_a_whole_sheet_range_without_a_map_draws_only_the_flagged_cells_rows() -> None:
    # Given an audit recorded before maps were kept, of A1:XFD1048576, with one flagged cell C5
    grid = map_from_findings("S", "A1:XFD1048576", [(5, 3)])
    drawn = heat_map(grid, {(5, 3): "low"})
    # Then three rows and three columns are drawn, whatever the sheet's size
    assert drawn.columns == [("A\u2013B", True), ("C", False), ("D\u2013XFD", True)]
    assert [r.label for r in drawn.rows] == ["1\u20134", "5", "6\u20131048576"]
    assert drawn.rows[1].cells == [Cell("", 1), Cell("", 1, "C5", "low"), Cell("", 1)]


def test_a_cell_shows_its_highest_severity_as_colour_attribute_and_letter() -> None:
    # Given two findings on B1, low and critical, and one on A1
    page = report(
        [finding("S!B1", "low"), finding("S!B1", "critical", "FX14"), finding("S!A1", "medium")],
        [map_grid("S", [["=1", "=2"]], None, "A1")],
    )
    # Then B1 is marked critical, A1 medium, each with its letter
    assert '<td data-cell="B1" data-severity="critical">C' in page
    assert '<td data-cell="A1" data-severity="medium">M' in page


def test_user_text_comes_out_inert() -> None:
    # Given a sheet name, a formula, a message, a suggestion and a policy excerpt holding markup
    evil = "<script>alert('x')</script>\"'&"
    page = report(
        [
            finding(
                f"{evil}!A1",
                formula=f'="{evil}"',
                message=evil,
                suggestion=evil,
                policy={"title": evil, "clause": evil, "excerpt": evil},
            )
        ],
        [map_grid(evil, [['="<script>"']], None, "A1")],
    )
    # Then none of it is markup: the page's one script element is its own
    assert page.count("<script") == 1 and page.count("</script>") == 1
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&#39;&amp;"
    assert f'<table data-sheet="{escaped}">' in page
    assert f'<tr data-cell="{escaped}!A1"' in page
    assert f"<code>=&#34;{escaped}&#34;</code>" in page
    assert f"<blockquote>{escaped}</blockquote>" in page
    assert "alert('x')" not in page


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_policy_allows_the_pages_own_style_and_script_and_nothing_else() -> None:
    page = report([finding("S!A1")], [map_grid("S", [["=1"]], None, "A1")])
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert style and script
    expected = (
        f"default-src 'none'; style-src {_hash(style.group(1))}; script-src {_hash(script.group(1))}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert meta and html.unescape(meta.group(1)) == expected
    assert html_report.content_security_policy() == expected + "; frame-ancestors 'none'"
    # No attribute styles or handlers, which the policy would block (or would have to allow)
    assert not re.search(r"\sstyle=|\son[a-z]+=", page)


def test_the_table_lists_the_most_severe_and_counts_the_rest() -> None:
    # Given one more finding than the table holds: the last one the only critical
    findings = [finding(f"S!A{i}", "low", "FX09") for i in range(1, html_report.TABLE_LIMIT + 1)]
    findings.append(finding("S!B1", "critical", "FX14", policy=CITED))
    page = report(findings, [])
    # Then the critical one leads the table, one low finding is counted, not listed
    rows = re.findall(r'<tr data-cell="([^"]*)" data-rank="(\d)" data-i="(\d+)">', page)
    assert len(rows) == html_report.TABLE_LIMIT
    assert rows[0] == ("S!B1", "0", str(html_report.TABLE_LIMIT))
    assert "the other 1 are counted here by severity and rule (1 low FX09)" in page
    assert "GET /api/audits/a1 has them all." in page
    # And the citation shows in its row, and once in full below
    assert "Controls, clause 1.1: <q>Lookups use exact match.</q>" in page
    assert "<h3>FX14: Controls, clause 1.1</h3>\n<blockquote>Lookups use exact match.</blockquote>" in page


def test_the_chart_labels_each_bar_with_text() -> None:
    page = report([finding(None, "high"), finding(None, "high"), finding(None, "info", "FX40")], [])
    # Then the severity chart names each severity and its count; the rule chart each rule
    assert '<text x="0" y="42">high</text><rect class="high" x="80" y="30" width="220.0" height="16"></rect>' in page
    assert '<text x="304.0" y="42">2</text>' in page
    assert '<text x="0" y="16">FX02 (H)</text>' in page and '<text x="0" y="42">FX40 (i)</text>' in page
    # And a list of formulas has no grid to draw
    assert "This audit was of a list of formulas" in page


def test_long_texts_are_clipped_in_the_table() -> None:
    page = report([finding("S!A1", formula="=" + "1+" * 5000 + "1")], [])
    shown = re.search(r"<td><code>(=1\+[^<]*)</code></td>", page)
    assert shown and len(shown.group(1)) == html_report.CLIP["formula"] and shown.group(1).endswith("…")
