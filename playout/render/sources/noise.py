"""Value noise drifting through time, as a tint or through a palette."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import fields
from ..colour import BLACK, palette_lut
from .base import SCALE_DOC, LayerSource, ParamSpec, speed_spec


def _smoothstep(f: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(f * f * (3.0 - 2.0 * f))


def lattice_values(
    ix: NDArray[np.int64], iy: NDArray[np.int64], z: int, seed: int
) -> NDArray[np.float64]:
    """Pseudo-random values in [0, 1) at the lattice points (iy, ix) of time slice z, (ny, nx).

    A hash of the coordinates and the seed (multiply-xor, then the lowbias32 finaliser), so the
    same seed gives the same noise on every machine and after every restart.
    """
    zs = np.uint32((z * 0xCB1AB31F + seed * 0x165667B1 + 0x27D4EB2F) & 0xFFFFFFFF)
    hx = ix.astype(np.uint32) * np.uint32(0x8DA6B343)
    hy = iy.astype(np.uint32) * np.uint32(0xD8163841)
    h = (hy[:, None] ^ hx[None, :]) ^ zs
    h ^= h >> 16
    h *= np.uint32(0x7FEB352D)
    h ^= h >> 15
    h *= np.uint32(0x846CA68B)
    h ^= h >> 16
    return (h >> 8).astype(np.float64) * (1.0 / (1 << 24))


class Noise(LayerSource):
    kind = "noise"
    summary = (
        "Smooth value noise that drifts through time, as a tint (black to colour) or through a"
        " palette; the same seed always gives the same pattern."
    )
    animated = True
    params = MappingProxyType(
        {
            "scale": ParamSpec(
                type="number",
                default=0.05,
                minimum=0.0005,
                maximum=1.0,
                unit="cycles/px",
                doc=SCALE_DOC,
            ),
            "speed": speed_spec(
                "how fast the pattern changes: noise cells per second (0 = still)", default=0.2
            ),
            "colour": ParamSpec(
                type="colour", default="#ffffff", doc="tint: the noise runs from black to it"
            ),
            "colours": ParamSpec(
                type="palette", default=None, doc="a palette instead of the tint (optional)"
            ),
            "seed": ParamSpec(
                type="integer",
                default=0,
                minimum=0,
                maximum=2**31 - 1,
                doc="which pattern: the same seed always gives the same noise",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        if "colour" in self.given and "colours" in self.given:
            problems.append(
                self.problem("colours", "give either colour (a tint) or colours, not both")
            )
        colours = values["colours"] or (BLACK, values["colour"])
        self._lut = palette_lut(colours)
        self.speed: float = values["speed"]
        self.seed: int = values["seed"]
        scale: float = values["scale"]
        w, h = self.canvas.width, self.canvas.height
        gx = np.arange(w, dtype=np.float64) * scale
        gy = np.arange(h, dtype=np.float64) * scale
        self._ix = np.floor(gx).astype(np.int64)
        self._iy = np.floor(gy).astype(np.int64)
        self._fx = _smoothstep(gx - self._ix)
        self._fy = _smoothstep(gy - self._iy)
        self._lat_x = np.arange(int(self._ix[-1]) + 2, dtype=np.int64)
        self._lat_y = np.arange(int(self._iy[-1]) + 2, dtype=np.int64)
        self._fy32 = self._fy.astype(np.float32)
        # (lattice row j, first canvas row, end row) for each run of rows sharing iy == j
        starts = np.flatnonzero(np.diff(self._iy, prepend=-1))
        ends = [*starts[1:].tolist(), h]
        self._bands = [
            (int(self._iy[y0]), int(y0), int(y1)) for y0, y1 in zip(starts, ends, strict=True)
        ]
        self._z0: int | None = None
        self._s0 = np.empty((h, w), dtype=np.float32)
        self._s1 = np.empty((h, w), dtype=np.float32)
        self._a = np.empty((h, w), dtype=np.float32)
        self._d = np.empty((h, w), dtype=np.float32)
        self._scratch = fields.Scratch(w * h)

    def slice(self, z: int, out: NDArray[np.float32]) -> None:
        """The noise at integer time z into out (h, w), 0..1: the lattice, smoothly
        interpolated (smoothstep weights) along x, then along y."""
        lat = lattice_values(self._lat_x, self._lat_y, z, self.seed)
        ix, fx = self._ix, self._fx
        rows = (lat[:, ix] * (1.0 - fx) + lat[:, ix + 1] * fx).astype(np.float32)  # (ny, w)
        steps = rows[1:] - rows[:-1]
        # canvas rows between two lattice rows j and j + 1: rows[j] + fy * steps[j]
        for j, y0, y1 in self._bands:
            band = out[y0:y1]
            np.multiply(self._fy32[y0:y1, None], steps[j], out=band)
            band += rows[j]

    def _advance(self, z0: int) -> None:
        if self._z0 is not None and z0 == self._z0 + 1:
            self._s0, self._s1 = self._s1, self._s0
            self.slice(z0 + 1, self._s1)
        elif self._z0 is not None and z0 == self._z0 - 1:
            self._s0, self._s1 = self._s1, self._s0
            self.slice(z0, self._s0)
        else:
            self.slice(z0, self._s0)
            self.slice(z0 + 1, self._s1)
        self._z0 = z0
        top = np.float32(self._lut.shape[0] - 1)
        np.multiply(self._s0, top, out=self._a)
        self._a += np.float32(0.5)
        np.subtract(self._s1, self._s0, out=self._d)
        self._d *= top

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        z = self.speed * t
        z0 = math.floor(z)
        if z0 != self._z0:
            self._advance(z0)
        f = z - z0
        fields.lerp_gather(out, self._a, self._d, f * f * (3.0 - 2.0 * f), self._lut, self._scratch)
