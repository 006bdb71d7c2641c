"""Native real-time output for Trocadero (Rust frame clock and network outputs, see
native/rust/core)."""

from collections.abc import Sequence
from typing import Any, Literal, final

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Buffer

__all__ = [
    "BUILD_INFO",
    "BUILD_PROFILE",
    "ClockStats",
    "FrameClock",
    "OutputStats",
    "PanicException",
    "__version__",
    # MDVR protocol (section at the end)
    "MDVR_DEFAULT_MAX_PAYLOAD",
    "MDVR_MAX_PAYLOAD_LIMIT",
    "MDVR_SCHEMA",
    "MdvrMediaDecoder",
    "MdvrSchema",
    "MdvrSignalingDecoder",
    "mdvr_build_bare",
    "mdvr_build_c100",
    "mdvr_build_c100_alarm",
    "mdvr_build_c100_no_file",
    "mdvr_build_c100_registration",
    "mdvr_build_c100_status",
    "mdvr_build_c150",
    "mdvr_build_c505",
    "mdvr_build_c508",
    "mdvr_build_c517",
    "mdvr_build_c702",
    "mdvr_build_frame",
    "mdvr_build_media_feedback",
    "mdvr_build_media_packet",
    # the native render plan (section at the end)
    "FULL_LEVEL",
    "NativeRenderer",
    "RenderSlot",
]

__version__: str
BUILD_PROFILE: str
"""``"release"`` or ``"debug"`` (Rust debug assertions)."""
BUILD_INFO: str
"""E.g. ``"rustc-profile=release opt-level=3 target=x86_64-unknown-linux-gnu"``."""

class PanicException(BaseException):
    """A Rust panic inside a native call (pyo3's; a BaseException, not an Exception)."""

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
    def lateness_histogram(self, bounds_ns: list[int]) -> tuple[list[int], int, int]:
        """Samples at or below each bound (ns, ascending), their count and estimated sum."""

    def set_stalled(self, stalled: bool) -> None:
        """Fault injection: while stalled the clock keeps time but sends nothing."""

    def set_emergency_overlay(
        self, frame: Buffer | NDArray[np.uint8], ranges: Sequence[tuple[int, int]]
    ) -> None:
        """Install (or replace) the emergency frame, before or after start().

        While latched, every frame sent is the published frame with ``frame`` (exactly
        ``frame_bytes`` bytes, C-contiguous) copied over the ``(start, end)`` byte ranges (any
        order, overlaps merged); outside them the published frame keeps going out. ValueError
        on a wrong length or a range that is not ``0 <= start < end <= frame_bytes``.
        """

    def set_emergency_input(self, path: str | None, active_low: bool = False) -> None:
        """File or sysfs GPIO ``value`` the output thread reads at every deadline (None: none).

        Asserted when its first non-whitespace byte is ``1`` (inverted by ``active_low``);
        asserted latches the emergency. A missing or unreadable file is not asserted (counted
        in ``emergency_input_errors``).
        """

    def engage_emergency(self) -> None:
        """Latch the emergency (idempotent); the output thread applies it on its next frame."""

    def release_emergency(self) -> bool:
        """Clear the latch; False (still latched) if the input asserts (read by this call)."""

    def enable_wire_gate(self, standby_offset: int) -> None:
        """Hot standby: lead only while a lease is set; otherwise withhold Art-Net, DDP and
        DMX and send sACN at priority − ``standby_offset`` (0..200, else ValueError)."""

    def set_lease_until(self, until_ns: int) -> None:
        """Lead until CLOCK_MONOTONIC ``until_ns`` (0: stand by from the next deadline)."""

    def request_stream_terminated(self) -> None:
        """Three Stream_Terminated packets per sACN universe at the next deadline."""

    def wire_gate(self) -> tuple[bool, bool, int, int, int]:
        """(enabled, leading, lease_until_ns, withheld_frames, terminated_rounds)."""

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

    def add_opendmx_output(
        self,
        *,
        device: str,
        universe_index: int,
        rate_hz: float = 40.0,
        break_us: int = 110,
        mab_us: int = 16,
    ) -> int:
        """Add an Open DMX (plain FTDI) output; returns its id (shared with ``add_output``).
        Only before start().

        The output thread hands frame universe ``universe_index`` of every frame it sends
        (with the emergency overlay applied) to a native writer thread, which on its own
        absolute schedule at ``rate_hz`` (1..44) raises the break for ``break_us`` (>= 92),
        waits ``mab_us`` (>= 12) and writes start code 0 + 512 slots at 250 kbaud 8N2, then
        waits for the tty to drain. Nothing is sent before the first published (or emergency)
        frame. A refused break is counted in ``break_errors``; an error makes the output
        failing and it is reopened once a second. No Python runs on this path.

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
    def emergency_input_asserted(self) -> bool:
        """The input read asserted at the output thread's last deadline."""

    @property
    def emergency_engagements(self) -> int:
        """Transitions to latched."""

    @property
    def emergency_frames_sent(self) -> int:
        """Frames sent with the overlay applied."""

    @property
    def emergency_latched_at_ns(self) -> int:
        """CLOCK_MONOTONIC of the last engagement, 0 if never."""

    @property
    def emergency_input_errors(self) -> int:
        """Reads of the input that failed (missing or unreadable file: not asserted)."""

    @property
    def emergency_input_error(self) -> str | None:
        """The most recent such failure (kept after the input reads again)."""

    @property
    def emergency_covered_bytes(self) -> int:
        """Bytes the installed overlay replaces (0: none installed)."""

