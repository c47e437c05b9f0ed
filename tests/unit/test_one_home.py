"""Decisions with one home in the code that something outside the code repeats (a landed
migration, the settings, the template): each pair is held together here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sheetbrain.billing.plans import FREE_PLAN, PAID_PLANS
from sheetbrain.config import Settings
from sheetbrain.http.error_body import Error, error_body
from sheetbrain.maintenance.tasks import TASKS
from sheetbrain.severity import BLOCKING, NON_COMPLIANT, RANK, SEVERITIES, STRENGTH
from sheetbrain.webhooks.providers import APPLIERS

ROOT = Path(__file__).resolve().parents[2]


def test_the_severity_scale_is_the_one_the_database_checks() -> None:
    # Given the audit findings table's CHECK on severity (sql/0007, never edited)
    ddl = (ROOT / "sql" / "0007_audits.sql").read_text()
    checked = re.search(r"severity\s+text NOT NULL CHECK \(severity IN \(([^)]*)\)\)", ddl)
    assert checked is not None
    # Then it names the scale's five words, most severe first
    assert tuple(re.findall(r"'([a-z]+)'", checked.group(1))) == SEVERITIES
    assert SEVERITIES == ("critical", "high", "medium", "low", "info")


def test_the_scales_views_agree() -> None:
    # Given the scale, When read as ranks, weights and thresholds, Then they say the same order
    assert RANK == {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    assert STRENGTH == {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    assert sorted(NON_COMPLIANT, key=RANK.get) == ["critical", "high", "medium"]
    assert sorted(BLOCKING, key=RANK.get) == ["critical", "high"]


def test_the_plans_are_the_ones_the_database_sells_and_each_paid_one_has_its_price_setting() -> None:
    # Given the plans seeded by sql/0004
    ddl = (ROOT / "sql" / "0004_billing_and_metering.sql").read_text()
    seeded = re.findall(r"\('([a-z]+)', '[A-Z][a-z]+', \d+, \d+\)", ddl)
    # Then they are the free plan and the paid ones, and STRIPE_PRICE_<PLAN> exists for each paid one
    assert seeded == ["free", "pro", "business", "enterprise"]
    assert [FREE_PLAN, *PAID_PLANS] == seeded
    assert {f"stripe_price_{plan}" for plan in PAID_PLANS} <= set(Settings.model_fields)


def test_each_provider_with_an_applier_has_its_webhook_route() -> None:
    # Given the template's routes
    template = (ROOT / "template.yaml").read_text()
    routes = set(re.findall(r"Path: /api/webhooks/([a-z]+)", template))
    # Then the providers applied are exactly those a signed route receives
    assert set(APPLIERS) == routes == {"clerk", "stripe"}


def test_the_error_body_is_the_documented_shape() -> None:
    # Given an error answered with details
    body = error_body("quota_exceeded", "The plan's audits are used up.", {"limit": 10})
    # Then it is the Error model's JSON, the contract's shape
    expected = {
        "error": {"code": "quota_exceeded", "message": "The plan's audits are used up.", "details": {"limit": 10}}
    }
    assert json.loads(body) == expected
    assert Error.model_validate_json(body).error.details == {"limit": 10}
    assert error_body("route_not_found", "No such route.") == (
        '{"error": {"code": "route_not_found", "message": "No such route.", "details": {}}}'
    )


def test_each_scheduled_task_name_is_a_registered_task() -> None:
    # Given the cleanup function's EventBridge schedules
    template = (ROOT / "template.yaml").read_text()
    scheduled = re.findall(r"""Input: '\{"task": "([a-z]+)"\}'""", template)
    # Then the registry maps exactly those names, once each
    assert sorted(scheduled) == sorted(TASKS) == ["alerts", "cleanup", "purge", "reembed", "retention", "rollup"]
