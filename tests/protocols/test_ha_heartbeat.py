"""The pair's heartbeat codec: an annotated vector, round trips, and every refusal naming
its field and offset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols.ha_heartbeat import (
    Heartbeat,
    HeartbeatError,
    Role,
    decode_heartbeat,
)

VECTOR = (
    b"TRHB"  # 0 magic
    b"\x01"  # 4 version
    b"\x01"  # 5 role: leader
    b"\x00\x00\x00\x00\x00\x00\x00\x07"  # 6 epoch 7
    b"\x00\x00\x01\x00"  # 14 sequence 256
    b"\x00\x00\x00\x00\x3b\x9a\xca\x00"  # 18 frame time 1 s
    b"\xde\xad\xbe\xef"  # 26 state digest
    b"\x01"  # 30 name length 1
    b"a"  # 31 node name
)


def test_vector_decodes_field_by_field_and_encodes_back() -> None:
    hb = decode_heartbeat(VECTOR)
    assert hb == Heartbeat("a", 7, Role.LEADER, 256, 1_000_000_000, 0xDEADBEEF)
    assert hb.to_bytes() == VECTOR


@pytest.mark.parametrize(
    ("datagram", "field", "offset"),
    [
        (b"", "header", 0),
        (VECTOR[:30], "header", 30),
        (b"XXXX" + VECTOR[4:], "magic", 0),
        (VECTOR[:4] + b"\x02" + VECTOR[5:], "version", 4),
        (VECTOR[:5] + b"\x03" + VECTOR[6:], "role", 5),
        (VECTOR[:30] + b"\x00" + VECTOR[31:], "name length", 30),
        (VECTOR[:30] + b"\x41" + VECTOR[31:], "name length", 30),
        (VECTOR + b"\x00", "datagram length", 32),
        (VECTOR[:30] + b"\x02" + VECTOR[31:], "datagram length", 32),
        (VECTOR[:31] + b"\xff", "node name", 31),
        (VECTOR[:31] + b"\n", "node name", 31),
    ],
)
def test_refusals_name_field_and_offset(datagram: bytes, field: str, offset: int) -> None:
    with pytest.raises(HeartbeatError) as caught:
        decode_heartbeat(datagram)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_builder_refuses_what_the_wire_cannot_carry() -> None:
    for bad in (
        Heartbeat("", 0, Role.STANDBY, 0, 0),
        Heartbeat("x" * 65, 0, Role.STANDBY, 0, 0),
        Heartbeat("a", -1, Role.STANDBY, 0, 0),
        Heartbeat("a", 0, Role.STANDBY, 2**32, 0),
    ):
        with pytest.raises(ValueError, match="must be"):
            bad.to_bytes()


names = st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=16).filter(
    lambda s: s.isprintable()
)


@given(
    node=names,
    epoch=st.integers(0, 2**64 - 1),
    role=st.sampled_from(Role),
    sequence=st.integers(0, 2**32 - 1),
    frame_time=st.integers(0, 2**64 - 1),
    digest=st.integers(0, 2**32 - 1),
)
def test_round_trip(
    node: str, epoch: int, role: Role, sequence: int, frame_time: int, digest: int
) -> None:
    hb = Heartbeat(node, epoch, role, sequence, frame_time, digest)
    assert decode_heartbeat(hb.to_bytes()) == hb


@given(st.binary(max_size=100))
def test_junk_is_a_heartbeat_error_or_a_heartbeat(junk: bytes) -> None:
    try:
        hb = decode_heartbeat(junk)
    except HeartbeatError:
        return
    assert hb.to_bytes() == junk
