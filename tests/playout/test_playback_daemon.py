"""Playback through the real daemon: GO over REST reaches the wire, a kill -9 mid-fade comes
back at the right point of the fade, and the emergency reaches the wire while the Python side
is wedged."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.daemon_harness import Daemon, free_port, write_config
from tests.postgres_server import PostgresServer
from tests.sacn_capture import Capture, Received

# Two 170-pixel canvases, one universe each, linear fixtures (gamma 1) so that a slot is
# 255 x the fade's progress. Emergency look on canvas "c" only.
SHOW = """
name = "playback test"
[[canvases]]
name = "c"
width = 170
height = 1
[[canvases]]
name = "d"
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
name = "d-strip"
canvas = "d"
type = "linear"
pixels = 170
universe = 2
[[looks]]
name = "white"
canvases = [
  { canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] },
  { canvas = "d", layers = [{ source = "solid", params = { colour = "#ffffff" } }] },
]
[[emergency]]
canvas = "c"
layers = [{ source = "solid", params = { colour = "#ff0000" } }]
[[cue_lists]]
name = "main"
cues = [{ number = "1", look = "white", up_fade = 10.0, down_fade = 10.0 }]
"""


def start(tmp_path: Path, port: int, capture: Capture, extra: str = "") -> Daemon:
    (tmp_path / "show.toml").write_text(SHOW)
    cfg = write_config(
        tmp_path / "trocadero.toml",
        port,
        tmp_path / "state",
        f'[show]\npath = "{tmp_path / "show.toml"}"\n[debug]\nfault_injection = true\n'
        f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1-2"\n'
        f'destinations = ["127.0.0.1:{capture.port}"]\n{extra}',
    )
    with open(tmp_path / "daemon.log", "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "run", "--config", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, port, tmp_path / "daemon.log")
    daemon.wait_healthy()
    return daemon


def packets(capture: Capture, universe: int, after_ns: int = 0) -> list[Received]:
    return [p for p in list(capture.packets) if p.universe == universe and p.rx_ns > after_ns]


def wait_packets(capture: Capture, universe: int, after_ns: int, count: int = 1) -> list[Received]:
    deadline = time.monotonic() + 10
    while len(found := packets(capture, universe, after_ns)) < count:
        assert time.monotonic() < deadline, "no sACN packets"
        time.sleep(0.02)
    return found


def test_go_reaches_the_wire_and_state_is_reported(tmp_path: Path) -> None:
    with Capture() as capture:
        daemon = start(tmp_path, free_port(), capture)
        try:
            idle = wait_packets(capture, 1, 0)[-1]
            assert idle.slots[:3] == b"\x00\x00\x00"  # no idle look: safe state black
            t_go = time.time_ns()
            r = daemon.post("/api/cue-lists/main/go", timeout=5)
            assert r.json() == {"outcome": "done", "cue": "1"}
            time.sleep(1.0)
            after = packets(capture, 1, t_go)
            # The fade moves on every frame (linear over 10 s: ~0.6 slot steps per frame).
            assert after[0].slots[0] <= 2
            assert 20 <= after[-1].slots[0] <= 35
            levels = [p.slots[0] for p in after]
            assert levels == sorted(levels)
            state = daemon.get("/api/playback", timeout=5).json()
            assert state["lists"][0]["current"] == "1"
            assert state["lists"][0]["fading"] is True
        finally:
            assert daemon.stop()[0] == 0


def test_kill_9_mid_fade_restarts_at_the_right_point_of_the_fade(tmp_path: Path) -> None:
    port = free_port()
    with Capture() as capture:
        first = start(tmp_path, port, capture)
        t_go = time.time_ns()
        assert first.post("/api/cue-lists/main/go", timeout=5).status_code == 200
        time.sleep(3.0)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        killed = time.time_ns()
        before = packets(capture, 1, t_go)
        second = start(tmp_path, port, capture)
        try:
            resumed = wait_packets(capture, 1, killed, count=20)
        finally:
            assert second.stop()[0] == 0
    # The last frame before the kill and the first ones after the restart are both on the
    # same 10 s line: the restart picked the fade up where time says it is. The line starts
    # when the daemon took the GO, read off the first frames of the fade (a loaded machine
    # may answer the GO a good part of a second after it was sent).
    rising = [p for p in before if p.slots[0] > 0][:5]
    assert rising, "the fade never started"
    starts = sorted(p.rx_ns - p.slots[0] / 255 * 10e9 for p in rising)
    t_fade = starts[len(starts) // 2]
    assert t_fade >= t_go - 50e6  # not before the GO was sent
    for p in (before[-1], *resumed[:20]):
        expected = 255 * min(1.0, (p.rx_ns - t_fade) / 10e9)
        assert abs(p.slots[0] - expected) <= 4, (p.slots[0], expected)
    assert resumed[0].slots[0] > before[-1].slots[0]  # never back to black first


def test_emergency_reaches_the_wire_while_python_is_blocked(tmp_path: Path) -> None:
    trigger = tmp_path / "fire-alarm"
    trigger.write_text("0\n")
    with Capture() as capture:
        daemon = start(tmp_path, free_port(), capture, f'[emergency]\ninput_path = "{trigger}"\n')
        try:
            wait_packets(capture, 1, 0)
            blocked: dict[str, int] = {}

            def block() -> None:
                blocked["start"] = time.time_ns()
                daemon.post("/debug/fault/block-python?seconds=3", timeout=10)
                blocked["end"] = time.time_ns()

            blocker = threading.Thread(target=block)
            blocker.start()
            time.sleep(1.0)  # the Trio thread is now spinning in the fault handler
            t_alarm = time.time_ns()
            trigger.write_text("1\n")
            blocker.join()
            red = [p for p in packets(capture, 1, t_alarm) if p.slots[:3] == b"\xff\x00\x00"]
            assert red, "the emergency never reached the wire"
            # It arrived while Python was still blocked, on the first or second frame after
            # the input changed (frames counted, not wall time).
            assert red[0].rx_ns < blocked["end"]
            assert len([p for p in packets(capture, 1, t_alarm) if p.rx_ns < red[0].rx_ns]) <= 1
            # Canvas d has no emergency look: it is untouched (black, no cue running).
            assert packets(capture, 2, t_alarm)[-1].slots[:3] == b"\x00\x00\x00"
            # Python catches up: the engine mirrors the latch, the release needs the input off.
            deadline = time.monotonic() + 5
            while not daemon.get("/api/playback", timeout=5).json()["emergency"]["engaged"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            r = daemon.post("/api/emergency/release", timeout=5)
            assert r.status_code == 409
            trigger.write_text("0\n")
            r = daemon.post("/api/emergency/release", timeout=5)
            assert r.json()["outcome"] == "done"
            t_released = time.time_ns()
            time.sleep(0.3)
            assert packets(capture, 1, t_released)[-1].slots[:3] == b"\x00\x00\x00"
        finally:
            assert daemon.stop()[0] == 0


def test_on_postgresql_commands_are_audited_and_state_survives_a_restart(
    tmp_path: Path, postgres_dsn: str, postgres_server: PostgresServer
) -> None:
    port = free_port()
    database = postgres_dsn.rsplit("/", 1)[-1].split("?")[0]
    extra = f'[storage]\nbackend = "postgres"\npostgres_dsn = "{postgres_dsn}"\n'
    with Capture() as capture:
        first = start(tmp_path, port, capture, extra)
        try:
            assert first.post("/api/cue-lists/main/go", timeout=5).status_code == 200
            r = first.put("/api/masters/grand", json={"level": 0.5}, timeout=5)
            assert r.status_code == 200
        finally:
            assert first.stop()[0] == 0
        second = start(tmp_path, port, capture, extra)
        try:
            state = second.get("/api/playback", timeout=5).json()
        finally:
            assert second.stop()[0] == 0
    assert state["lists"][0]["current"] == "1"
    assert state["masters"]["grand"] == 0.5
    rows = postgres_server.psql(
        "SELECT actor || ' ' || origin || ' ' || action FROM audit_log"
        " WHERE action NOT LIKE 'auth.%' ORDER BY id",  # logins are audited too
        database,
    )
    assert rows.split() == ["admin", "api", "cue.go", "admin", "api", "master.set"]


def _list(daemon: Daemon, name: str) -> dict[str, object]:
    state = daemon.get("/api/playback", timeout=5).json()
    found: dict[str, object] = next(lst for lst in state["lists"] if lst["name"] == name)
    return found


def test_standby_of_a_new_list_and_of_a_finished_one_across_a_restart(tmp_path: Path) -> None:
    """Issue 16's playback bugs, through the API: a list created empty stands by on its first
    cue once it has one; a list that played its last cue is still at its end after a
    restart (GO does not replay cue 1); parks read back in the shape they were given."""
    port = free_port()
    with Capture() as capture:
        first = start(tmp_path, port, capture)
        try:
            assert first.put("/api/cue-lists/fresh", json={"cues": []}).status_code == 200
            assert _list(first, "fresh")["pending"] is None
            r = first.put("/api/cue-lists/fresh/cues/1", json={"look": "white"})
            assert r.status_code == 201, r.text
            assert _list(first, "fresh")["pending"] == "1"
            assert first.post("/api/cue-lists/fresh/go").json() == {"outcome": "done", "cue": "1"}
            # "main" has one cue: after it, nothing stands by.
            assert first.post("/api/cue-lists/main/go").json()["cue"] == "1"
            assert _list(first, "main")["pending"] is None
            assert first.put("/api/parks/d", json={"rgb": [1, 2, 3]}).status_code == 200
            assert first.get("/api/playback").json()["parks"] == {"d": {"rgb": [1, 2, 3]}}
            listed = first.get("/api/cue-lists").json()["items"]
            assert all("cues" not in item for item in listed)  # headers, never a false []
        finally:
            assert first.stop()[0] == 0
        second = start(tmp_path, port, capture)
        try:
            assert _list(second, "main")["current"] == "1"
            assert _list(second, "main")["pending"] is None
            r = second.post("/api/cue-lists/main/go")
            assert r.json() == {"outcome": "end-of-list", "cue": "1"}
            assert second.get("/api/playback").json()["parks"] == {"d": {"rgb": [1, 2, 3]}}
        finally:
            assert second.stop()[0] == 0
