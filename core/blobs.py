"""Live blobs from the site's cameras, as the daemon keeps them (docs/cameras.md).

A blob tracker process per camera (playout/cameras/) sends what it sees; the daemon keeps the
newest set per camera here. Readers are the render thread (`blob_glow` layers), the rule
engine (regions) and the control plane (the blob view). Each camera's set is replaced in one
assignment, so a reader on another thread sees a whole set, never half of one, without a lock.

Coordinates are fractions of the camera's picture (0..1, x right, y down): the tracker's
resolution is its own business, and the rectangle a camera maps to on a canvas is config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from trocadero.protocols.blob_wire import Blob  # one definition, the wire's

__all__ = [
    "Blob",
    "CameraBlobs",
    "CameraView",
    "LiveBlobs",
    "Placement",
    "Region",
    "Snapshot",
    "blob_doc",
    "count_in",
]

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 in picture fractions


@dataclass(frozen=True, slots=True)
class CameraBlobs:
    """One frame's blobs of one camera."""

    camera: str
    blobs: tuple[Blob, ...]
    frame_at: float  # Unix seconds the frame was taken (the tracker's clock)
    received: float  # time.monotonic() in this process
    seq: int


def blob_doc(b: Blob) -> dict[str, float | int]:
    """A blob as it goes out in `blob:data` events and the cameras API."""
    return {
        "id": b.id,
        "x": b.x,
        "y": b.y,
        "w": b.w,
        "h": b.h,
        "area": b.area,
        "age_s": round(b.age_s, 3),
    }


def count_in(blobs: tuple[Blob, ...], region: Region) -> int:
    """Blobs whose centroid lies in the region (edges included)."""
    x0, y0, x1, y1 = region
    return sum(1 for b in blobs if x0 <= b.x <= x1 and y0 <= b.y <= y1)


@dataclass(frozen=True, slots=True)
class Snapshot:
    jpeg: bytes
    taken_at: float  # Unix seconds
    width: int
    height: int
    blobs: tuple[Blob, ...] = ()  # tracked in this very picture (the view draws these on it)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a camera's picture lands: a canvas ("" = whichever canvas the layer is on) and
    the rectangle [x, y, width, height] in its pixels (empty = the whole canvas)."""

    canvas: str = ""
    rect: tuple[float, ...] = ()


@dataclass
class LiveBlobs:
    """Every camera's newest blobs and picture; written by the Trio thread, read anywhere."""

    clock: Callable[[], float] = time.monotonic
    _sets: dict[str, CameraBlobs] = field(default_factory=dict)
    _snapshots: dict[str, Snapshot] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)  # from [[cameras]]

    def publish(self, camera: str, blobs: tuple[Blob, ...], frame_at: float) -> CameraBlobs:
        old = self._sets.get(camera)
        found = CameraBlobs(
            camera, blobs, frame_at, self.clock(), 0 if old is None else old.seq + 1
        )
        self._sets[camera] = found  # one assignment: readers see the old set or this one
        return found

    def snapshot(self, camera: str, shot: Snapshot) -> None:
        self._snapshots[camera] = shot

    def clear(self, camera: str) -> None:
        """The camera is down: its blobs are no longer true (its picture stays, marked old)."""
        self._sets.pop(camera, None)

    def get(self, camera: str) -> CameraBlobs | None:
        return self._sets.get(camera)

    def latest_snapshot(self, camera: str) -> Snapshot | None:
        return self._snapshots.get(camera)

    def age_s(self, camera: str) -> float | None:
        found = self._sets.get(camera)
        return None if found is None else self.clock() - found.received


class CameraView(Protocol):
    """The cameras as the control plane shows them (the daemon's trackers)."""

    def cameras(self) -> list[dict[str, Any]]:
        """Every camera: its state and its newest blobs."""
        ...

    def snapshot(self, name: str) -> Snapshot | None:
        """The newest picture (NotFoundError for an unknown camera)."""
        ...
