"""The blob tracker's wire, read strictly: whole messages, byte by byte and with a tail; each
kind of broken or hostile stream refused with what is wrong (the daemon then drops that one
connection), and a length past the limit refused from its header alone."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.protocols import blob_wire as w

BLOB = w.Blob(7, 0.25, 0.5, 0.05, 0.1, 0.004, 2.5)


def test_messages_round_trip_whole_and_byte_by_byte() -> None:
    stream = (
        w.encode_hello("facade", 640, 480, 1234)
        + w.encode_blobs(3, 1_800_000_000.5, [BLOB])
        + w.encode_snapshot(1_800_000_000.5, 640, 480, b"\xff\xd8jpeg")
        + w.encode_error("rtsp://cam: 404")
    )
    expected = [
        w.Hello("facade", 640, 480, 1234),
        w.BlobFrame(3, 1_800_000_000.5, (BLOB,)),
        w.SnapshotPicture(1_800_000_000.5, 640, 480, b"\xff\xd8jpeg"),
        w.WorkerError("rtsp://cam: 404"),
    ]
    assert w.BlobReader().feed(stream) == expected
    reader = w.BlobReader()
    got = [m for i in range(len(stream)) for m in reader.feed(stream[i : i + 1])]
    assert got == expected
    assert reader.buffered == 0
    tail = w.encode_blobs(4, 1.0, [])
    assert w.BlobReader().feed(stream + tail[:5]) == expected  # a partial message waits


def _framed(doc: object) -> bytes:
    body: bytes = msgpack.packb(doc, use_bin_type=True)
    return len(body).to_bytes(4, "big") + body


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        ((w.MAX_MESSAGE + 1).to_bytes(4, "big"), "not within 1.."),
        (b"\x00\x00\x00\x00", "not within 1.."),
        (b"\x00\x00\x00\x02\xc1\xc1", "undecodable"),
        (_framed([1, 2, 3]), "expected a map"),
        (_framed({"t": "launch"}), "unknown message type"),
        (_framed({"t": "blobs", "seq": 1, "at": 1.0, "blobs": [[1, 2.0, 0, 0, 0, 0, 0]]}), "x"),
        (_framed({"t": "blobs", "seq": 1, "at": 1.0, "blobs": [[1, 0.5, 0.5]]}), "expected [id"),
        (
            _framed({"t": "blobs", "seq": 1, "at": 1.0, "blobs": [[-1, 0, 0, 0, 0, 0, 0]]}),
            "blobs[0].id",
        ),
        (
            _framed({"t": "blobs", "seq": 1, "at": float("nan"), "blobs": []}),
            "blobs.at",
        ),
        (
            _framed({"t": "blobs", "seq": 1, "at": 1.0, "blobs": [[1, 0, 0, 0, 0, 0, 0]] * 257}),
            "at most 256",
        ),
        (_framed({"t": "blobs", "seq": True, "at": 1.0, "blobs": []}), "blobs.seq"),
        (_framed({"t": "snapshot", "at": 1.0, "width": 1, "height": 1, "jpeg": b"GIF"}), "JPEG"),
        (_framed({"t": "hello", "camera": "", "width": 1, "height": 1, "pid": 1}), "camera"),
        (_framed({"t": "error", "text": "x" * 2000}), "error.text"),
    ],
)
def test_a_broken_or_hostile_stream_is_refused(stream: bytes, problem: str) -> None:
    reader = w.BlobReader()
    with pytest.raises(w.BlobWireError, match=None) as caught:
        reader.feed(w.encode_blobs(0, 1.0, []) + stream)
    assert problem in str(caught.value)
    with pytest.raises(w.BlobWireError):  # broken for good: nothing more is read
        reader.feed(w.encode_blobs(1, 1.0, []))


def test_the_length_is_refused_before_the_body_arrives() -> None:
    reader = w.BlobReader(max_message=1000)
    with pytest.raises(w.BlobWireError, match="not within"):
        reader.feed((1001).to_bytes(4, "big"))
    assert reader.buffered == 4  # nothing of a body was awaited


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
@settings(max_examples=300, deadline=None)
def test_any_bytes_are_messages_or_one_refusal(junk: bytes, chunk: int) -> None:
    """Whatever a broken tracker writes, the reader answers with messages or BlobWireError,
    never another exception, and never buffers past one message's limit."""
    reader = w.BlobReader()
    try:
        for i in range(0, len(junk), chunk):
            for message in reader.feed(junk[i : i + chunk]):
                assert isinstance(
                    message, w.Hello | w.BlobFrame | w.SnapshotPicture | w.WorkerError
                )
            assert reader.buffered <= w.MAX_MESSAGE + 4
    except w.BlobWireError:
        pass


blobs = st.lists(
    st.builds(
        w.Blob,
        st.integers(0, 2**31 - 1),
        *[st.floats(0.0, 1.0)] * 5,
        st.floats(0.0, 1e6),
    ),
    max_size=20,
)


@given(st.lists(blobs, min_size=1, max_size=5), st.integers(min_value=1, max_value=97))
@settings(max_examples=100, deadline=None)
def test_frames_survive_any_split(frames: list[list[w.Blob]], chunk: int) -> None:
    stream = b"".join(w.encode_blobs(n, 1e9 + n, f) for n, f in enumerate(frames))
    reader = w.BlobReader()
    got = [m for i in range(0, len(stream), chunk) for m in reader.feed(stream[i : i + chunk])]
    assert got == [w.BlobFrame(n, 1e9 + n, tuple(f)) for n, f in enumerate(frames)]
