"""Correlation ids: one per request (REST, WebSocket op, socket-API request), carried by
every log line the request causes and stored with its audit entry.

An incoming id (``X-Request-Id``, the socket API's ``request_id``) is honoured when it is a
sane token; anything else is replaced by a fresh one, so a log search never meets a header
someone stuffed with newlines or a kilobyte of text.

The id lives in a ContextVar (and structlog's contextvars, for the log lines): a Trio task
spawned while it is bound inherits a copy, so work a request starts carries its id too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

import structlog

__all__ = ["MAX_LENGTH", "bound", "current", "sane", "take"]

MAX_LENGTH: Final = 64
_SANE: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CURRENT: ContextVar[str] = ContextVar("trocadero_request_id", default="")


def sane(candidate: object) -> bool:
    """True for a token of 1..64 characters of [A-Za-z0-9._-]."""
    return isinstance(candidate, str) and _SANE.fullmatch(candidate) is not None


def take(candidate: object) -> str:
    """`candidate` when it is sane, else a fresh id (16 hex digits)."""
    if isinstance(candidate, str) and sane(candidate):
        return candidate
    return secrets.token_hex(8)


def current() -> str:
    """The id of the request being served here, or "" (the schedule, start-up, …)."""
    return _CURRENT.get()


@contextmanager
def bound(request_id: str) -> Iterator[str]:
    """Bind `request_id` for the block: `current()` and every structlog line. Reset on the
    way out, so the next request on the same connection (same task) starts clean."""
    token = _CURRENT.set(request_id)
    log_tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        yield request_id
    finally:
        structlog.contextvars.reset_contextvars(**log_tokens)
        _CURRENT.reset(token)
