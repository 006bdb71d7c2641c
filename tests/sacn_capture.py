"""A loopback sACN receiver thread that keeps every data packet with its kernel receive
time (SO_TIMESTAMPNS, CLOCK_REALTIME), for tests and benches about *when* things reach the
wire."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
UNIVERSE_AT = 113  # E1.31 framing layer: universe (2 bytes, big-endian)
SLOTS_AT = 125  # DMP property values: the start code, then slots 1..512


@dataclass(frozen=True, slots=True)
class Received:
    rx_ns: int  # kernel receive time, CLOCK_REALTIME ns (compare with time.time_ns())
    universe: int
    slots: bytes  # 512 slots (start code stripped)


class Capture(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.packets: list[Received] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(1024, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            ts = None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    ts = sec * 1_000_000_000 + nsec
            # Data packets only (vector 0x00000004 at the root layer) with a null start code.
            if ts is None or len(data) <= SLOTS_AT or data[21] != 0x04 or data[SLOTS_AT] != 0:
                continue
            universe = int.from_bytes(data[UNIVERSE_AT : UNIVERSE_AT + 2], "big")
            self.packets.append(Received(ts, universe, bytes(data[SLOTS_AT + 1 :])))

    def close(self) -> None:
        self._halt.set()
        self.join()
        self.sock.close()

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
