"""Fragmented MP4 (ISO/IEC 14496-12, ISO BMFF) from H.264 access units: a remux, no transcode.

Sans-IO: Annex-B access units in (as MDVR devices send them, SPS/PPS before every IDR), bytes
out: one *init segment* (ftyp + moov, the avcC built from the stream's SPS/PPS) and then one
*media fragment* (moof + mdat) per access unit, which is what Media Source Extensions and
LL-HLS parts both take::

    mux = Fmp4Muxer()
    for unit, key, t_us in frames:
        out = mux.push(unit, keyframe=key, timestamp_us=t_us)
        if out.init is not None: send(out.init)          # first keyframe, or new SPS/PPS
        if out.fragment is not None: send(out.fragment)

Units before the first keyframe carrying SPS and PPS are dropped (a decoder could do nothing
with them). The decode timeline is contiguous: each sample lasts the device's last frame
interval (clamped), so a browser never sees a gap between fragments.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "TIMESCALE",
    "Fmp4Muxer",
    "MuxOutput",
    "SpsInfo",
    "annexb_units",
    "box",
    "codec_string",
    "parse_sps",
]

TIMESCALE: Final = 90_000  # the usual video clock: whole ticks for 25, 30, 50, 60 fps
DEFAULT_DURATION: Final = TIMESCALE // 15
MIN_DURATION: Final = TIMESCALE // 240
MAX_DURATION: Final = TIMESCALE  # a stalled device does not stretch one frame beyond 1 s
TRACK_ID: Final = 1
NAL_IDR: Final = 5
NAL_SPS: Final = 7
NAL_PPS: Final = 8
NAL_AUD: Final = 9
_OUT_OF_BAND: Final = frozenset({NAL_SPS, NAL_PPS, NAL_AUD})  # in avcC, or meaningless in MP4
# trun sample flags (14496-12 §8.8.3.1): sample_depends_on and sample_is_non_sync_sample.
SYNC_SAMPLE: Final = 0x0200_0000  # depends on no other
NON_SYNC_SAMPLE: Final = 0x0101_0000  # depends on others, not a sync sample
_UNITY_MATRIX: Final = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000)


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B byte stream (3- or 4-byte start codes), without them."""
    units: list[bytes] = []
    starts: list[tuple[int, int]] = []  # (start code position, payload position)
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        code = at - 1 if at > 0 and data[at - 1] == 0 else at
        starts.append((code, at + 3))
        at = data.find(b"\x00\x00\x01", at + 3)
    for n, (_, begin) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(data)
        unit = data[begin:end]
        if unit:
            units.append(unit)
    return units


@dataclass(frozen=True, slots=True)
class SpsInfo:
    profile: int
    compatibility: int
    level: int
    width: int
    height: int
    chroma_format: int = 1
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8


class _Bits:
    """Exp-Golomb reader over an RBSP (emulation-prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.pos >> 3
        if byte >= len(self.data):
            raise ValueError("SPS ends early")
        value = (self.data[byte] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    """Drop the emulation-prevention 0x03 after every 00 00 (H.264 §7.4.1)."""
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


_HIGH_PROFILES: Final = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def parse_sps(nal: bytes) -> SpsInfo:
    """Profile, level and the cropped picture size of an H.264 SPS NAL (H.264 §7.3.2.1.1)."""
    if not nal or nal[0] & 0x1F != NAL_SPS or len(nal) < 4:
        raise ValueError("not an H.264 SPS")
    r = _Bits(_rbsp(nal[4:]))
    profile, compatibility, level = nal[1], nal[2], nal[3]
    r.ue()  # seq_parameter_set_id
    chroma_format, depth_luma, depth_chroma, separate_planes = 1, 8, 8, 0
    if profile in _HIGH_PROFILES:
        chroma_format = r.ue()
        if chroma_format == 3:
            separate_planes = r.bit()
        depth_luma = r.ue() + 8
        depth_chroma = r.ue() + 8
        r.bit()  # qpprime_y_zero_transform_bypass_flag
        if r.bit():  # seq_scaling_matrix_present_flag: skip the lists
            for i in range(8 if chroma_format != 3 else 12):
                if r.bit():
                    last, following = 8, 8
                    for _ in range(16 if i < 6 else 64):
                        if following:
                            following = (last + r.se() + 256) % 256
                        last = following or last
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.bit()
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()  # mb_adaptive_frame_field_flag
    r.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_units * 16 * (2 - frame_mbs_only)
    if r.bit():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate_planes else chroma_format
        crop_x = 1 if array_type == 0 else (2 if array_type in (1, 2) else 1)
        crop_y = (1 if array_type in (0, 3) else (2 if array_type == 1 else 1)) * (
            2 - frame_mbs_only
        )
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    return SpsInfo(
        profile, compatibility, level, width, height, chroma_format, depth_luma, depth_chroma
    )


def codec_string(sps: SpsInfo) -> str:
    """The RFC 6381 codecs parameter, e.g. ``avc1.42C01E`` (for MediaSource.isTypeSupported)."""
    return f"avc1.{sps.profile:02X}{sps.compatibility:02X}{sps.level:02X}"


def _avcc(sps_nal: bytes, pps_nal: bytes, sps: SpsInfo) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1)."""
    body = struct.pack(">BBBBB", 1, sps.profile, sps.compatibility, sps.level, 0xFF)
    body += struct.pack(">BH", 0xE1, len(sps_nal)) + sps_nal
    body += struct.pack(">BH", 1, len(pps_nal)) + pps_nal
    if sps.profile in (100, 110, 122, 144):
        body += bytes(
            (
                0xFC | sps.chroma_format,
                0xF8 | (sps.bit_depth_luma - 8),
                0xF8 | (sps.bit_depth_chroma - 8),
                0,
            )
        )
    return box(b"avcC", body)


