"""Open DMX (plain FTDI, no microcontroller) output: the host makes the DMX timing.

Each Open DMX output runs its own OS thread (not the native output thread, not Trio): on an
absolute schedule at ``rate_hz`` (≤ 44) it raises the line break with ``break_condition``
(TIOCSBRK; ``send_break()`` would hold it 0.25 to 0.5 s), waits ``break_us``, releases it, waits
``mab_us``, writes start code + 512 slots at 250 kbaud 8N2 and ``flush()``es (tcdrain), so the
next break never cuts a frame short. Python's sleeps overshoot by tens of µs; only the minimums
(break ≥ 92 µs, MAB ≥ 12 µs) matter, so that errs on the safe side. A stalled thread (GC pause)
stretches the gap between frames, which DMX tolerates up to ~1 s.

The frame producer hands each rendered frame to `OpenDmxOutput.publish_frame` (or the slots to
`LatestSlots.update`): a lock around a 512-byte copy, never on the native output thread's path.
The serial thread takes a copy of the newest slots for every frame.

Errors (device unplugged or missing: OSError / SerialException) close the port, mark the
output failing with the error text, and it is opened again once a second; each state change
is logged once. Some ttys refuse TIOCSBRK (the ioctl raises OSError): that is counted in
``break_errors`` and the frame is still written (a real FTDI port accepts it; a pty does).
"""

from __future__ import annotations

import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from trocadero.config.outputs import OPEN_DMX_MAX_RATE_HZ, OutputConfig
from trocadero.core.patch import UNIVERSE_BYTES, CompiledPatch
from trocadero.protocols.enttec import (
    OPEN_DMX_BAUDRATE,
    OpenDmxTiming,
    open_dmx_frame,
)

from .logs import get_logger

log = get_logger("outputs")

DEFAULT_RATE_HZ = 40.0
RETRY_S = 1.0
# pyserial raises SerialException, OSError, or (from tcdrain/tcsetattr) termios.error.
DEVICE_ERRORS = (OSError, serial.SerialException, termios.error)


class SerialPort(Protocol):
    """What the thread uses of `serial.Serial` (a fake can stand in for tests)."""

    break_condition: bool

    def write(self, data: bytes, /) -> int | None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def open_serial(device: str) -> SerialPort:
    """The port at 250 kbaud 8N2, as the Open DMX line needs."""
    port: SerialPort = serial.Serial(
        device,
        OPEN_DMX_BAUDRATE,
        bytesize=serial.EIGHTBITS,
        parity=serial.PARITY_NONE,
        stopbits=serial.STOPBITS_TWO,
        write_timeout=1.0,
    )
    return port


