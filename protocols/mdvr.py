"""MDVR gateway protocol ("$$dc", CMSV6 / TTX; see ``shared/reference/mdvr-protocol.md``):
per-connection decoders and the server's messages, over the Rust core (``trocadero_rt``).

Sans-IO: a server owns one decoder per TCP connection, feeds it every read and acts on the
typed messages that come out; builders return the bytes to write. No sockets, no clock (pass
the time in: :func:`format_time` of an NTP-synced UTC ``datetime``)::

    decoder = SignalingDecoder()
    for msg in decoder.feed(await stream.receive_some()):
        if isinstance(msg, Registration):
            await stream.send_all(build_ack(msg, now))          # C100 "0,1,1,"
        elif isinstance(msg, PositionReport) and msg.position:
            store(msg.device_id, msg.time, msg.position)          # no reply to V114
        elif isinstance(msg, Alarm):
            await stream.send_all(build_ack(msg, now))          # C100 "0,<uid>"
    if decoder.skipped_since_frame > 65536: close()               # garbage policy (§9)

    media = MediaDecoder()          # one per media connection: registration, then packets
    for item in media.feed(data):
        if isinstance(item, LiveVideoRegistration): authorise(item.device_id, item.session_id)
        elif isinstance(item, MediaFrame) and item.kind == "video": decode(item.data)
    reply = build_media_feedback(ok=True, envelope=media.envelope or "M1")

The message dataclasses (frozen) are defined in ``_mdvr_messages`` and re-exported here; the
pure-Python reference (:mod:`.mdvr_ref`) produces the same classes and is the test oracle.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Literal, cast

import trocadero_rt

from . import _mdvr_messages as _messages
from ._mdvr_messages import (
    ALARM_NAMES,
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
    MediaPacket,
    MediaRegistration,
    Message,
    Position,
    PositionReport,
    RawMediaPacket,
    Registration,
    SignalingMessage,
    UnknownMessage,
    parse_time,
    sniff_video_codec,
)

__all__ = [
    "ALARM_NAMES",
    "DEFAULT_MAX_PAYLOAD",
    "FEEDBACK_BAD_DEVICE_ID",
    "FEEDBACK_CENTER_NOT_RESPONDING",
    "MAX_PAYLOAD_LIMIT",
    "MEDIA_PORT",
    "OP_AUDIO_FRAME",
    "OP_FEEDBACK",
    "OP_FILE_DATA",
    "OP_HEARTBEAT",
    "OP_INFO_FRAME",
    "OP_I_FRAME",
    "OP_P_FRAME",
    "OP_REQUEST_IFRAME",
    "OP_SESSION_END",
    "REG_BAD_FORMAT",
    "REG_DEVICE_TYPE_UNSUPPORTED",
    "REG_PROTOCOL_VERSION_INCOMPATIBLE",
    "REG_SERVER_ADDRESS_MISMATCH",
    "REG_UNKNOWN_DEVICE",
    "SIGNALING_PORT",
    "Alarm",
    "CenterAck",
    "Command",
    "DeviceAck",
    "DeviceStatus",
    "Envelope",
    "FileBlock",
    "FileDownloadRequest",
    "FileQuery",
    "FileReady",
    "FileRegistration",
    "Heartbeat",
    "LiveVideoRegistration",
    "LiveVideoRequest",
    "MalformedFrame",
    "MediaDecoder",
    "MediaFrame",
    "MediaItem",
    "MediaPacket",
    "MediaRegistration",
    "Message",
    "Position",
    "PositionReport",
    "RawMediaPacket",
    "Registration",
    "SignalingDecoder",
    "SignalingMessage",
    "UnknownMessage",
    "build_ack",
    "build_c100",
    "build_control",
    "build_file_download",
    "build_frame",
    "build_heartbeat",
    "build_iframe_request",
    "build_live_video",
    "build_live_video_stop",
    "build_media_feedback",
    "build_media_heartbeat",
    "build_media_packet",
    "build_not_registered",
    "build_parameters",
    "build_position_interval",
    "build_registration_refusal",
    "format_time",
    "needs_ack",
    "parse_time",
    "position_fields",
    "reply_problem",
    "route_problem",
    "sniff_video_codec",
]

Envelope = Literal["M1", "M2"]

SIGNALING_PORT: Final = 6608  # CMSV6 default (the seed's alternative: 1087)
MEDIA_PORT: Final = 6602
DEFAULT_MAX_PAYLOAD: Final[int] = trocadero_rt.MDVR_DEFAULT_MAX_PAYLOAD
MAX_PAYLOAD_LIMIT: Final[int] = trocadero_rt.MDVR_MAX_PAYLOAD_LIMIT

# Media opcodes (§5.3).
OP_FEEDBACK: Final = 0x6000
OP_REQUEST_IFRAME: Final = 0x6002
OP_HEARTBEAT: Final = 0x6005
OP_I_FRAME: Final = 0x6011
OP_P_FRAME: Final = 0x6012
OP_AUDIO_FRAME: Final = 0x6013
OP_INFO_FRAME: Final = 0x6014
OP_FILE_DATA: Final = 0x6102
OP_SESSION_END: Final = 0x6105

# 0x6000 failure reasons (§5.1).
FEEDBACK_CENTER_NOT_RESPONDING: Final = 0x1001
FEEDBACK_BAD_DEVICE_ID: Final = 0x1002

# C100 reasons for refusing a V101 (§4.1); close the connection after sending.
REG_BAD_FORMAT: Final = 1
REG_UNKNOWN_DEVICE: Final = 2
REG_SERVER_ADDRESS_MISMATCH: Final = 3
REG_DEVICE_TYPE_UNSUPPORTED: Final = 4
REG_PROTOCOL_VERSION_INCOMPATIBLE: Final = 5

# The decoders instantiate these classes directly (bypassing the frozen __init__); the binding
# checks every class's name and dataclass fields against its own list here, at import.
_SCHEMA: Final = trocadero_rt.MdvrSchema(
    [getattr(_messages, name) for name in trocadero_rt.MDVR_SCHEMA]
)


class _Counters:
    """Counters shared by both decoders (all monotonic except the ``*_since_frame`` and
    ``buffered_bytes``). Invariant: bytes fed = frame_bytes + skipped_bytes + buffered_bytes."""

    __slots__ = ("_rt",)
    _rt: trocadero_rt.MdvrSignalingDecoder | trocadero_rt.MdvrMediaDecoder

    @property
    def frames(self) -> int:
        """Frames decoded."""
        return self._rt.frames

    @property
    def frame_bytes(self) -> int:
        return self._rt.frame_bytes

    @property
    def skipped_bytes(self) -> int:
        """Garbage dropped (plus one byte per rejected frame start)."""
        return self._rt.skipped_bytes

    @property
    def rejected_frames(self) -> int:
        """Frame starts with a bad length, opcode or end marker (each resynchronised)."""
        return self._rt.rejected_frames

    @property
    def skipped_since_frame(self) -> int:
        """``skipped_bytes`` since the last good frame: close the connection above a limit."""
        return self._rt.skipped_since_frame

    @property
    def rejected_since_frame(self) -> int:
        """``rejected_frames`` since the last good frame: close after N consecutive errors."""
        return self._rt.rejected_since_frame

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an incomplete frame (at most one frame)."""
        return self._rt.buffered_bytes

    def __repr__(self) -> str:
        return repr(self._rt)


