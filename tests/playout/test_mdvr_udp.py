"""Signaling over UDP ([mdvr] udp = true) with the simulator speaking datagrams: a device
registers, is heart-beaten, reports positions that are stored, goes offline after silence;
malformed datagrams are counted and never stop the server."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.playout.test_mdvr_gateway import Env, config, until
from trocadero.config.schema import StorageConfig
from trocadero.core.events import EventBus
from trocadero.core.storage import open_storage
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with open_storage(StorageConfig(), tmp_path) as store:
        bus = EventBus()
        gw = MdvrGateway(config(udp=True), store, bus, tmp_path / "files", feeds=LiveFeeds())
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            yield Env(gw, store, bus, nursery)
            nursery.cancel_scope.cancel()


async def test_udp_device_registers_reports_and_goes_offline(env: Env) -> None:
    gw = env.gateway
    assert gw.udp_port == gw.signaling_port  # the same port number as TCP signaling
    events = env.bus.subscribe("device:*")
    dev = SimDevice(
        "00967", "127.0.0.1", gw.signaling_port, transport="udp",
        position_interval_s=0.05, heartbeat_s=0.3,
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        nursery.start_soon(dev.run)
        with trio.fail_after(5):
            await dev.registered.wait()
        assert "00967" in gw.online()
        online = await events.receive()
        assert online.topic == "device:online"
        assert online.payload["address"].startswith("udp:127.0.0.1:")
        await until(lambda: dev.stats.c501 >= 1, limit=3)  # heartbeats come back as datagrams
        await until(lambda: gw.stats.positions_stored >= 5)
        page = await env.store.devices.list_positions("00967", limit=10)
        assert len(page.items) >= 5
        # Junk datagrams on the same port: counted, the device stays registered.
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for data in (b"\x00" * 40, b"$$dc9999garbage", b"hello"):
            junk.sendto(data, ("127.0.0.1", gw.signaling_port))
        junk.close()
        await until(lambda: gw.udp_stats.datagrams >= 10)
        assert "00967" in gw.online()
        nursery.cancel_scope.cancel()  # the device stops sending: offline after silence
    with trio.fail_after(5):
        while (event := await events.receive()).topic != "device:offline":
            pass
    assert event.payload["reason"] == "silent"
    assert not (await env.store.devices.get_device("00967")).online


def test_daemon_health_has_the_gateway_block(tmp_path: Path) -> None:
    from tests.daemon_harness import free_port, running_daemon

    sig, media = free_port(), free_port()
    extra = (
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f'media_port = {media}\nudp = true\nallowed_devices = ["00967"]\n'
    )
    with running_daemon(tmp_path, extra) as daemon:
        daemon.wait_healthy()
        block = daemon.health()["mdvr"]
        assert block["signaling"] == {"tcp_port": sig, "udp_port": sig}
        assert block["media_port"] == media
        assert block["devices_online"] == 0
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        junk.sendto(b"not a frame", ("127.0.0.1", sig))
        junk.close()
        for _ in range(100):
            if daemon.health()["mdvr"]["udp"]["datagrams"] == 1:
                break
            time.sleep(0.05)
        assert daemon.health()["mdvr"]["udp"]["datagrams"] == 1
    (tmp_path / "off").mkdir()
    with running_daemon(tmp_path / "off") as daemon:
        daemon.wait_healthy()
        assert daemon.health()["mdvr"] is None  # off by default
