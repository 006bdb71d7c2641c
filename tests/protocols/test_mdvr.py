"""MDVR protocol: every vector of the reference through both decoders (the Rust one behind
``trocadero.protocols.mdvr`` and the pure-Python ``mdvr_ref``), stream splitting and
resynchronisation, limits, and the builders byte for byte."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, TypeVar

import pytest
import trocadero_rt
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.protocols import mdvr, mdvr_ref
from trocadero.protocols.mdvr import (
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

from . import mdvr_vectors as v

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decoder(Protocol[T_co]):
    """What both implementations offer (the façade's counters are read-only properties)."""

    @property
    def frames(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def skipped_bytes(self) -> int: ...
    @property
    def rejected_frames(self) -> int: ...
    @property
    def skipped_since_frame(self) -> int: ...
    @property
    def rejected_since_frame(self) -> int: ...
    @property
    def buffered_bytes(self) -> int: ...

    def feed(self, data: bytes | bytearray | memoryview) -> Sequence[T_co]: ...


SignalingFactory = Callable[[], Decoder[SignalingMessage]]
MediaFactory = Callable[[], Decoder[MediaItem]]


def _rust_media() -> Decoder[MediaItem]:
    return mdvr.MediaDecoder()


def _ref_media() -> Decoder[MediaItem]:
    return mdvr_ref.MediaDecoder()


@pytest.fixture(params=["rust", "ref"])
def signaling(request: pytest.FixtureRequest) -> SignalingFactory:
    return mdvr.SignalingDecoder if request.param == "rust" else mdvr_ref.SignalingDecoder


@pytest.fixture(params=["rust", "ref"])
def media(request: pytest.FixtureRequest) -> MediaFactory:
    return _rust_media if request.param == "rust" else _ref_media


def counters(d: Decoder[T]) -> tuple[int, ...]:
    return (
        d.frames,
        d.frame_bytes,
        d.skipped_bytes,
        d.rejected_frames,
        d.skipped_since_frame,
        d.rejected_since_frame,
        d.buffered_bytes,
    )


def feed_all(d: Decoder[T], chunks: Sequence[bytes]) -> list[T]:
    out: list[T] = []
    for chunk in chunks:
        out.extend(d.feed(chunk))
    return out


def one(factory: SignalingFactory, frame: bytes) -> SignalingMessage:
    d = factory()
    messages = d.feed(frame)
    assert len(messages) == 1, messages
    assert (d.skipped_bytes, d.rejected_frames, d.buffered_bytes) == (0, 0, 0)
    return messages[0]


def of(kind: type[T], message: object) -> T:
    assert isinstance(message, kind), message
    return message


# The V114's block as every E2 message with a fix at 18.82 E, 34.08 S carries it.
E2_POSITION = Position(
    valid=True,
    gps_state="A0000",
    longitude=pytest.approx(18.821083, abs=1e-6),  # type: ignore[arg-type]
    latitude=pytest.approx(-34.084005, abs=1e-6),  # type: ignore[arg-type]
    speed_kmh=0.0,
    course_raw=28600,
    status=bytes.fromhex("FFF7000000307783"),
    status_mask=bytes(8),
    device_temp_c=0.0,
    engine_temp_c=0.0,
    cabin_temp_c=0.0,
    mileage_m=0,
    fuel_l=0.0,
    parking_s=0,
    extension=("0", "0.00", "0", "0", "0", "0", "0", "0", "0"),
    stop_flag=None,
    passengers=None,
    extra="",
)


# ---------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("frame", v.ALL_TEXT, ids=lambda f: f[9:40].decode("latin-1"))
def test_every_vector_is_one_frame_and_both_parsers_agree(frame: bytes) -> None:
    rust, ref = one(mdvr.SignalingDecoder, frame), one(mdvr_ref.SignalingDecoder, frame)
    assert rust == ref
    assert repr(rust) == repr(ref)  # also tells -0.0 from 0.0


def test_v114_stated_values(signaling: SignalingFactory) -> None:
    m = of(PositionReport, one(signaling, v.E2_V114))
    assert (m.serial, m.keyword, m.device_id, m.workstation) == ("6", "V114", "00967", "")
    assert m.time == "170915 105051"
    assert m.timestamp == datetime(2017, 9, 15, 10, 50, 51, tzinfo=UTC)
    p = m.position
    assert p is not None
    assert p.valid
    assert p.longitude == pytest.approx(18.821083, abs=1e-6)
    assert p.latitude == pytest.approx(-34.084005, abs=1e-6)
    assert (p.speed_kmh, p.course_raw, p.heading_deg) == (0.0, 28600, 286.0)
    assert p.status is not None
    assert p.status[1] == 0xF7
    assert p.video_loss_mask == 0b1111_0111  # channels 1-3 and 5-8
    assert (p.recording_mask, p.acc_on, p.gps_located, p.cellular_state) == (0xFF, True, True, 7)
    assert p == dataclasses.replace(E2_POSITION, extra=None)
    assert (m.report_flag, m.extra) == (1, ())


def test_v101_registration_new_firmware(signaling: SignalingFactory) -> None:
    m = of(Registration, one(signaling, v.E2_V101))
    assert m.position == E2_POSITION
    assert m == Registration(
        serial="2",
        keyword="V101",
        device_id="00967",
        workstation="",
        time="170915 105007",
        position=m.position,
        protocol_version="V1.0.0.1",
        device_type=4108,
        login_ip="",
        login_port=0,
        power_ons_today=0,
        connections=0,
        plate="00967",
        net_type=0,
        net_name="8888",
        audio_type=3,
        disk_type=2,
        factory_type="14",
        factory_device_type="16",
        imei="",
        host_version="T16120701",
        net_lib_version="V6.1.45 20160604",
        extra=("", "0", "8", ""),
    )


def test_v101_old_firmware_and_gbk_plate(signaling: SignalingFactory) -> None:
    m = of(Registration, one(signaling, v.SYNTH_V101_OLD))
    p = m.position
    assert p is not None
    assert (p.gps_state, p.valid, p.extension, p.extra) == ("A", True, (), None)
    assert p.longitude == pytest.approx(28.986182, abs=1e-6)  # "+28,59,102539064"
    assert p.latitude == pytest.approx(41.050895, abs=1e-6)
    assert (p.mileage_m, p.fuel_l, p.stop_flag, p.passengers) == (None, None, 0, 0)
    assert (m.protocol_version, m.device_type, m.login_ip, m.login_port) == (
        "V0.00.01",
        2,
        "52.170.27.175",
        6608,
    )
    assert (m.power_ons_today, m.connections, m.plate, m.net_name, m.extra) == (
        None,
        None,
        "00000",
        "",
        (),
    )
    assert of(Registration, one(signaling, v.SYNTH_V101_GBK)).plate == "粤B12345"


def test_v142_v141_v109(signaling: SignalingFactory) -> None:
    s = of(DeviceStatus, one(signaling, v.E2_V142))
    assert s.position == E2_POSITION
    assert (s.success, s.reported_device_id, s.device_type, s.device_name) == (
        True,
        "00967",
        4108,
        "00967",
    )
    assert (s.software_version, s.channel_count, s.video_lost_mask, s.record_mask) == (
        "T16120701",
        8,
        247,
        255,
    )
    assert (s.disk_count, s.disk_info) == (2, "953256_1256_29933_533")
    assert (s.cell_status, s.cell_type, s.cell_quality, s.cell_ip) == (0, 2, 14, "0.0.0.0")
    assert (s.wifi_status, s.wifi_ap, s.wifi_quality, s.wifi_ip) == (0, "8888", 0, "0.0.0.0")
    assert s.extra == ("0", "2", "8", "0", "0", "", "0", "", "")
    q = of(FileQuery, one(signaling, v.E2_V141))
    assert (q.position, q.extra) == (E2_POSITION, ())
    h = of(Heartbeat, one(signaling, v.E2_V109))
    assert (h.serial, h.time, h.extra) == ("7", "170915 105108", ())


def test_alarms(signaling: SignalingFactory) -> None:
    a = of(Alarm, one(signaling, v.E2_V204))
    assert (a.alarm_time, a.alarm_uid, a.channel_mask, a.details) == (
        "170915 104622",
        "852D679B0155CB02",
        1,
        ("1",),
    )
    assert (a.snapshot_taken, a.snapshot_path, a.recording_taken, a.recording_path) == (
        False,
        "",
        False,
        "",
    )
    assert (a.code, a.is_end, a.name) == (204, False, "video loss")
    assert a.position == dataclasses.replace(
        E2_POSITION, course_raw=3500, status=bytes.fromhex("00F700000030D783")
    )
    end = of(Alarm, one(signaling, v.E2_V254))
    assert (end.alarm_uid, end.channel_mask, end.is_end, end.name) == (
        "85329EFD0156820A",
        4,
        True,
        "video loss",
    )
    assert end.position is not None
    assert end.position.longitude == pytest.approx(18.821078, abs=1e-6)
    assert end.position.latitude == pytest.approx(-34.084015, abs=1e-6)
    # Doc format: 4 hex digits; LSZ fix field, big course, empty temperatures, 12 pipe items.
    hexa = of(Alarm, one(signaling, v.SYNTH_V205_HEX))
    assert (hexa.channel_mask, hexa.snapshot_taken, hexa.snapshot_path) == (10, True, "/snap/a.jpg")
    p = hexa.position
    assert p is not None
    assert (p.gps_state, p.speed_kmh, p.course_raw, p.heading_deg) == ("A0010", 12.5, 1521000, None)
    assert (p.device_temp_c, p.mileage_m, p.fuel_l, p.parking_s) == (None, None, None, 67)
    assert len(p.extension) == 12
    assert p.longitude == pytest.approx(114.059495, abs=1e-6)
    assert p.latitude == pytest.approx(22.673228, abs=1e-6)
    custom = of(Alarm, one(signaling, v.SYNTH_V201))
    assert custom.position is not None
    assert not custom.position.valid
    assert str(custom.position.longitude) == "-0.0"
    assert (custom.details, custom.channel_mask, custom.name) == (
        ("1", "input1", "input1"),
        None,
        "custom/IO input",
    )


def test_v232_file_ready(signaling: SignalingFactory) -> None:
    f = of(FileReady, one(signaling, v.SYNTH_V232))
    assert isinstance(f, Alarm)  # acknowledged like every alarm
    assert (f.alarm_uid, f.recording_taken, f.file_type, f.file_path) == (
        "UID3",
        True,
        2,
        "/mnt/sd/alarm/ch1.264",
    )
    assert (f.file_length, f.record_type, f.start_time, f.duration_s, f.channel) == (
        1048576,
        2,
        "20170915104600",
        30,
        0,
    )


def test_device_acks(signaling: SignalingFactory) -> None:
    ok = of(DeviceAck, one(signaling, v.E2_V100))
    assert (ok.serial, ok.src_keyword, ok.src_time, ok.answer_mode, ok.success) == (
        "52",
        "C508",
        "170915 105351",
        0,
        True,
    )
    assert (ok.details, ok.raw_details) == (("1", "", "0"), b"1,,0")
    fail = of(DeviceAck, one(signaling, v.SYNTH_V100_FAIL))
    assert (fail.success, fail.details) == (False, ("FFFFFF0A", "no such file"))
    xml = of(DeviceAck, one(signaling, v.SYNTH_V100_XML))
    assert xml.raw_details == b"22,<a>1,2</a>\r\n<b>#</b>"


def test_center_messages(signaling: SignalingFactory) -> None:
    ack = of(CenterAck, one(signaling, v.E2_C100_V141))
    assert (ack.src_keyword, ack.src_time, ack.answer_mode) == ("V141", "170915 105008", 0)
    assert ack.content == ("0", "0", "0", "", "", "0", "", "0", "", "")
    start = of(LiveVideoRequest, one(signaling, v.E2_C508_START))
    assert start == LiveVideoRequest(
        "52",
        "C508",
        "00967",
        "",
        "170915 105351",
        session_id="288644776",
        start=True,
        channel=0,
        stream_type=1,
        connection_type=0,
        media_ip="129.232.134.18",
        media_port=6602,
        extra=(),
    )
    stop = of(LiveVideoRequest, one(signaling, v.E2_C508_STOP))
    assert (stop.start, stop.channel, stop.media_ip, stop.media_port) == (False, 4, "", 0)
    for frame, keyword in [
        (v.E2_C501, "C501"),
        (v.E2_C150, "C150"),
        (v.E8_C510, "C510"),
        (v.E8_C701, "C701"),
    ]:
        assert of(Command, one(signaling, frame)).keyword == keyword
    c517 = of(Command, one(signaling, v.E2_C517))
    assert c517.raw_args.split(b",", 2)[2].startswith(b"<Param_RecordSet>")
    assert of(Command, one(signaling, v.E2_C150)).args == (
        "5",
        "",
        "670B14728AD9902AECBA32E22FA4F6BD",
    )


def test_unknown_malformed_and_bad_fields(signaling: SignalingFactory) -> None:
    u = of(UnknownMessage, one(signaling, v.SYNTH_UNKNOWN))
    assert (u.keyword, u.fields, u.raw_fields) == ("V130", ("x", "y"), b"x,y")
    bad = of(MalformedFrame, one(signaling, v.SYNTH_SHORT_HEADER))
    assert bad.raw == v.SYNTH_SHORT_HEADER
    # A bad block is absent; its fields still count, so the report flag is found.
    r = of(PositionReport, one(signaling, v.SYNTH_BAD_POSITION))
    assert (r.position, r.report_flag) == (None, 1)


def test_media_registrations(media: MediaFactory) -> None:
    d = media()
    (reg,) = d.feed(v.E4_V102)
    live = of(LiveVideoRegistration, reg)
    assert isinstance(live, MediaRegistration)
    assert (live.serial, live.device_id, live.session_id, live.media_port) == (
        "1d",
        "34561",
        "26636840",
        6602,
    )
    assert (live.command, live.channel, live.stream_type, live.plate) == ("C508", 0, 1, "00000")
    assert live.details == ("C508", "0", "1", "00000")
    assert live.position is not None
    assert (live.position.status, live.position.fuel_l) == (bytes.fromhex("0001000000105780"), None)
    (file_reg,) = d.feed(v.SYNTH_V103)
    f = of(FileRegistration, file_reg)
    assert (f.session_id, f.file_size, f.file_name, f.plate) == (
        "777",
        1048576,
        "/mnt/sd/alarm/ch1.264",
        "CA 123-456",
    )
    # V109 is a media registration on a media connection, the heartbeat on signaling.
    (config,) = d.feed(v.E2_V109)
    assert type(config) is MediaRegistration
    assert getattr(d, "text_prefixed", None) is False


# ---------------------------------------------------------------------------- streams

GARBAGE = [b"\r\n", b"$$", b"#$$dc", b"noise$", b"$$dc12,", b"$$dc0010,abc#", b""]


def e2_with_garbage() -> bytes:
    data = bytearray(b"\x00garbage")
    for i, frame in enumerate(v.E2_STREAM):
        data += frame + GARBAGE[i % len(GARBAGE)]
    return bytes(data + b"trailing $$d")


def test_stream_whole_bytewise_and_every_split(signaling: SignalingFactory) -> None:
    data = e2_with_garbage()
    whole = signaling()
    expected = whole.feed(data)
    keywords = [getattr(m, "keyword", None) for m in expected]
    assert keywords == [f.split(b",")[2].decode() for f in v.E2_STREAM]
    assert whole.frames == len(v.E2_STREAM)
    assert whole.skipped_bytes > 0
    assert whole.rejected_frames > 0
    assert whole.buffered_bytes == 3  # the final "$$d" could still start a frame
    assert whole.frame_bytes + whole.skipped_bytes + whole.buffered_bytes == len(data)
    bytewise = signaling()
    assert feed_all(bytewise, [data[i : i + 1] for i in range(len(data))]) == expected
    assert counters(bytewise) == counters(whole)
    for cut in range(len(data) + 1):
        d = signaling()
        assert feed_all(d, [data[:cut], data[cut:]]) == expected, cut
        assert counters(d) == counters(whole), cut


def test_frames_glued_and_three_way_splits(signaling: SignalingFactory) -> None:
    data = b"".join(v.E2_STREAM)
    expected = signaling().feed(data)
    assert len(expected) == len(v.E2_STREAM)
    step = 37
    for a in range(0, len(data), step):
        for b in range(a, len(data), step * 3):
            d = signaling()
            assert feed_all(d, [data[:a], data[a:b], data[b:]]) == expected
            assert d.skipped_bytes == 0


def test_fragmentation_vector(signaling: SignalingFactory) -> None:
    """E2: one read delivered `$`, the next the rest of a C508 and more."""
    c508 = v.frame(b"$$dc0000,97,C508,00967,,170915 105351,288644776,1,0,1,0,129.232.134.18,6602#")
    d = signaling()
    assert d.feed(c508[:1]) == []
    assert d.buffered_bytes == 1
    out = d.feed(c508[1:] + v.E2_V109)
    assert [type(m) for m in out] == [LiveVideoRequest, Heartbeat]
    assert d.skipped_bytes == 0


def test_garbage_is_skipped_and_counted(signaling: SignalingFactory) -> None:
    d = signaling()
    assert d.feed(b"hello" + v.E2_V109 + b"\r\n" + v.E2_C501 + b"bye") != []
    assert (d.frames, d.skipped_bytes, d.rejected_frames, d.buffered_bytes) == (2, 10, 0, 0)
    assert d.skipped_since_frame == 3
    # A wrong length: rejected once its `#` is not where LLLL says, then resynchronised.
    wrong = v.E2_V109.replace(b"0028", b"0029")
    assert [type(m) for m in d.feed(wrong + v.E2_V109)] == [Heartbeat]
    assert (d.rejected_frames, d.rejected_since_frame, d.skipped_since_frame) == (1, 0, 0)
    assert d.skipped_bytes == 10 + len(wrong)
    # Non-digit length or missing comma: rejected without waiting for more bytes.
    assert d.feed(b"$$dc00x") == []
    assert (d.rejected_frames, d.buffered_bytes) == (2, 0)
    assert d.feed(b"$$dc0028;") == []
    assert (d.rejected_frames, d.rejected_since_frame, d.buffered_bytes) == (3, 2, 0)


def test_overlong_length_never_buffers_more_than_one_frame(signaling: SignalingFactory) -> None:
    d = signaling()
    assert d.feed(b"$$dc9999,") == []
    chunk = b"x" * 4096
    for _ in range(64):
        assert d.feed(chunk) == []
        assert d.buffered_bytes <= 9999 + 9
    assert d.rejected_frames == 1
    assert [type(m) for m in d.feed(v.E2_V109)] == [Heartbeat]


def media_packet(op: int, payload: bytes, envelope: mdvr.Envelope = "M1", serial: int = 0) -> bytes:
    return mdvr_ref.build_media_packet(op, payload, envelope=envelope, serial=serial, time=7)


def video_frame(op: int, ts: int, size: int, envelope: mdvr.Envelope = "M1") -> bytes:
    au = b"\x00\x00\x00\x01\x67\x42\x00\x1e" if op == 0x6011 else b"\x00\x00\x00\x01\x41\x9a"
    body = (au * (size // len(au) + 1))[:size]
    return media_packet(op, struct.pack("<Q", ts) + body, envelope)


def test_media_session_in_one_read(media: MediaFactory) -> None:
    """Since SDK 6.1.0.17 media follows the registration `#` in the same read (§5.1)."""
    file_block = media_packet(0x6102, struct.pack("<II", 4096, 4) + b"DATA")
    end_block = media_packet(0x6102, struct.pack("<II", 4100, 0))
    data = (
        v.E4_V102
        + video_frame(0x6011, 0x559381A25CA0C, 3000)
        + video_frame(0x6012, 0x559381A25CA0C + 40_000, 500, "M2")
        + media_packet(0x6013, struct.pack("<Q", 5) + b"\x01" * 320)
        + media_packet(0x6005, b"")
        + media_packet(0x6015, b"\xaa" * 12)
        + file_block
        + end_block
        + media_packet(0x6011, b"short")
    )
    d = media()
    items = d.feed(data)
    assert [type(i) for i in items] == [
        LiveVideoRegistration,
        MediaFrame,
        MediaFrame,
        MediaFrame,
        RawMediaPacket,
        RawMediaPacket,
        FileBlock,
        FileBlock,
        RawMediaPacket,
    ]
    i_frame, p_frame, audio = (of(MediaFrame, x) for x in items[1:4])
    assert (i_frame.envelope, i_frame.opcode, i_frame.time, i_frame.timestamp_us) == (
        "M1",
        0x6011,
        7,
        0x559381A25CA0C,
    )
    assert (i_frame.is_keyframe, i_frame.kind, i_frame.codec, len(i_frame.data)) == (
        True,
        "video",
        "h264",
        3000,
    )
    assert (p_frame.envelope, p_frame.is_keyframe, p_frame.codec) == ("M2", False, "h264")
    assert (audio.kind, audio.codec, audio.data) == ("audio", None, b"\x01" * 320)
    block, end = of(FileBlock, items[6]), of(FileBlock, items[7])
    assert (block.offset, block.length, block.data, block.is_end) == (4096, 4, b"DATA", False)
    assert (end.offset, end.is_end) == (4100, True)
    assert of(RawMediaPacket, items[8]).payload == b"short"
    assert (d.frames, d.skipped_bytes, d.buffered_bytes) == (9, 0, 0)
    assert getattr(d, "envelope", None) == "M1"


def test_media_feedback_vector_decodes(media: MediaFactory) -> None:
    (fb,) = media().feed(v.M1_FEEDBACK_OK)
    assert fb == RawMediaPacket("M1", 0x6000, 0, 0, bytes([1, 0, 0, 0, 0, 0, 0, 0]))


def test_media_prefixed_text_and_m2(media: MediaFactory) -> None:
    d = media()
    items = d.feed(b"@@" + v.E4_V102 + video_frame(0x6011, 1, 64, "M2"))
    assert [type(i) for i in items] == [LiveVideoRegistration, MediaFrame]
    assert (getattr(d, "text_prefixed", None), getattr(d, "envelope", None)) == (True, "M2")
    # `$$$$` glued to a text frame first reads as an M1 header with an absurd length.
    assert [type(i) for i in d.feed(b"$$$$" + v.E4_V102)] == [LiveVideoRegistration]
    assert d.skipped_bytes == 4


def test_media_limits_and_resync(media: MediaFactory) -> None:
    d = media()
    too_big = struct.pack("<IH", 8 + (8 << 20) + 1, 0x6011)
    assert d.feed(b"$$$$$$dc" + too_big) == []
    assert d.buffered_bytes == 0  # rejected on its header, not waited for
    assert d.rejected_frames == 2  # the M1 marker, then the `$$dc` inside it
    good = video_frame(0x6012, 2, 100)
    bad_op = bytearray(good)
    bad_op[12:14] = b"\x00\x70"
    bad_tail = good[:-1] + b"x"
    items = d.feed(bytes(bad_op) + bad_tail + good)
    assert [type(i) for i in items] == [MediaFrame]
    assert d.rejected_frames == 6
    assert d.frame_bytes + d.skipped_bytes + d.buffered_bytes == len(
        b"$$$$$$dc" + too_big + bad_op + bad_tail + good
    )


def test_media_payload_cap_is_configurable() -> None:
    for d in (mdvr.MediaDecoder(max_payload=100), mdvr_ref.MediaDecoder(max_payload=100)):
        assert d.feed(media_packet(0x6005, b"x" * 100)) != []
        assert d.feed(media_packet(0x6005, b"x" * 101)) == []
        assert d.rejected_frames == 2
    with pytest.raises(ValueError, match="max_payload"):
        mdvr.MediaDecoder(max_payload=-1)
    with pytest.raises(ValueError, match="max_payload"):
        mdvr.MediaDecoder(max_payload=mdvr.MAX_PAYLOAD_LIMIT + 1)


def test_large_reads_straddling_frames_match_the_reference() -> None:
    """Reads ≥ 64 KiB take the GIL-free path; frames straddle reads of every size."""
    stream = v.E4_V102 + b"".join(
        video_frame(0x6011 if i % 10 == 0 else 0x6012, i, 60_000 if i % 10 == 0 else 3000)
        for i in range(40)
    )
    reference = mdvr_ref.MediaDecoder().feed(stream)
    assert len(reference) == 41
    for size in (100_000, 65_536, 7_000, 1_000_003):
        d = mdvr.MediaDecoder()
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert feed_all(d, chunks) == reference, size
        assert d.frame_bytes == len(stream)


def test_other_buffer_types_are_accepted() -> None:
    for data in (bytearray(v.E2_V114), memoryview(v.E2_V114)):
        (m,) = mdvr.SignalingDecoder().feed(data)
        assert isinstance(m, PositionReport)
        (r,) = mdvr.MediaDecoder().feed(data)
        assert isinstance(r, PositionReport)
    with pytest.raises(TypeError):
        mdvr.SignalingDecoder().feed("text")  # type: ignore[arg-type]


def test_decoder_repr_and_schema_check() -> None:
    d = mdvr.SignalingDecoder()
    d.feed(b"xx$$")
    assert "skipped_bytes=2" in repr(d)
    assert "buffered_bytes=2" in repr(d)
    classes = [getattr(mdvr, name) for name in trocadero_rt.MDVR_SCHEMA]
    trocadero_rt.MdvrSchema(classes)
    with pytest.raises(ValueError, match="does not match"):
        trocadero_rt.MdvrSchema([classes[1], classes[0], *classes[2:]])
    with pytest.raises(ValueError, match="expected"):
        trocadero_rt.MdvrSchema(classes[:-1])


# ---------------------------------------------------------------------------- builders

T_104951 = datetime(2017, 9, 15, 10, 49, 51, tzinfo=UTC)


def test_acks_are_byte_exact() -> None:
    reg = of(Registration, one(mdvr.SignalingDecoder, v.E2_V101))
    assert mdvr.build_ack(reg, T_104951) == v.E2_C100_V101
    status = of(DeviceStatus, one(mdvr.SignalingDecoder, v.E2_V142))
    assert mdvr.build_ack(status, "170915 104952") == v.E2_C100_V142
    query = of(FileQuery, one(mdvr.SignalingDecoder, v.E2_V141))
    assert mdvr.build_ack(query, "170915 104953") == v.E2_C100_V141
    alarm = of(Alarm, one(mdvr.SignalingDecoder, v.E2_V204))
    assert mdvr.build_ack(alarm, "170915 104953") == v.E2_C100_V204
    assert mdvr.build_registration_refusal(reg, T_104951) == v.frame(
        b"$$dc0000,2,C100,00967,,170915 104951,V101,170915 105007,0,0,2#"
    )
    for frame in (v.E2_V114, v.E2_V109, v.E2_V100):
        m = one(mdvr.SignalingDecoder, frame)
        assert not mdvr.needs_ack(m)
        with pytest.raises(ValueError, match="no C100"):
            mdvr.build_ack(m, T_104951)
    assert all(
        mdvr.needs_ack(one(mdvr.SignalingDecoder, f)) for f in (v.E2_V101, v.E2_V254, v.SYNTH_V232)
    )
    generic = mdvr.build_c100(
        serial=5,
        device_id="00967",
        time="170915 104953",
        src_keyword="V141",
        src_time="170915 105008",
        content=["0", "0", "0", "", "", "0", "", "0", "", ""],
    )
    assert generic == v.E2_C100_V141


def test_commands_are_byte_exact() -> None:
    dev = "00967"
    assert mdvr.build_heartbeat(serial=51, device_id=dev, time="170915 105255") == v.E2_C501
    c500 = mdvr.build_not_registered(serial=51, device_id=dev, time="170915 105255")
    assert c500 == v.E2_C501.replace(b"C501", b"C500")
    start = mdvr.build_live_video(
        serial=52,
        device_id=dev,
        time="170915 105351",
        session_id="288644776",
        channel=0,
        stream_type=1,
        media_ip="129.232.134.18",
        media_port=6602,
    )
    assert start == v.E2_C508_START
    stop = mdvr.build_live_video_stop(
        serial=112,
        device_id=dev,
        time="170915 110418",
        session_id="281696776",
        channel=4,
        stream_type=1,
    )
    assert stop == v.E2_C508_STOP
    reboot = mdvr.build_control(
        serial=175,
        device_id=dev,
        time="170915 113121",
        control=5,
        password="670B14728AD9902AECBA32E22FA4F6BD",
    )
    assert reboot == v.E2_C150
    xml = (
        b"<Param_RecordSet><MESSAGE_ID>0</MESSAGE_ID><MESSAGE_TYPE>1</MESSAGE_TYPE>"
        b"</Param_RecordSet>"
    )
    c517 = mdvr.build_parameters(
        serial=165, device_id=dev, time="170915 112817", param_type=0, data=xml
    )
    assert c517 == v.E2_C517
    # The doc's example tail: `…,C505,T0001,,100101 123456,1,50,10,0300#`.
    c505 = mdvr.build_position_interval(
        serial=1,
        device_id="T0001",
        time="100101 123456",
        distance=50,
        interval_s=10,
        combo_mask=0x300,
    )
    assert c505.endswith(b",C505,T0001,,100101 123456,1,50,10,0300#")
    c702 = mdvr.build_file_download(
        serial=7,
        device_id=dev,
        time="170915 105351",
        session_id="99",
        file_name="/mnt/sd/alarm/ch1.264",
        media_ip="10.0.0.1",
        media_port=6602,
    )
    assert c702 == mdvr_ref.build_frame(
        "C702",
        ["99", "0", "0", "0", "10.0.0.1", "6602", "/mnt/sd/alarm/ch1.264"],
        serial="7",
        device_id=dev,
        time="170915 105351",
    )
    request = of(FileDownloadRequest, one(mdvr.SignalingDecoder, c702))
    assert (request.session_id, request.file_name, request.media_port) == (
        "99",
        "/mnt/sd/alarm/ch1.264",
        6602,
    )
    e8_args = {
        "C510": ["50930120", "0", "127.0.0.1", "6602"],
        "C701": ["46214296", "200228 000000", "235959", "3", "0", "127.0.0.1", "6602"],
    }
    for frame in (v.E8_C510, v.E8_C701):
        _, serial, keyword, device_id, _, time = frame.decode().split(",")[:6]
        args = e8_args[keyword]
        built = mdvr.build_frame(keyword, args, serial=serial, device_id=device_id, time=time)
        assert built == frame
        ref = mdvr_ref.build_frame(keyword, args, serial=serial, device_id=device_id, time=time)
        assert ref == frame


def test_media_builders_are_byte_exact() -> None:
    assert mdvr.build_media_feedback(ok=True) == v.M1_FEEDBACK_OK
    refused = mdvr.build_media_feedback(
        ok=False, reason=mdvr.FEEDBACK_BAD_DEVICE_ID, envelope="M2", serial=1, time=2
    )
    assert refused == b"@@$$dc" + bytes.fromhex("10000000 0060 0100 02000000 00000000 02100000") + (
        b"####"
    )
    assert mdvr.build_iframe_request() == b"$$$$$$dc" + bytes.fromhex(
        "08000000 0260 0000 00000000"
    ) + (b"####")
    assert mdvr.build_media_heartbeat(
        envelope="M2", serial=3, time=4
    ) == mdvr_ref.build_media_packet(0x6005, envelope="M2", serial=3, time=4)
    payload = bytes(range(256)) * 4
    assert mdvr.build_media_packet(0x6102, payload, serial=9) == mdvr_ref.build_media_packet(
        0x6102, payload, serial=9
    )


def test_builders_validate_their_arguments() -> None:
    t = "170915 105255"
    with pytest.raises(ValueError, match="device_id"):
        mdvr.build_heartbeat(serial=1, device_id="009,67", time=t)
    with pytest.raises(ValueError, match="device_id must not be empty"):
        mdvr.build_heartbeat(serial=1, device_id="", time=t)
    with pytest.raises(ValueError, match="time"):
        mdvr.build_heartbeat(serial=1, device_id="1", time="17091510525")
    with pytest.raises(ValueError, match="timezone-aware"):
        mdvr.build_heartbeat(serial=1, device_id="1", time=datetime(2017, 9, 15))
    with pytest.raises(ValueError, match="keyword"):
        mdvr.build_frame("X100", serial=1, device_id="1", time=t)
    with pytest.raises(ValueError, match="field"):
        mdvr.build_frame("C600", ["a#b"], serial=1, device_id="1", time=t)
    with pytest.raises(ValueError, match="9999"):
        mdvr.build_parameters(serial=1, device_id="1", time=t, param_type=0, data=b"x" * 9999)
    with pytest.raises(ValueError, match="media_port"):
        mdvr.build_live_video(
            serial=1,
            device_id="1",
            time=t,
            session_id="1",
            channel=0,
            media_ip="1.2.3.4",
            media_port=70000,
        )
    with pytest.raises(ValueError, match="envelope"):
        mdvr.build_iframe_request(envelope="M3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="session_id must be at most 40 bytes"):
        mdvr.build_live_video_stop(serial=1, device_id="1", time=t, session_id="x" * 41, channel=0)


@pytest.mark.parametrize(
    ("frame", "v114"),
    [(v.E2_V114, True), (v.E2_V204, False), (v.SYNTH_V101_OLD, False), (v.SYNTH_V201, False)],
)
def test_position_fields_round_trip(frame: bytes, v114: bool) -> None:
    """A simulator re-encodes a decoded block; decoding it again gives the same position."""
    original = one(mdvr.SignalingDecoder, frame)
    position = getattr(original, "position", None)
    assert isinstance(position, Position)
    keyword = "V114" if v114 else "V141"
    again = one(
        mdvr.SignalingDecoder,
        mdvr.build_frame(
            keyword,
            mdvr.position_fields(position, v114=v114),
            serial=1,
            device_id="00967",
            time="170915 105051",
        ),
    )
    assert isinstance(again, PositionReport | FileQuery)
    assert again.position == dataclasses.replace(
        position,
        longitude=pytest.approx(position.longitude, abs=1e-9),  # type: ignore[arg-type]
        latitude=pytest.approx(position.latitude, abs=1e-9),  # type: ignore[arg-type]
        extra=None if v114 else (position.extra or "") if position.extension else None,
    )
    assert str(again.position.longitude)[0] == str(position.longitude)[0]  # sign kept (-0.0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-180, 180, allow_nan=False),
    st.floats(-90, 90, allow_nan=False),
    st.booleans(),
)
def test_coordinates_round_trip(lon: float, lat: float, fix: bool) -> None:
    position = dataclasses.replace(
        E2_POSITION, valid=fix, gps_state="A" if fix else "V", longitude=lon, latitude=lat
    )
    fields = mdvr.position_fields(position, v114=True)
    frame = mdvr_ref.build_frame("V114", fields, serial="1", device_id="1", time="170915 105051")
    for decoder in (mdvr.SignalingDecoder(), mdvr_ref.SignalingDecoder()):
        (m,) = decoder.feed(frame)
        assert isinstance(m, PositionReport)
        assert m.position is not None
        assert m.position.valid is fix
        assert m.position.longitude == pytest.approx(lon, abs=1e-9)
        assert m.position.latitude == pytest.approx(lat, abs=1e-9)


def test_times() -> None:
    cape_town = timezone(timedelta(hours=2))
    assert mdvr.format_time(datetime(2017, 9, 15, 12, 52, 55, tzinfo=cape_town)) == "170915 105255"
    assert mdvr.parse_time("170915 105255") == datetime(2017, 9, 15, 10, 52, 55, tzinfo=UTC)
    assert mdvr.parse_time("171315 105255") is None
    with pytest.raises(ValueError, match="timezone-aware"):
        mdvr.format_time(datetime(2017, 9, 15))


def test_codec_sniffing() -> None:
    sniff = mdvr.sniff_video_codec
    assert sniff(b"\x00\x00\x00\x01\x67\x64\x00") == "h264"
    assert sniff(b"\x00\x00\x01\x06\x01\x00") == "h264"  # SEI pic timing, not H.265 TSA
    assert sniff(b"\x00\x00\x00\x01\x40\x01\x0c") == "h265"  # VPS
    assert sniff(b"\x00\x00\x00\x01\x02\x01\xd0") == "h265"  # TRAIL_R
    assert sniff(b"\x01\x02\x03") is None
    assert sniff(b"\x00\x00\x01") is None
