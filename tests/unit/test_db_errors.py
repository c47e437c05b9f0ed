"""Driver errors into domain errors: which error, which code and status, which details."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from sheetbrain.db.connection import translate_errors
from sheetbrain.db.errors import domain_error
from sheetbrain.errors import ConflictError, DependencyUnavailableError, SheetBrainError, ValidationError

UNSTORABLE = "A text value holds a character that cannot be stored (NUL or an unpaired surrogate)."


@pytest.mark.parametrize(
    ("driver", "kind", "code", "status", "message", "details"),
    [
        (psycopg.OperationalError("gone"), DependencyUnavailableError, "dependency_unavailable", 503,
         "The database is unavailable; try again shortly.", {}),
        (pg_errors.SerializationFailure("retry"), DependencyUnavailableError, "dependency_unavailable", 503,
         "The database is unavailable; try again shortly.", {}),
        (PoolTimeout("no connection"), DependencyUnavailableError, "dependency_unavailable", 503,
         "The database is unavailable; try again shortly.", {}),
        (pg_errors.UniqueViolation("dup"), ConflictError, "conflict", 409, "The record already exists.",
         {"constraint": None}),
        (pg_errors.ForeignKeyViolation("fk"), ValidationError, "validation_error", 422,
         "The data violates a constraint.", {"constraint": None}),
        (pg_errors.CheckViolation("check"), ValidationError, "validation_error", 422,
         "The data violates a constraint.", {"constraint": None}),
        (pg_errors.NotNullViolation("null"), ValidationError, "validation_error", 422,
         "The data violates a constraint.", {"constraint": None}),
        (pg_errors.InvalidTextRepresentation("x"), ValidationError, "validation_error", 422,
         "A value has the wrong form.", {"reason": None}),
        (pg_errors.NumericValueOutOfRange("x"), ValidationError, "validation_error", 422,
         "A value has the wrong form.", {"reason": None}),
        (pg_errors.UntranslatableCharacter("bad char\\nmore"), ValidationError, "validation_error", 422,
         UNSTORABLE, {"reason": "bad char\\nmore"}),
        (pg_errors.CharacterNotInRepertoire("not utf8\nsecond line"), ValidationError, "validation_error", 422,
         UNSTORABLE, {"reason": "not utf8"}),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), ValidationError,
         "validation_error", 422, UNSTORABLE, {"reason": "PostgreSQL text fields cannot contain NUL (0x00) bytes"}),
        (pg_errors.DivisionByZero("division by zero"), SheetBrainError, "internal_error", 500,
         "Internal database error.", {}),
        (pg_errors.UndefinedTable("no table"), SheetBrainError, "internal_error", 500,
         "Internal database error.", {}),
    ],
)  # fmt: skip
def test_each_driver_error_becomes_its_domain_error(
    driver: Exception, kind: type, code: str, status: int, message: str, details: dict[str, object]
) -> None:
    # Given a driver error; When translated; Then exactly this domain error
    error = domain_error(driver)
    assert type(error) is kind
    assert error is not None
    assert (error.code, error.status, error.message, error.details) == (code, status, message, details)


def test_an_unencodable_value_is_unstorable_text_with_the_first_200_characters_of_its_reason() -> None:
    error = domain_error(UnicodeEncodeError("utf-8", "\ud800" * 300, 0, 1, "surrogates not allowed"))
    assert type(error) is ValidationError
    assert error.message == UNSTORABLE
    assert error.details == {
        "reason": "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed"
    }
    long = domain_error(pg_errors.CharacterNotInRepertoire("y" * 250))
    assert long is not None
    assert long.details == {"reason": "y" * 200}


@pytest.mark.parametrize("other", [KeyError("k"), RuntimeError("boom"), ValueError("v")])
def test_anything_that_is_not_a_driver_error_is_not_translated(other: Exception) -> None:
    assert domain_error(other) is None
    with pytest.raises(type(other)) as raised, translate_errors():
        raise other
    assert raised.value is other


def test_the_boundary_raises_the_domain_error_from_the_driver_error_and_lets_domain_errors_pass() -> None:
    driver = pg_errors.UniqueViolation("dup")
    with pytest.raises(ConflictError) as raised, translate_errors():
        raise driver
    assert raised.value.__cause__ is driver
    own = ValidationError("ours")
    with pytest.raises(ValidationError) as passed, translate_errors():
        raise own
    assert passed.value is own
