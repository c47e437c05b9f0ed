"""Errors raised by the formula audit engine."""

from __future__ import annotations

from typing import Any

from sheetbrain.errors import SheetBrainError


class FormulaParseError(SheetBrainError):
    """A formula could not be tokenised or parsed; ``position`` is the 0-based offset in the text."""

    code = "formula_parse_error"
    status = 422

    def __init__(self, message: str, *, position: int, formula: str = "") -> None:
        details: dict[str, Any] = {"position": position}
        super().__init__(f"{message} at position {position}", details=details)
        self.position = position
        self.formula = formula
        self.reason = message