def init_segment(sps_nal: bytes, pps_nal: bytes) -> bytes:
    """ftyp + moov of one H.264 video track with no samples (they come in fragments)."""
    sps = parse_sps(sps_nal)
    w, h = sps.width, sps.height
    ftyp = box(b"ftyp", b"iso5", struct.pack(">I", 512), b"iso5iso6avc1mp41")
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, 1000, 0),  # created, modified, timescale, duration
        struct.pack(">IH", 0x10000, 0x100),  # rate 1.0, volume 1.0
        bytes(10),
        _UNITY_MATRIX,
        bytes(24),
        struct.pack(">I", TRACK_ID + 1),  # next_track_ID
    )
    tkhd = full_box(
        b"tkhd",
        0,
        0x3,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate group, volume, reserved
        _UNITY_MATRIX,
        struct.pack(">II", w << 16, h << 16),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, 0, 0x55C4, 0))  # und
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), bytes(12), b"Trocadero\0")
    avc1 = box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),
        struct.pack(">HHIIIH", w, h, 0x480000, 0x480000, 0, 1),  # 72 dpi, one frame/sample
        bytes(32),  # compressorname
        struct.pack(">Hh", 0x18, -1),
        _avcc(sps_nal, pps_nal, sps),
    )
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        full_box(b"stts", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0))
    return ftyp + box(b"moov", mvhd, trak, box(b"mvex", trex))


def media_fragment(
    sequence: int, decode_time: int, samples: list[tuple[bytes, int, bool]]
) -> bytes:
    """moof + mdat of (AVCC sample, duration in TIMESCALE ticks, keyframe) samples."""
    entries = b"".join(
        struct.pack(">III", duration, len(data), SYNC_SAMPLE if key else NON_SYNC_SAMPLE)
        for data, duration, key in samples
    )

    def moof(data_offset: int) -> bytes:
        trun = full_box(
            b"trun",
            0,
            0x000001 | 0x000100 | 0x000200 | 0x000400,  # offset, duration, size, flags
            struct.pack(">Ii", len(samples), data_offset),
            entries,
        )
        traf = box(
            b"traf",
            full_box(b"tfhd", 0, 0x020000, struct.pack(">I", TRACK_ID)),  # base is moof
            full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time)),
            trun,
        )
        return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), traf)

    size = len(moof(0))
    mdat = box(b"mdat", *(data for data, _, _ in samples))
    return moof(size + 8) + mdat


@dataclass(frozen=True, slots=True)
class MuxOutput:
    init: bytes | None = None  # a (new) init segment: send it before the fragment
    fragment: bytes | None = None
    keyframe: bool = False
    decode_time: int = 0  # the fragment's first sample, in TIMESCALE ticks
    duration: int = 0
    codec: str = ""  # RFC 6381, once known


class Fmp4Muxer:
    """One H.264 stream to fMP4, a fragment per access unit (sans-IO, not thread-safe)."""

    def __init__(self) -> None:
        self.sequence = 0
        self.decode_time = 0
        self.dropped = 0  # units before the first usable keyframe
        self.codec = ""
        self.sps: SpsInfo | None = None
        self._params: tuple[bytes, bytes] | None = None
        self._last_ts: int | None = None
        self._duration = DEFAULT_DURATION

    def push(self, unit: bytes, *, keyframe: bool, timestamp_us: int) -> MuxOutput:
        nals = annexb_units(unit)
        init: bytes | None = None
        sps_nal = next((n for n in nals if n[0] & 0x1F == NAL_SPS), None)
        pps_nal = next((n for n in nals if n[0] & 0x1F == NAL_PPS), None)
        if sps_nal is not None and pps_nal is not None and (sps_nal, pps_nal) != self._params:
            try:
                init = init_segment(sps_nal, pps_nal)
            except ValueError:
                init = None
            else:
                self._params = (sps_nal, pps_nal)
                self.sps = parse_sps(sps_nal)
                self.codec = codec_string(self.sps)
        key = keyframe or any(n[0] & 0x1F == NAL_IDR for n in nals)
        if self._params is None or (init is not None and not key):
            self.dropped += 1
            return MuxOutput()
        if self._last_ts is not None:
            delta = (timestamp_us - self._last_ts) * TIMESCALE // 1_000_000
            if MIN_DURATION <= delta <= MAX_DURATION:
                self._duration = delta
        self._last_ts = timestamp_us
        sample = b"".join(
            struct.pack(">I", len(n)) + n for n in nals if n[0] & 0x1F not in _OUT_OF_BAND
        )
        if not sample:
            self.dropped += 1
            return MuxOutput(init=init, codec=self.codec)
        self.sequence += 1
        at = self.decode_time
        fragment = media_fragment(self.sequence, at, [(sample, self._duration, key)])
        self.decode_time += self._duration
        return MuxOutput(init, fragment, key, at, self._duration, self.codec)
