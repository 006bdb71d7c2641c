"""MDVR storage on both backends: positions deduplicated, paged, partitioned by month on
PostgreSQL (partitions made ahead and on demand), retention applied; alarms deduplicated by UID
and acknowledged once; file rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trocadero.core.storage import NotFound, Storage
from trocadero.core.storage.devices import NewAlarm, PositionRow, partition_name

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def pos(device: str, at: datetime, lon: float = 18.821083) -> PositionRow:
    return PositionRow(
        device_id=device,
        at=at,
        received_at=T0,
        valid=True,
        longitude=lon,
        latitude=-34.084005,
        speed_kmh=12.5,
        course_raw=28600,
        status="FFF7000000307783",
        mileage_m=1113234,
        report_flag=1,
    )


async def register(store: Storage, device: str = "00967") -> None:
    await store.devices.upsert_device(
        device,
        plate="CA 1",
        device_type=4108,
        protocol_version="V1.0.0.1",
        net_lib_version="V6.1.45 20160604",
        address="127.0.0.1",
        at=T0,
    )


async def test_positions_deduplicated_and_paged(store: Storage) -> None:
    dev = store.devices
    await register(store)
    batch = [pos("00967", T0 + timedelta(seconds=i)) for i in range(7)]
    assert await dev.insert_positions(batch) == 7
    # A reconnect re-sends cached reports (same device, same time) plus new ones.
    again = [*batch[3:], pos("00967", T0 + timedelta(seconds=7)), batch[0]]
    assert await dev.insert_positions(again) == 1
    seen: list[PositionRow] = []
    cursor = None
    while True:
        page = await dev.list_positions("00967", limit=3, cursor=cursor)
        seen += page.items
        cursor = page.next
        if cursor is None:
            break
    assert [p.at for p in seen] == [T0 + timedelta(seconds=i) for i in range(8)]
    assert seen[0] == batch[0]
    device = await dev.get_device("00967")
    assert device.online
    assert device.position is not None
    assert device.position["at"] == (T0 + timedelta(seconds=7)).isoformat()
    assert device.position["longitude"] == pytest.approx(18.821083)
    # An older position arriving later does not replace the newest one.
    await dev.insert_positions([pos("00967", T0 - timedelta(days=1), lon=1.0)])
    device = await dev.get_device("00967")
    assert device.position is not None
    assert device.position["longitude"] == pytest.approx(18.821083)


async def test_partitions_and_retention(store: Storage) -> None:
    dev = store.devices
    await register(store)
    created = await dev.ensure_partitions(T0, months_ahead=2)
    if store.backend == "postgres":
        assert created == ["positions_y2026m03", "positions_y2026m04", "positions_y2026m05"]
        assert await dev.ensure_partitions(T0, months_ahead=2) == []
    else:
        assert created == []
    # Backfill into older months: their partitions are made on demand.
    old = [pos("00967", datetime(2025, m, 10, tzinfo=UTC)) for m in (10, 11, 12)]
    recent = [pos("00967", T0 - timedelta(days=d)) for d in (1, 2)]
    assert await dev.insert_positions([*old, *recent]) == 5
    if store.backend == "postgres":
        names = await dev.position_partitions()
        assert names == [partition_name(datetime(2025, m, 1, tzinfo=UTC)) for m in (10, 11, 12)] + [
            "positions_y2026m03",
            "positions_y2026m04",
            "positions_y2026m05",
        ]
    # The default tenant keeps 90 days: cutoff 2025-12-14, Oct and Nov fall out whole, Dec in part
    removed = await dev.apply_retention(T0)
    left = await dev.list_positions("00967", limit=100)
    assert [p.at for p in left.items] == sorted(p.at for p in recent)
    if store.backend == "postgres":
        assert removed == 3  # two partitions dropped + one row deleted
        assert await dev.position_partitions() == [
            "positions_y2025m12",
            "positions_y2026m03",
            "positions_y2026m04",
            "positions_y2026m05",
        ]
        # A dropped month comes back on demand.
        assert await dev.insert_positions([pos("00967", datetime(2025, 11, 2, tzinfo=UTC))]) == 1
    else:
        assert removed == 3


async def test_alarms_deduplicated_and_acknowledged(store: Storage) -> None:
    dev = store.devices
    alarm = NewAlarm(
        device_id="00967",
        alarm_uid="852D679B0155CB02",
        keyword="V204",
        name="video loss",
        is_end=False,
        alarm_time=T0,
        received_at=T0,
        channel_mask=1,
        details={"fields": ["1"]},
        longitude=18.8,
        latitude=-34.0,
    )
    assert await dev.record_alarm(alarm)
    assert not await dev.record_alarm(alarm)  # re-sent after a reconnect
    assert await dev.record_alarm(
        NewAlarm("00967", "85329EFD0156820A", "V254", "video loss", True, T0, T0)
    )
    page = await dev.list_alarms(limit=10)
    assert [a.keyword for a in page.items] == ["V254", "V204"]
    first = page.items[1]
    assert first.channel_mask == 1
    assert first.details == {"fields": ["1"]}
    acked = await dev.acknowledge_alarm(first.id, by="alice", at=T0 + timedelta(minutes=1))
    assert acked.acknowledged_by == "alice"
    again = await dev.acknowledge_alarm(first.id, by="bob")
    assert again.acknowledged_by == "alice"
    assert again.acknowledged_at == T0 + timedelta(minutes=1)
    open_ = await dev.list_alarms(unacknowledged=True, limit=10)
    assert [a.keyword for a in open_.items] == ["V254"]
    with pytest.raises(NotFound):
        await dev.acknowledge_alarm(9999, by="alice")


async def test_device_files(store: Storage) -> None:
    dev = store.devices
    row, created = await dev.add_file(
        device_id="00967",
        alarm_uid="UID3",
        device_path="/mnt/sd/alarm/ch1.264",
        file_type=2,
        channel=0,
        size=1048576,
        start_time="20170915104600",
        duration_s=30,
    )
    assert created
    assert row.status == "pending"
    same, created = await dev.add_file(
        device_id="00967",
        alarm_uid="UID3",
        device_path="/mnt/sd/alarm/ch1.264",
        file_type=2,
        channel=0,
        size=1048576,
        start_time="20170915104600",
        duration_s=30,
    )
    assert not created
    assert same.id == row.id
    done = await dev.update_file(row.id, status="done", received_bytes=1048576, attempts=1)
    assert (done.status, done.received_bytes) == ("done", 1048576)
    listed = await dev.list_files(limit=5, status="done")
    assert [f.id for f in listed.items] == [row.id]
    devices = await dev.list_devices(limit=5)
    assert devices.items == ()
