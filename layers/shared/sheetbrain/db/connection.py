"""One lazily opened pool per container, transactions, and the driver-error boundary.

Every database call of the layer goes through ``transaction``, ``single_statement``,
``tenant_transaction`` or ``system_transaction``; all run inside ``translate_errors`` so a
psycopg error never escapes as itself.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Generic, LiteralString, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from sheetbrain.config import get_settings
from sheetbrain.db.errors import domain_error
from sheetbrain.errors import DependencyUnavailableError, SheetBrainError
from sheetbrain.observability import logger

# One pool per login: the application's, and the system login's (webhook and cleanup only).
_pools: dict[bool, ConnectionPool] = {}
_pool_lock = threading.Lock()


# When each pooled connection last finished a unit of work. A connection used moments ago
# needs no probe; one idle longer (a Lambda container thawed after minutes) is checked first.
# (Recorded by our context managers rather than the pool's reset hook: with a reset hook the
# pool hands connections back through a worker thread, which costs a thread switch per use.)
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()
_RECHECK_AFTER_S = 5.0


@contextmanager
def _lent(*, system: bool = False) -> Iterator[psycopg.Connection]:
    with get_pool(system=system).connection() as conn:
        try:
            yield conn
        finally:
            _returned_at[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection) -> None:
    if time.monotonic() - _returned_at.get(conn, 0.0) > _RECHECK_AFTER_S:
        ConnectionPool.check_connection(conn)


def _configure(conn: psycopg.Connection) -> None:
    """A new connection's session settings, in one round trip; it has just proved itself alive,
    so its first use needs no probe."""
    conn.autocommit = True
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(get_settings().db_statement_timeout_ms),))
    conn.autocommit = False
    _returned_at[conn] = time.monotonic()


def get_pool(*, system: bool = False) -> ConnectionPool:
    """The container's pool for the application's login (or the system login's), opened on
    first use (never at import, so cold start stays cheap)."""
    pool = _pools.get(system)
    if pool is None:
        with _pool_lock:
            pool = _pools.get(system)
            if pool is None:
                settings = get_settings()
                settings.require_database_url(system=system)  # a missing setting fails here, clearly
                pool = ConnectionPool(
                    # Read for each new connection: a rotated secret reaches the pool.
                    lambda: get_settings().require_database_url(system=system),
                    min_size=settings.db_pool_min_size,
                    max_size=settings.db_pool_max_size,
                    timeout=settings.db_connect_timeout_s,
                    kwargs={
                        "connect_timeout": max(1, int(settings.db_connect_timeout_s)),
                        "autocommit": False,
                    },
                    configure=_configure,
                    # A Lambda container is frozen between invocations: check a connection
                    # that sat idle before lending it, since the server may have closed it.
                    check=_check_if_idle,
                    open=False,
                    name="sheetbrain-system" if system else "sheetbrain",
                )
                pool.open(wait=False)
                _pools[system] = pool
    return pool


def close_pool() -> None:
    """Close the pools (tests and the dev server, when the database URLs change)."""
    with _pool_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into domain errors; the only place that knows psycopg's exceptions."""
    try:
        yield
    except SheetBrainError:
        raise
    except Exception as exc:
        error = domain_error(exc)
        if error is None:
            raise
        if isinstance(error, DependencyUnavailableError):
            logger.warning("database unavailable", error=type(exc).__name__)
        elif type(error) is SheetBrainError:
            logger.exception("database error")
        raise error from exc


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A connection in one transaction: committed on success, rolled back on any error."""
    with translate_errors(), _lent() as conn, conn.transaction():
        yield conn


@contextmanager
def single_statement() -> Iterator[psycopg.Connection]:
    """A connection in autocommit mode: each statement is its own transaction, so a statement
    that does all of a job's work costs exactly one round trip and one commit."""
    with translate_errors(), _lent() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.autocommit = False


T = TypeVar("T")


class Pending(Generic[T]):
    """A statement's result, read when asked for. In a pipelined transaction the statement is
    only sent: send several, then read them, and they share one round trip (the first read
    syncs them all). Outside a pipeline it has already run. The result is read once and kept.

    An error of any statement sent surfaces at the first read, whichever Pending it belongs to
    (the pipeline aborts the rest; the transaction rolls back as for any error)."""

    __slots__ = ("_cursor", "_done", "_read", "_value")

    def __init__(self, cursor: psycopg.Cursor[Any], read: Callable[[psycopg.Cursor[Any]], T]) -> None:
        self._cursor = cursor
        self._read = read
        self._done = False

    def result(self) -> T:
        if not self._done:
            self._value = self._read(self._cursor)
            self._done = True
        return self._value


# The statement a transaction opens with, sent with its BEGIN: (query, parameters). It must
# return rows (e.g. INSERT ... RETURNING), since its first row is handed to the caller.
Opening = tuple[LiteralString, Sequence[Any] | Mapping[str, Any]]


@contextmanager
def _scoped_transaction(
    scope: LiteralString,
    params: Sequence[Any],
    *,
    system: bool = False,
    opening: Opening | None = None,
    pipelined: bool = False,
) -> Iterator[tuple[psycopg.Connection, tuple[Any, ...] | None]]:
    """A transaction whose BEGIN, scope settings and opening statement travel in one round trip
    (psycopg's pipeline mode); yields the connection and the opening statement's first row.

    psycopg would send BEGIN on its own and each statement after it; on a path that is mostly
    round trips (a webhook, the audit's reads) each one saved counts.

    ``pipelined`` keeps pipeline mode for the body and sends COMMIT after it in the same
    round trip: a statement is sent with the next whose result is fetched (or with the COMMIT),
    so the body must fetch every result it reads and never read ``rowcount`` before a fetch.
    """
    with translate_errors(), _lent(system=system) as conn:
        conn.autocommit = True
        try:
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    conn.execute(scope, params)
                    cursor = conn.execute(*opening) if opening is not None else None
                    if pipelined:
                        yield conn, cursor.fetchone() if cursor is not None else None
                        conn.execute("COMMIT")  # sent as the pipeline ends
                        return
                yield conn, cursor.fetchone() if cursor is not None else None
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("COMMIT")
        finally:
            conn.autocommit = False


def _rollback(conn: psycopg.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        # A broken connection: the pool sees its state on return and replaces it.
        logger.warning("rollback failed")


_TENANT_SCOPE: LiteralString = "SELECT set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)"
_SYSTEM_SCOPE: LiteralString = "SELECT set_config('app.system', 'on', true)"


@contextmanager
def tenant_transaction(
    org_id: str, user_id: str | None = None, *, pipelined: bool = False
) -> Iterator[psycopg.Connection]:
    """A transaction scoped to one organization (and, optionally, the calling user).

    ``app.org_id`` is set with ``SET LOCAL`` semantics (``set_config(..., true)``), so it dies
    with the transaction and a pooled connection never carries one tenant into the next request.
    Row-level security policies read it as the second lock behind each query's own
    ``WHERE org_id = ...``. ``pipelined``: see ``_scoped_transaction``.
    """
    with _scoped_transaction(_TENANT_SCOPE, (org_id, user_id or ""), pipelined=pipelined) as (conn, _):
        yield conn


@contextmanager
def system_transaction() -> Iterator[psycopg.Connection]:
    """A transaction that may cross organizations: webhook sync and maintenance only.

    It runs on the system login (SYSTEM_DATABASE_URL), a member of sheetbrain_system: row-level
    security honours ``app.system`` for that role alone, so the API functions' login cannot
    cross organizations even by setting it.
    """
    with _scoped_transaction(_SYSTEM_SCOPE, (), system=True) as (conn, _):
        yield conn


@contextmanager
def system_transaction_opening(opening: Opening) -> Iterator[tuple[psycopg.Connection, tuple[Any, ...] | None]]:
    """``system_transaction`` whose first statement is sent with its BEGIN; yields the
    connection and that statement's first row (None when it returned none)."""
    with _scoped_transaction(_SYSTEM_SCOPE, (), system=True, opening=opening) as opened:
        yield opened


def ping() -> None:
    """Round-trip to the database; raises DependencyUnavailableError when it is unreachable."""
    with single_statement() as conn:
        conn.execute("SELECT 1")
