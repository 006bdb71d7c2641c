"""Live vehicle video in the browser (docs/video.md): start or join a device stream and get
its stream token, leave it, and the streams with their viewer counts. The bytes go over the
WebSocket of web/video_ws.py; the hub (core/video_hub.py) shares one device stream among
all its viewers and stops it a grace period after the last one left."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..permissions import Actor
from ..stream_tokens import WATCH_SCOPE
from .args import Arg, Integer, Name
from .mdvr import _gateway_errors
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

_STREAM: Final = (
    Arg("device", Name(), required=True, doc="device id"),
    Arg("channel", Integer(0, 15), required=True, doc="camera channel"),
    Arg("stream", Integer(0, 1), default=0, doc="0 main stream, 1 sub-stream"),
)
_NEEDS: Final = ("video",)


def _key(a: Mapping[str, Any]) -> tuple[str, int, int]:
    return (str(a["device"]), int(a["channel"]), int(a["stream"]))


@_gateway_errors
async def _start(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.video_hub().start(actor, _key(a))


@_gateway_errors
async def _leave(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"closed": s.video_hub().leave(actor, _key(a))}


async def _streams(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"items": s.video_hub().statuses()}


_STARTED: Final = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "description": "the stream token (short-lived)"},
        "expires_in": {"type": "number", "description": "seconds the token admits a viewer"},
        "url": {"type": "string", "description": "the WebSocket path; add ?token="},
        "hls": {"type": "string", "description": "the LL-HLS playlist (its token inside)"},
        "codec": {"type": "string", "description": "RFC 6381, e.g. avc1.42C01E"},
        "viewers": {"type": "integer"},
        "state": {"type": "string"},
    },
    "required": ["token", "expires_in", "url", "hls", "codec", "viewers", "state"],
}
_STREAMS: Final = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "object"}}},
    "required": ["items"],
}
_CLOSED: Final = {
    "type": "object",
    "properties": {"closed": {"type": "integer", "description": "the caller's viewers closed"}},
    "required": ["closed"],
}

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "video.start",
        "start or join a vehicle camera's live stream (C508 when nobody watches it yet); a"
        " stream token once its video arrives",
        WATCH_SCOPE,
        _STREAM,
        _start,
        _STARTED,
        Rest("POST", "/api/video/streams"),
        needs=_NEEDS,
        action="watch live vehicle video",
    ),
    Operation(
        "video.leave",
        "close the caller's viewers of a stream (the device stream stops a grace period"
        " after its last viewer)",
        WATCH_SCOPE,
        _STREAM,
        _leave,
        _CLOSED,
        Rest("POST", "/api/video/streams/leave"),
        needs=_NEEDS,
        action="watch live vehicle video",
    ),
    Operation(
        "video.streams",
        "the live device streams with their viewer counts",
        WATCH_SCOPE,
        (),
        _streams,
        _STREAMS,
        Rest("GET", "/api/video/streams"),
        needs=_NEEDS,
        action="watch live vehicle video",
    ),
)
