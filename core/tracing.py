"""The tracing seam of the domain: spans are no-ops until the daemon installs a tracer.

Core names what is worth a span (a command, a storage commit, a plan handed to the render
thread); which tracing library records them is the daemon's business (`playout/otel.py`,
loaded only when `[tracing] enabled`). With no tracer installed, `span()` hands back one
shared null context and `handed_over()` returns at once: the default path pays one global
read per call. The GO→wire histogram is always on: `hand_over()` tells the daemon's
follower (`follow()`, `playout/wire_watch.py`) that a plan was handed over.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import ParamSpec, Protocol, TypeVar

__all__ = [
    "Follower",
    "Span",
    "Tracer",
    "command",
    "follow",
    "hand_over",
    "install",
    "installed",
    "record",
    "span",
    "span_from",
    "traceparent",
]

P = ParamSpec("P")
R = TypeVar("R")

Attributes = Mapping[str, str | int | float | bool]


class Span(Protocol):
    def set_attribute(self, key: str, value: str | int | float | bool) -> object: ...


class _NoSpan:
    def set_attribute(self, key: str, value: str | int | float | bool) -> object:
        return None


class Tracer(Protocol):
    def span(
        self, name: str, attributes: Attributes, *, server: bool = False
    ) -> AbstractContextManager[Span]:
        """A span, child of the current one, current inside the block (`server`: the
        span of a request this process serves)."""
        ...

    def span_from(
        self, name: str, attributes: Attributes, parent: str
    ) -> AbstractContextManager[Span]:
        """A span, child of the span `parent` names (a W3C traceparent from another process
        or an event), current inside the block."""
        ...

    def record(
        self, name: str, attributes: Attributes, parent: str, start_ns: int, end_ns: int
    ) -> None:
        """A span already over (wall-clock ns), child of the span `parent` names."""
        ...

    def traceparent(self) -> str | None:
        """The current span as a W3C traceparent (None: none, or not sampled)."""
        ...

    def hand_over(self, changed: Callable[[], bool]) -> bool:
        """Run `changed` (it hands a command's plan to the render thread, True if it did)
        and follow that plan to the wire: a "frame" span, child of the current one, ending
        when the frame that carries it was sent."""
        ...


class Follower(Protocol):
    def handed(self, handed_ns: int) -> object:
        """A plan was handed to the render thread at `handed_ns` (CLOCK_MONOTONIC)."""
        ...


_NULL: AbstractContextManager[Span] = nullcontext(_NoSpan())
_tracer: Tracer | None = None
_follower: Follower | None = None


def install(tracer: Tracer | None) -> None:
    """Make `tracer` the process's (None: back to no tracing)."""
    global _tracer
    _tracer = tracer


def installed() -> Tracer | None:
    return _tracer


def follow(follower: Follower | None) -> None:
    """Make `follower` the one told of every hand-over without a tracer (a tracer follows
    the plan itself, through the same follower)."""
    global _follower
    _follower = follower


def span(
    name: str, attributes: Attributes | None = None, *, server: bool = False
) -> AbstractContextManager[Span]:
    tracer = _tracer
    if tracer is None:
        return _NULL
    return tracer.span(name, attributes or {}, server=server)


def span_from(
    parent: str | None, name: str, attributes: Attributes | None = None
) -> AbstractContextManager[Span]:
    """A span continuing the trace `parent` carries (None: no span at all)."""
    tracer = _tracer
    if tracer is None or parent is None:
        return _NULL
    return tracer.span_from(name, attributes or {}, parent)


def record(
    parent: str | None, name: str, start_ns: int, end_ns: int, attributes: Attributes | None = None
) -> None:
    """A span over `start_ns`..`end_ns` (wall clock) continuing the trace `parent` carries."""
    tracer = _tracer
    if tracer is not None and parent is not None:
        tracer.record(name, attributes or {}, parent, start_ns, end_ns)


def traceparent() -> str | None:
    """The current span, to carry to another process or through an event."""
    tracer = _tracer
    return None if tracer is None else tracer.traceparent()


def hand_over(changed: Callable[[], bool]) -> bool:
    """`changed()`, followed to the wire (GO→wire always; a "frame" span when tracing)."""
    tracer = _tracer
    if tracer is not None:
        return tracer.hand_over(changed)
    follower = _follower
    if follower is None:
        return changed()
    handed_ns = time.monotonic_ns()
    if not changed():
        return False
    follower.handed(handed_ns)
    return True


def command(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Trace a command-layer verb as a "command <verb>" span."""
    name = f"command {fn.__name__}"

    @functools.wraps(fn)
    async def traced(*args: P.args, **kwargs: P.kwargs) -> R:
        tracer = _tracer
        if tracer is None:
            return await fn(*args, **kwargs)
        with tracer.span(name, {"trocadero.command": fn.__name__}):
            return await fn(*args, **kwargs)

    return traced
