"""DDP codec: hand-written vectors, decoder hardening, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols import ddp
from trocadero.protocols.ddp import DdpError, DdpPacket, data_template, decode_ddp, frame_packets

from .helpers import hexbytes

# Two RGB pixels at byte offset 1440 (pixel 480), last packet of the frame.
DDP_PUSH = hexbytes(
    "41",  # 0 flags: version 1 (0x40) | push (0x01)
    "05",  # 1 sequence 5
    "0b",  # 2 data type: RGB, 8 bits per element
    "01",  # 3 destination id 1 = default output device
    "000005a0",  # 4 data offset 1440 bytes, big-endian
    "0006",  # 8 data length 6
    "ff0000 00ff00",  # 10 data: pixel 480 red, pixel 481 green
)
DDP_PUSH_PACKET = DdpPacket(b"\xff\x00\x00\x00\xff\x00", offset=1440, sequence=5, push=True)

# With timecode, not pushed, RGBW to destination 255 (all devices).
DDP_TIMECODE = hexbytes(
    "50",  # 0 flags: version 1 (0x40) | timecode (0x10)
    "0f",  # 1 sequence 15
    "1b",  # 2 data type: RGBW, 8 bits per element
    "ff",  # 3 destination id 255 = all devices
    "00000000",  # 4 data offset 0
    "0004",  # 8 data length 4
    "12345678",  # 10 timecode 0x12345678
    "01020304",  # 14 data: one RGBW pixel
)
DDP_TIMECODE_PACKET = DdpPacket(
    b"\x01\x02\x03\x04",
    sequence=15,
    data_type=ddp.DATA_TYPE_RGBW8,
    destination=ddp.DESTINATION_ALL,
    timecode=0x12345678,
)

VECTORS = [
    pytest.param(DDP_PUSH, DDP_PUSH_PACKET, id="push"),
    pytest.param(DDP_TIMECODE, DDP_TIMECODE_PACKET, id="timecode"),
]


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_vectors(wire: bytes, packet: DdpPacket) -> None:
    assert packet.to_bytes() == wire
    assert decode_ddp(wire) == packet


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_trailing_bytes_ignored(wire: bytes, packet: DdpPacket) -> None:
    """The length field is authoritative; padding after the data is ignored."""
    assert decode_ddp(wire + b"\0\0\0") == packet


@pytest.mark.parametrize(("wire", "packet"), VECTORS)
def test_truncated_at_every_length(wire: bytes, packet: DdpPacket) -> None:
    for n in range(len(wire)):
        with pytest.raises(DdpError):
            decode_ddp(wire[:n])


@pytest.mark.parametrize(
    ("wire", "offset", "value", "message"),
    [
        (DDP_PUSH, 0, "81", r"version 2 in flags 0x81 at offset 0, expected 1"),
        (DDP_PUSH, 0, "01", r"version 0 in flags 0x01 at offset 0"),
        (DDP_PUSH, 8, "0007", r"data length 7 at offset 8 needs 17 bytes"),
        (DDP_PUSH, 8, "05a1", r"data length 1441 at offset 8 out of range 0\.\.1440"),
        (DDP_PUSH, 0, "51", r"timecode at offset 10 needs 14 bytes|data length 6 at offset 8"),
    ],
)
def test_corrupted_fields(wire: bytes, offset: int, value: str, message: str) -> None:
    new = bytes.fromhex(value)
    with pytest.raises(DdpError, match=message):
        decode_ddp(wire[:offset] + new + wire[offset + len(new) :])


def test_reserved_bits_ignored() -> None:
    wire = bytearray(DDP_PUSH)
    wire[0] |= 0x20
    wire[1] |= 0xF0
    assert decode_ddp(wire) == DDP_PUSH_PACKET


def test_template_and_offsets() -> None:
    buf = data_template(1440, 6)
    assert (ddp.SEQUENCE_OFFSET, ddp.DATA_OFFSET, ddp.HEADER_SIZE) == (1, 10, 10)
    buf[ddp.SEQUENCE_OFFSET] = 5
    buf[ddp.DATA_OFFSET :] = DDP_PUSH_PACKET.data
    assert bytes(buf) == DDP_PUSH
    assert ddp.DDP_PORT == 4048


def test_frame_packets_split_and_push_last() -> None:
    frame = bytes(range(256)) * 12  # 3072 bytes = 1024 RGB pixels
    packets = frame_packets(frame, sequence=3)
    assert [(p.offset, len(p.data), p.push) for p in packets] == [
        (0, 1440, False),
        (1440, 1440, False),
        (2880, 192, True),
    ]
    assert b"".join(p.data for p in packets) == frame
    assert all(p.sequence == 3 for p in packets)


def test_sequence_wraps_1_to_15() -> None:
    assert ddp.next_sequence(15) == 1
    assert ddp.next_sequence(1) == 2
    assert ddp.next_sequence(0) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": bytes(1441)}, r"data must be 0\.\.1440 bytes"),
        ({"sequence": 16}, r"sequence must be in 0\.\.15"),
        ({"offset": -1}, r"offset must be in 0\.\.4294967295"),
        ({"destination": 256}, r"destination must be in 0\.\.255"),
        ({"timecode": 2**32}, r"timecode must be in 0\.\.4294967295"),
    ],
)
def test_builder_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DdpPacket(**kwargs)  # type: ignore[arg-type]


packets = st.builds(
    DdpPacket,
    data=st.binary(max_size=1440),
    offset=st.integers(0, 2**32 - 1),
    sequence=st.integers(0, 15),
    push=st.booleans(),
    data_type=st.integers(0, 255),
    destination=st.integers(0, 255),
    query=st.booleans(),
    reply=st.booleans(),
    storage=st.booleans(),
    timecode=st.none() | st.integers(0, 2**32 - 1),
)


@given(packets)
def test_roundtrip(packet: DdpPacket) -> None:
    assert decode_ddp(packet.to_bytes()) == packet


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_ddp_error(blob: bytes) -> None:
    try:
        decode_ddp(blob)
    except DdpError:
        pass
