"""The parser agrees with an independent one (xlcalculator) on real formulas from the benchmark."""

from __future__ import annotations

import re
from pathlib import Path

from sheetbrain.engine import parse
from sheetbrain.engine.ast import Func, Ref
from sheetbrain.engine.printer import format_ref
from xlcalculator import tokenizer as xl_tokenizer  # a dev dependency: missing is a failure, not a skip

CORPUS = Path(__file__).parent / "fixtures" / "benchmark_formulas.txt"


def _norm(text: str) -> str:
    return re.sub(r"[$']", "", text).upper()


def _ours(formula: str) -> tuple[list[str], list[str]]:
    tree = parse(formula)
    refs = [_norm(format_ref(n)) for n in tree.walk() if isinstance(n, Ref)]
    funcs = [n.base for n in tree.walk() if isinstance(n, Func)]
    return refs, funcs


def _theirs(formula: str) -> tuple[list[str], list[str]]:
    items = xl_tokenizer.ExcelParser().parse(formula).items
    refs = [_norm(t.tvalue) for t in items if t.ttype == "operand" and t.tsubtype == "range"]
    funcs = [t.tvalue.upper() for t in items if t.ttype == "function" and t.tsubtype == "start"]
    return refs, funcs


def test_given_real_formulas_when_parsed_by_both_then_same_references_and_functions() -> None:
    # Given 400 formulas sampled from the benchmark workbooks
    formulas = [line for line in CORPUS.read_text().splitlines() if line]
    disagreements = []
    for formula in formulas:
        # When both parsers read them / Then they find the same references and functions
        ours_refs, ours_funcs = _ours(formula)
        their_refs, their_funcs = _theirs(formula)
        if sorted(ours_refs) != sorted(their_refs) or sorted(ours_funcs) != sorted(their_funcs):
            disagreements.append((formula, ours_refs, their_refs, ours_funcs, their_funcs))
    assert disagreements == []
