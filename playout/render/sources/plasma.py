"""Classic plasma: four sine waves summed and mapped through a palette."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .. import fields
from ..colour import RAINBOW, palette_lut
from .base import SCALE_DOC, LayerSource, ParamSpec, cycle_phase, speed_spec

# Relative phase rates of the four sine terms: unequal, so the pattern morphs, not just drifts.
_PLASMA_RATES: Final = (1.0, -0.7, 1.3, -1.1)


class Plasma(LayerSource):
    kind = "plasma"
    summary = (
        "Classic plasma: four sine waves (horizontal, vertical, diagonal, rings) summed and"
        " mapped through a palette, each drifting at its own rate."
    )
    animated = True
    params = MappingProxyType(
        {
            "colours": ParamSpec(
                type="palette",
                default=RAINBOW,
                doc="palette, from the lowest to the highest value of the sum",
            ),
            "scale": ParamSpec(
                type="number",
                default=0.03,
                minimum=0.0005,
                maximum=1.0,
                unit="cycles/px",
                doc=SCALE_DOC,
            ),
            "speed": speed_spec("phase turns per second of the waves (0 = still)", default=0.2),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self._lut = palette_lut(values["colours"])
        self.speed: float = values["speed"]
        k = 2.0 * math.pi * values["scale"]
        w, h = self.canvas.width, self.canvas.height
        x = np.arange(w, dtype=np.float64)
        y = np.arange(h, dtype=np.float64)
        theta = math.pi / 3.0
        self._kx = k * x  # term 1: sin(k x + p1)
        self._ky = 0.8 * k * y  # term 2: sin(0.8 k y + p2)
        self._ax = 0.9 * k * math.cos(theta) * x  # term 3: sin(ax + by + p3), by = ...
        by = 0.9 * k * math.sin(theta) * y
        self._cb = np.cos(by).astype(np.float32)
        self._sb = np.sin(by).astype(np.float32)
        r = np.hypot(x[None, :] - (w - 1) / 2.0, y[:, None] - (h - 1) / 2.0)
        self._sr = np.sin(1.1 * k * r).astype(np.float32)  # term 4: sin(1.1 k r + p4)
        self._cr = np.cos(1.1 * k * r).astype(np.float32)
        # the sum (-4..4) scaled onto the palette entries 0..m-1, +0.5 to round
        self._gain = (self._lut.shape[0] - 1) / 8.0
        self._colx = np.empty(w, dtype=np.float32)
        self._rowy = np.empty(h, dtype=np.float32)
        self._sa = np.empty(w, dtype=np.float32)
        self._ca = np.empty(w, dtype=np.float32)
        self._scratch = fields.Scratch(w * h)

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        p1, p2, p3, p4 = (
            2.0 * math.pi * cycle_phase(self.speed * rate * t) for rate in _PLASMA_RATES
        )
        g = self._gain
        self._colx[...] = g * np.sin(self._kx + p1) + (4.0 * g + 0.5)
        self._rowy[...] = g * np.sin(self._ky + p2)
        a = self._ax + p3
        self._sa[...] = g * np.sin(a)
        self._ca[...] = g * np.cos(a)
        fields.plasma_gather(
            out,
            self._colx,
            self._rowy,
            self._sa,
            self._ca,
            self._cb,
            self._sb,
            self._sr,
            self._cr,
            g * math.cos(p4),
            g * math.sin(p4),
            self._lut,
            self._scratch,
        )
