"""MDVR gateway storage: devices, positions, alarms and downloaded files (migration 4).

One interface (`DeviceStore`), one SQL implementation over a `Driver`, like the rest of the
store. Positions are the bulk path: they arrive in batches, are bulk-loaded into a staging
table (binary COPY on PostgreSQL) and moved across with ``ON CONFLICT DO NOTHING``, so cached
reports a device re-sends after a reconnect (same device, same time) are stored once. On
PostgreSQL the table is partitioned by month: the partitions a batch needs are created on
demand, `ensure_partitions` makes the coming months' ahead of time, and `apply_retention`
drops the months that fell out of the window. Every listing is a keyset page.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from .base import DEFAULT_LIMIT, NotFound, Page, ValidationError, row_id
from .driver import Dialect, Driver, Row, Tx
from .sqlkit import keyset_page

__all__ = [
    "AlarmRecord",
    "DeviceFile",
    "DeviceRecord",
    "DeviceStore",
    "FileStatus",
    "NewAlarm",
    "PositionRow",
    "SqlDeviceStore",
]

FileStatus = Literal["pending", "downloading", "done", "failed"]

_PARTITION_LOCK: Final = 0x7472_6F63_0004  # advisory lock: one partition creator at a time
_RETENTION_CHUNK: Final = 5000
# SQLite deletes old rows this many per statement


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One stored V114 position (decimal degrees, East/North positive; ``status`` the 8 status
    bytes as 16 hex digits, "" when absent; ``course_raw`` as the device sent it)."""

    device_id: str
    at: datetime
    received_at: datetime
    valid: bool
    longitude: float
    latitude: float
    speed_kmh: float | None = None
    course_raw: int | None = None
    status: str = ""
    mileage_m: int | None = None
    report_flag: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "valid": self.valid,
            "longitude": self.longitude,
            "latitude": self.latitude,
            "speed_kmh": self.speed_kmh,
            "course_raw": self.course_raw,
        }


_POSITION_COLUMNS: Final = (
    "device_id",
    "at",
    "received_at",
    "valid",
    "longitude",
    "latitude",
    "speed_kmh",
    "course_raw",
    "status",
    "mileage_m",
    "report_flag",
)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    device_id: str
    plate: str
    device_type: int | None
    protocol_version: str
    net_lib_version: str
    address: str
    online: bool
    first_seen: datetime
    last_seen: datetime
    position: Mapping[str, Any] | None = None  # PositionRow.summary() of the newest position


@dataclass(frozen=True, slots=True)
class NewAlarm:
    """An alarm as received (V2xx start / V25x end)."""

    device_id: str
    alarm_uid: str
    keyword: str
    name: str
    is_end: bool
    alarm_time: datetime | None
    received_at: datetime
    channel_mask: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    longitude: float | None = None
    latitude: float | None = None


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    id: int
    device_id: str
    alarm_uid: str
    keyword: str
    name: str
    is_end: bool
    alarm_time: datetime | None
    received_at: datetime
    channel_mask: int | None
    details: Mapping[str, Any]
    longitude: float | None
    latitude: float | None
    acknowledged_at: datetime | None
    acknowledged_by: str


@dataclass(frozen=True, slots=True)
class DeviceFile:
    """A file a device announced (V232) and its download: ``received_bytes`` is the resume
    point; ``stored_path`` the original, ``video_path``/``thumbnail_path`` the MP4 and JPEG
    made from a video (paths relative to the gateway's file directory)."""

    id: int
    device_id: str
    alarm_uid: str
    device_path: str
    file_type: int | None
    channel: int | None
    size: int | None
    start_time: str
    duration_s: int | None
    status: FileStatus
    received_bytes: int
    attempts: int
    stored_path: str
    video_path: str
    thumbnail_path: str
    error: str
    created_at: datetime
    updated_at: datetime


