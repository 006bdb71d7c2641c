"""Contained failures: what a connection's session raised, caught at its edge.

A network peer must never share fate with the building: every connection handler (MDVR
signaling and media, UDP peers, the socket API, WebSocket, REST, inputs) catches what its
session raises, closes that connection (or drops that datagram) and reports it here. The
report is counted per edge (in `/healthz` and `/metrics`) and logged at most once per peer
per interval, so a hostile peer repeating the same frame cannot flood the journal either.

A contained failure is still a bug or an attack worth reading: the session fuzzers treat
any increase of these counters as a finding.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

import structlog

from trocadero.native.clock import NativePanic

from .statistics import counter, detail, label, section, to_json, to_samples

MAX_PEERS_REMEMBERED: Final = 10_000  # per edge; cleared past it (an address-spraying peer)
LOG_INTERVAL_S: Final = 60.0

# What a connection handler contains: every Exception, and a Rust panic in a native call
# (pyo3 raises it as a BaseException). Never Cancelled, KeyboardInterrupt or SystemExit.
SESSION_FAILURES: Final = (Exception, NativePanic)


@dataclass
class EdgeFailures:
    contained: int = 0
    logged: int = 0
    last_error: str | None = None
    last_peer: str | None = None


def leaf(exc: BaseException) -> BaseException:
    """The one real error inside single-member exception groups (nursery wrapping)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str:
    """`Type: message` of the one real error inside single-member exception groups."""
    exc = leaf(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class Containment:
    """Counts and rate-limited logs of failures caught at the edges, by edge name."""

    def __init__(
        self,
        *,
        log_interval_s: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_interval_s = log_interval_s
        self.clock = clock
        self.edges: dict[str, EdgeFailures] = {}
        self._last_logged: dict[str, dict[str, float]] = {}
        self._log = structlog.get_logger()

    def record(self, edge: str, peer: str, exc: BaseException) -> None:
        """A session on `edge` with `peer` raised `exc`; its connection is being closed."""
        stats = self.edges.setdefault(edge, EdgeFailures())
        reason = describe(exc)
        stats.contained += 1
        stats.last_error = reason
        stats.last_peer = peer
        logged = self._last_logged.setdefault(edge, {})
        now = self.clock()
        last = logged.get(peer)
        if last is not None and now - last < self.log_interval_s:
            return
        if len(logged) >= MAX_PEERS_REMEMBERED:
            logged.clear()
        logged[peer] = now
        stats.logged += 1
        # The traceback says where: a contained failure is a bug to fix or an attack to see.
        self._log.error(
            "session failure contained; connection closed",
            subsystem=edge,
            peer=peer,
            reason=reason,
            contained=stats.contained,
            traceback="".join(traceback.format_exception(exc))[-4000:],
        )

    @property
    def total(self) -> int:
        return sum(s.contained for s in self.edges.values())

    def statistics(self) -> ContainmentStatistics:
        return ContainmentStatistics(
            total=self.total,
            edges=tuple(
                EdgeStatistics(name, s.contained, s.last_error, s.last_peer)
                for name, s in sorted(self.edges.items())
            ),
        )

    def health(self) -> Mapping[str, Any]:
        return to_json(self.statistics())

    def metrics(self) -> dict[str, float]:
        return to_samples(self.statistics())


@dataclass(frozen=True, slots=True)
class EdgeStatistics:
    name: str = field(metadata=label("edge"))
    contained: int = field(metadata=counter(metric="trocadero_contained_failures_total"))
    last_error: str | None = field(metadata=detail())
    last_peer: str | None = field(metadata=detail())


@dataclass(frozen=True, slots=True)
class ContainmentStatistics:
    # The sum of the edges' counter: PromQL's sum() gives it, so no series of its own.
    total: int = field(metadata=detail())
    edges: tuple[EdgeStatistics, ...] = field(metadata=section(prefix="", key="name"))

    def merged(self, other: ContainmentStatistics) -> ContainmentStatistics:
        """Both processes' edges (the gateway process has its own: mdvr.signaling, …)."""
        edges = {e.name: e for e in self.edges}
        for e in other.edges:
            mine = edges.get(e.name)
            if mine is not None:
                e = replace(e, contained=mine.contained + e.contained)
            edges[e.name] = e
        return ContainmentStatistics(
            total=self.total + other.total, edges=tuple(edges[n] for n in sorted(edges))
        )


# One per process: the edges live in layers that do not know each other (web, playout).
CONTAINMENT: Final = Containment()


class _AsyncioLoop(Protocol):
    def set_exception_handler(
        self, handler: Callable[[Any, dict[str, Any]], object] | None
    ) -> None: ...


def contain_asyncio_errors(loop: _AsyncioLoop, containment: Containment = CONTAINMENT) -> None:
    """Make `loop` (trio_asyncio's) count and log what reaches its exception handler instead
    of raising it into the loop's nursery. trio_asyncio's default re-raises there, and the
    loop's nursery holds the whole daemon: a stray future of asyncpg's (e.g. "unexpected
    connection_lost() call" after a cancelled query on a dropped connection) ended the process.
    The operation that owned the future has already failed (or been cancelled) on its own."""

    def handler(_loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not isinstance(exc, BaseException):
            exc = RuntimeError(str(context.get("message") or "asyncio error"))
        containment.record("asyncio", str(context.get("message") or "loop")[:120], exc)

    loop.set_exception_handler(handler)
