"""The touches down now and where touches went down lately: what `touch_ripple` layers draw
from and the touch API shows. Written on the Trio thread; read there (the native render's
slot feed) or from the Python render thread, so reads copy before iterating. No I/O, no
Trio."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_SPAWNS", "LiveTouch", "Spawn", "TouchBoard"]

MAX_SPAWNS: Final = 64  # ring origins kept per canvas (newest)


@dataclass(frozen=True, slots=True)
class LiveTouch:
    surface: str
    key: str  # unique on the surface: "<source>/<profile>/<session>"
    session: int
    u: float  # surface coordinates 0..1
    v: float
    x: float  # canvas pixels
    y: float
    down_at: float  # the board's clock
    seen_at: float
    symbol: int | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "session": self.session,
            "u": round(self.u, 4),
            "v": round(self.v, 4),
            "x": round(self.x, 2),
            "y": round(self.y, 2),
            **({} if self.symbol is None else {"symbol": self.symbol}),
        }


@dataclass(frozen=True, slots=True)
class Spawn:
    """Where and when a touch went down: a ripple's origin."""

    x: float
    y: float
    at: float


class TouchBoard:
    """The touches down now per surface and the recent touch-downs per canvas."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.live: dict[str, dict[str, LiveTouch]] = {}
        self.canvas_of: dict[str, str] = {}
        self.spawns: dict[str, deque[Spawn]] = {}
        self.generation = 0  # bumped on every change (a drawing's cache key)

    def on_canvas(self, canvas: str) -> list[LiveTouch]:
        # list() copies in one step under the GIL: a render thread (the non-native renderer)
        # may read while the Trio thread writes.
        return [
            t
            for surface, touches in list(self.live.items())
            if self.canvas_of.get(surface) == canvas
            for t in list(touches.values())
        ]

    def recent(self, canvas: str, within_s: float) -> list[Spawn]:
        now = self.clock()
        return [s for s in list(self.spawns.get(canvas, ())) if now - s.at <= within_s]
