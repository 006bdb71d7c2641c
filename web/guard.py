"""What every REST route shares: the request's actor, its JSON body, and one mapping from the
domain's exceptions to 4xx/503 responses (errors name the field; never a 500 for bad input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trocadero.core.auth import AuthError
from trocadero.core.commands import Actor, Forbidden
from trocadero.core.nesting import parse_json
from trocadero.core.playback.cuelist import PlaybackError
from trocadero.core.storage import Conflict, NotFound, StorageError
from trocadero.core.storage import ValidationError as StoreValidationError
from trocadero.core.validate import InvalidArgument

Handler = Callable[[Request], Awaitable[Response]]
ActorOf = Callable[[Request], Actor]
Route_ = Callable[[Request, Actor], Awaitable[Response]]


class BadRequest(InvalidArgument):
    """Input that names the field that is wrong (the web's own checks)."""


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()  # bounded: web/limits.py refused an oversize body already
    if not raw.strip():
        return {}
    doc = parse_json(raw)  # depth-limited; NaN, Infinity and bad UTF-8 are refused too
    if not isinstance(doc, dict):
        raise BadRequest(f"body: expected a JSON object (got {type(doc).__name__})")
    return doc


def error_response(exc: Exception) -> Response | None:
    """The response for a domain error, or None for anything else (a real bug: re-raised)."""
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)
    if isinstance(exc, InvalidArgument):
        return JSONResponse({"error": str(exc)}, status_code=400)
    if isinstance(exc, StoreValidationError):
        return JSONResponse({"error": "invalid", "problems": list(exc.problems)}, status_code=400)
    if isinstance(exc, Forbidden):
        return JSONResponse({"error": str(exc)}, status_code=403)
    if isinstance(exc, NotFound):
        return JSONResponse({"error": str(exc)}, status_code=404)
    if isinstance(exc, Conflict):
        return JSONResponse({"error": str(exc)}, status_code=409)
    if isinstance(exc, PlaybackError):
        text = str(exc)  # 'no cue list "x"' names a missing thing; the rest is bad input
        return JSONResponse({"error": text}, status_code=404 if text.startswith("no ") else 400)
    if isinstance(exc, StorageError):
        return JSONResponse({"error": f"storage: {exc}"}, status_code=503)
    return None


def request_actor(request: Request) -> Actor:
    """The actor the auth middleware authenticated for this request."""
    actor = request.scope.get("state", {}).get("actor")
    if not isinstance(actor, Actor):
        raise AuthError("an access token is required (Authorization: Bearer)")
    return actor


def guard(actor_of: ActorOf) -> Callable[[Route_], Handler]:
    """Wrap a route taking (request, actor) into a Starlette handler with the error mapping."""

    def wrap(fn: Route_) -> Handler:
        async def handler(request: Request) -> Response:
            try:
                return await fn(request, actor_of(request))
            except Exception as exc:
                response = error_response(exc)
                if response is None:
                    raise
                return response

        return handler

    return wrap
