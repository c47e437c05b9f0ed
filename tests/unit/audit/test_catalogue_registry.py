"""The check catalogue and the checks that run agree: a new check is one catalogue entry and one
registration, and a mismatch fails here rather than as a KeyError in an audit."""

from __future__ import annotations

from sheetbrain.engine.checks.catalogue import CHECKS
from sheetbrain.engine.checks.formula import FORMULA_CHECKS
from sheetbrain.engine.checks.sheet import SHEET_CHECKS
from sheetbrain.engine.engine import ENGINE_RULES

FORMULA_RULES = [rule for rules, _ in FORMULA_CHECKS for rule in rules]
SHEET_RULES = [rule for rules, _ in SHEET_CHECKS for rule in rules]


def test_every_catalogued_rule_is_emitted_by_exactly_one_check_or_the_engine() -> None:
    # Given the rules each registered check may emit, and the engine's own (parse failure, budget stop)
    emitted = FORMULA_RULES + SHEET_RULES + list(ENGINE_RULES)
    # Then each rule is emitted by one of them only, and together they are the catalogue
    assert len(emitted) == len(set(emitted))
    assert sorted(emitted) == sorted(CHECKS)
    assert len(CHECKS) == 44  # FX00-FX42 and FX90


def test_a_rules_scope_is_the_registry_that_runs_it() -> None:
    # Given the catalogue's scope of each rule ("formula": one formula; "sheet": the grid around it)
    # Then formula checks emit formula rules, sheet checks sheet rules
    assert {CHECKS[rule].scope for rule in FORMULA_RULES} == {"formula"}
    assert {CHECKS[rule].scope for rule in SHEET_RULES} == {"sheet"}
    assert [CHECKS[rule].scope for rule in ENGINE_RULES] == ["formula", "sheet"]
