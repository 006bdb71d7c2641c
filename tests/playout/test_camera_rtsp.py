"""RTSP into the blob tracker, for real: the generated clip is pushed over RTSP (PyAV's RTSP
muxer, ANNOUNCE/RECORD over TCP: an encoder or a camera that publishes) to the tracker
process, which listens for it (`listen = true`; OpenCV's FFmpeg as the RTSP server side).
The daemon's handle runs it; the blobs it sends match the clip's known tracks with ids that
hold. When the publisher stops, the tracker reports the stream's end and exits, for the
supervisor to restart it.

(A stream pulled from an RTSP server: test_camera_rtsp_pull.py.)"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import trio

from tests.camera_clip import EMPTY_S, TRACKS, WALK_S, position
from tests.ports import free_port
from trocadero.config.cameras import CameraConfig
from trocadero.core.blobs import LiveBlobs
from trocadero.core.events import EventBus
from trocadero.playout.cameras.process import CameraLost, CameraTracker

FPS = 25
TOLERANCE = 0.03


def clip_fit(blobs: list[dict[str, Any]]) -> float:
    """How well the blobs match the clip at its best-fitting frame: the largest distance of
    a known walker to its nearest blob there (picture widths)."""
    best = math.inf
    for n in range(round((EMPTY_S + WALK_S) * FPS)):
        worst = 0.0
        for name in TRACKS:
            where = position(name, n / FPS)
            if where is None:
                worst = math.inf
                break
            worst = max(worst, min(math.hypot(b["x"] - where[0], b["y"] - where[1]) for b in blobs))
        best = min(best, worst)
    return best


async def test_a_pushed_rtsp_stream_is_tracked() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/square"
    camera = CameraConfig(name="square", url=url, listen=True, rate_hz=25.0, dead_after_s=3.0)
    live, bus = LiveBlobs(), EventBus()
    tracker = CameraTracker(camera, live, bus)
    frames: list[dict[str, Any]] = []
    failure: BaseException | None = None
    ended = trio.Event()
    with bus.subscribe("blob:data", capacity=10_000) as events:
        async with trio.open_nursery() as nursery:

            async def run() -> None:
                nonlocal failure
                try:
                    await tracker.serve()
                except CameraLost as exc:
                    failure = exc
                ended.set()

            nursery.start_soon(run)
            await trio.sleep(1.0)  # the tracker's interpreter and OpenCV: then it listens
            pusher = await trio.run_process(
                [sys.executable, "-m", "tests.rtsp_push", url, "6"],
                stdout=subprocess.DEVNULL,
                capture_stderr=True,
                check=False,
            )
            assert pusher.returncode == 0, pusher.stderr.decode()
            with trio.fail_after(10):
                await ended.wait()  # the publisher gone: the stream ends, so does the tracker
            while (event := events.get_nowait()) is not None:
                frames.append(dict(event.payload))
    assert failure is not None
    assert "no more frames" in str(failure), failure
    assert tracker.starts == 1
    assert len(frames) >= 4 * FPS * 0.8, len(frames)  # ~6 s pushed at 25 fps, analysed at 25
    three = [f for f in frames if len(f["blobs"]) == 3]
    assert len(three) >= 2 * FPS, len(three)
    fits = sorted(clip_fit(f["blobs"]) for f in three)
    assert fits[len(fits) * 9 // 10] <= TOLERANCE, fits[-5:]  # nine in ten close to a frame
    # Ids hold while the walkers walk: the longest run of frames with the same three ids.
    runs: list[int] = []
    held, last = 0, None
    for f in three:
        ids = sorted(b["id"] for b in f["blobs"])
        held = held + 1 if ids == last else 1
        last = ids
        runs.append(held)
    assert max(runs) >= 2 * FPS, runs
