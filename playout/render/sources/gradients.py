"""Linear and radial gradients: a palette along a position field, still or scrolling."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import fields
from ..colour import PALETTE_SIZE, Colour, palette_lut, sample_palette
from .base import LayerSource, ParamSpec, speed_spec

_COLOURS_DOC = "colours, evenly spaced from the first to the last stop"
_SPEED_DOC = "scroll speed in gradient lengths per second (0 = still; negative = backwards)"
_REPEAT_DOC = (
    "what follows the last stop: false = the gradient mirrored (seamless when it moves, and"
    " the last colour beyond the end when still), true = the gradient again from its first"
    " colour (a hard edge unless the first and last colours match)"
)


class Gradient(LayerSource):
    """Shared by the linear and radial gradients: a position field u per pixel (0 at the first
    stop, 1 at the last), scrolled by speed * t and mapped through the palette.

    Still (speed 0): u is clamped to 0..1 (repeat=false) or wrapped (repeat=true) and the
    picture is drawn once. Moving: u - speed * t is wrapped cyclically through a table holding
    one pass (repeat=true) or a pass and its mirror image (repeat=false, seamless); positions
    are float32 in table entries, the phase speed * t is reduced in float64 first, so the
    picture is the same after days of show time.
    """

    animated = True

    @abstractmethod
    def position(self) -> NDArray[np.float64]:
        """u per pixel, (h, w)."""

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        colours: tuple[Colour, ...] = values["colours"]
        self.speed: float = values["speed"]
        self.repeat: bool = values["repeat"]
        self._scratch = fields.Scratch(self.canvas.width * self.canvas.height)
        u = self.position()
        size = PALETTE_SIZE
        if self.speed == 0.0:
            # drawn once: entry k is the palette at k / (size - 1), so u = 1 is the last stop
            self._lut = palette_lut(colours, size)
            k = np.rint(u * (size - 1))
            k = np.mod(k, size) if self.repeat else np.clip(k, 0, size - 1)
            self._index = k.astype(np.int32).reshape(-1)
            return
        # Moving: the table holds exactly one cycle of `size` entries per gradient length (so
        # the period is exact), and positions wrap with a mask.
        self._span = float(size)
        if self.repeat:
            # one pass per cycle: first stop at entry 0, the last just before the wrap (at the
            # seam, u = 1 when t = 0, the first stop starts again)
            self._lut = sample_palette(colours, np.arange(size, dtype=np.float64) / size)
        else:
            # a pass and its mirror: entries 0..size go up the palette, size..2 size back down
            k = np.arange(2 * size, dtype=np.float64)
            self._lut = sample_palette(colours, np.where(k <= size, k, 2 * size - k) / size)
        self._cycle = float(self._lut.shape[0])
        self._pos = np.ascontiguousarray(u * self._span + 0.5, dtype=np.float32)

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        if self.speed == 0.0:
            fields.gather(out.reshape(-1), self._index, self._lut, self._scratch.u16())
            return
        shift = (-self.speed * t * self._span) % self._cycle
        fields.shift_gather(out, self._pos, shift, self._lut, self._scratch)


class LinearGradient(Gradient):
    kind = "linear-gradient"
    summary = (
        "Colours along a straight line across the canvas, optionally scrolling. At angle 0 the"
        " first colour is the left column and the last colour the right column."
    )
    params = MappingProxyType(
        {
            "colours": ParamSpec(type="palette", default=("#000000", "#ffffff"), doc=_COLOURS_DOC),
            "angle_deg": ParamSpec(
                type="number",
                default=0.0,
                minimum=-360.0,
                maximum=360.0,
                unit="deg",
                doc="direction from first to last colour: 0 = to the right, 90 = to the top",
            ),
            "speed": speed_spec(_SPEED_DOC + "; positive moves towards the last colour"),
            "repeat": ParamSpec(type="boolean", default=False, doc=_REPEAT_DOC),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.angle = math.radians(values["angle_deg"])
        super().setup(values, problems)

    def position(self) -> NDArray[np.float64]:
        w, h = self.canvas.width, self.canvas.height
        dx, dy = math.cos(self.angle), math.sin(self.angle)
        dx = 0.0 if abs(dx) < 1e-12 else dx
        dy = 0.0 if abs(dy) < 1e-12 else dy
        # pixel centres 0..w-1, 0..h-1; "up" is -y
        x = np.arange(w, dtype=np.float64)[None, :]
        y = np.arange(h, dtype=np.float64)[:, None]
        proj = x * dx - y * dy
        corners = [cx * dx - cy * dy for cx in (0, w - 1) for cy in (0, h - 1)]
        lo, hi = min(corners), max(corners)
        if hi - lo < 1e-9:
            return np.zeros((h, w), dtype=np.float64)
        return np.asarray((proj - lo) / (hi - lo), dtype=np.float64)


class RadialGradient(Gradient):
    kind = "radial-gradient"
    summary = (
        "Colours in rings around a centre: the first colour at the centre, the last at the"
        " radius; moving rings when speed is set."
    )
    params = MappingProxyType(
        {
            "colours": ParamSpec(type="palette", default=("#ffffff", "#000000"), doc=_COLOURS_DOC),
            "centre": ParamSpec(
                type="point",
                default=(0.5, 0.5),
                minimum=0.0,
                maximum=1.0,
                doc="[x, y] as fractions of the canvas width and height from the top left",
            ),
            "radius": ParamSpec(
                type="number",
                default=1.0,
                minimum=0.001,
                maximum=2.0,
                doc="distance of the last colour, as a fraction of half the canvas diagonal",
            ),
            "speed": speed_spec(_SPEED_DOC + "; positive moves outwards"),
            "repeat": ParamSpec(type="boolean", default=False, doc=_REPEAT_DOC),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.centre: tuple[float, float] = values["centre"]
        self.radius: float = values["radius"]
        super().setup(values, problems)

    def position(self) -> NDArray[np.float64]:
        w, h = self.canvas.width, self.canvas.height
        cx, cy = self.centre[0] * w, self.centre[1] * h
        x = np.arange(w, dtype=np.float64)[None, :] + 0.5 - cx
        y = np.arange(h, dtype=np.float64)[:, None] + 0.5 - cy
        reach = self.radius * math.hypot(w, h) / 2.0
        return np.asarray(np.hypot(x, y) / reach, dtype=np.float64)
