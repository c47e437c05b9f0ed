"""Load an .xlsx into the audit engine's grid objects (dev tooling; openpyxl stays out of the layer)."""

from __future__ import annotations

import warnings
from typing import Any

from sheetbrain.audit import Sheet


def _formula_text(cell: Any) -> str | None:
    if getattr(cell, "data_type", None) != "f":
        return None  # a text constant that merely starts with "=" is not a formula
    raw = cell.value
    if isinstance(raw, str):
        return raw if raw.startswith("=") else None
    text = getattr(raw, "text", None)  # openpyxl's ArrayFormula keeps the formula in .text
    if isinstance(text, str):
        return text if text.startswith("=") else "=" + text
    return None


def load_workbook_sheets(path: str) -> list[Sheet]:
    """Every worksheet as a ``Sheet`` anchored at A1: formulas from one load, cached values from another."""
    import openpyxl

    sheets: list[Sheet] = []
    with warnings.catch_warnings():
        # Old workbooks trigger openpyxl warnings about headers and extensions we do not need.
        warnings.simplefilter("ignore")
        formulas_book = openpyxl.load_workbook(path, data_only=False, read_only=True)
        values_book = openpyxl.load_workbook(path, data_only=True, read_only=True)
        try:
            for ws in formulas_book.worksheets:
                formulas = [[_formula_text(c) for c in row] for row in ws.iter_rows()]
                values = [list(row) for row in values_book[ws.title].iter_rows(values_only=True)]
                sheets.append(Sheet(ws.title, formulas, values, "A1"))
        finally:
            formulas_book.close()
            values_book.close()
    return sheets
