"""Authentication for the control plane: the login/refresh/logout and user routes, and the
ASGI middleware that authenticates, rate-limits and authorises every API request and adds the
security headers to every response.

CSRF: the API never reads a cookie. The UI holds its tokens in memory (and sessionStorage)
and sends ``Authorization: Bearer``, which a cross-site form or image cannot forge, so there
is no ambient credential to ride on. Docs: docs/auth.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trocadero.core.auth import AuthError, AuthService
from trocadero.core.commands import PERMISSIONS, Actor, Origin
from trocadero.core.operations.args import Arg, Name, Text
from trocadero.core.operations.spec import parse_args
from trocadero.core.permissions import Forbidden, allowed
from trocadero.core.ratelimit import RateLimiter, retry_after_header

from .access import OPERATION_ROUTES, PUBLIC, permission_for
from .guard import error_response, json_body, no_arguments
from .route_templates import RouteTemplates

__all__ = ["SECURITY_HEADERS", "AuthMiddleware", "auth_routes"]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; "  # live video: Media Source Extensions play from a blob: URL
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_GUARDED_PREFIXES: Final = ("/api/", "/debug/")


_SECRET: Final = Text(1000)
# The bodies of the routes that check their own credentials (not operations: no caller yet),
# declared with the operation table's argument kinds; OpenAPI reads the same declarations.
AUTH_BODIES: Final[Mapping[str, tuple[Arg, ...]]] = {
    "/api/auth/login": (
        Arg("name", Name(), required=True, doc="the user name, as in /api/users"),
        Arg("password", _SECRET, required=True),
    ),
    "/api/auth/refresh": (Arg("refresh_token", Text(4096), required=True),),
    "/api/auth/logout": (Arg("refresh_token", Text(4096), required=True),),
    "/api/auth/password": (
        Arg("current_password", _SECRET, required=True),
        Arg("new_password", _SECRET, required=True, doc="at least 10 characters"),
    ),
}


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON body checked against its declaration (unknown fields refused)."""
    path = request.url.path
    return parse_args(AUTH_BODIES[path], await json_body(request), f"POST {path}")