@final
class OutputStats:
    """Immutable snapshot from ``FrameClock.output_stats()``."""

    @property
    def output_id(self) -> int: ...
    @property
    def protocol(self) -> Literal["sacn", "artnet", "ddp", "enttec-pro", "open-dmx"]: ...
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

    @property
    def break_errors(self) -> int:
        """Open DMX only (0 otherwise): breaks the tty refused (the frame was still written)."""

    @property
    def late_frames(self) -> int:
        """Open DMX only (0 otherwise): DMX frames the writer skipped because it woke late."""

# ---------------------------------------------------------------------------------------------
# MDVR protocol ("$$dc" / CMSV6; native/rust/core/src/mdvr). Use it through
# trocadero.protocols.mdvr, which supplies the message dataclasses and checks them here.

MDVR_SCHEMA: dict[str, tuple[str, ...]]
"""Message class name -> the dataclass fields the decoders fill, in MdvrSchema order."""
MDVR_DEFAULT_MAX_PAYLOAD: int
"""Default cap on a media packet's payload (8 MiB)."""
MDVR_MAX_PAYLOAD_LIMIT: int
"""Largest accepted ``max_payload`` (256 MiB)."""

@final
class MdvrSchema:
    """The message dataclasses the decoders instantiate, one per ``MDVR_SCHEMA`` entry and in
    its order; ValueError if a class's name or dataclass fields differ from the entry."""

    def __new__(cls, types: Sequence[type[object]]) -> MdvrSchema: ...

