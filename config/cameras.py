"""Cameras watched by blob trackers (`[[cameras]]`, docs/cameras.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .fields import setting

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_CAMERAS: Final = 16
TRANSPORTS: Final = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """One camera: where its picture comes from, where it lands on a canvas, and how its
    tracker tells people from the background."""

    name: str = field(metadata={"doc": "the camera's name (rules, layers, the blob view)"})
    url: str = field(metadata={"doc": "rtsp://… stream, or a video file (played in a loop)"})
    listen: bool = setting(
        False,
        "rtsp: wait at this address for the camera (or an encoder) to push its stream (RTSP"
        " ANNOUNCE/RECORD) instead of pulling it from the camera",
    )
    transport: str = setting(
        "tcp",
        "rtsp pull: 'tcp' (RTP interleaved on the RTSP connection: whole pictures on a lossy"
        " link) or 'udp' (RTP datagrams, for a camera or relay that serves only UDP)",
    )
    canvas: str = setting("", "canvas the picture maps to (blob_glow layers); empty = any")
    rect: tuple[float, ...] = setting(
        (),
        "[x, y, width, height] on that canvas, in pixels, that the picture covers; empty ="
        " the whole canvas",
    )
    rate_hz: float = setting(
        15.0, "frames analysed per second (more are skipped)", minimum=1.0, maximum=60.0
    )
    width: int = setting(
        640, "frames are scaled to this width before analysis", minimum=64, maximum=1920
    )
    threshold: float = setting(
        32.0,
        "background subtraction: squared distance a pixel must differ by (MOG2 varThreshold)",
        minimum=1.0,
        maximum=1000.0,
    )
    history: int = setting(300, "frames the background model remembers", minimum=10, maximum=10_000)
    min_area: float = setting(
        0.0005, "smallest blob, as a fraction of the picture", minimum=0.0, maximum=1.0
    )
    max_area: float = setting(
        0.25, "largest blob, as a fraction of the picture", minimum=0.0, maximum=1.0
    )
    max_jump: float = setting(
        0.15,
        "farthest a blob moves between analysed frames (fraction of the picture width) and"
        " stays the same blob",
        minimum=0.001,
        maximum=1.0,
    )
    max_missed: int = setting(
        8, "frames a blob may go unseen (an occlusion) before its id is dropped", minimum=0
    )
    dead_after_s: float = setting(
        5.0,
        "no frame for this long: the camera is dead (alert, tracker restarted)",
        minimum=0.5,
        maximum=3600.0,
    )
    snapshot_interval_s: float = setting(
        0.5, "a JPEG of the picture for the blob view this often", minimum=0.1, maximum=60.0
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not _NAME.match(self.name):
            problems.append(f"name: 1-64 letters, digits, '_', '.' or '-' (got {self.name!r})")
        if not self.url:
            problems.append("url: required (rtsp://host/path or a video file)")
        if self.listen and not self.url.startswith("rtsp://"):
            problems.append(f"listen: only for an rtsp:// url (got {self.url!r})")
        if self.transport not in TRANSPORTS:
            problems.append(f"transport: 'tcp' or 'udp' (got {self.transport!r})")
        if self.rect and (len(self.rect) != 4 or self.rect[2] <= 0 or self.rect[3] <= 0):
            problems.append(f"rect: [x, y, width, height] with a positive size (got {self.rect})")
        if self.min_area >= self.max_area:
            problems.append(f"min_area: must be below max_area ({self.max_area:g})")
        return problems
