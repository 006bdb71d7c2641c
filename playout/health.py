"""Statistics of what the daemon holds itself (the native frame clock, the show, the event
bus, the watchdog), beside each subsystem's own `statistics()`; `daemon.HealthStatistics`
composes them all into /healthz and /metrics (`trocadero.core.statistics`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from trocadero.core.playback.ladder import Engine
from trocadero.core.statistics import counter, detail, gauge, section
from trocadero.native.clock import FrameClock

from .redis_bridge import RedisStatistics


def _lateness(q: str) -> Any:
    return gauge(metric=f"trocadero_deadline_lateness_{q}_seconds", scale=1e-6)


@dataclass(frozen=True, slots=True)
class Lateness:
    """How late the output thread woke for its deadlines (µs), over recent frames."""

    p50: float = field(metadata=_lateness("p50"))
    p99: float = field(metadata=_lateness("p99"))
    max: float = field(metadata=_lateness("max"))
    samples: int = field(metadata=gauge(metric="trocadero_deadline_lateness_samples"))


@dataclass(frozen=True, slots=True)
class ClockStatistics:
    """The native output thread's figures."""

    rate_hz: float
    running: bool
    frames_sent: int = field(metadata=counter(metric="trocadero_frames_sent_total"))
    frames_published: int = field(metadata=counter(metric="trocadero_frames_published_total"))
    last_frame_age_ms: float | None = field(
        metadata=gauge(metric="trocadero_last_frame_age_seconds", scale=1e-3)
    )
    late_renders: int = field(metadata=counter(metric="trocadero_late_renders_total"))
    missed_deadlines: int = field(metadata=counter(metric="trocadero_missed_deadlines_total"))
    lateness_us: Lateness
    realtime: bool
    realtime_error: str | None = field(metadata=detail())

    @property
    def fresh(self) -> bool:
        """A frame went out lately (within 3 periods, and at least 250 ms)."""
        limit = max(250.0, 3000.0 / self.rate_hz)
        return self.last_frame_age_ms is not None and self.last_frame_age_ms < limit


def clock_statistics(clock: FrameClock, now_ns: int | None = None) -> ClockStatistics:
    s = clock.stats()
    now_ns = time.monotonic_ns() if now_ns is None else now_ns
    age_ms = (now_ns - s.last_frame_ns) / 1e6 if s.last_frame_ns else None
    return ClockStatistics(
        rate_hz=s.rate_hz,
        running=s.running,
        frames_sent=s.frames_sent,
        frames_published=s.frames_published,
        last_frame_age_ms=None if age_ms is None else round(age_ms, 3),
        late_renders=s.late_renders,
        missed_deadlines=s.missed_deadlines,
        lateness_us=Lateness(
            s.lateness_p50_ns / 1e3,
            s.lateness_p99_ns / 1e3,
            s.lateness_max_ns / 1e3,
            s.lateness_samples,
        ),
        realtime=s.realtime,
        realtime_error=s.realtime_error,
    )


@dataclass(frozen=True, slots=True)
class EmergencyStatistics:
    """The emergency latch as the output thread holds it (it applies the overlay itself)."""

    engaged: bool  # latched: the emergency look is on the wire
    input_asserted: bool  # the emergency input file read asserted at the last deadline
    engagements: int = field(metadata=counter())
    frames_sent: int = field(metadata=counter())  # frames sent with the overlay applied
    input_errors: int = field(metadata=counter())  # unreadable input file reads
    input_error: str | None = field(metadata=detail())
    covered_bytes: int  # bytes of the frame the emergency look covers (0: no such look)


def emergency_statistics(clock: FrameClock) -> EmergencyStatistics:
    s = clock.stats()
    return EmergencyStatistics(
        engaged=s.emergency_latched,
        input_asserted=s.emergency_input_asserted,
        engagements=s.emergency_engagements,
        frames_sent=s.emergency_frames_sent,
        input_errors=s.emergency_input_errors,
        input_error=s.emergency_input_error,
        covered_bytes=s.emergency_covered_bytes,
    )


@dataclass(frozen=True, slots=True)
class PlaybackStatistics:
    """What the priority ladder holds (read on the Trio thread, where commands run)."""

    lists: int
    lists_running: int  # cue lists with a cue on stage
    overrides: int  # scripted overrides in force
    emergency: bool  # the ladder's own emergency state (the latch is `emergency.engaged`)


def playback_statistics(engine: Engine) -> PlaybackStatistics:
    running = sum(1 for pb in engine.lists.values() if pb.current is not None)
    return PlaybackStatistics(len(engine.lists), running, len(engine.overrides), engine.emergency)


@dataclass(frozen=True, slots=True)
class ShowStatistics:
    name: str = field(metadata=detail())
    source: str = field(metadata=detail())
    canvases: int
    universes: int


@dataclass(frozen=True, slots=True)
class EventsStatistics:
    subscribers: int
    published: int = field(metadata=counter())
    queued: int  # events waiting in the subscribers' queues, all together
    deepest_queue: int  # the fullest subscriber's (dropped at its capacity)
    redis: RedisStatistics | None = field(metadata=section())  # None: in-process only


@dataclass(frozen=True, slots=True)
class WatchdogStatistics:
    enabled: bool
    withheld: bool  # not petted: no frames are being produced
