"""A TUIO test sender that builds its OSC bytes by hand (struct, no trocadero code), so the
daemon's decoder is checked against an independent encoder: typed arguments written as the
OSC 1.0 specification lays them out, bundles with their "#bundle" header and sizes."""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

OscArg = int | float | str


def osc_string(text: str) -> bytes:
    raw = text.encode("ascii") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def osc_message(address: str, args: Sequence[OscArg]) -> bytes:
    tags, body = ",", b""
    for a in args:
        if isinstance(a, str):
            tags, body = tags + "s", body + osc_string(a)
        elif isinstance(a, int):
            tags, body = tags + "i", body + struct.pack(">i", a)
        else:
            tags, body = tags + "f", body + struct.pack(">f", a)
    return osc_string(address) + osc_string(tags) + body


def osc_bundle(elements: Sequence[bytes]) -> bytes:
    out = b"#bundle\x00" + struct.pack(">II", 0, 1)  # time tag 1: immediately
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out


def cursor_frame(
    fseq: int, cursors: Sequence[tuple[int, float, float]], *, source: str | None = None
) -> bytes:
    """A TUIO 1.1 /tuio/2Dcur frame: source?, alive, one set per cursor, fseq."""
    profile = "/tuio/2Dcur"
    parts = [] if source is None else [osc_message(profile, ["source", source])]
    parts.append(osc_message(profile, ["alive", *(sid for sid, _, _ in cursors)]))
    for sid, x, y in cursors:
        parts.append(osc_message(profile, ["set", sid, x, y, 0.0, 0.0, 0.0]))
    parts.append(osc_message(profile, ["fseq", fseq]))
    return osc_bundle(parts)


class TuioSender:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.fseq = 0

    def frame(self, cursors: Sequence[tuple[int, float, float]]) -> None:
        self.fseq += 1
        self.sock.sendto(cursor_frame(self.fseq, cursors), self.address)

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.address)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TuioSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