class SignalingDecoder(_Counters):
    """Decoder of one signaling connection (TCP stream or a sequence of UDP datagrams)."""

    __slots__ = ()
    _rt: trocadero_rt.MdvrSignalingDecoder

    def __init__(self) -> None:
        self._rt = trocadero_rt.MdvrSignalingDecoder(_SCHEMA)

    def feed(self, data: bytes | bytearray | memoryview) -> list[SignalingMessage]:
        """The messages completed by ``data``, in order (possibly none). Never raises on
        malformed input: garbage is skipped and counted, bad frames are rejected, and fields
        that do not parse come out as None/empty."""
        return cast("list[SignalingMessage]", self._rt.feed(data))


class MediaDecoder(_Counters):
    """Decoder of one media connection: text registration(s) (V102, V103…) as messages, then
    binary packets (``MediaFrame``, ``FileBlock``, ``RawMediaPacket``). A packet whose payload
    exceeds ``max_payload`` is rejected when its header arrives, never buffered. Reads of
    ≥ 64 KiB are framed, and payloads copied, without holding the GIL."""

    __slots__ = ()
    _rt: trocadero_rt.MdvrMediaDecoder

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self._rt = trocadero_rt.MdvrMediaDecoder(_SCHEMA, max_payload=max_payload)

    def feed(self, data: bytes | bytearray | memoryview) -> list[MediaItem]:
        return cast("list[MediaItem]", self._rt.feed(data))

    @property
    def envelope(self) -> Envelope | None:
        """Envelope of the last binary packet: reply in the same one. None before any."""
        return cast("Envelope | None", self._rt.envelope)

    @property
    def text_prefixed(self) -> bool | None:
        """Whether the last text frame came as ``@@$$dc…``; None before any."""
        return self._rt.text_prefixed

    @property
    def max_payload(self) -> int:
        return self._rt.max_payload


