"""The gateway's timing under a controlled clock: the Trio run's clock is a MockClock that
only moves when the test jumps it, and the gateway's injected `Clock` reads the same time,
so silence, heartbeats, retry backoff and batch flushes are proved without sleeping.

A device is an in-memory stream into the signaling session; the store is a fake in memory
(no worker threads: once every task is blocked, the state is final)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import trio
import trio.testing

from trocadero.config.schema import MdvrConfig
from trocadero.core.events import Event, EventBus, Subscriber
from trocadero.core.storage import Storage, StorageError
from trocadero.core.storage.devices import DeviceFile, PositionRow
from trocadero.core.storage.tenants import TenantRecord
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice
from trocadero.protocols.mdvr import build_frame, position_fields

EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class TrioTime:
    """The gateway's clock on the Trio run's clock (the mock one here). Monotonic time
    starts well above zero, as the real one does (commands are paced from 0.0)."""

    def monotonic(self) -> float:
        return 1000.0 + trio.current_time()

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=trio.current_time())


@dataclass
class _Page:
    items: tuple[DeviceFile, ...]


@dataclass
class FakeDevices:
    """The part of the device store the gateway uses, in memory."""

    files: dict[int, DeviceFile] = field(default_factory=dict)
    batches: list[tuple[float, list[PositionRow]]] = field(default_factory=list)
    insert_failures: int = 0  # the next inserts that raise StorageError
    insert_attempts: list[float] = field(default_factory=list)  # trio time of each
    online: dict[str, bool] = field(default_factory=dict)

    def status(self, file_id: int) -> str:
        return self.files[file_id].status

    async def mark_all_offline(self) -> None:
        self.online.clear()

    async def ensure_partitions(self, now: datetime) -> int:
        return 0

    async def apply_retention(self, now: datetime) -> int:
        return 0

    async def upsert_device(self, device_id: str, **fields: Any) -> None:
        self.online[device_id] = True

    async def set_online(self, device_id: str, online: bool, at: datetime) -> None:
        self.online[device_id] = online

    async def insert_positions(self, rows: Sequence[PositionRow]) -> int:
        self.insert_attempts.append(trio.current_time())
        if self.insert_failures:
            self.insert_failures -= 1
            raise StorageError("database is locked")
        self.batches.append((trio.current_time(), list(rows)))
        return len(rows)

    async def list_files(
        self, *, device_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> _Page:
        return _Page(
            tuple(
                f
                for f in self.files.values()
                if (device_id is None or f.device_id == device_id)
                and (status is None or f.status == status)
            )[:limit]
        )

    async def get_file(self, file_id: int) -> DeviceFile:
        return self.files[file_id]

    async def update_file(self, file_id: int, **changes: Any) -> DeviceFile:
        self.files[file_id] = row = replace(self.files[file_id], **changes)
        return row


@dataclass
class FakeTenants:
    """The device registry: the configured ids, all in the default tenant."""

    registry: dict[str, int] = field(default_factory=dict)

    async def seed_default(self, device_ids: Sequence[str], *, retention_days: int) -> int:
        fresh = [d for d in device_ids if d not in self.registry]
        self.registry.update(dict.fromkeys(fresh, 1))
        return len(fresh)

    async def device_tenant(self, device_id: str) -> int | None:
        return self.registry.get(device_id)

    async def get_tenant(self, tenant_id: int) -> TenantRecord:
        return TenantRecord(tenant_id, "default", 90, datetime(2026, 1, 1, tzinfo=UTC))


@dataclass
class FakeStorage:
    devices: FakeDevices = field(default_factory=FakeDevices)
    tenants: FakeTenants = field(default_factory=FakeTenants)


def config(**changes: object) -> MdvrConfig:
    base: dict[str, object] = {
        "enabled": True,
        "bind_address": "127.0.0.1",
        "signaling_port": 0,
        "media_port": 0,
        "allowed_devices": ("00967",),
        "heartbeat_s": 20.0,
        "offline_after_s": 120.0,
        "register_within_s": 30.0,
        "session_timeout_s": 10.0,
        "telemetry_flush_s": 5.0,
        "telemetry_batch": 100,
        "file_retries": 2,
    }
    base.update(changes)
    return MdvrConfig(**base)  # type: ignore[arg-type]


@dataclass
class Device:
    """The device's end of the link: frames it sends, bytes it received."""

    stream: trio.abc.Stream
    received: bytearray = field(default_factory=bytearray)
    closed: bool = False
    serial: int = 0

    async def send(self, keyword: str, fields: Sequence[str], at: datetime) -> None:
        self.serial += 1
        frame = build_frame(keyword, fields, serial=self.serial, device_id="00967", time=at)
        await self.stream.send_all(frame)
        await trio.testing.wait_all_tasks_blocked()

    async def register(self, at: datetime) -> None:
        pos = position_fields(SimDevice("00967", "", 0).position())
        await self.send("V101", [*pos, "V1.0.0.1", "4108"], at)

    async def report(self, at: datetime) -> None:
        """A V114 position report made at `at`."""
        pos = position_fields(SimDevice("00967", "", 0).position(), v114=True)
        await self.send("V114", [*pos, "1"], at)

    async def reader(self) -> None:
        """Takes in what the gateway sends, until it closes the link."""
        while chunk := await self.stream.receive_some(65536):
            self.received += chunk
        self.closed = True

    async def read(self) -> None:
        """Let the reader take in what the gateway sent so far."""
        await trio.testing.wait_all_tasks_blocked()

    def is_closed(self) -> bool:
        return self.closed

    def count(self, keyword: str) -> int:
        return bytes(self.received).count(f",{keyword},".encode())


