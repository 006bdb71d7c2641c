"""Socket-API framing: requests decode however the bytes are split; bad messages are
reported and the stream goes on; oversized ones are skipped exactly; a length that cannot be
a message loses the framing."""

from __future__ import annotations

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols.control_socket import (
    BadMessage,
    Decoder,
    FramingLost,
    Request,
    TooLarge,
    encode,
)

ids = st.one_of(st.integers(min_value=-(2**31), max_value=2**31), st.text(max_size=8))
# msgpack integers are 64-bit: a script cannot send anything wider.
args = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(), st.floats(allow_nan=False)),
    max_size=4,
)
requests = st.builds(
    lambda i, op, a: {"id": i, "op": op, "args": a}, ids, st.text(min_size=1, max_size=12), args
)


def decode_all(chunks: list[bytes], max_message: int = 1 << 20) -> list[object]:
    d = Decoder(max_message)
    out: list[object] = []
    for c in chunks:
        out += d.feed(c)
    return out


@given(st.lists(requests, min_size=1, max_size=5), st.data())
def test_any_split_decodes_the_same(docs: list[dict[str, object]], data: st.DataObject) -> None:
    stream = b"".join(encode(d) for d in docs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    got = decode_all(chunks)
    assert got == [Request(d["id"], d["op"], d["args"]) for d in docs]  # type: ignore[arg-type]


def test_every_byte_boundary() -> None:
    stream = encode({"id": 1, "op": "go", "args": {"list": "main"}}) + encode(
        {"id": 2, "op": "ping"}
    )
    for i in range(len(stream) + 1):
        assert decode_all([stream[:i], stream[i:]]) == [
            Request(1, "go", {"list": "main"}),
            Request(2, "ping", {}),
        ]


def framed(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


def test_bad_messages_are_reported_and_the_stream_goes_on() -> None:
    stream = (
        framed(b"\xc1\xc1\xc1")  # never-used msgpack byte
        + framed(msgpack.packb([1, 2]))
        + framed(msgpack.packb({"id": 7, "op": 3}))
        + framed(msgpack.packb({"id": 8, "op": "go", "args": [1]}))
        + framed(msgpack.packb({"id": [1], "op": "go"}))
        + encode({"id": 9, "op": "ping"})
    )
    got = decode_all([stream])
    assert [type(g) for g in got] == [BadMessage] * 5 + [Request]
    assert got[2] == BadMessage(7, "op: expected a non-empty string")
    assert got[3] == BadMessage(8, "args: expected a map with string keys")
    assert got[5] == Request(9, "ping", {})


def test_oversized_is_skipped_exactly_even_in_pieces() -> None:
    big = encode({"id": 1, "op": "x", "args": {"blob": "y" * 5000}})
    after = encode({"id": 2, "op": "ping"})
    d = Decoder(max_message=1024)
    out: list[object] = []
    for i in range(0, len(big + after), 100):
        out += d.feed((big + after)[i : i + 100])
    assert out == [TooLarge(len(big) - 4, 1024), Request(2, "ping", {})]
    assert d.buffered == 0


def test_impossible_length_loses_the_framing() -> None:
    d = Decoder()
    assert d.feed(b"\x00\x00\x00\x00rest") == [FramingLost("length prefix 0 cannot be a message")]
    assert d.feed(encode({"id": 1, "op": "ping"})) == []  # nothing after the framing is lost
    d = Decoder()
    (lost,) = d.feed(b"GET / HTTP/1.1\r\n")  # someone speaking HTTP to the socket
    assert isinstance(lost, FramingLost)
