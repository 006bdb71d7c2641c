"""Framing of the show-script socket API (sans-IO: bytes in, messages out).

Each message is a 4-byte big-endian length, then that many bytes of msgpack holding a map.
Requests are ``{"id", "op", "args"}``; replies ``{"id", "ok": true, "result"}`` or
``{"id", "ok": false, "error": {"code", "message"}}``; pushed events
``{"event": topic, "data": payload, "seq": n}``.

The length prefix is what keeps a connection usable after bad input: a message that is too
large is skipped (exactly its length) and reported, a message that is not msgpack or not a
request is reported, and the next one decodes normally. Only a length that cannot be a
message at all (0, or beyond `FRAMING_LIMIT`) means the framing is lost; the decoder then
reports `FramingLost` and the connection must be closed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

import msgpack

__all__ = [
    "FRAMING_LIMIT",
    "MAX_MESSAGE",
    "BadMessage",
    "Decoder",
    "FramingLost",
    "Request",
    "TooLarge",
    "encode",
]

MAX_MESSAGE: Final = 1 << 20  # default largest accepted message (1 MiB)
FRAMING_LIMIT: Final = 64 << 20  # a longer prefix is garbage, not a message
_HEADER: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Request:
    id: Any
    op: str
    args: dict[str, Any]
    # The caller's correlation id, as sent (the server keeps it only when it is sane).
    request_id: object = None


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A well-framed message that is not a request; ``id`` when one could be read."""

    id: Any
    message: str


@dataclass(frozen=True, slots=True)
class TooLarge:
    size: int
    limit: int


@dataclass(frozen=True, slots=True)
class FramingLost:
    message: str


Incoming = Request | BadMessage | TooLarge | FramingLost


def encode(doc: dict[str, Any]) -> bytes:
    # default=str: a payload value msgpack has no type for (a datetime) goes as its text.
    body: bytes = msgpack.packb(doc, use_bin_type=True, default=str)
    return _HEADER.pack(len(body)) + body


class Decoder:
    """Feed bytes as they arrive; get the complete requests they finish (the server's side).
    `ReplyDecoder` is the same framing for the client's side."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._skip = 0  # bytes of an oversized message still to discard
        self.lost = False

    def feed(self, data: bytes) -> list[Any]:
        if self.lost:
            return []
        self._buffer += data
        out: list[Incoming] = []
        while True:
            if self._skip:
                n = min(self._skip, len(self._buffer))
                del self._buffer[:n]
                self._skip -= n
                if self._skip:
                    return out
            if len(self._buffer) < _HEADER.size:
                return out
            (size,) = _HEADER.unpack_from(self._buffer)
            if size == 0 or size > FRAMING_LIMIT:
                self.lost = True
                self._buffer.clear()
                out.append(FramingLost(f"length prefix {size} cannot be a message"))
                return out
            if size > self.max_message:
                del self._buffer[: _HEADER.size]
                self._skip = size
                out.append(TooLarge(size, self.max_message))
                continue
            if len(self._buffer) < _HEADER.size + size:
                return out
            body = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
            del self._buffer[: _HEADER.size + size]
            out.append(self._message(body))

    def _message(self, body: bytes) -> Any:
        return _parse(body)

    @property
    def buffered(self) -> int:
        return len(self._buffer)


class ReplyDecoder(Decoder):
    """The client's side: replies and events, each a map (anything else is `BadMessage`)."""

    def __init__(self, max_message: int = FRAMING_LIMIT) -> None:
        super().__init__(max_message)

    def _message(self, body: bytes) -> dict[str, Any] | BadMessage:
        try:
            doc = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException, TypeError) as exc:
            return BadMessage(None, f"not msgpack: {exc}")
        return doc if isinstance(doc, dict) else BadMessage(None, "expected a map")


def _parse(body: bytes) -> Request | BadMessage:
    try:
        doc = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except msgpack.StackError:  # its message is empty
        return BadMessage(None, "not msgpack: nested deeper than the decoder's 1024 levels")
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        return BadMessage(None, f"not msgpack: {exc}")
    if not isinstance(doc, dict):
        return BadMessage(None, f"expected a map, got {type(doc).__name__}")
    mid = doc.get("id")
    if mid is not None and not isinstance(mid, int | str):
        return BadMessage(None, "id: expected an integer or a string")
    op = doc.get("op")
    if not isinstance(op, str) or not op:
        return BadMessage(mid, "op: expected a non-empty string")
    args = doc.get("args", {})
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        return BadMessage(mid, "args: expected a map with string keys")
    return Request(mid, op, args, doc.get("request_id"))