# ---------------------------------------------------------------------------- builders


def format_time(when: datetime) -> str:
    """An aware datetime as the protocol's ``yymmdd hhmmss`` in UTC."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("time must be a timezone-aware datetime (the protocol uses UTC)")
    return when.astimezone(UTC).strftime("%y%m%d %H%M%S")


def _time(when: datetime | str) -> str:
    return format_time(when) if isinstance(when, datetime) else when


def build_frame(
    keyword: str,
    fields: Sequence[str | bytes] = (),
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    workstation: str = "",
    raw: bytes | None = None,
) -> bytes:
    """Any text frame: ``$$dc LLLL ,serial,KEYWORD,device,workstation,time[,field…][,raw]#``.
    Fields may not contain ``,`` or ``#``; ``raw`` (length-prefixed data) may. ValueError for
    anything the frame cannot carry (or a body over 9999 bytes)."""
    return trocadero_rt.mdvr_build_frame(
        serial=str(serial),
        keyword=keyword,
        device_id=device_id,
        time=_time(time),
        fields=list(fields),
        workstation=workstation,
        raw=raw,
    )


def build_c100(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    src_keyword: str,
    src_time: str,
    content: Sequence[str] = (),
    answer_mode: int = 0,
) -> bytes:
    """C100 with explicit content (after ``srcKeyword,srcTime,answerMode``)."""
    return trocadero_rt.mdvr_build_c100(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        src_keyword=src_keyword,
        src_time=src_time,
        answer_mode=answer_mode,
        content=list(content),
    )


def needs_ack(message: SignalingMessage) -> bool:
    """Whether the server must answer with C100 (§9): V101, V141, V142 and every alarm; not
    V109, V114 or anything else."""
    return isinstance(message, Registration | FileQuery | DeviceStatus | Alarm)


def build_ack(message: SignalingMessage, time: datetime | str) -> bytes:
    """The C100 CMSV6 sends for ``message`` (echoing its serial, keyword and time): V101
    registered ``0,1,1,``; V142 ``0,``; V141 "no file" ``0,0,0,0,,,0,,0,,``; an alarm
    ``0,<uid>``. ValueError for messages that take no acknowledgement (see :func:`needs_ack`)."""
    if isinstance(message, MalformedFrame) or not needs_ack(message):
        raise ValueError(f"{type(message).__name__} takes no C100 acknowledgement")
    serial, device_id, now, src_time = message.serial, message.device_id, _time(time), message.time
    if isinstance(message, Registration):
        return trocadero_rt.mdvr_build_c100_registration(
            serial=serial, device_id=device_id, time=now, src_time=src_time
        )
    if isinstance(message, DeviceStatus):
        return trocadero_rt.mdvr_build_c100_status(
            serial=serial, device_id=device_id, time=now, src_time=src_time
        )
    if isinstance(message, FileQuery):
        return trocadero_rt.mdvr_build_c100_no_file(
            serial=serial, device_id=device_id, time=now, src_time=src_time
        )
    assert isinstance(message, Alarm)
    return trocadero_rt.mdvr_build_c100_alarm(
        serial=serial,
        device_id=device_id,
        time=now,
        src_keyword=message.keyword,
        src_time=src_time,
        alarm_uid=message.alarm_uid,
    )


# What the Rust builders accept in an echoed header (builders.rs `check_route`): a device
# may send anything that frames, so the gateway asks `reply_problem` before echoing.
MAX_ECHO_SERIAL: Final = 16
MAX_ECHO_ID: Final = 32
_TIME_SHAPE: Final = re.compile(r"[0-9]{6} [0-9]{6}")
_KEYWORD_SHAPE: Final = re.compile(r"[VC][0-9]{3,4}")


def _echo_field_problem(name: str, value: str, max_len: int) -> str | None:
    if not value:
        return f"{name} is empty"
    if len(value.encode("utf-8", "surrogateescape")) > max_len:
        return f"{name} is longer than {max_len} bytes"
    if any(c in ",#" or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"{name} contains ',', '#' or a control character"
    return None


def route_problem(message: Message) -> str | None:
    """Why a reply cannot address ``message``'s sender (serial and device id echoed), or None.
    Without a route nothing can be sent back: the gateway closes the link silently."""
    return _echo_field_problem("serial", message.serial, MAX_ECHO_SERIAL) or (
        _echo_field_problem("device id", message.device_id, MAX_ECHO_ID)
    )


def reply_problem(message: SignalingMessage) -> str | None:
    """Why :func:`build_ack` (or the refusal) cannot echo ``message``, or None when it can.

    Builders refuse what a frame cannot carry (ValueError); a device may send anything that
    frames, so a session checks here first and refuses at the edge instead of raising."""
    if isinstance(message, MalformedFrame):
        return "malformed frame"
    problem = route_problem(message)
    if problem is not None:
        return problem
    if _TIME_SHAPE.fullmatch(message.time) is None:
        return f"time {message.time[:32]!r} is not 'yymmdd hhmmss'"
    if isinstance(message, Alarm):
        if _KEYWORD_SHAPE.fullmatch(message.keyword) is None:
            return f"keyword {message.keyword[:16]!r} is not V/C and 3-4 digits"
        uid = message.alarm_uid
        if uid and (problem := _echo_field_problem("alarm uid", uid, MAX_ECHO_ID * 2)):
            return problem
    return None


def build_registration_refusal(
    message: Registration, time: datetime | str, reason: int = REG_UNKNOWN_DEVICE
) -> bytes:
    """C100 refusing a V101 (``0,0,<reason>``, ``REG_*``); close the connection after it."""
    return trocadero_rt.mdvr_build_c100_registration(
        serial=message.serial,
        device_id=message.device_id,
        time=_time(time),
        src_time=message.time,
        reason=reason,
    )


def build_heartbeat(*, serial: str | int, device_id: str, time: datetime | str) -> bytes:
    """C501, the center's heartbeat: send every ≤ 45 s (devices drop the link after 90 s)."""
    return trocadero_rt.mdvr_build_bare(
        keyword="C501", serial=str(serial), device_id=device_id, time=_time(time)
    )


