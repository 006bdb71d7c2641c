"""What a blob tracker process sends the daemon, sans-IO (docs/cameras.md, "The wire").

Each message is a msgpack map framed by a 4-byte big-endian length. The tracker is a child of
the daemon, but it decodes whatever a camera sends it, so its stream is read as untrusted:
`BlobReader` checks the length before buffering, every field's type and range, and the number
of blobs; anything else raises `BlobWireError` and the daemon drops that one connection (the
camera's supervisor restarts the tracker). Nothing here imports Trio or a socket.

    {"t": "hello", "camera": str, "width": int, "height": int, "pid": int}
    {"t": "blobs", "seq": int, "at": float, "blobs": [[id, x, y, w, h, area, age_s], ...]}
    {"t": "snapshot", "at": float, "width": int, "height": int, "jpeg": bytes}
    {"t": "error", "text": str}            # e.g. the source cannot be opened (then it exits)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgpack

__all__ = [
    "MAX_BLOBS",
    "MAX_MESSAGE",
    "Blob",
    "BlobFrame",
    "BlobReader",
    "BlobWireError",
    "Hello",
    "SnapshotPicture",
    "WorkerError",
    "encode_blobs",
    "encode_error",
    "encode_hello",
    "encode_snapshot",
]

MAX_MESSAGE: Final = 2 << 20  # a JPEG snapshot of a 1080p picture is well under this
MAX_BLOBS: Final = 256  # more is noise (a tracker with its thresholds wrong), not people
MAX_TEXT: Final = 1000
MAX_SIDE: Final = 16384
_HEADER: Final = 4


class BlobWireError(Exception):
    """The tracker sent something that is not a valid message: its connection is dropped."""


@dataclass(frozen=True, slots=True)
class Blob:
    """One tracked blob, in fractions of the camera's picture (0..1, x right, y down)."""

    id: int  # persistent while the tracker follows it
    x: float  # centroid
    y: float
    w: float  # bounding box
    h: float
    area: float  # fraction of the picture covered
    age_s: float  # since the tracker first saw it


@dataclass(frozen=True, slots=True)
class Hello:
    camera: str
    width: int
    height: int
    pid: int


@dataclass(frozen=True, slots=True)
class BlobFrame:
    seq: int
    at: float  # Unix seconds the frame was taken
    blobs: tuple[Blob, ...]


@dataclass(frozen=True, slots=True)
class SnapshotPicture:
    at: float
    width: int
    height: int
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class WorkerError:
    text: str


Message = Hello | BlobFrame | SnapshotPicture | WorkerError


def _frame(body: dict[str, Any]) -> bytes:
    data: bytes = msgpack.packb(body, use_bin_type=True)
    if len(data) > MAX_MESSAGE:
        raise BlobWireError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    return len(data).to_bytes(_HEADER, "big") + data


def encode_hello(camera: str, width: int, height: int, pid: int) -> bytes:
    return _frame({"t": "hello", "camera": camera, "width": width, "height": height, "pid": pid})


def encode_blobs(seq: int, at: float, blobs: Sequence[Blob]) -> bytes:
    rows = [[b.id, b.x, b.y, b.w, b.h, b.area, b.age_s] for b in blobs[:MAX_BLOBS]]
    return _frame({"t": "blobs", "seq": seq, "at": at, "blobs": rows})


def encode_snapshot(at: float, width: int, height: int, jpeg: bytes) -> bytes:
    return _frame({"t": "snapshot", "at": at, "width": width, "height": height, "jpeg": jpeg})


def encode_error(text: str) -> bytes:
    return _frame({"t": "error", "text": text[:MAX_TEXT]})


def _int(doc: dict[str, Any], key: str, low: int, high: int) -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise BlobWireError(f"{doc.get('t')}.{key}: expected an integer {low}..{high}, got {v!r}")
    return v


