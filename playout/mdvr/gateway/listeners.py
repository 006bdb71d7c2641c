"""TCP listeners and the connection limits at the edge: in all, and unregistered per address."""

from __future__ import annotations

import errno
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from trocadero.config import ConfigError

from .context import GatewayContext


async def listen(host: str, port: int, key: str) -> list[trio.SocketListener]:
    """TCP listeners; a port in use is a one-line error naming the config key."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        what = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc})"
        raise ConfigError([f"{key}: {host}:{port} {what}"]) from exc


@dataclass(eq=False)
class Admission:
    """A TCP connection counted against its address until it registers."""

    ip: str
    registered: bool = False


class Admissions:
    """Counts connections in and out; refuses past the configured limits."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.open_connections = 0
        self._unregistered: Counter[str] = Counter()  # by peer IP address

    def _admit(self, stream: trio.SocketStream, edge: str) -> tuple[str, str] | None:
        """Count a new connection in; None (refused) past `max_connections` in all or
        `max_unregistered_per_address` for its address. Returns (address, ip)."""
        try:
            peer = stream.socket.getpeername()
        except OSError:
            return None  # reset before we looked at it
        ip = str(peer[0])
        address = f"{ip}:{peer[1]}"
        cfg = self.ctx.config
        if (
            self.open_connections >= cfg.max_connections
            or self._unregistered[ip] >= cfg.max_unregistered_per_address
        ):
            self.ctx.stats.refused_limit += 1
            self.ctx.edge_log(
                f"limit {ip}",
                "MDVR connection refused: connection limit reached",
                subsystem_edge=edge,
                address=address,
                open=self.open_connections,
                unregistered_from_address=self._unregistered[ip],
            )
            return None
        self.open_connections += 1
        self._unregistered[ip] += 1
        return address, ip

    def registered(self, admission: Admission) -> None:
        """The connection registered: it no longer counts against its address."""
        if admission.registered:
            return
        admission.registered = True
        self._uncount(admission.ip)

    def _uncount(self, ip: str) -> None:
        self._unregistered[ip] -= 1
        if self._unregistered[ip] <= 0:
            del self._unregistered[ip]

    def _release(self, admission: Admission) -> None:
        self.open_connections -= 1
        if not admission.registered:
            self._uncount(admission.ip)

    async def admitted(
        self,
        stream: trio.SocketStream,
        edge: str,
        session: Callable[[str, Admission], Awaitable[None]],
    ) -> None:
        """Run `session(address, admission)` for a connection the limits admit; close it at
        once otherwise. The connection counts against its address until it registers."""
        admitted = self._admit(stream, edge)
        if admitted is None:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return
        address, ip = admitted
        state = Admission(ip)
        try:
            await session(address, state)
        finally:
            self._release(state)
