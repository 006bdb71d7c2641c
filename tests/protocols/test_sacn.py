"""E1.31-2018 (sACN) codec: hand-written byte vectors, decoder hardening, properties, peers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols import sacn
from trocadero.protocols.sacn import (
    DataPacket,
    DiscoveryPacket,
    SacnError,
    SyncPacket,
    data_template,
    decode_sacn,
    discovery_packets,
    multicast_address,
    sequence_out_of_order,
)

from .helpers import hexbytes, text_field, tshark_fields
from .pcap import udp_frame, write_pcap

CID = bytes.fromhex("ef07c8dd00644401a3a2459ef8e6143e")  # E1.31 Annex B example CID

# ---------------------------------------------------------------------------------------------
# Vectors, written out by hand (not produced by the builder).

# Universe 1, 4 slots, priority 100, sync address 7962, sequence 154: 126 + 4 = 130 bytes.
DATA_U1 = hexbytes(
    "0010",  # 0   root: preamble size 16
    "0000",  # 2   root: post-amble size 0
    "4153432d45312e3137000000",  # 4   root: ACN packet identifier "ASC-E1.17\0\0\0"
    "7072",  # 16  root: flags 0x7, length 114 = 130 - 16
    "00000004",  # 18  root: vector VECTOR_ROOT_E131_DATA
    "ef07c8dd00644401a3a2459ef8e6143e",  # 22  root: CID
    "705c",  # 38  framing: flags 0x7, length 92 = 130 - 38
    "00000002",  # 40  framing: vector VECTOR_E131_DATA_PACKET
    text_field("Source_A", 64),  # 44  framing: source name "Source_A", NUL-padded to 64
    "64",  # 108 framing: priority 100
    "1f1a",  # 109 framing: synchronization address 7962
    "9a",  # 111 framing: sequence number 154
    "00",  # 112 framing: options: none
    "0001",  # 113 framing: universe 1
    "700f",  # 115 DMP: flags 0x7, length 15 = 130 - 115
    "02",  # 117 DMP: vector VECTOR_DMP_SET_PROPERTY
    "a1",  # 118 DMP: address type & data type
    "0000",  # 119 DMP: first property address 0
    "0001",  # 121 DMP: address increment 1
    "0005",  # 123 DMP: property value count 5 = start code + 4 slots
    "00",  # 125 DMP: START code 0 (levels)
    "01027fff",  # 126 DMP: slots 1..4
)
DATA_U1_PACKET = DataPacket(
    CID, "Source_A", 1, bytes([1, 2, 0x7F, 0xFF]), priority=100, sequence=154, sync_address=7962
)

# Universe 300, priority 150, stream terminated, 2 slots, UTF-8 source name: 128 bytes.
DATA_U300 = hexbytes(
    "0010",  # 0   root: preamble size 16
    "0000",  # 2   root: post-amble size 0
    "4153432d45312e3137000000",  # 4   root: ACN packet identifier
    "7070",  # 16  root: flags 0x7, length 112 = 128 - 16
    "00000004",  # 18  root: vector VECTOR_ROOT_E131_DATA
    "ef07c8dd00644401a3a2459ef8e6143e",  # 22  root: CID
    "705a",  # 38  framing: flags 0x7, length 90 = 128 - 38
    "00000002",  # 40  framing: vector VECTOR_E131_DATA_PACKET
    "54726f63616465726f206661c3a7616465",  # 44  framing: "Trocadero façade" (17 UTF-8 bytes)
    "00" * 47,  # 61  framing: NUL terminator and padding to 64 bytes
    "96",  # 108 framing: priority 150
    "0000",  # 109 framing: synchronization address 0 (not synchronized)
    "00",  # 111 framing: sequence number 0
    "40",  # 112 framing: options: Stream_Terminated
    "012c",  # 113 framing: universe 300
    "700d",  # 115 DMP: flags 0x7, length 13 = 128 - 115
    "02",  # 117 DMP: vector VECTOR_DMP_SET_PROPERTY
    "a1",  # 118 DMP: address type & data type
    "0000",  # 119 DMP: first property address 0
    "0001",  # 121 DMP: address increment 1
    "0003",  # 123 DMP: property value count 3 = start code + 2 slots
    "00",  # 125 DMP: START code 0
    "aa55",  # 126 DMP: slots 1..2
)
DATA_U300_PACKET = DataPacket(
    CID, "Trocadero façade", 300, b"\xaa\x55", priority=150, stream_terminated=True
)

# Universe synchronization packet for sync address 7962, sequence 42: 49 bytes.
SYNC = hexbytes(
    "0010",  # 0   root: preamble size 16
    "0000",  # 2   root: post-amble size 0
    "4153432d45312e3137000000",  # 4   root: ACN packet identifier
    "7021",  # 16  root: flags 0x7, length 33 = 49 - 16
    "00000008",  # 18  root: vector VECTOR_ROOT_E131_EXTENDED
    "ef07c8dd00644401a3a2459ef8e6143e",  # 22  root: CID
    "700b",  # 38  framing: flags 0x7, length 11 = 49 - 38
    "00000001",  # 40  framing: vector VECTOR_E131_EXTENDED_SYNCHRONIZATION
    "2a",  # 44  framing: sequence number 42
    "1f1a",  # 45  framing: synchronization address 7962
    "0000",  # 47  framing: reserved
)
SYNC_PACKET = SyncPacket(CID, 7962, 42)

# Discovery of 514 universes (1..512, 1000, 63999): two pages.
DISCOVERY_UNIVERSES = [*range(1, 513), 1000, 63999]
DISCOVERY_PAGE0 = hexbytes(
    "0010",  # 0   root: preamble size 16
    "0000",  # 2   root: post-amble size 0
    "4153432d45312e3137000000",  # 4   root: ACN packet identifier
    "7468",  # 16  root: flags 0x7, length 1128 = 1144 - 16
    "00000008",  # 18  root: vector VECTOR_ROOT_E131_EXTENDED
    "ef07c8dd00644401a3a2459ef8e6143e",  # 22  root: CID
    "7452",  # 38  framing: flags 0x7, length 1106 = 1144 - 38
    "00000002",  # 40  framing: vector VECTOR_E131_EXTENDED_DISCOVERY
    text_field("Source_A", 64),  # 44  framing: source name
    "00000000",  # 108 framing: reserved
    "7408",  # 112 discovery: flags 0x7, length 1032 = 1144 - 112
    "00000001",  # 114 discovery: vector VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST
    "00",  # 118 discovery: page 0
    "01",  # 119 discovery: last page 1
    "0001 0002 0003 0004 0005 0006 0007 0008",  # 120 discovery: universes 1..8, then …
    "".join(f"{u:04x}" for u in range(9, 513)),  # 136 … universes 9..512 (512 in all)
)
DISCOVERY_PAGE1 = hexbytes(
    "0010",  # 0   root: preamble size 16
    "0000",  # 2   root: post-amble size 0
    "4153432d45312e3137000000",  # 4   root: ACN packet identifier
    "706c",  # 16  root: flags 0x7, length 108 = 124 - 16
    "00000008",  # 18  root: vector VECTOR_ROOT_E131_EXTENDED
    "ef07c8dd00644401a3a2459ef8e6143e",  # 22  root: CID
    "7056",  # 38  framing: flags 0x7, length 86 = 124 - 38
    "00000002",  # 40  framing: vector VECTOR_E131_EXTENDED_DISCOVERY
    text_field("Source_A", 64),  # 44  framing: source name
    "00000000",  # 108 framing: reserved
    "700c",  # 112 discovery: flags 0x7, length 12 = 124 - 112
    "00000001",  # 114 discovery: vector VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST
    "01",  # 118 discovery: page 1
    "01",  # 119 discovery: last page 1
    "03e8",  # 120 discovery: universe 1000
    "f9ff",  # 122 discovery: universe 63999
)

VECTORS = [
    pytest.param(DATA_U1, DATA_U1_PACKET, id="data-u1"),
    pytest.param(DATA_U300, DATA_U300_PACKET, id="data-u300-terminated"),
    pytest.param(SYNC, SYNC_PACKET, id="sync"),
    pytest.param(
        DISCOVERY_PAGE0, DiscoveryPacket(CID, "Source_A", tuple(range(1, 513)), 0, 1), id="disc-0"
    ),
    pytest.param(
        DISCOVERY_PAGE1, DiscoveryPacket(CID, "Source_A", (1000, 63999), 1, 1), id="disc-1"
    ),
]


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_encode_matches_vector(wire: bytes, packet: DataPacket | SyncPacket) -> None:
    assert packet.to_bytes() == wire


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_decode_vector(wire: bytes, packet: object) -> None:
    assert decode_sacn(wire) == packet
    assert decode_sacn(bytearray(wire)) == packet
    assert decode_sacn(memoryview(wire)) == packet


def test_discovery_pager_gives_the_two_vector_pages() -> None:
    pages = discovery_packets(CID, "Source_A", reversed([*DISCOVERY_UNIVERSES, 5, 1000]))
    assert [p.to_bytes() for p in pages] == [DISCOVERY_PAGE0, DISCOVERY_PAGE1]


def test_discovery_pager_empty_and_exact_page() -> None:
    (only,) = discovery_packets(CID, "x", [])
    assert only.universes == ()
    assert only.page == only.last_page == 0
    assert len(only.to_bytes()) == sacn.DISCOVERY_HEADER_SIZE
    pages = discovery_packets(CID, "x", range(1, 1025))
    assert [(p.page, p.last_page, len(p.universes)) for p in pages] == [(0, 1, 512), (1, 1, 512)]


# ---------------------------------------------------------------------------------------------
# Lengths and template


@pytest.mark.parametrize("slots", [0, 1, 2, 3, 24, 510, 511, 512])
def test_length_fields_for_every_slot_count(slots: int) -> None:
    wire = DataPacket(CID, "x", 7, (bytes(range(256)) * 2)[:slots]).to_bytes()
    total = 126 + slots
    assert len(wire) == total
    assert wire[16:18] == (0x7000 | (total - 16)).to_bytes(2, "big")
    assert wire[38:40] == (0x7000 | (total - 38)).to_bytes(2, "big")
    assert wire[115:117] == (0x7000 | (total - 115)).to_bytes(2, "big")
    assert wire[123:125] == (1 + slots).to_bytes(2, "big")


def test_full_universe_length_words_match_the_reference() -> None:
    wire = DataPacket(CID, "x", 1, bytes(512)).to_bytes()
    assert len(wire) == 638
    assert (wire[16:18], wire[38:40], wire[115:117]) == (b"\x72\x6e", b"\x72\x58", b"\x72\x0b")


def test_template_patching_equals_builder() -> None:
    data = bytes((i * 7) & 0xFF for i in range(170 * 3))
    buf = data_template(CID, "Trocadero", 120, 4242, len(data), 4000, sacn.OPTION_FORCE_SYNC)
    assert len(buf) == sacn.DATA_HEADER_SIZE + len(data)
    assert buf[sacn.SEQUENCE_OFFSET] == 0
    assert buf[sacn.DATA_OFFSET :] == bytes(len(data))
    buf[sacn.SEQUENCE_OFFSET] = 77
    buf[sacn.DATA_OFFSET : sacn.DATA_OFFSET + len(data)] = data
    expected = DataPacket(
        CID, "Trocadero", 4242, data, 120, 77, sync_address=4000, force_sync=True
    ).to_bytes()
    assert bytes(buf) == expected
    buf[sacn.OPTIONS_OFFSET] |= sacn.OPTION_STREAM_TERMINATED
    decoded = decode_sacn(buf)
    assert isinstance(decoded, DataPacket)
    assert decoded.stream_terminated
    assert decoded.force_sync
    assert not decoded.preview


def test_offsets_are_the_documented_ones() -> None:
    assert (sacn.SEQUENCE_OFFSET, sacn.OPTIONS_OFFSET, sacn.DATA_OFFSET) == (111, 112, 126)
    assert sacn.START_CODE_OFFSET == 125


def test_options_bits() -> None:
    packet = DataPacket(CID, "x", 1, preview=True, stream_terminated=True, force_sync=True)
    assert packet.to_bytes()[112] == 0xE0
    assert DataPacket(CID, "x", 1, preview=True).to_bytes()[112] == 0x80
    assert DataPacket(CID, "x", 1, force_sync=True).to_bytes()[112] == 0x20


def test_multicast_address() -> None:
    assert multicast_address(1) == "239.255.0.1"
    assert multicast_address(256) == "239.255.1.0"
    assert multicast_address(300) == "239.255.1.44"
    assert multicast_address(63999) == "239.255.249.255"
    assert multicast_address(sacn.DISCOVERY_UNIVERSE) == "239.255.250.214"
    with pytest.raises(ValueError, match="universe"):
        multicast_address(0)


# ---------------------------------------------------------------------------------------------
# Sequence order (E1.31 §6.7.2)


@pytest.mark.parametrize(
    ("last", "new", "out_of_order"),
    [
        (10, 11, False),  # next
        (10, 10, True),  # duplicate: d = 0
        (10, 9, True),  # d = -1
        (10, 246, False),  # d = 236 - 256 = -20: accepted
        (10, 247, True),  # d = -19
        (255, 0, False),  # wrap forward
        (0, 255, True),  # d = -1 across the wrap
        (0, 236, False),  # d = -20: accepted (treated as a restart)
        (0, 237, True),  # d = -19
        (100, 50, False),  # big jump back: accepted
        (100, 227, False),  # d = 127
        (100, 228, False),  # d = -128
    ],
)
def test_sequence_out_of_order(last: int, new: int, out_of_order: bool) -> None:
    assert sequence_out_of_order(last, new) is out_of_order


@given(st.integers(0, 255), st.integers(0, 255))
def test_sequence_rule_matches_the_formula(last: int, new: int) -> None:
    d = ((new - last + 128) % 256) - 128
    assert sequence_out_of_order(last, new) is (-20 < d <= 0)


def test_next_sequence_wraps() -> None:
    assert sacn.next_sequence(254) == 255
    assert sacn.next_sequence(255) == 0


# ---------------------------------------------------------------------------------------------
# Builder argument checks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cid": b"short"}, r"cid must be exactly 16 bytes"),
        ({"source_name": "x" * 64}, r"source_name must be at most 63 utf-8 bytes"),
        ({"source_name": "é" * 32}, r"source_name must be at most 63"),
        ({"universe": 0}, r"universe must be in 1\.\.63999"),
        ({"universe": 64000}, r"universe must be in 1\.\.63999"),
        ({"priority": 201}, r"priority must be in 0\.\.200"),
        ({"sequence": 256}, r"sequence must be in 0\.\.255"),
        ({"sync_address": 64000}, r"sync_address must be in 0\.\.63999"),
        ({"data": bytes(513)}, r"data must be 0\.\.512 bytes"),
        ({"start_code": -1}, r"start_code must be in 0\.\.255"),
    ],
)
def test_data_packet_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"cid": CID, "source_name": "x", "universe": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        DataPacket(**args)  # type: ignore[arg-type]


def test_template_rejects() -> None:
    with pytest.raises(ValueError, match=r"options must only use bits"):
        data_template(CID, "x", 100, 1, 10, 0, 0x01)
    with pytest.raises(ValueError, match=r"slot_count must be in 0\.\.512"):
        data_template(CID, "x", 100, 1, 513)
    with pytest.raises(TypeError, match=r"priority must be an int"):
        data_template(CID, "x", 1.5, 1, 10)  # type: ignore[arg-type]


def test_sync_and_discovery_reject() -> None:
    with pytest.raises(ValueError, match=r"sync_address must be in 1\.\.63999"):
        SyncPacket(CID, 0)
    with pytest.raises(ValueError, match=r"strictly ascending"):
        DiscoveryPacket(CID, "x", (5, 3))
    with pytest.raises(ValueError, match=r"at most 512"):
        DiscoveryPacket(CID, "x", tuple(range(1, 514)))
    with pytest.raises(ValueError, match=r"page must be in 0\.\.0"):
        DiscoveryPacket(CID, "x", (1,), page=1, last_page=0)
    with pytest.raises(ValueError, match=r"universes must be in 1\.\.63999"):
        discovery_packets(CID, "x", [1, 64214])


# ---------------------------------------------------------------------------------------------
# Decoder hardening


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_trailing_bytes_are_rejected(wire: bytes, packet: object) -> None:
    """E1.31 datagrams carry exactly one root PDU: bytes past its length are an error."""
    with pytest.raises(SacnError, match=r"root layer length .* offset 16"):
        decode_sacn(wire + b"\0")


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_truncated_at_every_length(wire: bytes, packet: object) -> None:
    for n in range(len(wire)):
        with pytest.raises(SacnError):
            decode_sacn(wire[:n])


def patch(wire: bytes, offset: int, value: str) -> bytes:
    new = bytes.fromhex(value)
    return wire[:offset] + new + wire[offset + len(new) :]


@pytest.mark.parametrize(
    ("wire", "offset", "value", "message"),
    [
        (DATA_U1, 0, "0011", r"preamble size 0x0011 at offset 0"),
        (DATA_U1, 2, "0001", r"post-amble size 0x0001 at offset 2"),
        (DATA_U1, 4, "42", r"ACN packet identifier .* at offset 4"),
        (DATA_U1, 15, "01", r"ACN packet identifier .* at offset 4"),
        (DATA_U1, 16, "6072", r"root layer flags 0x6 at offset 16"),
        (DATA_U1, 16, "7071", r"root layer length 113 at offset 16"),
        (DATA_U1, 18, "00000003", r"root vector 0x00000003 at offset 18"),
        (DATA_U1, 38, "f05c", r"framing layer flags 0xf at offset 38"),
        (DATA_U1, 38, "705d", r"framing layer length 93 at offset 38"),
        (DATA_U1, 40, "00000001", r"framing vector 0x00000001 at offset 40"),
        (DATA_U1, 44, "41" * 64, r"source name at offset 44 is not NUL-terminated"),
        (DATA_U1, 44, "ff00", r"source name at offset 44 is not UTF-8"),
        (DATA_U1, 108, "c9", r"priority 201 at offset 108"),
        (DATA_U1, 109, "fa00", r"synchronization address 64000 at offset 109"),
        (DATA_U1, 113, "0000", r"universe 0 at offset 113"),
        (DATA_U1, 113, "fad6", r"universe 64214 at offset 113"),
        (DATA_U1, 115, "300f", r"DMP layer flags 0x3 at offset 115"),
        (DATA_U1, 115, "7010", r"DMP layer length 16 at offset 115"),
        (DATA_U1, 117, "03", r"DMP vector 0x03 at offset 117"),
        (DATA_U1, 118, "a2", r"DMP address & data type 0xa2 at offset 118"),
        (DATA_U1, 119, "0001", r"DMP first property address 1 at offset 119"),
        (DATA_U1, 121, "0002", r"DMP address increment 2 at offset 121"),
        (DATA_U1, 123, "0004", r"DMP property value count 4 at offset 123"),
        (SYNC, 18, "00000009", r"root vector 0x00000009 at offset 18"),
        (SYNC, 38, "700c", r"framing layer length 12 at offset 38"),
        (SYNC, 40, "00000003", r"framing vector 0x00000003 at offset 40"),
        (SYNC, 45, "0000", r"synchronization address 0 at offset 45"),
        (SYNC, 45, "fa00", r"synchronization address 64000 at offset 45"),
        (DISCOVERY_PAGE1, 112, "700d", r"universe discovery layer length 13 at offset 112"),
        (DISCOVERY_PAGE1, 114, "00000002", r"universe discovery vector 0x00000002 at offset 114"),
        (DISCOVERY_PAGE1, 118, "02", r"page 2 at offset 118 is after last page 1"),
        (DISCOVERY_PAGE1, 120, "fa00", r"listed universe 64000 at offset 120"),
        (DISCOVERY_PAGE1, 122, "0001", r"universe list not ascending: 1 at offset 122"),
    ],
)
def test_corrupted_fields_are_named(wire: bytes, offset: int, value: str, message: str) -> None:
    with pytest.raises(SacnError, match=message):
        decode_sacn(patch(wire, offset, value))


def test_empty_property_values_rejected() -> None:
    # Property value count 0 (no start code) with all lengths consistent: 125 bytes.
    wire = patch(DATA_U1[:125], 16, "706d")
    wire = patch(wire, 38, "7057")
    wire = patch(wire, 115, "700a")
    wire = patch(wire, 123, "0000")
    with pytest.raises(SacnError, match=r"truncated: data packet header"):
        decode_sacn(wire)


def test_odd_discovery_list_rejected() -> None:
    wire = DISCOVERY_PAGE1 + b"\x05"
    wire = patch(wire, 16, "706d")
    wire = patch(wire, 38, "7057")
    wire = patch(wire, 112, "700d")
    with pytest.raises(SacnError, match=r"universe list at offset 120 has an odd length 5"):
        decode_sacn(wire)


def test_reserved_bits_and_bytes_are_ignored() -> None:
    assert decode_sacn(patch(DATA_U1, 112, "1f")) == DATA_U1_PACKET
    assert decode_sacn(patch(SYNC, 47, "ffff")) == SYNC_PACKET
    assert decode_sacn(patch(DATA_U1, 60, "ff")) == DATA_U1_PACKET  # junk after the name's NUL


# ---------------------------------------------------------------------------------------------
# Properties

names = st.text(st.characters(codec="utf-8", exclude_characters="\0")).filter(
    lambda s: len(s.encode()) <= 63
)
cids = st.binary(min_size=16, max_size=16)
universes = st.integers(1, 63999)
data_packets = st.builds(
    DataPacket,
    cid=cids,
    source_name=names,
    universe=universes,
    data=st.binary(max_size=512),
    priority=st.integers(0, 200),
    sequence=st.integers(0, 255),
    sync_address=st.integers(0, 63999),
    preview=st.booleans(),
    stream_terminated=st.booleans(),
    force_sync=st.booleans(),
    start_code=st.integers(0, 255),
)
sync_packets = st.builds(SyncPacket, cid=cids, sync_address=universes, sequence=st.integers(0, 255))
discovery = st.builds(
    lambda cid, name, us, page, extra: DiscoveryPacket(
        cid, name, tuple(sorted(us)), page, page + extra
    ),
    cids,
    names,
    st.sets(universes, max_size=512),
    st.integers(0, 200),
    st.integers(0, 55),
)
any_packet = st.one_of(data_packets, sync_packets, discovery)


@given(any_packet)
def test_roundtrip(packet: DataPacket | SyncPacket | DiscoveryPacket) -> None:
    assert decode_sacn(packet.to_bytes()) == packet


@given(st.binary(max_size=700))
def test_random_bytes_only_raise_sacn_error(blob: bytes) -> None:
    try:
        decode_sacn(blob)
    except SacnError:
        pass


@given(any_packet, st.data())
def test_mutated_packets_only_raise_sacn_error(
    packet: DataPacket | SyncPacket | DiscoveryPacket, data: st.DataObject
) -> None:
    wire = bytearray(packet.to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    try:
        decode_sacn(bytes(wire[:cut]))
    except SacnError:
        pass


# ---------------------------------------------------------------------------------------------
# Peers: the `sacn` package (parsing and its receiver state machine) and tshark


def test_sacn_package_parses_our_packets() -> None:
    from sacn.messages.data_packet import DataPacket as PeerData  # type: ignore[import-untyped]
    from sacn.messages.sync_packet import SyncPacket as PeerSync  # type: ignore[import-untyped]
    from sacn.messages.universe_discovery import (  # type: ignore[import-untyped]
        UniverseDiscoveryPacket as PeerDiscovery,
    )

    for ours in (DATA_U1_PACKET, DATA_U300_PACKET):
        peer = PeerData.make_data_packet(ours.to_bytes())
        assert peer.universe == ours.universe
        assert peer.priority == ours.priority
        assert peer.sequence == ours.sequence
        assert peer.syncAddr == ours.sync_address
        assert peer.sourceName == ours.source_name
        assert bytes(peer.cid) == CID
        assert peer.option_StreamTerminated == ours.stream_terminated
        assert bytes(peer.dmxData[: len(ours.data)]) == ours.data  # it pads to 512
        assert peer.dmxStartCode == ours.start_code
    peer_sync = PeerSync.make_sync_packet(SYNC)
    assert (peer_sync.syncAddr, peer_sync.sequence) == (7962, 42)
    peer_disc = PeerDiscovery.make_universe_discovery_packet(DISCOVERY_PAGE1)
    assert (peer_disc.universes, peer_disc.page, peer_disc.lastPage) == ((1000, 63999), 1, 1)


def test_sacn_package_receiver_accepts_our_stream() -> None:
    from sacn.receiving.receiver_handler import (  # type: ignore[import-untyped]
        ReceiverHandler,
        ReceiverHandlerListener,
    )
    from sacn.receiving.receiver_socket_base import (  # type: ignore[import-untyped]
        ReceiverSocketBase,
    )

    received: list[tuple[int, int, bytes]] = []
    availability: list[tuple[int, str]] = []

    class Listener(ReceiverHandlerListener):  # type: ignore[misc]
        def on_availability_change(self, universe: int, changed: str) -> None:
            availability.append((universe, changed))

        def on_dmx_data_change(self, packet: object) -> None:
            received.append(
                (packet.universe, packet.sequence, bytes(packet.dmxData[:3]))  # type: ignore[attr-defined]
            )

    handler = ReceiverHandler("", 0, Listener(), ReceiverSocketBase(None))
    buf = data_template(CID, "Trocadero", 100, 300, 3)
    for seq in range(3):
        buf[sacn.SEQUENCE_OFFSET] = seq
        buf[sacn.DATA_OFFSET : sacn.DATA_OFFSET + 3] = bytes([seq, seq + 1, seq + 2])
        handler.on_data(bytes(buf), 0.1 * seq)
    assert received == [(300, 0, b"\0\1\2"), (300, 1, b"\1\2\3"), (300, 2, b"\2\3\4")]
    assert availability == [(300, "available")]
    buf[sacn.OPTIONS_OFFSET] = sacn.OPTION_STREAM_TERMINATED
    buf[sacn.SEQUENCE_OFFSET] = 3
    handler.on_data(bytes(buf), 0.4)
    assert availability[-1] == (300, "timeout")


def test_tshark_decodes_our_data_packets(tmp_path: Path) -> None:
    packets = [
        DATA_U1_PACKET,
        DATA_U300_PACKET,
        DataPacket(CID, "Trocadero", 63999, bytes(range(256)) * 2, 200, 255, preview=True),
    ]
    pcap = tmp_path / "sacn.pcap"
    write_pcap(
        pcap,
        [
            udp_frame(p.to_bytes(), "10.99.0.1", multicast_address(p.universe), 5568, 5568)
            for p in packets
        ],
    )
    fields = [
        "acn.preamble_size",
        "acn.postamble_size",
        "acn.packet_identifier",
        "acn.pdu.length",
        "acn.cid",
        "acn.dmx.source_name",
        "acn.dmx.priority",
        "acn.dmx.reserved",  # tshark 4.0 names the synchronization address "reserved"
        "acn.dmx.seq_number",
        "acn.dmx.options",
        "acn.dmx.option_p",
        "acn.dmx.option_s",
        "acn.dmx.universe",
        "acn.dmx.first_property_address",
        "acn.dmx.increment",
        "acn.dmx.count",
        "acn.dmx.start_code2",  # the DMP START code (acn.dmx.start_code is another field)
    ]
    rows = tshark_fields(pcap, fields, "--enable-heuristic", "acn", "-o", "acn.dmx_enable:TRUE")
    cid = "ef07c8dd-0064-4401-a3a2-459ef8e6143e"
    assert rows == [
        ["16", "0", "ASC-E1.17", "114,92,15", cid, "Source_A", "100", "7962", "154", "0", "0",
         "0", "1", "0", "1", "5", "0"],
        ["16", "0", "ASC-E1.17", "112,90,13", cid, "Trocadero façade", "150", "0", "0", "64",
         "0", "1", "300", "0", "1", "3", "0"],
        ["16", "0", "ASC-E1.17", "622,600,523", cid, "Trocadero", "200", "0", "255", "128",
         "1", "0", "63999", "0", "1", "513", "0"],
    ]  # fmt: skip
