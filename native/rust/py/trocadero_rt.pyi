"""Native real-time output for Trocadero (Rust frame clock, see native/rust/core)."""

from typing import final

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Buffer

__all__ = ["BUILD_INFO", "BUILD_PROFILE", "ClockStats", "FrameClock", "__version__"]

__version__: str
BUILD_PROFILE: str
"""``"release"`` or ``"debug"`` (Rust debug assertions)."""
BUILD_INFO: str
"""E.g. ``"rustc-profile=release opt-level=3 target=x86_64-unknown-linux-gnu"``."""

@final
class FrameClock:
    """Native output thread sending the newest published frame at absolute deadlines.

    A late render repeats the previous frame (``late_renders``); a late wake-up skips the
    deadlines that already passed (``missed_deadlines``) instead of bursting.
    """

    def __new__(cls, rate_hz: float, frame_bytes: int, *, realtime_priority: int = 0) -> FrameClock:
        """Raise ValueError unless 1 <= rate_hz <= 1000, frame_bytes > 0 and
        realtime_priority is 0 (don't ask for SCHED_FIFO) or 1..99."""

    def start(self) -> None:
        """Start the output thread; RuntimeError if already started (a clock runs once)."""

    def stop(self) -> None:
        """Stop and join the output thread (idempotent; releases the GIL while waiting)."""

    # NDArray is spelled out because numpy declares __buffer__ only for Python >= 3.12.
    def publish(self, frame: Buffer | NDArray[np.uint8]) -> None:
        """Publish a C-contiguous bytes-like frame of exactly ``frame_bytes`` bytes.

        ValueError on a wrong length, BufferError if not C-contiguous.
        """

    def stats(self) -> ClockStats: ...
    def reset_lateness(self) -> None: ...
    def set_stalled(self, stalled: bool) -> None:
        """Fault injection: while stalled the clock keeps time but sends nothing."""

    @property
    def rate_hz(self) -> float: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def running(self) -> bool: ...
    @property
    def epoch_ns(self) -> int | None:
        """CLOCK_MONOTONIC ns of deadline 0, or None before start()."""
    @property
    def period_ns(self) -> int: ...
    def deadline_after(self, t_ns: int) -> tuple[int, int] | None:
        """The first deadline strictly after CLOCK_MONOTONIC time `t_ns`, as (index, ns)."""

@final
class ClockStats:
    """Immutable snapshot from ``FrameClock.stats()``; times in nanoseconds."""

    @property
    def frames_sent(self) -> int: ...
    @property
    def frames_published(self) -> int: ...
    @property
    def late_renders(self) -> int: ...
    @property
    def missed_deadlines(self) -> int: ...
    @property
    def last_frame_ns(self) -> int:
        """CLOCK_MONOTONIC of the last send (comparable with time.monotonic_ns()); 0 if none."""

    @property
    def lateness_p50_ns(self) -> int: ...
    @property
    def lateness_p99_ns(self) -> int: ...
    @property
    def lateness_max_ns(self) -> int: ...
    @property
    def lateness_samples(self) -> int: ...
    @property
    def realtime(self) -> bool:
        """SCHED_FIFO was requested and granted."""

    @property
    def realtime_error(self) -> str | None:
        """Why SCHED_FIFO was refused, or None."""

    @property
    def running(self) -> bool: ...
    @property
    def rate_hz(self) -> float: ...
    @property
    def frame_bytes(self) -> int: ...
