"""Correlation ids and request spans at the web edge (docs/tracing.md).

Every HTTP request and WebSocket connection gets a correlation id: the client's
``X-Request-Id`` when it is a sane token (≤ 64 of [A-Za-z0-9._-]), else a fresh one. It is
bound for everything the request causes (log lines, the audit entry) and returned in the
response's ``X-Request-Id``. With tracing on, each HTTP request is a server span named by its
route template (``POST /api/cue-lists/{list}/go``), never the raw path: ids would make the
names unbounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import structlog
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trocadero.core import correlation, tracing

from .route_templates import RouteTemplates

__all__ = ["HEADER", "RequestIds"]

HEADER: Final = b"x-request-id"
log = structlog.get_logger(subsystem="web")


def _incoming(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == HEADER:
            try:
                return str(value.decode("ascii"))
            except UnicodeDecodeError:
                return None
    return None


class RequestIds:
    """Pure ASGI middleware, outermost: containment and auth refusals carry the id too."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.template = RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = correlation.take(_incoming(scope))
        if kind == "websocket":
            with correlation.bound(request_id):  # the connection's; each op binds its own
                await self.app(scope, receive, send)
            return
        header = (HEADER, request_id.encode("ascii"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        with correlation.bound(request_id):
            try:
                if tracing.installed() is None:
                    await self.app(scope, receive, send_with_id)
                else:
                    await self._traced(scope, receive, send_with_id, request_id)
            finally:
                # Debug level: at info (the default) this costs one no-op call.
                log.debug("request", method=scope["method"], path=scope["path"], status=status)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        status = 0

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        method: str = scope["method"]
        route = self.template(scope) or "unmatched"  # one name for every unknown path
        attributes = {
            "http.request.method": method,
            "http.route": route,
            "trocadero.request_id": request_id,
        }
        with tracing.span(f"{method} {route}", attributes, server=True) as span:
            try:
                await self.app(scope, receive, send_seen)
            finally:
                span.set_attribute("http.response.status_code", status)