class DeviceStore(ABC):
    """The gateway's storage interface (``Storage.devices``)."""

    # devices
    @abstractmethod
    async def upsert_device(
        self,
        device_id: str,
        *,
        plate: str,
        device_type: int | None,
        protocol_version: str,
        net_lib_version: str,
        address: str,
        at: datetime,
    ) -> None:
        """Record a registration: the device is online from ``at``."""

    @abstractmethod
    async def set_online(self, device_id: str, online: bool, at: datetime) -> None: ...

    @abstractmethod
    async def mark_all_offline(self) -> int:
        """At start-up: no device is connected yet."""

    @abstractmethod
    async def get_device(self, device_id: str) -> DeviceRecord: ...

    @abstractmethod
    async def list_devices(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[DeviceRecord]:
        """In device id order."""

    # positions
    @abstractmethod
    async def insert_positions(self, rows: Sequence[PositionRow]) -> int:
        """Store a batch; rows already stored (same device and time) are skipped. Returns
        how many were new. Each device's newest position is kept on its device row."""

    @abstractmethod
    async def list_positions(
        self,
        device_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PositionRow]:
        """Oldest first; ``since`` inclusive, ``until`` exclusive."""

    @abstractmethod
    async def ensure_partitions(self, now: datetime, months_ahead: int = 2) -> list[str]:
        """PostgreSQL: create this month's and the next ``months_ahead`` months' position
        partitions; returns those created (SQLite: none)."""

    @abstractmethod
    async def position_partitions(self) -> list[str]:
        """Names of the position partitions, oldest first (SQLite: none)."""

    @abstractmethod
    async def apply_retention(self, now: datetime) -> int:
        """Remove each tenant's positions older than its ``retention_days`` before ``now``:
        drop whole monthly partitions that ended before every tenant's cutoff, delete a
        tenant's older rows in the rest. Sees every tenant: run it on the super_admin path
        (PostgreSQL). Returns rows (or partitions) removed."""

    # alarms
    @abstractmethod
    async def record_alarm(self, alarm: NewAlarm) -> bool:
        """Store an alarm unless (device, UID) is already stored; True if it was new."""

    @abstractmethod
    async def acknowledge_alarm(
        self, alarm_id: int, *, by: str, at: datetime | None = None
    ) -> AlarmRecord:
        """Mark acknowledged (by an operator); NotFound if there is no such alarm. An alarm
        already acknowledged keeps its first acknowledgement."""

    @abstractmethod
    async def get_alarm(self, alarm_id: int) -> AlarmRecord: ...

    @abstractmethod
    async def list_alarms(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        device_id: str | None = None,
        unacknowledged: bool = False,
    ) -> Page[AlarmRecord]:
        """Newest first."""

    # files
    @abstractmethod
    async def add_file(
        self,
        *,
        device_id: str,
        alarm_uid: str,
        device_path: str,
        file_type: int | None,
        channel: int | None,
        size: int | None,
        start_time: str,
        duration_s: int | None,
        at: datetime | None = None,
    ) -> tuple[DeviceFile, bool]:
        """The file row for (device, path), created pending if new: (row, created)."""

    @abstractmethod
    async def update_file(self, file_id: int, **changes: Any) -> DeviceFile:
        """Change ``status``, ``received_bytes``, ``attempts``, paths or ``error``."""

    @abstractmethod
    async def get_file(self, file_id: int) -> DeviceFile: ...

    @abstractmethod
    async def list_files(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        device_id: str | None = None,
        status: FileStatus | None = None,
    ) -> Page[DeviceFile]:
        """Newest first."""


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def partition_name(start: datetime) -> str:
    return f"positions_y{start.year:04d}m{start.month:02d}"


def _partition_start(name: str) -> datetime | None:
    # positions_yYYYYmMM (only ours; anything else attached by hand is left alone)
    if len(name) != 18 or not name.startswith("positions_y") or name[15] != "m":
        return None
    try:
        return datetime(int(name[11:15]), int(name[16:18]), 1, tzinfo=UTC)
    except ValueError:
        return None


_FILE_CHANGES: Final = frozenset(
    {"status", "received_bytes", "attempts", "stored_path", "video_path", "thumbnail_path", "error"}
)


class SqlDeviceStore(DeviceStore):
    """`DeviceStore` over the store's driver (SQL written once for both backends)."""

    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self._d: Dialect = driver.dialect
        self._pg = driver.dialect.name == "postgres"
        self._partitions: set[datetime] = set()  # months known to have a partition

    # --- helpers ---------------------------------------------------------------------------

    def _ts(self, value: Any) -> datetime | None:
        return None if value is None else self._d.dec_ts(value)

    # --- devices ---------------------------------------------------------------------------

    def _device(self, row: Row) -> DeviceRecord:
        pos = row["last_position"]
        return DeviceRecord(
            device_id=row["device_id"],
            plate=row["plate"],
            device_type=row["device_type"],
            protocol_version=row["protocol_version"],
            net_lib_version=row["net_lib_version"],
            address=row["address"],
            online=bool(row["online"]),
            first_seen=self._d.dec_ts(row["first_seen"]),
            last_seen=self._d.dec_ts(row["last_seen"]),
            position=None if pos is None else self._d.dec_json(pos),
        )

    async def upsert_device(
        self,
        device_id: str,
        *,
        plate: str,
        device_type: int | None,
        protocol_version: str,
        net_lib_version: str,
        address: str,
        at: datetime,
    ) -> None:
        ts = self._d.enc_ts(at)
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO devices (device_id, plate, device_type, protocol_version,"
                " net_lib_version, address, online, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET plate = excluded.plate,"
                " device_type = excluded.device_type,"
                " protocol_version = excluded.protocol_version,"
                " net_lib_version = excluded.net_lib_version, address = excluded.address,"
                " online = excluded.online, last_seen = excluded.last_seen",
                device_id,
                plate,
                device_type,
                protocol_version,
                net_lib_version,
                address,
                True,
                ts,
                ts,
            )

    async def set_online(self, device_id: str, online: bool, at: datetime) -> None:
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "UPDATE devices SET online = ?, last_seen = ? WHERE device_id = ?",
                online,
                self._d.enc_ts(at),
                device_id,
            )

    async def mark_all_offline(self) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute("UPDATE devices SET online = ? WHERE online = ?", False, True)

    async def get_device(self, device_id: str) -> DeviceRecord:
        async with self._db.transaction(write=False) as tx:
            row = await tx.fetchrow("SELECT * FROM devices WHERE device_id = ?", device_id)
        if row is None:
            raise NotFound(f"device {device_id!r} not found")
        return self._device(row)

    async def list_devices(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[DeviceRecord]:
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM devices",
                key="device_id",
                kind="devices",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(self._device(r) for r in rows), nxt)

    # --- positions -------------------------------------------------------------------------

    async def _ensure_months(self, tx: Tx, months: Iterable[datetime]) -> list[str]:
        created: list[str] = []
        missing = sorted(set(months) - self._partitions)
        if not missing:
            return created
        await tx.lock(_PARTITION_LOCK)
        for start in missing:
            # The application's role does not own `positions`: the owner's function makes it.
            if await tx.fetchval(
                "SELECT fleet_create_position_partition(?) AS made", self._d.enc_ts(start)
            ):
                created.append(partition_name(start))
        return created

    async def ensure_partitions(self, now: datetime, months_ahead: int = 2) -> list[str]:
        if not self._pg:
            return []
        months = [month_start(now)]
        for _ in range(months_ahead):
            months.append(next_month(months[-1]))
        async with self._db.transaction(write=True) as tx:
            created = await self._ensure_months(tx, months)
        self._partitions.update(months)
        return created

    async def position_partitions(self) -> list[str]:
        if not self._pg:
            return []
        async with self._db.transaction(write=False) as tx:
            return await self._partition_names(tx)

    @staticmethod
    async def _partition_names(tx: Tx) -> list[str]:
        rows = await tx.fetch(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c"
            " ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('positions')"
            " ORDER BY c.relname LIMIT 10000"
        )
        return [r["name"] for r in rows]

    async def insert_positions(self, rows: Sequence[PositionRow]) -> int:
        if not rows:
            return 0
        d = self._d
        records = [
            (
                r.device_id,
                d.enc_ts(r.at),
                d.enc_ts(r.received_at),
                r.valid,
                r.longitude,
                r.latitude,
                r.speed_kmh,
                r.course_raw,
                r.status,
                r.mileage_m,
                r.report_flag,
            )
            for r in rows
        ]
        newest: dict[str, PositionRow] = {}
        for r in rows:
            if r.device_id not in newest or r.at > newest[r.device_id].at:
                newest[r.device_id] = r
        cols = ", ".join(_POSITION_COLUMNS)
        async with self._db.transaction(write=True) as tx:
            months = {month_start(r.at) for r in rows}
            if self._pg:
                await self._ensure_months(tx, months)
            await tx.execute(
                d.render(
                    "CREATE TEMP TABLE IF NOT EXISTS positions_stage ("
                    " device_id TEXT, at {ts}, received_at {ts}, valid {bool},"
                    " longitude {real}, latitude {real}, speed_kmh {real}, course_raw {bigint},"
                    " status TEXT, mileage_m {bigint}, report_flag INTEGER)"
                )
            )
            await tx.copy_records("positions_stage", _POSITION_COLUMNS, records)
            # WHERE true: SQLite needs it to tell ON CONFLICT from a join constraint.
            inserted = await tx.execute(
                f"INSERT INTO positions ({cols}) SELECT {cols} FROM positions_stage"
                " WHERE true ON CONFLICT (device_id, at) DO NOTHING"
            )
            await tx.execute("DELETE FROM positions_stage")
            await tx.executemany(
                "UPDATE devices SET position_at = ?, last_position = ?"
                " WHERE device_id = ? AND (position_at IS NULL OR position_at < ?)",
                [
                    (d.enc_ts(r.at), d.enc_json(r.summary()), r.device_id, d.enc_ts(r.at))
                    for r in newest.values()
                ],
            )
        if self._pg:
            self._partitions.update(months)
        return inserted

    def _position(self, row: Row) -> PositionRow:
        return PositionRow(
            device_id=row["device_id"],
            at=self._d.dec_ts(row["at"]),
            received_at=self._d.dec_ts(row["received_at"]),
            valid=bool(row["valid"]),
            longitude=row["longitude"],
            latitude=row["latitude"],
            speed_kmh=row["speed_kmh"],
            course_raw=row["course_raw"],
            status=row["status"],
            mileage_m=row["mileage_m"],
            report_flag=row["report_flag"],
        )

    async def list_positions(
        self,
        device_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PositionRow]:
        d = self._d
        where, args = ["device_id = ?"], [device_id]
        if since is not None:
            where.append("at >= ?")
            args.append(d.enc_ts(since))
        if until is not None:
            where.append("at < ?")
            args.append(d.enc_ts(until))
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM positions",
                key="at",
                kind="positions",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
                enc_key=lambda v: d.enc_ts(datetime.fromisoformat(v)),
                dec_key=lambda v: d.dec_ts(v).isoformat(),
            )
        return Page(tuple(self._position(r) for r in rows), nxt)

    async def _cutoffs(self, tx: Tx, now: datetime) -> dict[int, datetime]:
        rows = await tx.fetch("SELECT id, retention_days FROM tenants ORDER BY id LIMIT 100000")
        return {int(r["id"]): now - timedelta(days=int(r["retention_days"])) for r in rows}

    async def apply_retention(self, now: datetime) -> int:
        removed = 0
        if self._pg:
            async with self._db.transaction(write=True) as tx:
                await tx.lock(_PARTITION_LOCK)
                cutoffs = await self._cutoffs(tx, now)
                if not cutoffs:  # no tenant visible: the caller's scope is wrong, keep all
                    return 0
                # A month goes whole only when every tenant's retention lets it go.
                earliest = min(cutoffs.values())
                for name in await self._partition_names(tx):
                    start = _partition_start(name)
                    if start is not None and next_month(start) <= earliest:
                        await tx.fetchval("SELECT fleet_drop_position_partition(?) AS d", name)
                        self._partitions.discard(start)
                        removed += 1
                # What is left: each tenant's older rows (pruning keeps it to few months).
                for tenant_id, cutoff in cutoffs.items():
                    removed += await tx.execute(
                        "DELETE FROM positions WHERE tenant_id = ? AND at < ?",
                        tenant_id,
                        self._d.enc_ts(cutoff),
                    )
            return removed
        async with self._db.transaction(write=False) as tx:
            cutoffs = await self._cutoffs(tx, now)
        for tenant_id, cutoff in cutoffs.items():
            while True:  # SQLite: bounded deletes, so no transaction holds the file for long
                async with self._db.transaction(write=True) as tx:
                    n = await tx.execute(
                        "DELETE FROM positions WHERE rowid IN (SELECT rowid FROM positions"
                        " WHERE tenant_id = ? AND at < ? LIMIT ?)",
                        tenant_id,
                        self._d.enc_ts(cutoff),
                        _RETENTION_CHUNK,
                    )
                removed += n
                if n < _RETENTION_CHUNK:
                    break
        return removed

    # --- alarms ----------------------------------------------------------------------------

    def _alarm(self, row: Row) -> AlarmRecord:
        return AlarmRecord(
            id=int(row["id"]),
            device_id=row["device_id"],
            alarm_uid=row["alarm_uid"],
            keyword=row["keyword"],
            name=row["name"],
            is_end=bool(row["is_end"]),
            alarm_time=self._ts(row["alarm_time"]),
            received_at=self._d.dec_ts(row["received_at"]),
            channel_mask=row["channel_mask"],
            details=self._d.dec_json(row["details"]),
            longitude=row["longitude"],
            latitude=row["latitude"],
            acknowledged_at=self._ts(row["acknowledged_at"]),
            acknowledged_by=row["acknowledged_by"],
        )

    async def record_alarm(self, alarm: NewAlarm) -> bool:
        d = self._d
        async with self._db.transaction(write=True) as tx:
            n = await tx.execute(
                "INSERT INTO alarms (device_id, alarm_uid, keyword, name, is_end, alarm_time,"
                " received_at, channel_mask, details, longitude, latitude)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id, alarm_uid) DO NOTHING",
                alarm.device_id,
                alarm.alarm_uid,
                alarm.keyword,
                alarm.name,
                alarm.is_end,
                None if alarm.alarm_time is None else d.enc_ts(alarm.alarm_time),
                d.enc_ts(alarm.received_at),
                alarm.channel_mask,
                d.enc_json(dict(alarm.details)),
                alarm.longitude,
                alarm.latitude,
            )
        return n > 0

    async def get_alarm(self, alarm_id: int) -> AlarmRecord:
        async with self._db.transaction(write=False) as tx:
            row = await tx.fetchrow("SELECT * FROM alarms WHERE id = ?", row_id(alarm_id, "alarm"))
        if row is None:
            raise NotFound(f"alarm {alarm_id} not found")
        return self._alarm(row)

    async def acknowledge_alarm(
        self, alarm_id: int, *, by: str, at: datetime | None = None
    ) -> AlarmRecord:
        when = self._d.enc_ts(at or datetime.now(UTC))
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "UPDATE alarms SET acknowledged_at = ?, acknowledged_by = ?"
                " WHERE id = ? AND acknowledged_at IS NULL",
                when,
                by,
                row_id(alarm_id, "alarm"),
            )
            row = await tx.fetchrow("SELECT * FROM alarms WHERE id = ?", alarm_id)
        if row is None:
            raise NotFound(f"alarm {alarm_id} not found")
        return self._alarm(row)

    async def list_alarms(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        device_id: str | None = None,
        unacknowledged: bool = False,
    ) -> Page[AlarmRecord]:
        where: list[str] = []
        args: list[Any] = []
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if unacknowledged:
            where.append("acknowledged_at IS NULL")
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM alarms",
                key="id",
                kind="alarms",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
                desc=True,
            )
        return Page(tuple(self._alarm(r) for r in rows), nxt)

    # --- files -----------------------------------------------------------------------------

    def _file(self, row: Row) -> DeviceFile:
        return DeviceFile(
            id=int(row["id"]),
            device_id=row["device_id"],
            alarm_uid=row["alarm_uid"],
            device_path=row["device_path"],
            file_type=row["file_type"],
            channel=row["channel"],
            size=row["size"],
            start_time=row["start_time"],
            duration_s=row["duration_s"],
            status=row["status"],
            received_bytes=int(row["received_bytes"]),
            attempts=int(row["attempts"]),
            stored_path=row["stored_path"],
            video_path=row["video_path"],
            thumbnail_path=row["thumbnail_path"],
            error=row["error"],
            created_at=self._d.dec_ts(row["created_at"]),
            updated_at=self._d.dec_ts(row["updated_at"]),
        )

    async def add_file(
        self,
        *,
        device_id: str,
        alarm_uid: str,
        device_path: str,
        file_type: int | None,
        channel: int | None,
        size: int | None,
        start_time: str,
        duration_s: int | None,
        at: datetime | None = None,
    ) -> tuple[DeviceFile, bool]:
        when = self._d.enc_ts(at or datetime.now(UTC))
        async with self._db.transaction(write=True) as tx:
            n = await tx.execute(
                "INSERT INTO device_files (device_id, alarm_uid, device_path, file_type,"
                " channel, size, start_time, duration_s, status, received_bytes, attempts,"
                " stored_path, video_path, thumbnail_path, error, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, '', '', '', '', ?, ?)"
                " ON CONFLICT (device_id, device_path) DO NOTHING",
                device_id,
                alarm_uid,
                device_path,
                file_type,
                channel,
                size,
                start_time,
                duration_s,
                when,
                when,
            )
            row = await tx.fetchrow(
                "SELECT * FROM device_files WHERE device_id = ? AND device_path = ?",
                device_id,
                device_path,
            )
        assert row is not None
        return self._file(row), n > 0

    async def update_file(self, file_id: int, **changes: Any) -> DeviceFile:
        unknown = set(changes) - _FILE_CHANGES
        if unknown:
            raise ValidationError([f"{k}: not a changeable file field" for k in sorted(unknown)])
        sets = [f"{k} = ?" for k in changes] + ["updated_at = ?"]
        args = [*changes.values(), self._d.enc_ts(datetime.now(UTC)), file_id]
        async with self._db.transaction(write=True) as tx:
            await tx.execute(f"UPDATE device_files SET {', '.join(sets)} WHERE id = ?", *args)
            row = await tx.fetchrow(
                "SELECT * FROM device_files WHERE id = ?", row_id(file_id, "file")
            )
        if row is None:
            raise NotFound(f"file {file_id} not found")
        return self._file(row)

    async def get_file(self, file_id: int) -> DeviceFile:
        async with self._db.transaction(write=False) as tx:
            row = await tx.fetchrow(
                "SELECT * FROM device_files WHERE id = ?", row_id(file_id, "file")
            )
        if row is None:
            raise NotFound(f"file {file_id} not found")
        return self._file(row)

    async def list_files(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        device_id: str | None = None,
        status: FileStatus | None = None,
    ) -> Page[DeviceFile]:
        where: list[str] = []
        args: list[Any] = []
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM device_files",
                key="id",
                kind="files",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
                desc=True,
            )
        return Page(tuple(self._file(r) for r in rows), nxt)
