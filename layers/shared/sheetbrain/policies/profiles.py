"""From policy clauses to the audit engine: concepts found in a policy become a PolicyProfile
(checks raised in severity, parameters filled), and an org's policies merge into one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sheetbrain.policies import concepts as cm
from sheetbrain.severity import STRENGTH as _RANK

if TYPE_CHECKING:
    from sheetbrain.engine import PolicyProfile
    from sheetbrain.policies.clause_map import ClauseRule


# A clause that governs a concept makes its checks at least this severe: the policy turned
# advice into a rule of the house.
_SEVERITIES: dict[str, dict[str, str]] = {
    cm.APPROXIMATE_LOOKUP: {"FX02": "high", "FX03": "high", "FX04": "high"},
    cm.EXTERNAL_LINK: {"FX22": "high"},
    cm.WEB_IMPORT: {"FX23": "critical"},
    cm.VOLATILE: {"FX01": "medium"},
    cm.HARDCODED_CONSTANT: {"FX07": "high"},
    cm.WHOLE_COLUMN_RANGE: {"FX08": "medium", "FX09": "medium"},
    cm.IFERROR_MASKING: {"FX12": "high"},
    cm.UNGUARDED_DIVISION: {"FX13": "medium"},
    cm.NESTING_DEPTH: {"FX10": "medium"},
    cm.FORMULA_LENGTH: {"FX11": "medium"},
    cm.ERROR_LITERAL: {"FX16": "high"},
    cm.PLATFORM_FUNCTION: {"FX21": "high"},
}

# Which checks a concept governs: the policy a finding of that check should cite.
CHECKS_BY_CONCEPT: dict[str, tuple[str, ...]] = {concept: tuple(checks) for concept, checks in _SEVERITIES.items()}


def _constant_key(name: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return key or "constant"


def profile_from_rules(rules: Iterable[ClauseRule]) -> PolicyProfile:
    """The profile one policy's rules make."""
    from sheetbrain.engine import PolicyProfile  # the engine package loads on first use

    severities: dict[str, str] = {}
    params: dict[str, dict[str, Any]] = {}
    for rule in rules:
        for concept in rule.check_tags:
            for check, severity in _SEVERITIES.get(concept, {}).items():
                if _RANK[severity] > _RANK.get(severities.get(check, "info"), 0):
                    severities[check] = severity
            if concept == cm.HARDCODED_CONSTANT and "value" in rule.params:
                watched = params.setdefault("FX07", {}).setdefault("watched", {})
                watched[_constant_key(str(rule.params.get("name") or "constant"))] = float(rule.params["value"])
            elif concept == cm.NESTING_DEPTH and "max_depth" in rule.params:
                params.setdefault("FX10", {})["max_depth"] = int(rule.params["max_depth"])
            elif concept == cm.FORMULA_LENGTH and "max_length" in rule.params:
                params.setdefault("FX11", {})["max_length"] = int(rule.params["max_length"])
    return PolicyProfile(severities=severities, parameters=params)


def merge_profiles(profiles: Iterable[PolicyProfile]) -> PolicyProfile:
    """One profile for an org: the strictest severity, the tightest limits, every watched constant."""
    from sheetbrain.engine import PolicyProfile

    severities: dict[str, str] = {}
    params: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        for check, severity in profile.severities.items():
            if _RANK[severity] > _RANK.get(severities.get(check, "info"), -1):
                severities[check] = severity
        for check, values in profile.parameters.items():
            merged = params.setdefault(check, {})
            for key, value in values.items():
                if key == "watched":
                    merged.setdefault("watched", {}).update(value)
                elif key in ("max_depth", "max_length", "max_ifs") and key in merged:
                    merged[key] = min(merged[key], value)
                else:
                    merged[key] = value
    return PolicyProfile(severities=severities, parameters=params)
