"""Playback operations: the cue-list verbs, the priority ladder (parks, overrides), masters,
blackout, panic, the emergency override and the playback state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..codec import to_plain
from ..errors import InvalidArgument, RefusedError
from ..permissions import Actor
from .args import Arg, Boolean, CueNumber, Integer, Level, Name, Rgb, Seconds, TargetMap
from .spec import Operation, Rest, Services

if TYPE_CHECKING:
    from ..commands import Controller, Result

__all__ = ["OPERATIONS", "OUTCOME"]

OUTCOME: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "outcome": {
            "type": "string",
            "enum": ["done", "debounced", "end-of-list", "resumed", "unchanged"],
        }
    },
    "required": ["outcome"],
    "additionalProperties": True,
}


def reply(result: Result) -> dict[str, Any]:
    """A command's outcome; a refusal in the current state is an error (409 / refused)."""
    if result.outcome == "refused":
        reason = str(result.detail.get("reason", "refused in this state"))
        raise RefusedError(reason, outcome="refused", **result.detail)
    return {"outcome": result.outcome, **result.detail}


_LIST: Final = Arg("list", Name(), required=True, doc="cue list")
_CUE: Final = Arg("cue", CueNumber(), required=True)
_FADE: Final = Arg("fade", Seconds(), doc="fade time; absent: the cue's own")


