"""The cameras for the control plane: each tracker's state with its newest blobs, and its
newest picture (`core.blobs.CameraView`, used by the `camera.list` operation and the
snapshot route)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from trocadero.core.blobs import LiveBlobs, Snapshot, blob_doc
from trocadero.core.errors import NotFoundError

from .process import CameraTracker

__all__ = ["Cameras"]


class Cameras:
    def __init__(self, trackers: Sequence[CameraTracker], live: LiveBlobs) -> None:
        self.trackers = {t.camera.name: t for t in trackers}
        self.live = live

    def cameras(self) -> list[dict[str, Any]]:
        return [self._one(t) for t in self.trackers.values()]

    def _one(self, tracker: CameraTracker) -> dict[str, Any]:
        c, s = tracker.camera, tracker.statistics()
        found = self.live.get(c.name)
        shot = self.live.latest_snapshot(c.name)
        return {
            "name": c.name,
            "state": s.state,
            "up": s.up,
            "canvas": c.canvas,
            "rect": list(c.rect),
            "rate_hz": c.rate_hz,
            "picture": None if tracker.picture is None else list(tracker.picture),
            "frames": s.frames,
            "starts": s.starts,
            "last_frame_age_s": s.last_frame_age_s,
            "last_error": s.last_error,
            "frame_at": None if found is None else found.frame_at,
            "seq": None if found is None else found.seq,
            "blobs": [] if found is None else [blob_doc(b) for b in found.blobs],
            "snapshot_age_s": None if shot is None else round(time.time() - shot.taken_at, 3),
        }

    def snapshot(self, name: str) -> Snapshot | None:
        if name not in self.trackers:
            raise NotFoundError(f'no camera "{name}"')
        return self.live.latest_snapshot(name)
