"""MQTT wire format (3.1.1 and 5.0), sans-IO: variable byte integers, strings, MQTT 5
properties (every identifier and its type) and the splitting of a received stream into
packets under a size limit checked from the fixed header. Errors are `ProtocolError`s naming
what is wrong and the byte offset in the stream. The client is in `protocols/mqtt.py`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DEFAULT_MAX_PACKET",
    "NAMES",
    "PROPERTY_TYPES",
    "Body",
    "Frame",
    "FrameReader",
    "PacketTooLarge",
    "Properties",
    "ProtocolError",
    "binary_field",
    "decode_varint",
    "encode_properties",
    "encode_varint",
    "packet",
    "parse_properties",
    "utf8_field",
]

DEFAULT_MAX_PACKET: Final = 256 << 10
MAX_VARINT: Final = 268_435_455  # four bytes of seven bits

# Packet types (the fixed header's high nibble).
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK = 5, 6, 7, 8, 9
UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 10, 11, 12, 13, 14, 15
NAMES: Final = {
    1: "CONNECT",
    2: "CONNACK",
    3: "PUBLISH",
    4: "PUBACK",
    5: "PUBREC",
    6: "PUBREL",
    7: "PUBCOMP",
    8: "SUBSCRIBE",
    9: "SUBACK",
    10: "UNSUBSCRIBE",
    11: "UNSUBACK",
    12: "PINGREQ",
    13: "PINGRESP",
    14: "DISCONNECT",
    15: "AUTH",
}


class ProtocolError(Exception):
    """A malformed or unexpected packet: `what` is wrong at byte `offset` of the stream."""

    def __init__(self, what: str, offset: int, packet: str = "") -> None:
        where = f"{packet} " if packet else ""
        super().__init__(f"{where}{what} (at byte {offset})")
        self.what = what
        self.offset = offset
        self.packet = packet


class PacketTooLarge(ProtocolError):
    """The fixed header announces more than the limit; nothing of the body was buffered."""

    def __init__(self, size: int, limit: int, offset: int, packet: str = "") -> None:
        super().__init__(f"packet of {size} bytes exceeds the limit of {limit}", offset, packet)
        self.size = size
        self.limit = limit


# --- primitives ------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """A Variable Byte Integer: seven bits a byte, least significant first, high bit = more."""
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"variable byte integer must be in 0..{MAX_VARINT}, got {value}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data: bytes | bytearray, pos: int, base: int = 0) -> tuple[int, int] | None:
    """(value, position after it), or None when `data` ends inside it. At most four bytes;
    a fifth continuation, or a non-minimal encoding, is malformed (`base` + position named)."""
    value = 0
    for n in range(4):
        if pos + n >= len(data):
            return None
        byte = data[pos + n]
        value |= (byte & 0x7F) << (7 * n)
        if not byte & 0x80:
            if n and byte == 0:  # e.g. 0x80 0x00: the spec requires the fewest bytes
                raise ProtocolError("variable byte integer not minimally encoded", base + pos)
            return value, pos + n + 1
    raise ProtocolError("variable byte integer longer than four bytes", base + pos)


def utf8_field(name: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError(f"{name}: at most 65535 bytes of UTF-8, got {len(data)}")
    if "\x00" in text:
        raise ValueError(f"{name}: must not contain U+0000")
    return struct.pack(">H", len(data)) + data


def binary_field(name: str, data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"{name}: at most 65535 bytes, got {len(data)}")
    return struct.pack(">H", len(data)) + data


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


class Body:
    """A cursor over one packet's body; errors name the offset in the received stream."""

    __slots__ = ("base", "data", "packet", "pos")

    def __init__(self, data: bytes, base: int, packet: str) -> None:
        self.data, self.pos, self.base, self.packet = data, 0, base, packet

    def fail(self, what: str, at: int | None = None) -> ProtocolError:
        return ProtocolError(what, self.base + (self.pos if at is None else at), self.packet)

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if self.left() < n:
            raise self.fail(f"{what}: {n} bytes needed, {self.left()} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        value: int = struct.unpack(">H", self.take(2, what))[0]
        return value

    def u32(self, what: str) -> int:
        value: int = struct.unpack(">I", self.take(4, what))[0]
        return value

    def varint(self, what: str) -> int:
        try:
            got = decode_varint(self.data, self.pos, self.base)
        except ProtocolError as exc:
            raise ProtocolError(f"{what}: {exc.what}", exc.offset, self.packet) from None
        if got is None:
            raise self.fail(f"{what}: truncated variable byte integer")
        value, self.pos = got
        return value

    def binary(self, what: str) -> bytes:
        n = self.u16(f"{what} length")
        return self.take(n, what)

    def text(self, what: str) -> str:
        at = self.pos
        raw = self.binary(what)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what}: not UTF-8", at + 2 + exc.start) from None
        if "\x00" in text:  # also the spec's other forbidden code points are rare; U+0000 is not
            raise self.fail(f"{what}: contains U+0000", at + 2 + raw.index(b"\x00"))
        return text


# --- MQTT 5 properties -------------------------------------------------------------------------

PropType = Literal["byte", "u16", "u32", "varint", "utf8", "binary", "pair"]

