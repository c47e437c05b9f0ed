"""The severity scale of findings, most severe first: the one home of its words, their order
and the thresholds read on it.

The engine's checks, the policy profiles, the audit summary, the report and the CLI all import
it; ``sql/0007_audits.sql`` checks the same five words in the database (a landed migration is
never edited, so ``tests/unit/test_one_home.py`` holds the two together). Stdlib only: the
audit function loads it without loading the engine.
"""

from __future__ import annotations

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
# Position on the scale, 0 the most severe: what a list of findings is sorted by.
RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# Weight, higher the more severe (info 0 ... critical 4): what "the stricter of two" compares.
STRENGTH: dict[str, int] = {severity: len(SEVERITIES) - 1 - rank for severity, rank in RANK.items()}


def at_least(floor: str) -> frozenset[str]:
    """The severities as severe as ``floor`` or more."""
    return frozenset(SEVERITIES[: RANK[floor] + 1])


# A formula with a finding of one of these is not compliant (the audit's ``compliant`` count).
NON_COMPLIANT = at_least("medium")
# A finding of one of these fails a run (``sheetbrain audit`` exits 1) and is the engine's "flag".
BLOCKING = at_least("high")
