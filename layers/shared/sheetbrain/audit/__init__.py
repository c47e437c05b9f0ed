"""Spreadsheet formula audit engine: parser, check catalogue, region analysis, policy profiles.

Pure Python with no I/O at import, so it loads fast in a Lambda cold start.
"""

from __future__ import annotations

from sheetbrain.audit.checks.catalogue import CHECKS, CheckSpec
from sheetbrain.audit.engine import Finding, audit_formulas, audit_sheet
from sheetbrain.audit.errors import FormulaParseError
from sheetbrain.audit.grid import Sheet
from sheetbrain.audit.parser import parse
from sheetbrain.audit.printer import to_formula, unparse
from sheetbrain.audit.profile import PolicyProfile
from sheetbrain.severity import SEVERITIES

__all__ = [
    "CHECKS",
    "SEVERITIES",
    "CheckSpec",
    "Finding",
    "FormulaParseError",
    "PolicyProfile",
    "Sheet",
    "audit_formulas",
    "audit_sheet",
    "parse",
    "to_formula",
    "unparse",
]
