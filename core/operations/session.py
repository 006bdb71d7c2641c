"""The socket API's session operations (``subscribe``/``unsubscribe``): about the connection
itself, so the socket server runs them; their argument is checked here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .spec import OpError

__all__ = ["MAX_PATTERNS", "MAX_PATTERN_LEN", "topic_patterns"]

MAX_PATTERNS: Final = 64
MAX_PATTERN_LEN: Final = 128


def topic_patterns(args: Mapping[str, Any]) -> list[str]:
    """The ``topics`` of subscribe/unsubscribe: ``*``, an exact topic or a ``prefix*``."""
    unknown = sorted(str(k) for k in set(args) - {"topics"})
    if unknown:
        raise OpError("bad_args", f"{unknown[0]}: not an argument of this op (known: topics)")
    topics = args.get("topics")
    if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
        raise OpError("bad_args", f"topics: expected a list of topic patterns (got {topics!r})")
    if len(topics) > MAX_PATTERNS:
        raise OpError("bad_args", f"topics: at most {MAX_PATTERNS} patterns (got {len(topics)})")
    for t in topics:
        # The bus matches a '*' only at the end; one elsewhere would silently match nothing.
        if len(t) > MAX_PATTERN_LEN or "*" in t[:-1]:
            raise OpError(
                "bad_args", f"topics: {t[:MAX_PATTERN_LEN]!r} is not a topic or a 'prefix*'"
            )
    return list(topics)
