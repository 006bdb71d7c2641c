"""A blind preview never reaches the wire: the daemon renders the look for the editor while an
sACN receiver captures every universe, and no packet ever carries the preview's colour."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from tests.daemon_harness import free_port
from tests.playout.test_playback_daemon import start, wait_packets
from tests.sacn_capture import Capture

# A colour nothing in the test show makes (linear fixtures: slots are the 8-bit colour).
MARK = bytes([0x13, 0x57, 0x9B])
LOOK = {
    "canvases": [
        {"canvas": c, "layers": [{"source": "solid", "params": {"colour": "#13579b"}}]}
        for c in ("c", "d")
    ]
}


def carries_mark(slots: bytes) -> bool:
    return any(slots[i : i + 3] == MARK for i in range(0, len(slots) - 2, 3))


def test_a_blind_preview_never_reaches_the_wire(tmp_path: Path) -> None:
    with Capture() as capture:
        daemon = start(tmp_path, free_port(), capture)
        try:
            wait_packets(capture, 1, 0)
            # The show runs meanwhile (a fade to white), as when a technician edits live.
            assert daemon.post("/api/cue-lists/main/go", timeout=5).status_code == 200
            t0 = time.time_ns()
            previews = 0
            while time.time_ns() - t0 < 1_500_000_000:
                r = daemon.post("/api/looks/preview", json={"look": LOOK, "t": 1.0}, timeout=5)
                assert r.status_code == 200, r.text
                for canvas in r.json()["canvases"]:
                    rgb = base64.b64decode(canvas["rgb"])
                    assert len(rgb) == canvas["width"] * canvas["height"] * 3
                    assert rgb == MARK * (canvas["width"] * canvas["height"])
                previews += 1
            time.sleep(0.3)  # frames rendered after the last preview reach the capture
            seen = [p for p in list(capture.packets) if p.rx_ns > t0]
            assert previews >= 3
            assert {p.universe for p in seen} == {1, 2}
            assert len(seen) > 40  # ~44 frames/s per universe over 1.8 s
            assert not [p for p in seen if carries_mark(p.slots)]
            # The capture would have seen it: the same colour stored and played does reach it.
            assert daemon.put("/api/looks/mark", json=LOOK, timeout=5).status_code == 200
            cues = {"cues": [{"number": "1", "look": "mark", "up_fade": 0}]}
            assert daemon.put("/api/cue-lists/marked", json=cues, timeout=5).status_code == 200
            t1 = time.time_ns()
            r = daemon.post("/api/cue-lists/marked/go", timeout=5)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 5
            while not any(carries_mark(p.slots) for p in wait_packets(capture, 1, t1)):
                assert time.monotonic() < deadline, "the played look never reached the wire"
                time.sleep(0.05)
        finally:
            assert daemon.stop()[0] == 0
