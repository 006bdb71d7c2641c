"""Art-Net 4 codec: hand-written byte vectors, decoder hardening, properties, tshark."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols import artnet
from trocadero.protocols.artnet import (
    ArtDmx,
    ArtNetError,
    ArtNetUnsupported,
    ArtPoll,
    ArtPollReply,
    ArtSync,
    decode_artnet,
    dmx_template,
    port_address,
    split_port_address,
)

from .helpers import hexbytes, text_field, tshark_fields
from .pcap import udp_frame, write_pcap

# ---------------------------------------------------------------------------------------------
# Vectors, written out by hand.

# ArtDmx, Port-Address 0x0423 (Net 4, Sub-Net 2, Universe 3), 5 slots padded to 6.
ARTDMX = hexbytes(
    "4172742d4e657400",  # 0  ID "Art-Net\0"
    "0050",  # 8  OpCode 0x5000 OpDmx, low byte first
    "000e",  # 10 ProtVerHi 0, ProtVerLo 14
    "09",  # 12 Sequence 9
    "01",  # 13 Physical 1
    "23",  # 14 SubUni: Sub-Net 2 << 4 | Universe 3
    "04",  # 15 Net 4
    "0006",  # 16 Length 6, big-endian (5 slots padded to even)
    "0102030405",  # 18 slots 1..5
    "00",  # 23 pad slot 6
)
ARTDMX_PACKET = ArtDmx(port_address=0x0423, data=b"\x01\x02\x03\x04\x05", sequence=9, physical=1)

ARTSYNC = hexbytes(
    "4172742d4e657400",  # 0  ID "Art-Net\0"
    "0052",  # 8  OpCode 0x5200 OpSync, low byte first
    "000e",  # 10 ProtVer 14
    "00",  # 12 Aux1
    "00",  # 13 Aux2
)

ARTPOLL_SHORT = hexbytes(
    "4172742d4e657400",  # 0  ID "Art-Net\0"
    "0020",  # 8  OpCode 0x2000 OpPoll, low byte first
    "000e",  # 10 ProtVer 14
    "06",  # 12 Flags: reply on change (0x02) | send diagnostics (0x04)
    "10",  # 13 DiagPriority DpLow
)
ARTPOLL_SHORT_PACKET = ArtPoll(flags=0x06, diag_priority=artnet.DP_LOW)

ARTPOLL = hexbytes(
    "4172742d4e657400",  # 0  ID "Art-Net\0"
    "0020",  # 8  OpCode 0x2000 OpPoll
    "000e",  # 10 ProtVer 14
    "26",  # 12 Flags: targeted (0x20) | send diagnostics (0x04) | reply on change (0x02)
    "40",  # 13 DiagPriority DpMed
    "0064",  # 14 TargetPortAddressTop 100, big-endian
    "0005",  # 16 TargetPortAddressBottom 5, big-endian
    "7ff0",  # 18 EstaManHi/Lo 0x7FF0
    "abcd",  # 20 OemHi/Lo 0xABCD
)
ARTPOLL_PACKET = ArtPoll(0x26, artnet.DP_MED, 100, 5, 0x7FF0, 0xABCD)

ARTPOLLREPLY = hexbytes(
    "4172742d4e657400",  # 0   ID "Art-Net\0"
    "0021",  # 8   OpCode 0x2100 OpPollReply (no ProtVer in this packet)
    "0a630001",  # 10  IP address 10.99.0.1
    "3619",  # 14  Port 0x1936, low byte first
    "0102",  # 16  VersInfoH 1, VersInfoL 2
    "04",  # 18  NetSwitch 4
    "02",  # 19  SubSwitch 2
    "00ff",  # 20  OemHi/Oem 0x00FF
    "00",  # 22  Ubea version 0
    "d0",  # 23  Status1 0xD0
    "f07f",  # 24  EstaMan 0x7FF0, low byte first
    text_field("Trocadero", 18, "latin-1"),  # 26  ShortName, NUL-padded to 18
    text_field("Trocadero playout (facade)", 64, "latin-1"),  # 44  LongName, 64
    text_field("#0001 [0001] Power On Tests successful", 64, "latin-1"),  # 108 NodeReport, 64
    "0004",  # 172 NumPortsHi/Lo 4
    "80808080",  # 174 PortTypes: 4 x can output from Art-Net, DMX512
    "08080808",  # 178 GoodInput: 4 x input disabled
    "80808080",  # 182 GoodOutputA: 4 x data being transmitted
    "00010203",  # 186 SwIn: universes 0..3
    "04050607",  # 190 SwOut: universes 4..7
    "64",  # 194 AcnPriority 100
    "00",  # 195 SwMacro
    "00",  # 196 SwRemote
    "000000",  # 197 Spare
    "01",  # 200 Style StController
    "02000a630001",  # 201 MAC 02:00:0a:63:00:01, high byte first
    "0a630001",  # 207 BindIp 10.99.0.1
    "01",  # 211 BindIndex 1
    "08",  # 212 Status2: supports 15-bit Port-Address
    "c0c0c0c0",  # 213 GoodOutputB
    "00",  # 217 Status3
    "000000000000",  # 218 DefaultResponder UID
    "1234",  # 224 UserHi/Lo 0x1234
    "002c",  # 226 RefreshRateHi/Lo 44 Hz
    "0000000000000000000000",  # 228 filler, 11 bytes → total 239
)
ARTPOLLREPLY_PACKET = ArtPollReply(
    ip=IPv4Address("10.99.0.1"),
    short_name="Trocadero",
    long_name="Trocadero playout (facade)",
    version_info=0x0102,
    net_switch=4,
    sub_switch=2,
    oem=0x00FF,
    status1=0xD0,
    esta_manufacturer=0x7FF0,
    node_report="#0001 [0001] Power On Tests successful",
    num_ports=4,
    port_types=b"\x80" * 4,
    good_input=b"\x08" * 4,
    good_output_a=b"\x80" * 4,
    sw_in=b"\x00\x01\x02\x03",
    sw_out=b"\x04\x05\x06\x07",
    acn_priority=100,
    style=artnet.STYLE_CONTROLLER,
    mac=bytes.fromhex("02000a630001"),
    bind_ip=IPv4Address("10.99.0.1"),
    bind_index=1,
    status2=0x08,
    good_output_b=b"\xc0" * 4,
    user=0x1234,
    refresh_rate=44,
)

VECTORS = [
    pytest.param(ARTDMX, ARTDMX_PACKET, id="artdmx"),
    pytest.param(ARTSYNC, ArtSync(), id="artsync"),
    pytest.param(ARTPOLL_SHORT, ARTPOLL_SHORT_PACKET, id="artpoll-14"),
    pytest.param(ARTPOLL, ARTPOLL_PACKET, id="artpoll-22"),
    pytest.param(ARTPOLLREPLY, ARTPOLLREPLY_PACKET, id="artpollreply"),
]
AnyPacket = ArtDmx | ArtSync | ArtPoll | ArtPollReply


def test_vector_sizes() -> None:
    assert (len(ARTDMX), len(ARTSYNC), len(ARTPOLL_SHORT), len(ARTPOLL)) == (24, 14, 14, 22)
    assert len(ARTPOLLREPLY) == artnet.ARTPOLL_REPLY_SIZE == 239


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_encode_matches_vector(wire: bytes, packet: AnyPacket) -> None:
    assert packet.to_bytes() == wire


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_decode_vector(wire: bytes, packet: AnyPacket) -> None:
    assert decode_artnet(wire) == packet
    assert decode_artnet(memoryview(bytearray(wire))) == packet


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_trailing_bytes_are_ignored(wire: bytes, packet: AnyPacket) -> None:
    """Art-Net packets may grow at the end in later revisions: extra bytes are ignored."""
    short_poll = isinstance(packet, ArtPoll) and packet.target_top is None
    extra = b"\xff" * 7 if short_poll else b"\xff"  # 21 bytes: still a 14-byte-form ArtPoll
    assert decode_artnet(wire + extra) == packet


def expected_truncation_ok(packet: AnyPacket, n: int) -> bool:
    if isinstance(packet, ArtPollReply):
        return n >= artnet.ARTPOLL_REPLY_MIN_SIZE  # older, shorter replies are accepted
    if isinstance(packet, ArtPoll):
        return n >= artnet.ARTPOLL_MIN_SIZE  # the Art-Net 4 fields are optional
    return False


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_truncated_at_every_length(wire: bytes, packet: AnyPacket) -> None:
    for n in range(len(wire)):
        if expected_truncation_ok(packet, n):
            decoded = decode_artnet(wire[:n])
            assert type(decoded) is type(packet)
        else:
            with pytest.raises(ArtNetError):
                decode_artnet(wire[:n])


def test_old_short_pollreply_reads_missing_fields_as_zero() -> None:
    decoded = decode_artnet(ARTPOLLREPLY[:207])
    assert isinstance(decoded, ArtPollReply)
    assert decoded.mac == ARTPOLLREPLY_PACKET.mac
    assert decoded.bind_ip == IPv4Address(0)
    assert decoded.status2 == 0
    assert decoded.refresh_rate == 0


def patch(wire: bytes, offset: int, value: str) -> bytes:
    new = bytes.fromhex(value)
    return wire[:offset] + new + wire[offset + len(new) :]


@pytest.mark.parametrize(
    ("wire", "offset", "value", "message"),
    [
        (ARTDMX, 0, "61", r"ID .* at offset 0"),
        (ARTDMX, 7, "20", r"ID .* at offset 0"),
        (ARTDMX, 10, "000d", r"ProtVer 13 at offset 10 is below 14"),
        (ARTDMX, 16, "0000", r"Length 0 at offset 16 out of range 2\.\.512"),
        (ARTDMX, 16, "0202", r"Length 514 at offset 16 out of range 2\.\.512"),
        (ARTDMX, 16, "0008", r"DMX data of Length 8 at offset 18 needs 26 bytes, got 24"),
        (ARTSYNC, 10, "0000", r"ProtVer 0 at offset 10"),
        (ARTPOLL, 10, "0001", r"ProtVer 1 at offset 10"),
        (ARTPOLL, 14, "8000", r"TargetPortAddressTop 32768 at offset 14"),
        (ARTPOLL, 16, "ffff", r"TargetPortAddressBottom 65535 at offset 16"),
        (ARTPOLLREPLY, 18, "80", r"NetSwitch 128 at offset 18"),
        (ARTPOLLREPLY, 19, "10", r"SubSwitch 16 at offset 19"),
        (ARTPOLLREPLY, 26, "41" * 18, r"ShortName at offset 26 is not NUL-terminated"),
        (ARTPOLLREPLY, 44, "41" * 64, r"LongName at offset 44 is not NUL-terminated"),
        (ARTPOLLREPLY, 108, "41" * 64, r"NodeReport at offset 108 is not NUL-terminated"),
        (ARTPOLLREPLY, 172, "0005", r"NumPorts 5 at offset 172 out of range 0\.\.4"),
    ],
)
def test_corrupted_fields_are_named(wire: bytes, offset: int, value: str, message: str) -> None:
    with pytest.raises(ArtNetError, match=message):
        decode_artnet(patch(wire, offset, value))


def test_unsupported_opcode() -> None:
    with pytest.raises(ArtNetUnsupported, match=r"OpCode 0x6000 at offset 8") as info:
        decode_artnet(patch(ARTDMX, 8, "0060"))
    assert info.value.opcode == 0x6000


def test_odd_length_received_is_padded() -> None:
    wire = patch(ARTDMX, 16, "0005")[:-1]  # an odd Length 5 from a non-conforming sender
    decoded = decode_artnet(wire)
    assert isinstance(decoded, ArtDmx)
    assert decoded.data == b"\x01\x02\x03\x04\x05\x00"


def test_net_high_bit_is_ignored() -> None:
    decoded = decode_artnet(patch(ARTDMX, 15, "84"))
    assert isinstance(decoded, ArtDmx)
    assert decoded.port_address == 0x0423


# ---------------------------------------------------------------------------------------------
# Port-Address, templates, lengths, sequence


def test_port_address_helpers() -> None:
    assert port_address(4, 2, 3) == 0x0423
    assert port_address(127, 15, 15) == 0x7FFF
    assert split_port_address(0x0423) == (4, 2, 3)
    for address in (0, 1, 0xFF, 0x100, 0x4321, 0x7FFF):
        assert port_address(*split_port_address(address)) == address
    with pytest.raises(ValueError, match=r"net must be in 0\.\.127"):
        port_address(128, 0, 0)
    with pytest.raises(ValueError, match=r"subnet must be in 0\.\.15"):
        port_address(0, 16, 0)
    with pytest.raises(ValueError, match=r"universe must be in 0\.\.15"):
        port_address(0, 0, 16)
    with pytest.raises(ValueError, match=r"port_address must be in 0\.\.32767"):
        split_port_address(0x8000)


@pytest.mark.parametrize("slots", [1, 2, 3, 24, 510, 511, 512])
def test_lengths(slots: int) -> None:
    wire = ArtDmx(0x7FFF, bytes([0xAB]) * slots).to_bytes()
    even = slots + (slots & 1)
    assert len(wire) == 18 + even
    assert wire[16:18] == even.to_bytes(2, "big")
    assert wire[14:16] == b"\xff\x7f"  # SubUni then Net
    assert wire[8:12] == b"\x00\x50\x00\x0e"  # OpCode little-endian, ProtVer big-endian
    assert wire[18 + slots :] == bytes(even - slots)


def test_template_patching_equals_builder() -> None:
    data = bytes(range(255))
    buf = dmx_template(0x1234, len(data), physical=2)
    assert len(buf) == 18 + 256
    buf[artnet.SEQUENCE_OFFSET] = 200
    buf[artnet.DATA_OFFSET : artnet.DATA_OFFSET + len(data)] = data
    assert bytes(buf) == ArtDmx(0x1234, data, 200, 2).to_bytes()
    assert (artnet.SEQUENCE_OFFSET, artnet.DATA_OFFSET) == (12, 18)


def test_next_sequence() -> None:
    assert artnet.next_sequence(1) == 2
    assert artnet.next_sequence(255) == 1
    assert artnet.next_sequence(0) == 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ArtDmx(0x8000, b"\0\0"), r"port_address must be in 0\.\.32767"),
        (lambda: ArtDmx(0, b""), r"data must be 1\.\.512 bytes"),
        (lambda: ArtDmx(0, bytes(513)), r"data must be 1\.\.512 bytes"),
        (lambda: ArtDmx(0, b"\0\0", sequence=256), r"sequence must be in 0\.\.255"),
        (lambda: dmx_template(0, 0), r"slot_count must be in 1\.\.512"),
        (lambda: ArtPoll(flags=256), r"flags must be in 0\.\.255"),
        (lambda: ArtPoll(target_top=5), r"all set .* or all None"),
        (lambda: ArtPoll(0, 0, 0x8000, 0, 0, 0), r"target_top must be in 0\.\.32767"),
        (
            lambda: ArtPollReply(IPv4Address(1), short_name="x" * 18),
            r"short_name must be at most 17",
        ),
        (lambda: ArtPollReply(IPv4Address(1), long_name="x" * 64), r"long_name must be at most 63"),
        (lambda: ArtPollReply(IPv4Address(1), num_ports=5), r"num_ports must be in 0\.\.4"),
        (lambda: ArtPollReply(IPv4Address(1), net_switch=128), r"net_switch must be in 0\.\.127"),
        (lambda: ArtPollReply(IPv4Address(1), sw_in=b"\0"), r"sw_in must be exactly 4 bytes"),
        (lambda: ArtPollReply(IPv4Address(1), mac=b"\0"), r"mac must be exactly 6 bytes"),
        (lambda: ArtPollReply(IPv4Address(1), short_name="\u20ac"), r"short_name must be latin-1"),
    ],
)
def test_builders_reject(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_pollreply_rejects_non_address() -> None:
    with pytest.raises(TypeError, match=r"ip must be an ipaddress.IPv4Address"):
        ArtPollReply("10.0.0.1")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Properties

latin1_names = st.text(st.characters(min_codepoint=1, max_codepoint=255))
art_dmx = st.builds(
    ArtDmx,
    port_address=st.integers(0, 0x7FFF),
    data=st.binary(min_size=1, max_size=512),
    sequence=st.integers(0, 255),
    physical=st.integers(0, 255),
)
art_poll = st.one_of(
    st.builds(ArtPoll, flags=st.integers(0, 255), diag_priority=st.integers(0, 255)),
    st.builds(
        ArtPoll,
        flags=st.integers(0, 255),
        diag_priority=st.integers(0, 255),
        target_top=st.integers(0, 0x7FFF),
        target_bottom=st.integers(0, 0x7FFF),
        esta_manufacturer=st.integers(0, 0xFFFF),
        oem=st.integers(0, 0xFFFF),
    ),
)
byte = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
four = st.binary(min_size=4, max_size=4)
ipv4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
art_poll_reply = st.builds(
    ArtPollReply,
    ip=ipv4,
    short_name=latin1_names.filter(lambda s: len(s) <= 17),
    long_name=latin1_names.filter(lambda s: len(s) <= 63),
    port=u16,
    version_info=u16,
    net_switch=st.integers(0, 127),
    sub_switch=st.integers(0, 15),
    oem=u16,
    ubea_version=byte,
    status1=byte,
    esta_manufacturer=u16,
    node_report=latin1_names.filter(lambda s: len(s) <= 63),
    num_ports=st.integers(0, 4),
    port_types=four,
    good_input=four,
    good_output_a=four,
    sw_in=four,
    sw_out=four,
    acn_priority=byte,
    sw_macro=byte,
    sw_remote=byte,
    style=byte,
    mac=st.binary(min_size=6, max_size=6),
    bind_ip=ipv4,
    bind_index=byte,
    status2=byte,
    good_output_b=four,
    status3=byte,
    default_responder=st.binary(min_size=6, max_size=6),
    user=u16,
    refresh_rate=u16,
)
any_packet = st.one_of(art_dmx, st.just(ArtSync()), art_poll, art_poll_reply)


@given(any_packet)
def test_roundtrip(packet: AnyPacket) -> None:
    assert decode_artnet(packet.to_bytes()) == packet


@given(st.binary(max_size=600))
def test_random_bytes_only_raise_artnet_error(blob: bytes) -> None:
    try:
        decode_artnet(blob)
    except ArtNetError:
        pass


@given(st.sampled_from([b"\x00\x50", b"\x00\x52", b"\x00\x20", b"\x00\x21"]), st.binary())
def test_random_bodies_only_raise_artnet_error(opcode: bytes, body: bytes) -> None:
    try:
        decode_artnet(artnet.ARTNET_ID + opcode + body)
    except ArtNetError:
        pass


# ---------------------------------------------------------------------------------------------
# tshark


def test_tshark_decodes_our_packets(tmp_path: Path) -> None:
    packets = [
        ARTDMX_PACKET.to_bytes(),
        ArtDmx(port_address(127, 15, 15), bytes(512), 255).to_bytes(),
        ARTSYNC,
        ARTPOLL,
        ARTPOLLREPLY_PACKET.to_bytes(),
    ]
    pcap = tmp_path / "artnet.pcap"
    write_pcap(pcap, [udp_frame(p, "10.99.0.1", "10.99.0.2", 6454, 6454) for p in packets])

    header = tshark_fields(
        pcap, ["artnet.header.id", "artnet.header.opcode", "artnet.header.protver"]
    )
    assert header == [
        ["Art-Net", "0x5000", "14"],
        ["Art-Net", "0x5000", "14"],
        ["Art-Net", "0x5200", "14"],
        ["Art-Net", "0x2000", "14"],
        ["Art-Net", "0x2100", ""],  # ArtPollReply has no ProtVer
    ]
    dmx = tshark_fields(
        pcap,
        [
            "artnet.output.sequence",
            "artnet.output.physical",
            "artnet.output.universe",
            "artnet.output.length",
        ],
        display_filter="artnet.header.opcode == 0x5000",
    )
    assert dmx == [["9", "1", "1059", "6"], ["255", "0", "32767", "512"]]
    poll = tshark_fields(
        pcap,
        [
            "artnet.poll.talktome",
            "artnet.poll.talktome_reply_change",
            "artnet.poll.talktome_diag",
            "artnet.poll.talktome_targeted",
            "artnet.poll.diag_priority",
            "artnet.poll.target_port_top",
            "artnet.poll.target_port_bottom",
        ],
        display_filter="artnet.header.opcode == 0x2000",
    )
    assert poll == [["0x26", "1", "1", "1", "64", "100", "5"]]
    reply = tshark_fields(
        pcap,
        [
            "artnet.poll_reply.ip_address",
            "artnet.poll_reply.port_nr",
            "artnet.poll_reply.netswitch",
            "artnet.poll_reply.subswitch",
            "artnet.poll_reply.short_name",
            "artnet.poll_reply.long_name",
            "artnet.poll_reply.node_report",
            "artnet.poll_reply.num_ports",
            "artnet.poll_reply.port_types_1",
            "artnet.poll_reply.swin_1_universe",
            "artnet.poll_reply.swout_4_universe",
            "artnet.poll_reply.style",
            "artnet.poll_reply.mac",
            "artnet.poll_reply.bind_ip_address",
            "artnet.poll_reply.bind_index",
            "artnet.poll_reply.status2",
        ],
        display_filter="artnet.header.opcode == 0x2100",
    )
    assert reply == [
        [
            "10.99.0.1",
            "6454",
            "0x04",
            "0x02",
            "Trocadero",
            "Trocadero playout (facade)",
            "#0001 [0001] Power On Tests successful",
            "4",
            "0x80",
            str(port_address(4, 2, 0)),  # tshark shows the full Port-Address of SwIn[0]
            str(port_address(4, 2, 7)),
            "0x01",
            "02:00:0a:63:00:01",
            "10.99.0.1",
            "0x01",
            "0x08",
        ]
    ]
