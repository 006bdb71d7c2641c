"""The MDVR gateway end to end over real TCP sockets, with simulated devices (playout/mdvr/sim.py)
speaking the captured protocol. Timers are compressed through the config."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
import trio

from trocadero.config.schema import MdvrConfig, StorageConfig
from trocadero.core.commands import Actor
from trocadero.core.events import EventBus
from trocadero.core.storage import Storage, open_storage
from trocadero.core.storage.devices import PositionRow
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice, SimFile, VideoClip, encode_clip
from trocadero.protocols.mdvr import (
    CenterAck,
    MediaDecoder,
    RawMediaPacket,
    SignalingDecoder,
    build_frame,
    position_fields,
)

ALLOWED = ("00967", "00968")


def config(**changes: object) -> MdvrConfig:
    base: dict[str, object] = {
        "enabled": True,
        "bind_address": "127.0.0.1",
        "signaling_port": 0,
        "media_port": 0,
        "allowed_devices": ALLOWED,
        "heartbeat_s": 0.2,
        "offline_after_s": 1.5,
        "session_timeout_s": 3.0,
        "media_idle_s": 2.0,
        "telemetry_flush_s": 0.05,
        "file_retries": 3,
    }
    base.update(changes)
    return MdvrConfig(**base)  # type: ignore[arg-type]


@dataclass
class Env:
    gateway: MdvrGateway
    store: Storage
    bus: EventBus
    nursery: trio.Nursery

    def device(self, device_id: str = "00967", **options: object) -> SimDevice:
        options.setdefault("heartbeat_s", 0.3)  # V109s keep it inside offline_after_s
        return SimDevice(device_id, "127.0.0.1", self.gateway.signaling_port, **options)  # type: ignore[arg-type]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with open_storage(StorageConfig(), tmp_path) as store:
        bus = EventBus()
        gw = MdvrGateway(config(), store, bus, tmp_path / "files", feeds=LiveFeeds())
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            yield Env(gw, store, bus, nursery)
            nursery.cancel_scope.cancel()


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    with trio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling state the gateway does not signal
            await trio.sleep(0.01)


async def test_registration_heartbeat_and_offline(env: Env) -> None:
    events = env.bus.subscribe("device:*")
    dev = env.device(position_interval_s=10.0)
    env.nursery.start_soon(dev.run)
    with trio.fail_after(5):
        await dev.registered.wait()
    # C100 echoes serial, source keyword and time, exactly as CMSV6 does.
    ack = next(m for m in dev.received if isinstance(m, CenterAck))
    assert (ack.serial, ack.src_keyword, ack.content) == ("1", "V101", ("1", "1", ""))
    acks = {m.src_keyword: m for m in dev.received if isinstance(m, CenterAck)}
    await until(
        lambda: (
            {"V142", "V141"} <= set(acks)
            or bool(
                acks.update({m.src_keyword: m for m in dev.received if isinstance(m, CenterAck)})
            )
        )
    )
    assert acks["V141"].content == ("0", "0", "0", "", "", "0", "", "0", "", "")
    await until(lambda: dev.stats.c501 >= 2, limit=3)  # C501 every heartbeat_s
    assert "00967" in env.gateway.online()
    record = await env.store.devices.get_device("00967")
    assert record.online
    assert record.plate == "SIM 00967"
    assert record.protocol_version == "V1.0.0.1"
    assert record.device_type == 4108
    first = await events.receive()
    assert first.topic == "device:online"
    assert first.payload["device_id"] == "00967"
    dev.drop_link()  # the device goes away…
    event = await events.receive()
    assert event.topic == "device:offline"
    assert not (await env.store.devices.get_device("00967")).online


async def test_silent_device_goes_offline(env: Env) -> None:
    offline = env.bus.subscribe("device:offline")
    stream = await trio.open_tcp_stream("127.0.0.1", env.gateway.signaling_port)
    pos = position_fields(SimDevice("00968", "", 0).position())
    v101 = build_frame(
        "V101", [*pos, "V1.0.0.1", "4108"], serial=1, device_id="00968",
        time=datetime.now(UTC),
    )  # fmt: skip
    await stream.send_all(v101)
    await until(lambda: "00968" in env.gateway.online())
    with trio.fail_after(5):  # offline_after_s = 1.5: the gateway closes the link
        while await stream.receive_some(65536):
            pass
    await stream.aclose()
    assert "00968" not in env.gateway.online()
    with trio.fail_after(5):
        event = await offline.receive()
    assert event.payload["reason"] == "silent"
    assert not (await env.store.devices.get_device("00968")).online


async def test_unknown_device_refused_and_closed(env: Env) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", env.gateway.signaling_port)
    pos = position_fields(SimDevice("66666", "", 0).position())
    v101 = build_frame(
        "V101", [*pos, "V1.0.0.1", "4108"], serial=7, device_id="66666",
        time="170915 105007",
    )  # fmt: skip
    await stream.send_all(v101)
    received = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            received += chunk
    await stream.aclose()
    (reply,) = SignalingDecoder().feed(received)
    assert isinstance(reply, CenterAck)
    assert (reply.serial, reply.src_keyword, reply.src_time) == ("7", "V101", "170915 105007")
    assert reply.content == ("0", "2")  # failure, reason 2: unknown device id
    assert env.gateway.stats.refused == 1
    # A message before registration gets C500.
    stream = await trio.open_tcp_stream("127.0.0.1", env.gateway.signaling_port)
    await stream.send_all(
        build_frame("V109", [], serial=3, device_id="00967", time="170915 105108")
    )
    with trio.fail_after(5):
        data = await stream.receive_some(65536)
    assert b",C500,00967," in data
    await stream.aclose()


async def test_garbage_closes_the_link(env: Env) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", env.gateway.signaling_port)
    junk = b"x" * 4096
    with trio.fail_after(5):
        try:
            for _ in range(40):
                await stream.send_all(junk)
            while await stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass
    await stream.aclose()
    await until(lambda: env.gateway.stats.closed_for_garbage == 1)


async def test_second_registration_replaces_the_link(env: Env) -> None:
    first = env.device(position_interval_s=10.0)
    env.nursery.start_soon(first.run)
    with trio.fail_after(5):
        await first.registered.wait()
    old = env.gateway.links["00967"]
    second = env.device(position_interval_s=10.0)
    env.nursery.start_soon(second.run)
    with trio.fail_after(5):
        await second.registered.wait()
    assert env.gateway.links["00967"] is not old
    assert env.gateway.stats.replaced >= 1


async def test_telemetry_stored_and_deduplicated_after_reconnect(env: Env) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    positions = env.bus.subscribe("device:position")
    dev = env.device(position_interval_s=0.02, clock_step_s=1.0, start_time=start)
    async with trio.open_nursery() as sim:
        sim.start_soon(dev.run)
        with trio.fail_after(5):
            await dev.registered.wait()
        await until(lambda: dev.stats.positions_sent >= 20)
        dev.drop_link()  # reports made while the link is down are cached on the device
        dropped_at = dev._tick
        await until(lambda: not dev.registered.is_set())
        await until(lambda: dev.registered.is_set())
        back_at = dev._tick
        await until(lambda: dev.stats.positions_sent >= back_at + 10)
        # A report the server already has, re-sent (the device never saw our TCP ack).
        assert await dev._send(
            build_frame(
                "V114",
                [*position_fields(dev.position(), v114=True), "1"],
                serial=999,
                device_id="00967",
                time=start + timedelta(seconds=3),
            )
        )
        sent = dev.stats.positions_sent
        sim.cancel_scope.cancel()
    stats = env.gateway.stats
    await until(
        lambda: (
            stats.positions_received == stats.positions_stored + stats.positions_duplicate
            # A report in flight when the sim was stopped may be lost (see below).
            and stats.positions_received >= sent - 2
        )
    )
    stored: list[PositionRow] = []
    cursor = None
    while True:
        page = await env.store.devices.list_positions("00967", limit=1000, cursor=cursor)
        stored += page.items
        if (cursor := page.next) is None:
            break
    times = [p.at for p in stored]
    assert len(times) == len(set(times)) == stats.positions_stored  # one per (device, time)
    assert stats.positions_duplicate >= 1
    assert len(times) >= sent - 2  # (a report in flight when the sim was stopped may be lost)
    # The reports cached during the outage were stored with their original times.
    cached = {start + timedelta(seconds=n) for n in range(dropped_at + 2, back_at + 1)}
    assert cached
    assert cached <= set(times)
    p = stored[0]
    assert p.at == start + timedelta(seconds=1)
    assert p.valid
    assert p.status == "FFF7000000307783"
    assert p.report_flag == 1
    assert abs(p.latitude - (-34.084005)) < 0.02
    assert abs(p.longitude - 18.821083) < 0.02
    device = await env.store.devices.get_device("00967")
    assert device.position is not None
    assert device.position["at"] == max(times).isoformat()
    # Events: one per distinct report; these are 30 minutes old, so flagged as backfill.
    seen = []
    while (e := positions.get_nowait()) is not None:
        seen.append(e.payload)
    assert len({e["at"] for e in seen}) == len(seen) >= len(times) - 2
    assert all(e["backfill"] for e in seen)


@pytest.fixture(scope="module")
def clip() -> VideoClip:
    return encode_clip(width=64, height=48, frames=40, fps=20.0, keyint=10)


async def test_alarm_acknowledged_and_file_downloaded(
    env: Env, clip: VideoClip, tmp_path: Path
) -> None:
    files = env.bus.subscribe("device:file")
    alarms = env.bus.subscribe("device:alarm")
    dev = env.device(position_interval_s=10.0, interrupt_file_after=2000, block_size=1024)
    env.nursery.start_soon(dev.run)
    with trio.fail_after(5):
        await dev.registered.wait()
    await dev.send_alarm("V204", "852D679B0155CB02", ["1"])
    await until(lambda: dev.stats.alarm_acks == 1)
    alarm = await alarms.receive()
    assert alarm.payload["keyword"] == "V204"
    assert alarm.payload["channel_mask"] == 1
    # The same alarm re-sent (after a reconnect) is acknowledged again but stored once.
    fields = ["170915 104622", "852D679B0155CB02", "0", "", "0", "", "1"]
    again = build_frame(
        "V204",
        [*position_fields(dev.position()), *fields],
        serial=1,
        device_id="00967",
        time="170915 104622",
    )
    dev._unacked["852D679B0155CB02"] = again  # as if still cached on the device
    assert await dev._send(again)
    await until(lambda: dev.stats.alarm_acks == 2)
    assert env.gateway.stats.alarms_duplicate == 1
    page = await env.store.devices.list_alarms(limit=10)
    assert [a.alarm_uid for a in page.items] == ["852D679B0155CB02"]
    record = await env.gateway.acknowledge_alarm(
        page.items[0].id, Actor("alice", "operator", "api")
    )
    assert record.acknowledged_by == "alice"
    audit = await env.store.audit.list_audit(limit=5)
    assert audit.items[0].action == "mdvr.alarm.ack"
    # V232: the file is fetched (C702 → V103 → 0x6102), interrupted once, resumed.
    data = clip.elementary_stream()
    await dev.send_file_ready("UID3", SimFile("/mnt/sd/alarm/ch1.264", data))
    with trio.fail_after(20):
        while True:
            event = await files.receive()
            if event.payload["status"] in ("done", "failed"):
                break
    payload = event.payload
    assert payload["status"] == "done", payload
    assert payload["error"] == ""
    row = await env.store.devices.get_file(payload["file_id"])
    assert row.attempts == 2  # the first transfer was cut at 2000 bytes
    assert row.received_bytes == len(data)
    stored = env.gateway.file_dir / row.stored_path
    assert stored.read_bytes() == data
    assert not list(env.gateway.file_dir.rglob("*.part"))
    assert not list(env.gateway.file_dir.rglob("*.tmp"))
    mp4 = env.gateway.file_dir / row.video_path
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert sum(1 for _ in container.decode(video=0)) == len(clip.units)
    thumb = env.gateway.file_dir / row.thumbnail_path
    assert thumb.read_bytes()[:2] == b"\xff\xd8"
    with av.open(str(thumb)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (64, 48)


async def test_unsolicited_media_session_refused(env: Env) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", env.gateway.media_port)
    reg = build_frame(
        "V102",
        [*position_fields(SimDevice("00967", "", 0).position()), "V1.0.0.1", "4108",
         "127.0.0.1", str(env.gateway.media_port), "12345", "C508", "0", "1", "plate"],
        serial=1, device_id="00967", time=datetime.now(UTC),
    )  # fmt: skip
    await stream.send_all(reg)
    received = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            received += chunk
    await stream.aclose()
    (feedback,) = MediaDecoder().feed(received)
    assert isinstance(feedback, RawMediaPacket)
    assert feedback.opcode == 0x6000
    assert struct.unpack("<II", feedback.payload) == (0, 0x1002)
    assert env.gateway.stats.media_refused == 1


async def test_live_stream_on_a_canvas_layer_then_fallback(tmp_path: Path, clip: VideoClip) -> None:
    from trocadero.playout.render.sources import CanvasContext, SourceContext, build_source

    feeds = LiveFeeds()  # the gateway publishes here, the layers read here (as in the daemon)
    sources = SourceContext(live_feeds=feeds)
    async with open_storage(StorageConfig(), tmp_path) as store:
        gw = MdvrGateway(config(), store, EventBus(), tmp_path / "files", feeds=feeds)
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            dev = SimDevice("00967", "127.0.0.1", gw.signaling_port, clip=clip,
                            position_interval_s=10.0, heartbeat_s=0.3)  # fmt: skip
            nursery.start_soon(dev.run)
            with trio.fail_after(5):
                await dev.registered.wait()
            canvas = CanvasContext.unpatched("stairs", 32, 12)
            layer = build_source(
                "mdvr-live",
                {"device": "00967", "channel": 1, "fallback": "#ff0000", "fallback_after_s": 0.5},
                canvas,
                sources,
            )
            other = build_source("mdvr-live", {"device": "00967", "channel": 2}, canvas, sources)
            out = np.zeros((12, 32, 3), np.uint16)
            layer.render(0.0, out)
            assert (out == [65535, 0, 0]).all()  # no frames yet: the fallback colour
            status = await gw.start_live("00967", 1)
            assert status["state"] == "requested"
            await gw.start_live("00967", 2, 1)  # several channels at once
            feed = feeds.feed("00967", 1)
            await until(lambda: feed.seq >= 5 and layer.frame_key(1.0) != "fallback")
            assert layer.render(1.0, out)
            # The clip is a colour gradient: not the fallback, and it varies across the canvas.
            assert not (out == [65535, 0, 0]).all()
            assert out[:, :, 1].std() > 1000
            latency = getattr(layer, "latency_ms", None)  # the source's latency readout
            assert latency is not None
            assert 0 <= latency < 1000
            await until(lambda: other.frame_key(1.0) != "fallback")
            sessions = {(s["channel"], s["state"]) for s in gw.live_sessions()}
            assert sessions == {(1, "streaming"), (2, "streaming")}
            assert feed.codec == "h264"
            # The camera stops: after fallback_after_s the layer shows the colour again.
            dev.stop_media(channel=1)
            await until(lambda: layer.frame_key(2.0) == "fallback", limit=5)
            layer.render(2.0, out)
            assert (out == [65535, 0, 0]).all()
            await until(lambda: (("00967", 1, 0)) not in gw.live)
            # C508 stop for the other channel: the device closes its media connection.
            assert await gw.stop_live("00967", 2, 1)
            await until(lambda: not dev._media)
            stop = [m for m in dev.received if getattr(m, "keyword", "") == "C508"]
            assert [m.start for m in stop] == [True, True, False]
            layer.close()
            other.close()
            nursery.cancel_scope.cancel()


async def test_rest_devices_alarms_live_and_files(env: Env, clip: VideoClip) -> None:
    import httpx

    from trocadero.web.app import ControlPlane, create_app

    operator = Actor("op", "operator", "api")  # the route behaviour; logins: test_auth_daemon
    app = create_app(
        ControlPlane(
            health=dict,
            store=env.store,
            mdvr=env.gateway,
            actor_of=lambda _r: operator,
        )
    )
    dev = env.device(position_interval_s=0.05, clip=clip)
    env.nursery.start_soon(dev.run)
    with trio.fail_after(5):
        await dev.registered.wait()
    await dev.send_alarm("V202", "PANIC1", ["1", "driver"])
    await dev.send_file_ready("UID9", SimFile("/mnt/sd/a.264", clip.elementary_stream()))
    await until(
        lambda: env.gateway.stats.files_done == 1 and env.gateway.stats.positions_stored > 2
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get("/api/mdvr/devices")
        (device,) = r.json()["items"]
        assert device["device_id"] == "00967"
        assert device["online"] is True
        assert device["last_position"]["latitude"] == pytest.approx(-34.08, abs=0.02)
        r = await client.get("/api/mdvr/devices/00967/positions", params={"limit": 2})
        assert len(r.json()["items"]) == 2
        assert r.json()["next"]
        r = await client.get("/api/mdvr/alarms", params={"open": "1"})
        names = {a["keyword"]: a for a in r.json()["items"]}
        assert set(names) == {"V202", "V232"}
        r = await client.post(f"/api/mdvr/alarms/{names['V202']['id']}/acknowledge")
        assert r.status_code == 200
        assert r.json()["acknowledged_by"] == "op"
        r = await client.get("/api/mdvr/alarms", params={"open": "1"})
        assert [a["keyword"] for a in r.json()["items"]] == ["V232"]
        r = await client.get("/api/mdvr/files")
        (f,) = r.json()["items"]
        assert f["status"] == "done"
        assert f["video"]
        assert f["thumbnail"]
        r = await client.get(f["thumbnail"])
        assert r.headers["content-type"] == "image/jpeg"
        assert r.content[:2] == b"\xff\xd8"
        r = await client.get(f["original"])
        assert r.content == clip.elementary_stream()
        r = await client.post("/api/mdvr/live", json={"device": "00967", "channel": 0})
        assert r.status_code == 202
        assert r.json()["state"] == "requested"
        await until(lambda: any(s["state"] == "streaming" for s in env.gateway.live_sessions()))
        r = await client.get("/api/mdvr/live")
        assert r.json()["items"][0]["channel"] == 0
        r = await client.post("/api/mdvr/live/stop", json={"device": "00967", "channel": 0})
        assert r.json() == {"stopped": True}
        r = await client.post("/api/mdvr/live", json={"device": "77777", "channel": 0})
        assert r.status_code == 409
        r = await client.post("/api/mdvr/live", json={"device": "00967", "channel": 99})
        assert r.status_code == 400
        assert "channel" in r.json()["error"]
    # Live views and recording downloads are in the audit log: who, what, which vehicle.
    page = await env.store.audit.list_audit(action="mdvr.*", limit=50)
    got = [(e.actor, e.action, e.target, dict(e.detail)) for e in reversed(page.items)]
    file_id = str(f["id"])
    assert got == [
        ("op", "mdvr.alarm.ack", f"00967/{names['V202']['alarm_uid']}", got[0][3]),
        ("op", "mdvr.file.download", file_id, {"device": "00967", "which": "original"}),
        ("op", "mdvr.live.start", "00967/0", {"stream": 0}),
        ("op", "mdvr.live.stop", "00967/0", {"stream": 0, "stopped": True}),
    ]
    viewer = create_app(
        ControlPlane(
            health=dict, mdvr=env.gateway,
            actor_of=lambda _r: Actor("v", "viewer", "api"),
        )
    )  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=viewer), base_url="http://test"
    ) as client:
        assert (await client.get("/api/mdvr/devices")).status_code == 200
        r = await client.post("/api/mdvr/live", json={"device": "00967", "channel": 0})
        assert r.status_code == 403
        # Recordings are the same footage as live view: a viewer lists them, never gets them.
        assert (await client.get("/api/mdvr/files")).status_code == 200
        for url in (f["original"], f["video"], f["thumbnail"]):
            assert (await client.get(url)).status_code == 403
        r = await client.get("/api/mdvr/files/987654/video")
        assert r.status_code == 403  # refused before anything is looked up


def test_recent_keys_forget_the_oldest_and_answer_membership() -> None:
    from trocadero.playout.mdvr.gateway import RecentKeys

    recent = RecentKeys(3)
    assert [recent.add(k) for k in "abca"] == [True, True, True, False]
    assert recent.add("d")  # "a" is forgotten now
    assert recent.add("a")
    assert not recent.add("d")
    assert len(recent) == 3
