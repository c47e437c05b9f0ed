"""Keyset cursors: the documented shape, and every string of that shape is a position."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sheetbrain.errors import ValidationError
from sheetbrain.http.pagination import decode_cursor, encode_cursor

# The pattern as openapi.json states it for ?cursor= (written out here, not read from the code).
DOCUMENTED = r"^([0-9]{1,16}-[0-9a-f]{32})?$"


def test_a_cursor_names_the_row_it_was_made_from() -> None:
    # Given the last row of a page
    at = datetime(2026, 12, 2, 6, 5, 19, 575123, tzinfo=UTC)
    row = uuid.UUID("0f8e4c1a-5b2d-4e6f-8a9b-0c1d2e3f4a5b")
    # When its cursor is made and read back
    cursor = encode_cursor(at, row)
    # Then it has the documented shape and names the same row
    assert cursor == "1796191519575123-0f8e4c1a5b2d4e6f8a9b0c1d2e3f4a5b"
    assert decode_cursor(cursor) == (at, row)


@given(st.from_regex(DOCUMENTED, fullmatch=True))
def test_every_string_of_the_documented_shape_is_accepted(cursor: str) -> None:
    # Given any string the document allows, when it is read, then it is a position (or the first page)
    position = decode_cursor(cursor)
    assert position is None if cursor == "" else position is not None


@pytest.mark.parametrize(
    "cursor",
    [
        "MjAyNi0xMi0wMlQwNjowNToxOS41NzUxMjMrMDA6MDB8MGY4ZQ",  # the former base64 cursors
        "1796191519575123-0F8E4C1A5B2D4E6F8A9B0C1D2E3F4A5B",  # upper-case hex
        "17961915195751230-0f8e4c1a5b2d4e6f8a9b0c1d2e3f4a5b",  # 17 digits
        "1796191519575123-0f8e4c1a5b2d4e6f8a9b0c1d2e3f4a5",  # 31 hex digits
        "\u0661\u0662-0f8e4c1a5b2d4e6f8a9b0c1d2e3f4a5b",  # digits, but not ASCII ones
    ],
)
def test_strings_of_another_shape_are_422(cursor: str) -> None:
    assert re.fullmatch(DOCUMENTED, cursor) is None
    with pytest.raises(ValidationError):
        decode_cursor(cursor)
