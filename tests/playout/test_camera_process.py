"""The daemon's handle on a blob tracker process (`CameraTracker`), with small programs in
the tracker's place: a good one's blobs reach `LiveBlobs` and the bus; a hostile one (junk, a
lying length, a blob off the picture) loses its own connection and process only, while a
good camera beside it carries on; a silent one is declared dead; an exit is reported with
its status. Real processes and sockets throughout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from trocadero.config.cameras import CameraConfig
from trocadero.core.blobs import LiveBlobs
from trocadero.core.events import EventBus
from trocadero.playout.cameras.process import CameraDead, CameraLost, CameraTracker

# The program in the tracker's place: argv[-2] says what to do, argv[-1] is its socket.
FAKE = """
import socket, sys, time
from trocadero.protocols import blob_wire as w
mode, fd = sys.argv[-2], int(sys.argv[-1])
s = socket.socket(fileno=fd)
s.sendall(w.encode_hello(sys.argv[-3], 320, 240, 4242))
good = lambda n: w.encode_blobs(n, time.time(), [w.Blob(5, 0.5, 0.25, 0.1, 0.2, 0.01, 1.0)])
if mode == "good":
    for n in range(10**6):
        s.sendall(good(n))
        time.sleep(0.02)
elif mode == "junk":
    s.sendall(good(0) + b"\\x00\\x00\\x00\\x05hello")
elif mode == "huge":
    s.sendall(good(0) + (1 << 30).to_bytes(4, "big"))
elif mode == "offpicture":
    s.sendall(good(0) + w._frame({"t": "blobs", "seq": 1, "at": 1.0,
                                  "blobs": [[1, 7.5, 0.5, 0.1, 0.1, 0.01, 0.0]]}))
elif mode == "silent":
    pass
elif mode == "exit":
    s.sendall(w.encode_error("rtsp://cam/x: 404 Not Found"))
    sys.exit(3)
time.sleep(60)
"""


def tracker(name: str, mode: str, live: LiveBlobs, bus: EventBus) -> CameraTracker:
    camera = CameraConfig(name=name, url=f"rtsp://{name}.invalid/stream", dead_after_s=0.5)
    return CameraTracker(camera, live, bus, argv=[sys.executable, "-c", FAKE, name, mode])


async def serve_until_it_fails(t: CameraTracker) -> BaseException:
    try:
        with trio.fail_after(15):
            await t.serve()
    except (CameraLost, CameraDead) as exc:
        return exc
    raise AssertionError("serve returned")


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("junk", "bad stream from the tracker: undecodable message"),
        ("huge", "bad stream from the tracker: message length 1073741824 not within"),
        ("offpicture", "bad stream from the tracker: blobs[0].x: expected 0..1, got 7.5"),
    ],
)
async def test_a_hostile_tracker_loses_only_its_own_connection(mode: str, problem: str) -> None:
    live, bus = LiveBlobs(), EventBus()
    good = tracker("good", "good", live, bus)
    bad = tracker("bad", mode, live, bus)
    with bus.subscribe("blob:data") as events:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(good.serve)
            failure = await serve_until_it_fails(bad)
            assert problem in str(failure)
            assert bad.wire_errors == 1
            assert bad.statistics().state == "dead"
            assert bad.pid is None  # its process is gone (stopped, waited for)
            assert live.get("bad") is None  # what it said before is forgotten
            frames = good.frames
            await trio.sleep(0.3)
            assert good.frames > frames  # the camera beside it never noticed
            assert good.statistics().up
            found = live.get("good")
            assert found is not None
            assert [(b.id, b.x, b.y) for b in found.blobs] == [(5, 0.5, 0.25)]
            nursery.cancel_scope.cancel()
        event = await events.receive()
        assert event.payload["camera"] in ("good", "bad")
        assert event.payload["blobs"][0]["id"] == 5


async def test_a_silent_camera_is_dead_and_its_process_stopped() -> None:
    t = tracker("quiet", "silent", LiveBlobs(), EventBus())
    t.camera = CameraConfig(name="quiet", url="rtsp://quiet.invalid/x", dead_after_s=0.5)
    start = trio.current_time()
    failure = await serve_until_it_fails(t)
    assert isinstance(failure, CameraDead)
    assert "since the tracker opened it" in str(failure)
    assert trio.current_time() - start >= 0.5
    assert t.pid is None


async def test_a_tracker_that_exits_says_why() -> None:
    t = tracker("gone", "exit", LiveBlobs(), EventBus())
    failure = await serve_until_it_fails(t)
    assert isinstance(failure, CameraLost)
    assert str(failure) == ("the blob tracker ended (exit status 3): rtsp://cam/x: 404 Not Found")
    assert t.statistics().last_error == str(failure)


def test_the_fake_is_a_program(tmp_path: Path) -> None:
    compile(FAKE, str(tmp_path / "fake.py"), "exec")  # a syntax slip must fail here, plainly
