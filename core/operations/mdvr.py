"""MDVR gateway operations: devices (online state, last position), positions, alarms and
their acknowledgement, live view start/stop, downloaded files and their retry. The recordings
themselves are files, served by a hand-written route (web/mdvr_api.py).

Starting and stopping a live view is audit-logged (mdvr.live.start, mdvr.live.stop: who, from
where, which vehicle); acknowledging an alarm is logged by the gateway (mdvr.alarm.ack)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, Final

from trocadero.config.fields import NAME_MAX, PAGE_MAX

from ..errors import ConflictError, InvalidArgument, NotFoundError
from ..mdvr import alarm_json, device_json, file_json, position_json
from ..permissions import Actor
from .args import Arg, Boolean, Choice, Integer, Name, Text, Timestamp
from .show import PAGE
from .spec import Handler, Operation, Rest, Services

__all__ = ["OPERATIONS"]

FILE_STATUSES: Final = ("pending", "downloading", "done", "failed")
_PAGING: Final = (
    Arg("limit", Integer(1, PAGE_MAX), default=100),
    Arg("cursor", Text(), doc="the previous page's next"),
)
_DEVICE_FILTER: Final = Arg("device", Text(NAME_MAX), doc="only this device's")
_LIVE: Final = (
    Arg("device", Name(), required=True, doc="device id"),
    Arg("channel", Integer(0, 15), required=True, doc="camera channel"),
    Arg("stream", Integer(0, 1), default=0, doc="0 main stream, 1 sub-stream"),
)
_ID: Final = Arg("id", Integer(0), required=True)


def _gateway_errors(fn: Callable[[Services, Actor, Mapping[str, Any]], Awaitable[Any]]) -> Handler:
    """The gateway's own errors in the table's terms: a device that is not connected is a
    conflict (409), its ValueErrors bad input (400); a missing alarm or file stays a 404."""

    @wraps(fn)
    async def run(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
        try:
            return await fn(s, actor, a)
        except (NotFoundError, InvalidArgument):
            raise
        except LookupError as exc:
            raise ConflictError(str(exc)) from exc
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc

    return run


@_gateway_errors
async def _devices(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    gw = s.gateway()
    page = await gw.devices.list_devices(limit=a["limit"], cursor=a["cursor"])
    online = await gw.online_devices()
    return {"items": [device_json(d, online) for d in page.items], "next": page.next}


@_gateway_errors
async def _positions(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await s.gateway().devices.list_positions(
        a["device"], since=a["since"], until=a["until"], limit=a["limit"], cursor=a["cursor"]
    )
    return {"items": [position_json(p) for p in page.items], "next": page.next}


@_gateway_errors
async def _alarms(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await s.gateway().devices.list_alarms(
        limit=a["limit"],
        cursor=a["cursor"],
        device_id=a["device"] or None,
        unacknowledged=a["open"],
    )
    return {"items": [alarm_json(r) for r in page.items], "next": page.next}


@_gateway_errors
async def _acknowledge(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return alarm_json(await s.gateway().acknowledge_alarm(a["id"], actor))


@_gateway_errors
async def _live(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"items": await s.gateway().live_statuses()}


async def _audit_live(
    s: Services, actor: Actor, action: str, a: Mapping[str, Any], **more: Any
) -> None:
    from ..commands import audit  # the command layer only when a live view is asked for

    target = f"{a['device']}/{a['channel']}"
    await audit(s.gateway().store.audit, actor, action, target, stream=a["stream"], **more)


@_gateway_errors
async def _live_start(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    status = await s.gateway().start_live(a["device"], a["channel"], a["stream"])
    await _audit_live(s, actor, "mdvr.live.start", a)
    return status


@_gateway_errors
async def _live_stop(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    stopped = await s.gateway().stop_live(a["device"], a["channel"], a["stream"])
    await _audit_live(s, actor, "mdvr.live.stop", a, stopped=stopped)
    return {"stopped": stopped}


@_gateway_errors
async def _files(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await s.gateway().devices.list_files(
        limit=a["limit"], cursor=a["cursor"], device_id=a["device"] or None, status=a["status"]
    )
    return {"items": [file_json(f) for f in page.items], "next": page.next}


@_gateway_errors
async def _retry(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return file_json(await s.gateway().retry_file(a["id"]))


_OBJECT: Final = {"type": "object"}
_LIVE_STATUS: Final = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": _OBJECT}},
    "required": ["items"],
}
_STOPPED: Final = {
    "type": "object",
    "properties": {"stopped": {"type": "boolean", "description": "false: none was running"}},
    "required": ["stopped"],
}
_NEEDS: Final = ("mdvr",)

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "mdvr.devices",
        "the MDVR devices seen, with their online state and last position",
        "read",
        _PAGING,
        _devices,
        PAGE,
        Rest("GET", "/api/mdvr/devices"),
        needs=_NEEDS,
        action="list devices",
    ),
    Operation(
        "mdvr.positions",
        "a device's stored positions, a page at a time",
        "read",
        (
            Arg("device", Name(), required=True, doc="device id"),
            Arg("since", Timestamp()),
            Arg("until", Timestamp()),
            *_PAGING,
        ),
        _positions,
        PAGE,
        Rest("GET", "/api/mdvr/devices/{device}/positions"),
        needs=_NEEDS,
        action="read positions",
    ),
    Operation(
        "mdvr.alarms",
        "the devices' alarms, newest first",
        "read",
        (
            _DEVICE_FILTER,
            Arg("open", Boolean(), default=False, doc="unacknowledged only"),
            *_PAGING,
        ),
        _alarms,
        PAGE,
        Rest("GET", "/api/mdvr/alarms"),
        needs=_NEEDS,
        action="list alarms",
    ),
    Operation(
        "mdvr.alarm.acknowledge",
        "acknowledge an alarm (who and when are recorded)",
        "mdvr.control",
        (_ID,),
        _acknowledge,
        _OBJECT,
        Rest("POST", "/api/mdvr/alarms/{id}/acknowledge"),
        needs=_NEEDS,
        action="acknowledge alarms",
    ),
    Operation(
        "mdvr.live",
        "the running live views (with their latency)",
        "read",
        (),
        _live,
        _LIVE_STATUS,
        Rest("GET", "/api/mdvr/live"),
        needs=_NEEDS,
        action="list live views",
    ),
    Operation(
        "mdvr.live.start",
        "ask a device for live video of a channel (C508 start)",
        "mdvr.control",
        _LIVE,
        _live_start,
        _OBJECT,
        Rest("POST", "/api/mdvr/live", status=202),
        needs=_NEEDS,
        action="start live views",
    ),
    Operation(
        "mdvr.live.stop",
        "stop a live view (C508 stop)",
        "mdvr.control",
        _LIVE,
        _live_stop,
        _STOPPED,
        Rest("POST", "/api/mdvr/live/stop"),
        needs=_NEEDS,
        action="stop live views",
    ),
    Operation(
        "mdvr.files",
        "the files downloaded from the devices, newest first",
        "read",
        (_DEVICE_FILTER, Arg("status", Choice(FILE_STATUSES)), *_PAGING),
        _files,
        PAGE,
        Rest("GET", "/api/mdvr/files"),
        needs=_NEEDS,
        action="list files",
    ),
    Operation(
        "mdvr.file.retry",
        "ask again for a failed download",
        "mdvr.control",
        (_ID,),
        _retry,
        _OBJECT,
        Rest("POST", "/api/mdvr/files/{id}/retry", status=202),
        needs=_NEEDS,
        action="retry downloads",
    ),
)
