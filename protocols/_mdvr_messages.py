"""The MDVR ("$$dc", CMSV6) messages as frozen dataclasses, shared by the Rust-backed decoder
(``trocadero.protocols.mdvr``) and the pure-Python reference (``mdvr_ref``), so the two produce
equal objects. Import them from ``trocadero.protocols.mdvr``.

Conventions (see ``shared/reference/mdvr-protocol.md`` for the fields, § numbers below):

* text fields are ``str`` (UTF-8, else GBK with replacement); a missing one is ``""``;
* numeric fields are ``int``/``float`` or ``None`` when missing or not a number (the grammar is
  narrow on purpose: no ``1e5``, ``inf``, ``1_0``, whitespace);
* fields after the ones a message defines are kept raw in a ``tuple[str, ...]``
  (``extra``/``details``/``args``), and where a payload may itself contain commas (C517 XML in
  a V100) also as the untouched ``bytes``;
* times are kept verbatim (``yymmdd hhmmss``, UTC): replies echo them. :func:`parse_time`
  turns one into a ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, TypeAlias

__all__ = [
    "ALARM_NAMES",
    "Alarm",
    "CenterAck",
    "Command",
    "DeviceAck",
    "DeviceStatus",
    "FileBlock",
    "FileDownloadRequest",
    "FileQuery",
    "FileReady",
    "FileRegistration",
    "Heartbeat",
    "LiveVideoRegistration",
    "LiveVideoRequest",
    "MalformedFrame",
    "MediaFrame",
    "MediaItem",
    "MediaPacket",
    "MediaRegistration",
    "Message",
    "Position",
    "PositionReport",
    "RawMediaPacket",
    "Registration",
    "SignalingMessage",
    "UnknownMessage",
    "parse_time",
    "sniff_video_codec",
]

Envelope: TypeAlias = Literal["M1", "M2"]

# Alarm keyword number (start code; the end code is +50) → what it reports (§4.5).
ALARM_NAMES: Final[dict[int, str]] = {
    201: "custom/IO input",
    202: "panic button",
    203: "vibration/G-sensor",
    204: "video loss",
    205: "camera covered",
    206: "illegal door open",
    207: "wrong password",
    208: "illegal ignition",
    209: "temperature",
    210: "disk error",
    211: "speed",
    212: "geofence",
    213: "abnormal door",
    214: "ACC on",
    215: "ACC off",
    216: "parked too long",
    217: "motion detection",
    218: "GPS failure",
    219: "fatigue",
    220: "UPS cut",
    221: "disk over-temperature",
    222: "front panel opened",
    231: "transparent data",
    232: "file ready for upload",
    234: "upload/download complete",
    298: "about to upload alarm image",
    299: "alarm cleared by device",
    304: "fuel added",
    305: "fuel drop",
}


def parse_time(text: str) -> datetime | None:
    """``yymmdd hhmmss`` (UTC) → an aware datetime; None if it is not a valid time."""
    try:
        return datetime.strptime(text, "%y%m%d %H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Position:
    """The ``[Position and Status]`` block (§3); old firmware (19 fields) or new (18 + 1).

    ``valid``: the GPS state starts with ``A``. ``longitude``/``latitude``: signed decimal
    degrees (East/North positive). ``course_raw``: as sent (unit uncertain; see
    :attr:`heading_deg`). ``status``/``status_mask``: 8 bytes, byte 1 first (None if absent or
    not 16 hex digits); the mask is all zeros on real devices and must not gate anything.
    ``fuel_l`` is None for ``-1`` (no sensor). ``extension``: the new firmware's ``|`` list
    (``()`` on old firmware); ``stop_flag``/``passengers``: old firmware only; ``extra``: the
    new firmware's one field after the block (None in V114 and on old firmware).
    """

    valid: bool
    gps_state: str
    longitude: float
    latitude: float
    speed_kmh: float | None
    course_raw: int | None
    status: bytes | None
    status_mask: bytes | None
    device_temp_c: float | None
    engine_temp_c: float | None
    cabin_temp_c: float | None
    mileage_m: int | None
    fuel_l: float | None
    parking_s: int | None
    extension: tuple[str, ...]
    stop_flag: int | None
    passengers: int | None
    extra: str | None

    @property
    def heading_deg(self) -> float | None:
        """``course_raw / 100`` when that is a heading (< 36000), else None (§3 field 9)."""
        raw = self.course_raw
        return raw / 100 if raw is not None and 0 <= raw < 36000 else None

    def _status_byte(self, index: int) -> int | None:
        return self.status[index] if self.status is not None else None

    @property
    def recording_mask(self) -> int | None:
        """Status byte 1: channels 1-8 recording (bit 0 = channel 1)."""
        return self._status_byte(0)

    @property
    def video_loss_mask(self) -> int | None:
        """Status byte 2: channels 1-8 video lost."""
        return self._status_byte(1)

    @property
    def cellular_state(self) -> int | None:
        """Status byte 7 bits 4-6: 0 no SIM, 1-5 signal weak…excellent, 6 no module, 7 off."""
        b = self._status_byte(6)
        return None if b is None else (b >> 4) & 7

    @property
    def acc_on(self) -> bool | None:
        """Status byte 8 bit 1."""
        b = self._status_byte(7)
        return None if b is None else bool(b & 0x02)

    @property
    def gps_located(self) -> bool | None:
        """Status byte 8 bit 7."""
        b = self._status_byte(7)
        return None if b is None else bool(b & 0x80)


@dataclass(frozen=True, slots=True)
class Message:
    """Header fields of every text frame (§2.1). ``serial`` is an opaque token a reply echoes;
    ``time`` is the sender's ``yymmdd hhmmss`` UTC, verbatim."""

    serial: str
    keyword: str
    device_id: str
    workstation: str
    time: str

    @property
    def timestamp(self) -> datetime | None:
        return parse_time(self.time)


