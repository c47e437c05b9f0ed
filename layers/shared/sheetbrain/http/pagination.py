"""Opaque keyset cursors: (created_at, id) of the last row of a page."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from sheetbrain.errors import ValidationError


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position a cursor names; 422 for anything that is not one of ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|")
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"}) from exc


def encode_int_cursor(created_at: datetime, row_id: int) -> str:
    """A cursor for rows whose id is a number (the notification history)."""
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_int_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position an ``encode_int_cursor`` cursor names; 422 for anything that is not one."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|")
        value = int(row_id)
        if not 0 < value < 2**63:
            raise ValueError(row_id)
        return datetime.fromisoformat(at), value
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("The cursor is not valid.", details={"field": "query.cursor"}) from exc
