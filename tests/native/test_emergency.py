"""The emergency latch of the native output thread, seen on the wire: a real sACN output to
127.0.0.1, every datagram decoded with the sans-IO codec.

Behaviour, not timing: "the next frame" is counted in frames sent, and the GIL test only
asks that the emergency arrived while Python was busy (kernel receive timestamps).
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import trocadero_rt

from tests.sacn_capture import SO_TIMESTAMPNS
from trocadero.native.clock import FrameClock
from trocadero.protocols import sacn

RATE_HZ = 44.0
CID = uuid.UUID("0e3c5f0a-9a51-4f55-8d43-6c1c2a7e5b90").bytes
UNIVERSE = 512
SO_RCVBUFFORCE = 33  # Linux; lets root go past net.core.rmem_max

# Three frame universes on sACN universes 1..3. The "emergency canvases": all of frame
# universe 0 and slots 100..199 of frame universe 2; universe 1 has no emergency look.
SACN_MAP = [(0, 1), (1, 2), (2, 3)]
RANGES = [(2 * UNIVERSE + 100, 2 * UNIVERSE + 200), (0, UNIVERSE)]

Packet = tuple[int, sacn.SacnData]  # (kernel receive time, CLOCK_REALTIME ns; packet)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    """A UDP socket on 127.0.0.1 that timestamps every datagram on arrival in the kernel, so
    it can be read long after (while the test thread was busy)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
            break
        except OSError:
            continue
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def received(sock: socket.socket, quiet_s: float = 0.2) -> list[Packet]:
    """Every datagram queued on `sock` (until quiet for `quiet_s`), decoded, with its kernel
    receive time."""
    got: list[Packet] = []
    sock.settimeout(quiet_s)
    while True:
        try:
            data, ancillary, _flags, _addr = sock.recvmsg(2048, socket.CMSG_SPACE(16))
        except TimeoutError:
            return got
        stamps = [
            struct.unpack("qq", cdata[:16])
            for level, kind, cdata in ancillary
            if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS)
        ]
        assert len(stamps) == 1, "no kernel receive timestamp"
        packet = sacn.decode_sacn(data)
        assert isinstance(packet, sacn.SacnData), packet
        got.append((stamps[0][0] * 1_000_000_000 + stamps[0][1], packet))


def by_universe(packets: list[Packet]) -> dict[int, list[Packet]]:
    """Data packets (not stream-terminated) per sACN universe, in arrival order: the k-th of a
    universe is from the k-th frame the output sent."""
    out: dict[int, list[Packet]] = {universe: [] for _, universe in SACN_MAP}
    for rx, p in packets:
        if not p.stream_terminated:
            out[p.universe].append((rx, p))
    return out


def universe(frame: np.ndarray, index: int) -> bytes:
    return bytes(frame[index * UNIVERSE : (index + 1) * UNIVERSE])


def composed(published: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    out = published.copy()
    for start, end in RANGES:
        out[start:end] = overlay[start:end]
    return out


def sacn_clock(rx: socket.socket, frames: int) -> tuple[FrameClock, int]:
    clock = FrameClock(RATE_HZ, frames * UNIVERSE)
    host, port = rx.getsockname()
    out = clock.add_output(
        protocol="sacn", universes=SACN_MAP[:frames], destinations=[f"{host}:{port}"], cid=CID
    )
    return clock, out


def wait_until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@contextmanager
def running(clock: FrameClock) -> Iterator[FrameClock]:
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


def test_engage_puts_the_overlay_on_the_wire_from_the_next_frame(
    receiver: socket.socket,
) -> None:
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 256, 3 * UNIVERSE, dtype=np.uint8)
    overlay = rng.integers(0, 256, 3 * UNIVERSE, dtype=np.uint8)
    emergency = composed(frame, overlay)
    clock, out = sacn_clock(receiver, 3)
    clock.set_emergency_overlay(overlay.tobytes(), RANGES)
    clock.publish(frame)

    def sent() -> int:
        return clock.output_stats(out).frames_sent

    with running(clock):
        wait_until(lambda: sent() >= 3)
        before = sent()
        clock.engage_emergency()
        after = sent()
        wait_until(lambda: sent() >= after + 4)
        stats = clock.stats()
        held = sent()
        assert clock.release_emergency()
        released = sent()
        wait_until(lambda: sent() >= released + 4)
    stats_end = clock.stats()
    frames_sent = clock.output_stats(out).frames_sent

    assert stats.emergency_latched
    assert stats.emergency_engagements == 1
    assert 0 < stats.emergency_latched_at_ns <= time.monotonic_ns()
    assert stats.emergency_covered_bytes == UNIVERSE + 100
    assert not stats_end.emergency_latched

    per_universe = by_universe(received(receiver))
    assert {u: len(p) for u, p in per_universe.items()} == {
        1: frames_sent,
        2: frames_sent,
        3: frames_sent,
    }
    # Universe 2 has no emergency look: the published data throughout.
    assert all(p.data == universe(frame, 1) for _, p in per_universe[2])
    # Universe 1 is wholly masked: it tells the emergency frames apart.
    flags = [p.data == universe(overlay, 0) for _, p in per_universe[1]]
    first = flags.index(True)
    assert before <= first <= after + 1, (before, first, after)
    assert flags[first:held] == [True] * (held - first)
    assert not any(flags[:before])
    assert not any(flags[released + 1 :])
    for k in range(frames_sent):
        expected = emergency if flags[k] else frame
        assert [p.data for p in (per_universe[u][k][1] for u in (1, 2, 3))] == [
            universe(expected, i) for i in range(3)
        ], f"frame {k}"
    assert stats_end.emergency_frames_sent == sum(flags)


