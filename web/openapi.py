"""The OpenAPI 3.1 document of the REST API, built from the routes the app actually serves.

Paths and methods come from the router (so the document never lists a route that is not
there, or misses one); who may call what from `access.ROUTE_ACCESS`. The operation table's
routes (`core.operations`) take their parameters, request bodies, result schemas and summaries
from the same declarations that check their input; the other routes' bodies are below.
Served at ``/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from starlette.routing import BaseRoute, Route

from trocadero.core.errors import ERROR_KINDS
from trocadero.core.operations import OPERATIONS, Operation
from trocadero.core.operations.spec import object_schema
from trocadero.core.permissions import PERMISSIONS

from .access import PUBLIC, permission_for
from .auth import AUTH_BODIES

# The routes outside the operation table declare their bodies next to them (web/auth.py).
BODIES: Final[Mapping[tuple[str, str], Mapping[str, Any]]] = {
    ("POST", path): object_schema(args) for path, args in AUTH_BODIES.items()
}

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_ERROR: Final = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "what is wrong, naming the field"},
        "code": {
            "type": "string",
            "enum": sorted({k.code for k in ERROR_KINDS}),
            "description": "the same code the socket API gives (core/errors.py)",
        },
    },
    "required": ["error"],
}


def _parameters(path: str, op: Operation | None) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for name, kind in _PARAM.findall(path):
        schema: dict[str, Any] = {"type": "integer"} if kind == "int" else {"type": "string"}
        if op is not None:
            schema = op.arg(name).schema()
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op is not None and op.rest is not None and op.rest.method == "GET":
        in_path = {name for name, _ in _PARAM.findall(path)}
        for a in op.args:
            if a.name not in in_path:
                params.append(
                    {"name": a.name, "in": "query", "required": a.required, "schema": a.schema()}
                )
    return _PARAM.sub(r"{\1}", path), params


def _body(op: Operation) -> dict[str, Any] | None:
    """The request body schema of an operation, from its argument declarations."""
    assert op.rest is not None
    if op.rest.body is not None:
        return op.arg(op.rest.body).schema()
    if op.rest.method == "GET":
        return None
    in_path = {name for name, _ in _PARAM.findall(op.rest.path)}
    args = [a for a in op.args if a.name not in in_path]
    return object_schema(args) if args else None


def _responses(method: str, public: bool, op: Operation | None) -> dict[str, Any]:
    error = {"application/json": {"schema": dict(_ERROR)}}
    ok: dict[str, Any] = {"application/json": {}}
    status = "200"
    if op is not None and op.rest is not None:
        ok = {"application/json": {"schema": dict(op.result)}}
        status = str(op.rest.status)
    out: dict[str, Any] = {
        status: {"description": "done", "content": ok},
        "400": {"description": "invalid input; the message names the field", "content": error},
        "404": {"description": "no such thing", "content": error},
        "409": {"description": "refused in the current state, or a conflict", "content": error},
        "429": {"description": "rate limited; see Retry-After"},
        "503": {"description": "storage unavailable", "content": error},
    }
    if op is None and method in ("POST", "PUT"):
        out["201"] = {"description": "created"}
    if op is not None and op.rest is not None and op.rest.created is not None:
        out[str(op.rest.created)] = {"description": "created", "content": ok}
    if not public:
        out["401"] = {"description": "no valid access token"}
        out["403"] = {"description": "the role may not do this", "content": error}
    return out


def openapi_document(
    routes: Sequence[BaseRoute], *, version: str, operations: Iterable[Operation] = OPERATIONS
) -> dict[str, Any]:
    declared = {(op.rest.method, op.rest.path): op for op in operations if op.rest is not None}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        if not route.include_in_schema:
            continue  # catch-alls that only explain a misspelt verb
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operation = declared.get((method, route.path))
            path, params = _parameters(route.path, operation)
            public = (method, route.path) in PUBLIC
            group = permission_for(method, route.path)
            op: dict[str, Any] = {
                "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
                "parameters": params,
                "responses": _responses(method, public, operation),
            }
            if operation is not None:
                op["operationId"] = operation.name.replace(".", "_")
                op["summary"] = operation.summary
            if public:
                op["security"] = []
            elif group is not None:
                op["description"] = f"needs {group}: " + ", ".join(sorted(PERMISSIONS[group]))
            body = BODIES.get((method, route.path))
            if operation is not None:
                body = _body(operation)
            elif body is None and method in ("POST", "PUT", "PATCH"):
                body = {"type": "object"}
            if body is not None:
                op["requestBody"] = {
                    "required": False,
                    "content": {"application/json": {"schema": dict(body)}},
                }
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Trocadero control plane",
            "version": version,
            "description": "REST API of the Trocadero playout daemon (docs/auth.md for logins).",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }
