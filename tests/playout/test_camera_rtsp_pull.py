"""RTSP pulled from a server, as a site's IP cameras are: the generated clip is published
(PyAV, ANNOUNCE/RECORD) to a real RTSP relay, Debian's `rtsp-server-perl`
(tests/rtsp_server.py), and the blob tracker pulls it from there (DESCRIBE/SETUP/PLAY, through
OpenCV's FFmpeg, `transport = "udp"`: that relay serves RTP over UDP only).

The tracker finds the clip's known tracks with ids that hold; through the daemon, the relay
stopped mid-stream makes the camera dead (an alert, a degraded /healthz) while the frame clock
goes on, and once the relay and its source are back the supervisor's restart pulls again and
blobs flow, with no daemon restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.daemon_harness import Daemon, running_daemon
from tests.playout.test_camera_rtsp import FPS, TOLERANCE, clip_fit
from tests.rtsp_server import RtspServer
from trocadero.config.cameras import CameraConfig
from trocadero.config.loader import ConfigError, parse_config
from trocadero.core.blobs import LiveBlobs
from trocadero.core.events import EventBus
from trocadero.playout.cameras.process import CameraTracker


@contextmanager
def publishing(server: RtspServer, name: str, seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """The clip published to the relay as `name` (a camera's encoder), until the block ends."""
    pusher = subprocess.Popen(
        [sys.executable, "-m", "tests.rtsp_push", server.source_url(name), str(seconds), "udp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        server.wait_mounted(name)
        yield pusher
    finally:
        pusher.kill()
        pusher.communicate()


def held_ids(frames: list[dict[str, Any]]) -> int:
    """The longest run of frames with the same three ids."""
    best, held, last = 0, 0, None
    for f in frames:
        ids = sorted(b["id"] for b in f["blobs"])
        held = held + 1 if ids == last else 1
        last = ids
        best = max(best, held)
    return best


async def test_a_stream_pulled_from_an_rtsp_server_is_tracked(tmp_path: Path) -> None:
    server = RtspServer.start(tmp_path / "rtsp")
    try:
        with publishing(server, "square", 30):
            camera = CameraConfig(
                name="square", url=server.url("square"), transport="udp", rate_hz=25.0
            )
            live, bus = LiveBlobs(), EventBus()
            tracker = CameraTracker(camera, live, bus)
            frames: list[dict[str, Any]] = []
            with bus.subscribe("blob:data", capacity=10_000) as events:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(tracker.serve)
                    await trio.sleep(8.0)  # its start, then ~1.5 passes of the clip
                    nursery.cancel_scope.cancel()
                while (event := events.get_nowait()) is not None:
                    frames.append(dict(event.payload))
    finally:
        server.stop()
    assert tracker.starts == 1
    assert len(frames) >= 5 * FPS * 0.8, (len(frames), server.log())
    three = [f for f in frames if len(f["blobs"]) == 3]
    assert len(three) >= 2 * FPS, len(three)
    fits = sorted(clip_fit(f["blobs"]) for f in three)
    assert fits[len(fits) * 9 // 10] <= TOLERANCE, fits[-5:]  # nine in ten close to a frame
    assert held_ids(three) >= 2 * FPS


def wait(what: Callable[[], bool], text: Callable[[], str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, text()
        time.sleep(0.1)


def square(d: Daemon) -> dict[str, Any]:
    found = d.health()["cameras"]["square"]
    assert isinstance(found, dict)
    return found


def blob_count(d: Daemon) -> int:
    (found,) = d.get("/api/cameras").json()["items"]
    return len(found["blobs"])


def test_the_relay_stopped_mid_stream_is_a_dead_camera_and_its_return_is_pulled_again(
    tmp_path: Path,
) -> None:
    server = RtspServer.start(tmp_path / "rtsp")
    try:
        # The first source goes with the relay: left running, its RTP would reach the
        # restarted relay's ports beside the new source's.
        with ExitStack() as first_source:
            first_source.enter_context(publishing(server, "square", 120))
            extra = (
                f'[[cameras]]\nname = "square"\nurl = "{server.url("square")}"\n'
                'transport = "udp"\nrate_hz = 25\ndead_after_s = 2.0\n'
            )
            with running_daemon(tmp_path, extra) as d:
                d.wait_healthy()
                wait(lambda: square(d)["up"], lambda: f"never up: {square(d)}", 30)
                wait(lambda: blob_count(d) == 3, lambda: f"not three blobs: {square(d)}", 15)
                first = square(d)

                # The relay goes mid-stream (its source with it): the camera is dead.
                frames_before = d.health()["clock"]["frames_sent"]
                server.stop()
                first_source.close()
                wait(lambda: d.health()["status"] == "degraded", lambda: "never degraded", 15)
                health = d.health()
                # FFmpeg sees the RTSP connection close: the stream's end, not a silence.
                assert "camera square dead: the blob tracker ended" in health["reason"], health
                assert not square(d)["up"]
                assert health["clock"]["frames_sent"] > frames_before

                # Back (a restarted relay, its source publishing again): pulled again.
                server.restart()
                with publishing(server, "square", 120):
                    wait(
                        lambda: square(d)["up"] and blob_count(d) == 3,
                        lambda: f"not back: {square(d)} {d.health()['status']}",
                        60,
                    )
                    after = d.health()
                    assert after["status"] == "ok", after
                    assert square(d)["starts"] >= 2
                    assert square(d)["frames"] > 0
                    assert after["clock"]["frames_sent"] > health["clock"]["frames_sent"]
                    assert after["clock"]["last_frame_age_ms"] < 250
                log = [json.loads(line) for line in d.log().splitlines() if line.startswith("{")]
                alerts = [e["alert"] for e in log if e.get("event") == "alert"]
                assert alerts[0] == (
                    "camera:square crashed (CameraLost: the blob tracker ended (exit status 3):"
                    f" {server.url('square')}: no more frames); restarting in 1 s"
                ), alerts
                assert first["pid"] != square(d)["pid"]
    finally:
        server.stop()


def test_a_transport_other_than_tcp_or_udp_is_named_in_the_config() -> None:
    text = '[[cameras]]\nname = "a"\nurl = "rtsp://cam/1"\ntransport = "http"\n'
    with pytest.raises(ConfigError) as refused:
        parse_config(text, source="t.toml")
    assert str(refused.value) == "t.toml: cameras[0 \"a\"].transport: 'tcp' or 'udp' (got 'http')"
    assert parse_config(text.replace("http", "udp"), source="t.toml").cameras[0].transport == "udp"
    assert CameraConfig(name="a", url="rtsp://cam/1").transport == "tcp"  # the default
