"""Which repository functions are safe inside a pipelined transaction, stated and checked.

In a pipelined transaction (``tenant_transaction(..., pipelined=True)``) a statement's
``rowcount`` is known only after a sync: a function that reads it is not pipeline-safe, and its
docstring says so. Read from the source with ``ast``, so nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared" / "sheetbrain"
MARK = "not pipeline-safe"


def _unsafe(tree: ast.Module) -> tuple[dict[str, ast.FunctionDef], set[str]]:
    """The module's functions, and those that read ``rowcount`` themselves or through a function
    of the same module."""
    funcs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    unsafe = {
        name
        for name, fn in funcs.items()
        if any(isinstance(n, ast.Attribute) and n.attr == "rowcount" for n in ast.walk(fn))
    }
    calls = {
        name: {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        for name, fn in funcs.items()
    }
    while more := {name for name, called in calls.items() if called & unsafe} - unsafe:
        unsafe |= more
    return funcs, unsafe


REPOS = {path.stem: ast.parse(path.read_text()) for path in sorted((LAYER / "db").glob("*_repo.py"))}
UNSAFE = {repo: _unsafe(tree)[1] for repo, tree in REPOS.items()}


def test_a_repository_function_that_reads_rowcount_says_it_is_not_pipeline_safe() -> None:
    # Given each repository module's functions
    unmarked = []
    for repo, tree in REPOS.items():
        funcs, unsafe = _unsafe(tree)
        for name, fn in funcs.items():
            says = MARK in (ast.get_docstring(fn) or "").lower()
            # Then a function reading rowcount says so, and no other function claims it
            if (name in unsafe) != says:
                unmarked.append(f"{repo}.{name}")
    assert unmarked == []


def test_the_walk_finds_the_functions_known_to_read_rowcount() -> None:
    # Given functions known to read rowcount (directly; through a helper of its module)
    # Then the walk counts them, so the test above is not vacuous
    assert {"upsert_user", "upsert_org", "upsert_membership", "delete_membership"} <= UNSAFE["tenancy_repo"]
    assert {"delete_org", "delete_org_rows"} <= UNSAFE["maintenance_repo"]
    assert "get_membership" not in UNSAFE["tenancy_repo"]


def _repo_aliases(tree: ast.Module) -> dict[str, str]:
    """Names a module binds to repository modules (``from sheetbrain.db import x_repo as y``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "sheetbrain.db":
            for alias in node.names:
                if alias.name in REPOS:
                    aliases[alias.asname or alias.name] = alias.name
    return aliases


def _pipelined(node: ast.AST) -> bool:
    return isinstance(node, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and any(
            kw.arg == "pipelined" and isinstance(kw.value, ast.Constant) and kw.value.value is True
            for kw in item.context_expr.keywords
        )
        for item in node.items
    )


def test_no_pipelined_transaction_calls_a_function_that_is_not_pipeline_safe() -> None:
    # Given every pipelined transaction of the layer, and the repository calls written in its body
    seen = 0
    offending = []
    for path in sorted(LAYER.rglob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = _repo_aliases(tree)
        for block in filter(_pipelined, ast.walk(tree)):
            seen += 1
            for call in ast.walk(block):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id in aliases
                ):
                    repo = aliases[call.func.value.id]
                    if call.func.attr in UNSAFE[repo]:
                        offending.append(f"{path.relative_to(LAYER)}:{call.lineno} {repo}.{call.func.attr}")
    # Then none of them calls a function that reads rowcount (helpers called from the block are
    # not followed: a use case keeps its pipelined block's repository calls in the block)
    assert seen >= 5
    assert offending == []