def test_termination_packets_carry_the_emergency_while_latched(receiver: socket.socket) -> None:
    frame = np.full(3 * UNIVERSE, 0x11, dtype=np.uint8)
    overlay = np.full(3 * UNIVERSE, 0xEE, dtype=np.uint8)
    clock, out = sacn_clock(receiver, 3)
    clock.set_emergency_overlay(bytearray(overlay.tobytes()), RANGES)  # any buffer
    clock.engage_emergency()  # before start: the very first frame is the emergency
    clock.publish(frame)
    with running(clock):
        wait_until(lambda: clock.output_stats(out).frames_sent >= 3)
    packets = received(receiver)
    emergency = composed(frame, overlay)
    terminated = [p for _, p in packets if p.stream_terminated]
    assert len(terminated) == 3 * len(SACN_MAP)
    for p in (p for _, p in packets):
        assert p.data == universe(emergency, p.universe - 1), p.universe


def test_input_file_latches_and_release_waits_for_it(tmp_path: Path) -> None:
    alarm = tmp_path / "alarm"
    alarm.write_text("0\n")
    clock = FrameClock(200.0, 8)
    clock.set_emergency_overlay(b"\xff" * 8, [(0, 4)])
    clock.set_emergency_input(str(alarm))
    with running(clock):
        wait_until(lambda: clock.stats().frames_sent >= 3)
        assert not clock.stats().emergency_latched
        alarm.write_text("1\n")
        wait_until(lambda: clock.stats().emergency_latched)
        stats = clock.stats()
        assert stats.emergency_input_asserted
        assert stats.emergency_engagements == 1
        assert not clock.release_emergency(), "released while the input asserts"
        alarm.write_text("0\n")
        wait_until(lambda: not clock.stats().emergency_input_asserted)
        assert clock.stats().emergency_latched, "latched: stays engaged after the input clears"
        assert clock.release_emergency()
        assert not clock.stats().emergency_latched

        # Active low: "0" asserts. A missing file never does; it is counted and named.
        clock.set_emergency_input(str(alarm), active_low=True)
        wait_until(lambda: clock.stats().emergency_latched)
        alarm.unlink()
        wait_until(lambda: clock.stats().emergency_input_errors > 0)
        stats = clock.stats()
        assert not stats.emergency_input_asserted
        assert stats.emergency_input_error is not None
        assert "No such file" in stats.emergency_input_error
        assert clock.release_emergency()
        clock.set_emergency_input(None)
    assert clock.stats().emergency_engagements == 2


