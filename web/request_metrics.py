"""REST request latency for /metrics: method and route template, never the raw path.

Pure ASGI, outermost: it times the whole request, refusals by the body limit and
authentication included. The template is the route Starlette's router matched
(`scope["route"]`); a request refused before routing is matched here, against the same
routes (that costs a regex walk, only on refusals). Paths no route knows share one label, so
a scanner cannot grow the label set. WebSockets are not timed (they last for hours).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from prometheus_client import Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

UNMATCHED: Final = "<unmatched>"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The path template of the route for `scope` (a mount's own prefix for mounts)."""
    route = scope.get("route")
    if route is None:
        for candidate in routes:
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestTimer:
    def __init__(self, app: ASGIApp, histogram: Histogram, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.histogram = histogram
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.histogram.labels(method, route_template(scope, self.routes)).observe(
                time.perf_counter() - started
            )
