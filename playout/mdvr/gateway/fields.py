"""What a device's fields must be before we store or publish them."""

from __future__ import annotations

import math

from trocadero.protocols.mdvr import Position

_CONTROL = dict.fromkeys([*range(0x20), 0x7F])


def stored_text(value: str, max_chars: int = 200) -> str:
    """A device's free text as we store it: no control characters (PostgreSQL refuses
    NUL in text and jsonb), at most `max_chars`."""
    return value.translate(_CONTROL)[:max_chars]


def plausible(pos: Position) -> bool:
    """A fix we can store and publish as JSON: finite, on the globe, a sane speed."""
    speed = pos.speed_kmh
    return (
        math.isfinite(pos.longitude)
        and math.isfinite(pos.latitude)
        and abs(pos.longitude) <= 180.0
        and abs(pos.latitude) <= 90.0
        and (speed is None or (math.isfinite(speed) and 0.0 <= speed <= 2000.0))
    )
