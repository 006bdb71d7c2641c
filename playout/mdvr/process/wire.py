"""Messages between the lighting daemon and its gateway process: msgpack maps, each framed by a
4-byte big-endian length, over a Unix socket pair. Sans-IO framing (`Deframer`: bytes in,
messages out) beside the small Trio stream wrapper that uses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgpack
import trio

__all__ = ["MAX_MESSAGE", "Deframer", "MessageStream", "WireError", "frame"]

# A live frame at every wanted size of the largest canvas is well under this; anything bigger
# is a bug on the other side, not something to buffer.
MAX_MESSAGE: Final = 32 << 20
_HEADER: Final = 4


class WireError(Exception):
    """The peer sent something that is not a framed msgpack map."""


def frame(message: Mapping[str, Any]) -> bytes:
    body: bytes = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_MESSAGE:
        raise WireError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
    return len(body).to_bytes(_HEADER, "big") + body


class Deframer:
    """Bytes in, complete messages out; refuses a length over `MAX_MESSAGE` before buffering."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[dict[str, Any]]:
        self._buffer += data
        out: list[dict[str, Any]] = []
        while len(self._buffer) >= _HEADER:
            size = int.from_bytes(self._buffer[:_HEADER], "big")
            if size > MAX_MESSAGE:
                raise WireError(f"message length {size} exceeds {MAX_MESSAGE}")
            if len(self._buffer) < _HEADER + size:
                break
            body = bytes(self._buffer[_HEADER : _HEADER + size])
            del self._buffer[: _HEADER + size]
            try:
                message = msgpack.unpackb(body, raw=False)
            except (ValueError, msgpack.UnpackException) as exc:
                raise WireError(f"undecodable message: {exc}") from exc
            if not isinstance(message, dict) or not isinstance(message.get("t"), str):
                raise WireError(f"not a typed message: {type(message).__name__}")
            out.append(message)
        return out


class MessageStream:
    """Framed messages over a Trio stream; `send` may be called from several tasks."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._deframer = Deframer()
        self._ready: list[dict[str, Any]] = []
        self._send_lock = trio.Lock()

    async def send(self, message: Mapping[str, Any]) -> None:
        data = frame(message)
        async with self._send_lock:
            await self._stream.send_all(data)

    async def receive(self) -> dict[str, Any] | None:
        """The next message, or None once the peer closed its end."""
        while not self._ready:
            data = await self._stream.receive_some(1 << 16)
            if not data:
                return None
            self._ready = self._deframer.feed(data)
        return self._ready.pop(0)

    async def aclose(self) -> None:
        await self._stream.aclose()
