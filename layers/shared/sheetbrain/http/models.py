"""Request bodies: text PostgreSQL can store, checked at the edge.

PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8; either would
otherwise fail deep in a query as a 500. Top-level request models derive from RequestModel,
which checks every string of the parsed body (nested models stay plain BaseModel)."""

import re
import uuid
from typing import Any, Self

from pydantic import BaseModel, model_validator

from sheetbrain.errors import NotFoundError

# What a route states for the OpenAPI document beyond what Powertools generates from its
# signature, under this operation extension: {"requestBody", "parameters"} of a route that reads
# its body or headers itself (multipart, signed webhooks), and "errors" {status: description} it
# answers besides the contract's usual ones. The document's builder moves them into place.
OPENAPI_EXTENSION = "x-sheetbrain-openapi"

# Text with a character other than white space, white space as JSON Schema's (ECMA-262) \s has
# it, so that the document and the check agree on every string (Python's own \s and str.strip
# also take \x1c-\x1f for white space).
NOT_BLANK_PATTERN = "[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return "NUL characters are not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid Unicode (a lone surrogate)"
    return None


# Where a value sits in the body: (parent, segment), its path spelled only when it is reported.
_Where = tuple[Any, str]


def _spell(where: _Where | None) -> str:
    parts: list[str] = []
    while where is not None:
        where, part = where
        parts.append(part)
    return "".join(reversed(parts))


def _all_storable(value: Any) -> bool:
    """Whether every string in ``value`` (dict keys included) is storable: the strings gathered
    without their paths, then checked joined, in C. Joining can neither hide nor make a problem:
    a NUL stays a NUL, and a Python string holds code points, so two lone surrogates side by side
    stay two lone surrogates (they never pair up as UTF-16 would)."""
    strings: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, BaseModel):
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
    return text_problem("".join(strings)) is None


def _walk(value: Any, path: str) -> None:
    """Raise ValueError naming the first string, in document order, that cannot be stored.
    Iterative, so no nesting depth can exhaust Python's stack. Spelling each string's path costs
    several times the check itself, so the walk that names it runs only when there is one."""
    if _all_storable(value):
        return
    stack: list[tuple[Any, _Where]] = [(value, (None, path))]
    while stack:
        item, where = stack.pop()
        children: list[tuple[Any, _Where]]
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise ValueError(f"{_spell(where)}: {problem}")
            continue
        if isinstance(item, BaseModel):
            children = [(getattr(item, name), (where, f".{name}")) for name in type(item).model_fields]
        elif isinstance(item, list | tuple):
            children = [(child, (where, f"[{i}]")) for i, child in enumerate(item)]
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                children += [(key, where), (child, (where, f".{key}"))]
        else:
            continue
        stack.extend(reversed(children))


class RequestModel(BaseModel):
    """A request body whose every string is storable text (422 naming the field otherwise)."""

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        _walk(self, "body")
        return self


def path_id(raw: str, what: str) -> uuid.UUID:
    """A path id as a UUID. One that is not even a UUID names nothing: 404, as for another
    tenant's id (never a hint that the shape was wrong)."""
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFoundError(f"{what.capitalize()} not found.", details={f"{what}_id": raw}) from exc
