"""The heartbeat link of the hot-standby pair: Trio UDP I/O over `protocols.ha_heartbeat`.

Fast detection only: a silent peer makes the standby *try* the lease, and only the lease
(PostgreSQL) makes it lead. A datagram that is not a heartbeat costs one decode and a
counter; nothing it says reaches the state machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import trio

from trocadero.config.ha import split_host_port
from trocadero.protocols.ha_heartbeat import (
    MAX_DATAGRAM,
    Heartbeat,
    HeartbeatError,
    decode_heartbeat,
)

from .logs import get_logger

log = get_logger("ha")


@dataclass
class PeerView:
    """What this node has heard from its peer."""

    last: Heartbeat | None = None
    last_seen_ns: int = 0
    received: int = 0
    junk: int = 0
    sent: int = 0
    send_errors: int = 0
    last_junk: str | None = None

    def age_ns(self, now_ns: int) -> int | None:
        return None if not self.last_seen_ns else now_ns - self.last_seen_ns


class HeartbeatLink:
    def __init__(self, node: str, bind: str, peer: str) -> None:
        self.node = node
        self.bind_addr = split_host_port(bind)
        self.peer_addr = split_host_port(peer)
        self.view = PeerView()
        self._sock: trio.socket.SocketType | None = None
        self._send_failing = False

    async def open(self) -> None:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        await sock.bind(self.bind_addr)
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def send(self, heartbeat: Heartbeat) -> None:
        assert self._sock is not None
        try:
            await self._sock.sendto(heartbeat.to_bytes(), self.peer_addr)
        except OSError as exc:  # e.g. no route to the peer: counted, logged once
            self.view.send_errors += 1
            if not self._send_failing:
                self._send_failing = True
                log.warning("heartbeat not sent", peer=self.peer_addr, error=str(exc))
            return
        self._send_failing = False
        self.view.sent += 1

    def take(self, datagram: bytes, now_ns: int) -> Heartbeat | None:
        """One received datagram: the peer's heartbeat, or None (counted as junk)."""
        try:
            hb = decode_heartbeat(datagram)
        except HeartbeatError as exc:
            self.view.junk += 1
            self.view.last_junk = str(exc)
            return None
        if hb.node == self.node:  # our own, looped back by a misconfigured peer address
            self.view.junk += 1
            self.view.last_junk = f"heartbeat from this node's own name {hb.node!r}"
            return None
        self.view.last, self.view.last_seen_ns = hb, now_ns
        self.view.received += 1
        return hb

    async def receive(self, on_heartbeat: trio.MemorySendChannel[Heartbeat]) -> None:
        assert self._sock is not None
        while True:
            try:
                data, source = await self._sock.recvfrom(MAX_DATAGRAM + 1)
            except OSError:  # e.g. ICMP port unreachable from a peer not up yet
                continue
            if source[0] != self.peer_addr[0]:
                self.view.junk += 1
                self.view.last_junk = f"datagram from {source[0]}, not the peer's host"
                continue
            hb = self.take(data, time.monotonic_ns())
            if hb is not None:
                try:
                    on_heartbeat.send_nowait(hb)
                except trio.WouldBlock:
                    pass  # the state machine reads `view` on its tick anyway
