"""Spreadsheet formula audit engine: parser, check catalogue, region analysis, policy profiles.

Pure Python with no I/O at import, so it loads fast in a Lambda cold start.
"""

from __future__ import annotations

from sheetbrain.engine.checks.catalogue import CHECKS, CheckSpec
from sheetbrain.engine.engine import Finding, audit_formulas, audit_sheet
from sheetbrain.engine.errors import FormulaParseError
from sheetbrain.engine.grid import Sheet
from sheetbrain.engine.parser import parse
from sheetbrain.engine.printer import to_formula, unparse
from sheetbrain.engine.profile import PolicyProfile
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
