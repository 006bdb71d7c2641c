"""The schedule through the real daemon: an entry due 37 minutes ago plays at once, where its
follow timers have taken it, and after a restart the very first frames on the wire already
show it (re-derived from the look-back horizon, not faded up from black)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.daemon_harness import Daemon, free_port, write_config
from tests.sacn_capture import Capture, Received

# One 170-pixel canvas on universe 1, linear (slot = 255 x level). The list steps every ten
# minutes: cues 1-3 dim, cue 4 (from 30 minutes on) full white.
SHOW = """
name = "schedule test"
[[canvases]]
name = "c"
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
[[looks]]
name = "dim"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#202020" } }] }]
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[cue_lists]]
name = "night"
cues = [
  { number = "1", look = "dim", up_fade = 5.0, follow = 600.0 },
  { number = "2", look = "dim", follow = 600.0 },
  { number = "3", look = "dim", follow = 600.0 },
  { number = "4", look = "white", up_fade = 5.0 },
]
"""


def start(tmp_path: Path, port: int, capture: Capture) -> Daemon:
    (tmp_path / "show.toml").write_text(SHOW)
    cfg = write_config(
        tmp_path / "trocadero.toml",
        port,
        tmp_path / "state",
        f'[show]\npath = "{tmp_path / "show.toml"}"\n[schedule]\nenabled = true\n'
        f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{capture.port}"]\n',
    )
    with open(tmp_path / "daemon.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "run", "--config", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, port, tmp_path / "daemon.log")
    daemon.wait_healthy()
    return daemon


def packets_after(capture: Capture, after_ns: int, count: int) -> list[Received]:
    deadline = time.monotonic() + 10
    while True:
        found = [p for p in list(capture.packets) if p.universe == 1 and p.rx_ns > after_ns]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, "no sACN packets"
        time.sleep(0.02)


def night_state(daemon: Daemon) -> dict[str, object]:
    state = daemon.get("/api/playback", timeout=5).json()
    (night,) = [s for s in state["lists"] if s["name"] == "night"]
    return {k: night[k] for k in ("level", "current")}


def test_an_entry_due_37_minutes_ago_plays_at_once_and_after_a_restart(tmp_path: Path) -> None:
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=37)
    port = free_port()
    with Capture() as capture:
        first = start(tmp_path, port, capture)
        try:
            r = first.post(
                "/api/schedule",
                json={
                    "name": "nightly",
                    "target_kind": "cue_list",
                    "target": "night",
                    "rrule": "FREQ=DAILY",
                    "dtstart": due.isoformat(),
                    "duration_s": 3 * 3600.0,
                },
                timeout=5,
            )
            assert r.status_code == 201, r.text
            deadline = time.monotonic() + 15  # generous: a loaded CI machine
            while night_state(first) != {"level": "schedule", "current": "4"}:
                assert time.monotonic() < deadline, night_state(first)
                time.sleep(0.05)
        finally:
            assert first.stop()[0] == 0
        stopped = time.time_ns()
        second = start(tmp_path, port, capture)
        try:
            resumed = packets_after(capture, stopped, 10)
            assert night_state(second) == {"level": "schedule", "current": "4"}
            why = second.get("/api/schedule/now", timeout=5).json()
            winner = why["canvases"]["c"]["winner"]
            assert winner["entry"]["name"] == "nightly"
            assert datetime.fromisoformat(winner["start"]) == due
        finally:
            assert second.stop()[0] == 0
    # From its first frame the restarted daemon shows cue 4 (white), not a fade from black.
    assert [p.slots[0] for p in resumed[:10]] == [255] * 10
    log = (tmp_path / "daemon.log").read_text()
    assert '"schedule applied"' in log or "schedule applied" in log
