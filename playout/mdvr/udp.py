"""Signaling over UDP (optional, `[mdvr] udp = true`): some firmwares send their `$$dc`
messages as datagrams to the signaling port instead of over TCP.

Each source address gets a `DatagramPeer`, a `trio.abc.Stream` whose reads are that
address's datagrams and whose writes are datagrams back to it, so the gateway runs the very
same session logic as for a TCP link (registration, heartbeats, offline after silence,
replacement on a second V101). Queues are bounded: a peer that floods is dropped from, never
buffered for; the number of peers is bounded too (new addresses are refused past it).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import trio

from ..logs import get_logger

log = get_logger("mdvr.udp")

PEER_QUEUE: Final = 64  # datagrams waiting per address
MAX_PEERS: Final = 10_000
MAX_DATAGRAM: Final = 65_535


@dataclass
class UdpStats:
    datagrams: int = 0
    dropped: int = 0  # a peer's queue was full, or too many peers
    peers: int = 0


class DatagramPeer(trio.abc.Stream):
    def __init__(self, sock: trio.socket.SocketType, address: tuple[str, int]) -> None:
        self.sock = sock
        self.address = address
        self._send, self._receive = trio.open_memory_channel[bytes](PEER_QUEUE)
        self.closed = False

    def offer(self, data: bytes) -> bool:
        try:
            self._send.send_nowait(data)
        except trio.WouldBlock:
            return False
        return True

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise trio.ClosedResourceError("peer closed")
        await self.sock.sendto(bytes(data), self.address)

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return b""

    async def aclose(self) -> None:
        self.closed = True
        self._send.close()
        await trio.lowlevel.checkpoint()


Session = Callable[[DatagramPeer, str, str], Awaitable[None]]


def route_source(address: tuple[str, int]) -> str:
    """Our address on the route to `address` (what the device must send media to): a
    connected UDP socket is given its source address by the kernel; nothing is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(address)
        ip: str = probe.getsockname()[0]
        return ip


async def serve_udp_signaling(
    host: str,
    port: int,
    session: Session,
    media_host: str,
    stats: UdpStats,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Receive datagrams on (host, port); run `session(peer, address, local_ip)` per source
    (`local_ip`: `media_host` when configured, else our address on the route to the peer)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind((host, port))
    peers: dict[tuple[str, int], DatagramPeer] = {}

    async def run(peer: DatagramPeer) -> None:
        try:
            local_ip = media_host or route_source(peer.address)
            await session(peer, f"udp:{peer.address[0]}:{peer.address[1]}", local_ip)
        finally:
            if peers.get(peer.address) is peer:
                del peers[peer.address]
                stats.peers = len(peers)

    with sock:
        async with trio.open_nursery() as nursery:
            task_status.started(sock.getsockname()[1])
            while True:
                try:
                    data, address = await sock.recvfrom(MAX_DATAGRAM)
                except OSError:  # an ICMP error for an earlier reply: that peer's problem only
                    stats.dropped += 1
                    continue
                stats.datagrams += 1
                peer = peers.get(address)
                if peer is None or peer.closed:
                    if len(peers) >= MAX_PEERS:
                        stats.dropped += 1
                        continue
                    peer = peers[address] = DatagramPeer(sock, address)
                    stats.peers = len(peers)
                    nursery.start_soon(run, peer)
                if not peer.offer(data):
                    stats.dropped += 1
