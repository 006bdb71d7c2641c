"""OSC 1.0 packets (sans-IO: bytes in, messages out; bytes out for tests and tools).

A packet is a message (an address pattern, a type-tag string, the arguments) or a bundle
("#bundle", a time tag, then elements each preceded by its int32 size; elements nest).
Strings are NUL-terminated and padded with NULs to a multiple of 4 bytes, as is every
element. Argument types: i (int32), f (float32), s (string), b (blob), h (int64),
d (float64), t (time tag, uint64), T, F, N (true, false, nil: no data).

Limits are checked as the bytes are read (datagram size, bundle depth, elements and
arguments); anything malformed raises `OscError` saying what and at which byte offset of the
datagram. Facts from the OSC 1.0 specification (opensoundcontrol.org, 2002).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BUNDLE_TAG",
    "Arg",
    "Bundle",
    "Limits",
    "Message",
    "OscError",
    "Packet",
    "decode_packet",
    "encode_bundle",
    "encode_message",
    "messages",
]

BUNDLE_TAG: Final = b"#bundle\x00"
IMMEDIATELY: Final = 1  # the time tag meaning "now"

Arg = int | float | str | bytes | bool | None


class OscError(ValueError):
    """A malformed packet: `what` is wrong at byte `offset` of the datagram."""

    def __init__(self, what: str, offset: int) -> None:
        super().__init__(f"{what} (at byte {offset})")
        self.what = what
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 65507  # the largest UDP payload over IPv4
    max_depth: int = 4  # bundles within bundles
    max_elements: int = 1024  # messages and bundles in one datagram, all levels
    max_args: int = 256  # per message


@dataclass(frozen=True, slots=True)
class Message:
    address: str
    args: tuple[Arg, ...]
    offset: int = 0  # where it starts in the datagram (for errors about its meaning)


@dataclass(frozen=True, slots=True)
class Bundle:
    time_tag: int
    elements: tuple[Message | Bundle, ...]
    offset: int = 0


Packet = Message | Bundle


def _pad(n: int) -> int:
    return (n + 3) & ~3


class _Reader:
    def __init__(self, data: bytes, limits: Limits) -> None:
        self.data = data
        self.limits = limits
        self.elements = 0

    def string(self, pos: int, end: int, what: str) -> tuple[str, int]:
        nul = self.data.find(b"\x00", pos, end)
        if nul < 0:
            raise OscError(f"{what}: no terminating NUL", pos)
        after = pos + _pad(nul - pos + 1)
        if after > end:
            raise OscError(f"{what}: padding runs past the end of its element", pos)
        if any(self.data[nul:after]):
            raise OscError(f"{what}: padding is not NUL bytes", nul)
        try:
            text = self.data[pos:nul].decode("ascii")
        except UnicodeDecodeError:
            raise OscError(f"{what}: not ASCII", pos) from None
        return text, after

    def fixed(self, fmt: str, pos: int, end: int, what: str) -> tuple[int | float, int]:
        size = struct.calcsize(fmt)
        if pos + size > end:
            raise OscError(f"{what}: needs {size} bytes, {max(0, end - pos)} left", pos)
        (value,) = struct.unpack_from(fmt, self.data, pos)
        return value, pos + size

    def packet(self, pos: int, end: int, depth: int) -> Packet:
        self.elements += 1
        if self.elements > self.limits.max_elements:
            raise OscError(f"more than {self.limits.max_elements} elements", pos)
        if (end - pos) % 4:
            raise OscError(f"element size {end - pos} is not a multiple of 4", pos)
        if self.data.startswith(BUNDLE_TAG, pos):
            return self.bundle(pos, end, depth)
        return self.message(pos, end)

    def bundle(self, start: int, end: int, depth: int) -> Bundle:
        if depth >= self.limits.max_depth:
            raise OscError(f"bundles nest more than {self.limits.max_depth} deep", start)
        tag, pos = self.fixed(">Q", start + 8, end, "bundle time tag")
        elements: list[Packet] = []
        while pos < end:
            size, pos = self.fixed(">i", pos, end, "bundle element size")
            assert isinstance(size, int)
            if size <= 0 or size % 4 or pos + size > end:
                raise OscError(f"bundle element size {size} does not fit its bundle", pos - 4)
            elements.append(self.packet(pos, pos + size, depth + 1))
            pos += size
        return Bundle(int(tag), tuple(elements), start)

    def message(self, start: int, end: int) -> Message:
        if start >= end or self.data[start] != ord("/"):
            raise OscError("a message's address must start with '/'", start)
        address, pos = self.string(start, end, "address")
        if pos >= end:  # OSC 1.0 allows an absent type-tag string: no arguments
            return Message(address, (), start)
        tags, pos = self.string(pos, end, "type tags")
        if not tags.startswith(","):
            raise OscError("type tags must start with ','", pos - _pad(len(tags) + 1))
        if len(tags) - 1 > self.limits.max_args:
            raise OscError(f"more than {self.limits.max_args} arguments", start)
        args: list[Arg] = []
        for tag in tags[1:]:
            value: Arg
            if tag == "i":
                value, pos = self.fixed(">i", pos, end, "int32 argument")
            elif tag == "f":
                value, pos = self.fixed(">f", pos, end, "float32 argument")
            elif tag == "h":
                value, pos = self.fixed(">q", pos, end, "int64 argument")
            elif tag == "d":
                value, pos = self.fixed(">d", pos, end, "float64 argument")
            elif tag == "t":
                value, pos = self.fixed(">Q", pos, end, "time tag argument")
            elif tag == "s":
                value, pos = self.string(pos, end, "string argument")
            elif tag == "b":
                size, pos = self.fixed(">i", pos, end, "blob size")
                assert isinstance(size, int)
                if size < 0 or pos + _pad(size) > end:
                    raise OscError(f"blob of {size} bytes does not fit its message", pos - 4)
                value, pos = self.data[pos : pos + size], pos + _pad(size)
            elif tag in "TF":
                value = tag == "T"
            elif tag == "N":
                value = None
            else:
                raise OscError(f"unknown type tag {tag!r}", start)
            args.append(value)
        if pos != end:
            raise OscError(f"{end - pos} bytes after the last argument", pos)
        return Message(address, tuple(args), start)


def decode_packet(data: bytes, limits: Limits | None = None) -> Packet:
    """The packet in one datagram; `OscError` says what is wrong and where."""
    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        raise OscError(f"datagram of {len(data)} bytes exceeds {limits.max_bytes}", 0)
    if not data:
        raise OscError("empty datagram", 0)
    return _Reader(bytes(data), limits).packet(0, len(data), 0)


def messages(packet: Packet) -> list[Message]:
    """The messages of a packet in order, bundles flattened (depth first)."""
    if isinstance(packet, Message):
        return [packet]
    out: list[Message] = []
    for element in packet.elements:
        out += messages(element)
    return out


# --- encoding (tests, tools, the simulator's peers) -------------------------------------------


def _string(text: str) -> bytes:
    raw = text.encode("ascii") + b"\x00"
    return raw + b"\x00" * (_pad(len(raw)) - len(raw))


def encode_message(address: str, *args: Arg) -> bytes:
    """A message; Python ints are int32 (int64 when they do not fit), floats float32."""
    tags, body = ",", b""
    for a in args:
        if a is True or a is False:
            tags += "T" if a else "F"
        elif a is None:
            tags += "N"
        elif isinstance(a, int):
            if -(2**31) <= a < 2**31:
                tags, body = tags + "i", body + struct.pack(">i", a)
            else:
                tags, body = tags + "h", body + struct.pack(">q", a)
        elif isinstance(a, float):
            tags, body = tags + "f", body + struct.pack(">f", a)
        elif isinstance(a, str):
            tags, body = tags + "s", body + _string(a)
        else:
            blob = bytes(a)
            pad = b"\x00" * (_pad(len(blob)) - len(blob))
            tags, body = tags + "b", body + struct.pack(">i", len(blob)) + blob + pad
    return _string(address) + _string(tags) + body


def encode_bundle(*elements: bytes, time_tag: int = IMMEDIATELY) -> bytes:
    out = BUNDLE_TAG + struct.pack(">Q", time_tag)
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out
