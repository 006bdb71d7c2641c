"""Argument checks shared by every interface (REST, socket API, WebSocket): each error names
the field, so a show script gets the same message as the web UI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from trocadero.config.fields import NAME_MAX
from trocadero.config.show import CUE_NUMBER_MAX, CUE_NUMBER_MIN

from .errors import InvalidArgument

__all__ = [
    "InvalidArgument",
    "cue_number",
    "level",
    "name",
    "seconds",
    "short",
    "target",
    "text_limit",
]


def text_limit(value: str, key: str, limit: int = NAME_MAX) -> str:
    """`value`, unless longer than `limit` characters (the stored show's own limits are in
    `config/fields.py`; this is the same check for arguments that name something)."""
    if len(value) > limit:
        raise InvalidArgument(f"{key}: at most {limit} characters (got {len(value)})")
    return value


def name(doc: Mapping[str, Any], key: str) -> str:
    """A required name (of a cue list, canvas, look, sensor, …): a non-empty string of at most
    NAME_MAX characters."""
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{key}: required, a non-empty string (got {short(value)})")
    return text_limit(value, key)


def seconds(doc: Mapping[str, Any], key: str, default: float | None = None) -> float | None:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{key}: expected a number of seconds (got {short(value)})")
    if not 0 <= value <= 86400:
        raise InvalidArgument(f"{key}: must be between 0 and 86400 (got {value!r})")
    return float(value)


def level(doc: Mapping[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidArgument(f"{key}: expected a level between 0 and 1 (got {short(value)})")
    return float(value)


def cue_number(doc: Mapping[str, Any], key: str = "cue") -> Decimal:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidArgument(f'{key}: expected a cue number such as "12.5" (got {short(value)})')
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation as exc:
        raise InvalidArgument(f"{key}: not a cue number (got {short(value)})") from exc
    # Range first: quantize() raises InvalidOperation for a number with more digits than the
    # decimal context holds (1e30), and that must be a named error, not a crash.
    if not number.is_finite() or not CUE_NUMBER_MIN <= number <= CUE_NUMBER_MAX:
        raise InvalidArgument(
            f"{key}: a cue number {CUE_NUMBER_MIN}..{CUE_NUMBER_MAX} (got {short(value)})"
        )
    if number != number.quantize(Decimal("0.001")):
        raise InvalidArgument(f"{key}: at most three decimals (got {value!r})")
    return number


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def target(doc: Mapping[str, Any], where: str) -> tuple[str | None, tuple[int, int, int] | None]:
    """A look name or an RGB colour (16-bit), exactly one of them."""
    look, rgb = doc.get("look"), doc.get("rgb")
    if (look is None) == (rgb is None):
        raise InvalidArgument(f"{where}: give either look or rgb")
    if look is not None:
        if not isinstance(look, str) or not look:
            raise InvalidArgument(f"{where}.look: expected a look name (got {short(look)})")
        return text_limit(look, f"{where}.look"), None
    if (
        not isinstance(rgb, list)
        or len(rgb) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535 for v in rgb)
    ):
        raise InvalidArgument(f"{where}.rgb: expected three integers 0..65535 (got {short(rgb)})")
    return None, (rgb[0], rgb[1], rgb[2])
