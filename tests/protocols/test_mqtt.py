"""The MQTT client codec: byte vectors with their fields annotated, round trips, every
malformed case with its offset, the size limit before buffering, and split-anywhere feeding."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.protocols.mqtt import (
    PROPERTY_TYPES,
    ClientSettings,
    Connected,
    ConnectRefused,
    Event,
    FrameReader,
    Message,
    MqttClient,
    PacketTooLarge,
    Pong,
    ProtocolError,
    PublishAcked,
    ServerDisconnect,
    Subscribed,
    Will,
    decode_varint,
    encode_properties,
    encode_varint,
    parse_properties,
)
from trocadero.protocols.mqtt_topics import matches
from trocadero.protocols.mqtt_wire import Body


def s(text: str) -> bytes:  # a UTF-8 string field
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


CONNACK5_OK = packet(0x20, b"\x00\x00\x00")  # flags 0, reason 0, no properties
CONNACK4_OK = packet(0x20, b"\x00\x00")


def connected(level: int = 5, **kw: object) -> MqttClient:
    client = MqttClient(ClientSettings("c1", level=level, **kw))  # type: ignore[arg-type]
    client.connect()
    client.data_to_send()
    (event,) = client.receive(CONNACK5_OK if level == 5 else CONNACK4_OK)
    assert isinstance(event, Connected)
    return client


# --- primitives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_varint_boundaries_round_trip(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert decode_varint(encoded, 0) == (value, len(encoded))
    assert decode_varint(encoded[:-1], 0) is None  # incomplete: more bytes needed


def test_varint_limits() -> None:
    with pytest.raises(ValueError, match=r"0\.\.268435455"):
        encode_varint(268_435_456)
    with pytest.raises(ProtocolError) as five:
        decode_varint(b"\x00\xff\xff\xff\xff\x01", 1, base=100)
    assert five.value.offset == 101
    with pytest.raises(ProtocolError, match="minimally"):
        decode_varint(b"\x80\x00", 0)


def test_every_property_round_trips() -> None:
    samples = {"byte": 1, "u16": 513, "u32": 70_000, "varint": 300, "utf8": "é/x"}
    items: list[tuple[int, object]] = []
    for ident, (_name, kind) in PROPERTY_TYPES.items():
        value = {"binary": b"\x00\xff", "pair": ("k", "v")}.get(kind, samples.get(kind))
        items.append((ident, value))
    encoded = encode_properties(items)  # type: ignore[arg-type]
    parsed = parse_properties(Body(encoded, 0, "TEST"))
    assert list(parsed.items) == items
    assert parsed.get("server_keep_alive") == 513
    assert parsed.get("user_property") == ("k", "v")


# --- what the client sends -------------------------------------------------------------------


def test_connect_311_vector() -> None:
    client = MqttClient(ClientSettings("c1", keep_alive_s=60, level=4))
    client.connect()
    assert client.data_to_send() == (
        b"\x10\x0e"  # CONNECT, remaining length 14
        + s("MQTT")  # protocol name
        + b"\x04"  # level 4 = 3.1.1
        + b"\x02"  # flags: clean session
        + b"\x00\x3c"  # keep-alive 60 s
        + s("c1")  # client id
    )


def test_connect_5_with_will_and_credentials_vector() -> None:
    will = Will("site/avail", b"offline")
    client = MqttClient(ClientSettings("c1", 30, 5, "user", b"pw", will, max_packet_size=1024))
    client.connect()
    body = (
        s("MQTT")
        + b"\x05"  # level 5
        + bytes([0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02])  # user, password, will retain,
        # will QoS 1, will, clean start
        + b"\x00\x1e"  # keep-alive 30 s
        + b"\x05\x27\x00\x00\x04\x00"  # properties: maximum packet size 1024
        + s("c1")
        + b"\x00"  # will properties: none
        + s("site/avail")
        + s("offline")
        + s("user")
        + s("pw")
    )
    assert client.data_to_send() == packet(0x10, body)


def test_subscribe_publish_ping_disconnect_vectors() -> None:
    c5 = connected(5)
    assert c5.subscribe([("a/+", 1), ("b/#", 0)]) == 1
    assert c5.data_to_send() == packet(
        0x82, b"\x00\x01" + b"\x00" + s("a/+") + b"\x01" + s("b/#") + b"\x00"
    )
    assert c5.publish("av", b"online", qos=1, retain=True) == 2
    assert c5.data_to_send() == packet(0x33, s("av") + b"\x00\x02" + b"\x00" + b"online")
    c5.ping()
    assert c5.data_to_send() == b"\xc0\x00"
    c5.disconnect()
    assert c5.data_to_send() == b"\xe0\x02\x00\x00"  # normal disconnection, no properties
    c4 = connected(4)
    c4.subscribe([("a", 0)])
    assert c4.data_to_send() == packet(0x82, b"\x00\x01" + s("a") + b"\x00")
    c4.publish("av", b"x")
    assert c4.data_to_send() == packet(0x30, s("av") + b"x")
    c4.disconnect()
    assert c4.data_to_send() == b"\xe0\x00"


def test_refuses_bad_arguments() -> None:
    c = connected()
    with pytest.raises(ValueError, match="not a topic name"):
        c.publish("a/+", b"")
    with pytest.raises(ValueError, match="QoS 0 or 1"):
        c.subscribe([("a", 2)])
    with pytest.raises(RuntimeError):
        MqttClient(ClientSettings("x")).ping()


# --- what the client receives ----------------------------------------------------------------


def test_connack_5_properties() -> None:
    client = MqttClient(ClientSettings("c1"))
    client.connect()
    props = encode_properties(
        [(0x13, 10), (0x12, "assigned"), (0x26, ("a", "b")), (0x26, ("c", "d"))]
    )
    (event,) = client.receive(packet(0x20, b"\x00\x00" + props))
    assert isinstance(event, Connected)
    assert event.server_keep_alive == 10
    assert event.level == 5
    assert event.properties.get("assigned_client_identifier") == "assigned"
    assert client.state == "connected"


@pytest.mark.parametrize(
    ("level", "body", "code", "retry"),
    [
        (5, b"\x00\x84\x00", 0x84, 4),  # MQTT 5 broker: unsupported protocol version
        (5, b"\x00\x01", 0x01, 4),  # 3.1.1 broker answering in its own format
        (5, b"\x00\x86\x00", 0x86, None),  # bad user name or password
        (4, b"\x00\x05", 0x05, None),  # not authorized
    ],
)
def test_connack_refusals(level: int, body: bytes, code: int, retry: int | None) -> None:
    client = MqttClient(ClientSettings("c1", level=level))  # type: ignore[arg-type]
    client.connect()
    (event,) = client.receive(packet(0x20, body))
    assert isinstance(event, ConnectRefused)
    assert (event.code, event.try_level) == (code, retry)
    assert client.state == "closed"


def test_connack_reason_string_in_refusal() -> None:
    client = MqttClient(ClientSettings("c1"))
    client.connect()
    (event,) = client.receive(packet(0x20, b"\x00\x87" + encode_properties([(0x1F, "acl")])))
    assert isinstance(event, ConnectRefused)
    assert event.reason == "not authorized: acl"


def test_publish_qos0_qos1_and_properties() -> None:
    c = connected()
    c.subscribe([("t/#", 1)])
    c.data_to_send()
    events = c.receive(
        packet(0x90, b"\x00\x01\x00\x01")  # SUBACK id 1, granted QoS 1
        + packet(0x31, s("t/a") + b"\x00" + b'{"occupancy":true}')  # QoS 0, retained
        + packet(0x32, s("t/b") + b"\x00\x07" + encode_properties([(0x01, 1), (0x0B, 5)]) + b"ON")
    )
    assert events[0] == Subscribed(1, (1,))
    first, second = events[1], events[2]
    assert isinstance(first, Message)
    assert isinstance(second, Message)
    assert (first.topic, first.payload, first.qos, first.retain) == (
        "t/a",
        b'{"occupancy":true}',
        0,
        True,
    )
    assert (second.qos, second.packet_id, second.retain, second.payload) == (1, 7, False, b"ON")
    assert second.properties.get("subscription_identifier") == 5
    assert c.data_to_send() == b"\x40\x02\x00\x07"  # PUBACK 7


def test_publish_311_and_puback_pong_disconnect() -> None:
    c = connected(4)
    (m,) = c.receive(packet(0x3A, s("x") + b"\x00\x09" + b"12.5"))  # DUP, QoS 1
    assert isinstance(m, Message)
    assert m.dup
    assert m.payload == b"12.5"
    assert c.data_to_send() == b"\x40\x02\x00\x09"
    pid = c.publish("av", b"online", qos=1)
    c.ping()
    assert c.receive(packet(0x40, struct.pack(">H", pid)) + b"\xd0\x00") == [
        PublishAcked(pid, 0),
        Pong(),
    ]
    assert c.pings_outstanding == 0
    c5 = connected(5)
    (d,) = c5.receive(packet(0xE0, b"\x8b" + encode_properties([(0x1F, "shutting down")])))
    assert d == ServerDisconnect(0x8B, "shutting down")
    assert c5.state == "closed"


# --- malformed: what and where ---------------------------------------------------------------

SUBACK_HEAD = packet(0x90, b"\x00\x01\x00\x00")


@pytest.mark.parametrize(
    ("name", "data", "offset", "what"),
    [
        ("reserved type 0", b"\x00\x00", 0, "reserved"),
        ("remaining length of five bytes", b"\x30\xff\xff\xff\xff\x01", 1, "longer than four"),
        ("PINGRESP with flags", b"\xd1\x00", 0, "reserved flags"),
        ("PINGRESP with a body", b"\xd0\x01\x00", 2, "past the end"),
        ("QoS 3", packet(0x36, s("a") + b"\x00\x01\x00"), 0, "QoS 3"),
        ("QoS 2", packet(0x34, s("a") + b"\x00\x01\x00"), 0, "QoS 2"),
        ("topic not UTF-8", packet(0x30, b"\x00\x02a\xff\x00"), 5, "not UTF-8"),
        ("topic with NUL", packet(0x30, b"\x00\x02a\x00\x00"), 5, "U+0000"),
        ("topic with a wildcard", packet(0x30, s("a/+") + b"\x00"), 2, "wildcard"),
        ("empty topic", packet(0x30, s("") + b"\x00"), 2, "empty topic"),
        ("topic longer than the packet", packet(0x30, b"\x00\x09ab"), 4, "9 bytes needed"),
        ("packet id 0", packet(0x32, s("a") + b"\x00\x00\x00"), 5, "packet id 0"),
        ("unknown property", packet(0x30, s("a") + b"\x02\x7f\x00"), 6, "unknown property"),
        ("property twice", packet(0x30, s("a") + b"\x04\x01\x00\x01\x01"), 8, "twice"),
        ("property length past the end", packet(0x30, s("a") + b"\x09\x01"), 6, "exceeds"),
        (
            "property past its length",
            packet(0x30, s("a") + b"\x02\x02\x00\x00\x00\x01"),
            6,
            "runs past",
        ),
        ("topic alias", packet(0x30, s("a") + b"\x03\x23\x00\x01"), 5, "topic alias"),
        ("SUBACK for an unknown id", packet(0x90, b"\x00\x05\x00\x00"), 2, "not sent"),
        ("SUBACK with a bad code", packet(0x90, b"\x00\x01\x00\x02"), 5, "not a SUBACK code"),
        ("SUBACK with too many codes", packet(0x90, b"\x00\x01\x00\x00\x00"), 5, "2 reason codes"),
        ("PUBACK for an unknown id", packet(0x40, b"\x00\x05"), 2, "not sent"),
        ("SUBSCRIBE from the broker", packet(0x82, b"\x00\x01\x00"), 0, "unexpected SUBSCRIBE"),
        ("AUTH", packet(0xF0, b""), 0, "unexpected AUTH"),
        ("a second CONNACK", CONNACK5_OK, 0, "already connected"),
    ],
)
def test_malformed_packets_name_what_and_where(
    name: str, data: bytes, offset: int, what: str
) -> None:
    c = connected()
    c.subscribe([("a", 0)])
    c.data_to_send()
    before = 5  # the CONNACK's bytes came first in this stream
    with pytest.raises(ProtocolError) as info:
        c.receive(data)
    assert what in info.value.what, (name, str(info.value))
    assert info.value.offset == before + offset, (name, str(info.value))
    assert f"(at byte {before + offset})" in str(info.value)
    assert c.state == "closed"


def test_a_packet_before_connack_is_refused() -> None:
    c = MqttClient(ClientSettings("c1"))
    c.connect()
    with pytest.raises(ProtocolError, match="expected CONNACK first"):
        c.receive(b"\xd0\x00")


def test_malformed_connacks() -> None:
    for body, offset, what in [
        (b"\x02\x00\x00", 2, "reserved acknowledge flags"),
        (b"\x01\x00\x00", 2, "session present"),
        (b"\x00\x00", 4, "property length missing"),
        (b"\x00", 3, "1 bytes needed"),
    ]:
        c = MqttClient(ClientSettings("c1"))
        c.connect()
        with pytest.raises(ProtocolError) as info:
            c.receive(packet(0x20, body))
        assert what in info.value.what, str(info.value)
        assert info.value.offset == offset, str(info.value)


def test_oversize_is_refused_from_the_fixed_header_before_buffering() -> None:
    reader = FrameReader(max_packet_size=1024)
    ok = packet(0x30, s("t") + b"x" * 1000)
    assert len(list(reader.feed(ok))) == 1  # 1006 bytes: within the limit
    header = b"\x30" + encode_varint(10 << 20)  # announces 10 MiB
    with pytest.raises(PacketTooLarge) as info:
        list(reader.feed(header))
    assert info.value.size == 10 * (1 << 20) + 5
    assert info.value.limit == 1024
    assert info.value.offset == len(ok) + 1  # the length field
    assert reader.buffered == len(header)  # no body was waited for or kept


def test_limit_counts_the_fixed_header() -> None:
    reader = FrameReader(max_packet_size=10)
    assert len(list(reader.feed(packet(0x30, b"x" * 8)))) == 1  # 2 + 8 = 10
    with pytest.raises(PacketTooLarge):
        list(reader.feed(packet(0x30, b"x" * 9)))


def test_split_anywhere_gives_the_same_events() -> None:
    stream = (
        packet(0x90, b"\x00\x01\x00\x01")
        + packet(0x30, s("s/1") + b"\x00" + b"ON")
        + packet(
            0x32, s("s/2") + b"\x00\x02" + encode_properties([(0x26, ("k", "v"))]) + b"x" * 300
        )
        + b"\xd0\x00"
    )

    def run(chunks: list[bytes]) -> tuple[list[Event], bytes]:
        c = MqttClient(ClientSettings("c1"))
        c.connect()
        c.data_to_send()
        events: list[Event] = []
        for i in range(len(CONNACK5_OK)):  # the CONNACK byte by byte
            events += c.receive(CONNACK5_OK[i : i + 1])
        c.subscribe([("s/#", 1)])
        c.ping()
        c.data_to_send()
        for chunk in chunks:
            events += c.receive(chunk)
        return events, c.data_to_send()

    whole = run([stream])
    names = [type(e).__name__ for e in whole[0]]
    assert names == ["Connected", "Subscribed", "Message", "Message", "Pong"]
    assert whole[1] == b"\x40\x02\x00\x02"  # the PUBACK
    for cut in range(1, len(stream)):
        assert run([stream[:cut], stream[cut:]]) == whole, cut
    assert run([stream[i : i + 1] for i in range(len(stream))]) == whole
    assert run([stream + b"\xd0"])[0] == whole[0]  # a trailing partial packet waits


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("+/+", "/x", True),
        ("#", "anything/at/all", True),
        ("#", "$SYS/broker", False),
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
        ("zigbee2mqtt/+", "zigbee2mqtt/stairs", True),
        ("zigbee2mqtt/+", "zigbee2mqtt/stairs/availability", False),
        ("a/b", "a/c", False),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


# --- properties (Hypothesis) -----------------------------------------------------------------

PUBLISHES = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(blacklist_characters="+#\x00", min_codepoint=1), min_size=1),
        st.binary(max_size=300),
        st.booleans(),
        st.integers(1, 0xFFFF) | st.none(),
    ),
    max_size=8,
)


@given(PUBLISHES, st.data())
@settings(max_examples=200, deadline=None)
def test_any_publishes_split_anywhere_round_trip(
    publishes: list[tuple[str, bytes, bool, int | None]], data: st.DataObject
) -> None:
    stream = b""
    for topic, payload, retain, pid in publishes:
        head = s(topic) + (b"" if pid is None else struct.pack(">H", pid))
        first = 0x30 | (0 if pid is None else 0x02) | int(retain)
        stream += packet(first, head + b"\x00" + payload)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    c = connected()
    events: list[Event] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += c.receive(stream[a:b])
    got = [(m.topic, m.payload, m.retain, m.packet_id) for m in events if isinstance(m, Message)]
    assert got == publishes
    acks = b"".join(packet(0x40, struct.pack(">H", p)) for *_, p in publishes if p is not None)
    assert c.data_to_send() == acks


@given(st.binary(max_size=200), st.sampled_from([4, 5]))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_give_events_or_a_protocol_error_only(data: bytes, level: int) -> None:
    c = connected(level)
    c.subscribe([("a", 1)])
    c.publish("b", b"", qos=1)
    before = len(CONNACK5_OK if level == 5 else CONNACK4_OK)
    error: ProtocolError | None = None
    try:
        c.receive(data)
    except ProtocolError as exc:  # nothing else may escape: no IndexError, struct.error, …
        error = exc
    if error is not None:
        assert before <= error.offset <= before + len(data)
        assert c.state == "closed"