def _real(v: object, what: str, low: float, high: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BlobWireError(f"{what}: expected a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f) or not low <= f <= high:
        raise BlobWireError(f"{what}: expected {low:g}..{high:g}, got {f!r}")
    return f


def _text(doc: dict[str, Any], key: str, limit: int) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not 0 < len(v) <= limit:
        raise BlobWireError(f"{doc.get('t')}.{key}: expected a text of 1..{limit} characters")
    return v


def _blob(row: object, n: int) -> Blob:
    if not isinstance(row, list) or len(row) != 7:
        raise BlobWireError(f"blobs[{n}]: expected [id, x, y, w, h, area, age_s]")
    blob_id = row[0]
    if isinstance(blob_id, bool) or not isinstance(blob_id, int) or not 0 <= blob_id < 2**31:
        raise BlobWireError(f"blobs[{n}].id: expected an integer 0..2^31-1, got {blob_id!r}")
    x, y, w, h, area = (
        _real(v, f"blobs[{n}].{k}", 0.0, 1.0) for k, v in zip("xywha", row[1:6], strict=True)
    )
    return Blob(blob_id, x, y, w, h, area, _real(row[6], f"blobs[{n}].age_s", 0.0, 1e9))


def parse_message(doc: object) -> Message:
    """One decoded msgpack value → its typed message (or `BlobWireError`)."""
    if not isinstance(doc, dict):
        raise BlobWireError(f"expected a map, got {type(doc).__name__}")
    kind = doc.get("t")
    if kind == "blobs":
        rows = doc.get("blobs")
        if not isinstance(rows, list) or len(rows) > MAX_BLOBS:
            raise BlobWireError(f"blobs.blobs: expected an array of at most {MAX_BLOBS}")
        return BlobFrame(
            _int(doc, "seq", 0, 2**63 - 1),
            _real(doc.get("at"), "blobs.at", 0.0, 1e11),
            tuple(_blob(r, n) for n, r in enumerate(rows)),
        )
    if kind == "snapshot":
        jpeg = doc.get("jpeg")
        if not isinstance(jpeg, bytes) or not jpeg.startswith(b"\xff\xd8"):
            raise BlobWireError("snapshot.jpeg: expected JPEG bytes")
        return SnapshotPicture(
            _real(doc.get("at"), "snapshot.at", 0.0, 1e11),
            _int(doc, "width", 1, MAX_SIDE),
            _int(doc, "height", 1, MAX_SIDE),
            jpeg,
        )
    if kind == "hello":
        return Hello(
            _text(doc, "camera", 64),
            _int(doc, "width", 1, MAX_SIDE),
            _int(doc, "height", 1, MAX_SIDE),
            _int(doc, "pid", 1, 2**31 - 1),
        )
    if kind == "error":
        return WorkerError(_text(doc, "text", MAX_TEXT))
    raise BlobWireError(f"unknown message type {kind!r}")


class BlobReader:
    """Bytes in, typed messages out. A length over `MAX_MESSAGE` is refused from its header,
    before anything is buffered; after an error the reader stays broken."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._max = max_message
        self._broken: BlobWireError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        if self._broken is not None:
            raise self._broken
        self._buffer += data
        out: list[Message] = []
        try:
            while len(self._buffer) >= _HEADER:
                size = int.from_bytes(self._buffer[:_HEADER], "big")
                if size == 0 or size > self._max:
                    raise BlobWireError(f"message length {size} not within 1..{self._max}")
                if len(self._buffer) < _HEADER + size:
                    break
                body = bytes(self._buffer[_HEADER : _HEADER + size])
                del self._buffer[: _HEADER + size]
                try:
                    doc = msgpack.unpackb(body, raw=False, strict_map_key=True)
                except (ValueError, msgpack.UnpackException) as exc:
                    raise BlobWireError(f"undecodable message: {exc}") from exc
                out.append(parse_message(doc))
        except BlobWireError as exc:
            self._broken = exc
            raise
        return out

    @property
    def buffered(self) -> int:
        return len(self._buffer)