@dataclass
class Rig:
    gateway: MdvrGateway
    devices: FakeDevices
    bus: EventBus
    nursery: trio.Nursery
    clock: trio.testing.MockClock

    async def at(self, t: float) -> None:
        """Run to virtual time `t`: the mock clock jumps from one due timer to the next
        (in order, as real time would pass), then everything due at `t` runs."""
        await trio.sleep_until(t)
        await trio.testing.wait_all_tasks_blocked()

    async def connect(self) -> Device:
        ours, theirs = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self.gateway.signaling.run, ours, "10.0.0.5:40000", "10.0.0.1")
        device = Device(theirs)
        self.nursery.start_soon(device.reader)
        await trio.testing.wait_all_tasks_blocked()
        return device


@asynccontextmanager
async def open_rig(
    tmp_path: Path, clock: trio.testing.MockClock, **changes: object
) -> AsyncIterator[Rig]:
    store = FakeStorage()
    gw = MdvrGateway(
        config(**changes),
        cast(Storage, store),
        EventBus(),
        tmp_path / "files",
        feeds=LiveFeeds(),
        audit=False,
        clock=TrioTime(),
    )
    clock.autojump_threshold = 0  # nothing here waits on real I/O: jump as soon as idle
    async with trio.open_nursery() as nursery:
        await nursery.start(gw.serve)
        yield Rig(gw, store.devices, gw.bus, nursery, clock)
        nursery.cancel_scope.cancel()


def published(subscriber: Subscriber) -> list[Event]:
    """The events delivered so far."""
    events = []
    while (event := subscriber.get_nowait()) is not None:
        events.append(event)
    return events


def at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


