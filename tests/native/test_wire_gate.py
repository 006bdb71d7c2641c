"""The hot-standby wire gate of the native output thread (issue 19), received on 127.0.0.1:
a standby withholds Art-Net and sends sACN at priority minus offset; a lease makes it lead; a
lease that runs out fences it at the next deadline with no call from Python; a handover's
Stream_Terminated packets come once per request, and the stream goes on after them.
"""

from __future__ import annotations

import itertools
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import trocadero_rt

from trocadero.protocols import sacn
from trocadero.protocols.artnet import decode_artnet

CID = uuid.UUID("0f1c4a52-7d0e-4c1b-9a6e-3b2f0c5d8e72").bytes


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    pair = (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    )
    for s in pair:
        s.bind(("127.0.0.1", 0))
    yield pair
    for s in pair:
        s.close()


def _addr(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"{host}:{port}"


def _flush(sock: socket.socket) -> None:
    """Drop what is already queued."""
    sock.setblocking(False)
    try:
        while True:
            sock.recv(2048)
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


def _drain(sock: socket.socket, seconds: float) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            break
    return got


def test_standby_lease_fence_and_stream_terminated(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    sacn_rx, artnet_rx = sockets
    clock = trocadero_rt.FrameClock(44.0, 512)
    clock.add_output(
        protocol="sacn", universes=[(0, 1)], cid=CID, destinations=[_addr(sacn_rx)], priority=120
    )
    clock.add_output(
        protocol="artnet", universes=[(0, 0)], cid=CID, destinations=[_addr(artnet_rx)]
    )
    clock.enable_wire_gate(1)
    clock.publish(bytes(range(256)) * 2)
    clock.start()
    try:
        # Standby: sACN at 119, no Art-Net.
        standby = [sacn.decode_sacn(p) for p in _drain(sacn_rx, 0.3)]
        assert standby
        assert all(isinstance(p, sacn.DataPacket) for p in standby)
        assert {p.priority for p in standby if isinstance(p, sacn.DataPacket)} == {119}
        assert _drain(artnet_rx, 0.05) == []
        # A lease: Art-Net and sACN at 120.
        clock.set_lease_until(time.monotonic_ns() + 400_000_000)
        time.sleep(0.1)
        _flush(sacn_rx)
        leading = _drain(artnet_rx, 0.2)
        assert leading
        assert all(decode_artnet(p) for p in leading)
        assert clock.wire_gate()[1] is True
        # The lease runs out by itself: Art-Net stops with no call.
        time.sleep(0.45)
        _flush(artnet_rx)
        assert _drain(artnet_rx, 0.15) == []
        assert clock.wire_gate()[1] is False
        # A handover: three terminated packets, then the standby stream goes on.
        _flush(sacn_rx)
        clock.request_stream_terminated()
        after = [sacn.decode_sacn(p) for p in _drain(sacn_rx, 0.2)]
        data = [p for p in after if isinstance(p, sacn.DataPacket)]
        flags = [p.stream_terminated for p in data]
        assert flags.count(True) == 3, flags
        assert not flags[-1]
        sequences = [p.sequence for p in data]
        assert all((b - a) % 256 == 1 for a, b in itertools.pairwise(sequences))
        assert clock.wire_gate()[4] == 1
    finally:
        clock.stop()
