"""Video layers: decode + scale cost per frame, and how many layers play at 44 Hz at once.

    ./dev bench video_layers              # 25 fps clips: canvas-sized and 1080p sources
    ./dev bench video_layers --seconds 4

Clips are made here with PyAV (H.264, 25 fps): one at the video wall's size (192x108) and one
at 1080p. Peer, measured in the same run: a plain PyAV decode loop of the same file
(`to_ndarray` at its own size), so the ratio shows what scaling to the canvas and the ring
cost. Then N video layers of the 1080p clip (and of the canvas-sized clip) are rendered on
a 44 Hz loop for a few seconds; a layer that had to show an older frame than the one due
counts a miss. Printed: the largest N with no misses after the first second.
"""

from __future__ import annotations

import argparse
import fractions
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trocadero.playout.render.sources import CanvasContext, build_source
from trocadero.playout.render.sources.video import VideoDecoder

FPS = 25
RATE = 44.0
WALL = (192, 108)


def make_clip(path: Path, width: int, height: int, seconds: float) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "25"}
        x = np.linspace(0, 255, width, dtype=np.float32)
        for i in range(int(seconds * FPS)):
            row = ((x + i * 7) % 256).astype(np.uint8)
            rgb = np.repeat(np.repeat(row[None, :, None], height, 0), 3, 2)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = fractions.Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def plain_decode_ms(path: Path) -> float:
    t0 = time.perf_counter()
    n = 0
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            frame.to_ndarray(format="rgb24")
            n += 1
    return (time.perf_counter() - t0) * 1e3 / n


def decoder_ms(path: Path) -> float:
    """Our decoder thread alone: decode + scale to the wall + uint16, frames per wall second."""
    dec = VideoDecoder(path, *WALL)
    total = dec.total or 1
    t0 = time.perf_counter()
    for i in range(total):
        dec.want(i)
        while dec.get(i) is None or dec.get(i)[0] != i:  # type: ignore[index]
            time.sleep(0.0002)
    elapsed = time.perf_counter() - t0
    dec.close()
    return elapsed * 1e3 / total


def layers_at_rate(path: Path, n: int, seconds: float) -> tuple[int, float]:
    """Misses after the first second, and render ms per frame, for n layers at 44 Hz."""
    canvas = CanvasContext.unpatched("videowall", *WALL)
    layers = [build_source("video", {"path": str(path)}, canvas) for _ in range(n)]
    out = np.zeros((WALL[1], WALL[0], 3), np.uint16)
    misses, spent, frames = 0, 0.0, 0
    start = time.perf_counter()
    k = 0
    while True:
        t = k / RATE
        k += 1
        due = start + t
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        if t > seconds:
            break
        t0 = time.perf_counter()
        for layer in layers:
            key = layer.frame_key(t)
            layer.render(t, out)
            if t >= 1.0 and key != layer.index_at(t):  # type: ignore[attr-defined]
                misses += 1
        spent += time.perf_counter() - t0
        frames += 1
    for layer in layers:
        layer.close()
    return misses, spent * 1e3 / frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each layer-count run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clips = {
            "canvas-size 192x108": make_clip(Path(tmp) / "wall.mp4", *WALL, 8.0),
            "1080p": make_clip(Path(tmp) / "hd.mp4", 1920, 1080, 8.0),
        }
        print(f"{'clip':22} {'plain PyAV ms/frame':>20} {'ours: decode+scale ms':>22} {'ratio':>6}")
        for name, path in clips.items():
            plain, ours = plain_decode_ms(path), decoder_ms(path)
            print(f"{name:22} {plain:20.2f} {ours:22.2f} {ours / plain:6.2f}")
        for name, path in clips.items():
            best = 0
            for n in (1, 2, 4, 8, 12, 16, 24, 32, 48):
                misses, ms = layers_at_rate(path, n, args.seconds)
                line = f"{misses} misses, render {ms:.2f} ms/frame"
                print(f"  {name}: {n:2d} layers at {RATE:g} Hz: {line}")
                if misses:
                    break
                best = n
            print(f"{name}: {best} simultaneous layers with no late frame on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