def _verb(name: str, summary: str, args: tuple[Arg, ...]) -> Operation:
    async def run(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
        c: Controller = s.control()
        lst = a["list"]
        if name == "go":
            return reply(await c.go(actor, lst))
        if name in ("back", "release", "top"):
            undo = {"back": c.back, "release": c.release, "top": c.top}[name]
            return reply(await undo(actor, lst, a["fade"]))
        if name in ("goto", "fire"):
            jump = c.goto if name == "goto" else c.fire
            return reply(await jump(actor, lst, a["cue"], a["fade"]))
        if name == "load":
            return reply(await c.load(actor, lst, a["cue"]))
        if name == "pause":
            return reply(await c.pause(actor, lst))
        return reply(await c.resume(actor, lst))

    return Operation(
        name,
        summary,
        "playback",
        args,
        run,
        OUTCOME,
        Rest("POST", f"/api/cue-lists/{{list}}/{name}"),
        action=f"cue.{name}",
    )


VERBS: Final = (
    _verb("go", "GO: run the cue standing by", (_LIST,)),
    _verb("back", "BACK: the previous cue", (_LIST, _FADE)),
    _verb("goto", "GOTO a cue (it plays in its own time)", (_LIST, _CUE, _FADE)),
    _verb("fire", "FIRE a cue without moving the standby", (_LIST, _CUE, _FADE)),
    _verb("load", "LOAD: stand a cue by (next GO runs it)", (_LIST, _CUE)),
    _verb("release", "RELEASE the list (let go of its looks)", (_LIST, _FADE)),
    _verb("top", "TOP: release and stand by on the first cue", (_LIST, _FADE)),
    _verb("pause", "PAUSE the list's fades and timers", (_LIST,)),
    _verb("resume", "RESUME a paused list", (_LIST,)),
)


async def _status(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.control().state(actor)


async def _lists(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    # What the engine plays, cues and all, in one answer (a console's page load, no 1+N).
    return {"lists": [to_plain(pb.defn) for pb in s.control().engine.lists.values()]}


async def _ping(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return "pong"


async def _park(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    look, rgb = a["look"], a["rgb"]
    if (look is None) == (rgb is None):
        raise InvalidArgument("look: give either look or rgb")
    return reply(await s.control().park(actor, a["canvas"], look=look, rgb=rgb, fade=a["fade"]))


async def _unpark(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().unpark(actor, a["canvas"], a["fade"]))


async def _override(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    if a["ttl"] <= 0:
        raise InvalidArgument("ttl: required, seconds > 0 (an override must expire by itself)")
    return reply(
        await s.control().add_override(
            actor,
            a["canvases"],
            ttl=a["ttl"],
            priority=a["priority"],
            fade_in=a["fade_in"],
            fade_out=a["fade_out"],
        )
    )


async def _override_refresh(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    if a["ttl"] <= 0:
        raise InvalidArgument("ttl: required, seconds > 0")
    return reply(await s.control().refresh_override(actor, a["id"], a["ttl"]))


async def _override_release(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().release_override(actor, a["id"], a["fade"]))


async def _master(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().set_master(actor, a["target"], a["level"]))


async def _blackout(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().blackout(actor, a["on"]))


async def _panic(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    fade = s.control().panic_fade if a["fade"] is None else a["fade"]
    return reply(await s.control().panic(actor, fade))


async def _engage(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().engage_emergency(actor))


async def _release(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().release_emergency(actor))


_CANVAS: Final = Arg("canvas", Name(), required=True)
_ZERO_FADE: Final = Arg("fade", Seconds(), default=0.0)
_STATE: Final = {
    "type": "object",
    "properties": {
        "revision": {"type": "integer"},
        "lists": {"type": "array", "items": {"type": "object"}},
        "parks": {"type": "object", "description": "canvas → {look} or {rgb}"},
        "park_holders": {"type": "object", "description": "canvas → {by, for_s}"},
        "schedule": {"type": "object"},
        "overrides": {"type": "array", "items": {"type": "object"}},
        "masters": {"type": "object"},
        "emergency": {"type": "object"},
        "ladder": {
            "type": "object",
            "description": "canvas → its contenders top (what shows) first: {level, what, …}",
        },
    },
}

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("ping", "is the daemon there", "read", (), _ping, {"const": "pong"}, needs=()),
    Operation(
        "status",
        "every cue list, park, override, master and the emergency state",
        "read",
        (),
        _status,
        _STATE,
        Rest("GET", "/api/playback"),
        action="read the playback state",
    ),
    Operation(
        "playback.lists",
        "every cue list as the engine plays it, with its cues",
        "read",
        (),
        _lists,
        {"type": "object", "properties": {"lists": {"type": "array", "items": {"type": "object"}}}},
        Rest("GET", "/api/playback/lists"),
        action="read the playback state",
    ),
    *VERBS,
    Operation(
        "park",
        "park a canvas on a look or a colour (over every cue list)",
        "override",
        (
            _CANVAS,
            Arg("look", Name(), doc="either look or rgb"),
            Arg("rgb", Rgb()),
            _ZERO_FADE,
        ),
        _park,
        OUTCOME,
        Rest("PUT", "/api/parks/{canvas}"),
        action="park",
    ),
    Operation(
        "unpark",
        "let go of a canvas's park",
        "override",
        (_CANVAS, _ZERO_FADE),
        _unpark,
        OUTCOME,
        Rest("DELETE", "/api/parks/{canvas}"),
        action="unpark",
    ),
    Operation(
        "override",
        "show looks or colours over the cue lists for a time (they expire by themselves)",
        "override",
        (
            Arg("canvases", TargetMap(), required=True),
            Arg("ttl", Seconds(), required=True),
            Arg("priority", Integer(), default=0),
            Arg("fade_in", Seconds(), default=0.0),
            Arg("fade_out", Seconds(), default=0.0),
        ),
        _override,
        {**OUTCOME, "properties": {**OUTCOME["properties"], "id": {"type": "string"}}},
        Rest("POST", "/api/overrides"),
    ),
    Operation(
        "override.refresh",
        "keep an override alive for another ttl seconds",
        "override",
        (Arg("id", Name(), required=True), Arg("ttl", Seconds(), required=True)),
        _override_refresh,
        OUTCOME,
        Rest("POST", "/api/overrides/{id}"),
        action="override",
    ),
    Operation(
        "override.release",
        "end an override early",
        "override",
        (Arg("id", Name(), required=True), _FADE),
        _override_release,
        OUTCOME,
        Rest("DELETE", "/api/overrides/{id}"),
        action="override",
    ),
    Operation(
        "master",
        "set the grand master or a canvas master",
        "masters",
        (
            Arg("target", Name(), required=True, doc='"grand" or a canvas'),
            Arg("level", Level(), required=True),
        ),
        _master,
        OUTCOME,
        Rest("PUT", "/api/masters/{target}"),
        action="set a master",
    ),
    Operation(
        "blackout",
        "blackout on or off (the grand master's level is kept)",
        "masters",
        (Arg("on", Boolean(), required=True),),
        _blackout,
        OUTCOME,
        Rest("POST", "/api/blackout"),
    ),
    Operation(
        "panic",
        "release every cue list, park and override",
        "playback",
        (Arg("fade", Seconds(), doc="absent: [playback] panic_fade"),),
        _panic,
        OUTCOME,
        Rest("POST", "/api/panic"),
    ),
    Operation(
        "emergency.engage",
        "engage the emergency override (latched on the output thread)",
        "emergency.engage",
        (),
        _engage,
        OUTCOME,
        Rest("POST", "/api/emergency/engage"),
        action="engage the emergency override",
    ),
    Operation(
        "emergency.release",
        "release the emergency override (refused while its input is asserted)",
        "emergency.release",
        (),
        _release,
        OUTCOME,
        Rest("POST", "/api/emergency/release"),
        action="release the emergency override",
    ),
)
