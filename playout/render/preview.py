"""Live preview snapshots: each canvas box-averaged to 8-bit RGB at a bounded rate.

The control plane reads the newest snapshot; producing it costs one native downscale per
canvas every 1/preview_rate_hz seconds, never per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trocadero.native import kernels

from .renderer import Renderer


@dataclass(frozen=True)
class Preview:
    canvas: str
    width: int
    height: int
    frame_time: float  # show time (s) of the frame it was taken from
    rgb: bytes  # width * height * 3, row-major


def preview_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """Scale so the longest side is at most `max_size`, keeping the aspect ratio."""
    factor = min(1.0, max_size / max(width, height))
    return max(1, round(width * factor)), max(1, round(height * factor))


class Previews:
    def __init__(self, renderer: Renderer, *, max_size: int, rate_hz: float) -> None:
        self._renderer = renderer
        self._interval = 1.0 / rate_hz
        self._next_due = 0.0
        self._buffers: dict[str, tuple[int, int, np.ndarray]] = {}
        for name, c in renderer.canvases.items():
            w2, h2 = preview_size(c.cmap.width, c.cmap.height, max_size)
            self._buffers[name] = (w2, h2, np.zeros(w2 * h2 * 3, dtype=np.uint8))
        self._latest: dict[str, Preview] = {}

    @property
    def next_due(self) -> float:
        """When (a monotonic time) the next snapshots are due."""
        return self._next_due

    @property
    def canvases(self) -> tuple[str, ...]:
        return tuple(self._buffers)

    def maybe_update(self, now: float, frame_time: float) -> bool:
        """Take new snapshots when the interval has passed (`now`: a monotonic clock)."""
        if now < self._next_due:
            return False
        self._next_due = now + self._interval
        for name, (w2, h2, buf) in self._buffers.items():
            c = self._renderer.canvases[name]
            kernels.downscale_preview(buf, c.rgb, c.cmap.height, c.cmap.width, h2, w2)
            self._latest[name] = Preview(name, w2, h2, frame_time, buf.tobytes())
        return True

    def latest(self, canvas: str) -> Preview | None:
        return self._latest.get(canvas)
