"""Parser: reference forms, precedence, literals, errors, and print -> parse round trips."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sheetbrain.engine import FormulaParseError, parse, unparse
from sheetbrain.engine.ast import (
    Array,
    Bool,
    Call,
    CellAddr,
    Chain,
    ErrorLit,
    Func,
    Missing,
    Name,
    Number,
    Percent,
    Ref,
    String,
    StructRef,
    Unary,
    Union,
    binary,
)
from sheetbrain.engine.ast import Node as TreeNode
from sheetbrain.engine.parser import MAX_DEPTH, MAX_FUNCTION_NESTING
from sheetbrain.errors import SheetBrainError

CORPUS = Path(__file__).parent / "fixtures" / "benchmark_formulas.txt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=A1", Ref(CellAddr(1, 1))),
        ("=$B$2", Ref(CellAddr(2, 2, True, True))),
        ("=A:A", Ref(CellAddr(1, None), CellAddr(1, None))),
        ("=1:1", Ref(CellAddr(None, 1), CellAddr(None, 1))),
        ("=A2:A", Ref(CellAddr(1, 2), CellAddr(1, None))),
        ("='My Sheet'!A1", Ref(CellAddr(1, 1), sheet="My Sheet")),
        ("='O''Brien'!A1", Ref(CellAddr(1, 1), sheet="O'Brien")),
        ("=Données!A1", Ref(CellAddr(1, 1), sheet="Données")),
        ("=Sheet1:Sheet3!A1", Ref(CellAddr(1, 1), sheet="Sheet1", sheet_end="Sheet3")),
        ("=[Book.xlsx]Sheet!A1", Ref(CellAddr(1, 1), sheet="Sheet", book="Book.xlsx")),
        ("=[1]Sheet!A1", Ref(CellAddr(1, 1), sheet="Sheet", book="1")),
        ("=A2#", Ref(CellAddr(1, 2), spill=True)),
        ("=Table1[[#This Row],[Qty]]", StructRef("Table1", "[[#This Row],[Qty]]")),
        ("=#REF!", ErrorLit("#REF!")),
        ("=Sheet1!#REF!", ErrorLit("#REF!", sheet="Sheet1")),
        ("=TRUE", Bool(True)),
        ('="a""b"', String('a"b')),
        ("={1,2;3,4}", Array(((Number("1"), Number("2")), (Number("3"), Number("4"))))),
        ("=TaxRate", Name("TaxRate")),
    ],
)
def test_given_reference_or_literal_when_parsed_then_typed_node(text: str, expected: object) -> None:
    # Given a formula with one operand / When parsed / Then the node has the expected shape
    assert parse(text) == expected


def test_given_unary_minus_and_power_when_parsed_then_minus_binds_tighter() -> None:
    # Excel evaluates -2^2 as (-2)^2 = 4.
    assert parse("=-2^2") == Chain(("^",), (Unary("-", Number("2")), Number("2")))


def test_given_mixed_operators_when_parsed_then_excel_precedence() -> None:
    tree = parse('=1+2*3^2%&"x"=A1')
    assert isinstance(tree, Chain) and tree.ops == ("=",)
    concat = tree.operands[0]
    assert isinstance(concat, Chain) and concat.ops == ("&",)
    add = concat.operands[0]
    power = Chain(("^",), (Number("3"), Percent(Number("2"))))
    assert add == Chain(("+",), (Number("1"), Chain(("*",), (Number("2"), power))))


def test_given_union_and_intersection_when_parsed_then_reference_operators() -> None:
    tree = parse("=SUM((A1,B1:B3) C1:C3)")
    assert isinstance(tree, Func)
    arg = tree.args[0]
    assert isinstance(arg, Chain) and arg.ops == (" ",)
    assert isinstance(arg.operands[0], Union)


def test_given_prefixed_functions_and_lambda_when_parsed_then_base_names() -> None:
    tree = parse("=_xlfn.LET(x,1,_xlfn.LAMBDA(y,y+x)(2))")
    assert isinstance(tree, Func) and tree.base == "LET"
    assert isinstance(tree.args[2], Call)
    assert parse("=_xlfn._xlws.SORT(A1:A3)") == Func("_xlfn._xlws.SORT", (parse("=A1:A3"),))


def test_given_empty_arguments_when_parsed_then_missing_nodes() -> None:
    assert parse("=IF(A1,,2)") == Func("IF", (parse("=A1"), Missing(), Number("2")))


def test_given_sheets_export_wrapper_when_parsed_then_inner_formula() -> None:
    # Given Google Sheets' xlsx export wrapper / When parsed / Then the inner formula is the tree
    wrapped = '=IFERROR(__xludf.DUMMYFUNCTION("QUERY(A:B,""select A"")"),"cached")'
    assert parse(wrapped) == parse('=QUERY(A:B,"select A")')
    assert parse('=__xludf.DUMMYFUNCTION("ARRAYFORMULA(A1:A3*2)")') == parse("=ARRAYFORMULA(A1:A3*2)")


@pytest.mark.parametrize("text", ["=SUM(", "=1+", "='abc", '="x', "=#FOO", "=)", "", "=1 2", "=[a", "={1,2", "=A1~"])
def test_given_invalid_formula_when_parsed_then_parse_error_with_position(text: str) -> None:
    with pytest.raises(FormulaParseError) as info:
        parse(text)
    assert isinstance(info.value, SheetBrainError)
    assert info.value.code == "formula_parse_error" and info.value.status == 422
    assert 0 <= info.value.position <= len(text) + 1


def test_given_absurdly_nested_formula_when_parsed_then_parse_error_not_recursion() -> None:
    with pytest.raises(FormulaParseError):
        parse("=" + "(" * 5000 + "1" + ")" * 5000)


def _height(tree: TreeNode) -> int:
    # Tree height without recursion (a leaf is 1).
    tallest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        tallest = max(tallest, level)
        stack.extend((child, level + 1) for child in node.children())
    return tallest


def _cells_joined(op: str, count: int) -> str:
    return "=" + op.join(f"A{row}" for row in range(1, count + 1))


@pytest.mark.parametrize(
    ("text", "ops", "count"),
    [
        (_cells_joined("+", 300), ("+",) * 299, 300),  # a hand-built sum of 300 cells
        (_cells_joined("&", 1000), ("&",) * 999, 1000),
        (_cells_joined("*", 1000), ("*",) * 999, 1000),
        ("=" + "-".join(["A1", *["B1+C1"] * 500]), ("-", "+") * 500, 1001),  # + and - are one level
        ("=" + "=".join(["A1"] * 400), ("=",) * 399, 400),  # comparisons chain left to right too
        ("=" + " ".join(["A1:B2"] * 300), (" ",) * 299, 300),  # intersections
        ("=" + ":".join(["A1:B2"] * 300), (":",) * 299, 300),  # range operators
    ],
)
def test_given_long_operator_chain_when_parsed_then_one_flat_chain(text: str, ops: tuple[str, ...], count: int) -> None:
    # Given operators of one precedence level repeated hundreds of times, as Excel accepts them
    # When parsed
    tree = parse(text)
    # Then the chain is one node over all its operands, two levels high, and prints back as written
    assert isinstance(tree, Chain) and tree.ops == ops and len(tree.operands) == count
    assert _height(tree) == 2
    assert "=" + unparse(tree) == text
    assert parse(unparse(tree)) == tree


def test_given_chain_of_8000_characters_when_parsed_then_parses_and_round_trips() -> None:
    # Given a sum of cells 8,000 characters long (Excel's limit is 8,192)
    text = "=" + "+".join(f"A{row}" for row in range(1000, 2333))
    assert len(text) == 7998
    # When parsed / Then one chain of all 1,333 of them
    tree = parse(text)
    assert isinstance(tree, Chain) and len(tree.operands) == 1333
    assert "=" + unparse(tree) == text


def test_given_long_argument_list_when_parsed_then_every_argument_kept() -> None:
    # Given a function with 255 arguments, Excel's maximum
    text = "=SUM(" + ",".join(f"A{row}/B{row}" for row in range(1, 256)) + ")"
    # When parsed / Then all 255 are its arguments
    tree = parse(text)
    assert isinstance(tree, Func) and len(tree.args) == 255
    assert "=" + unparse(tree) == text


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("=(A1+B1)+C1", "=A1+B1+C1"),
        ("=((A1*B1)/C1)*D1", "=A1*B1/C1*D1"),
        ("=(A1 B1) C1", "=A1 B1 C1"),
    ],
)
def test_given_brackets_around_the_head_of_a_chain_when_parsed_then_same_tree_as_without(
    text: str, same_as: str
) -> None:
    # Given a bracketed first part of a left-to-right chain (brackets that change nothing)
    # When parsed / Then the same tree as without them, so every formula has one tree
    assert parse(text) == parse(same_as)


def test_given_brackets_on_the_right_of_a_chain_when_parsed_then_kept_as_a_nested_chain() -> None:
    # Given brackets that change the order of evaluation / When parsed and printed / Then they stay
    tree = parse("=A1-(B1-C1)")
    assert tree == Chain(("-",), (parse("=A1"), Chain(("-",), (parse("=B1"), parse("=C1")))))
    assert unparse(tree) == "A1-(B1-C1)"


def _nested(count: int) -> str:
    # ``count`` functions nested in one another, with operators and brackets between the levels
    text = "A1"
    for level in range(count):
        text = f"IF(A{level + 1}>0,-(B1+2*{text}),0)" if level % 2 else f"ROUND({text}/C1,2)"
    return "=" + text


def test_given_functions_nested_to_excels_limit_when_parsed_then_parses() -> None:
    # Given 64 nested functions (Excel's limit), each level with operators around the inner one
    text = _nested(MAX_FUNCTION_NESTING)
    # When parsed / Then the tree holds all 64 and prints back as written
    tree = parse(text)
    assert sum(1 for node in tree.walk() if isinstance(node, Func)) == 64
    assert "=" + unparse(tree) == text


def test_given_functions_nested_beyond_excels_limit_when_parsed_then_refused_naming_the_limit() -> None:
    # Given 65 nested functions, one more than Excel allows
    # When parsed / Then refused with a message naming Excel's limit
    for text in (_nested(65), "=" + "SUM(" * 65 + "A1" + ")" * 65):
        with pytest.raises(FormulaParseError) as info:
            parse(text)
        assert info.value.reason == "functions nest more than 64 levels deep (Excel's limit)"


@pytest.mark.parametrize(
    "text",
    [
        "=" + "-(" * 250 + "1" + ")" * 250,  # signs around brackets
        "=1" + "%" * 1000,
        "=" + "1-(" * 250 + "1" + ")" * 250,  # brackets that change the order, one in another
        "=LAMBDA(x,x)" + "(1)" * 300,  # calls of calls
    ],
)
def test_given_nesting_beyond_the_depth_bound_when_parsed_then_parse_error_not_deep_tree(text: str) -> None:
    # Given brackets, signs or calls nested hundreds of levels (every tree walker recurses once per level)
    # When parsed / Then refused, naming the bound
    with pytest.raises(FormulaParseError) as info:
        parse(text)
    assert info.value.reason == f"formula nests more than {MAX_DEPTH} levels of operators and brackets"


def test_given_nesting_within_the_depth_bound_when_parsed_then_parses() -> None:
    # Given signs nested just under the bound / When parsed / Then the tree fits in it
    assert _height(parse("=" + "-" * (MAX_DEPTH - 1) + "1")) == MAX_DEPTH


def test_given_sheets_wrapper_around_deep_formula_when_parsed_then_heights_add_up() -> None:
    # Given an export wrapper deep in a formula around an inner formula deep on its own (each under the bound)
    inner = "-(" * 150 + "A1" + ")" * 150
    text = "=" + "-(" * 100 + f'__xludf.DUMMYFUNCTION("{inner}")' + ")" * 100
    # When parsed / Then the unwrapped tree, 250 levels high, is refused
    with pytest.raises(FormulaParseError, match="levels of operators and brackets"):
        parse(text)


_DEEP_PIECES = ["A1", "1", "(", ")", "+", "/", "^", "%", " ", ":", ",", "SUM(", "-", "{", "}", "LAMBDA(x,x)("]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_DEEP_PIECES), min_size=1000, max_size=4000))
def test_given_long_formula_of_any_shape_when_parsed_then_tree_within_depth_bound(pieces: list[str]) -> None:
    # Given up to 8,192 characters of operators, operands and brackets in any order
    text = ("=" + "".join(pieces))[:8192]
    # When parsed / Then it is refused or its tree is at most MAX_DEPTH high
    try:
        tree = parse(text)
    except FormulaParseError:
        return
    assert _height(tree) <= MAX_DEPTH


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("=+-*/^&%<>(),;:{}[]!'\"#$ .ABCRaz019_@\\xé")), max_size=40))
def test_given_arbitrary_text_when_parsed_then_only_parse_error(text: str) -> None:
    try:
        tree = parse(text)
    except FormulaParseError:
        return
    assert parse(unparse(tree)) == tree


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_given_arbitrary_unicode_when_parsed_then_only_parse_error(text: str) -> None:
    with contextlib.suppress(FormulaParseError):
        parse(text)


_cells = st.builds(
    lambda c, r, ca, ra: Ref(CellAddr(c, r, ca, ra)),
    st.integers(1, 16384),
    st.integers(1, 1048576),
    st.booleans(),
    st.booleans(),
)
_leaves = st.one_of(
    _cells,
    st.builds(lambda n: Number(str(n)), st.integers(0, 10**6)),
    st.builds(String, st.text(alphabet='ab "c', max_size=5)),
    st.builds(Bool, st.booleans()),
    st.sampled_from([ErrorLit("#REF!"), ErrorLit("#N/A"), Name("Rate"), Ref(CellAddr(2, None), CellAddr(3, None))]),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    ops = ["+", "-", "*", "/", "^", "&", "=", "<>", "<=", ">"]
    return st.one_of(
        st.builds(binary, st.sampled_from(ops), children, children),
        st.builds(Unary, st.sampled_from(["-", "+"]), children),
        st.builds(Percent, children),
        st.builds(
            lambda n, a: Func(n, tuple(a)),
            st.sampled_from(["SUM", "IF", "_xlfn.XLOOKUP"]),
            st.lists(children, max_size=3),
        ),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_leaves, _extend, max_leaves=12))
def test_given_generated_tree_when_printed_and_parsed_then_same_tree(tree: object) -> None:
    # Given a generated tree / When printed and parsed back / Then the tree is unchanged
    assert parse(unparse(tree)) == tree  # type: ignore[arg-type]


def _corpus() -> list[str]:
    return [line for line in CORPUS.read_text().splitlines() if line]


def test_given_benchmark_corpus_when_parsed_then_all_parse_and_round_trip() -> None:
    for formula in _corpus():
        tree = parse(formula)
        assert parse(unparse(tree)) == tree, formula


def test_given_chained_intersections_when_parsed_then_left_to_right() -> None:
    # Given three references separated by spaces / When parsed / Then (A1 B1) C1, as Excel reads it
    a, b, c = (Ref(CellAddr(col, 1)) for col in (1, 2, 3))
    assert parse("=A1 B1 C1") == Chain((" ", " "), (a, b, c))
    assert parse("=SUM(A1:C1 B1:B9 A1:B2)") == parse("=SUM((A1:C1 B1:B9) A1:B2)")
