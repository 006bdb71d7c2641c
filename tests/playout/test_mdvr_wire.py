"""The daemon ⇄ gateway-process framing (playout/mdvr/process/wire.py), sans-IO: messages split
anywhere come out whole, and what is not a framed, typed msgpack map is refused before it is
buffered or believed."""

from __future__ import annotations

import msgpack
import pytest

from trocadero.playout.mdvr.process.wire import MAX_MESSAGE, Deframer, WireError, frame


def test_messages_split_anywhere_come_out_whole() -> None:
    data = frame({"t": "state", "n": 1}) + frame({"t": "frame", "data": b"\x00" * 1000})
    for cut in range(len(data)):
        d = Deframer()
        got = d.feed(data[:cut]) + d.feed(data[cut:])
        assert [m["t"] for m in got] == ["state", "frame"]
        assert got[1]["data"] == b"\x00" * 1000


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ((MAX_MESSAGE + 1).to_bytes(4, "big"), "exceeds"),  # refused before any body arrives
        (len(b"\xc1").to_bytes(4, "big") + b"\xc1", "undecodable"),  # 0xc1: never valid
        (frame({"no": "type"}), "not a typed message"),
        (len(msgpack.packb([1, 2])).to_bytes(4, "big") + msgpack.packb([1, 2]), "not a typed"),
    ],
)
def test_garbage_is_refused(data: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        Deframer().feed(data)


def test_a_message_too_big_is_not_sent() -> None:
    with pytest.raises(WireError, match="exceeds"):
        frame({"t": "frame", "data": b"\x00" * (MAX_MESSAGE + 1)})
