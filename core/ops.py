"""The socket API's operations: op name + args → the one command layer, same verbs and the
same checks as REST (`web/playback_api.py`), so a show script and the web UI behave alike.

Errors come back as ``(code, message)``: ``unknown_op``, ``bad_args`` (the message names the
field), ``forbidden``, ``not_found``, ``refused`` (a verb refused in the current state),
``conflict``, ``unavailable`` (storage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .commands import Actor, Controller, Forbidden, Result
from .interactions import Interactions
from .playback.cuelist import PlaybackError
from .storage import Conflict, NotFound, StorageError
from .validate import InvalidArgument, cue_number, level, seconds, target

__all__ = ["VERBS", "OpError", "Ops"]

VERBS: Final = ("go", "back", "goto", "fire", "load", "release", "top", "pause", "resume")


class OpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _string(args: Mapping[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{key}: required, a non-empty string (got {value!r})")
    return value


def _result(result: Result) -> dict[str, Any]:
    if result.outcome == "refused":
        raise OpError("refused", str(result.detail.get("reason", "refused in this state")))
    return {"outcome": result.outcome, **result.detail}


@dataclass
class Ops:
    controller: Controller
    interactions: Interactions | None = None

    def names(self) -> list[str]:
        return sorted(self._table())

    def _table(self) -> dict[str, Callable[[Actor, Mapping[str, Any]], Awaitable[Any]]]:
        table: dict[str, Callable[[Actor, Mapping[str, Any]], Awaitable[Any]]] = {
            "status": self._status,
            "park": self._park,
            "unpark": self._unpark,
            "override": self._override,
            "override.refresh": self._override_refresh,
            "override.release": self._override_release,
            "master": self._master,
            "blackout": self._blackout,
            "panic": self._panic,
            "emergency.engage": self._emergency_engage,
            "emergency.release": self._emergency_release,
            "celebrate": self._celebrate,
            "sensor": self._sensor,
        }
        for verb in VERBS:
            table[verb] = self._verb(verb)
        return table

    async def call(self, actor: Actor, op: str, args: Mapping[str, Any]) -> Any:
        fn = self._table().get(op)
        if fn is None:
            raise OpError("unknown_op", f"op: unknown {op!r} (known: {', '.join(self.names())})")
        try:
            return await fn(actor, args)
        except InvalidArgument as exc:
            raise OpError("bad_args", str(exc)) from exc
        except Forbidden as exc:
            raise OpError("forbidden", str(exc)) from exc
        except NotFound as exc:
            raise OpError("not_found", str(exc)) from exc
        except Conflict as exc:
            raise OpError("conflict", str(exc)) from exc
        except PlaybackError as exc:
            text = str(exc)  # 'no cue list "x"' names a missing thing; the rest is bad input
            raise OpError("not_found" if text.startswith("no ") else "bad_args", text) from exc
        except StorageError as exc:
            raise OpError("unavailable", f"storage: {exc}") from exc

    # --- ops ---

    async def _status(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return self.controller.state(actor)

    def _verb(self, verb: str) -> Callable[[Actor, Mapping[str, Any]], Awaitable[Any]]:
        async def run(actor: Actor, args: Mapping[str, Any]) -> Any:
            c, name = self.controller, _string(args, "list")
            if verb == "go":
                return _result(await c.go(actor, name))
            if verb in ("back", "release", "top"):
                undo = {"back": c.back, "release": c.release, "top": c.top}[verb]
                return _result(await undo(actor, name, seconds(args, "fade")))
            if verb in ("goto", "fire"):
                jump = c.goto if verb == "goto" else c.fire
                return _result(await jump(actor, name, cue_number(args), seconds(args, "fade")))
            if verb == "load":
                return _result(await c.load(actor, name, cue_number(args)))
            if verb == "pause":
                return _result(await c.pause(actor, name))
            return _result(await c.resume(actor, name))

        return run

    async def _park(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        look, rgb = target(args, "args")
        fade = seconds(args, "fade", 0.0) or 0.0
        canvas = _string(args, "canvas")
        return _result(await self.controller.park(actor, canvas, look=look, rgb=rgb, fade=fade))

    async def _unpark(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        fade = seconds(args, "fade", 0.0) or 0.0
        return _result(await self.controller.unpark(actor, _string(args, "canvas"), fade))

    async def _override(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        canvases = args.get("canvases")
        if not isinstance(canvases, dict) or not canvases:
            raise InvalidArgument("canvases: expected a map of canvas -> {look | rgb}")
        targets = {}
        for canvas, spec in canvases.items():
            if not isinstance(spec, dict):
                raise InvalidArgument(f"canvases.{canvas}: expected {{look}} or {{rgb}}")
            targets[str(canvas)] = target(spec, f"canvases.{canvas}")
        ttl = seconds(args, "ttl")
        if ttl is None or ttl <= 0:
            raise InvalidArgument("ttl: required, seconds > 0 (an override must expire by itself)")
        priority = args.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidArgument(f"priority: expected an integer (got {priority!r})")
        return _result(
            await self.controller.add_override(
                actor,
                targets,
                ttl=ttl,
                priority=priority,
                fade_in=seconds(args, "fade_in", 0.0) or 0.0,
                fade_out=seconds(args, "fade_out", 0.0) or 0.0,
            )
        )

    async def _override_refresh(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        ttl = seconds(args, "ttl")
        if ttl is None or ttl <= 0:
            raise InvalidArgument("ttl: required, seconds > 0")
        return _result(await self.controller.refresh_override(actor, _string(args, "id"), ttl))

    async def _override_release(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        oid = _string(args, "id")
        return _result(await self.controller.release_override(actor, oid, seconds(args, "fade")))

    async def _master(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(
            await self.controller.set_master(actor, _string(args, "target"), level(args, "level"))
        )

    async def _blackout(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        on = args.get("on")
        if not isinstance(on, bool):
            raise InvalidArgument(f"on: expected true or false (got {on!r})")
        return _result(await self.controller.blackout(actor, on))

    async def _panic(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        fade = seconds(args, "fade", self.controller.panic_fade) or 0.0
        return _result(await self.controller.panic(actor, fade))

    async def _emergency_engage(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(await self.controller.engage_emergency(actor))

    async def _emergency_release(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(await self.controller.release_emergency(actor))

    async def _celebrate(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        if self.interactions is None:
            raise OpError("unknown_op", "op: celebrate is not available here")
        canvases = args.get("canvases")
        if canvases is not None and (
            not isinstance(canvases, list) or not all(isinstance(c, str) for c in canvases)
        ):
            raise InvalidArgument(f"canvases: expected a list of canvas names (got {canvases!r})")
        priority = args.get("priority", 100)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidArgument(f"priority: expected an integer (got {priority!r})")
        return await self.interactions.celebrate(
            actor,
            _string(args, "look"),
            duration=args.get("duration_s", 30.0),
            canvases=canvases,
            fade_in=args.get("fade_in", 1.0),
            fade_out=args.get("fade_out", 2.0),
            priority=priority,
        )

    async def _sensor(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        if self.interactions is None:
            raise OpError("unknown_op", "op: sensor is not available here")
        return self.interactions.sensor(
            actor, _string(args, "sensor"), args.get("values"), args.get("at")
        )
