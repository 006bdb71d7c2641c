"""LL-HLS (RFC 8216bis, Low-Latency HLS) from the same fMP4 fragments the WebSocket viewers
get: a sliding window of segments (keyframe to keyframe) made of parts (a few frames each,
at most `part_target` long), and the media playlist that lists them. Sans-IO: fragments in,
playlist text and bytes out; the hub (core/video_hub.py) feeds it, web/video_hls.py serves it.

A part is closed when the next frame would make it longer than the part target, a segment
when the next keyframe arrives, so every segment and the first part of each start with an
independent frame. Durations come from the fragments' decode times, which the remux keeps
contiguous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

__all__ = ["PART_TARGET_S", "HlsWindow", "Part", "Segment"]

PART_TARGET_S: Final = 0.2
SEGMENTS_KEPT: Final = 6
_SLACK: Final = 1e-3  # float decode times: a part of exactly the target is not "longer"


@dataclass(eq=False)
class Part:
    start: float
    data: bytearray = field(default_factory=bytearray)
    duration: float = 0.0
    independent: bool = False
    done: bool = False


@dataclass(eq=False)
class Segment:
    msn: int  # media sequence number
    start: float
    parts: list[Part] = field(default_factory=list)
    duration: float = 0.0
    done: bool = False

    def data(self) -> bytes:
        return b"".join(bytes(p.data) for p in self.parts)


class HlsWindow:
    def __init__(self, part_target: float = PART_TARGET_S, kept: int = SEGMENTS_KEPT) -> None:
        self.part_target = part_target
        self.kept = kept
        self.init: bytes | None = None
        self.segments: list[Segment] = []
        self._next_msn = 0
        self._frame = part_target / 5  # the last frame interval, until one is seen
        self._last_dts: float | None = None

    # --- fed by the hub --------------------------------------------------------------------

    def add(self, init: bytes | None, fragment: bytes, keyframe: bool, dts: float) -> bool:
        """One fragment; True when a part was completed by it (blocked reloads may go on)."""
        if init is not None:
            self.init = init
        if self._last_dts is not None and 0 < dts - self._last_dts < 1.0:
            self._frame = dts - self._last_dts
        self._last_dts = dts
        closed = False
        current = self.segments[-1] if self.segments and not self.segments[-1].done else None
        if keyframe:
            if current is not None:
                closed = self._close_part(current, dts)
                current.duration, current.done = dts - current.start, True
            current = Segment(self._next_msn, dts)
            self._next_msn += 1
            self.segments.append(current)
            del self.segments[: -self.kept]
        if current is None:
            return False  # nothing before the first keyframe
        part = current.parts[-1] if current.parts and not current.parts[-1].done else None
        if part is not None and dts + self._frame - part.start > self.part_target + _SLACK:
            closed = self._close_part(current, dts) or closed
            part = None
        if part is None:
            part = Part(dts, independent=keyframe)
            current.parts.append(part)
        part.data += fragment
        return closed

    def _close_part(self, segment: Segment, dts: float) -> bool:
        if not segment.parts or segment.parts[-1].done:
            return False
        part = segment.parts[-1]
        part.duration, part.done = dts - part.start, True
        return True

    # --- read by the server ----------------------------------------------------------------

    def has(self, msn: int, part: int | None) -> bool:
        """Whether the playlist lists segment `msn` (complete), or its part `part`."""
        for s in self.segments:
            if s.msn == msn:
                if part is None:
                    return s.done
                return part < len(s.parts) and s.parts[part].done
        return bool(self.segments) and msn < self.segments[0].msn

    @property
    def next_msn(self) -> int:
        return self._next_msn

    def segment(self, msn: int) -> Segment | None:
        return next((s for s in self.segments if s.msn == msn and s.done), None)

    def part(self, msn: int, index: int) -> Part | None:
        for s in self.segments:
            if s.msn == msn and index < len(s.parts) and s.parts[index].done:
                return s.parts[index]
        return None

    def playlist(self) -> str:
        done = [s for s in self.segments if s.done]
        longest = max((s.duration for s in done), default=1.0)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:9",
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
            f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.3f}",
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * self.part_target:.3f}",
            f"#EXT-X-MEDIA-SEQUENCE:{self.segments[0].msn if self.segments else 0}",
            '#EXT-X-MAP:URI="init.mp4"',
        ]
        for s in self.segments:
            next_part = 0
            for n, p in enumerate(s.parts):
                if not p.done:
                    break
                independent = ",INDEPENDENT=YES" if p.independent else ""
                lines.append(
                    f'#EXT-X-PART:DURATION={p.duration:.5f},URI="part{s.msn}.{n}.m4s"{independent}'
                )
                next_part = n + 1
            if s.done:
                lines += [f"#EXTINF:{s.duration:.5f},", f"seg{s.msn}.m4s"]
            else:
                lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part{s.msn}.{next_part}.m4s"')
        return "\n".join(lines) + "\n"
