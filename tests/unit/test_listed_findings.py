"""An audit lists its most severe findings up to a count and a size; the summary counts them all."""

from __future__ import annotations

import pytest
from sheetbrain.auditing import service
from sheetbrain.engine import Finding


def _finding(i: int, severity: str, formula: str = "=A1") -> Finding:
    return Finding(f"S!A{i}", None, formula, "FX30", severity, "m", None, ())


def test_findings_within_the_bounds_are_listed_as_they_are() -> None:
    findings = [_finding(i, "low") for i in range(10)]
    assert service.listed_findings(findings) is findings


def test_past_the_count_the_most_severe_are_listed_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a bound of 3 and five findings, two of them high
    monkeypatch.setattr(service, "MAX_LISTED_FINDINGS", 3)
    findings = [
        _finding(1, "low"),
        _finding(2, "high"),
        _finding(3, "info"),
        _finding(4, "high"),
        _finding(5, "medium"),
    ]
    # Then the two high and the medium are listed, in the engine's order
    assert [f.cell for f in service.listed_findings(findings)] == ["S!A2", "S!A4", "S!A5"]


def test_past_the_size_the_listing_stops_before_the_bytes_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given room for 10,000 bytes and findings quoting formulas of 4,000 characters (4,161 bytes each)
    monkeypatch.setattr(service, "MAX_LISTED_BYTES", 10_000)
    findings = [_finding(i, "critical", "=" + "A" * 3999) for i in range(5)]
    # Then two are listed (8,322 bytes), not a third (12,483)
    assert [f.cell for f in service.listed_findings(findings)] == ["S!A0", "S!A1"]
