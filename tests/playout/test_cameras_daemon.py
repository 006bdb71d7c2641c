"""Cameras through the real daemon: a `[[cameras]]` entry reading a generated clip (a file
source; pulled from an RTSP relay: test_camera_rtsp_pull.py) runs a blob tracker process
under the supervisor. Its blobs light a `blob_glow` layer where the walker is (seen on the
wire), a "presence in region" rule GOes a cue list (seen on the wire, audited under the
rule's name), and the blob view's REST reads them with the camera's picture. A killed tracker
is an alert and a degraded /healthz naming the camera, restarted with backoff, while the
frame clock goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.camera_clip import write_clip
from tests.daemon_harness import Daemon, free_port, running_daemon, write_config
from tests.sacn_capture import Capture

SHOW = """
name = "cameras test"
[[canvases]]
name = "c"
width = 170
height = 1
[[canvases]]
name = "walk"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "c-strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[fixtures]]
name = "walk-strip"
canvas = "walk"
type = "linear"
pixels = 170
universe = 2
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[looks]]
name = "people"
canvases = [{ canvas = "walk", layers = [
  { source = "blob_glow", params = { camera = "square", colour = "#ffffff", falloff = "hard" } },
] }]
[[cue_lists]]
name = "night"
cues = [{ number = "1", look = "white", up_fade = 0.0 }]
[[cue_lists]]
name = "glow"
cues = [{ number = "1", look = "people", up_fade = 0.0 }]
"""

RULE: dict[str, Any] = {
    # The right half of the top of the picture: the east-bound walker's way, late in the clip.
    "when": {"presence": "square", "region": [0.6, 0.0, 1.0, 0.5]},
    "on_rise": [{"go": "night"}],
    "on_fall": [{"release": "night", "fade": 0}],
}


def wait(what: Callable[[], bool], text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, text
        time.sleep(0.05)


def newest(capture: Capture, universe: int, after_ns: int) -> bytes | None:
    found = [p for p in list(capture.packets) if p.universe == universe and p.rx_ns > after_ns]
    return found[-1].slots if found else None


def camera(d: Daemon) -> dict[str, Any]:
    (found,) = d.get("/api/cameras").json()["items"]
    assert isinstance(found, dict)
    return found


def stats(d: Daemon) -> dict[str, Any]:
    found = d.health()["cameras"]["square"]
    assert isinstance(found, dict)
    return found


def test_a_camera_lights_the_walk_goes_a_rule_and_survives_its_tracker(tmp_path: Path) -> None:
    clip = tmp_path / "square.mkv"
    write_clip(clip)
    (tmp_path / "show.toml").write_text(SHOW)
    with Capture() as capture:
        extra = (
            f'[show]\npath = "{tmp_path / "show.toml"}"\n'
            '[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1-2"\n'
            f'destinations = ["127.0.0.1:{capture.port}"]\n'
            f'[[cameras]]\nname = "square"\nurl = "{clip}"\nrate_hz = 25\ncanvas = "walk"\n'
            "dead_after_s = 2.0\n"
        )
        with running_daemon(tmp_path, extra) as d:
            d.wait_healthy()
            wait(lambda: stats(d)["up"], "the camera never came up", 20)
            assert d.put("/api/rules/stairs", json=RULE).status_code == 201
            assert d.post("/api/cue-lists/glow/go", json={}).status_code == 200

            # The blob view: the blobs as the tracker sees them, and its picture.
            wait(lambda: len(camera(d)["blobs"]) == 3, f"not three blobs: {camera(d)}")
            seen = camera(d)
            assert (seen["state"], seen["picture"], seen["canvas"]) == (
                "running",
                [640, 480],
                "walk",
            )
            assert all(0 <= b["x"] <= 1 and 0 <= b["y"] <= 1 for b in seen["blobs"])
            wait(lambda: d.get("/api/cameras/square/snapshot.jpg").status_code == 200, "no jpeg")
            shot = d.get("/api/cameras/square/snapshot.jpg")
            assert shot.headers["content-type"] == "image/jpeg"
            assert shot.content.startswith(b"\xff\xd8")
            assert d.get("/api/cameras/nobody/snapshot.jpg").status_code == 404

            # The glow: lit where the blobs are, dark elsewhere (on universe 2).
            def glow_matches() -> bool:
                slots = newest(capture, 2, time.time_ns())
                time.sleep(0.05)
                slots = newest(capture, 2, time.time_ns() - 50_000_000)
                if slots is None:
                    return False
                lit = [i // 3 for i in range(0, 510, 3) if slots[i] > 0]
                xs = [b["x"] * 170 for b in camera(d)["blobs"]]
                return bool(lit) and all(any(abs(p - x) < 15 for x in xs) for p in lit)

            wait(glow_matches, "the glow is not where the blobs are")
            # A look naming a camera the daemon lacks is refused as it is saved.
            typo = {
                "canvases": [
                    {
                        "canvas": "walk",
                        "layers": [{"source": "blob_glow", "params": {"camera": "sqare"}}],
                    }
                ]
            }
            refused = d.put("/api/looks/typo", json=typo)
            assert refused.status_code == 400
            assert "no camera 'sqare' (known: square)" in refused.json()["error"]

            # The rule: presence in the region GOes "night" (universe 1 at full).
            wait(lambda: (newest(capture, 1, 0) or b"\0")[0] == 255, "the rule never GOed", 15)
            audit = d.get("/api/audit", params={"actor": "rule:stairs", "limit": 10}).json()
            assert "cue.go" in [e["action"] for e in audit["items"]]
            why = d.get("/api/rules/stairs/why").json()
            assert why["readings"][0]["camera"] == "square"

            # Kill the tracker: an alert, /healthz degraded naming the camera, the clock on.
            before = stats(d)
            frames_before = d.health()["clock"]["frames_sent"]
            os.kill(before["pid"], signal.SIGKILL)
            wait(lambda: d.health()["status"] == "degraded", "never degraded", 5)
            health = d.health()
            assert "camera square dead" in health["reason"]
            assert "killed by signal 9" in health["reason"]
            assert health["clock"]["frames_sent"] > frames_before
            wait(lambda: stats(d)["up"] and stats(d)["starts"] == 2, "not restarted", 20)
            after = d.health()
            assert after["status"] == "ok"
            assert stats(d)["pid"] != before["pid"]
            assert after["clock"]["frames_sent"] > health["clock"]["frames_sent"]
            assert after["clock"]["last_frame_age_ms"] < 250
            log = [json.loads(line) for line in d.log().splitlines() if line.startswith("{")]
            alerts = [e["alert"] for e in log if e.get("event") == "alert"]
            assert (
                "camera:square crashed (CameraLost: the blob tracker ended (killed by signal 9));"
                " restarting in 1 s"
            ) in alerts
            metrics = d.get("/metrics").text
            assert 'trocadero_camera_up{camera="square"} 1.0' in metrics
            assert 'trocadero_camera_starts_total{camera="square"} 2.0' in metrics


def test_a_camera_on_a_canvas_the_show_lacks_is_a_config_error_at_start_and_in_check(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path / "trocadero.toml",
        free_port(),
        tmp_path / "state",
        '[[cameras]]\nname = "x"\nurl = "/nonexistent/x.mkv"\ncanvas = "nope"\n',
    )
    run = subprocess.run(
        [sys.executable, "-m", "trocadero", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == "cameras[0].canvas: 'nope' is not a canvas of the show"
    check = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 2
    assert (
        check.stderr.strip() == f"{config}: cameras[0].canvas: 'nope' is not a canvas of the show"
    )
