"""Live video from an MDVR vehicle camera (frames decoded by the gateway)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import LayerSource, ParamSpec
from .fallback import FALLBACK_IMAGE, fallback_frame


class MdvrLive(LayerSource):
    kind = "mdvr-live"
    summary = (
        "Live video from an MDVR vehicle camera (start it through the gateway), scaled to the"
        " canvas; a colour while no frames arrive."
    )
    animated = True
    params = MappingProxyType(
        {
            "device": ParamSpec(type="string", required=True, doc="MDVR device id, e.g. 00967"),
            "channel": ParamSpec(
                type="integer", default=0, minimum=0, maximum=15, doc="camera channel, 0-based"
            ),
            "fallback": ParamSpec(
                type="colour", default="#000000", doc="shown when no frame has arrived lately"
            ),
            "fallback_image": FALLBACK_IMAGE,
            "fallback_after_s": ParamSpec(
                type="number",
                default=2.0,
                minimum=0.05,
                maximum=3600.0,
                unit="s",
                doc="seconds without a frame before the fallback colour is shown",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.fallback = fallback_frame(self, values, problems)
        self.fallback_after_s: float = values["fallback_after_s"]
        self.size = (self.canvas.width, self.canvas.height)
        self.feed = self.context.live_feeds.feed(
            str(values["device"] or ""), int(values["channel"])
        )
        self.feed.want(self.size)  # the decoder scales to this size from the next picture
        self._closed = False

    def _live(self) -> bool:
        age = self.feed.age_s()
        return age is not None and age <= self.fallback_after_s and self.size in self.feed.frames

    def frame_key(self, t: float) -> Hashable:
        return self.feed.seq if self._live() else "fallback"

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        frame = self.feed.frames.get(self.size) if self._live() else None
        if frame is None:
            np.copyto(out, self.fallback)
        else:
            np.copyto(out, frame)

    @property
    def latency_ms(self) -> float | None:
        """Packet received → frame ready at this canvas's size (None before any frame)."""
        return self.feed.latency_ms

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.feed.unwant(self.size)
