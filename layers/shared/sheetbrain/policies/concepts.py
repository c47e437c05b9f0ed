"""The audit concepts a policy clause can govern: stable names shared by the clause mapper and
the audit profile (kept apart from the mapper so the audit path does not compile its patterns)."""

from __future__ import annotations

APPROXIMATE_LOOKUP = "approximate_lookup"
EXTERNAL_LINK = "external_link"
WEB_IMPORT = "web_import"
VOLATILE = "volatile"
HARDCODED_CONSTANT = "hardcoded_constant"
WHOLE_COLUMN_RANGE = "whole_column_range"
IFERROR_MASKING = "iferror_masking"
UNGUARDED_DIVISION = "unguarded_division"
NESTING_DEPTH = "nesting_depth"
FORMULA_LENGTH = "formula_length"
ERROR_LITERAL = "error_literal"
PLATFORM_FUNCTION = "platform_function"

CONCEPTS: tuple[str, ...] = (
    APPROXIMATE_LOOKUP,
    EXTERNAL_LINK,
    WEB_IMPORT,
    VOLATILE,
    HARDCODED_CONSTANT,
    WHOLE_COLUMN_RANGE,
    IFERROR_MASKING,
    UNGUARDED_DIVISION,
    NESTING_DEPTH,
    FORMULA_LENGTH,
    ERROR_LITERAL,
    PLATFORM_FUNCTION,
)
