"""The OpenAPI 3.1 document of the REST API, built from the routes the app actually serves.

Paths and methods come from the router (so the document never lists a route that is not
there, or misses one); path parameters from the route templates; who may call what from
`access.ROUTE_ACCESS`; request bodies from the schemas below. Served at ``/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from starlette.routing import BaseRoute, Route

from trocadero.core.commands import PERMISSIONS

from .access import PUBLIC, permission_for

_SECONDS: Final = {"type": "number", "minimum": 0, "maximum": 86400}
_CUE: Final = {
    "oneOf": [{"type": "string", "pattern": r"^\d{1,4}(\.\d{1,3})?$"}, {"type": "number"}],
    "description": 'cue number, e.g. "12.5"',
}
_TARGET: Final = {
    "type": "object",
    "properties": {
        "look": {"type": "string", "minLength": 1},
        "rgb": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 65535},
            "minItems": 3,
            "maxItems": 3,
        },
        "fade": _SECONDS,
    },
    "description": "either look or rgb",
}
_ROLE: Final = {"type": "string", "enum": ["admin", "operator", "marketing", "viewer"]}


def _obj(required: Sequence[str] = (), **props: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        doc["required"] = list(required)
    return doc


BODIES: Final[Mapping[tuple[str, str], Mapping[str, Any]]] = {
    ("POST", "/api/auth/login"): _obj(
        ("username", "password"), username={"type": "string"}, password={"type": "string"}
    ),
    ("POST", "/api/auth/refresh"): _obj(("refresh_token",), refresh_token={"type": "string"}),
    ("POST", "/api/auth/logout"): _obj(("refresh_token",), refresh_token={"type": "string"}),
    ("POST", "/api/auth/password"): _obj(
        ("current_password", "new_password"),
        current_password={"type": "string"},
        new_password={"type": "string", "minLength": 10},
    ),
    ("POST", "/api/users"): _obj(
        ("name", "role", "password"),
        name={"type": "string"},
        role=_ROLE,
        password={"type": "string", "minLength": 10},
        email={"type": "string"},
    ),
    ("PATCH", "/api/users/{name}"): _obj(
        role=_ROLE,
        disabled={"type": "boolean"},
        email={"type": "string"},
        password={"type": "string", "minLength": 10},
    ),
    ("POST", "/api/cue-lists/{name}/{verb}"): _obj(cue=_CUE, fade=_SECONDS),
    ("PUT", "/api/parks/{canvas}"): _TARGET,
    ("DELETE", "/api/parks/{canvas}"): _obj(fade=_SECONDS),
    ("POST", "/api/overrides"): _obj(
        ("canvases", "ttl"),
        canvases={"type": "object", "additionalProperties": _TARGET},
        ttl=_SECONDS,
        priority={"type": "integer"},
        fade_in=_SECONDS,
        fade_out=_SECONDS,
    ),
    ("POST", "/api/overrides/{id}"): _obj(("ttl",), ttl=_SECONDS),
    ("DELETE", "/api/overrides/{id}"): _obj(fade=_SECONDS),
    ("PUT", "/api/masters/{target}"): _obj(
        ("level",), level={"type": "number", "minimum": 0, "maximum": 1}
    ),
    ("POST", "/api/blackout"): _obj(("on",), on={"type": "boolean"}),
    ("POST", "/api/panic"): _obj(fade=_SECONDS),
    ("POST", "/api/celebrations"): _obj(
        ("look",),
        look={"type": "string"},
        canvases={"type": "array", "items": {"type": "string"}},
        duration_s={"type": "number", "minimum": 0.1, "maximum": 3600},
        fade_in={"type": "number", "minimum": 0, "maximum": 60},
        fade_out={"type": "number", "minimum": 0, "maximum": 60},
        priority={"type": "integer"},
    ),
    ("POST", "/api/sensors/{sensor}"): _obj(
        ("values",),
        values={"type": "object", "additionalProperties": {"type": ["number", "boolean"]}},
        at={"type": "number"},
    ),
    ("PUT", "/api/looks/{name}"): _obj(
        ("canvases",), canvases={"type": "array", "items": {"type": "object"}}
    ),
    ("PUT", "/api/cue-lists/{name}"): _obj(
        priority={"type": "integer"},
        mode={"type": "string", "enum": ["ltp", "htp"]},
        cues={"type": "array", "items": {"type": "object"}},
    ),
}

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_ENUMS: Final[Mapping[tuple[str, str], list[str]]] = {
    ("/api/cue-lists/{name}/{verb}", "verb"): [
        "go",
        "back",
        "goto",
        "fire",
        "load",
        "release",
        "top",
        "pause",
        "resume",
    ],
    ("/api/emergency/{action}", "action"): ["engage", "release"],
}


def _parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for name, kind in _PARAM.findall(path):
        schema: dict[str, Any] = {"type": "integer"} if kind == "int" else {"type": "string"}
        if (path, name) in _ENUMS:
            schema["enum"] = _ENUMS[(path, name)]
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(r"{\1}", path), params


def _responses(method: str, public: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {"description": "done", "content": {"application/json": {}}},
        "400": {"description": "invalid input; the message names the field"},
        "404": {"description": "no such thing"},
        "409": {"description": "refused in the current state, or a conflict"},
        "429": {"description": "rate limited; see Retry-After"},
    }
    if method in ("POST", "PUT"):
        out["201"] = {"description": "created"}
    if not public:
        out["401"] = {"description": "no valid access token"}
        out["403"] = {"description": "the role may not do this"}
    return out


def openapi_document(routes: Sequence[BaseRoute], *, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        path, params = _parameters(route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            public = (method, route.path) in PUBLIC
            group = permission_for(method, route.path)
            op: dict[str, Any] = {
                "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
                "parameters": params,
                "responses": _responses(method, public),
            }
            if public:
                op["security"] = []
            elif group is not None:
                op["description"] = f"needs {group}: " + ", ".join(sorted(PERMISSIONS[group]))
            body = BODIES.get((method, route.path))
            if body is None and method in ("POST", "PUT", "PATCH"):
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