@final
class MdvrSignalingDecoder:
    """Decoder of one signaling connection; see trocadero.protocols.mdvr.SignalingDecoder."""

    def __new__(cls, schema: MdvrSchema) -> MdvrSignalingDecoder: ...
    def feed(self, data: Buffer) -> list[object]:
        """The messages completed by ``data`` (bytes are borrowed, other buffers copied)."""

    @property
    def frames(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def skipped_bytes(self) -> int: ...
    @property
    def rejected_frames(self) -> int: ...
    @property
    def skipped_since_frame(self) -> int: ...
    @property
    def rejected_since_frame(self) -> int: ...
    @property
    def buffered_bytes(self) -> int: ...

@final
class MdvrMediaDecoder:
    """Decoder of one media connection; see trocadero.protocols.mdvr.MediaDecoder. Reads of
    64 KiB or more are framed, and payloads copied, with the GIL released."""

    def __new__(cls, schema: MdvrSchema, *, max_payload: int = ...) -> MdvrMediaDecoder: ...
    def feed(self, data: Buffer) -> list[object]: ...
    @property
    def frames(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def skipped_bytes(self) -> int: ...
    @property
    def rejected_frames(self) -> int: ...
    @property
    def skipped_since_frame(self) -> int: ...
    @property
    def rejected_since_frame(self) -> int: ...
    @property
    def buffered_bytes(self) -> int: ...
    @property
    def envelope(self) -> str | None:
        """Envelope of the last binary packet ("M1" / "M2"), None before the first."""

    @property
    def text_prefixed(self) -> bool | None:
        """Whether the last text frame had the ``@@`` prefix, None before the first."""

    @property
    def max_payload(self) -> int: ...

# Builders: ValueError naming the argument for anything the frame cannot carry. Times are
# "yymmdd hhmmss" (UTC); serials and ids are opaque text without "," or "#".

def mdvr_build_frame(
    *,
    serial: str,
    keyword: str,
    device_id: str,
    time: str,
    fields: Sequence[str | Buffer],
    workstation: str = "",
    raw: bytes | None = None,
) -> bytes: ...
def mdvr_build_c100(
    *,
    serial: str,
    device_id: str,
    time: str,
    src_keyword: str,
    src_time: str,
    answer_mode: int,
    content: Sequence[str],
) -> bytes: ...
def mdvr_build_c100_registration(
    *, serial: str, device_id: str, time: str, src_time: str, reason: int | None = None
) -> bytes: ...
def mdvr_build_c100_status(*, serial: str, device_id: str, time: str, src_time: str) -> bytes: ...
def mdvr_build_c100_no_file(*, serial: str, device_id: str, time: str, src_time: str) -> bytes: ...
def mdvr_build_c100_alarm(
    *, serial: str, device_id: str, time: str, src_keyword: str, src_time: str, alarm_uid: str
) -> bytes: ...
def mdvr_build_bare(
    *, keyword: Literal["C500", "C501"], serial: str, device_id: str, time: str
) -> bytes: ...
def mdvr_build_c508(
    *,
    serial: str,
    device_id: str,
    time: str,
    session_id: str,
    start: bool,
    channel: int,
    stream_type: int,
    connection_type: int,
    media_ip: str,
    media_port: int,
) -> bytes: ...
def mdvr_build_c702(
    *,
    serial: str,
    device_id: str,
    time: str,
    session_id: str,
    offset_mode: int,
    start_offset: int,
    end_offset: int,
    media_ip: str,
    media_port: int,
    file_name: str,
) -> bytes: ...
def mdvr_build_c505(
    *,
    serial: str,
    device_id: str,
    time: str,
    enable: int,
    distance: int,
    interval_s: int,
    combo_mask: int,
) -> bytes: ...
def mdvr_build_c150(
    *, serial: str, device_id: str, time: str, control: int, user: str, password: str
) -> bytes: ...
def mdvr_build_c517(
    *, serial: str, device_id: str, time: str, param_type: int, data: Buffer | str
) -> bytes: ...
def mdvr_build_media_packet(
    *, envelope: Literal["M1", "M2"], opcode: int, serial: int, time: int, payload: Buffer
) -> bytes: ...
def mdvr_build_media_feedback(
    *, envelope: Literal["M1", "M2"], serial: int, time: int, ok: bool, reason: int
) -> bytes: ...

# --- the native render plan (`trocadero_core::render`, `playout/render/native.py`) -------------

FULL_LEVEL: int
"""Full level (65535) of the 16-bit render values."""

@final
class RenderSlot:
    """Frames handed to the render thread by Python (video, live feeds, animated sources with
    no native port). The newest write wins; the thread never waits for one."""

    def __new__(cls) -> RenderSlot: ...
    def write(self, frame: bytes) -> None:
        """Hand over a frame: (h, w, 3) uint16 values as bytes (a wrong size is ignored)."""

    @property
    def writes(self) -> int: ...

@final
class NativeRenderer:
    """The native render plan and the thread that draws it without the GIL."""

    def __new__(
        cls,
        canvases: list[tuple[int, int, int, int | None, int | None]],
        source_length: int,
        src_index: bytes,
        lut_id: bytes,
        luts: bytes,
    ) -> NativeRenderer: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def source_length(self) -> int: ...
    def add_stack(
        self, id: int, canvas: int, layers: list[tuple[tuple[Any, ...], int, int, bytes]]
    ) -> None:
        """A look's stack on `canvas`: layers of (source spec, blend mode, opacity, initial
        buffer bytes); replaces a stack of the same id. ValueError names a bad layer."""

    def remove_stack(self, id: int) -> None: ...
    def set_plan(
        self, canvases: list[tuple[list[tuple[Any, ...]], int, int, bool]], grand: int
    ) -> int:
        """Per canvas (nodes, root, master, exempt) and the grand master; taken at the next
        frame. Returns the plan's number (1, 2, …; see `drawn_plan`). ValueError for a node
        that refers forward or an unknown kind or curve."""

    def drawn_plan(self) -> tuple[int, int]:
        """(number of the newest plan drawn, index of the first deadline drawn with it): the
        frame that carries a command's plan to the wire; (0, 0) before any."""

    def set_masters(self, grand: int, canvases: list[int]) -> None: ...
    def set_inputs(self, inputs: list[tuple[int, bool, bytes]]) -> None:
        """Live input universes over the frame: (byte offset, takeover, 512 slots)."""

    def render(self, t: float) -> tuple[bytes, bytes, int]:
        """Draw frame time `t` on this thread: (universes, source vector, render ns)."""

    def start(self, clock: FrameClock, *, realtime_priority: int = 0) -> None:
        """Start drawing for `clock` (already started); RuntimeError otherwise."""

    def stop(self) -> None: ...
    def poke(self) -> None:
        """The plan changed: render for the soonest deadline now."""

    @property
    def running(self) -> bool: ...
    def snapshot(self) -> tuple[float, bytes, bytes] | None:
        """The newest frame as it went out, if one was taken since the last call: (frame
        time, source vector bytes, universes bytes). Each call asks for the next one."""

    def render_histogram(self, bounds_ns: list[int]) -> tuple[list[int], int, int]:
        """Every frame's render time: samples at or below each bound (ns), count, est. sum."""

    def stats(self, period_ns: int) -> dict[str, Any]:
        """frames_rendered, late_started_late/late_too_slow/late_waited, render_ns_p50/p99/
        max, stages_ns, period_share (wake delay, CPU, waiting), last_frame_time, running,
        realtime, realtime_error, failed."""
