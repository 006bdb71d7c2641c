"""REST routes for playback: cue-list verbs, parks, overrides, masters, blackout, panic and
the emergency override. Thin: each route parses and checks its JSON body (errors name the
field), then calls the one command layer (`core.commands.Controller`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor, Controller, Result

from .guard import ActorOf, BadRequest, guard, json_body


def _seconds(doc: Mapping[str, Any], key: str, default: float | None = None) -> float | None:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{key}: expected a number of seconds (got {value!r})")
    if not 0 <= value <= 86400:
        raise BadRequest(f"{key}: must be between 0 and 86400 (got {value!r})")
    return float(value)


def _level(doc: Mapping[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BadRequest(f"{key}: expected a level between 0 and 1 (got {value!r})")
    return float(value)


def _cue(doc: Mapping[str, Any], key: str = "cue") -> Decimal:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest(f'{key}: expected a cue number such as "12.5" (got {value!r})')
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation as exc:
        raise BadRequest(f"{key}: not a cue number (got {value!r})") from exc
    if not number.is_finite() or number != number.quantize(Decimal("0.001")):
        raise BadRequest(f"{key}: at most three decimals (got {value!r})")
    return number


def _target(doc: Mapping[str, Any], where: str) -> tuple[str | None, tuple[int, int, int] | None]:
    look, rgb = doc.get("look"), doc.get("rgb")
    if (look is None) == (rgb is None):
        raise BadRequest(f"{where}: give either look or rgb")
    if look is not None:
        if not isinstance(look, str) or not look:
            raise BadRequest(f"{where}.look: expected a look name (got {look!r})")
        return look, None
    if (
        not isinstance(rgb, list)
        or len(rgb) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535 for v in rgb)
    ):
        raise BadRequest(f"{where}.rgb: expected three integers 0..65535 (got {rgb!r})")
    return None, (rgb[0], rgb[1], rgb[2])


def _reply(result: Result) -> Response:
    status = 409 if result.outcome == "refused" else 200
    return JSONResponse({"outcome": result.outcome, **result.detail}, status_code=status)


def playback_routes(controller: Controller, actor_of: ActorOf) -> list[Route]:
    guarded = guard(actor_of)

    async def state(request: Request, actor: Actor) -> Response:
        return JSONResponse(controller.state(actor))

    async def verb(request: Request, actor: Actor) -> Response:
        name, action = request.path_params["name"], request.path_params["verb"]
        doc = await json_body(request)
        c = controller
        if action == "go":
            return _reply(await c.go(actor, name))
        if action == "back":
            return _reply(await c.back(actor, name, _seconds(doc, "fade")))
        if action == "goto":
            return _reply(await c.goto(actor, name, _cue(doc), _seconds(doc, "fade")))
        if action == "fire":
            return _reply(await c.fire(actor, name, _cue(doc), _seconds(doc, "fade")))
        if action == "load":
            return _reply(await c.load(actor, name, _cue(doc)))
        if action == "release":
            return _reply(await c.release(actor, name, _seconds(doc, "fade")))
        if action == "top":
            return _reply(await c.top(actor, name, _seconds(doc, "fade")))
        if action == "pause":
            return _reply(await c.pause(actor, name))
        if action == "resume":
            return _reply(await c.resume(actor, name))
        verbs = "go, back, goto, fire, load, release, top, pause, resume"
        raise BadRequest(f"verb: must be one of {verbs} (got {action!r})")

    async def park(request: Request, actor: Actor) -> Response:
        canvas = request.path_params["canvas"]
        if request.method == "DELETE":
            doc = await json_body(request)
            return _reply(await controller.unpark(actor, canvas, _seconds(doc, "fade", 0.0) or 0.0))
        doc = await json_body(request)
        look, rgb = _target(doc, "body")
        fade = _seconds(doc, "fade", 0.0) or 0.0
        return _reply(await controller.park(actor, canvas, look=look, rgb=rgb, fade=fade))

    async def add_override(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        canvases = doc.get("canvases")
        if not isinstance(canvases, dict) or not canvases:
            raise BadRequest("canvases: expected an object of canvas -> {look | rgb}")
        targets = {}
        for canvas, spec in canvases.items():
            if not isinstance(spec, dict):
                raise BadRequest(f"canvases.{canvas}: expected {{look}} or {{rgb}}")
            targets[canvas] = _target(spec, f"canvases.{canvas}")
        ttl = _seconds(doc, "ttl")
        if ttl is None or ttl <= 0:
            raise BadRequest("ttl: required, seconds > 0 (an override must expire by itself)")
        priority = doc.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise BadRequest(f"priority: expected an integer (got {priority!r})")
        return _reply(
            await controller.add_override(
                actor,
                targets,
                ttl=ttl,
                priority=priority,
                fade_in=_seconds(doc, "fade_in", 0.0) or 0.0,
                fade_out=_seconds(doc, "fade_out", 0.0) or 0.0,
            )
        )

    async def override(request: Request, actor: Actor) -> Response:
        oid = request.path_params["id"]
        doc = await json_body(request)
        if request.method == "DELETE":
            return _reply(await controller.release_override(actor, oid, _seconds(doc, "fade")))
        ttl = _seconds(doc, "ttl")
        if ttl is None or ttl <= 0:
            raise BadRequest("ttl: required, seconds > 0")
        return _reply(await controller.refresh_override(actor, oid, ttl))

    async def master(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        return _reply(
            await controller.set_master(actor, request.path_params["target"], _level(doc, "level"))
        )

    async def blackout(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        on = doc.get("on")
        if not isinstance(on, bool):
            raise BadRequest(f"on: expected true or false (got {on!r})")
        return _reply(await controller.blackout(actor, on))

    async def panic(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        fade = _seconds(doc, "fade", controller.panic_fade) or 0.0
        return _reply(await controller.panic(actor, fade))

    async def emergency(request: Request, actor: Actor) -> Response:
        action = request.path_params["action"]
        if action == "engage":
            return _reply(await controller.engage_emergency(actor))
        if action == "release":
            return _reply(await controller.release_emergency(actor))
        raise BadRequest(f"action: must be engage or release (got {action!r})")

    return [
        Route("/api/playback", guarded(state), methods=["GET"]),
        Route("/api/cue-lists/{name}/{verb}", guarded(verb), methods=["POST"]),
        Route("/api/parks/{canvas}", guarded(park), methods=["PUT", "DELETE"]),
        Route("/api/overrides", guarded(add_override), methods=["POST"]),
        Route("/api/overrides/{id}", guarded(override), methods=["POST", "DELETE"]),
        Route("/api/masters/{target}", guarded(master), methods=["PUT"]),
        Route("/api/blackout", guarded(blackout), methods=["POST"]),
        Route("/api/panic", guarded(panic), methods=["POST"]),
        Route("/api/emergency/{action}", guarded(emergency), methods=["POST"]),
    ]
