"""GO→wire: from a command's plan handed to the native render thread to the frame that
carries it sent by the output thread (`trocadero_go_to_wire_seconds`, always on).

`handed()` is called on the Trio side just after the hand-over; `run()` (a Trio task) then
looks at the native figures (`FrameProbe`, atomics: reading never delays a frame) every
millisecond, and only while some plan is pending: no polling otherwise. The queue is
bounded; a plan not seen on the wire in time is given up. Tracing's "frame" span rides on
the same watch (`Handed.on_sent` / `on_lost`) instead of a second one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from trocadero.core import tracing

from .frame_probe import SentFrame
from .logs import get_logger

__all__ = ["Handed", "WireWatch", "follow_frames", "start_wire_watch", "stop_wire_watch"]

log = get_logger("render")

# A frame not seen on the wire within this long is given up (the output stalled).
FRAME_TIMEOUT_S: Final = 2.0
POLL_S: Final = 0.001
MAX_PENDING: Final = 256


class Probe(Protocol):
    def plan_number(self) -> int: ...
    def drawn(self, plan: int) -> tuple[int, int] | None: ...
    def sent(self, number: int, deadline_ns: int) -> SentFrame | None: ...


@dataclass(slots=True)
class Handed:
    """One plan on its way to the wire."""

    handed_ns: int  # CLOCK_MONOTONIC, just before the hand-over
    plan: int  # the number of the plan that carries the command
    on_sent: Callable[[SentFrame], None] | None = None
    on_lost: Callable[[str], None] | None = None
    drawn: tuple[int, int] | None = None  # (frame number, deadline ns) once rendered

    def follow(self, on_sent: Callable[[SentFrame], None], on_lost: Callable[[str], None]) -> None:
        """Be told when its frame was sent, or that it was given up (a "frame" span)."""
        self.on_sent, self.on_lost = on_sent, on_lost

    def lost(self, why: str) -> None:
        if self.on_lost is not None:
            self.on_lost(why)


class WireWatch:
    def __init__(self, observe: Callable[[float], None]) -> None:
        self.observe = observe  # seconds, GO→wire
        self.probe: Probe | None = None  # None: no native render thread to follow
        self.pending: deque[Handed] = deque()
        self.lost = 0  # plans given up (timed out, queue full, figures unreadable)
        self._wake = trio.Event()

    def handed(self, handed_ns: int) -> Handed | None:
        """Follow the plan just handed over (None when there is no render thread)."""
        probe = self.probe
        if probe is None:
            return None
        if len(self.pending) >= MAX_PENDING:
            self._give_up(self.pending.popleft(), "too many plans pending")
        h = Handed(handed_ns, probe.plan_number())
        self.pending.append(h)
        self._wake.set()
        return h

    async def run(self) -> None:
        """Settle pending plans until cancelled. It runs in the daemon's nursery: a failure
        reading the figures gives up the pending plans, never the daemon."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self.pending:
                await trio.sleep(POLL_S)
                try:
                    self._settle(time.monotonic_ns())
                except Exception as exc:
                    log.exception("GO→wire figures unreadable", pending=len(self.pending))
                    while self.pending:
                        self._give_up(self.pending.popleft(), f"frame watch failed: {exc}")

    def _settle(self, now: int) -> None:
        probe = self.probe
        while self.pending:
            h = self.pending[0]
            if probe is None:  # the render thread stopped
                self._give_up(self.pending.popleft(), "the render thread stopped")
                continue
            if h.drawn is None:
                h.drawn = probe.drawn(h.plan)
            sent = None if h.drawn is None else probe.sent(*h.drawn)
            if sent is None:
                if now - h.handed_ns > FRAME_TIMEOUT_S * 1e9:
                    self._give_up(self.pending.popleft(), "the frame was not seen on the wire")
                    continue
                return
            self.pending.popleft()
            self.observe((sent.sent_ns - h.handed_ns) / 1e9)
            if h.on_sent is not None:
                h.on_sent(sent)

    def _give_up(self, h: Handed, why: str) -> None:
        self.lost += 1
        h.lost(why)


_watch: WireWatch | None = None


def start_wire_watch(observe: Callable[[float], None], nursery: trio.Nursery) -> WireWatch:
    """The daemon's watch, observing into `observe` (seconds), its task in `nursery`, told
    of every hand-over (`core.tracing.follow`)."""
    global _watch
    watch = WireWatch(observe)
    _watch = watch
    tracing.follow(watch)
    nursery.start_soon(watch.run)
    return watch


def stop_wire_watch() -> None:
    global _watch
    _watch = None
    tracing.follow(None)


def follow_frames(probe: Probe | None) -> None:
    """Where GO→wire and "frame" spans learn what went out (None: no native render thread
    any more)."""
    if _watch is not None:
        _watch.probe = probe