def build_not_registered(*, serial: str | int, device_id: str, time: datetime | str) -> bytes:
    """C500: the device must register (V101) first."""
    return trocadero_rt.mdvr_build_bare(
        keyword="C500", serial=str(serial), device_id=device_id, time=_time(time)
    )


def build_live_video(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    session_id: str,
    channel: int,
    media_ip: str,
    media_port: int,
    stream_type: int = 0,
    connection_type: int = 0,
) -> bytes:
    """C508 start: the device answers V100 and opens a media connection to ``media_ip``
    (reachable from the device, not 0.0.0.0) registering ``session_id`` (V102). ``channel``
    0-based (99 mosaic); ``stream_type`` 0 main / 1 sub; one C508 per channel."""
    return trocadero_rt.mdvr_build_c508(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        session_id=session_id,
        start=True,
        channel=channel,
        stream_type=stream_type,
        connection_type=connection_type,
        media_ip=media_ip,
        media_port=media_port,
    )


def build_live_video_stop(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    session_id: str,
    channel: int,
    stream_type: int = 0,
) -> bytes:
    """C508 stop (empty IP, port 0); ``channel`` 98 or -1 stops all."""
    return trocadero_rt.mdvr_build_c508(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        session_id=session_id,
        start=False,
        channel=channel,
        stream_type=stream_type,
        connection_type=0,
        media_ip="",
        media_port=0,
    )


def build_file_download(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    session_id: str,
    file_name: str,
    media_ip: str,
    media_port: int,
    offset_mode: int = 0,
    start_offset: int = 0,
    end_offset: int = 0,
) -> bytes:
    """C702: fetch ``file_name`` (the device path from V232) over a V103 media session.
    ``offset_mode`` 0 whole file / 1 byte range / 2 time range; ``end_offset`` 0 = EOF."""
    return trocadero_rt.mdvr_build_c702(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        session_id=session_id,
        offset_mode=offset_mode,
        start_offset=start_offset,
        end_offset=end_offset,
        media_ip=media_ip,
        media_port=media_port,
        file_name=file_name,
    )


def build_position_interval(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    interval_s: int,
    distance: int = 0,
    enable: int = 1,
    combo_mask: int = 0x0002,
) -> bytes:
    """C505: position report interval (``enable`` 0 off / 1 these / 2 stored; ``distance`` in
    10 m units; ``combo_mask`` bit 0 by distance, bit 1 by time). The device answers V100."""
    return trocadero_rt.mdvr_build_c505(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        enable=enable,
        distance=distance,
        interval_s=interval_s,
        combo_mask=combo_mask,
    )