def _auth_error(exc: AuthError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    body: dict[str, Any] = {"error": str(exc)}
    if exc.retry_after is not None:
        body["retry_after_s"] = round(exc.retry_after, 3)
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _client(request: Request) -> tuple[str, Origin]:
    """The caller's address (the socket peer: no proxy header is trusted) and interface."""
    address = request.client.host if request.client else ""
    origin: Origin = "ui" if request.headers.get("x-trocadero-client") == "ui" else "api"
    return address, origin


def _bearer(request: Request | Scope) -> str | None:
    headers = request.headers if isinstance(request, Request) else Request(request).headers
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def auth_routes(
    service: AuthService,
    actor_of: Callable[[Request], Actor],
    features: Callable[[], Sequence[str]] = tuple,
) -> list[BaseRoute]:
    """`features`: the optional parts this daemon serves (e.g. "mdvr"), for the UI."""

    def handle(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            try:
                response: Response = await fn(request)
                return response
            except AuthError as exc:
                return _auth_error(exc)
            except Exception as exc:
                mapped = error_response(exc)
                if mapped is None:
                    raise
                return mapped

        return handler

    async def login(request: Request) -> Response:
        doc = await _body(request)
        address, origin = _client(request)
        pair = await service.login(doc["name"], doc["password"], address=address, origin=origin)
        return JSONResponse(pair.as_json())

    async def refresh(request: Request) -> Response:
        doc = await _body(request)
        address, origin = _client(request)
        pair = await service.refresh(doc["refresh_token"], address=address, origin=origin)
        return JSONResponse(pair.as_json())

    async def logout(request: Request) -> Response:
        doc = await _body(request)
        address, origin = _client(request)
        known = await service.logout(doc["refresh_token"], address=address, origin=origin)
        return JSONResponse({"revoked": known})

    async def password(request: Request) -> Response:
        token = _bearer(request)
        if token is None:
            raise AuthError("an access token is required (Authorization: Bearer)")
        user = service.password_change_token_user(token)
        doc = await _body(request)
        address, origin = _client(request)
        await service.change_password(
            user, doc["current_password"], doc["new_password"], address=address, origin=origin
        )
        return JSONResponse({"changed": True, "user": user, "login_again": True})

    async def me(request: Request) -> Response:
        actor = actor_of(request)
        return JSONResponse(
            {
                "name": actor.name,
                "role": actor.role,
                "permissions": _permissions(actor.role),
                "features": list(features()),
            }
        )

    return [
        Route("/api/auth/login", handle(login), methods=["POST"]),
        Route("/api/auth/refresh", handle(refresh), methods=["POST"]),
        Route("/api/auth/logout", handle(logout), methods=["POST"]),
        Route("/api/auth/password", handle(password), methods=["POST"]),
        Route("/api/auth/me", no_arguments(handle(me)), methods=["GET"]),
    ]


def _permissions(role: str) -> list[str]:
    return sorted(group for group, roles in PERMISSIONS.items() if role in roles)


class AuthMiddleware:
    """Authenticate (Bearer JWT), rate-limit, authorise by `access.ROUTE_ACCESS`, and add the
    security headers. The actor is left in ``scope["state"]["actor"]`` for the handlers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: AuthService,
        routes: Sequence[BaseRoute],
        limiter: RateLimiter,
        login_limiter: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
        hsts_max_age_s: int = 0,
    ) -> None:
        self.app = app
        # Sent on HTTPS responses only (RFC 6797 §7.2: a browser ignores it over HTTP).
        self.hsts = (
            (b"strict-transport-security", f"max-age={hsts_max_age_s}".encode())
            if hsts_max_age_s
            else None
        )
        self.service = service
        self.routes = routes
        self.limiter = limiter
        self.login_limiter = login_limiter
        self.clock = clock
        self.template = RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        api = scope["path"].startswith("/api/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if https and self.hsts is not None:
                    headers.append(self.hsts)
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        refusal = await self._check(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def _check(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        if not path.startswith(_GUARDED_PREFIXES):
            return None  # static UI, /healthz, /metrics, /openapi.json; /ws checks its own
        method: str = scope["method"]
        address = scope["client"][0] if scope.get("client") else ""
        now = self.clock()
        template = self.template(scope)
        if template is None:
            return None  # the router answers 404 (nothing to protect)
        if (method, template) in PUBLIC:
            # Per address only: a limit per user name would let anyone lock that account
            # out. Repeated failures for one name from one address are slowed down further
            # by the auth service (growing delay per name and address).
            wait = self.login_limiter.check(f"addr:{address}", now)
            return None if wait is None else _too_many(wait)
        token = _bearer(scope)
        if token is None:
            wait = self.limiter.check(f"addr:{address}", now)
            if wait is not None:
                return _too_many(wait)
            return _auth_error(AuthError("an access token is required (Authorization: Bearer)"))
        headers = Request(scope).headers
        origin: Origin = "ui" if headers.get("x-trocadero-client") == "ui" else "api"
        try:
            await self.service.sync_revocations()  # logouts made by another process
            actor = self.service.authenticate(token, origin, address)
        except AuthError as exc:
            wait = self.limiter.check(f"addr:{address}", now)
            return _auth_error(exc) if wait is None else _too_many(wait)
        wait = self.limiter.check(f"user:{actor.name}", now)
        if wait is not None:
            return _too_many(wait)
        group = permission_for(method, template)
        if group is None:
            if method not in _route_methods(self.routes, template):
                return None  # the router answers 405
            return JSONResponse(
                {"error": f"{method} {template} has no access rule: refused (deny by default)"},
                status_code=403,
            )
        if not allowed(actor.role, group):
            # An operation's refusal reads as the socket API's does (the table's action).
            op = OPERATION_ROUTES.get((method, template))
            refusal = Forbidden(actor, f"{method} {template}" if op is None else op.refusal)
            return JSONResponse(
                {"error": str(refusal), "code": "forbidden", "needs": group}, status_code=403
            )
        scope.setdefault("state", {})["actor"] = actor
        return None


def _route_methods(routes: Sequence[BaseRoute], template: str) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.path == template:
            found |= route.methods or set()
    return found


def _too_many(wait: float) -> Response:
    return JSONResponse(
        {"error": "too many requests", "retry_after_s": round(wait, 3)},
        status_code=429,
        headers={"Retry-After": retry_after_header(wait)},
    )
