"""Which frame carried a command to the wire, and when it went (for the "frame" span).

Read from the native threads' own figures, from the Trio side (atomics: reading never
delays a frame): each plan handed to the render thread has a number (`set_plan`'s), and the
render thread reports the newest plan it drew and the index of the first deadline it drew it
for (`drawn_plan`); the output thread reports `last_frame_ns`, CLOCK_MONOTONIC of its last
send. The frame that carries a command is the first one drawn with its plan (or a later plan,
which carries it as well); it goes out at its deadline.
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
    def drawn_plan(self) -> tuple[int, int]: ...


class _Scene(Protocol):
    @property
    def native(self) -> _Renderer: ...
    @property
    def plan_number(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SentFrame:
    number: int  # the deadline's index since the clock started
    deadline_ns: int  # CLOCK_MONOTONIC
    sent_ns: int  # CLOCK_MONOTONIC, when the output thread handed it to the outputs
    frames_sent: int  # the output thread's count of frames sent, this one included
    exact: bool  # False: a later frame had gone out before it was looked at (sent_ns ≈)


class FrameProbe:
    def __init__(self, clock: _Clock, scene: _Scene) -> None:
        self.clock = clock
        self.scene = scene

    def plan_number(self) -> int:
        """The number of the plan handed over last (a command's, just after it)."""
        return self.scene.plan_number

    def drawn(self, plan: int) -> tuple[int, int] | None:
        """(frame number, deadline ns) of the first frame drawn with plan `plan` (or a later
        one), or None while there is none."""
        number, index = self.scene.native.drawn_plan()
        if number < plan:
            return None
        epoch = self.clock.epoch_ns
        assert epoch is not None  # the render thread runs: the clock has started
        # The deadline of that index, from the clock itself (its schedule may not be a
        # whole number of nanoseconds per period).
        period = self.clock.period_ns
        return self.clock.deadline_after(epoch + index * period - period // 2)

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