# Every property identifier of MQTT 5.0 (section 2.2.2.2) and its value's type.
PROPERTY_TYPES: Final[dict[int, tuple[str, PropType]]] = {
    0x01: ("payload_format_indicator", "byte"),
    0x02: ("message_expiry_interval", "u32"),
    0x03: ("content_type", "utf8"),
    0x08: ("response_topic", "utf8"),
    0x09: ("correlation_data", "binary"),
    0x0B: ("subscription_identifier", "varint"),
    0x11: ("session_expiry_interval", "u32"),
    0x12: ("assigned_client_identifier", "utf8"),
    0x13: ("server_keep_alive", "u16"),
    0x15: ("authentication_method", "utf8"),
    0x16: ("authentication_data", "binary"),
    0x17: ("request_problem_information", "byte"),
    0x18: ("will_delay_interval", "u32"),
    0x19: ("request_response_information", "byte"),
    0x1A: ("response_information", "utf8"),
    0x1C: ("server_reference", "utf8"),
    0x1F: ("reason_string", "utf8"),
    0x21: ("receive_maximum", "u16"),
    0x22: ("topic_alias_maximum", "u16"),
    0x23: ("topic_alias", "u16"),
    0x24: ("maximum_qos", "byte"),
    0x25: ("retain_available", "byte"),
    0x26: ("user_property", "pair"),
    0x27: ("maximum_packet_size", "u32"),
    0x28: ("wildcard_subscription_available", "byte"),
    0x29: ("subscription_identifier_available", "byte"),
    0x2A: ("shared_subscription_available", "byte"),
}
_REPEATABLE: Final = frozenset({0x26, 0x0B})  # user properties; subscription ids in PUBLISH

PropValue = int | str | bytes | tuple[str, str]


@dataclass(frozen=True, slots=True)
class Properties:
    """The properties of one packet, in order (identifier, value)."""

    items: tuple[tuple[int, PropValue], ...] = ()

    def get(self, name: str) -> PropValue | None:
        for ident, value in self.items:
            if PROPERTY_TYPES[ident][0] == name:
                return value
        return None


def parse_properties(body: Body) -> Properties:
    """A property length (varint) then that many bytes of properties."""
    length = body.varint("property length")
    if length > body.left():
        raise body.fail(f"property length {length} exceeds the {body.left()} bytes left")
    end = body.pos + length
    items: list[tuple[int, PropValue]] = []
    seen: set[int] = set()
    while body.pos < end:
        at = body.pos
        ident = body.varint("property identifier")
        known = PROPERTY_TYPES.get(ident)
        if known is None:
            raise body.fail(f"unknown property identifier 0x{ident:02x}", at)
        name, kind = known
        if ident in seen and ident not in _REPEATABLE:
            raise body.fail(f"property {name} given twice", at)
        seen.add(ident)
        value: PropValue
        if kind == "byte":
            value = body.byte(name)
        elif kind == "u16":
            value = body.u16(name)
        elif kind == "u32":
            value = body.u32(name)
        elif kind == "varint":
            value = body.varint(name)
        elif kind == "utf8":
            value = body.text(name)
        elif kind == "binary":
            value = body.binary(name)
        else:
            value = (body.text(f"{name} key"), body.text(f"{name} value"))
        if body.pos > end:
            raise body.fail(f"property {name} runs past the property length", at)
        items.append((ident, value))
    return Properties(tuple(items))


def encode_properties(items: Iterable[tuple[int, PropValue]]) -> bytes:
    out = bytearray()
    for ident, value in items:
        name, kind = PROPERTY_TYPES[ident]
        out += encode_varint(ident)
        if kind == "byte" and isinstance(value, int):
            out += bytes([value])
        elif kind == "u16" and isinstance(value, int):
            out += struct.pack(">H", value)
        elif kind == "u32" and isinstance(value, int):
            out += struct.pack(">I", value)
        elif kind == "varint" and isinstance(value, int):
            out += encode_varint(value)
        elif kind == "utf8" and isinstance(value, str):
            out += utf8_field(name, value)
        elif kind == "binary" and isinstance(value, bytes):
            out += binary_field(name, value)
        elif kind == "pair" and isinstance(value, tuple):
            out += utf8_field(name, value[0]) + utf8_field(name, value[1])
        else:
            raise TypeError(f"property {name}: a {kind}, got {value!r}")
    return encode_varint(len(out)) + bytes(out)


# --- framing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    first: int  # the fixed header's first byte: type << 4 | flags
    body: bytes
    offset: int  # of the body in the received stream
    start: int  # of the fixed header in the received stream

    @property
    def kind(self) -> int:
        return self.first >> 4

    @property
    def name(self) -> str:
        return NAMES.get(self.kind, f"type {self.kind}")


class FrameReader:
    """Splits a received byte stream into packets, wherever the reads split it. A packet
    longer than `max_packet_size` (fixed header included) is refused once its length is
    known: its body is never buffered."""

    def __init__(self, max_packet_size: int = DEFAULT_MAX_PACKET) -> None:
        self.max_packet_size = max_packet_size
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray) -> Iterator[Frame]:
        self._buf += data
        while self._buf:
            first = self._buf[0]
            if first >> 4 == 0:
                raise ProtocolError("packet type 0 is reserved", self._offset)
            got = decode_varint(self._buf, 1, self._offset)
            if got is None:
                return
            length, start = got
            total = start + length
            if total > self.max_packet_size:
                name = NAMES.get(first >> 4, "")
                raise PacketTooLarge(total, self.max_packet_size, self._offset + 1, name)
            if len(self._buf) < total:
                return
            body = bytes(self._buf[start:total])
            frame = Frame(first, body, self._offset + start, self._offset)
            del self._buf[:total]
            self._offset += total
            yield frame
