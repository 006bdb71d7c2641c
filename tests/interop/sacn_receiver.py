"""Receive sACN data packets on a multicast group and decode them with our own decoder.

Reusable for tests that feed another peer's sACN into us: give it a socket from any network
namespace (`NetNs.socket`) and the address of the interface the traffic arrives on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from trocadero.protocols.sacn import SACN_PORT, DataPacket, decode_sacn, multicast_address


def join_sacn(sock: socket.socket, universe: int, interface_address: str) -> None:
    """Bind `sock` to the universe's group on port 5568 and join it on that interface.

    Binding the group address (not 0.0.0.0) keeps other groups' traffic out; SO_REUSEADDR
    lets the socket share port 5568 with a local sACN node (olad sets it too).
    """
    group = multicast_address(universe)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, SACN_PORT))
    membership = socket.inet_aton(group) + socket.inet_aton(interface_address)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)


def receive_sacn(
    sock: socket.socket,
    until: Callable[[DataPacket], bool],
    timeout: float,
    *,
    idle: Callable[[], None] | None = None,
    idle_every: float = 0.5,
) -> list[DataPacket]:
    """Decode every datagram until one satisfies `until` or `timeout` passes.

    Returns all data packets decoded (the satisfying one last); a datagram that is not a valid
    sACN data packet raises `SacnError` (a real peer must not send one). `idle` is called
    first and then whenever nothing arrived for `idle_every` seconds (e.g. to poke the sender).
    """
    got: list[DataPacket] = []
    end = time.monotonic() + timeout
    if idle is not None:
        idle()
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(min(left, idle_every))
        try:
            datagram = sock.recv(2048)
        except TimeoutError:
            if idle is not None:
                idle()
            continue
        packet = decode_sacn(datagram)
        if not isinstance(packet, DataPacket):
            continue  # sync or discovery: not what the caller waits for
        got.append(packet)
        if until(packet):
            break
    return got
