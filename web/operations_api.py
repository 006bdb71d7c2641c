"""REST routes generated from the operation table (`core.operations`): one thin adapter per
operation that has a `Rest` binding.

The adapter gathers the arguments (path parameters, the query of a GET, the JSON body of the
rest, or the whole body as one document argument), hands them to `Registry.call` and writes
its result; every refusal comes back as the table's `OpError` (status, ``code`` and message
the same as the socket API gives). Unknown or misspelt fields are refused, naming them and the
accepted ones, on every route.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.errors import InvalidArgument
from trocadero.core.operations import Operation
from trocadero.core.operations.registry import Registry
from trocadero.core.permissions import Actor

from .choices import choice_routes
from .guard import ActorOf, guard, json_body

__all__ = ["operation_routes"]


async def _arguments(request: Request, op: Operation) -> dict[str, Any]:
    rest = op.rest
    assert rest is not None
    args: dict[str, Any]
    if rest.body is not None:
        args = {rest.body: await json_body(request)}
    elif request.method == "GET":
        args = {}
        for key, text in request.query_params.items():
            if key not in op.arg_names:
                args[key] = text  # refused by the table's own check, with the known names
                continue
            args[key] = op.arg(key).kind.from_text(text, key)
    else:
        args = await json_body(request)
    for key, value in request.path_params.items():
        if key in args and rest.body is None:
            raise InvalidArgument(f"{key}: given in the URL; leave it out of the body")
        # Starlette has already converted a typed parameter ({id:int}); text is the kind's.
        kind = op.arg(key).kind
        args[key] = kind.from_text(value, key) if isinstance(value, str) else kind.parse(value, key)
    return args


def _route(op: Operation, registry: Registry, actor_of: ActorOf) -> Route:
    rest = op.rest
    assert rest is not None

    async def handler(request: Request, actor: Actor) -> Response:
        result = await registry.call(actor, op.name, await _arguments(request, op))
        status = rest.status
        if rest.created is not None and isinstance(result, dict) and result.get("created"):
            status = rest.created
        return JSONResponse(result, status_code=status)

    return Route(rest.path, guard(actor_of)(handler), methods=[rest.method])


def _choice_route(path: str, method: str, verbs: list[str], actor_of: ActorOf) -> Route:
    async def handler(request: Request, actor: Actor) -> Response:
        got = request.path_params["verb"]
        raise InvalidArgument(f"verb: must be one of {', '.join(verbs)} (got {got!r})")

    return Route(path, guard(actor_of)(handler), methods=[method], include_in_schema=False)


def operation_routes(registry: Registry, actor_of: ActorOf) -> list[Route]:
    """The routes of every operation REST serves, then the catch-alls of their families
    (after them: the first route that matches answers)."""
    ops = [op for op in registry.operations.values() if op.rest is not None]
    routes = [_route(op, registry, actor_of) for op in ops]
    for method, path, _group, verbs in choice_routes(ops):
        routes.append(_choice_route(path, method, verbs, actor_of))
    return routes
