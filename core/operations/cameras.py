"""Camera operations: the blob trackers' state with each camera's newest blobs (the blob
view, docs/cameras.md). The picture itself is bytes: web/cameras_api.py serves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..permissions import Actor, require
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

_BLOB: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "description": "persistent while the tracker follows it"},
        "x": {"type": "number", "description": "centre, fraction of the picture's width"},
        "y": {"type": "number", "description": "centre, fraction of the picture's height"},
        "w": {"type": "number"},
        "h": {"type": "number"},
        "area": {"type": "number", "description": "fraction of the picture"},
        "age_s": {"type": "number"},
    },
}
_CAMERA: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "state": {"type": "string", "description": "starting, running, dead or stopped"},
        "up": {"type": "boolean"},
        "picture": {"type": ["array", "null"], "description": "[width, height] analysed"},
        "blobs": {"type": "array", "items": _BLOB},
        "last_error": {"type": ["string", "null"]},
    },
}


async def _list(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    require(actor, "read", "read the cameras")
    return {"items": s.camera_view().cameras()}


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "camera.list",
        "the cameras' blob trackers, each with its state and newest blobs",
        "read",
        (),
        _list,
        {"type": "object", "properties": {"items": {"type": "array", "items": _CAMERA}}},
        Rest("GET", "/api/cameras"),
        needs=("cameras",),
        action="read the cameras",
    ),
)
