"""The MDVR gateway in a process of its own (playout/mdvr/process/): vehicles reach no code of
the lighting process, yet the control plane, its events and live video work across the
boundary, and a dead gateway process is restarted while the building keeps its frames."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trio

from tests.daemon_harness import Daemon, free_port, running_daemon, write_config
from trocadero.config import load_default_config
from trocadero.config.schema import Config
from trocadero.core.events import EventBus
from trocadero.core.storage import open_storage
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.process import GatewayProcess
from trocadero.playout.mdvr.sim import SimDevice, VideoClip, encode_clip


@pytest.fixture(scope="module")
def clip() -> VideoClip:
    return encode_clip(width=64, height=48, frames=40, fps=20.0, keyint=10)


def gateway_config() -> Config:
    base = load_default_config()
    mdvr = dataclasses.replace(
        base.mdvr,
        enabled=True,
        bind_address="127.0.0.1",
        signaling_port=free_port(),
        media_port=free_port(),
        allowed_devices=("00967",),
        heartbeat_s=0.2,
        session_timeout_s=3.0,
        telemetry_flush_s=0.05,
    )
    return dataclasses.replace(base, mdvr=mdvr)


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    with trio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 (polls another process's effects)
            await trio.sleep(0.02)


async def test_calls_events_and_live_frames_cross_the_process_boundary(
    tmp_path: Path, clip: VideoClip
) -> None:
    from trocadero.playout.render.sources import CanvasContext, SourceContext, build_source

    config = gateway_config()
    bus, feeds = EventBus(), LiveFeeds()
    async with open_storage(config.storage, tmp_path) as store:
        gateway = GatewayProcess(config, store, bus, feeds, tmp_path)
        async with trio.open_nursery() as nursery:
            await nursery.start(gateway.serve)
            assert gateway.pid is not None
            assert gateway.pid != os.getpid()
            events = bus.subscribe("device:*")  # forwarded because someone here listens
            dev = SimDevice("00967", "127.0.0.1", gateway.signaling_port, clip=clip,
                            position_interval_s=0.05, heartbeat_s=0.3)  # fmt: skip
            nursery.start_soon(dev.run)
            with trio.fail_after(10):
                online = await events.receive()
            assert online.topic == "device:online"
            assert online.payload["device_id"] == "00967"
            assert "00967" in await gateway.online_devices()
            with trio.fail_after(10):
                while (await events.receive()).topic != "device:position":
                    pass
            # The child writes them in batches; the daemon reads them from the shared store.
            for _ in range(100):
                page = await gateway.devices.list_positions("00967", limit=5)
                if page.items:
                    break
                await trio.sleep(0.05)
            assert page.items
            await gateway.refresh()
            assert gateway.statistics().devices_online == 1
            assert gateway.statistics().counters.positions_stored >= 1

            # Live video: the layer here wants 32 x 12, the process decodes and scales to it.
            canvas = CanvasContext.unpatched("stairs", 32, 12)
            sources = SourceContext(live_feeds=feeds)
            layer = build_source(
                "mdvr-live",
                {"device": "00967", "channel": 1, "fallback": "#ff0000"},
                canvas,
                sources,
            )
            out = np.zeros((12, 32, 3), np.uint16)
            status = await gateway.start_live("00967", 1)
            assert status["state"] == "requested"
            await until(lambda: layer.frame_key(1.0) != "fallback")
            assert layer.render(1.0, out)
            assert not (out == [65535, 0, 0]).all()
            assert out[:, :, 1].std() > 1000  # the clip's gradient, scaled in the other process
            assert gateway.frames_received >= 1
            assert feeds.feed("00967", 1).codec == "h264"
            sessions = await gateway.live_statuses()
            assert [(s["channel"], s["state"]) for s in sessions] == [(1, "streaming")]
            assert await gateway.stop_live("00967", 1)

            # The gateway's errors keep their kind across the boundary: a device not connected
            # is the LookupError the in-process gateway raises (the table makes it a 409).
            with pytest.raises(LookupError, match="not connected"):
                await gateway.start_live("77777", 0)
            layer.close()
            nursery.cancel_scope.cancel()
    assert gateway.pid is not None
    assert not _alive(gateway.pid)  # stopped (and reaped) with the daemon's nursery


def listening_pids(port: int) -> set[int]:
    """Processes holding the TCP socket that listens on `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":
                    inodes.add(cols[9])
    owners = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = str(fd.readlink())
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    owners.add(int(proc.name))
        except OSError:
            continue
    return owners


def wait_for(what: Callable[[], Any], limit: float, text: str, d: Daemon) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{text} not within {limit} s:\n{d.log()[-4000:]}")


def simulate(sig: int, devices: int, seconds: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", "mdvr-sim", "--port", str(sig), "--devices",
         str(devices), "--interval", "0.05", "--duration", str(seconds), "--no-video"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_vehicles_reach_no_code_of_the_lighting_process(tmp_path: Path) -> None:
    sig, media = free_port(), free_port()
    allowed = ", ".join(f'"{n:05d}"' for n in range(1, 41))
    extra = (
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f"media_port = {media}\nallowed_devices = [{allowed}]\ntelemetry_flush_s = 0.05\n"
    )
    with running_daemon(tmp_path, extra) as d:
        health = d.wait_healthy()
        process = health["mdvr_process"]
        assert process["running"] is True
        child = process["pid"]
        assert child != d.proc.pid
        # The vehicles' ports are the gateway process's sockets, not the daemon's.
        wait_for(lambda: listening_pids(sig) == {child}, 10, "the gateway listening", d)
        assert d.proc.pid not in listening_pids(media)

        done = simulate(sig, 40, 3.0)
        assert done.returncode == 0, done.stderr
        stored = d.health()["mdvr"]["counters"]["positions_stored"]
        assert stored >= 40, stored  # every vehicle reported
        # Nobody in the lighting process listens to vehicles: not one of their events (let
        # alone their bytes) was handed to it.
        after = d.health()["mdvr_process"]
        assert after["events_forwarded"] == 0, after
        assert after["starts"] == 1

        # The gateway process dies (kill -9): the building keeps its frames, the supervisor
        # starts a new one, and vehicles register with it.
        frames = d.health()["clock"]["frames_sent"]
        os.kill(child, signal.SIGKILL)
        restarted = wait_for(
            lambda: (
                (h := d.health())["mdvr_process"]["running"]
                and h["mdvr_process"]["pid"] != child
                and h
            ),
            30,
            "a new gateway process",
            d,
        )
        assert restarted["clock"]["frames_sent"] > frames
        assert restarted["subsystems"]["mdvr"]["crashes"] >= 1
        wait_for(
            lambda: "gateway process ended (killed by signal 9)" in d.log(), 10, "the crash", d
        )
        assert simulate(sig, 2, 1.0).returncode == 0
        again = d.health()
        assert again["mdvr"]["counters"]["positions_stored"] >= 2
        assert d.stop()[0] == 0
    assert wait_for(lambda: not _alive(restarted["mdvr_process"]["pid"]), 10, "exit", d)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_gateway_alone_serves_vehicles_into_the_shared_store(tmp_path: Path) -> None:
    """`trocadero gateway`: the gateway mode with no lighting (issue 20's first step)."""
    import sqlite3

    sig, media = free_port(), free_port()
    state = tmp_path / "state"
    off = write_config(tmp_path / "off.toml", free_port(), state)
    refused = subprocess.run(
        [sys.executable, "-m", "trocadero", "gateway", "--config", str(off)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "mdvr.enabled: false: nothing to run" in refused.stderr
    extra = (
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f'media_port = {media}\nallowed_devices = ["00001", "00002"]\ntelemetry_flush_s = 0.05\n'
    )
    config = write_config(tmp_path / "gateway.toml", free_port(), state, extra)
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "gateway", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "MDVR gateway listening" not in log.read_text():
            assert gateway.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        done = simulate(sig, 2, 1.5)
        assert done.returncode == 0, done.stderr
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=15) == 0, log.read_text()
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
    with sqlite3.connect(state / "fleet.db") as db:  # the fleet's own file
        rows = dict(db.execute("SELECT device_id, COUNT(*) FROM positions GROUP BY device_id"))
    assert set(rows) == {"00001", "00002"}, rows
    assert min(rows.values()) >= 2, rows
