"""The typed errors every interface reports, and the one table that maps each to an HTTP
status and a socket-API code.

Code anywhere in `core/` raises one of these kinds (or a subclass: the store's `NotFound` is a
`NotFoundError`, the engine's unknown names are `UnknownName`); REST (`web/guard.py`) and the
socket API (`core/operations`) both translate through `error_kind`, so the same failure gets
the same code everywhere and nobody guesses from a message's wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ERROR_KINDS",
    "ConflictError",
    "ErrorKind",
    "ForbiddenError",
    "InvalidArgument",
    "InvalidDocument",
    "NotFoundError",
    "RefusedError",
    "UnavailableError",
    "error_kind",
]


class InvalidArgument(ValueError):
    """Input that names the field that is wrong (``field: what (got X)``)."""


class InvalidDocument(InvalidArgument):
    """A document (a look, a cue list, a schedule entry) with `problems`, one
    ``key.path: what is wrong (got X)`` each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class NotFoundError(LookupError):
    """The named thing (cue list, look, canvas, override, row) does not exist."""


class ConflictError(Exception):
    """The change clashes with what is stored (a duplicate, an object still in use)."""


class RefusedError(Exception):
    """A well-formed command refused in the current state (e.g. the emergency input holds)."""

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.detail = detail


class ForbiddenError(PermissionError):
    """The caller's role may not do this."""


class UnavailableError(Exception):
    """A service this needs (the store) cannot answer now; retrying later may work."""


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: str  # the socket API's error code, also in every REST error body
    status: int  # the HTTP status
    kind: type[Exception]


# Order matters: the first kind an exception is an instance of wins (the engine's unknown name
# is a bad argument that is, first, not found; a store's ValidationError is bad input before
# it is a storage failure).
ERROR_KINDS: Final[tuple[ErrorKind, ...]] = (
    ErrorKind("not_found", 404, NotFoundError),
    ErrorKind("bad_args", 400, InvalidArgument),
    ErrorKind("forbidden", 403, ForbiddenError),
    ErrorKind("conflict", 409, ConflictError),
    ErrorKind("refused", 409, RefusedError),
    ErrorKind("unavailable", 503, UnavailableError),
)


def error_kind(exc: BaseException) -> ErrorKind | None:
    """The kind of a domain error, or None (anything else is a bug and is re-raised)."""
    for kind in ERROR_KINDS:
        if isinstance(exc, kind.kind):
            return kind
    return None