@dataclass(frozen=True, slots=True)
class DeviceAck(Message):
    """V100: the device's answer to a C-command (serial = the command's serial).
    ``details``: the fields after the success flag (e.g. ``("1", "", "0")`` for C508, error
    code and text on failure); ``raw_details`` the same bytes unsplit (C517's XML has commas)."""

    position: Position | None
    src_keyword: str
    src_time: str
    answer_mode: int | None
    success: bool
    details: tuple[str, ...]
    raw_details: bytes


@dataclass(frozen=True, slots=True)
class Registration(Message):
    """V101: registration; acknowledge at once (``build_ack``). Old firmware sends only up to
    ``plate``; the rest is then empty/None."""

    position: Position | None
    protocol_version: str
    device_type: int | None
    login_ip: str
    login_port: int | None
    power_ons_today: int | None
    connections: int | None
    plate: str
    net_type: int | None
    net_name: str
    audio_type: int | None
    disk_type: int | None
    factory_type: str
    factory_device_type: str
    imei: str
    host_version: str
    net_lib_version: str
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    """V109 on the signaling channel; no reply."""

    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PositionReport(Message):
    """V114: periodic position (``report_flag`` 1) or cached and re-sent after a reconnect with
    its original time: deduplicate on (device, time). No reply."""

    position: Position | None
    report_flag: int | None
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileQuery(Message):
    """V141: "is there a file for me?"; answer "no file" (``build_ack``)."""

    position: Position | None
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceStatus(Message):
    """V142: hardware status after login; acknowledge (``build_ack``). ``disk_info`` is
    ``total_free`` MB per disk joined by ``_``; masks are decimal or hex channel masks."""

    position: Position | None
    success: bool
    reported_device_id: str
    device_type: int | None
    device_name: str
    software_version: str
    channel_count: int | None
    video_lost_mask: int | None
    record_mask: int | None
    disk_count: int | None
    disk_info: str
    cell_status: int | None
    cell_type: int | None
    cell_quality: int | None
    cell_ip: str
    wifi_status: int | None
    wifi_ap: str
    wifi_quality: int | None
    wifi_ip: str
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MediaRegistration(Message):
    """V102/V103/V105-V111 (V109 on a media connection): opens a media session. Authorise it
    against (``device_id``, ``session_id``) of a pending C508/C702 (§9). ``details``: every
    field after the session id."""

    position: Position | None
    protocol_version: str
    device_type: int | None
    media_ip: str
    media_port: int | None
    session_id: str
    details: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveVideoRegistration(MediaRegistration):
    """V102: live video for ``command`` (``C508``) on ``channel`` (0-based), ``stream_type``
    0 main / 1 sub."""

    command: str
    channel: int | None
    stream_type: int | None
    plate: str


@dataclass(frozen=True, slots=True)
class FileRegistration(MediaRegistration):
    """V103: file download session (``name|plate`` split at the last ``|``)."""

    file_size: int | None
    file_name: str
    plate: str


@dataclass(frozen=True, slots=True)
class Alarm(Message):
    """V2xx (start), V25x-V27x (end), V3xx: acknowledge by ``alarm_uid`` (``build_ack``),
    which stays constant across retransmits: deduplicate on it. ``details``: the
    alarm-specific fields; ``channel_mask`` for video loss / cover / motion (V204, V205, V217,
    V254, V255), decimal or hex on the wire."""

    position: Position | None
    alarm_time: str
    alarm_uid: str
    snapshot_taken: bool
    snapshot_path: str
    recording_taken: bool
    recording_path: str
    details: tuple[str, ...]
    channel_mask: int | None

    @property
    def code(self) -> int | None:
        """The keyword's number (204 for V204), None if it is not numeric."""
        digits = self.keyword[1:]
        return int(digits) if digits.isascii() and digits.isdigit() else None

    @property
    def is_end(self) -> bool:
        """True for the "alarm ended" keywords V251-V297."""
        code = self.code
        return code is not None and 250 < code < 298

    @property
    def name(self) -> str:
        code = self.code
        if code is None:
            return "unknown"
        start = code - 50 if self.is_end else code
        return ALARM_NAMES.get(start, "unknown")


