"""REST for celebrations and sensor data (`core.interactions`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor
from trocadero.core.interactions import Interactions

from .guard import ActorOf, BadRequest, guard, json_body


def interaction_routes(interactions: Interactions, actor_of: ActorOf) -> list[Route]:
    guarded = guard(actor_of)

    async def celebrate(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        look = doc.get("look")
        if not isinstance(look, str) or not look:
            raise BadRequest(f"look: required, a look name (got {look!r})")
        canvases = doc.get("canvases")
        if canvases is not None and (
            not isinstance(canvases, list) or not all(isinstance(c, str) for c in canvases)
        ):
            raise BadRequest(f"canvases: expected a list of canvas names (got {canvases!r})")
        priority = doc.get("priority", 100)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise BadRequest(f"priority: expected an integer (got {priority!r})")
        event = await interactions.celebrate(
            actor,
            look,
            duration=doc.get("duration_s", 30.0),
            canvases=canvases,
            fade_in=doc.get("fade_in", 1.0),
            fade_out=doc.get("fade_out", 2.0),
            priority=priority,
        )
        return JSONResponse(event, status_code=201)

    async def sensor(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        event = interactions.sensor(
            actor, request.path_params["sensor"], doc.get("values"), doc.get("at")
        )
        return JSONResponse(event, status_code=202)

    return [
        Route("/api/celebrations", guarded(celebrate), methods=["POST"]),
        Route("/api/sensors/{sensor}", guarded(sensor), methods=["POST"]),
    ]
