"""REST routes for playback: cue-list verbs, parks, overrides, masters, blackout, panic and
the emergency override. Thin: each route parses and checks its JSON body (errors name the
field), then calls the one command layer (`core.commands.Controller`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor, Controller, Result
from trocadero.core.validate import cue_number, level, seconds, target

from .guard import ActorOf, BadRequest, guard, json_body


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
            return _reply(await c.back(actor, name, seconds(doc, "fade")))
        if action == "goto":
            return _reply(await c.goto(actor, name, cue_number(doc), seconds(doc, "fade")))
        if action == "fire":
            return _reply(await c.fire(actor, name, cue_number(doc), seconds(doc, "fade")))
        if action == "load":
            return _reply(await c.load(actor, name, cue_number(doc)))
        if action == "release":
            return _reply(await c.release(actor, name, seconds(doc, "fade")))
        if action == "top":
            return _reply(await c.top(actor, name, seconds(doc, "fade")))
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
            return _reply(await controller.unpark(actor, canvas, seconds(doc, "fade", 0.0) or 0.0))
        doc = await json_body(request)
        look, rgb = target(doc, "body")
        fade = seconds(doc, "fade", 0.0) or 0.0
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
            targets[canvas] = target(spec, f"canvases.{canvas}")
        ttl = seconds(doc, "ttl")
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
                fade_in=seconds(doc, "fade_in", 0.0) or 0.0,
                fade_out=seconds(doc, "fade_out", 0.0) or 0.0,
            )
        )

    async def override(request: Request, actor: Actor) -> Response:
        oid = request.path_params["id"]
        doc = await json_body(request)
        if request.method == "DELETE":
            return _reply(await controller.release_override(actor, oid, seconds(doc, "fade")))
        ttl = seconds(doc, "ttl")
        if ttl is None or ttl <= 0:
            raise BadRequest("ttl: required, seconds > 0")
        return _reply(await controller.refresh_override(actor, oid, ttl))

    async def master(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        return _reply(
            await controller.set_master(actor, request.path_params["target"], level(doc, "level"))
        )

    async def blackout(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        on = doc.get("on")
        if not isinstance(on, bool):
            raise BadRequest(f"on: expected true or false (got {on!r})")
        return _reply(await controller.blackout(actor, on))

    async def panic(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        fade = seconds(doc, "fade", controller.panic_fade) or 0.0
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
