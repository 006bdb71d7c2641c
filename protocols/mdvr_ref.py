"""Pure-Python reference of the MDVR ("$$dc", CMSV6) protocol: sans-IO framers for the
signaling and media channels and a parser producing the same frozen dataclasses as the Rust
decoder behind :mod:`trocadero.protocols.mdvr`.

It exists to be obviously right rather than fast: it is the oracle of the differential tests
(random and mutated streams through both implementations must give equal messages and
counters) and the baseline of ``benches/mdvr_parse.py``. It follows the reference document
(``shared/reference/mdvr-protocol.md``) independently of the Rust code; the rules both must
share are stated here once more:

Framing (§2.2, §5.2). A read is appended to a buffer and scanned from the front:

* bytes that cannot start ``$$dc`` (media channel: also ``$$$$$$dc`` and ``@@$$dc``) are
  skipped and counted; a marker cut by the end of the buffer waits for more bytes;
* a text frame is ``$$dc`` + 4 ASCII digits ``LLLL`` + ``,`` … with ``#`` at offset
  ``LLLL + 8`` (media channel: optionally after ``@@``);
* a binary packet is magic + u32 LE ``L`` (8 ≤ L ≤ cap + 8) + u16 LE opcode in
  0x6000..0x66FF + … + ``####`` at the end; after ``@@$$dc``, 4 digits and a comma mean text;
* any violation, as soon as the bytes showing it are present, rejects the marker: one byte is
  skipped (counted) and scanning resumes, so nothing is waited for beyond one valid-looking
  frame. Counters: ``frames``, ``frame_bytes``, ``skipped_bytes`` (garbage + 1 per rejection),
  ``rejected_frames``, and both "since the last frame".

Fields (§3, §4): see :mod:`trocadero.protocols._mdvr_messages`. Integers are
``[+-]?[0-9]{1,18}``, decimals ``[+-]?([0-9]+(.[0-9]*)?|.[0-9]+)`` (≤ 32 chars), flags exactly
16 hex digits; anything else is None. Coordinates are ``deg + min/60 + sec/(10^7*3600)`` with
the degree token's sign on the whole value.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Final, Literal, TypedDict

from ._mdvr_messages import (
    Alarm,
    CenterAck,
    Command,
    DeviceAck,
    DeviceStatus,
    FileBlock,
    FileDownloadRequest,
    FileQuery,
    FileReady,
    FileRegistration,
    Heartbeat,
    LiveVideoRegistration,
    LiveVideoRequest,
    MalformedFrame,
    MediaFrame,
    MediaItem,
    MediaRegistration,
    Position,
    PositionReport,
    RawMediaPacket,
    Registration,
    SignalingMessage,
    UnknownMessage,
)

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "MAX_PAYLOAD_LIMIT",
    "MediaDecoder",
    "SignalingDecoder",
    "build_frame",
    "build_media_packet",
    "parse_message",
]

TEXT: Final = b"$$dc"
M1: Final = b"$$$$$$dc"
M2: Final = b"@@$$dc"
TAIL: Final = b"####"
DEFAULT_MAX_PAYLOAD: Final = 8 << 20
MAX_PAYLOAD_LIMIT: Final = 256 << 20
NOT_A_FRAME: Final = "not a $$dc text frame"
SHORT_HEADER: Final = "header needs serial, keyword, device id, workstation and time"

_INT = re.compile(rb"[+-]?[0-9]{1,18}")
_UINT = re.compile(rb"[0-9]{1,18}")
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_DIGITS = frozenset(b"0123456789")
_MEDIA_REGISTRATIONS = frozenset(
    [b"V102", b"V103", b"V105", b"V106", b"V107", b"V108", b"V110", b"V111"]
)
_MASK_ALARMS = frozenset([b"V204", b"V205", b"V217", b"V254", b"V255"])
_ALARM = re.compile(rb"V[23][0-9]{2}")
_COMMAND = re.compile(rb"C[0-9]+")

# A scanner's verdict (action, bytes, kind): ("frame", length, kind), ("skip", n, ""),
# ("reject", 1, "") or ("need", 0, ""). Kinds: "text", "text@" (after @@), "M1", "M2".
_Verdict = tuple[Literal["frame", "skip", "reject", "need"], int, str]
_REJECT: Final[_Verdict] = ("reject", 1, "")
_NEED: Final[_Verdict] = ("need", 0, "")


# ---------------------------------------------------------------------------- fields


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gbk", "replace")


def _int(raw: bytes | None) -> int | None:
    return int(raw) if raw is not None and _INT.fullmatch(raw) else None


def _decimal(raw: bytes) -> float | None:
    return float(raw) if len(raw) <= 32 and _DECIMAL.fullmatch(raw) else None


def _flags(raw: bytes) -> bytes | None:
    return bytes.fromhex(raw.decode("ascii")) if len(raw) == 16 and _HEX.fullmatch(raw) else None


def _mask(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    if len(raw) == 4 and raw.startswith(b"0") and _HEX.fullmatch(raw):
        return int(raw, 16)  # the doc's zero-padded 4-hex format
    if _UINT.fullmatch(raw):
        return int(raw)  # what real devices send
    if len(raw) <= 15 and _HEX.fullmatch(raw):
        return int(raw, 16)
    return None


def _coordinate(deg: bytes, minutes: bytes, sec: bytes) -> float | None:
    negative = deg.startswith(b"-")
    digits = deg[1:] if deg[:1] in (b"-", b"+") else deg
    if not (_UINT.fullmatch(digits) and _UINT.fullmatch(minutes) and _UINT.fullmatch(sec)):
        return None
    value = float(int(digits)) + float(int(minutes)) / 60.0 + float(int(sec)) / 36_000_000_000.0
    return -value if negative else value


class _Cursor:
    """The comma-separated fields of a body, consumed left to right."""

    def __init__(self, fields: list[bytes]) -> None:
        self.fields = fields
        self.i = 0

    def next(self) -> bytes | None:
        if self.i >= len(self.fields):
            return None
        self.i += 1
        return self.fields[self.i - 1]

    def text(self) -> str:
        raw = self.next()
        return _text(raw) if raw is not None else ""

    def raw(self) -> bytes:
        return self.next() or b""

    def int(self) -> int | None:
        return _int(self.next())

    def flag(self) -> bool:
        return self.next() == b"1"

    def rest(self) -> tuple[str, ...]:
        return tuple(_text(f) for f in self.fields[self.i :])

    def rest_raw(self) -> bytes:
        return b",".join(self.fields[self.i :])


def _position(c: _Cursor, v114: bool) -> Position | None:
    """Consume the block (18 fields, then one more unless new-firmware V114) and parse it."""
    t = c.fields[c.i : c.i + 18]
    if len(t) < 18:
        c.i = len(c.fields)
        return None
    c.i += 18
    field18 = t[17]
    if b"|" in field18:
        extension = tuple(_text(x) for x in field18.split(b"|"))
        stop_flag = passengers = None
        extra_raw = None if v114 else c.next()
        extra = _text(extra_raw) if extra_raw is not None else None
    else:
        extension = ()
        stop_flag = _int(field18)
        passengers = _int(c.next())
        extra = None
    gps = t[0]
    if gps[:1] not in (b"A", b"V"):
        return None
    longitude = _coordinate(t[1], t[2], t[3])
    latitude = _coordinate(t[4], t[5], t[6])
    if longitude is None or latitude is None:
        return None
    fuel = _decimal(t[15])
    return Position(
        valid=gps.startswith(b"A"),
        gps_state=_text(gps),
        longitude=longitude,
        latitude=latitude,
        speed_kmh=_decimal(t[7]),
        course_raw=_int(t[8]),
        status=_flags(t[9]),
        status_mask=_flags(t[10]),
        device_temp_c=_decimal(t[11]),
        engine_temp_c=_decimal(t[12]),
        cabin_temp_c=_decimal(t[13]),
        mileage_m=_int(t[14]),
        fuel_l=fuel if fuel is not None and fuel >= 0 else None,
        parking_s=_int(t[16]),
        extension=extension,
        stop_flag=stop_flag,
        passengers=passengers,
        extra=extra,
    )


# ---------------------------------------------------------------------------- messages


class _Header(TypedDict):
    serial: str
    keyword: str
    device_id: str
    workstation: str
    time: str


def parse_message(
    frame: bytes, channel: Literal["signaling", "media"] = "signaling"
) -> SignalingMessage:
    """One text frame (``$$dc…#``, or ``@@$$dc…#`` on the media channel) → its message.
    Keyword arguments below are evaluated in order, which is the order fields are consumed."""
    p = 2 if frame.startswith(M2) else 0
    length = frame[p + 4 : p + 8]
    if not (
        frame.startswith(TEXT, p)
        and frame.endswith(b"#")
        and len(length) == 4
        and all(b in _DIGITS for b in length)
        and len(frame) >= p + 9
    ):
        return MalformedFrame(frame, NOT_A_FRAME)
    body = frame[p + 8 : -1]
    if not body.startswith(b","):
        return MalformedFrame(frame, NOT_A_FRAME)
    c = _Cursor(body[1:].split(b","))
    if len(c.fields) < 5:
        return MalformedFrame(frame, SHORT_HEADER)
    kw = c.fields[1]
    h = _Header(
        serial=c.text(), keyword=c.text(), device_id=c.text(), workstation=c.text(), time=c.text()
    )
    if kw == b"V100":
        return DeviceAck(
            **h,
            position=_position(c, False),
            src_keyword=c.text(),
            src_time=c.text(),
            answer_mode=c.int(),
            success=c.flag(),
            details=c.rest(),
            raw_details=c.rest_raw(),
        )
    if kw == b"V101":
        return Registration(
            **h,
            position=_position(c, False),
            protocol_version=c.text(),
            device_type=c.int(),
            login_ip=c.text(),
            login_port=c.int(),
            power_ons_today=c.int(),
            connections=c.int(),
            plate=c.text(),
            net_type=c.int(),
            net_name=c.text(),
            audio_type=c.int(),
            disk_type=c.int(),
            factory_type=c.text(),
            factory_device_type=c.text(),
            imei=c.text(),
            host_version=c.text(),
            net_lib_version=c.text(),
            extra=c.rest(),
        )
    if kw == b"V109" and channel == "signaling":
        return Heartbeat(**h, extra=c.rest())
    if kw == b"V114":
        return PositionReport(**h, position=_position(c, True), report_flag=c.int(), extra=c.rest())
    if kw == b"V141":
        return FileQuery(**h, position=_position(c, False), extra=c.rest())
    if kw == b"V142":
        return DeviceStatus(
            **h,
            position=_position(c, False),
            success=c.flag(),
            reported_device_id=c.text(),
            device_type=c.int(),
            device_name=c.text(),
            software_version=c.text(),
            channel_count=c.int(),
            video_lost_mask=_mask(c.next()),
            record_mask=_mask(c.next()),
            disk_count=c.int(),
            disk_info=c.text(),
            cell_status=c.int(),
            cell_type=c.int(),
            cell_quality=c.int(),
            cell_ip=c.text(),
            wifi_status=c.int(),
            wifi_ap=c.text(),
            wifi_quality=c.int(),
            wifi_ip=c.text(),
            extra=c.rest(),
        )
    if kw in _MEDIA_REGISTRATIONS or (kw == b"V109" and channel == "media"):
        return _media_registration(h, kw, c)
    if _ALARM.fullmatch(kw):
        return _alarm(h, kw, c)
    if kw == b"C100":
        return CenterAck(
            **h, src_keyword=c.text(), src_time=c.text(), answer_mode=c.int(), content=c.rest()
        )
    if kw == b"C508":
        return LiveVideoRequest(
            **h,
            session_id=c.text(),
            start=c.flag(),
            channel=c.int(),
            stream_type=c.int(),
            connection_type=c.int(),
            media_ip=c.text(),
            media_port=c.int(),
            extra=c.rest(),
        )
    if kw == b"C702":
        return FileDownloadRequest(
            **h,
            session_id=c.text(),
            offset_mode=c.int(),
            start_offset=c.int(),
            end_offset=c.int(),
            media_ip=c.text(),
            media_port=c.int(),
            file_name=c.text(),
            extra=c.rest(),
        )
    if _COMMAND.fullmatch(kw):
        return Command(**h, args=c.rest(), raw_args=c.rest_raw())
    return UnknownMessage(**h, fields=c.rest(), raw_fields=c.rest_raw())


def _media_registration(h: _Header, kw: bytes, c: _Cursor) -> MediaRegistration:
    position = _position(c, False)
    protocol_version, device_type, media_ip = c.text(), c.int(), c.text()
    media_port, session_id, details = c.int(), c.text(), c.rest()
    common = MediaRegistration(
        **h,
        position=position,
        protocol_version=protocol_version,
        device_type=device_type,
        media_ip=media_ip,
        media_port=media_port,
        session_id=session_id,
        details=details,
    )
    if kw == b"V102":
        return LiveVideoRegistration(
            **_fields_of(common),
            command=c.text(),
            channel=c.int(),
            stream_type=c.int(),
            plate=c.text(),
        )
    if kw == b"V103":
        file_size = c.int()
        name, bar, plate = c.raw().rpartition(b"|")
        if not bar:
            name, plate = plate, b""
        return FileRegistration(
            **_fields_of(common), file_size=file_size, file_name=_text(name), plate=_text(plate)
        )
    return common


def _alarm(h: _Header, kw: bytes, c: _Cursor) -> Alarm:
    alarm = Alarm(
        **h,
        position=_position(c, False),
        alarm_time=c.text(),
        alarm_uid=c.text(),
        snapshot_taken=c.flag(),
        snapshot_path=c.text(),
        recording_taken=c.flag(),
        recording_path=c.text(),
        details=c.rest(),
        channel_mask=_mask(c.fields[c.i] if c.i < len(c.fields) else None)
        if kw in _MASK_ALARMS
        else None,
    )
    if kw != b"V232":
        return alarm
    return FileReady(
        **_fields_of(alarm),
        file_type=c.int(),
        file_path=c.text(),
        file_length=c.int(),
        record_type=c.int(),
        start_time=c.text(),
        duration_s=c.int(),
        channel=c.int(),
    )


def _fields_of(obj: MediaRegistration | Alarm) -> dict[str, Any]:
    """A base message's fields, to build its subclass from (slots: no ``__dict__``)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# ---------------------------------------------------------------------------- framing


def _find_start(buf: bytearray, pos: int, magics: tuple[bytes, ...]) -> int:
    """First index ≥ pos where a magic starts (or a prefix of one is cut by the end)."""
    firsts = {m[:1] for m in magics}
    i = pos
    while i < len(buf):
        hits = [j for j in (buf.find(f, i) for f in firsts) if j >= 0]
        if not hits:
            return len(buf)
        i = min(hits)
        for m in magics:
            piece = bytes(buf[i : i + len(m)])
            if m.startswith(piece):
                return i
        i += 1
    return len(buf)


def _text_frame(buf: bytearray, pos: int, prefix: int) -> _Verdict:
    p = pos + prefix
    length = buf[p + 4 : p + 8]
    if any(b not in _DIGITS for b in length):
        return _REJECT
    comma = buf[p + 8 : p + 9]
    if comma and comma != b",":
        return _REJECT
    if len(length) < 4 or not comma:
        return _NEED
    total = prefix + 9 + int(length)
    if len(buf) - pos < total:
        return _NEED
    if buf[pos + total - 1] != ord("#"):
        return _REJECT
    return ("frame", total, "text@" if prefix else "text")


def _signaling_step(buf: bytearray, pos: int, max_payload: int) -> _Verdict:
    start = _find_start(buf, pos, (TEXT,))
    if start > pos:
        return ("skip", start - pos, "")
    if buf.startswith(TEXT, pos):
        return _text_frame(buf, pos, 0)
    return _NEED


def _binary(buf: bytearray, pos: int, magic: bytes, max_payload: int) -> _Verdict:
    m = len(magic)
    if len(buf) - pos < m + 4:
        return _NEED
    (length,) = struct.unpack_from("<I", buf, pos + m)
    if length < 8 or length - 8 > max_payload:
        return _REJECT
    if len(buf) - pos < m + 6:
        return _NEED
    (opcode,) = struct.unpack_from("<H", buf, pos + m + 4)
    if not 0x6000 <= opcode <= 0x66FF:
        return _REJECT
    total = m + 4 + length + 4
    if len(buf) - pos < total:
        return _NEED
    if buf[pos + total - 4 : pos + total] != TAIL:
        return _REJECT
    return ("frame", total, "M1" if magic == M1 else "M2")


def _media_step(buf: bytearray, pos: int, max_payload: int) -> _Verdict:
    start = _find_start(buf, pos, (M1, TEXT, M2))
    if start > pos:
        return ("skip", start - pos, "")
    if buf.startswith(M1, pos):
        return _binary(buf, pos, M1, max_payload)
    if buf.startswith(TEXT, pos):
        return _text_frame(buf, pos, 0)
    if buf.startswith(M2, pos):
        after = buf[pos + 6 : pos + 11]
        digits_ok = all(b in _DIGITS for b in after[:4])
        comma_ok = len(after) < 5 or after[4] == ord(",")
        if not (digits_ok and comma_ok):
            return _binary(buf, pos, M2, max_payload)
        if len(after) < 5:
            return _NEED
        return _text_frame(buf, pos, 2)
    return _NEED


class _Framer:
    def __init__(self, max_payload: int) -> None:
        self._buf = bytearray()
        self.max_payload = max_payload
        self.frames = 0
        self.frame_bytes = 0
        self.skipped_bytes = 0
        self.rejected_frames = 0
        self.skipped_since_frame = 0
        self.rejected_since_frame = 0

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    def _step(self, buf: bytearray, pos: int) -> _Verdict:
        raise NotImplementedError

    def _frames(self, data: bytes | bytearray | memoryview) -> list[tuple[str, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[str, bytes]] = []
        pos = 0
        while pos < len(buf):
            action, n, kind = self._step(buf, pos)
            if action == "need":
                break
            if action == "frame":
                out.append((kind, bytes(buf[pos : pos + n])))
                self.frames += 1
                self.frame_bytes += n
                self.skipped_since_frame = self.rejected_since_frame = 0
            else:
                if action == "reject":
                    self.rejected_frames += 1
                    self.rejected_since_frame += 1
                self.skipped_bytes += n
                self.skipped_since_frame += n
            pos += n
        del buf[:pos]
        return out


class SignalingDecoder(_Framer):
    """Reference decoder of one signaling connection."""

    def __init__(self) -> None:
        super().__init__(DEFAULT_MAX_PAYLOAD)

    def _step(self, buf: bytearray, pos: int) -> _Verdict:
        return _signaling_step(buf, pos, self.max_payload)

    def feed(self, data: bytes | bytearray | memoryview) -> list[SignalingMessage]:
        return [parse_message(frame) for _, frame in self._frames(data)]


class MediaDecoder(_Framer):
    """Reference decoder of one media connection."""

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if not 0 <= max_payload <= MAX_PAYLOAD_LIMIT:
            raise ValueError(f"max_payload must be between 0 and {MAX_PAYLOAD_LIMIT}")
        super().__init__(max_payload)
        self.envelope: Literal["M1", "M2"] | None = None
        self.text_prefixed: bool | None = None

    def _step(self, buf: bytearray, pos: int) -> _Verdict:
        return _media_step(buf, pos, self.max_payload)

    def feed(self, data: bytes | bytearray | memoryview) -> list[MediaItem]:
        out: list[MediaItem] = []
        for kind, frame in self._frames(data):
            if kind.startswith("text"):
                self.text_prefixed = kind == "text@"
                out.append(parse_message(frame, "media"))
                continue
            env: Literal["M1", "M2"] = "M1" if kind == "M1" else "M2"
            self.envelope = env
            m = len(M1) if env == "M1" else len(M2)
            opcode, serial, time = struct.unpack_from("<HHI", frame, m + 4)
            payload = frame[m + 12 : -4]
            if opcode in (0x6011, 0x6012, 0x6013, 0x6014) and len(payload) >= 8:
                (ts,) = struct.unpack_from("<Q", payload)
                out.append(MediaFrame(env, opcode, serial, time, ts, payload[8:]))
            elif opcode == 0x6102 and len(payload) >= 8:
                offset, length = struct.unpack_from("<II", payload)
                out.append(FileBlock(env, opcode, serial, time, offset, length, payload[8:]))
            else:
                out.append(RawMediaPacket(env, opcode, serial, time, payload))
        return out


# ---------------------------------------------------------------------------- builders


def build_frame(
    keyword: str,
    fields: Sequence[str | bytes] = (),
    *,
    serial: str,
    device_id: str,
    time: str,
    workstation: str = "",
    raw: bytes | None = None,
) -> bytes:
    """``$$dc`` + ``%04d`` body length + ``,serial,KW,device,workstation,time[,field…]`` + ``#``
    (§2.3), without validation (the oracle for the Rust builders)."""
    parts = [serial, keyword, device_id, workstation, time, *fields]
    body = b"".join(b"," + (p.encode() if isinstance(p, str) else p) for p in parts)
    if raw is not None:
        body += b"," + raw
    return b"$$dc%04d" % len(body) + body + b"#"


def build_media_packet(
    opcode: int,
    payload: bytes = b"",
    *,
    envelope: Literal["M1", "M2"] = "M1",
    serial: int = 0,
    time: int = 0,
) -> bytes:
    """Magic + u32 LE (8 + len(payload)) + u16 opcode + u16 serial + u32 time + payload +
    ``####`` (§5.2)."""
    magic = M1 if envelope == "M1" else M2
    return magic + struct.pack("<IHHI", 8 + len(payload), opcode, serial, time) + payload + TAIL
