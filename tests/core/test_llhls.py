"""The LL-HLS window: parts of at most the part target, segments from keyframe to keyframe,
and a media playlist that follows RFC 8216bis (checked tag by tag); its bytes decode."""

from __future__ import annotations

import io
import re
from typing import Any

import av
import pytest

from trocadero.core.llhls import HlsWindow
from trocadero.playout.mdvr.sim import counter_clip, read_counter
from trocadero.protocols.fmp4 import Fmp4Muxer

FPS = 15.0


@pytest.fixture(scope="module")
def window() -> HlsWindow:
    """The counter clip (keyframe every 15 frames = 1 s) through the remux into a window."""
    clip = counter_clip(width=160, height=96, frames=100, fps=FPS, keyint=15)
    mux, win = Fmp4Muxer(), HlsWindow(part_target=0.2, kept=4)
    for n, (unit, key) in enumerate(clip.units):
        out = mux.push(unit, keyframe=key, timestamp_us=round(n * 1e6 / FPS))
        assert out.fragment is not None
        win.add(out.init, out.fragment, out.keyframe, out.decode_time / 90_000)
    return win


def tags(playlist: str) -> list[tuple[str, str]]:
    out = []
    for line in playlist.splitlines():
        name, _, value = line.partition(":")
        out.append((name, value))
    return out


def attrs(value: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', value)}


def test_the_playlist_follows_rfc8216bis(window: HlsWindow) -> None:
    text = window.playlist()
    lines = tags(text)
    assert lines[0] == ("#EXTM3U", "")
    head = dict(lines[:7])
    assert head["#EXT-X-VERSION"] == "9"
    target = float(attrs(head["#EXT-X-PART-INF"])["PART-TARGET"])
    assert target == pytest.approx(0.2)
    control = attrs(head["#EXT-X-SERVER-CONTROL"])
    assert control["CAN-BLOCK-RELOAD"] == "YES"
    assert float(control["PART-HOLD-BACK"]) >= 2 * target  # the RFC's floor
    assert attrs(head["#EXT-X-MAP"])["URI"] == "init.mp4"
    first_msn = int(head["#EXT-X-MEDIA-SEQUENCE"])
    assert first_msn == window.segments[0].msn == window.next_msn - 4  # the window slides

    segments: list[tuple[float, list[float], bool]] = []
    parts: list[float] = []
    independent_first = True
    for name, value in lines[7:]:
        if name == "#EXT-X-PART":
            a = attrs(value)
            if not parts:
                independent_first = a.get("INDEPENDENT") == "YES"
            parts.append(float(a["DURATION"]))
            assert re.fullmatch(r"part\d+\.\d+\.m4s", a["URI"])
        elif name == "#EXTINF":
            segments.append((float(value.rstrip(",")), parts, independent_first))
            parts = []
        elif name == "#EXT-X-PRELOAD-HINT":
            assert attrs(value)["TYPE"] == "PART"
    target_duration = int(head["#EXT-X-TARGETDURATION"])
    assert len(segments) == 3  # the fourth is still open: its parts so far, then the hint
    assert text.rstrip().splitlines()[-1].startswith("#EXT-X-PRELOAD-HINT:")
    for duration, its_parts, independent in segments:
        assert round(duration) <= target_duration
        assert duration == pytest.approx(1.0, abs=1e-3)  # keyframe to keyframe
        assert sum(its_parts) == pytest.approx(duration, abs=1e-3)  # parts tile the segment
        assert all(0 < p <= target + 1e-3 for p in its_parts), its_parts  # part timing
        assert independent


def test_segments_and_parts_are_the_bytes_they_list(window: HlsWindow) -> None:
    assert window.init is not None
    segment = window.segments[0]
    joined = b"".join(bytes(p.data) for p in segment.parts)
    assert segment.data() == joined
    container: Any = av.open(io.BytesIO(window.init + joined), format="mp4")
    counters = [read_counter(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    start = counters[0]
    assert start is not None
    assert counters == list(range(start, start + 15))  # one GOP, in order


def test_blocking_reload_targets(window: HlsWindow) -> None:
    open_segment = window.segments[-1]
    assert not open_segment.done
    assert window.has(open_segment.msn - 1, None)
    assert window.has(open_segment.msn, 0)
    assert not window.has(open_segment.msn, len(open_segment.parts))
    assert not window.has(open_segment.msn, None)
    assert window.part(open_segment.msn, 0) is not None
    assert window.segment(open_segment.msn) is None
