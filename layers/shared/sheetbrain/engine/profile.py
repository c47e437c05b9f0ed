"""Policy profiles: which checks run, at what severity, with which parameters.

A frozen dataclass (not pydantic) keeps the audit package's cold import small; ``to_dict`` /
``from_dict`` give the JSON shape stored with each policy, and ``from_dict`` validates it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sheetbrain.engine.checks.catalogue import CHECKS
from sheetbrain.errors import ValidationError
from sheetbrain.severity import SEVERITIES


@dataclass(frozen=True)
class PolicyProfile:
    """Enable/disable checks, override severities and fill parameters.

    ``enabled`` is an allow-list (``None`` = every check); ``disabled`` is removed from it.
    ``parameters`` maps a check id to overrides of its parameters, e.g.
    ``{"FX07": {"watched": {"vat_rate": 0.2}}}`` makes a literal 0.2 a watched constant.
    """

    enabled: tuple[str, ...] | None = None
    disabled: tuple[str, ...] = ()
    severities: dict[str, str] = field(default_factory=dict, hash=False)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for rule in (*(self.enabled or ()), *self.disabled, *self.severities, *self.parameters):
            if rule not in CHECKS:
                raise ValidationError(f"unknown check id {rule!r}", details={"rule": rule})
        for rule, severity in self.severities.items():
            if severity not in SEVERITIES:
                raise ValidationError(
                    f"unknown severity {severity!r} for {rule}", details={"rule": rule, "severity": severity}
                )
        for rule, params in self.parameters.items():
            unknown = set(params) - set(CHECKS[rule].params)
            if unknown:
                raise ValidationError(f"unknown parameters for {rule}: {sorted(unknown)}", details={"rule": rule})

    def is_enabled(self, rule: str) -> bool:
        """Whether the check runs under this profile."""
        if rule in self.disabled:
            return False
        return self.enabled is None or rule in self.enabled

    def severity(self, rule: str) -> str:
        """Effective default severity of a check."""
        return self.severities.get(rule, CHECKS[rule].severity)

    def params(self, rule: str) -> dict[str, Any]:
        """Effective parameters of a check: catalogue defaults overlaid with this profile's values."""
        return {**CHECKS[rule].params, **self.parameters.get(rule, {})}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stable key order."""
        return {
            "enabled": list(self.enabled) if self.enabled is not None else None,
            "disabled": list(self.disabled),
            "severities": dict(sorted(self.severities.items())),
            "parameters": {k: self.parameters[k] for k in sorted(self.parameters)},
        }

    def to_json(self) -> str:
        """Serialise for storage with a policy."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyProfile:
        """Build and validate a profile from its stored form."""
        if not isinstance(data, dict):
            raise ValidationError("policy profile must be an object")
        unknown = set(data) - {"enabled", "disabled", "severities", "parameters"}
        if unknown:
            raise ValidationError(f"unknown profile fields: {sorted(unknown)}")
        enabled = data.get("enabled")
        try:
            return cls(
                enabled=tuple(enabled) if enabled is not None else None,
                disabled=tuple(data.get("disabled") or ()),
                severities=dict(data.get("severities") or {}),
                parameters={k: dict(v) for k, v in (data.get("parameters") or {}).items()},
            )
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"malformed policy profile: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> PolicyProfile:
        """Inverse of ``to_json``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"policy profile is not JSON: {exc.msg}") from exc
        return cls.from_dict(data)


DEFAULT_PROFILE = PolicyProfile()
