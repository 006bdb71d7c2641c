"""Touch through the real daemon: TUIO bundles sent over UDP by an independent sender
(tests/tuio_sender.py) land on the canvas where the surface's rotation, flip and rectangle
put them; a rule on a region of the canvas GOes a cue list (seen in the playback state and
the audit log); that cue's `touch_ripple` layer lights the wire at the touch point and
nowhere near where an unrotated surface would have put it; lifting the finger releases; the
simulator's touches go the same way; /healthz and /metrics count it all."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon_harness import running_daemon
from tests.ports import free_port
from tests.sacn_capture import Capture
from tests.tuio_sender import TuioSender

W, H = 20, 8  # the stairs canvas; one matrix fixture wired along rows from the top left

RIPPLE = '{ colour = "#ffffff", speed = 0.1, lifetime_s = 30.0, width = 1.0 }'
SHOW = f"""
name = "touch test"
[[canvases]]
name = "stairs"
width = {W}
height = {H}
[[fixture_types]]
name = "rgb"
gamma = 1.0
[[fixtures]]
name = "stairs-matrix"
canvas = "stairs"
type = "rgb"
shape = "matrix"
width = {W}
height = {H}
universe = 1
[[looks]]
name = "ripple"
[[looks.canvases]]
canvas = "stairs"
layers = [{{ source = "touch_ripple", params = {RIPPLE} }}]
[[cue_lists]]
name = "ripples"
cues = [{{ number = "1", look = "ripple", up_fade = 0.0 }}]
"""

RULE: dict[str, Any] = {
    # The top-right corner of the stairs: where the turned panel's touch lands.
    "when": {"touch": {"canvas": "stairs", "region": [16, 0, 4, 4]}},
    "on_rise": [{"go": "ripples"}],
    "on_fall": [{"release": "ripples", "fade": 0}],
}


def wait(what: Callable[[], bool], text: Callable[[], str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, text()
        time.sleep(0.02)


def pixel(capture: Capture, after_ns: int, x: int, y: int) -> int | None:
    """The red slot of canvas pixel (x, y) in the newest packet of universe 1 after `after_ns`."""
    found = [p for p in list(capture.packets) if p.universe == 1 and p.rx_ns > after_ns]
    return found[-1].slots[(y * W + x) * 3] if found else None


def test_tuio_touches_map_fire_a_rule_and_ripple_on_the_wire(tmp_path: Path) -> None:
    (tmp_path / "show.toml").write_text(SHOW)
    panel, side = free_port(), free_port()
    with Capture() as capture:
        extra = (
            f'[show]\npath = "{tmp_path / "show.toml"}"\n'
            f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1"\n'
            f'destinations = ["127.0.0.1:{capture.port}"]\n'
            # The panel is mounted turned clockwise a quarter; it covers the whole canvas.
            f'[[touch.surfaces]]\nname = "panel"\ncanvas = "stairs"\nport = {panel}\n'
            "rotation = 90\n"
            # The side panel: the right half, upside down, only from loopback.
            f'[[touch.surfaces]]\nname = "side"\ncanvas = "stairs"\nport = {side}\n'
            'x = 10\nw = 10\nflip_y = true\nallow = ["127.0.0.0/8"]\n'
        )
        with running_daemon(tmp_path, extra) as d, TuioSender(panel) as tracker:
            d.wait_healthy()
            r = d.put("/api/rules/corner", json=RULE, timeout=5)
            assert r.status_code == 201, r.text
            start = time.time_ns()
            wait(lambda: pixel(capture, start, 18, 2) == 0, lambda: "no dark frame on the wire")

            # A finger at (0.25, 0.1) of the panel: turned clockwise, x = (1 - 0.1) * 20 = 18,
            # y = 0.25 * 8 = 2. Unturned it would be at (5, 0.8).
            touched = time.time_ns()
            tracker.fseq = 50  # a tracker that has been running a while
            tracker.frame([(12, 0.25, 0.1)])
            wait(
                lambda: d.get("/api/touch", timeout=5).json()["surfaces"][0]["touches"] != [],
                lambda: f"the touch never arrived:\n{d.log()[-3000:]}",
            )
            state = d.get("/api/touch", timeout=5).json()
            (touch,) = state["surfaces"][0]["touches"]
            assert (touch["x"], touch["y"], touch["session"]) == (18.0, 2.0, 12)
            assert state["surfaces"][0]["rect"] == [0.0, 0.0, W, H]

            def ripples() -> dict[str, Any]:
                lists = d.get("/api/playback", timeout=5).json()["lists"]
                found: dict[str, Any] = next(s for s in lists if s["name"] == "ripples")
                return found

            wait(lambda: ripples()["current"] == "1", lambda: f"no GO: {ripples()}")
            assert ripples()["level"] == "rules"
            wait(
                lambda: pixel(capture, touched, 18, 2) == 255,
                lambda: f"the ripple never lit the touch point: {pixel(capture, touched, 18, 2)}",
            )
            lit = time.time_ns()
            time.sleep(0.1)
            assert pixel(capture, lit, 17, 1) == 255  # the glow under the finger
            assert pixel(capture, lit, 5, 0) == 0  # where an unturned panel would have put it
            assert pixel(capture, lit, 0, 7) == 0  # far away
            audit = d.get("/api/audit", params={"actor": "rule:corner"}, timeout=5).json()
            assert [e["action"] for e in audit["items"]] == ["cue.go"]

            # Late frame (fseq going back) changes nothing; then the finger lifts.
            tracker.fseq -= 5
            tracker.frame([])
            tracker.fseq += 10
            time.sleep(0.3)
            assert ripples()["current"] == "1"
            tracker.frame([])
            wait(lambda: ripples()["current"] is None, lambda: f"no release: {ripples()}")

            # The side panel, from the simulator: upside down on the right half.
            r = d.post(
                "/api/touch/side/simulate",
                json={"action": "down", "id": 1, "x": 0.5, "y": 0.25},
                timeout=5,
            )
            assert r.status_code == 200, r.text
            assert (r.json()["x"], r.json()["y"]) == (15.0, 6.0)
            audit = d.get("/api/audit", params={"action": "simulate touch down"}, timeout=5)
            assert [e["target"] for e in audit.json()["items"]] == ["side"]
            missing = d.post(
                "/api/touch/nowhere/simulate", json={"action": "down", "x": 0, "y": 0}, timeout=5
            )
            assert missing.status_code == 404, missing.text
            assert 'no touch surface \\"nowhere\\"' in missing.text

            health = d.health()["touch"]
            assert health["surfaces"] == 2
            assert health["touches"] == 1  # the simulated finger on the side panel
            assert health["late_frames"] == 1
            assert health["malformed"] == 0
            assert health["events"] >= 3
            metrics = d.get("/metrics", timeout=5).text
            assert "trocadero_touch_late_frames_total 1.0" in metrics
        assert "touch surface listening" in d.log()
