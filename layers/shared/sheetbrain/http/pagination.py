"""Keyset cursors: (created_at, id) of the last row of a page.

A cursor is the row's time in microseconds since 1970 (UTC) and its id's 32 hex digits,
``1764672000123456-0f8e...``. Its shape is stated as ``CURSOR_PATTERN`` in the OpenAPI document,
and every string of that shape is a position the list can continue from (a cursor of another
deployment, or a made-up one, simply names a point in time), so a client following the document
never sends one that is refused. The empty string means the first page, as no cursor does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sheetbrain.errors import ValidationError

# 16 digits reach the year 2286: every value of this shape is a datetime Python can hold.
CURSOR_PATTERN = r"^([0-9]{1,16}-[0-9a-f]{32})?$"
CURSOR_DESCRIPTION = "`next_cursor` of the previous page (opaque to clients; empty or absent for the first page)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor that continues after the row (``created_at``, ``row_id``)."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row_id.hex}"


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position a cursor names; 422 for anything not of the documented shape."""
    if not cursor:
        return None
    micros, sep, hex_id = cursor.partition("-")
    if not (sep and micros.isascii() and micros.isdigit() and 0 < len(micros) <= 16 and len(hex_id) == 32):
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"})
    try:
        row_id = uuid.UUID(hex=hex_id)
    except ValueError as exc:
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"}) from exc
    if hex_id != row_id.hex:  # upper-case hex is not of our shape
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"})
    return _EPOCH + timedelta(microseconds=int(micros)), row_id


# Rows whose id is a number (the notification history): the same time part, then the id in decimal.
INT_CURSOR_PATTERN = r"^([0-9]{1,16}-[0-9]{1,18})?$"


def encode_int_cursor(created_at: datetime, row_id: int) -> str:
    """The cursor that continues after the row (``created_at``, ``row_id``) of a numbered table."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row_id}"


def decode_int_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position an ``encode_int_cursor`` cursor names; 422 for anything not of its documented shape."""
    if not cursor:
        return None
    micros, sep, digits = cursor.partition("-")
    shaped = sep and micros.isascii() and micros.isdigit() and 0 < len(micros) <= 16
    if not (shaped and digits.isascii() and digits.isdigit() and 0 < len(digits) <= 18):
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"})
    return _EPOCH + timedelta(microseconds=int(micros)), int(digits)
