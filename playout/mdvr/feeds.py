"""Live frames from MDVR cameras for the ``mdvr-live`` layer source.

A feed per (device, channel). Layer sources say which sizes they draw at (``want``); the
decoder thread (video.py) scales each decoded picture to every wanted size and publishes them
together, replacing a dict in one assignment, so the render thread reads a consistent set
without a lock. Nothing here imports Trio or PyAV.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Size = tuple[int, int]  # (width, height)


@dataclass(eq=False)
class LiveFeed:
    device_id: str
    channel: int
    frames: dict[Size, NDArray[np.uint16]] = field(default_factory=dict)
    seq: int = 0
    last_frame_at: float | None = None  # time.monotonic() of the newest frame
    received_at: float | None = None  # time.monotonic() its packet arrived (any process)
    latency_ms: float | None = None  # packet received → scaled frame published
    source_size: Size | None = None
    codec: str | None = None
    _wanted: Counter[Size] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def want(self, size: Size) -> None:
        with self._lock:
            self._wanted[size] += 1

    def unwant(self, size: Size) -> None:
        with self._lock:
            self._wanted[size] -= 1
            if self._wanted[size] <= 0:
                del self._wanted[size]

    def set_wanted(self, sizes: list[Size]) -> None:
        """Exactly these sizes (the gateway process, told what the daemon's layers want)."""
        with self._lock:
            self._wanted = Counter(dict.fromkeys(sizes, 1))

    def wanted(self) -> list[Size]:
        with self._lock:
            return list(self._wanted)

    def publish(
        self, frames: dict[Size, NDArray[np.uint16]], *, received_at: float, source: Size
    ) -> None:
        """Called by the decoder thread with one picture at every wanted size."""
        now = time.monotonic()
        self.frames = frames
        self.source_size = source
        self.latency_ms = (now - received_at) * 1e3
        self.received_at = received_at
        self.last_frame_at = now
        self.seq += 1

    def age_s(self) -> float | None:
        at = self.last_frame_at
        return None if at is None else time.monotonic() - at

    def status(self) -> dict[str, object]:
        age = self.age_s()
        return {
            "device_id": self.device_id,
            "channel": self.channel,
            "frames": self.seq,
            "codec": self.codec,
            "source_size": list(self.source_size) if self.source_size else None,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "last_frame_age_s": None if age is None else round(age, 3),
        }


class LiveFeeds:
    """Every feed of the process by (device, channel)."""

    def __init__(self) -> None:
        self._feeds: dict[tuple[str, int], LiveFeed] = {}
        self._lock = threading.Lock()

    def feed(self, device_id: str, channel: int) -> LiveFeed:
        with self._lock:
            key = (device_id, channel)
            found = self._feeds.get(key)
            if found is None:
                found = self._feeds[key] = LiveFeed(device_id, channel)
            return found

    def all(self) -> list[LiveFeed]:
        with self._lock:
            return list(self._feeds.values())