@dataclass(frozen=True, slots=True)
class FileReady(Alarm):
    """V232: an alarm/event file is ready; acknowledge, then fetch it with C702.
    ``file_type`` 1 JPEG / 2 video; ``record_type`` 1 normal / 2 alarm; ``start_time``
    ``YYYYMMDDhhmmss``; ``channel`` 0-based."""

    file_type: int | None
    file_path: str
    file_length: int | None
    record_type: int | None
    start_time: str
    duration_s: int | None
    channel: int | None


@dataclass(frozen=True, slots=True)
class CenterAck(Message):
    """C100 (as a device receives it)."""

    src_keyword: str
    src_time: str
    answer_mode: int | None
    content: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveVideoRequest(Message):
    """C508 (as a device receives it)."""

    session_id: str
    start: bool
    channel: int | None
    stream_type: int | None
    connection_type: int | None
    media_ip: str
    media_port: int | None
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileDownloadRequest(Message):
    """C702 (as a device receives it)."""

    session_id: str
    offset_mode: int | None
    start_offset: int | None
    end_offset: int | None
    media_ip: str
    media_port: int | None
    file_name: str
    extra: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command(Message):
    """Any other ``C`` + digits keyword (C500, C501, C505, C510, C517, C701, C150, …):
    ``args`` split on commas, ``raw_args`` unsplit (C517's data may contain commas)."""

    args: tuple[str, ...]
    raw_args: bytes


@dataclass(frozen=True, slots=True)
class UnknownMessage(Message):
    """A keyword this parser does not know (e.g. a logout): harmless, log it."""

    fields: tuple[str, ...]
    raw_fields: bytes


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """A correctly framed text frame without the five header fields."""

    raw: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """A binary media packet (§5.2): its envelope (reply in the same one), opcode, the
    sender's u16 serial and u32 time from the sub-header."""

    envelope: Envelope
    opcode: int
    serial: int
    time: int


@dataclass(frozen=True, slots=True)
class RawMediaPacket(MediaPacket):
    """Any opcode without a typed view (0x6000 feedback, 0x6005 heartbeat, 0x6101 search
    results, 0x6015, …), or a frame/file packet too short for its fields."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class MediaFrame(MediaPacket):
    """0x6011 I-frame, 0x6012 P-frame, 0x6013 audio, 0x6014 info: ``timestamp_us`` (µs since
    the Unix epoch, UTC; for pacing, not as a wall clock) and the frame (video: one Annex-B
    H.264/H.265 access unit)."""

    timestamp_us: int
    data: bytes

    @property
    def is_keyframe(self) -> bool:
        return self.opcode == 0x6011

    @property
    def kind(self) -> Literal["video", "audio", "info"]:
        if self.opcode in (0x6011, 0x6012):
            return "video"
        return "audio" if self.opcode == 0x6013 else "info"

    @property
    def codec(self) -> Literal["h264", "h265"] | None:
        """Sniffed from the first NAL (video only; H.265 is not signalled, §5.3)."""
        return sniff_video_codec(self.data) if self.kind == "video" else None


@dataclass(frozen=True, slots=True)
class FileBlock(MediaPacket):
    """0x6102 file data at ``offset``; ``length`` as sent, ``data`` everything after it. The
    end of the file is ``length == 0`` with ``offset`` = the file size."""

    offset: int
    length: int
    data: bytes

    @property
    def is_end(self) -> bool:
        return self.length == 0


SignalingMessage: TypeAlias = (
    DeviceAck
    | Registration
    | Heartbeat
    | PositionReport
    | FileQuery
    | DeviceStatus
    | MediaRegistration
    | Alarm
    | CenterAck
    | LiveVideoRequest
    | FileDownloadRequest
    | Command
    | UnknownMessage
    | MalformedFrame
)
"""What a signaling decoder yields (subclasses included: LiveVideoRegistration,
FileRegistration, FileReady)."""

MediaItem: TypeAlias = SignalingMessage | RawMediaPacket | MediaFrame | FileBlock
"""What a media decoder yields: the text registration(s), then packets."""

# H.265 NAL types an access unit starts with when the second header byte is 0x01 (layer 0,
# temporal id 0): slices, RADL/RASL, IRAP, VPS/SPS/PPS/AUD/EOS/EOB/FD/SEI. TSA/STSA (2-5)
# cannot have temporal id 0, which keeps H.264's `06 01` (SEI pic timing) on the H.264 side.
_HEVC_TYPES = frozenset([0, 1, 6, 7, 8, 9, *range(16, 22), *range(32, 41)])
_AVC_TYPES = frozenset([1, 5, 6, 7, 8, 9])


def sniff_video_codec(data: bytes) -> Literal["h264", "h265"] | None:
    """The codec of an Annex-B access unit from its first NAL header; None if unrecognised."""
    at = data.find(b"\x00\x00\x01")
    if at < 0 or at + 3 >= len(data):
        return None
    b0 = data[at + 3]
    if b0 & 0x80:
        return None
    if b0 & 1 == 0 and data[at + 4 : at + 5] == b"\x01" and (b0 >> 1) in _HEVC_TYPES:
        return "h265"
    return "h264" if b0 & 0x1F in _AVC_TYPES else None
