"""Light where the cameras see people: a soft spot per tracked blob (docs/cameras.md)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from trocadero.core.blobs import Blob

from .base import LayerSource, ParamSpec

MAX_SPOTS: Final = 64  # a frame's cost stays bounded whatever a tracker reports


class BlobGlow(LayerSource):
    kind = "blob_glow"
    summary = (
        "A soft spot of light where each blob a camera tracks is (people walking past light"
        " the facade where they are); black when the camera has seen nobody lately."
    )
    animated = True
    params = MappingProxyType(
        {
            "camera": ParamSpec(type="string", required=True, doc="a [[cameras]] name"),
            "colour": ParamSpec(type="colour", default="#ffd8a0", doc="the spots' colour"),
            "size": ParamSpec(
                type="number",
                default=1.5,
                minimum=0.1,
                maximum=20.0,
                doc="spot radius as a multiple of the blob's half-diagonal",
            ),
            "min_radius": ParamSpec(
                type="number",
                default=1.5,
                minimum=0.5,
                maximum=1000.0,
                unit="px",
                doc="smallest spot radius",
            ),
            "falloff": ParamSpec(
                type="choice",
                default="gaussian",
                choices=("gaussian", "linear", "hard"),
                doc="how a spot fades to its edge",
            ),
            "intensity": ParamSpec(
                type="number", default=1.0, minimum=0.0, maximum=1.0, doc="the spots' level"
            ),
            "fade_after_s": ParamSpec(
                type="number",
                default=1.0,
                minimum=0.05,
                maximum=60.0,
                unit="s",
                doc="blobs older than this (a camera gone quiet) are not drawn",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.camera: str = str(values["camera"] or "")
        self.colour = np.asarray(values["colour"], dtype=np.float32)
        self.size: float = values["size"]
        self.min_radius: float = values["min_radius"]
        self.falloff: str = values["falloff"]
        self.intensity: float = values["intensity"]
        self.fade_after_s: float = values["fade_after_s"]
        self.live = self.context.blobs
        known = self.live.placements
        if self.camera and known and self.camera not in known:  # a daemon with cameras
            problems.append(
                self.problem(
                    "camera", f"no camera {self.camera!r} (known: {', '.join(sorted(known))})"
                )
            )
        place = known.get(self.camera)
        w, h = self.canvas.width, self.canvas.height
        rect = place.rect if place is not None and place.rect else (0.0, 0.0, w, h)
        if place is not None and place.canvas and place.canvas != self.canvas.name:
            rect = (0.0, 0.0, w, h)  # mapped to another canvas: the whole of this one
        self.rect = tuple(float(v) for v in rect)
        self._level = np.zeros((h, w), dtype=np.float32)
        self._ys = np.arange(h, dtype=np.float32)[:, None]
        self._xs = np.arange(w, dtype=np.float32)[None, :]

    def _blobs(self) -> tuple[int, tuple[Blob, ...]] | None:
        found = self.live.get(self.camera)
        if found is None or self.live.clock() - found.received > self.fade_after_s:
            return None
        return found.seq, found.blobs

    def frame_key(self, t: float) -> Hashable:
        now = self._blobs()
        return None if now is None or not now[1] else now[0]

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        now = self._blobs()
        level = self._level
        level.fill(0.0)
        if now is not None:
            for b in now[1][:MAX_SPOTS]:
                self._spot(b, level)
        np.copyto(out, (level[:, :, None] * (self.colour * self.intensity)).astype(np.uint16))

    def _spot(self, b: Blob, level: NDArray[np.float32]) -> None:
        rx, ry, rw, rh = self.rect
        cx, cy = rx + b.x * rw, ry + b.y * rh
        r = max(self.min_radius, self.size * 0.5 * math.hypot(b.w * rw, b.h * rh))
        h, w = level.shape
        x0, x1 = max(0, math.floor(cx - r)), min(w, math.ceil(cx + r) + 1)
        y0, y1 = max(0, math.floor(cy - r)), min(h, math.ceil(cy + r) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        d2 = (self._xs[:, x0:x1] - cx) ** 2 + (self._ys[y0:y1, :] - cy) ** 2
        if self.falloff == "gaussian":
            spot = np.exp(d2 * (-4.0 / (r * r)))  # 1/e² at the radius: soft, not a disc
            spot[d2 > r * r] = 0.0
        elif self.falloff == "linear":
            spot = np.clip(1.0 - np.sqrt(d2) / r, 0.0, 1.0)
        else:
            spot = (d2 <= r * r).astype(np.float32)
        np.maximum(level[y0:y1, x0:x1], spot, out=level[y0:y1, x0:x1])
