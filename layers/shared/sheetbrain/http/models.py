"""Request bodies: text PostgreSQL can store, checked at the edge.

PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8; either would
otherwise fail deep in a query as a 500. Top-level request models derive from RequestModel,
which walks every string of the parsed body once (nested models stay plain BaseModel)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, model_validator

from sheetbrain.errors import NotFoundError


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return "NUL characters are not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid Unicode (a lone surrogate)"
    return None


def _walk(value: Any, path: str) -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValueError(f"{path}: {problem}")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _walk(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, path)
            _walk(item, f"{path}.{key}")


class RequestModel(BaseModel):
    """A request body whose every string is storable text (422 naming the field otherwise)."""

    @model_validator(mode="after")
    def _storable_text(self) -> RequestModel:
        _walk(self, "body")
        return self


def path_id(raw: str, what: str) -> uuid.UUID:
    """A path id as a UUID. One that is not even a UUID names nothing: 404, as for another
    tenant's id (never a hint that the shape was wrong)."""
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFoundError(f"{what.capitalize()} not found.", details={f"{what}_id": raw}) from exc
