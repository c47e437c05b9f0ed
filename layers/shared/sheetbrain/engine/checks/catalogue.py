"""The check catalogue: stable ids, default severities, tags and parameters.

Ids never change meaning once published: policies stored in the database refer to them.
Severity discipline: only checks that report a likely wrong result are high/critical; advice
(style, maintainability, performance) stays medium/low/info.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckSpec:
    """Static description of one check."""

    id: str
    title: str
    severity: str
    scope: str  # "formula": needs one formula; "sheet": needs the grid around it
    tags: tuple[str, ...]
    description: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    # (severity, when): cases whose findings carry another severity than the default above.
    severity_cases: tuple[tuple[str, str], ...] = ()


def _spec(
    id: str,
    title: str,
    severity: str,
    scope: str,
    tags: str,
    description: str,
    cases: tuple[tuple[str, str], ...] = (),
    **params: Any,
) -> CheckSpec:
    return CheckSpec(id, title, severity, scope, tuple(tags.split()), description, params, cases)


_SPECS = [
    _spec("FX00", "Formula does not parse", "high", "formula", "error syntax", "The formula text is not valid."),
    _spec("FX01", "Volatile function", "low", "formula", "performance", "Recalculates on every change."),
    _spec(
        "FX02",
        "Approximate VLOOKUP/HLOOKUP",
        "medium",
        "formula",
        "lookup correctness",
        "Without FALSE as 4th argument the lookup silently returns the nearest smaller key.",
    ),
    _spec(
        "FX03",
        "MATCH without exact match type",
        "medium",
        "formula",
        "lookup correctness",
        "MATCH defaults to approximate match (1) on sorted data.",
    ),
    _spec(
        "FX04",
        "XLOOKUP/XMATCH approximate or binary mode",
        "low",
        "formula",
        "lookup correctness",
        "A match/search mode other than exact/linear needs sorted data or returns neighbours.",
    ),
    _spec(
        "FX05",
        "Hard-coded number",
        "low",
        "formula",
        "maintainability hardcode",
        "A literal number mixed with references is an assumption hidden in a formula.",
        ignore=[0, 1, 2, -1, 10, 12, 24, 60, 100, 1000, 0.5, 7, 365, 52],
    ),
    _spec(
        "FX06",
        "Embedded rate",
        "medium",
        "formula",
        "maintainability hardcode rate",
        "A rate-like literal (between 0 and 1, or a 1.x uplift) multiplies a reference.",
        min_rate=0.0001,
    ),
    _spec(
        "FX07",
        "Watched constant typed into a formula",
        "high",
        "formula",
        "policy hardcode rate",
        "A literal equal to a policy-approved constant must reference the approved input cell instead.",
        watched={},
        tolerance=1e-9,
    ),
    _spec(
        "FX08",
        "Whole-column or whole-row reference",
        "low",
        "formula",
        "performance range",
        "A:A and 1:1 scan a million cells and pick up stray values below the data.",
    ),
    _spec(
        "FX09",
        "Open-ended range",
        "low",
        "formula",
        "range",
        "A2:A grows with the sheet and may include totals or notes below the data.",
    ),
    _spec(
        "FX10",
        "Deeply nested formula",
        "medium",
        "formula",
        "complexity",
        "Nesting deeper than the limit is hard to review.",
        max_depth=5,
        max_ifs=3,
    ),
    _spec(
        "FX11",
        "Long formula",
        "low",
        "formula",
        "complexity",
        "Very long formulas hide mistakes.",
        max_length=250,
    ),
    _spec(
        "FX12",
        "IFERROR hides errors behind a constant",
        "medium",
        "formula",
        "error-handling",
        "IFERROR(x, 0) turns every error, including broken references, into a plausible number.",
    ),
    _spec(
        "FX13",
        "Unguarded division",
        "low",
        "formula",
        "error-handling division",
        "Division by a cell that may be zero or empty yields #DIV/0!.",
    ),
    _spec(
        "FX14",
        "Division by zero literal",
        "critical",
        "formula",
        "error division",
        "Dividing by the constant 0 always yields #DIV/0!.",
    ),
    _spec(
        "FX15",
        "#REF! in formula",
        "critical",
        "formula",
        "error reference",
        "A deleted row, column or sheet left #REF! in the formula; its result is an error.",
    ),
    _spec(
        "FX16",
        "Error literal in formula",
        "low",
        "formula",
        "error",
        "A literal error value (#N/A, #DIV/0!...) typed into the formula.",
    ),
    _spec(
        "FX17",
        "Double operator",
        "medium",
        "formula",
        "syntax typo",
        "Two operators in a row (A1+-B1, A1++B1) usually is a typo.",
    ),
    _spec(
        "FX18",
        "Text in arithmetic",
        "high",
        "formula",
        "error type",
        "Arithmetic on a text literal yields #VALUE! or relies on implicit conversion.",
        cases=(("medium", 'the text is numeric ("5"): an implicit conversion, not an error'),),
    ),
    _spec(
        "FX19",
        "SUM around a single value",
        "low",
        "formula",
        "style",
        "SUM(A1+B1) or SUM(A1) adds nothing and hides the intent.",
    ),
    _spec(
        "FX20",
        "Unknown function",
        "high",
        "formula",
        "error compatibility",
        "The function is neither an Excel nor a Google Sheets function: the cell shows #NAME?.",
    ),
    _spec(
        "FX21",
        "Platform-specific function",
        "medium",
        "formula",
        "compatibility",
        "The function exists only in Google Sheets and fails when the file is opened in Excel.",
    ),
    _spec(
        "FX22",
        "Link to another workbook",
        "medium",
        "formula",
        "external link",
        "External links break when the other file moves and update silently.",
    ),
    _spec(
        "FX23",
        "Web import",
        "medium",
        "formula",
        "security external web",
        "The formula fetches a URL, or reads a live market-data feed (GOOGLEFINANCE, STOCKHISTORY) whose "
        "results change with the market; when a URL is built from cell values data can leave through it.",
        cases=(("critical", "the URL is built from cell values: data can leave through it"),),
    ),
    _spec(
        "FX24",
        "Formula without references",
        "low",
        "formula",
        "hardcode",
        "A formula made of constants only (=100*1.2) is a typed-in value in disguise.",
    ),
    _spec(
        "FX25",
        "Redundant IF returning booleans",
        "info",
        "formula",
        "style",
        "IF(cond, TRUE, FALSE) is just cond.",
    ),
    _spec(
        "FX26",
        "Circular reference",
        "critical",
        "sheet",
        "error circular",
        "The formula depends on its own result.",
    ),
    _spec(
        "FX27",
        "Reference to an empty cell",
        "medium",
        "sheet",
        "reference empty",
        "The formula reads a cell that holds nothing; it is counted as 0.",
    ),
    _spec(
        "FX28",
        "Range stops short of adjacent data",
        "high",
        "sheet",
        "error range",
        "An aggregate range ends just before more numbers or formulas of the same block (Excel's rule "
        '"formulas which omit cells in a region"): at most max_gap cells of them (one by default) between '
        "the range and the formula; a skipped formula that reads the range itself (a subtotal) is left out on purpose.",
        max_gap=1,
    ),
    _spec(
        "FX29",
        "Subtotal counted twice",
        "high",
        "sheet",
        "error double-counting",
        "A total adds both subtotals and the rows they already include.",
    ),
    _spec(
        "FX30",
        "Formula differs from its region",
        "medium",
        "sheet",
        "error region consistency",
        "Its neighbours share one R1C1 pattern and this formula breaks it (another computation between "
        "copies is often deliberate layout: advice).",
        cases=(
            ("high", "the only break of a run of at least min_region copies, not a line of its own across the run"),
            ("high", "a copied aggregate whose range slipped (same shape, other offsets)"),
            (
                "high",
                "between two copies and not part of a line across, even where the run has other breaks: another "
                "operator over the same cells, constants and functions, or the same computation over other "
                "cells that does not read its own line where the copies do not (a subtotal or an 'of which' "
                "line over the copies); not a formula that breaks the run more than once (a kind of row)",
            ),
        ),
        min_region=3,
    ),
    _spec(
        "FX31",
        "Constant where a formula is expected",
        "medium",
        "sheet",
        "error region hardcode",
        "A typed number sits inside a run of identical formulas (an overwritten formula); min_region: the "
        "fewest copies around it (a line half typed, half computed is judged by its share of typed values).",
        cases=(
            (
                "high",
                "the only break of a run of at least min_region copies, with no typed number beside it across "
                "the run (a value pasted over one copy), unless the formula there would read no number",
            ),
            (
                "high",
                "between two copies, not part of a line across, and every digit of what the copy gives there, "
                "not 0 (even where the run has other breaks)",
            ),
        ),
        min_region=3,
    ),
    _spec(
        "FX32",
        "Duplicated formula",
        "info",
        "sheet",
        "maintainability",
        "The same absolute computation is repeated in several cells.",
        min_copies=3,
    ),
    _spec(
        "FX33",
        "Inconsistent totals row",
        "high",
        "sheet",
        "error region consistency",
        "Aggregates across a totals row cover different row spans (min_run: the fewest aggregates of one "
        "shape in the row for their spans to be compared).",
        # 3, not 2: the count the engine has always applied (it read FX30's min_region); 2 would also
        # compare rows of two totals, which on the ExceLint corpus flags more correct cells than errors.
        min_run=3,
    ),
    _spec(
        "FX34",
        "Empty argument",
        "low",
        "formula",
        "syntax",
        "An omitted argument (SUM(A1,,B1)) is read as 0 or FALSE.",
    ),
    _spec(
        "FX35",
        "Total spans several sections",
        "medium",
        "sheet",
        "error range",
        "A total's range starts on a heading line and adds several sections of the table, headings included, "
        "instead of one block or the sections' subtotals.",
        min_sections=2,
    ),
    _spec(
        "FX36",
        "Formula shows an error",
        "high",
        "sheet",
        "error value",
        "The formula's current value (in the grid's values) is an error such as #DIV/0!, #REF!, #NAME? or "
        '#VALUE! (Excel\'s rule "cells containing formulas that result in an error"). The formulas that '
        "read it and show the same error are one chain, named in this one finding.",
        cases=(
            ("medium", "#DIV/0!: a divisor that is zero or empty: the data is missing, not the formula wrong"),
            ("medium", "#NUM! or #CALC!: a number out of a function's domain, an empty array: the data's state"),
            ("medium", "#N/A: no value available, on purpose (NA()) or a lookup whose key is not in its table"),
            ("info", "#GETTING_DATA or #BUSY!: the values were read while data was still loading"),
        ),
    ),
    _spec(
        "FX37",
        "Number stored as text",
        "medium",
        "sheet",
        "error type",
        "A plain cell holds a number as text (Excel's rule \"numbers formatted as text or preceded by an "
        'apostrophe"), inside a line of numbers; SUM, AVERAGE and COUNT skip it.',
        cases=(("high", "a formula that skips text aggregates the cell and shows a number: its result leaves it out"),),
    ),
    _spec(
        "FX38",
        "Two-digit year in a text date",
        "low",
        "sheet",
        "date",
        "A date typed as text with a two-digit year (Excel's rule \"cells containing years represented as "
        '2 digits"): read as a date, its century is guessed.',
        cases=(("medium", "a formula on the sheet reads the cell"),),
    ),
    _spec(
        "FX39",
        "Total adds the totals beside it, not its own figures",
        "high",
        "sheet",
        "error range",
        "In a line of totals that each add their own column (row), this one adds the totals beside it while "
        "its own column (row) holds typed figures, and no formula, over the lines they add: its figures are "
        'left out (Excel\'s rule "formula inconsistent with other formulas in the region"). Totals are sums '
        "(SUM, SUBTOTAL 9 or 109), one kind along the line. A column of row totals, computed or typed, may be "
        "added across: no finding.",
    ),
    _spec(
        "FX40",
        "Formula leaves out a cell its copies read",
        "high",
        "sheet",
        "error range",
        "In a line computed cell by cell, the copies of one formula read a cell this one leaves out, and that "
        'cell holds text such as "-" for nil: the formula was written around it (added, the text would show '
        "#VALUE!). Right today, it leaves out a figure typed there later, which every copy counts "
        '(Excel\'s rule "formula inconsistent with other formulas in the region").',
    ),
    _spec(
        "FX41",
        "Link pasted as its value",
        "high",
        "sheet",
        "error hardcode",
        "A typed number just after a link to another line (=D29 at the head of row 57) equals the value of the "
        "cell that link would read copied there (E29): the link was copied across as values, which keep today's "
        "figure. Only figures after the link (right of it, below it), not zero.",
    ),
    _spec(
        "FX42",
        "Typed total its figures disagree with",
        "high",
        "sheet",
        "error hardcode",
        "A typed number stands where the copies beside it total a block of figures (=SUM(G14:G20), or "
        "=G14+G15+G16, copied along a totals row), it is larger than each figure and at least the sum of "
        "all but the largest, so it stands for their total (a date, a code or a rate does not), and it is "
        "not their sum beyond what rounding the typed figures explains: a total typed in and left behind "
        "when a figure changed. Wrong today, not only fixed. Figures all zero or more, at least two of "
        "them.",
    ),
    _spec(
        "FX90",
        "Check stopped at its work budget",
        "info",
        "sheet",
        "coverage",
        "A sheet check used up its work budget (units of work counted, not time: the same sheet always stops "
        "at the same cell) or met a formula nested too deeply to walk. The finding names the check and the "
        "part of the sheet it did not check; what it found before stopping is reported.",
    ),
]

CHECKS: dict[str, CheckSpec] = {spec.id: spec for spec in _SPECS}
