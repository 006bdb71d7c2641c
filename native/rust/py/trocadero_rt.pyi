"""Native real-time output for Trocadero (Rust frame clock and network outputs, see
native/rust/core)."""

from collections.abc import Sequence
from typing import Literal, final

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Buffer

__all__ = [
    "BUILD_INFO",
    "BUILD_PROFILE",
    "ClockStats",
    "FrameClock",
    "OutputStats",
    "__version__",
]

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

    def set_emergency_overlay(
        self, frame: bytes | bytearray | memoryview, ranges: list[tuple[int, int]]
    ) -> None:
        """While latched, `frame` replaces the published frame in the (start, end) ranges."""

    def set_emergency_input(self, path: str | None, active_low: bool = False) -> None:
        """File or sysfs GPIO value read by the output thread at every deadline."""

    def engage_emergency(self) -> None: ...
    def release_emergency(self) -> bool:
        """False (still latched) while the input asserts."""

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

    def add_output(
        self,
        *,
        protocol: Literal["sacn", "artnet", "ddp"] | str,
        universes: Sequence[tuple[int, int]],
        cid: bytes,
        destinations: Sequence[str] = ...,
        bind_address: str | None = None,
        interface: str | None = None,
        multicast_ttl: int = 1,
        broadcast: bool = False,
        priority: int = 100,
        source_name: str = "Trocadero",
        sync_address: int = 0,
        rate_hz: float | None = None,
        send_on_change: bool = False,
        keepalive_s: float = 1.0,
        pace_every: int = 0,
        pace_us: int = 0,
        slots: int = 512,
    ) -> int:
        """Add a network output sent by the output thread; returns its id. Only before start().

        ``universes``: ``(frame universe index, wire)`` pairs; frame universe ``i`` is
        ``frame[i*512 : i*512 + slots]``. ``wire`` is the sACN universe (1..63999), the Art-Net
        15-bit Port-Address (Net << 8 | Sub-Net << 4 | Universe), or for DDP the byte offset of
        that universe's ``slots`` bytes in the device buffer (e.g. ``i * 510`` with
        ``slots=510``; contiguous runs are cut into 1440-byte packets, push on the last).

        ``destinations``: ``"a.b.c.d"`` or ``"a.b.c.d:port"`` (default ports 5568 / 6454 /
        4048); every universe goes to each. Empty with ``sacn``: multicast 239.255.hi.lo:5568.
        Empty with ``artnet`` and ``broadcast=True``: 255.255.255.255:6454.
        ``bind_address``: local source address (a missing one makes the output fail and
        retry, not this call); ``interface``: SO_BINDTODEVICE (or IP_UNICAST_IF), a missing
        interface is retried every second. ``cid``: 16 bytes, stable across restarts (sACN).
        ``sync_address``: sACN sync universe (0 = none); for ``artnet`` non-zero sends ArtSync
        after each frame; must be 0 for ``ddp``. ``rate_hz``: send at most this rate, on the
        clock's schedule. ``send_on_change``: resend unchanged universes only every
        ``keepalive_s`` (after 3 repeats of a change). ``pace_every``/``pace_us``: pause
        between bursts for slow receivers. ``slots``: slots per universe (1..512).

        Raises ValueError naming the argument for anything invalid, OSError if the socket
        cannot be set up, RuntimeError after start().
        """

    def add_serial_output(
        self,
        *,
        device: str,
        universe_index: int,
        kind: Literal["enttec-pro"] = "enttec-pro",
        rate_hz: float | None = None,
    ) -> int:
        """Add an Enttec DMX USB Pro output written by the output thread; returns its id
        (shared with ``add_output``). Only before start().

        Each frame, frame universe ``universe_index`` (``frame[i*512 : i*512 + 512]``) goes to
        ``device`` as one label-6 message (0x7E, 6, 0x01, 0x02, start code 0, 512 slots,
        0xE7). The device is opened non-blocking in raw mode; a full buffer drops the frame
        (``drops``), an error (unplugged: EIO/ENXIO/ENODEV/ENOENT) makes the output failing
        and it is reopened once a second. A device missing now is not an error of this call.
        ``output_stats(id).packets_sent`` counts messages written.

        Raises ValueError naming the argument for anything invalid, RuntimeError after start().
        """

    def output_stats(self, output_id: int) -> OutputStats:
        """Counters and health of an output (ValueError for an unknown id)."""

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
    def thread_cpu_ns(self) -> int:
        """CPU time the output thread has used (sinks included), updated every frame."""

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
    @property
    def emergency_latched(self) -> bool: ...
    @property
    def emergency_input_asserted(self) -> bool: ...
    @property
    def emergency_engagements(self) -> int: ...
    @property
    def emergency_frames_sent(self) -> int: ...
    @property
    def emergency_latched_at_ns(self) -> int:
        """CLOCK_MONOTONIC of the last engagement, 0 if never."""

    @property
    def emergency_input_errors(self) -> int: ...
    @property
    def emergency_input_error(self) -> str | None: ...
    @property
    def emergency_covered_bytes(self) -> int: ...

@final
class OutputStats:
    """Immutable snapshot from ``FrameClock.output_stats()``."""

    @property
    def output_id(self) -> int: ...
    @property
    def protocol(self) -> Literal["sacn", "artnet", "ddp", "enttec-pro"]: ...
    @property
    def universes(self) -> int: ...
    @property
    def packets_per_frame(self) -> int:
        """Datagrams of a full frame (data to every destination, plus sync)."""

    @property
    def packets_sent(self) -> int: ...
    @property
    def bytes_sent(self) -> int:
        """UDP payload bytes of the datagrams sent."""

    @property
    def frames_sent(self) -> int:
        """Frames handled without an error or drop."""

    @property
    def frames_skipped_by_rate(self) -> int: ...
    @property
    def send_errors(self) -> int:
        """Datagrams not sent because of an error (unreachable, missing interface, ...)."""

    @property
    def drops(self) -> int:
        """Datagrams not sent because the socket buffer was full (EAGAIN)."""

    @property
    def state(self) -> Literal["healthy", "failing"]: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def last_error(self) -> str | None:
        """The most recent error text (kept after recovery)."""

    @property
    def state_changes(self) -> int:
        """Incremented on every change of state or of the error: log once per change."""
