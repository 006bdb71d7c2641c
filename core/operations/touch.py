"""Touch operations (core/touch.py): the surfaces with the touches down now, and the
simulator a technician drives from the UI (audited on touch down and up)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..permissions import Actor
from .args import Arg, Choice, Integer, Name, Number
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

_TOUCH: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "<source>/<profile>/<session>"},
        "session": {"type": "integer"},
        "u": {"type": "number", "description": "across the surface, 0..1"},
        "v": {"type": "number"},
        "x": {"type": "number", "description": "canvas pixels"},
        "y": {"type": "number"},
    },
}
_SURFACES: Final = {
    "type": "object",
    "properties": {
        "surfaces": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "canvas": {"type": "string"},
                    "rect": {"type": "array", "items": {"type": "number"}},
                    "rotation": {"type": "integer"},
                    "flip_x": {"type": "boolean"},
                    "flip_y": {"type": "boolean"},
                    "canvas_size": {"type": "array", "items": {"type": "integer"}},
                    "touches": {"type": "array", "items": _TOUCH},
                },
            },
        }
    },
}


async def _state(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.touches().state()


async def _simulate(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.touches().simulate(actor, a["surface"], a["action"], a["id"], a["x"], a["y"])


OPERATIONS: Final = (
    Operation(
        "touch.list",
        "the touch surfaces, where they lie on their canvases, and the touches down now",
        "read",
        (),
        _state,
        _SURFACES,
        Rest("GET", "/api/touch"),
        needs=("touch",),
        action="read the touch surfaces",
    ),
    Operation(
        "touch.simulate",
        "a simulated touch on a surface, as if its tracker had sent it (the UI's simulator)",
        "touch.simulate",
        (
            Arg("surface", Name(64), required=True),
            Arg("action", Choice(("down", "move", "up")), required=True),
            Arg("id", Integer(0, 1_000_000), default=0, doc="the simulated finger"),
            Arg("x", Number(0.0, 1.0), required=True, doc="across the surface, 0 = left"),
            Arg("y", Number(0.0, 1.0), required=True, doc="0 = top"),
        ),
        _simulate,
        {"type": "object"},
        Rest("POST", "/api/touch/{surface}/simulate"),
        needs=("touch",),
        action="simulate touches",
    ),
)
