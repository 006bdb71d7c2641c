"""A generated camera clip with people-like blobs on known tracks (the blob tracker's tests
and benchmark): a dark, slightly uneven background with sensor noise, empty for the first
`EMPTY_S` (the background model learns it), then three bright upright ellipses: one walking
left to right, one right to left lower down, one circling in the middle."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import numpy as np
from numpy.typing import NDArray

EMPTY_S: Final = 0.6
WALK_S: Final = 4.0  # the walkers cross the picture in this long


def position(name: str, t: float) -> tuple[float, float] | None:
    """Where blob `name` is at clip time `t` (fractions of the picture), or None before it
    appears."""
    if t < EMPTY_S:
        return None
    s = (t - EMPTY_S) / WALK_S
    if name == "east":
        return 0.1 + 0.8 * s, 0.25
    if name == "west":
        return 0.9 - 0.8 * s, 0.78
    if name == "circle":
        a = 2 * math.pi * s * 0.75
        return 0.5 + 0.14 * math.cos(a), 0.5 + 0.12 * math.sin(a)
    raise KeyError(name)


TRACKS: Final = ("east", "west", "circle")


def picture(t: float, width: int = 640, height: int = 480, *, seed: int = 0) -> NDArray[np.uint8]:
    """The clip's frame at time t, RGB."""
    rng = np.random.default_rng(seed + round(t * 1000))
    yy, xx = np.mgrid[0:height, 0:width]
    grey = 18.0 + 10.0 * (xx / width) + rng.normal(0.0, 2.0, (height, width))
    for name in TRACKS:
        where = position(name, t)
        if where is None:
            continue
        cx, cy = where[0] * width, where[1] * height
        rx, ry = width * 0.03, height * 0.08  # a person seen from across the square
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        grey[inside] = 210.0
    g = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def write_clip(
    path: Path, *, fps: int = 25, width: int = 640, height: int = 480, seconds: float | None = None
) -> int:
    """Write the clip (MPEG-4 part 2 in Matroska: every FFmpeg reads it); its frame count."""
    total = round((seconds if seconds is not None else EMPTY_S + WALK_S) * fps)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.bit_rate = 4_000_000
        for n in range(total):
            frame = av.VideoFrame.from_ndarray(picture(n / fps, width, height), format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return total
