"""Centroid tracking: detections per frame in, blobs with persistent ids out. Pure (no
OpenCV, no clock of its own), so the same code follows OpenCV's contours in the tracker
process and a numpy peer's in the benchmark.

Each frame, the detections are matched to the live tracks nearest first (a greedy global
assignment by distance to each track's predicted position), no farther than `max_jump`; an
unmatched detection starts a new id; a track that goes unmatched is kept, coasting on its
velocity, for `max_missed` frames (someone walking behind a pillar keeps their id) and then
dropped. Only tracks seen in this frame are reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from trocadero.protocols.blob_wire import Blob

__all__ = ["CentroidTracker", "Detection"]


@dataclass(frozen=True, slots=True)
class Detection:
    """A blob found in one frame, in picture fractions."""

    x: float
    y: float
    w: float
    h: float
    area: float


@dataclass(slots=True)
class _Track:
    id: int
    x: float
    y: float
    vx: float
    vy: float
    det: Detection
    first_seen: float
    missed: int = 0


class CentroidTracker:
    def __init__(self, max_jump: float, max_missed: int, *, aspect: float = 1.0) -> None:
        self.max_jump = max_jump
        self.max_missed = max_missed
        self.aspect = aspect  # height / width: distances in units of the picture's width
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)

    def update(self, found: Sequence[Detection], t: float) -> list[Blob]:
        pairs: list[tuple[float, int, int]] = []
        for ti, tr in enumerate(self._tracks):
            steps = tr.missed + 1
            px, py = tr.x + tr.vx * steps, tr.y + tr.vy * steps
            # A coasting track may have drifted: allow it a jump per missed frame.
            reach = self.max_jump * steps
            for di, d in enumerate(found):
                dist = math.hypot(d.x - px, (d.y - py) * self.aspect)
                if dist <= reach:
                    pairs.append((dist, ti, di))
        pairs.sort()
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            tr, d = self._tracks[ti], found[di]
            steps = tr.missed + 1
            # Velocity smoothed over frames: one noisy contour must not throw the prediction.
            tr.vx = 0.5 * tr.vx + 0.5 * (d.x - tr.x) / steps
            tr.vy = 0.5 * tr.vy + 0.5 * (d.y - tr.y) / steps
            tr.x, tr.y, tr.det, tr.missed = d.x, d.y, d, 0
        kept: list[_Track] = []
        for ti, tr in enumerate(self._tracks):
            if ti not in used_t:
                tr.missed += 1
                if tr.missed > self.max_missed:
                    continue
            kept.append(tr)
        for di, d in enumerate(found):
            if di not in used_d:
                kept.append(_Track(next(self._ids), d.x, d.y, 0.0, 0.0, d, t))
        self._tracks = kept
        return [
            Blob(tr.id, tr.x, tr.y, tr.det.w, tr.det.h, tr.det.area, max(0.0, t - tr.first_seen))
            for tr in kept
            if tr.missed == 0
        ]

    @property
    def live(self) -> int:
        """Tracks kept (seen now or coasting)."""
        return len(self._tracks)
