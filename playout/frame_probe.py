"""Which frame carried a command to the wire, and when it went (for the "frame" span).

Read from the native threads' own figures, from the Trio side (they are atomics: reading
never delays a frame): the render thread's `frames_rendered` and `last_frame_time` (the frame
time it drew for), the output thread's `last_frame_ns` (CLOCK_MONOTONIC of its last send).
The first render that completes after a command's plan was handed over is the one that
carries it (a poke wakes the thread for it); it goes out at that frame time's deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["FrameProbe", "SentFrame"]


class _Clock(Protocol):
    @property
    def epoch_ns(self) -> int | None: ...
    @property
    def period_ns(self) -> int: ...
    def deadline_after(self, t_ns: int) -> tuple[int, int] | None: ...
    def stats(self) -> Any: ...


class _Renderer(Protocol):
    def stats(self, period_ns: int) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SentFrame:
    number: int  # the deadline's index since the clock started
    deadline_ns: int  # CLOCK_MONOTONIC
    sent_ns: int  # CLOCK_MONOTONIC, when the output thread handed it to the outputs
    frames_sent: int  # the output thread's count of frames sent, this one included
    exact: bool  # False: a later frame had gone out before it was looked at (sent_ns ≈)


class FrameProbe:
    def __init__(self, clock: _Clock, renderer: _Renderer) -> None:
        self.clock = clock
        self.renderer = renderer

    def frames_rendered(self) -> int:
        return int(self.renderer.stats(self.clock.period_ns)["frames_rendered"])

    def drawn_after(self, rendered_before: int) -> tuple[int, int] | None:
        """(frame number, deadline ns) of the first frame rendered after `rendered_before`
        renders, or None while there is none."""
        s = self.renderer.stats(self.clock.period_ns)
        if int(s["frames_rendered"]) <= rendered_before:
            return None
        epoch = self.clock.epoch_ns
        assert epoch is not None  # the render thread runs: the clock has started
        approx = epoch + round(float(s["last_frame_time"]) * 1e9)
        # The deadline itself (the frame time is a float): the first one past approx - ½.
        return self.clock.deadline_after(approx - self.clock.period_ns // 2)

    def sent(self, number: int, deadline_ns: int) -> SentFrame | None:
        """The frame `number` as sent, or None while it has not gone out."""
        s = self.clock.stats()
        last = int(s.last_frame_ns)
        if last < deadline_ns:
            return None
        exact = last < deadline_ns + self.clock.period_ns
        return SentFrame(
            number, deadline_ns, last if exact else deadline_ns, int(s.frames_sent), exact
        )
