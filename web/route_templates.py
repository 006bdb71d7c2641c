"""The route template a request will run, by (method, path): what the auth guard authorises
and what request ids and traces are named by, never the raw path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

_CACHE: Final = 4096


class RouteTemplates:
    """(method, path) → template, cached: the same few paths are polled all day, and a lookup
    tries every route's pattern in turn. Bounded: ids make paths many."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes
        self._cache: dict[tuple[str, str], str | None] = {}

    def __call__(self, scope: Scope) -> str | None:
        """The route the router will run (a full match: path and method); else a path-only
        match, which the router answers with 405; None when no route knows the path."""
        key = (scope["method"], scope["path"])
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        template = self._cache[key] = self._match(scope)
        return template

    def _match(self, scope: Scope) -> str | None:
        partial = None
        for route in self.routes:
            if not isinstance(route, Route):
                continue
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path
            if match == Match.PARTIAL and partial is None:
                partial = route.path
        return partial
