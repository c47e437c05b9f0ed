"""Which domain error a driver error stands for: the rule ``connection.translate_errors``
applies at the boundary, kept pure so that it is tested alone."""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from sheetbrain.errors import ConflictError, DependencyUnavailableError, SheetBrainError, ValidationError

# Errors that mean "try again later" rather than "your request is wrong": OperationalError is
# the base of serialization failures, deadlocks, lock and statement timeouts, shutdowns and
# refused connections.
_TRANSIENT = (psycopg.OperationalError, PoolTimeout)


def _unstorable_text(exc: Exception) -> ValidationError:
    """Text PostgreSQL cannot store: a NUL character, or an unpaired surrogate escape."""
    return ValidationError(
        "A text value holds a character that cannot be stored (NUL or an unpaired surrogate).",
        details={"reason": str(exc).splitlines()[0][:200]},
    )


def domain_error(exc: Exception) -> SheetBrainError | None:
    """The domain error a driver error stands for (None: not a driver error, let it pass as it
    is). A pure rule, kept apart from ``translate_errors`` so that it can be tested alone."""
    if isinstance(exc, _TRANSIENT):
        return DependencyUnavailableError("The database is unavailable; try again shortly.")
    if isinstance(exc, pg_errors.UniqueViolation):
        return ConflictError("The record already exists.", details={"constraint": exc.diag.constraint_name})
    if isinstance(exc, pg_errors.ForeignKeyViolation | pg_errors.CheckViolation | pg_errors.NotNullViolation):
        return ValidationError("The data violates a constraint.", details={"constraint": exc.diag.constraint_name})
    if isinstance(exc, pg_errors.InvalidTextRepresentation | pg_errors.NumericValueOutOfRange):
        return ValidationError("A value has the wrong form.", details={"reason": exc.diag.message_primary})
    if isinstance(exc, pg_errors.UntranslatableCharacter | pg_errors.CharacterNotInRepertoire | UnicodeEncodeError):
        return _unstorable_text(exc)
    if isinstance(exc, psycopg.DataError) and exc.sqlstate is None:
        return _unstorable_text(exc)  # psycopg refused to send a value (a NUL character)
    if isinstance(exc, psycopg.Error):
        # Any other server error, a data error among them, is our statement's, not the input's.
        return SheetBrainError("Internal database error.")
    return None
