"""The fMP4 remux: byte-level facts of its boxes, and PyAV (libavformat) as the oracle — the
init segment plus fragments decode back to every frame, in order, with the counter intact."""

from __future__ import annotations

import io
import itertools
import struct
from typing import Any

import av
import pytest

from trocadero.playout.mdvr.sim import counter_clip, encode_clip, read_counter
from trocadero.protocols.fmp4 import (
    NON_SYNC_SAMPLE,
    SYNC_SAMPLE,
    TIMESCALE,
    Fmp4Muxer,
    annexb_units,
    codec_string,
    parse_sps,
)


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    at = 0
    while at < len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        assert size >= 8, f"box {kind!r} of size {size}"
        out.append((kind, data[at + 8 : at + size]))
        at += size
    assert at == len(data)
    return out


def child(body: bytes, path: list[bytes]) -> bytes:
    for kind in path:
        found = dict(boxes(body))
        assert kind in found, f"no {kind!r} in {[k for k, _ in boxes(body)]}"
        body = found[kind]
    return body


@pytest.fixture(scope="module")
def clip() -> Any:
    return counter_clip(width=160, height=96, frames=45, fps=15.0, keyint=15)


def mux_all(clip: Any) -> tuple[bytes, list[bytes], Fmp4Muxer]:
    mux = Fmp4Muxer()
    init = b""
    fragments = []
    for n, (unit, key) in enumerate(clip.units):
        out = mux.push(unit, keyframe=key, timestamp_us=n * 66_667)
        if out.init is not None:
            init = init or out.init
        if out.fragment is not None:
            fragments.append(out.fragment)
    return init, fragments, mux


def test_annexb_split_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\xdd"
    assert annexb_units(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]


def test_sps_size_and_codec_string(clip: Any) -> None:
    sps = next(n for n in annexb_units(clip.units[0][0]) if n[0] & 0x1F == 7)
    info = parse_sps(sps)
    assert (info.width, info.height) == (160, 96)
    assert codec_string(info) == f"avc1.{sps[1]:02X}{sps[2]:02X}{sps[3]:02X}"
    # 1920x1080 is 120x68 macroblocks: 8 rows are cropped (frame_cropping in the SPS).
    big = encode_clip(width=1920, height=1080, frames=1, keyint=1)
    sps_big = next(n for n in annexb_units(big.units[0][0]) if n[0] & 0x1F == 7)
    assert (parse_sps(sps_big).width, parse_sps(sps_big).height) == (1920, 1080)


def test_init_segment_boxes(clip: Any) -> None:
    init, _, mux = mux_all(clip)
    kinds = [k for k, _ in boxes(init)]
    assert kinds == [b"ftyp", b"moov"]
    moov = dict(boxes(init))[b"moov"]
    assert [k for k, _ in boxes(moov)] == [b"mvhd", b"trak", b"mvex"]
    mdhd = child(moov, [b"trak", b"mdia", b"mdhd"])
    assert struct.unpack_from(">I", mdhd, 12)[0] == TIMESCALE
    stsd = child(moov, [b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    (count,) = struct.unpack_from(">I", stsd, 4)
    assert count == 1
    entries = boxes(stsd[8:])
    assert entries[0][0] == b"avc1"
    avc1 = entries[0][1]
    assert struct.unpack_from(">HH", avc1, 24) == (160, 96)
    avcc = dict(boxes(avc1[78:]))[b"avcC"]
    sps = next(n for n in annexb_units(clip.units[0][0]) if n[0] & 0x1F == 7)
    assert avcc[0] == 1
    assert avcc[1:4] == sps[1:4]
    assert avcc[4] == 0xFF
    assert avcc[5] == 0xE1
    assert avcc[8 : 8 + len(sps)] == sps
    assert mux.codec.startswith("avc1.")


def test_fragment_boxes(clip: Any) -> None:
    _, fragments, _ = mux_all(clip)
    assert len(fragments) == len(clip.units)
    decode_times = []
    for seq, frag in enumerate(fragments, 1):
        (moof_kind, moof), (mdat_kind, mdat) = boxes(frag)
        assert (moof_kind, mdat_kind) == (b"moof", b"mdat")
        assert struct.unpack_from(">I", dict(boxes(moof))[b"mfhd"], 4)[0] == seq
        traf = dict(boxes(moof))[b"traf"]
        parts = dict(boxes(traf))
        assert struct.unpack_from(">I", parts[b"tfhd"], 0)[0] & 0xFFFFFF == 0x020000
        assert parts[b"tfdt"][0] == 1  # version 1: 64-bit time
        decode_times.append(struct.unpack_from(">Q", parts[b"tfdt"], 4)[0])
        trun = parts[b"trun"]
        count, offset, duration, size, flags = struct.unpack_from(">IiIII", trun, 4)
        assert count == 1
        assert offset == len(moof) + 8 + 8  # data starts right after mdat's header
        assert size == len(mdat)
        assert flags == (SYNC_SAMPLE if clip.units[seq - 1][1] else NON_SYNC_SAMPLE)
        assert duration == TIMESCALE * 66_667 // 1_000_000
        nal_len = struct.unpack_from(">I", mdat, 0)[0]  # AVCC: length-prefixed, no start code
        assert 0 < nal_len <= len(mdat) - 4
    steps = {b - a for a, b in itertools.pairwise(decode_times)}
    assert steps == {TIMESCALE * 66_667 // 1_000_000}  # contiguous: no gap, no overlap


def test_pyav_decodes_every_frame_in_order(clip: Any) -> None:
    init, fragments, _ = mux_all(clip)
    container: Any = av.open(io.BytesIO(init + b"".join(fragments)), format="mp4")
    counters = [
        read_counter(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)
    ]
    assert counters == list(range(len(clip.units)))


def test_units_before_the_first_keyframe_are_dropped(clip: Any) -> None:
    mux = Fmp4Muxer()
    out = mux.push(clip.units[1][0], keyframe=False, timestamp_us=0)
    assert out.fragment is None
    assert out.init is None
    assert mux.dropped == 1
    out = mux.push(clip.units[0][0], keyframe=True, timestamp_us=66_667)
    assert out.init is not None
    assert out.fragment is not None
    assert out.keyframe


def test_a_new_sps_sends_a_new_init_segment() -> None:
    small = encode_clip(width=64, height=48, frames=2, keyint=1)
    large = encode_clip(width=128, height=96, frames=2, keyint=1)
    mux = Fmp4Muxer()
    first = mux.push(small.units[0][0], keyframe=True, timestamp_us=0)
    same = mux.push(small.units[1][0], keyframe=True, timestamp_us=66_667)
    changed = mux.push(large.units[0][0], keyframe=True, timestamp_us=133_334)
    assert first.init is not None
    assert same.init is None
    assert changed.init is not None
    assert mux.sps is not None
    assert (mux.sps.width, mux.sps.height) == (128, 96)
