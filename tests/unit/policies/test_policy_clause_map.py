"""Clause mapping: each concept from realistic wording, and wording that must not match."""

from __future__ import annotations

from typing import Any

import pytest
from sheetbrain.policies.clause_map import CONCEPTS, ClauseMapping, PolicyClause, map_clauses, map_text

POSITIVE: list[tuple[str, str, dict[str, Any]]] = [
    ("Lookups must use exact match.", "approximate_lookup", {}),
    ("Approximate match lookups are prohibited.", "approximate_lookup", {}),
    ("VLOOKUP must never be called with range_lookup set to TRUE.", "approximate_lookup", {}),
    ("No external data sources may be used.", "external_link", {}),
    ("No external data sources may be used.", "web_import", {}),
    ("Links to other workbooks are not permitted.", "external_link", {}),
    ("Data must not be imported from the web with IMPORTXML or WEBSERVICE.", "web_import", {}),
    ("Volatile functions such as NOW() and OFFSET must not be used.", "volatile", {}),
    ("Do not use INDIRECT().", "volatile", {}),
    ("VAT is 20%.", "hardcoded_constant", {"value": 0.2, "name": "VAT"}),
    ("The standard VAT rate is 20%.", "hardcoded_constant", {"value": 0.2, "name": "VAT"}),
    (
        "The corporation tax rate is 25 percent.",
        "hardcoded_constant",
        {"value": 0.25, "name": "corporation tax rate"},
    ),
    (
        "The EUR/USD exchange rate is set at 1.08.",
        "hardcoded_constant",
        {"value": 1.08, "name": "EUR/USD exchange rate"},
    ),
    ("Hard-coded numbers inside formulas are prohibited.", "hardcoded_constant", {}),
    ("Whole-column references such as A:A are prohibited.", "whole_column_range", {}),
    ("Ranges must be bounded to the data they cover.", "whole_column_range", {}),
    ("IFERROR must not be used to hide errors.", "iferror_masking", {}),
    ("Errors must never be suppressed.", "iferror_masking", {}),
    ("Every division must be guarded against a zero denominator.", "unguarded_division", {}),
    ("Formulas must prevent division by zero.", "unguarded_division", {}),
    ("Formulas must not nest more than 3 functions deep.", "nesting_depth", {"max_depth": 3}),
    ("Formulas should have no more than three nested IF functions.", "nesting_depth", {"max_depth": 3}),
    ("Nesting depth must not exceed 4 levels.", "nesting_depth", {"max_depth": 4}),
    ("Nesting must be fewer than 5 levels deep.", "nesting_depth", {"max_depth": 4}),
    ("Formulas must not exceed 250 characters.", "formula_length", {"max_length": 250}),
    ("Formula length must be under 200 characters.", "formula_length", {"max_length": 199}),
    ("Workbooks must be free of #REF! and #N/A errors.", "error_literal", {}),
    ("Error values must not appear in reported cells.", "error_literal", {}),
    ("Only functions available in both Excel and Google Sheets may be used.", "platform_function", {}),
    ("Platform-specific functions such as QUERY() are not allowed.", "platform_function", {}),
]

NEGATIVE = [
    "Approximate match may be used for tiered commission tables.",
    "External auditors review the workbook annually.",
    "Use IFERROR to handle expected lookup misses.",
    "VAT returns are filed quarterly.",
    "At least 20% of formulas are sampled each quarter.",
    "The report is volatile during month-end close.",
    "This policy applies to all finance staff.",
    "Today the controller signs off the pack.",
    "Formulas deeper than 3 levels are reviewed by a peer.",
    "Revenue grew 20% last year.",
    "The VAT rate is not 20% for food.",
    "Full-column references are allowed in pivot sources.",
]


@pytest.mark.parametrize(("text", "tag", "params"), POSITIVE, ids=[f"{t}:{x[:30]}" for x, t, _ in POSITIVE])
def test_clause_maps_to_concept(text: str, tag: str, params: dict[str, Any]) -> None:
    # Given a policy sentence that governs a formula risk
    # When it is mapped
    rules = map_text(text, clause="3.2")

    # Then a rule with the concept (and its parameters) is found, citing the clause
    matching = [r for r in rules if tag in r.check_tags]
    assert matching, f"{tag} not found in {rules}"
    assert matching[0].params == params
    assert matching[0].clause == "3.2"
    assert matching[0].text == text


@pytest.mark.parametrize("text", NEGATIVE)
def test_clause_that_must_not_match(text: str) -> None:
    # Given a sentence that permits, describes or merely mentions a topic
    # When it is mapped, Then no rule is produced
    assert map_text(text) == []


def test_every_concept_is_covered_by_a_positive_case() -> None:
    # Given the stable concept list, Then every concept has a test sentence above
    assert {tag for _, tag, _ in POSITIVE} == set(CONCEPTS)


def test_policy_mapping_keeps_unmatched_clauses_and_deduplicates() -> None:
    # Given chunks of a policy, two of which overlap on the same sentence
    clauses = [
        PolicyClause("1", "This policy applies to all finance workbooks."),
        PolicyClause("3.2", "Lookups must use exact match. VAT is 20%."),
        PolicyClause("3.2", "VAT is 20%. Reviewers sign off quarterly."),
        PolicyClause("4", "No external data sources."),
    ]

    # When the policy is mapped
    mapping = map_clauses(clauses)

    # Then rules are found once each, and the clause without a rule is kept as unmatched
    assert isinstance(mapping, ClauseMapping)
    assert [(r.clause, r.check_tags) for r in mapping.rules] == [
        ("3.2", ("approximate_lookup",)),
        ("3.2", ("hardcoded_constant",)),
        ("4", ("external_link", "web_import")),
    ]
    assert mapping.unmatched == (PolicyClause("1", "This policy applies to all finance workbooks."),)
    assert mapping.tags() == {"approximate_lookup", "hardcoded_constant", "external_link", "web_import"}


def test_mapping_serialises_to_plain_json_data() -> None:
    # Given a mapped policy
    mapping = map_clauses([PolicyClause("2", "VAT is 20%."), PolicyClause(None, "Be kind.")])

    # When serialised, Then it is plain data ready to store with the policy
    assert mapping.to_dict() == {
        "rules": [
            {
                "clause": "2",
                "text": "VAT is 20%.",
                "check_tags": ["hardcoded_constant"],
                "params": {"value": 0.2, "name": "VAT"},
            }
        ],
        "unmatched": [{"clause": None, "text": "Be kind."}],
    }


def test_one_sentence_can_carry_several_rules() -> None:
    # Given a sentence combining a prohibition and a limit
    rules = map_text("External links are prohibited and formulas must not nest more than 2 levels deep.")

    # Then both the tag rule and the parameterised rule are found
    assert {r.check_tags for r in rules} == {("external_link",), ("nesting_depth",)}
    assert next(r for r in rules if r.check_tags == ("nesting_depth",)).params == {"max_depth": 2}
