"""The camera blob tracker's frames per second on a 640x480 stream and its CPU (issue 21:
target ≥ 25 fps), beside a plain numpy frame-difference tracker measured in the same run on
the same frames.

    .venv/bin/python benches/blob_tracker.py            # an 8 s clip
    .venv/bin/python benches/blob_tracker.py --seconds 4

The clip is tests/camera_clip.py's (three walkers on known tracks over sensor noise), written
once. Measured:

- as fast as it goes, in this process: decode (OpenCV's FFmpeg) → grey → ours (MOG2,
  opening/closing, contours, centroid tracking) or the peer (|frame - previous| > threshold,
  8x8 blocks, connected blocks, the same centroid tracker); fps, CPU ms a frame, and the
  mean distance of each known walker to the nearest blob (picture widths);
- the real `trocadero blob-tracker` process at rate_hz 25 for the clip's length: the frames
  it sent a second and its CPU (from /proc), as the daemon runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.camera_clip import EMPTY_S, TRACKS, position, write_clip
from trocadero.config.cameras import CameraConfig
from trocadero.playout.cameras.detect import BlobDetector
from trocadero.playout.cameras.tracker import CentroidTracker, Detection
from trocadero.protocols.blob_wire import Blob

FPS = 25
Grey = NDArray[np.uint8]


def frames(path: Path) -> Iterator[Grey]:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        while True:
            ok, picture = capture.read()
            if not ok:
                return
            yield np.asarray(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    finally:
        capture.release()


class FrameDifference:
    """The peer: what a numpy-only tracker does. Pixels that changed since the previous
    frame, gathered into 8x8 blocks; blocks that touch form a blob."""

    BLOCK = 8

    def __init__(self, threshold: int = 25, fill: float = 0.1) -> None:
        self.threshold = threshold
        self.fill = fill
        self.previous: Grey | None = None

    def detect(self, grey: Grey) -> list[Detection]:
        previous, self.previous = self.previous, grey
        if previous is None:
            return []
        moved = np.abs(grey.astype(np.int16) - previous.astype(np.int16)) > self.threshold
        h, w = grey.shape
        b = self.BLOCK
        cells = moved[: h - h % b, : w - w % b].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
        active = cells > self.fill
        seen = np.zeros_like(active)
        out: list[Detection] = []
        for y0, x0 in zip(*np.nonzero(active), strict=True):
            if seen[y0, x0]:
                continue
            seen[y0, x0] = True
            todo, blob = deque([(int(y0), int(x0))]), []
            while todo:
                y, x = todo.popleft()
                blob.append((y, x))
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    inside = 0 <= ny < active.shape[0] and 0 <= nx < active.shape[1]
                    if inside and active[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        todo.append((ny, nx))
            ys = np.array([c[0] for c in blob])
            xs = np.array([c[1] for c in blob])
            weight = cells[ys, xs]
            cy = float((ys * weight).sum() / weight.sum() + 0.5) * b / h
            cx = float((xs * weight).sum() / weight.sum() + 0.5) * b / w
            bw = (xs.max() - xs.min() + 1) * b / w
            bh = (ys.max() - ys.min() + 1) * b / h
            area = len(blob) * b * b / (w * h)
            if area >= 0.0005:
                out.append(Detection(cx, cy, float(bw), float(bh), area))
        return out


def error(seq: int, blobs: list[Blob]) -> float | None:
    """Mean distance of each walker to the nearest blob (None before they appear)."""
    t = seq / FPS
    if t < EMPTY_S + 0.3:
        return None
    dists = []
    for name in TRACKS:
        where = position(name, t)
        if where is None or not (0 <= where[0] <= 1):
            continue
        dists.append(min((math.hypot(b.x - where[0], b.y - where[1]) for b in blobs), default=1.0))
    return sum(dists) / len(dists) if dists else None


def measure(path: Path, detect: Callable[[Grey], list[Detection]]) -> dict[str, float]:
    tracker = CentroidTracker(0.15, 8, aspect=0.75)
    errors: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    for n, grey in enumerate(frames(path), start=1):
        blobs = tracker.update(detect(grey), n / FPS)
        e = error(n - 1, blobs)
        if e is not None:
            errors.append(e)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "frames": n,
        "fps": n / wall,
        "cpu_ms": cpu / n * 1e3,
        "error": sum(errors) / len(errors),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_run(path: Path, seconds: float) -> dict[str, float]:
    """The real tracker process at rate_hz 25, JSON lines on stdout."""
    camera = CameraConfig(name="bench", url=str(path), rate_hz=25.0)
    doc = {k: getattr(camera, k) for k in ("name", "url", "rate_hz")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trocadero", "blob-tracker", "--camera-json", json.dumps(doc)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    sent, start, cpu0 = 0, 0.0, 0.0
    try:
        for line in proc.stdout:
            if json.loads(line)["t"] != "blobs":
                continue
            sent += 1
            if sent == 1:  # from the first frame: interpreter and OpenCV start-up left out
                start, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
            elif time.perf_counter() - start >= seconds:
                break
        wall, cpu = time.perf_counter() - start, cpu_seconds(proc.pid) - cpu0
    finally:
        proc.kill()
        proc.wait()
    return {"fps": (sent - 1) / wall, "cpu_percent": cpu / wall * 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as the tracker process runs (worker.py)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "walkers.mkv"
        total = write_clip(path, seconds=args.seconds)
        print(f"clip: {total} frames, 640x480, {FPS} fps, 3 walkers; CPUs here: {os.cpu_count()}")
        ours = measure(path, BlobDetector(CameraConfig(name="bench", url=str(path))).detect)
        peer = measure(path, FrameDifference().detect)
        decode = measure(path, lambda _grey: [])
        print(f"{'':34}{'fps':>8}{'CPU ms/frame':>14}{'error (widths)':>16}")
        for label, r in (
            ("decode only (the floor)", decode),
            ("ours: MOG2 + contours + tracking", ours),
            ("peer: numpy frame difference", peer),
        ):
            err = "" if label.startswith("decode") else f"{r['error']:.4f}"
            print(f"{label:34}{r['fps']:8.1f}{r['cpu_ms']:14.2f}{err:>16}")
        print(
            f"ours/peer: {ours['fps'] / peer['fps']:.2f}x the frames a second, "
            f"{ours['cpu_ms'] / peer['cpu_ms']:.2f}x the CPU a frame"
        )
        run = process_run(path, min(args.seconds, 6.0))
        target = "meets" if run["fps"] >= 24.5 else "MISSES"
        print(
            f"trocadero blob-tracker process at rate_hz 25: {run['fps']:.1f} fps sent,"
            f" CPU {run['cpu_percent']:.0f}% of one core ({target} the 25 fps target)"
        )


if __name__ == "__main__":
    main()
