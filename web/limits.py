"""Request-body limits applied before any work, outside authentication and every handler.

Without it a 400 MB login body was read whole (by the login throttle, before any handler)
and grew the process by 1.8 GB while the renderer starved. Here a body is refused with 413
and a JSON error naming the limit as soon as it is known to be too large: at once from
`Content-Length`, or while it arrives (chunked bodies), reading no more than the limit. A
body within the limit is handed on as it came. (Its nesting is checked where it is parsed:
every JSON route reads its body through `guard.json_body`, `core.nesting.parse_json`.)

Pure ASGI (not BaseHTTPMiddleware): nothing is buffered but the body itself, and the
WebSocket passes straight through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .schedule_api import MAX_ICAL_BYTES

__all__ = ["BodyLimit", "RouteLimit", "route_limits"]


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A route whose bodies have their own limit (uploads, imports)."""

    method: str
    path: re.Pattern[str]  # matched against the whole request path
    limit: int
    setting: str  # what sets the limit, named in the 413


def route_limits(chunk_bytes: int | None) -> list[RouteLimit]:
    """The routes with limits of their own: upload chunks (when there is a content library)
    and the iCal import, whose calendar may be larger than a JSON request."""
    rules = [
        RouteLimit(
            "POST",
            re.compile(r"/api/schedule/import"),
            2 * MAX_ICAL_BYTES,  # the calendar's own limit, with room for JSON escapes
            "twice the iCal import limit",
        )
    ]
    if chunk_bytes is not None:
        rules.append(
            RouteLimit(
                "PUT",
                re.compile(r"/api/content/uploads/[^/]+"),
                chunk_bytes,
                "upload chunk limit, [content] max_upload_bytes",
            )
        )
    return rules


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        setting: str = "[web] max_body_bytes",
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default = RouteLimit("*", re.compile(".*"), limit, setting)
        self.routes = tuple(routes)

    def _rule(self, method: str, path: str) -> RouteLimit:
        for rule in self.routes:
            if rule.method == method and rule.path.fullmatch(path):
                return rule
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _body_headers(scope)
        if not declared and not chunked and scope.get("http_version", "1.1").startswith("1"):
            # No body (a GET, a DELETE): nothing to count or to buffer. (HTTP/2 may send a
            # body without either header: counted below.)
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope["method"], scope["path"])
        if declared is not None and declared > rule.limit:
            await _too_large(rule, scope, receive, send)  # nothing of the body read
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete: nothing to do
            size += len(message.get("body", b""))
            if size > rule.limit:
                await _too_large(rule, scope, receive, send)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            # The body as it came, then the real receive (a disconnect, for streaming replies).
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _body_headers(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length if given, whether the body is chunked): with neither, a request has
    no body (RFC 9112 §6.3)."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None  # h11 refused a malformed one
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


async def _too_large(rule: RouteLimit, scope: Scope, receive: Receive, send: Send) -> None:
    # Connection: close: the rest of the body is never read, so the connection cannot carry
    # another request; the server closes it once the 413 is sent.
    response = JSONResponse(
        {
            "error": f"body: larger than {rule.limit} bytes ({rule.setting})",
            "limit_bytes": rule.limit,
        },
        status_code=413,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
