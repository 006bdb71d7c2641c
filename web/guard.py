"""What every REST route shares: the request's actor, its JSON body, and one mapping from the
domain's exceptions to 4xx/503 responses (errors name the field; never a 500 for bad input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trocadero.core.auth import AuthError
from trocadero.core.errors import InvalidArgument
from trocadero.core.nesting import parse_json
from trocadero.core.operations import OpError
from trocadero.core.operations.registry import as_op_error
from trocadero.core.permissions import Actor

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
    """The response for a domain error (the table of `core.errors`: the same status and
    ``code`` the socket API gives), or None for anything else (a real bug: re-raised)."""
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)
    op_error = as_op_error(exc)
    if not isinstance(op_error, OpError):
        return None
    body: dict[str, Any] = {"error": op_error.message, "code": op_error.code, **op_error.detail}
    return JSONResponse(body, status_code=op_error.status)


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


def refuse_unknown(given: Iterable[str], known: Iterable[str], what: str) -> None:
    """Refuse a field or query parameter `what` does not take, naming the ones it does (the
    operation table's routes do the same through `Operation.parse`)."""
    accepted = list(known)
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        names = ", ".join(accepted) or "none"
        raise BadRequest(f"{unknown[0]}: not an argument of {what} (known: {names})")


def no_arguments(handler: Handler) -> Handler:
    """A route that takes no query parameters refuses one (a misspelt ``?limt=``), naming it,
    rather than ignoring it."""

    async def checked(request: Request) -> Response:
        try:
            refuse_unknown(request.query_params, (), f"{request.method} {request.url.path}")
        except BadRequest as exc:
            response = error_response(exc)
            assert response is not None
            return response
        return await handler(request)

    return checked
