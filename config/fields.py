"""`setting()`: a dataclass field with its documentation and (optional) inclusive range."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A dataclass field with its documentation and (optional) inclusive range."""
    return field(default=default, metadata={"doc": doc, "min": minimum, "max": maximum})
