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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from .mqtt_wire import (
    CONNACK,
    CONNECT,
    DEFAULT_MAX_PACKET,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PROPERTY_TYPES,
    PUBACK,
    PUBLISH,
    SUBACK,
    SUBSCRIBE,
    Body,
    Frame,
    FrameReader,
    PacketTooLarge,
    Properties,
    ProtocolError,
    binary_field,
    decode_varint,
    encode_properties,
    encode_varint,
    packet,
    parse_properties,
    utf8_field,
)

__all__ = [
    "DEFAULT_MAX_PACKET",
    "PROPERTY_TYPES",
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
    "encode_properties",
    "encode_varint",
    "parse_properties",
]

ProtocolLevel = Literal[4, 5]
UNSUPPORTED_VERSION_5: Final = 0x84  # MQTT 5 CONNACK reason code
UNACCEPTABLE_VERSION_311: Final = 0x01  # MQTT 3.1.1 CONNACK return code


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
        payload = utf8_field("client id", s.client_id)
        if s.will is not None:
            flags |= 0x04 | (s.will.qos << 3) | (0x20 if s.will.retain else 0)
            if self.level == 5:
                payload += encode_properties(())
            payload += utf8_field("will topic", s.will.topic)
            payload += binary_field("will payload", s.will.payload)
        if s.username is not None:
            flags |= 0x80
            payload += utf8_field("username", s.username)
        if s.password is not None:
            flags |= 0x40
            payload += binary_field("password", s.password)
        header = utf8_field("protocol name", "MQTT") + bytes([self.level, flags])
        header += struct.pack(">H", s.keep_alive_s)
        if self.level == 5:
            # The broker must not send us more than we accept; no topic aliases (default 0).
            header += encode_properties([(0x27, s.max_packet_size)])
        self._out += packet(CONNECT << 4, header + payload)
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
            body += utf8_field("topic filter", topic) + bytes([qos])
        self._out += packet(SUBSCRIBE << 4 | 0x02, body)
        self._pending_subs[pid] = len(filters)
        return pid

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> int:
        """Returns the packet id (0 at QoS 0)."""
        self._require_connected("publish")
        if qos not in (0, 1):
            raise ValueError(f"publish: QoS 0 or 1, got {qos}")
        if any(c in topic for c in "+#") or not topic:
            raise ValueError(f"publish: not a topic name: {topic!r}")
        body = utf8_field("topic", topic)
        pid = 0
        if qos:
            pid = self._packet_id()
            body += struct.pack(">H", pid)
            self._pending_pubs.add(pid)
        if self.level == 5:
            body += encode_properties(())
        self._out += packet(PUBLISH << 4 | qos << 1 | int(retain), body + payload)
        return pid

    def ping(self) -> None:
        self._require_connected("ping")
        self._out += packet(PINGREQ << 4, b"")
        self.pings_outstanding += 1

    def disconnect(self) -> None:
        if self.state == "connected":
            body = b"\x00\x00" if self.level == 5 else b""  # normal disconnection, no properties
            self._out += packet(DISCONNECT << 4, body)
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
        body = Body(frame.body, frame.offset, frame.name)
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

    def _end(self, body: Body) -> None:
        if body.left():
            raise body.fail(f"{body.left()} bytes past the end of the packet")

    def _connack(self, frame: Frame, body: Body) -> Event:
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

    def _publish(self, frame: Frame, body: Body) -> Message:
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
            self._out += packet(PUBACK << 4, ack)  # 3.1.1 and 5 (reason 0 may be omitted)
        return Message(
            topic,
            payload,
            qos,
            bool(frame.first & 0x01),
            bool(frame.first & 0x08),
            pid,
            props,
        )
