"""The JSON shape every error of the API is answered in: its one home.

``http.errors`` answers with it, the OpenAPI document describes it (the ``Error`` component,
from these models) and the local server answers what API Gateway answers itself with it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """The inside of every error response."""

    code: str = Field(
        description="Stable snake_case identifier of the error",
        pattern=r"^[a-z][a-z0-9_]*$",
        examples=["validation_error", "rate_limited", "quota_exceeded"],
    )
    message: str = Field(description="A human sentence; never a stack trace")
    details: dict[str, Any] = Field(
        description=(
            "Machine-readable context: `fields` for validation errors; `plan`, `limit`, `used`, "
            "`resets_at` for `quota_exceeded`"
        ),
    )


class Error(BaseModel):
    """Every error response of the API."""

    error: ErrorBody


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    """The JSON text of an error response (``Error``), unvalidated: answering an error must not fail."""
    return json.dumps(
        Error.model_construct(
            error=ErrorBody.model_construct(code=code, message=message, details=details or {})
        ).model_dump()
    )
