"""The OSC 1.0 codec: annotated byte vectors, every type tag, nested bundles, alignment, the
limits, and every malformed case with its byte offset."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.protocols.osc import (
    Arg,
    Bundle,
    Limits,
    Message,
    OscError,
    decode_packet,
    encode_bundle,
    encode_message,
    messages,
)

# /tuio/2Dcur "fseq" 7, field by field.
FSEQ = (
    b"/tuio/2Dcur\x00"  # address: 11 characters + NUL = 12 bytes, aligned
    b",si\x00"  # type tags: a string and an int32
    b"fseq\x00\x00\x00\x00"  # "fseq" + NUL, padded to 8
    b"\x00\x00\x00\x07"  # int32 7, big-endian
)


def test_a_message_field_by_field() -> None:
    assert decode_packet(FSEQ) == Message("/tuio/2Dcur", ("fseq", 7), 0)
    assert encode_message("/tuio/2Dcur", "fseq", 7) == FSEQ


def test_every_type_tag() -> None:
    data = (
        b"/a\x00\x00"
        b",ifsbhdtTFN\x00"  # 11 tags + NUL = 12
        + struct.pack(">i", -5)
        + struct.pack(">f", 0.5)
        + b"hi\x00\x00"
        + struct.pack(">i", 3)
        + b"xyz\x00"  # blob of 3, padded
        + struct.pack(">q", 2**40)
        + struct.pack(">d", 0.25)
        + struct.pack(">Q", 1)
    )
    m = decode_packet(data)
    assert isinstance(m, Message)
    assert m.args == (-5, 0.5, "hi", b"xyz", 2**40, 0.25, 1, True, False, None)


def test_nested_bundles_flatten_in_order() -> None:
    inner = encode_bundle(encode_message("/b", 2), encode_message("/c", 3.0))
    data = encode_bundle(encode_message("/a", 1), inner, time_tag=99)
    packet = decode_packet(data)
    assert isinstance(packet, Bundle)
    assert packet.time_tag == 99
    assert [(m.address, m.args) for m in messages(packet)] == [
        ("/a", (1,)),
        ("/b", (2,)),
        ("/c", (3.0,)),
    ]
    # 16 header + 4 size; 12-byte /a; 4 size + 16 inner header + 4 size; 12-byte /b; 4 size
    assert [m.offset for m in messages(packet)] == [20, 56, 72]


def test_a_message_without_type_tags_has_no_arguments() -> None:
    assert decode_packet(b"/ping\x00\x00\x00") == Message("/ping", (), 0)


def offset_of(data: bytes, limits: Limits | None = None) -> tuple[int, str]:
    with pytest.raises(OscError) as info:
        decode_packet(data, limits)
    return info.value.offset, info.value.what


@pytest.mark.parametrize(
    ("data", "offset", "words"),
    [
        (b"", 0, "empty"),
        (b"/ab", 0, "multiple of 4"),
        (b"abc\x00", 0, "start with '/'"),
        (b"/abc", 0, "no terminating NUL"),
        (b"/a\x00x", 2, "padding is not NUL"),
        (b"/a\x00\x00si\x00\x00", 4, "start with ','"),
        (b"/a\x00\x00,ii\x00\x00\x00\x00\x01", 12, "needs 4 bytes, 0 left"),
        (b"/a\x00\x00,x\x00\x00", 0, "unknown type tag"),
        (b"/a\x00\x00,\x00\x00\x00\x00\x00\x00\x00", 8, "bytes after the last argument"),
        (b"/a\x00\x00,b\x00\x00\x00\x00\x00\x09abcd", 8, "blob of 9 bytes"),
        (b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x08abcd", 16, "does not fit"),
        (b"#bundle\x00" + b"\x00" * 8 + b"\xff\xff\xff\xfc", 16, "does not fit"),
        (b"/\xe9\x00\x00", 0, "not ASCII"),
    ],
)
def test_malformed_packets_say_what_and_where(data: bytes, offset: int, words: str) -> None:
    at, what = offset_of(data)
    assert words in what
    assert at == offset


def test_limits() -> None:
    big = encode_message("/a", b"x" * 100)
    assert "exceeds 64" in offset_of(big, Limits(max_bytes=64))[1]
    deep = encode_message("/a")
    for _ in range(3):
        deep = encode_bundle(deep)
    assert "nest more than 2 deep" in offset_of(deep, Limits(max_depth=2))[1]
    many = encode_bundle(*[encode_message("/a")] * 10)
    assert "more than 5 elements" in offset_of(many, Limits(max_elements=5))[1]
    args = encode_message("/a", *range(10))
    assert "more than 4 arguments" in offset_of(args, Limits(max_args=4))[1]


def test_trailing_bytes_and_truncation_are_refused() -> None:
    for cut in range(1, len(FSEQ)):
        if cut == 12:  # the address alone: a valid message without arguments
            continue
        with pytest.raises(OscError):
            decode_packet(FSEQ[:cut])
    with pytest.raises(OscError):
        decode_packet(FSEQ + b"\x00\x00\x00\x00")


ARGS = st.lists(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.floats(width=32, allow_nan=False),
        st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20),
        st.binary(max_size=20),
        st.booleans(),
        st.none(),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ARGS, min_size=1, max_size=4), st.integers(0, 3))
def test_round_trip_through_nested_bundles(arg_lists: list[list[Arg]], depth: int) -> None:
    encoded = [encode_message(f"/m/{i}", *args) for i, args in enumerate(arg_lists)]
    data = encode_bundle(*encoded)
    for _ in range(depth):
        data = encode_bundle(data)
    assert len(data) % 4 == 0
    got = messages(decode_packet(data))
    assert [m.address for m in got] == [f"/m/{i}" for i in range(len(arg_lists))]
    assert [list(m.args) for m in got] == arg_lists
