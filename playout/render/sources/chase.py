"""The chase: a bar of colour travelling across the canvas."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import LayerSource, ParamSpec, cycle_phase, speed_spec


def _fill_rows(out: NDArray[np.uint16], colours: NDArray[np.uint16]) -> None:
    """out[y, x] = colours[y] for every x. A broadcast copy would move 3 values at a time
    (~8x slower); this copies the first column, then doubles the filled width each step."""
    width = out.shape[1]
    out[:, 0, :] = colours
    done = 1
    while done < width:
        step = min(done, width - done)
        out[:, done : done + step] = out[:, :step]
        done += step


class Chase(LayerSource):
    kind = "chase"
    summary = (
        "A bar of colour travelling across the canvas and wrapping around. At t = 0 the bar"
        " starts at the edge it travels away from (the left edge for direction right)."
    )
    animated = True
    params = MappingProxyType(
        {
            "colour": ParamSpec(type="colour", default="#ffffff", doc="the bar's colour"),
            "background": ParamSpec(type="colour", default="#000000", doc="colour everywhere else"),
            "width": ParamSpec(
                type="number",
                default=0.1,
                minimum=0.0,
                maximum=1.0,
                doc="bar width as a fraction of the travel length",
            ),
            "speed": speed_spec(
                "travels across the canvas per second (negative = the other way)",
                default=0.25,
            ),
            "direction": ParamSpec(
                type="choice",
                default="right",
                choices=("right", "left", "down", "up"),
                doc="direction of travel",
            ),
            "soft": ParamSpec(
                type="boolean",
                default=True,
                doc="smooth raised-cosine fall-off across the bar; false = hard edges",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.float64)
        self.background = np.asarray(values["background"], dtype=np.float64)
        self.speed: float = values["speed"]
        self.direction: str = values["direction"]
        self.soft: bool = values["soft"]
        self.horizontal = self.direction in ("right", "left")
        self.length = self.canvas.width if self.horizontal else self.canvas.height
        self.bar = values["width"] * self.length  # in pixels
        self._left = np.arange(self.length, dtype=np.float64)  # pixel i covers [i, i + 1)
        self._line = np.empty((self.length, 3), dtype=np.uint16)
        # The bar's light profile along the travel, integrated: F(d) = light from the bar's
        # trailing edge up to d pixels past it. Hard: 1 per pixel over the bar's width. Soft: a
        # raised cosine 0.5 - 0.5 cos(2 pi d / bar), zero at both edges, full in the middle.
        # Tabulated once, read with np.interp (which also clamps: 0 before, all after).
        bar = max(self.bar, 1e-12)
        self._grid = np.linspace(0.0, bar, 1025)
        if self.soft:
            self._table = 0.5 * self._grid - bar / (4.0 * math.pi) * np.sin(
                2.0 * math.pi * self._grid / bar
            )
        else:
            self._table = self._grid.copy()

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 or self.bar == 0.0 else t

    def coverage(self, t: float) -> NDArray[np.float64]:
        """Light level 0..1 of each pixel along the travel: the bar's profile averaged over the
        pixel (box-filtered, so a slow bar moves smoothly instead of in whole-pixel steps)."""
        n = self.length
        if self.bar == 0.0:
            return np.zeros(n)
        start = cycle_phase(self.speed * t) * n  # the bar's trailing edge
        d = np.mod(self._left - start, n)  # pixel's left edge, pixels past the trailing edge
        grid, table = self._grid, self._table
        # [d, d + 1) against the bar at [0, bar) and, wrapped around, at [n, n + bar)
        level = np.interp(d + 1.0, grid, table) - np.interp(d, grid, table)
        level += np.interp(d + (1.0 - n), grid, table)
        if self.direction in ("left", "up"):
            level = level[::-1]
        return np.asarray(np.clip(level, 0.0, 1.0), dtype=np.float64)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        line = self.background + (self.colour - self.background) * self.coverage(t)[:, None]
        np.rint(line, out=line)
        self._line[...] = line
        if self.horizontal:
            np.copyto(out, self._line[None, :, :])
        else:
            _fill_rows(out, self._line)
