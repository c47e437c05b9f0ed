"""Database access: the pool, transactions, driver-error translation, migrations, repositories.

A repository function is safe inside a pipelined transaction (``pipelined=True``) unless its
docstring says "Not pipeline-safe" (it reads ``rowcount``, known only after a sync);
``tests/unit/test_repository_pipelining.py`` checks the marks and the pipelined blocks' calls.
"""

from sheetbrain.db.connection import (
    Pending,
    close_pool,
    get_pool,
    single_statement,
    system_transaction,
    system_transaction_opening,
    tenant_transaction,
    transaction,
    translate_errors,
)

__all__ = [
    "Pending",
    "close_pool",
    "get_pool",
    "single_statement",
    "system_transaction",
    "system_transaction_opening",
    "tenant_transaction",
    "transaction",
    "translate_errors",
]
