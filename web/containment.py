"""The web edge's containment: a handler that raises ends its own request (500) or
WebSocket (close 1011), is counted and logged once per client per interval
(`trocadero.core.containment`), and the server goes on serving everybody else."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trocadero.core.containment import CONTAINMENT, SESSION_FAILURES, Containment

_INTERNAL = b'{"error":"internal error (logged)"}'


class ContainFailures:
    """Pure ASGI middleware; outermost of the app's own, inside Starlette's error page."""

    def __init__(self, app: ASGIApp, containment: Containment = CONTAINMENT) -> None:
        self.app = app
        self.containment = containment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except SESSION_FAILURES as exc:
            client = scope.get("client") or ("?", 0)
            edge = "rest" if kind == "http" else "websocket"
            self.containment.record(edge, f"{client[0]} {scope.get('path', '')}", exc)
            if started:
                return  # the response was under way: the connection ends with it
            try:
                if kind == "http":
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 500,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": _INTERNAL})
                else:
                    await send({"type": "websocket.close", "code": 1011})
            except Exception:  # the client is gone as well: nothing more to tell it
                pass