async def test_a_silent_link_is_closed_after_offline_after_s_and_heartbeats_keep_time(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    async with open_rig(tmp_path, mock_clock) as rig:
        offline = rig.bus.subscribe("device:offline")
        dev = await rig.connect()
        await dev.register(at(0))
        await dev.read()
        assert dev.count("C100") == 1
        assert "00967" in rig.gateway.online()
        # C501 every heartbeat_s (20 s), not before.
        await rig.at(19.9)
        assert dev.count("C501") == 0
        await rig.at(20.0)
        assert dev.count("C501") == 1
        # A message from the device restarts the silence timer (offline_after_s = 120 s).
        await rig.at(100.0)
        await dev.send("V109", [], at(100))
        await rig.at(219.9)  # silent for 119.9 s: still online
        assert rig.gateway.online()["00967"]["silent_s"] == pytest.approx(119.9)
        assert not dev.is_closed()
        assert dev.count("C501") == 10  # t = 20, 40, … 200
        await rig.at(220.0)  # 120 s of silence
        assert dev.is_closed()
        assert "00967" not in rig.gateway.online()
        event = offline.get_nowait()
        assert event is not None
        assert event.payload["reason"] == "silent"
        assert event.payload["at"] == at(220).isoformat()
        assert rig.devices.online["00967"] is False


async def test_a_link_that_never_registers_is_closed_after_register_within_s(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    async with open_rig(tmp_path, mock_clock) as rig:
        dev = await rig.connect()
        await rig.at(10.0)
        await dev.send("V109", [], at(10))  # not registered: a C500, and no extra time
        await dev.read()
        assert dev.count("C500") == 1
        assert not dev.is_closed()
        await rig.at(29.9)
        assert not dev.is_closed()
        await rig.at(30.0)  # register_within_s after it connected
        assert dev.is_closed()
        assert rig.gateway.stats.register_timeouts == 1


def pending_file(file_id: int = 7) -> DeviceFile:
    return DeviceFile(
        id=file_id,
        device_id="00967",
        alarm_uid="A1",
        device_path="/mnt/sd/alarm.264",
        file_type=2,
        channel=1,
        size=1000,
        start_time="",
        duration_s=10,
        status="pending",
        received_bytes=0,
        attempts=0,
        stored_path="",
        video_path="",
        thumbnail_path="",
        error="",
        created_at=EPOCH,
        updated_at=EPOCH,
    )


async def test_download_retries_back_off_then_fail(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """A device that never opens the file's media connection: each C702 waits
    session_timeout_s (10 s), then RETRY_DELAY_S (1 s) before the next; after
    file_retries (2) retries the file fails."""
    async with open_rig(tmp_path, mock_clock, heartbeat_s=45.0) as rig:
        rig.devices.files[7] = pending_file()
        files = rig.bus.subscribe("device:file")
        dev = await rig.connect()
        await dev.register(at(0))  # registering resumes its pending downloads
        await dev.read()
        assert dev.count("C702") == 1
        assert (rig.devices.status(7), rig.devices.files[7].attempts) == ("downloading", 1)
        await rig.at(10.9)  # timed out at 10 s, now waiting out the retry delay
        assert dev.count("C702") == 1
        assert rig.devices.files[7].error == "no media connection"
        assert not rig.gateway.pending  # the session we asked for is forgotten
        await rig.at(11.0)  # the second attempt
        assert (dev.count("C702"), rig.devices.files[7].attempts) == (2, 2)
        await rig.at(21.9)
        assert dev.count("C702") == 2
        await rig.at(22.0)  # the third and last
        assert (dev.count("C702"), rig.devices.files[7].attempts) == (3, 3)
        await rig.at(32.9)
        assert rig.devices.status(7) == "downloading"
        await rig.at(33.0)  # out of attempts
        assert dev.count("C702") == 3
        assert rig.devices.status(7) == "failed"
        assert rig.gateway.stats.files_failed == 1
        (event,) = published(files)
        assert event.payload["status"] == "failed"
        assert not dev.is_closed()  # the link itself is fine


async def test_positions_are_flushed_by_time_when_the_batch_is_not_full(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    async with open_rig(tmp_path, mock_clock) as rig:
        positions = rig.bus.subscribe("device:position")
        dev = await rig.connect()
        await dev.register(at(0))
        await rig.at(1.0)
        await dev.report(at(0.5))
        await rig.at(2.0)
        await dev.report(at(-300))  # from the device's cache: announced as backfill
        await rig.at(5.9)  # 4.9 s after the first report (telemetry_flush_s = 5 s)
        assert rig.devices.batches == []
        assert rig.gateway.flushed == 0
        await rig.at(6.0)
        assert rig.gateway.flushed == 1
        ((written_at, rows),) = rig.devices.batches
        assert written_at == 6.0
        # Stamped with the gateway's clock when they were received.
        assert [r.received_at for r in rows] == [at(1), at(2)]
        assert rig.gateway.stats.positions_stored == 2
        backfill = [e.payload["backfill"] for e in published(positions)]
        assert backfill == [False, True]


async def test_a_full_batch_is_written_at_once_and_a_failed_write_backs_off(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    async with open_rig(tmp_path, mock_clock, telemetry_batch=2) as rig:
        rig.devices.insert_failures = 2
        dev = await rig.connect()
        await dev.register(at(0))
        await dev.report(at(0))
        await dev.report(at(0.1))
        # Full: written without waiting for the flush interval; the store fails twice and
        # the writer waits 1 s, then 2 s, before trying again.
        assert rig.devices.insert_attempts == [0.0]
        await rig.at(0.999)
        assert rig.devices.insert_attempts == [0.0]
        await rig.at(1.0)
        assert rig.devices.insert_attempts == [0.0, 1.0]
        await rig.at(2.999)
        assert len(rig.devices.insert_attempts) == 2
        await rig.at(3.0)
        assert rig.devices.insert_attempts == [0.0, 1.0, 3.0]
        assert rig.gateway.flushed == 1
        assert rig.gateway.stats.positions_stored == 2
