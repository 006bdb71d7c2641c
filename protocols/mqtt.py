"""MQTT client codec and session state (sans-IO: bytes in, events out; no sockets, no clock).

What the daemon needs to listen to a site's sensors: CONNECT (clean start, keep-alive,
credentials, a will on the availability topic), CONNACK, SUBSCRIBE/SUBACK at QoS 0 or 1,
PUBLISH received at QoS 0/1 (PUBACK sent for QoS 1), PUBLISH sent (the availability topic),
PINGREQ/PINGRESP and DISCONNECT. Protocol level 5 (MQTT 5.0) first; a broker that refuses it
(CONNACK 0x84 "unsupported protocol version", or a 3.1.1 broker's return code 1) makes the
event say so, and the caller reconnects at level 4 (MQTT 3.1.1).

Limits are checked before anything is buffered: a packet whose fixed header announces more
than `max_packet_size` bytes raises `PacketTooLarge` as soon as its length is read. Every
malformed packet raises `ProtocolError` naming what is wrong and the byte offset in the
received stream where it is; the caller closes the connection (the spec's answer to a
malformed packet). Facts from the OASIS MQTT 3.1.1 and 5.0 specifications.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "DEFAULT_MAX_PACKET",
    "ClientSettings",
    "ConnectRefused",
    "Connected",
    "Event",
    "FrameReader",
    "Message",
    "MqttClient",
    "PacketTooLarge",
    "Pong",
    "Properties",
    "ProtocolError",
    "PublishAcked",
    "ServerDisconnect",
    "Subscribed",
    "decode_varint",
    "encode_varint",
    "parse_properties",
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

ProtocolLevel = Literal[4, 5]
UNSUPPORTED_VERSION_5: Final = 0x84  # MQTT 5 CONNACK reason code
UNACCEPTABLE_VERSION_311: Final = 0x01  # MQTT 3.1.1 CONNACK return code


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


def _utf8(name: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError(f"{name}: at most 65535 bytes of UTF-8, got {len(data)}")
    if "\x00" in text:
        raise ValueError(f"{name}: must not contain U+0000")
    return struct.pack(">H", len(data)) + data


def _binary(name: str, data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"{name}: at most 65535 bytes, got {len(data)}")
    return struct.pack(">H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


class _Body:
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


def parse_properties(body: _Body) -> Properties:
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
            out += _utf8(name, value)
        elif kind == "binary" and isinstance(value, bytes):
            out += _binary(name, value)
        elif kind == "pair" and isinstance(value, tuple):
            out += _utf8(name, value[0]) + _utf8(name, value[1])
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


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    session_present: bool
    level: ProtocolLevel
    server_keep_alive: int | None  # MQTT 5: the broker's keep-alive, which the client must use
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True, slots=True)
class ConnectRefused:
    code: int
    reason: str
    try_level: ProtocolLevel | None  # the level to reconnect at, when the level was refused


@dataclass(frozen=True, slots=True)
class Subscribed:
    packet_id: int
    granted: tuple[int, ...]  # per filter: the QoS granted, or a failure code >= 0x80


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int | None
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True, slots=True)
class PublishAcked:
    packet_id: int
    code: int


@dataclass(frozen=True, slots=True)
class Pong:
    pass


@dataclass(frozen=True, slots=True)
class ServerDisconnect:
    code: int
    reason: str


Event = Connected | ConnectRefused | Subscribed | Message | PublishAcked | Pong | ServerDisconnect

CONNACK_REASONS: Final = {
    # MQTT 3.1.1 return codes
    (4, 1): "unacceptable protocol version",
    (4, 2): "identifier rejected",
    (4, 3): "server unavailable",
    (4, 4): "bad user name or password",
    (4, 5): "not authorized",
    # MQTT 5 reason codes
    (5, 0x80): "unspecified error",
    (5, 0x81): "malformed packet",
    (5, 0x82): "protocol error",
    (5, 0x83): "implementation specific error",
    (5, 0x84): "unsupported protocol version",
    (5, 0x85): "client identifier not valid",
    (5, 0x86): "bad user name or password",
    (5, 0x87): "not authorized",
    (5, 0x88): "server unavailable",
    (5, 0x89): "server busy",
    (5, 0x8A): "banned",
    (5, 0x8C): "bad authentication method",
    (5, 0x90): "topic name invalid",
    (5, 0x95): "packet too large",
    (5, 0x97): "quota exceeded",
    (5, 0x99): "payload format invalid",
    (5, 0x9A): "retain not supported",
    (5, 0x9B): "QoS not supported",
    (5, 0x9C): "use another server",
    (5, 0x9D): "server moved",
    (5, 0x9F): "connection rate exceeded",
}


# --- the client -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class ClientSettings:
    client_id: str
    keep_alive_s: int = 30
    level: ProtocolLevel = 5
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    max_packet_size: int = DEFAULT_MAX_PACKET


State = Literal["new", "connecting", "connected", "closed"]


class MqttClient:
    """One connection's protocol state. Call `connect()`, send `data_to_send()` after every
    call, feed received bytes to `receive()` and act on the events it returns. Any
    `ProtocolError` leaves the client closed: drop the connection."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.level: ProtocolLevel = settings.level
        self.state: State = "new"
        self.reader = FrameReader(settings.max_packet_size)
        self._out = bytearray()
        self._next_id = 0
        self._pending_subs: dict[int, int] = {}  # packet id → filters asked
        self._pending_pubs: set[int] = set()
        self.pings_outstanding = 0

    # -- what to send ----------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 0xFFFF + 1
        return self._next_id

    def connect(self) -> None:
        s = self.settings
        if self.state != "new":
            raise RuntimeError(f"connect() in state {self.state}")
        flags = 0x02  # clean start / clean session: sensors need no stored session
        payload = _utf8("client id", s.client_id)
        if s.will is not None:
            flags |= 0x04 | (s.will.qos << 3) | (0x20 if s.will.retain else 0)
            if self.level == 5:
                payload += encode_properties(())
            payload += _utf8("will topic", s.will.topic) + _binary("will payload", s.will.payload)
        if s.username is not None:
            flags |= 0x80
            payload += _utf8("username", s.username)
        if s.password is not None:
            flags |= 0x40
            payload += _binary("password", s.password)
        header = _utf8("protocol name", "MQTT") + bytes([self.level, flags])
        header += struct.pack(">H", s.keep_alive_s)
        if self.level == 5:
            # The broker must not send us more than we accept; no topic aliases (default 0).
            header += encode_properties([(0x27, s.max_packet_size)])
        self._out += _packet(CONNECT << 4, header + payload)
        self.state = "connecting"

    def subscribe(self, filters: Sequence[tuple[str, int]]) -> int:
        """One SUBSCRIBE for all `(filter, qos)`; returns its packet id."""
        self._require_connected("subscribe")
        if not filters:
            raise ValueError("subscribe: at least one topic filter")
        pid = self._packet_id()
        body = struct.pack(">H", pid)
        if self.level == 5:
            body += encode_properties(())
        for topic, qos in filters:
            if qos not in (0, 1):
                raise ValueError(f"subscribe: QoS 0 or 1, got {qos}")
            body += _utf8("topic filter", topic) + bytes([qos])
        self._out += _packet(SUBSCRIBE << 4 | 0x02, body)
        self._pending_subs[pid] = len(filters)
        return pid

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> int:
        """Returns the packet id (0 at QoS 0)."""
        self._require_connected("publish")
        if qos not in (0, 1):
            raise ValueError(f"publish: QoS 0 or 1, got {qos}")
        if any(c in topic for c in "+#") or not topic:
            raise ValueError(f"publish: not a topic name: {topic!r}")
        body = _utf8("topic", topic)
        pid = 0
        if qos:
            pid = self._packet_id()
            body += struct.pack(">H", pid)
            self._pending_pubs.add(pid)
        if self.level == 5:
            body += encode_properties(())
        self._out += _packet(PUBLISH << 4 | qos << 1 | int(retain), body + payload)
        return pid

    def ping(self) -> None:
        self._require_connected("ping")
        self._out += _packet(PINGREQ << 4, b"")
        self.pings_outstanding += 1

    def disconnect(self) -> None:
        if self.state == "connected":
            body = b"\x00\x00" if self.level == 5 else b""  # normal disconnection, no properties
            self._out += _packet(DISCONNECT << 4, body)
        self.state = "closed"

    def _require_connected(self, what: str) -> None:
        if self.state != "connected":
            raise RuntimeError(f"{what}() in state {self.state}")

    # -- what was received -----------------------------------------------------------------

    def receive(self, data: bytes | bytearray) -> list[Event]:
        events: list[Event] = []
        try:
            for frame in self.reader.feed(data):
                event = self._handle(frame)
                if event is not None:
                    events.append(event)
        except ProtocolError:
            self.state = "closed"
            raise
        return events

    def _flags(self, frame: Frame, expected: int) -> None:
        if frame.first & 0x0F != expected:
            raise ProtocolError(
                f"reserved flags 0x{frame.first & 0x0F:x} (expected 0x{expected:x})",
                frame.start,
                frame.name,
            )

    def _handle(self, frame: Frame) -> Event | None:
        body = _Body(frame.body, frame.offset, frame.name)
        kind = frame.kind
        if self.state == "connecting" and kind != CONNACK:
            raise ProtocolError("expected CONNACK first", frame.start, frame.name)
        if kind == CONNACK:
            return self._connack(frame, body)
        if kind == PUBLISH:
            return self._publish(frame, body)
        if kind == PUBACK:
            self._flags(frame, 0)
            pid = body.u16("packet id")
            code = 0
            if self.level == 5 and body.left():
                code = body.byte("reason code")
                if body.left():
                    parse_properties(body)
            self._end(body)
            if pid not in self._pending_pubs:
                raise body.fail(f"PUBACK for packet id {pid}, which was not sent", 0)
            self._pending_pubs.discard(pid)
            return PublishAcked(pid, code)
        if kind == SUBACK:
            self._flags(frame, 0)
            pid = body.u16("packet id")
            if self.level == 5:
                parse_properties(body)
            at = body.pos
            codes = tuple(body.data[body.pos :])
            body.pos = len(body.data)
            asked = self._pending_subs.pop(pid, None)
            if asked is None:
                raise body.fail(f"SUBACK for packet id {pid}, which was not sent", 0)
            if len(codes) != asked:
                raise body.fail(f"{len(codes)} reason codes for {asked} topic filters", at)
            for n, code in enumerate(codes):
                if code not in (0, 1) and code < 0x80:
                    raise body.fail(f"reason code 0x{code:02x} is not a SUBACK code", at + n)
            return Subscribed(pid, codes)
        if kind == PINGRESP:
            self._flags(frame, 0)
            self._end(body)
            self.pings_outstanding = 0
            return Pong()
        if kind == DISCONNECT and self.level == 5:
            self._flags(frame, 0)
            code = body.byte("reason code") if body.left() else 0
            props = parse_properties(body) if body.left() else Properties()
            self._end(body)
            self.state = "closed"
            reason = props.get("reason_string")
            return ServerDisconnect(code, reason if isinstance(reason, str) else "")
        raise ProtocolError(f"unexpected {frame.name} from a broker", frame.start, frame.name)

    def _end(self, body: _Body) -> None:
        if body.left():
            raise body.fail(f"{body.left()} bytes past the end of the packet")

    def _connack(self, frame: Frame, body: _Body) -> Event:
        if self.state != "connecting":
            raise ProtocolError("CONNACK when already connected", frame.start, frame.name)
        self._flags(frame, 0)
        at = body.pos
        flags = body.byte("acknowledge flags")
        if flags & 0xFE:
            raise body.fail(f"reserved acknowledge flags 0x{flags:02x}", at)
        code = body.byte("reason code")
        if self.level == 5 and not body.left():
            # A 3.1.1 broker answering our level-5 CONNECT in its own format (2 bytes).
            if code == UNACCEPTABLE_VERSION_311:
                self.state = "closed"
                return ConnectRefused(code, CONNACK_REASONS[(4, 1)], 4)
            raise body.fail("property length missing")
        props = parse_properties(body) if self.level == 5 else Properties()
        self._end(body)
        if code != 0:
            self.state = "closed"
            retry: ProtocolLevel | None = None
            if self.level == 5 and code == UNSUPPORTED_VERSION_5:
                retry = 4
            reason = CONNACK_REASONS.get((self.level, code), f"code 0x{code:02x}")
            text = props.get("reason_string")
            if isinstance(text, str) and text:
                reason = f"{reason}: {text}"
            return ConnectRefused(code, reason, retry)
        if flags & 0x01:
            # Clean start asked: the broker must not claim a stored session [MQTT-3.2.2-2].
            raise body.fail("session present after a clean start", at)
        self.state = "connected"
        keep = props.get("server_keep_alive")
        return Connected(False, self.level, keep if isinstance(keep, int) else None, props)

    def _publish(self, frame: Frame, body: _Body) -> Message:
        qos = (frame.first >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("QoS 3 is malformed", frame.start, frame.name)
        if qos == 2:  # never subscribed at 2, so the broker may not send it
            raise ProtocolError("QoS 2 was never subscribed", frame.start, frame.name)
        topic_at = body.pos
        topic = body.text("topic name")
        if any(c in topic for c in "+#"):
            raise body.fail("topic name holds a wildcard", topic_at)
        pid = None
        if qos:
            pid = body.u16("packet id")
            if pid == 0:
                raise body.fail("packet id 0", body.pos - 2)
        props = Properties()
        if self.level == 5:
            props_at = body.pos
            props = parse_properties(body)
            if props.get("topic_alias") is not None:
                # We allow no aliases (topic alias maximum 0): the broker may not use one.
                raise body.fail("topic alias, though the client allows none", props_at)
        if not topic:
            raise body.fail("empty topic name", topic_at)
        payload = body.data[body.pos :]
        if qos == 1 and pid is not None:
            ack = struct.pack(">H", pid)
            self._out += _packet(PUBACK << 4, ack)  # 3.1.1 and 5 (reason 0 may be omitted)
        return Message(
            topic,
            payload,
            qos,
            bool(frame.first & 0x01),
            bool(frame.first & 0x08),
            pid,
            props,
        )
