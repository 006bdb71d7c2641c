"""Heartbeats between the two nodes of a hot-standby pair (issue 19): sans-IO codec.

One UDP datagram per interval, all integers big-endian::

    offset size field
         0    4 magic          b"TRHB"
         4    1 version        1
         5    1 role           0 standby, 1 leader, 2 handing over (a planned handover)
         6    8 epoch          fencing epoch the sender last saw (u64)
        14    4 sequence       per sender, +1 a datagram, wraps at 2**32
        18    8 frame time     ns of the sender's frame clock (u64)
        26    4 state digest   CRC-32 of the playback state the sender plays (0: none yet)
        30    1 name length    1..64
        31    n node name      UTF-8, printable

The length must be exactly 31 + n: a truncated or padded datagram is refused. Errors are
`HeartbeatError` naming the field and its offset, so a junk datagram costs one decode.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

MAGIC = b"TRHB"
VERSION = 1
HEADER = struct.Struct(">4sBBQIQIB")
HEADER_SIZE = HEADER.size  # 31
NAME_MAX = 64
MAX_DATAGRAM = HEADER_SIZE + NAME_MAX
U32 = 2**32
U64 = 2**64


class Role(enum.IntEnum):
    STANDBY = 0
    LEADER = 1
    HANDING_OVER = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class HeartbeatError(ValueError):
    """A datagram that is not a heartbeat; `field` and `offset` say where it went wrong."""

    def __init__(self, field: str, offset: int, problem: str) -> None:
        super().__init__(f"heartbeat {field} at offset {offset}: {problem}")
        self.field = field
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Heartbeat:
    node: str
    epoch: int
    role: Role
    sequence: int
    frame_time_ns: int
    state_digest: int = 0

    def to_bytes(self) -> bytes:
        name = self.node.encode()
        if not 1 <= len(name) <= NAME_MAX or not self.node.isprintable():
            raise ValueError(
                f"node must be 1..{NAME_MAX} printable UTF-8 bytes (got {self.node!r})"
            )
        for field, value, limit in (
            ("epoch", self.epoch, U64),
            ("sequence", self.sequence, U32),
            ("frame_time_ns", self.frame_time_ns, U64),
            ("state_digest", self.state_digest, U32),
        ):
            if not 0 <= value < limit:
                raise ValueError(f"{field} must be in 0..{limit - 1} (got {value})")
        head = HEADER.pack(
            MAGIC,
            VERSION,
            int(self.role),
            self.epoch,
            self.sequence,
            self.frame_time_ns,
            self.state_digest,
            len(name),
        )
        return head + name


def decode_heartbeat(datagram: bytes | bytearray | memoryview) -> Heartbeat:
    buf = bytes(datagram)
    if len(buf) < HEADER_SIZE:
        raise HeartbeatError("header", len(buf), f"{len(buf)} bytes, need {HEADER_SIZE}")
    magic, version, role, epoch, sequence, frame_time, digest, length = HEADER.unpack_from(buf)
    if magic != MAGIC:
        raise HeartbeatError("magic", 0, f"{magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise HeartbeatError("version", 4, f"{version}, expected {VERSION}")
    try:
        role_value = Role(role)
    except ValueError:
        raise HeartbeatError("role", 5, f"{role} is not 0, 1 or 2") from None
    if not 1 <= length <= NAME_MAX:
        raise HeartbeatError("name length", 30, f"{length} out of range 1..{NAME_MAX}")
    if len(buf) != HEADER_SIZE + length:
        raise HeartbeatError(
            "datagram length",
            min(len(buf), HEADER_SIZE + length),
            f"{len(buf)} bytes, expected {HEADER_SIZE + length} for a {length}-byte name",
        )
    try:
        node = buf[HEADER_SIZE:].decode()
    except UnicodeDecodeError as exc:
        raise HeartbeatError("node name", HEADER_SIZE + exc.start, "not UTF-8") from None
    if not node.isprintable():
        raise HeartbeatError("node name", HEADER_SIZE, f"{node!r} is not printable")
    return Heartbeat(node, epoch, role_value, sequence, frame_time, digest)