class LatestSlots:
    """Thread-safe holder of the newest 512 slots: the producer updates, the thread copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots = bytearray(UNIVERSE_BYTES)
        # Nothing goes out before the first rendered frame: a receiver holds its last look
        # through a missing signal, but would flash to black on 512 zero slots.
        self.ready = threading.Event()

    def update(self, slots: bytes | bytearray | memoryview) -> None:
        """Store `slots` (up to 512 bytes; shorter leaves the rest zero)."""
        n = min(len(slots), UNIVERSE_BYTES)
        with self._lock:
            self._slots[:n] = slots[:n]
            if n < UNIVERSE_BYTES:
                self._slots[n:] = bytes(UNIVERSE_BYTES - n)
        self.ready.set()

    def snapshot(self) -> bytes:
        with self._lock:
            return bytes(self._slots)


@dataclass(frozen=True, slots=True)
class OpenDmxStats:
    state: str  # "healthy" | "failing"
    last_error: str | None
    state_changes: int
    frames_sent: int
    bytes_sent: int
    send_errors: int
    break_errors: int
    late_frames: int

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"


class OpenDmxOutput:
    """One Open DMX universe on its own thread; `start()` / `stop()` (joins)."""

    def __init__(
        self,
        device: str,
        *,
        name: str = "open-dmx",
        frame_index: int = 0,
        timing: OpenDmxTiming | None = None,
        retry_s: float = RETRY_S,
        opener: Callable[[str], SerialPort] = open_serial,
    ) -> None:
        self.device = device
        self.name = name
        self.frame_index = frame_index
        self.timing = timing or OpenDmxTiming(rate_hz=DEFAULT_RATE_HZ)
        self.slots = LatestSlots()
        self._retry_s = retry_s
        self._opener = opener
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the counters below for stats()
        self._failing = False
        self._last_error: str | None = None
        self._state_changes = 0
        self._frames_sent = 0
        self._bytes_sent = 0
        self._send_errors = 0
        self._break_errors = 0
        self._late_frames = 0

    def publish_frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Take this output's universe out of a whole rendered frame (frame producer side)."""
        start = self.frame_index * UNIVERSE_BYTES
        self.slots.update(memoryview(frame)[start : start + UNIVERSE_BYTES])

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("open-dmx output already started")
        self._thread = threading.Thread(
            target=self._run, name=f"opendmx-{self.name}"[:15], daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stats(self) -> OpenDmxStats:
        with self._lock:
            return OpenDmxStats(
                state="failing" if self._failing else "healthy",
                last_error=self._last_error,
                state_changes=self._state_changes,
                frames_sent=self._frames_sent,
                bytes_sent=self._bytes_sent,
                send_errors=self._send_errors,
                break_errors=self._break_errors,
                late_frames=self._late_frames,
            )

    def _set_state(self, error: str | None) -> None:
        with self._lock:
            failing = error is not None
            if failing == self._failing and (not failing or error == self._last_error):
                return
            self._failing = failing
            if error is not None:
                self._last_error = error
            self._state_changes += 1
        if error is None:
            log.info("output healthy", output=self.name, device=self.device)
        else:
            log.error("output failing; retrying", output=self.name, error=error)

    def _open(self) -> SerialPort | None:
        try:
            port = self._opener(self.device)
        except DEVICE_ERRORS as exc:
            with self._lock:
                self._send_errors += 1
            self._set_state(f"open {self.device} failed: {exc}; retrying every second")
            return None
        return port

    def _frame(self, port: SerialPort) -> None:
        """Break, MAB, start code + slots, drain. Raises on a device error."""
        timing = self.timing
        try:
            port.break_condition = True
            time.sleep(timing.break_us / 1e6)
            port.break_condition = False
        except OSError:
            # The tty refused TIOCSBRK/TIOCCBRK: count it and still send the slots.
            with self._lock:
                self._break_errors += 1
        time.sleep(timing.mab_us / 1e6)
        data = open_dmx_frame(self.slots.snapshot())
        port.write(data)
        port.flush()
        with self._lock:
            self._frames_sent += 1
            self._bytes_sent += len(data)

    def _run(self) -> None:
        period = self.timing.period_us / 1e6
        port: SerialPort | None = None
        next_open = 0.0
        epoch = time.monotonic()
        n = 0
        try:
            while not self.slots.ready.is_set():
                if self._stop.wait(period):
                    return
            epoch = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if port is None and now >= next_open:
                    port = self._open()
                    next_open = now + self._retry_s
                if port is not None:
                    try:
                        self._frame(port)
                    except DEVICE_ERRORS as exc:
                        with self._lock:
                            self._send_errors += 1
                        self._set_state(
                            f"write to {self.device} failed: {exc}; retrying every second"
                        )
                        _close(port)
                        port = None
                        next_open = time.monotonic() + self._retry_s
                    else:
                        self._set_state(None)
                # Absolute schedule: frame n at epoch + n·period; a late thread skips ahead
                # instead of bursting.
                n += 1
                now = time.monotonic()
                target = epoch + n * period
                if now > target + period:
                    skipped = int((now - target) / period)
                    with self._lock:
                        self._late_frames += skipped
                    n += skipped
                    target = epoch + n * period
                self._stop.wait(max(0.0, target - time.monotonic()))
        finally:
            if port is not None:
                _close(port)


def _close(port: SerialPort) -> None:
    try:
        port.close()
    except DEVICE_ERRORS:
        pass


def start_open_dmx_outputs(
    outputs: Sequence[OutputConfig], patch: CompiledPatch
) -> list[OpenDmxOutput]:
    """Start one thread per enabled ``open-dmx`` output whose universe is in the show.

    The caller feeds every rendered frame to each output's `publish_frame` and calls `stop()`
    on shutdown. Validation (`OutputConfig.validate`) has already run.
    """
    started: list[OpenDmxOutput] = []
    for cfg in outputs:
        if not cfg.enabled or cfg.protocol != "open-dmx":
            continue
        (universe,) = cfg.universe_list
        index = patch.universe_index.get(universe)
        if index is None:
            log.warning("output has no universe of the show; not sent", output=cfg.name)
            continue
        rate = min(cfg.rate_hz or DEFAULT_RATE_HZ, OPEN_DMX_MAX_RATE_HZ)
        out = OpenDmxOutput(
            cfg.device, name=cfg.name, frame_index=index, timing=OpenDmxTiming(rate_hz=rate)
        )
        out.start()
        started.append(out)
        log.info("output configured", output=cfg.name, protocol="open-dmx", device=cfg.device)
    return started


def open_dmx_health(outputs: Sequence[OpenDmxOutput]) -> list[Mapping[str, Any]]:
    """Same shape as `playout.outputs.output_health` entries, for /healthz."""
    out: list[Mapping[str, Any]] = []
    for o in outputs:
        s = o.stats()
        out.append(
            {
                "name": o.name,
                "protocol": "open-dmx",
                "universes": 1,
                "state": s.state,
                "last_error": s.last_error,
                "packets_sent": s.frames_sent,
                "frames_sent": s.frames_sent,
                "send_errors": s.send_errors,
                "drops": 0,
            }
        )
    return out
