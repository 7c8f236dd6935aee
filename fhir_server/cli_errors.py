"""One-line messages for the command line's expected failures (a user's mistake, a missing
database, a busy data directory), instead of a traceback. Anything else is a bug and keeps its
traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure

from fhir_server.serve import ServeError
from fhir_server.store.embedded import EmbeddedDatabaseError
from fhir_server.store.instance import DataDirectoryBusy


def _own_message(error: BaseException) -> str:
    return str(error)


def _settings_message(error: BaseException) -> str | None:
    assert isinstance(error, ValidationError)
    if error.title != "Settings":
        return None
    first = error.errors(include_url=False)[0]
    name = "FHIR_" + str(first["loc"][0]).upper() if first["loc"] else "a FHIR_ setting"
    return f"{name}: {first['msg']} (got {first.get('input')!r}); fix the environment variable"


def _unreachable_message(error: BaseException) -> str:
    # pymongo's own message names hosts and topology details; what the user needs is what to check.
    return f"cannot reach the database: start it, or check FHIR_MONGODB_URI ({type(error).__name__})"


def _database_refused(error: BaseException) -> str:
    assert isinstance(error, OperationFailure)
    name = (error.details or {}).get("codeName") or error.code
    return f"the database refused the operation ({name}): check its user's rights"


def _os_message(error: BaseException) -> str:
    assert isinstance(error, OSError)
    where = f": {error.filename}" if error.filename else ""
    hint = (
        " (run as a user who may write there, or set FHIR_DATA_DIR)"
        if isinstance(error, PermissionError)
        else ""
    )
    return f"{error.strerror or type(error).__name__}{where}{hint}"


# Most specific first: the first class an error is an instance of decides its message.
_MESSAGES: Final[tuple[tuple[type[BaseException], Callable[[BaseException], str | None]], ...]] = (
    (ServeError, _own_message),
    (DataDirectoryBusy, _own_message),
    (EmbeddedDatabaseError, _own_message),
    (ValidationError, _settings_message),
    (ConnectionFailure, _unreachable_message),
    (OperationFailure, _database_refused),
    (OSError, _os_message),
)


def user_error_message(error: BaseException) -> str | None:
    """The one line to print for an expected failure, or None for a bug (show its traceback)."""
    for kind, message in _MESSAGES:
        if isinstance(error, kind):
            return message(error)
    return None