@pytest.mark.parametrize(
    ("frame", "ranges", "message"),
    [
        (
            bytes(7),
            [(0, 1)],
            "emergency frame has 7 bytes but the clock was configured for frame_bytes=8",
        ),
        (
            bytes(8),
            [(0, 1), (0, 9)],
            "emergency ranges[1] = (0, 9) must satisfy 0 <= start < end <= frame_bytes (8)",
        ),
        (bytes(8), [(3, 3)], "emergency ranges[0] = (3, 3)"),
        (bytes(8), [(5, 2)], "emergency ranges[0] = (5, 2)"),
        (bytes(8), [(-1, 2)], "emergency ranges[0] = (-1, 2)"),
    ],
)
def test_invalid_overlays_raise_value_error(
    frame: bytes, ranges: list[tuple[int, int]], message: str
) -> None:
    clock = FrameClock(44.0, 8)
    with pytest.raises(ValueError, match=re.escape(message)):
        clock.set_emergency_overlay(frame, ranges)
    assert clock.stats().emergency_covered_bytes == 0


def test_overlay_rejects_non_contiguous_buffers() -> None:
    clock = FrameClock(44.0, 8)
    with pytest.raises(BufferError, match="C-contiguous"):
        clock.set_emergency_overlay(np.zeros((8, 8), dtype=np.uint8)[:, :1], [(0, 1)])
    clock.set_emergency_overlay(np.zeros(8, dtype=np.uint8), [(0, 8), (2, 4)])
    assert clock.stats().emergency_covered_bytes == 8


# Runs in its own process, so the test's GIL cannot hold it up: says it is ready, waits a
# little, then replaces the input file by rename and prints when (CLOCK_REALTIME ns).
ALARM_WRITER = textwrap.dedent(
    """
    import os, sys, time
    path = sys.argv[1]
    print("ready", flush=True)
    time.sleep(0.1)
    with open(path + ".tmp", "w") as f:
        f.write("1\\n")
    written = time.time_ns()
    os.replace(path + ".tmp", path)
    print(written, flush=True)
    """
)
BUSY_S = 0.6


def test_input_engagement_reaches_the_wire_while_python_holds_the_gil(
    receiver: socket.socket, tmp_path: Path
) -> None:
    alarm = tmp_path / "alarm"
    alarm.write_text("0\n")
    frame = np.full(2 * UNIVERSE, 0x20, dtype=np.uint8)
    overlay = np.full(2 * UNIVERSE, 0xF0, dtype=np.uint8)
    clock, out = sacn_clock(receiver, 2)
    clock.set_emergency_overlay(overlay.tobytes(), [(0, UNIVERSE)])
    clock.set_emergency_input(str(alarm))
    clock.publish(frame)
    with running(clock):
        wait_until(lambda: clock.output_stats(out).frames_sent >= 3)
        with subprocess.Popen(
            [sys.executable, "-c", ALARM_WRITER, str(alarm)], stdout=subprocess.PIPE, text=True
        ) as writer:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
            # Hold the GIL: a pure-Python loop that never asks to switch threads.
            interval = sys.getswitchinterval()
            sys.setswitchinterval(100.0)
            try:
                busy_start, busy_start_mono = time.time_ns(), time.monotonic_ns()
                end = time.monotonic() + BUSY_S
                while time.monotonic() < end:
                    pass
                busy_end, busy_end_mono = time.time_ns(), time.monotonic_ns()
            finally:
                sys.setswitchinterval(interval)
            written = int(writer.stdout.readline())
        stats = clock.stats()
    packets = by_universe(received(receiver))

    assert busy_start < written < busy_end, "the writer was too slow: no test (loaded machine?)"
    emergency = [rx for rx, p in packets[1] if p.data == universe(overlay, 0)]
    assert emergency, "the emergency never reached the wire"
    assert written <= emergency[0] < busy_end, "not on the wire while Python held the GIL"
    assert all(p.data == universe(frame, 0) for rx, p in packets[1] if rx < written)
    # Universe 2 has no emergency look and keeps playing.
    assert all(p.data == universe(frame, 1) for _, p in packets[2])
    # The output thread latched it itself, inside the busy window.
    assert stats.emergency_latched
    assert stats.emergency_engagements == 1
    assert busy_start_mono < stats.emergency_latched_at_ns < busy_end_mono


def test_clock_stats_exposes_the_emergency_fields() -> None:
    stats = trocadero_rt.FrameClock(44.0, 8).stats()
    assert (
        stats.emergency_latched,
        stats.emergency_input_asserted,
        stats.emergency_engagements,
        stats.emergency_frames_sent,
        stats.emergency_latched_at_ns,
        stats.emergency_input_errors,
        stats.emergency_input_error,
        stats.emergency_covered_bytes,
    ) == (False, False, 0, 0, 0, 0, None, 0)
