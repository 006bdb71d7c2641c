"""Touch ripples: rings expanding from where touches went down on this canvas, and a glow
under every touch held now (docs/touch.md). Drawn from the touch board the daemon's touch
service keeps (`SourceContext.touches`); like live video, a slot the Trio thread fills each
frame: a late fill repeats a frame, the wire never waits."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .base import LayerSource, ParamSpec

MAX_RINGS: Final = 32  # the newest; older ones are faint by then anyway


class TouchRipple(LayerSource):
    kind = "touch_ripple"
    summary = (
        "Rings of colour expanding from each touch on this canvas (touch surfaces, the"
        " simulator), and a glow under every finger held down."
    )
    animated = True
    params = MappingProxyType(
        {
            "colour": ParamSpec(type="colour", default="#ffffff", doc="the rings' colour"),
            "background": ParamSpec(type="colour", default="#000000", doc="colour elsewhere"),
            "speed": ParamSpec(
                type="number",
                default=40.0,
                minimum=0.1,
                maximum=10000.0,
                unit="px/s",
                doc="how fast a ring grows",
            ),
            "lifetime_s": ParamSpec(
                type="number",
                default=1.5,
                minimum=0.05,
                maximum=60.0,
                unit="s",
                doc="how long a ring lasts, fading out",
            ),
            "width": ParamSpec(
                type="number",
                default=3.0,
                minimum=0.5,
                maximum=1000.0,
                unit="px",
                doc="a ring's thickness, and the glow's radius under a held touch",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.float32)
        self.background = np.asarray(values["background"], dtype=np.float32)
        self.speed: float = values["speed"]
        self.lifetime: float = values["lifetime_s"]
        self.width: float = values["width"]
        self.board = self.context.touches
        h, w = self.canvas.height, self.canvas.width
        self._xs = np.arange(w, dtype=np.float32) + 0.5  # pixel centres
        self._ys = np.arange(h, dtype=np.float32) + 0.5
        self._level = np.zeros((h, w), dtype=np.float32)

    def _active(self) -> bool:
        name = self.canvas.name
        return bool(self.board.on_canvas(name) or self.board.recent(name, self.lifetime))

    def frame_key(self, t: float) -> Hashable:
        # Still while nothing is touched: drawn once, then skipped frame after frame.
        return ("live", t) if self._active() else ("idle", self.board.generation)

    def _stamp(self, x: float, y: float, radius: float, level: float, ring: bool) -> None:
        """Raise the level around (x, y): a ring of `radius`, or a disc when not `ring`."""
        reach = radius + self.width if ring else self.width * 2.0
        h, w = self._level.shape
        x0, x1 = max(0, math.floor(x - reach)), min(w, math.ceil(x + reach) + 1)
        y0, y1 = max(0, math.floor(y - reach)), min(h, math.ceil(y + reach) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        dx = self._xs[x0:x1] - np.float32(x)
        dy = self._ys[y0:y1] - np.float32(y)
        d = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)
        shape = np.abs(d - radius) if ring else np.maximum(d - self.width, 0)
        a = np.clip(1.0 - shape / self.width, 0.0, 1.0) * np.float32(level)
        box = self._level[y0:y1, x0:x1]
        np.maximum(box, a, out=box)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        level = self._level
        level.fill(0.0)
        now = self.board.clock()
        name = self.canvas.name
        for s in self.board.recent(name, self.lifetime)[-MAX_RINGS:]:
            age = max(0.0, now - s.at)
            self._stamp(s.x, s.y, self.speed * age, 1.0 - age / self.lifetime, True)
        for touch in self.board.on_canvas(name):
            self._stamp(touch.x, touch.y, 0.0, 1.0, False)
        mixed = self.background + level[..., None] * (self.colour - self.background)
        np.copyto(out, np.rint(mixed), casting="unsafe")
