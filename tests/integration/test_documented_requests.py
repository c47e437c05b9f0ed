"""Requests that openapi.json allows are answered, and what it forbids is refused: the cases
schemathesis found refused though documented (issue 15, item 7), each through its handler."""

from __future__ import annotations

import uuid

import pytest
from sheetbrain_dev.database import DatabaseUrls

from tests.integration.test_policies import multipart
from tests.support import call, claims_for


@pytest.fixture
def admin(database: DatabaseUrls) -> dict[str, str]:
    return claims_for(f"user_doc{uuid.uuid4().hex[:8]}", f"org_doc{uuid.uuid4().hex[:8]}", "org:admin")


@pytest.mark.parametrize("path", ["/api/audits", "/api/policies"])
def test_any_cursor_of_the_documented_shape_is_a_position(admin: dict[str, str], path: str) -> None:
    # Given a cursor no page handed out, of the documented shape
    reply = call("GET", path, claims=admin, query="cursor=0000000000000000-" + "0" * 32)
    # Then it names a point before every row: an empty page, not a 422
    assert reply.status == 200
    assert reply.json()["next_cursor"] is None


def test_a_daily_window_longer_than_400_days_is_answered_in_pages(admin: dict[str, str]) -> None:
    # Given a daily window of two years
    reply = call("GET", "/api/usage", claims=admin, query="from=2000-01-01&to=2001-12-31")
    # Then its first 400 days are answered, with where the next page starts
    assert reply.status == 200
    assert reply.json() == {"metric": "audits", "granularity": "day", "points": [], "next_from": "2001-02-04"}


def test_a_window_starting_after_its_end_is_empty(admin: dict[str, str]) -> None:
    reply = call("GET", "/api/usage", claims=admin, query="from=2030-01-02&to=2030-01-01")
    assert reply.status == 200
    assert reply.json() == {"metric": "audits", "granularity": "day", "points": [], "next_from": None}


def test_a_formula_of_a_character_ecma_does_not_take_for_white_space_is_audited(admin: dict[str, str]) -> None:
    # Given a formula of one U+001C (white space to Python's str.strip, not to JSON Schema's \s)
    reply = call("POST", "/api/audit", claims=admin, body={"formulas": ["\x1c"]})
    # Then it is answered as the document promises, not refused as blank
    assert reply.status == 200


@pytest.mark.parametrize("value", [0, 1, "true"])
def test_ai_review_is_a_json_boolean_only(admin: dict[str, str], value: object) -> None:
    reply = call("POST", "/api/audit", claims=admin, body={"formulas": ["=A1"], "ai_review": value})
    assert reply.status == 422
    assert reply.json()["error"]["details"]["fields"][0]["field"] == "body.ai_review"


def test_json_policy_content_with_control_characters_is_422(admin: dict[str, str]) -> None:
    reply = call("POST", "/api/ingest", claims=admin, body={"title": "T", "content": "1. No links.\x84"})
    assert reply.status == 422
    assert reply.json()["error"]["details"]["fields"][0]["field"] == "body.content"


def test_a_text_upload_with_control_characters_is_422(admin: dict[str, str]) -> None:
    # Given a multipart text file holding one C1 control character (the extractor allows two)
    body, content_type = multipart({"file": (None, "1. No links.\x84".encode(), None)})
    reply = call("POST", "/api/ingest", claims=admin, raw_body=body, headers={"content-type": content_type})
    assert reply.status == 422
    assert reply.json()["error"]["details"] == {"field": "body.file"}
