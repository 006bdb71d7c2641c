"""Distributed Display Protocol (DDP, 3waylabs), UDP port 4048: builder, template, decoder.

Header, 10 bytes (14 with the timecode flag), big-endian::

    off size field
      0   1  flags: bits 7-6 version (01 → 0x40), bit4 T timecode, bit3 S storage,
             bit2 R reply, bit1 Q query, bit0 P push (last packet of a frame: display now)
      1   1  sequence, low 4 bits: 1..15 wrapping to 1 (0 = not used)  <- SEQUENCE_OFFSET
      2   1  data type "C R TTT SSS": 0x0B = RGB 8 bit, 0x1B = RGBW 8 bit (0x00 = undefined)
      3   1  destination id: 1 = default output device, 246 control, 250 JSON config,
             251 JSON status, 254 DMX transit, 255 all devices
      4   4  data offset in bytes into the device buffer
      8   2  data length in bytes
    (10)  4  timecode, only with the T flag
     10   n  data                                                     <- DATA_OFFSET

Trailing bytes after ``header + length`` are **ignored** (the length field is authoritative;
WLED does the same); a datagram shorter than ``header + length`` is rejected. Bit 5 of the
flags and the top 4 bits of the sequence byte are reserved: sent as 0, ignored on receipt.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._fields import check_bytes, check_int, to_bytes

__all__ = [
    "DATA_OFFSET",
    "DATA_TYPE_RGB8",
    "DATA_TYPE_RGBW8",
    "DDP_PORT",
    "DESTINATION_ALL",
    "DESTINATION_DISPLAY",
    "FLAGS_OFFSET",
    "FLAG_PUSH",
    "FLAG_QUERY",
    "FLAG_REPLY",
    "FLAG_STORAGE",
    "FLAG_TIMECODE",
    "FLAG_VERSION1",
    "HEADER_SIZE",
    "MAX_DATA_LENGTH",
    "SEQUENCE_OFFSET",
    "DdpError",
    "DdpPacket",
    "data_template",
    "decode_ddp",
    "frame_packets",
    "next_sequence",
]

DDP_PORT = 4048
HEADER_SIZE = 10
TIMECODE_HEADER_SIZE = 14
FLAGS_OFFSET = 0
SEQUENCE_OFFSET = 1
DATA_OFFSET = 10  # without timecode

FLAG_VERSION1 = 0x40
FLAG_TIMECODE = 0x10
FLAG_STORAGE = 0x08
FLAG_REPLY = 0x04
FLAG_QUERY = 0x02
FLAG_PUSH = 0x01
_VERSION_MASK = 0xC0

DATA_TYPE_UNDEFINED = 0x00
DATA_TYPE_RGB8 = 0x0B
DATA_TYPE_RGBW8 = 0x1B

DESTINATION_DISPLAY = 1
DESTINATION_CONTROL = 246
DESTINATION_JSON_CONFIG = 250
DESTINATION_JSON_STATUS = 251
DESTINATION_DMX = 254
DESTINATION_ALL = 255

MAX_DATA_LENGTH = 1440  # 480 RGB / 360 RGBW pixels: fits a 1500-byte MTU
MAX_OFFSET = 0xFFFFFFFF


class DdpError(ValueError):
    """A datagram is not a valid DDP packet; the message names the field and its offset."""


def next_sequence(sequence: int) -> int:
    """The DDP sequence after `sequence`: 1..15 wrapping to 1 (0 stays 0 = not used)."""
    check_int("sequence", sequence, 0, 15)
    if sequence == 0:
        return 0
    return 1 if sequence == 15 else sequence + 1


def data_template(
    offset: int,
    length: int,
    push: bool = True,
    data_type: int = DATA_TYPE_RGB8,
    destination: int = DESTINATION_DISPLAY,
) -> bytearray:
    """A 10-byte-header DDP packet with sequence 0 and zero data; the output thread patches
    ``buf[SEQUENCE_OFFSET]`` and ``buf[DATA_OFFSET:DATA_OFFSET + length]``."""
    check_int("offset", offset, 0, MAX_OFFSET)
    check_int("length", length, 0, MAX_DATA_LENGTH)
    check_int("data_type", data_type, 0, 0xFF)
    check_int("destination", destination, 0, 0xFF)
    buf = bytearray(HEADER_SIZE + length)
    buf[0] = FLAG_VERSION1 | (FLAG_PUSH if push else 0)
    buf[2] = data_type
    buf[3] = destination
    buf[4:8] = offset.to_bytes(4, "big")
    buf[8:10] = length.to_bytes(2, "big")
    return buf


@dataclass(frozen=True, slots=True)
class DdpPacket:
    """One DDP packet. `timecode` None means no T flag (10-byte header)."""

    data: bytes = b""
    offset: int = 0
    sequence: int = 0
    push: bool = False
    data_type: int = DATA_TYPE_RGB8
    destination: int = DESTINATION_DISPLAY
    query: bool = False
    reply: bool = False
    storage: bool = False
    timecode: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", check_bytes("data", self.data, 0, MAX_DATA_LENGTH))
        check_int("offset", self.offset, 0, MAX_OFFSET)
        check_int("sequence", self.sequence, 0, 15)
        check_int("data_type", self.data_type, 0, 0xFF)
        check_int("destination", self.destination, 0, 0xFF)
        if self.timecode is not None:
            check_int("timecode", self.timecode, 0, 0xFFFFFFFF)

    @property
    def flags(self) -> int:
        return (
            FLAG_VERSION1
            | (FLAG_TIMECODE if self.timecode is not None else 0)
            | (FLAG_STORAGE if self.storage else 0)
            | (FLAG_REPLY if self.reply else 0)
            | (FLAG_QUERY if self.query else 0)
            | (FLAG_PUSH if self.push else 0)
        )

    def to_bytes(self) -> bytes:
        buf = bytearray()
        buf.append(self.flags)
        buf.append(self.sequence)
        buf.append(self.data_type)
        buf.append(self.destination)
        buf += self.offset.to_bytes(4, "big")
        buf += len(self.data).to_bytes(2, "big")
        if self.timecode is not None:
            buf += self.timecode.to_bytes(4, "big")
        buf += self.data
        return bytes(buf)


def frame_packets(
    data: bytes,
    sequence: int = 0,
    data_type: int = DATA_TYPE_RGB8,
    destination: int = DESTINATION_DISPLAY,
    max_length: int = MAX_DATA_LENGTH,
) -> list[DdpPacket]:
    """Split one frame's bytes into packets of at most `max_length` bytes (use a multiple of
    the pixel size, e.g. 1440 for RGB and RGBW); push is set on the last packet only."""
    data = to_bytes("data", data)
    check_int("sequence", sequence, 0, 15)
    check_int("max_length", max_length, 1, MAX_DATA_LENGTH)
    if not data:
        raise ValueError("data must not be empty")
    chunks = range(0, len(data), max_length)
    return [
        DdpPacket(
            data=data[start : start + max_length],
            offset=start,
            sequence=sequence,
            push=start + max_length >= len(data),
            data_type=data_type,
            destination=destination,
        )
        for start in chunks
    ]


def decode_ddp(datagram: bytes | bytearray | memoryview) -> DdpPacket:
    """Decode one UDP payload received on port 4048; raise `DdpError` if it is invalid."""
    buf = to_bytes("datagram", datagram)
    if len(buf) < HEADER_SIZE:
        raise DdpError(f"datagram truncated: header needs {HEADER_SIZE} bytes, got {len(buf)}")
    flags = buf[0]
    if flags & _VERSION_MASK != FLAG_VERSION1:
        raise DdpError(f"version {(flags >> 6) & 3} in flags 0x{flags:02x} at offset 0, expected 1")
    header = HEADER_SIZE
    timecode: int | None = None
    if flags & FLAG_TIMECODE:
        header = TIMECODE_HEADER_SIZE
        if len(buf) < header:
            raise DdpError(
                f"datagram truncated: timecode at offset 10 needs {header} bytes, got {len(buf)}"
            )
        timecode = int.from_bytes(buf[10:14], "big")
    length = (buf[8] << 8) | buf[9]
    if length > MAX_DATA_LENGTH:
        raise DdpError(f"data length {length} at offset 8 out of range 0..{MAX_DATA_LENGTH}")
    if len(buf) < header + length:
        raise DdpError(
            f"datagram truncated: data length {length} at offset 8 needs {header + length} "
            f"bytes, got {len(buf)}"
        )
    return DdpPacket(
        data=buf[header : header + length],
        offset=int.from_bytes(buf[4:8], "big"),
        sequence=buf[1] & 0x0F,
        push=bool(flags & FLAG_PUSH),
        data_type=buf[2],
        destination=buf[3],
        query=bool(flags & FLAG_QUERY),
        reply=bool(flags & FLAG_REPLY),
        storage=bool(flags & FLAG_STORAGE),
        timecode=timecode,
    )
