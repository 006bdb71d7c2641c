"""A rollback reaches the wire: a cue plays a look, the look is edited (its new colour on the
wire), the show rolled back to the snapshot before the edit, and the old colour comes back on
both universes — in the same frame on each (the swap happens between two frames), never
flipping back after."""

from __future__ import annotations

import time
from pathlib import Path

from tests.daemon_harness import Daemon, free_port
from tests.playout.test_playback_daemon import start, wait_packets
from tests.sacn_capture import Capture, Received

OLD, NEW = bytes([0x13, 0x57, 0x9B]), bytes([0x24, 0x68, 0xAC])


def _look(colour: bytes) -> dict[str, object]:
    solid = {"source": "solid", "params": {"colour": "#" + colour.hex()}}
    return {"canvases": [{"canvas": c, "layers": [solid]} for c in ("c", "d")]}


def _colour(p: Received) -> bytes:
    return p.slots[:3]


def _wait_colour(capture: Capture, after_ns: int, colour: bytes) -> int:
    """The receive time of the first packet after `after_ns` on both universes in `colour`."""
    deadline = time.monotonic() + 5
    while True:
        firsts = []
        for universe in (1, 2):
            hits = [p for p in wait_packets(capture, universe, after_ns) if _colour(p) == colour]
            firsts.append(hits[0].rx_ns if hits else None)
        if None not in firsts:
            return max(f for f in firsts if f is not None)
        assert time.monotonic() < deadline, f"#{colour.hex()} never reached the wire"
        time.sleep(0.05)


def _newest(daemon: Daemon) -> str:
    r = daemon.get("/api/snapshots", params={"limit": 1})
    assert r.status_code == 200, r.text
    newest: str = r.json()["items"][0]["hash"]
    return newest


def test_a_rollback_changes_the_frames_on_the_wire(tmp_path: Path) -> None:
    with Capture() as capture:
        daemon = start(tmp_path, free_port(), capture)
        try:
            wait_packets(capture, 1, 0)
            assert daemon.put("/api/looks/mark", json=_look(OLD), timeout=5).status_code == 200
            cues = {"cues": [{"number": "1", "look": "mark", "up_fade": 0}]}
            assert daemon.put("/api/cue-lists/marked", json=cues, timeout=5).status_code == 200
            good = _newest(daemon)
            t0 = time.time_ns()
            assert daemon.post("/api/cue-lists/marked/go", timeout=5).status_code == 200
            _wait_colour(capture, t0, OLD)

            t1 = time.time_ns()
            assert daemon.put("/api/looks/mark", json=_look(NEW), timeout=5).status_code == 200
            _wait_colour(capture, t1, NEW)
            assert _newest(daemon) != good

            t2 = time.time_ns()
            r = daemon.post(f"/api/snapshots/{good}/rollback", timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["snapshot"] == good
            back = _wait_colour(capture, t2, OLD)
            time.sleep(0.5)  # half a second of frames after the swap
            after = [p for p in list(capture.packets) if p.rx_ns > t2]
            # Once the old colour is back, it stays (the swap is not undone by a later frame).
            assert not [p for p in after if p.rx_ns > back and _colour(p) != OLD]
            # Each frame's two universes (sent together, well under a frame period apart)
            # carry the same look: never one universe swapped and the other not.
            ones = [p for p in after if p.universe == 1]
            twos = [p for p in after if p.universe == 2]
            paired = 0
            for p in ones:
                mate = min(twos, key=lambda q: abs(q.rx_ns - p.rx_ns))
                if abs(mate.rx_ns - p.rx_ns) < 3_000_000:
                    paired += 1
                    assert _colour(mate) == _colour(p), "a frame half swapped"
            assert paired > 10
            assert daemon.get("/api/looks/mark").json()["canvases"][0]["layers"][0]["params"] == {
                "colour": "#" + OLD.hex()
            }
            audit = daemon.get("/api/audit", params={"action": "snapshot.rollback"}).json()
            assert [e["target"] for e in audit["items"]] == [good]
        finally:
            assert daemon.stop()[0] == 0