def build_control(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    control: int,
    user: str = "",
    password: str = "",
) -> bytes:
    """C150: 1 cut fuel, 2 restore fuel, 3 cut power, 4 restore power, 5 reboot, 6 factory
    reset; ``user``/``password`` are MD5 hex strings (may be empty)."""
    return trocadero_rt.mdvr_build_c150(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        control=control,
        user=user,
        password=password,
    )


def build_parameters(
    *,
    serial: str | int,
    device_id: str,
    time: datetime | str,
    param_type: int,
    data: bytes | str,
) -> bytes:
    """C517: parameters (``<Param_RecordSet>…`` XML or binary), sent length-prefixed."""
    return trocadero_rt.mdvr_build_c517(
        serial=str(serial),
        device_id=device_id,
        time=_time(time),
        param_type=param_type,
        data=data.encode() if isinstance(data, str) else data,
    )


def _dms(value: float) -> list[str]:
    """Decimal degrees → the wire's signed degrees, minutes, seconds x 10^7 (§3)."""
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    whole = abs(value)
    deg = int(whole)
    minutes_f = (whole - deg) * 60
    minutes = int(minutes_f)
    sec = round((minutes_f - minutes) * 60 * 10_000_000)
    if sec >= 600_000_000:  # rounding carried into the next minute
        sec, minutes = sec - 600_000_000, minutes + 1
    if minutes >= 60:
        minutes, deg = minutes - 60, deg + 1
    return [f"{sign}{deg}", str(minutes), str(sec)]


def position_fields(position: Position, *, v114: bool = False) -> list[str]:
    """The ``[Position and Status]`` fields of ``position`` for :func:`build_frame` (a device
    simulator's side): new firmware (18 fields, plus the extra field unless ``v114``) when it
    has an ``extension``, else old firmware (19 fields). Absent values are sent empty (fuel as
    ``-1``); coordinates round to 10^-7 arc-second."""

    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return "" if value is None else fmt.format(value)

    def hexa(flags: bytes | None) -> str:
        return flags.hex().upper() if flags is not None else ""

    fields = [
        position.gps_state,
        *_dms(position.longitude),
        *_dms(position.latitude),
        num(position.speed_kmh),
        num(position.course_raw, "{}"),
        hexa(position.status),
        hexa(position.status_mask),
        num(position.device_temp_c),
        num(position.engine_temp_c),
        num(position.cabin_temp_c),
        num(position.mileage_m, "{}"),
        "-1" if position.fuel_l is None else num(position.fuel_l),
        num(position.parking_s, "{}"),
    ]
    if position.extension:
        fields.append("|".join(position.extension))
        if not v114:
            fields.append(position.extra or "")
    else:
        fields += [num(position.stop_flag, "{}"), num(position.passengers, "{}")]
    return fields


def build_media_packet(
    opcode: int,
    payload: bytes = b"",
    *,
    envelope: Envelope = "M1",
    serial: int = 0,
    time: int = 0,
) -> bytes:
    """A binary media packet in ``envelope`` (reply in the device's: ``MediaDecoder.envelope``)."""
    return trocadero_rt.mdvr_build_media_packet(
        envelope=envelope, opcode=opcode, serial=serial, time=time, payload=payload
    )


def build_media_feedback(
    *,
    ok: bool,
    reason: int = 0,
    envelope: Envelope = "M1",
    serial: int = 0,
    time: int = 0,
) -> bytes:
    """0x6000 registration feedback: accept (``ok=True``), or refuse an unsolicited or unknown
    session (``ok=False, reason=FEEDBACK_BAD_DEVICE_ID``) and then close."""
    return trocadero_rt.mdvr_build_media_feedback(
        envelope=envelope, serial=serial, time=time, ok=ok, reason=reason
    )


def build_iframe_request(*, envelope: Envelope = "M1", serial: int = 0, time: int = 0) -> bytes:
    """0x6002: ask for an I-frame now (after the feedback, and when a viewer joins)."""
    return build_media_packet(OP_REQUEST_IFRAME, envelope=envelope, serial=serial, time=time)


def build_media_heartbeat(*, envelope: Envelope = "M1", serial: int = 0, time: int = 0) -> bytes:
    """0x6005: media-channel keep-alive."""
    return build_media_packet(OP_HEARTBEAT, envelope=envelope, serial=serial, time=time)
