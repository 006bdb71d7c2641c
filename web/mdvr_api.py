"""REST routes for the MDVR gateway: devices (online state, last position), positions, alarms
(and their acknowledgement), live view start/stop, downloaded files.

    GET  /api/mdvr/devices                       ?limit&cursor
    GET  /api/mdvr/devices/{id}/positions        ?since&until&limit&cursor (ISO 8601)
    GET  /api/mdvr/alarms                        ?device&open=1&limit&cursor
    POST /api/mdvr/alarms/{id}/acknowledge
    GET  /api/mdvr/live                          running live sessions (with latency)
    POST /api/mdvr/live   {"device", "channel", "stream"}      → C508 start
    POST /api/mdvr/live/stop {"device", "channel", "stream"}   → C508 stop
    GET  /api/mdvr/files                         ?device&status&limit&cursor
    GET  /api/mdvr/files/{id}/{original|video|thumbnail}      the stored file
    POST /api/mdvr/files/{id}/retry

Starting and stopping a live view and every download of a recording are audit-logged
(mdvr.live.start, mdvr.live.stop, mdvr.file.download: who, from where, which vehicle;
thumbnails are not logged).

Reading devices, positions, alarms and the file list needs the "read" roles; live view,
acknowledgement and retries "mdvr.control"; the recordings themselves (original, video,
thumbnail) "mdvr.footage": the same footage as live view, so the same roles (docs/auth.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor, audit
from trocadero.core.permissions import require
from trocadero.core.storage import Conflict, NotFound, Storage
from trocadero.core.storage.devices import (
    AlarmRecord,
    DeviceFile,
    DeviceRecord,
    DeviceStore,
    PositionRow,
)
from trocadero.core.validate import InvalidArgument

from .guard import ActorOf, BadRequest, Handler, guard, json_body


class MdvrControl(Protocol):
    """What the routes need from the gateway (playout/mdvr/gateway/core.py)."""

    @property
    def devices(self) -> DeviceStore: ...
    @property
    def store(self) -> Storage: ...  # its audit log records live views and downloads
    @property
    def file_dir(self) -> Path: ...
    def online(self) -> Mapping[str, Mapping[str, Any]]: ...
    def live_sessions(self) -> list[dict[str, Any]]: ...
    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]: ...
    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool: ...
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


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"limit: expected a whole number (got {raw!r})") from None


def _time(request: Request, key: str) -> datetime | None:
    raw = request.query_params.get(key)
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise BadRequest(f"{key}: expected an ISO 8601 time with an offset (got {raw!r})") from None
    if at.tzinfo is None:
        raise BadRequest(f"{key}: needs a UTC offset, e.g. 2026-03-14T12:00:00Z (got {raw!r})")
    return at


def _int(doc: Mapping[str, Any], key: str, default: int | None, lo: int, hi: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadRequest(f"{key}: expected a whole number {lo}..{hi} (got {value!r})")
    return value


_allow = require


def mdvr_routes(gateway: MdvrControl, actor_of: ActorOf) -> list[Route]:
    store = gateway.devices

    shared = guard(actor_of)

    def guarded(group: str, what: str, fn: Callable[[Request], Awaitable[Response]]) -> Handler:
        # The shared guard maps the domain's errors; the gateway adds two of its own.
        async def route(request: Request, actor: Actor) -> Response:
            _allow(actor, group, what)
            try:
                return await fn(request)
            except NotFound:
                raise  # a missing file or alarm is a 404, not "not connected"
            except LookupError as exc:  # the device is not connected
                raise Conflict(str(exc)) from exc
            except ValueError as exc:
                if isinstance(exc, InvalidArgument):
                    raise
                raise BadRequest(str(exc)) from exc

        return shared(route)

    async def devices(request: Request) -> Response:
        page = await store.list_devices(
            limit=_limit(request), cursor=request.query_params.get("cursor")
        )
        online = gateway.online()
        return JSONResponse(
            {"items": [device_json(d, online) for d in page.items], "next": page.next}
        )

    async def positions(request: Request) -> Response:
        page = await store.list_positions(
            request.path_params["device"],
            since=_time(request, "since"),
            until=_time(request, "until"),
            limit=_limit(request),
            cursor=request.query_params.get("cursor"),
        )
        return JSONResponse({"items": [position_json(p) for p in page.items], "next": page.next})

    async def alarms(request: Request) -> Response:
        q = request.query_params
        page = await store.list_alarms(
            limit=_limit(request),
            cursor=q.get("cursor"),
            device_id=q.get("device") or None,
            unacknowledged=q.get("open") in ("1", "true"),
        )
        return JSONResponse({"items": [alarm_json(a) for a in page.items], "next": page.next})

    async def acknowledge(request: Request) -> Response:
        try:
            alarm_id = int(request.path_params["id"])
        except ValueError:
            raise NotFound(f"alarm {request.path_params['id']!r} not found") from None
        record = await gateway.acknowledge_alarm(alarm_id, actor_of(request))
        return JSONResponse(alarm_json(record))

    async def live(_: Request) -> Response:
        return JSONResponse({"items": gateway.live_sessions()})

    async def _live_args(request: Request) -> tuple[str, int, int]:
        doc = await json_body(request)
        device = doc.get("device")
        if not isinstance(device, str) or not device:
            raise BadRequest(f"device: expected a device id (got {device!r})")
        return device, _int(doc, "channel", None, 0, 15), _int(doc, "stream", 0, 0, 1)

    async def _audit_live(request: Request, action: str, **detail: Any) -> None:
        device, channel = detail.pop("device"), detail.pop("channel")
        await audit(gateway.store.audit, actor_of(request), action, f"{device}/{channel}", **detail)

    async def live_start(request: Request) -> Response:
        device, channel, stream = await _live_args(request)
        status = await gateway.start_live(device, channel, stream)
        await _audit_live(request, "mdvr.live.start", device=device, channel=channel, stream=stream)
        return JSONResponse(status, status_code=202)

    async def live_stop(request: Request) -> Response:
        device, channel, stream = await _live_args(request)
        stopped = await gateway.stop_live(device, channel, stream)
        await _audit_live(
            request,
            "mdvr.live.stop",
            device=device,
            channel=channel,
            stream=stream,
            stopped=stopped,
        )
        return JSONResponse({"stopped": stopped})

    async def files(request: Request) -> Response:
        q = request.query_params
        status = q.get("status") or None
        if status not in (None, "pending", "downloading", "done", "failed"):
            raise BadRequest(f"status: pending, downloading, done or failed (got {status!r})")
        page = await store.list_files(
            limit=_limit(request),
            cursor=q.get("cursor"),
            device_id=q.get("device") or None,
            status=status,  # type: ignore[arg-type]
        )
        return JSONResponse({"items": [file_json(f) for f in page.items], "next": page.next})

    def _file_id(request: Request) -> int:
        try:
            return int(request.path_params["id"])
        except ValueError:
            raise NotFound(f"file {request.path_params['id']!r} not found") from None

    async def file_content(request: Request) -> Response:
        row = await store.get_file(_file_id(request))
        which = request.path_params["which"]
        rel = {
            "original": row.stored_path,
            "video": row.video_path,
            "thumbnail": row.thumbnail_path,
        }
        if which not in rel:
            raise NotFound(f"no {which!r} (original, video or thumbnail)")
        if not rel[which]:
            raise NotFound(f"file {row.id} has no {which} yet (status {row.status})")
        root = gateway.file_dir.resolve()
        path = (root / rel[which]).resolve()
        if root not in path.parents:  # stored paths are ours, but never serve outside the dir
            raise NotFound(f"file {row.id}: {which} not found")
        media = {"video": "video/mp4", "thumbnail": "image/jpeg"}.get(
            which, "application/octet-stream"
        )
        if which != "thumbnail":
            # Recorded footage leaving the building: who took which, from where. Not the
            # thumbnails: the devices page fetches them on every redraw, which would bury
            # the log (they need the same role, mdvr.footage).
            await audit(
                gateway.store.audit,
                actor_of(request),
                "mdvr.file.download",
                str(row.id),
                device=row.device_id,
                which=which,
            )
        return FileResponse(path, media_type=media, filename=path.name)

    async def retry(request: Request) -> Response:
        return JSONResponse(file_json(await gateway.retry_file(_file_id(request))), status_code=202)

    read, operate, footage = "read", "mdvr.control", "mdvr.footage"
    return [
        Route("/api/mdvr/devices", guarded(read, "list devices", devices), methods=["GET"]),
        Route(
            "/api/mdvr/devices/{device}/positions",
            guarded(read, "read positions", positions),
            methods=["GET"],
        ),
        Route("/api/mdvr/alarms", guarded(read, "list alarms", alarms), methods=["GET"]),
        Route(
            "/api/mdvr/alarms/{id}/acknowledge",
            guarded(operate, "acknowledge alarms", acknowledge),
            methods=["POST"],
        ),
        Route("/api/mdvr/live", guarded(read, "list live views", live), methods=["GET"]),
        Route("/api/mdvr/live", guarded(operate, "start live views", live_start), methods=["POST"]),
        Route(
            "/api/mdvr/live/stop",
            guarded(operate, "stop live views", live_stop),
            methods=["POST"],
        ),
        Route("/api/mdvr/files", guarded(read, "list files", files), methods=["GET"]),
        Route(
            "/api/mdvr/files/{id}/{which}",
            guarded(footage, "download vehicle recordings", file_content),
            methods=["GET"],
        ),
        Route(
            "/api/mdvr/files/{id}/retry",
            guarded(operate, "retry downloads", retry),
            methods=["POST"],
        ),
    ]
