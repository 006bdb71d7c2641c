"""What the control plane needs from the MDVR gateway (`playout/mdvr/gateway/`), and the JSON
shape of what it stores (devices, positions, alarms, downloaded files). Declared here so the
operation table (`core/operations/mdvr.py`) and the web's file downloads read the gateway
without importing playout."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .permissions import Actor
    from .storage import Storage
    from .storage.devices import AlarmRecord, DeviceFile, DeviceRecord, DeviceStore, PositionRow

__all__ = ["MdvrControl", "alarm_json", "device_json", "file_json", "position_json"]


class MdvrControl(Protocol):
    """The gateway as the control plane sees it: in the daemon's process
    (playout/mdvr/gateway/core.py) or in its own (playout/mdvr/process/parent.py)."""

    @property
    def devices(self) -> DeviceStore: ...
    @property
    def store(self) -> Storage: ...  # its audit log records live views and downloads
    @property
    def file_dir(self) -> Path: ...
    async def online_devices(self) -> Mapping[str, Mapping[str, Any]]: ...
    async def live_statuses(self) -> list[dict[str, Any]]: ...
    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]: ...
    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool: ...
    async def request_iframe(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> bool: ...  # 0x6002 on the live session's media connection
    async def acknowledge_alarm(self, alarm_id: int, actor: Actor) -> AlarmRecord: ...
    async def retry_file(self, file_id: int) -> DeviceFile: ...


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def device_json(d: DeviceRecord, online: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    link = online.get(d.device_id)
    return {
        "device_id": d.device_id,
        "plate": d.plate,
        "online": link is not None,
        "link": None if link is None else dict(link),
        "address": d.address,
        "device_type": d.device_type,
        "protocol_version": d.protocol_version,
        "net_lib_version": d.net_lib_version,
        "first_seen": _iso(d.first_seen),
        "last_seen": _iso(d.last_seen),
        "last_position": None if d.position is None else dict(d.position),
    }


def position_json(p: PositionRow) -> dict[str, Any]:
    return {
        "at": p.at.isoformat(),
        "valid": p.valid,
        "longitude": p.longitude,
        "latitude": p.latitude,
        "speed_kmh": p.speed_kmh,
        "course_raw": p.course_raw,
        "status": p.status,
        "mileage_m": p.mileage_m,
        "report_flag": p.report_flag,
    }


def alarm_json(a: AlarmRecord) -> dict[str, Any]:
    return {
        "id": a.id,
        "device_id": a.device_id,
        "alarm_uid": a.alarm_uid,
        "keyword": a.keyword,
        "name": a.name,
        "is_end": a.is_end,
        "alarm_time": _iso(a.alarm_time),
        "received_at": _iso(a.received_at),
        "channel_mask": a.channel_mask,
        "details": dict(a.details),
        "longitude": a.longitude,
        "latitude": a.latitude,
        "acknowledged_at": _iso(a.acknowledged_at),
        "acknowledged_by": a.acknowledged_by,
    }


def file_json(f: DeviceFile) -> dict[str, Any]:
    base = f"/api/mdvr/files/{f.id}"
    return {
        "id": f.id,
        "device_id": f.device_id,
        "alarm_uid": f.alarm_uid,
        "device_path": f.device_path,
        "file_type": f.file_type,
        "channel": f.channel,
        "size": f.size,
        "start_time": f.start_time,
        "duration_s": f.duration_s,
        "status": f.status,
        "received_bytes": f.received_bytes,
        "attempts": f.attempts,
        "error": f.error,
        "original": f"{base}/original" if f.stored_path else None,
        "video": f"{base}/video" if f.video_path else None,
        "thumbnail": f"{base}/thumbnail" if f.thumbnail_path else None,
        "updated_at": _iso(f.updated_at),
    }
