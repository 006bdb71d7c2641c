"""Supervision against the real daemon: subsystems crashed on purpose (fault injection) are
restarted, then disabled when they keep crashing, while the frame clock keeps sending; a port
in use is a one-line start-up error naming the key, except for the optional MDVR gateway,
which lets the lighting start and retries."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon_harness import Daemon, free_port, running_daemon, write_config
from tests.fault.test_hostile_mdvr import frames_advance


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, d: Daemon) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass  # the web server may be between crash and restart
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{d.log()[-3000:]}")


def faults_and_gateway(sig: int, media: int) -> str:
    # The schedule runner on (the harness turns it off): it is one of the subsystems crashed
    # here. What it plays at start-up (the default evening, by the time of day) is not checked.
    return (
        "[debug]\nfault_injection = true\n[schedule]\nenabled = true\n"
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f"media_port = {media}\n"
    )


def subsystem(d: Daemon, name: str) -> dict[str, Any]:
    block: dict[str, Any] = d.health()["subsystems"][name]
    return block


def test_every_subsystem_restarts_after_a_crash(tmp_path: Path) -> None:
    sig, media = free_port(), free_port()
    extra = faults_and_gateway(sig, media)
    with running_daemon(tmp_path, extra) as d:
        names = sorted(d.wait_healthy()["subsystems"])
        assert {"web", "socket", "mdvr", "schedule", "persistence", "playback_events"} <= set(names)
        for name in names:
            assert d.post(f"/debug/fault/crash/{name}").status_code == 200, name
            wait_for(
                lambda n=name: (
                    subsystem(d, n)["crashes"] == 1  # type: ignore[misc]
                    and subsystem(d, n)["state"] == "running"
                ),
                15.0,
                f"{name} to restart",
                d,
            )
            frames_advance(d)
        # Restarted subsystems work: the gateway accepts a connection again, the socket
        # API answers, and the web serves.
        with socket.create_connection(("127.0.0.1", sig), timeout=2):
            pass
        metrics = d.get("/metrics").text
        assert 'trocadero_subsystem_crashes_total{subsystem="mdvr"} 1.0' in metrics
        assert d.stop()[0] == 0


def test_a_subsystem_that_keeps_crashing_is_disabled(tmp_path: Path) -> None:
    sig, media = free_port(), free_port()
    extra = faults_and_gateway(sig, media)
    with running_daemon(tmp_path, extra) as d:
        d.wait_healthy()
        sent_before = d.health()["clock"]["frames_sent"]
        for n in range(1, 6):
            wait_for(
                lambda: subsystem(d, "mdvr")["state"] == "running",
                30.0,
                "the gateway to be running",
                d,
            )
            assert d.post("/debug/fault/crash/mdvr").status_code == 200
            wait_for(
                lambda n=n: subsystem(d, "mdvr")["crashes"] == n,  # type: ignore[misc]
                10.0,
                f"crash {n}",
                d,
            )
        wait_for(lambda: subsystem(d, "mdvr")["state"] == "disabled", 10.0, "disabled", d)
        health = frames_advance(d)
        assert health["clock"]["frames_sent"] > sent_before
        assert health["clock"]["missed_deadlines"] == 0
        assert "mdvr disabled after 5 crashes" in d.log()
        # Its port is closed: the gateway is really down, the lighting is not.
        try:
            socket.create_connection(("127.0.0.1", sig), timeout=1).close()
            raise AssertionError("the disabled gateway still accepts connections")
        except ConnectionRefusedError:
            pass
        assert d.post("/debug/fault/crash/mdvr").status_code == 404  # not running
        assert d.stop()[0] == 0


def test_web_port_in_use_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(tmp_path / "t.toml", port, tmp_path / "state")
        done = subprocess.run(
            [sys.executable, "-m", "trocadero", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"web.port: 127.0.0.1:{port} is in use" in done.stderr


def test_mdvr_ports_in_use_do_not_keep_the_building_dark(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        sig = busy.getsockname()[1]
        media = free_port()
        extra = (
            f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
            f"media_port = {media}\n"
        )
        with running_daemon(tmp_path, extra) as d:
            d.wait_healthy()
            frames_advance(d)
            block = subsystem(d, "mdvr")
            assert block["state"] == "retrying"
            assert block["last_error"] == f"mdvr.signaling_port: 127.0.0.1:{sig} is in use"
            assert "mdvr could not start" in d.log()
            busy.close()  # the port is freed: the retry takes it
            wait_for(lambda: subsystem(d, "mdvr")["state"] == "running", 60.0, "the gateway", d)
            with socket.create_connection(("127.0.0.1", sig), timeout=2):
                pass
            assert d.stop()[0] == 0


def test_a_handler_bug_is_a_500_counted_and_contained(tmp_path: Path) -> None:
    with running_daemon(tmp_path, "[debug]\nfault_injection = true\n") as d:
        d.wait_healthy()
        for _ in range(3):
            r = d.post("/debug/fault/raise")
            assert r.status_code == 500
            assert r.json() == {"error": "internal error (logged)"}
        health = frames_advance(d)
        edge = health["containment"]["edges"]["rest"]
        assert edge["contained"] == 3
        assert "handler failure requested" in edge["last_error"]
        assert health["subsystems"]["web"]["crashes"] == 0  # the server itself went on
        # Logged once per client per interval, not once per failure.
        assert d.log().count("session failure contained") == 1
        metrics = d.get("/metrics").text
        assert 'trocadero_contained_failures_total{edge="rest"} 3.0' in metrics
