"""Database access: the pool, transactions, driver-error translation, migrations, repositories."""

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
