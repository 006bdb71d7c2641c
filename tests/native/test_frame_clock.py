"""The trocadero_rt binding as Python sees it (the clock's timing is tested in Rust)."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import trocadero_rt
from numpy.typing import NDArray

FRAME_BYTES = 512 * 4


def test_module_metadata() -> None:
    assert trocadero_rt.__version__
    assert trocadero_rt.BUILD_PROFILE in {"release", "debug"}
    assert "rustc-profile=" in trocadero_rt.BUILD_INFO
    assert "target=" in trocadero_rt.BUILD_INFO


def test_clock_runs_at_44_hz_and_reports_stats() -> None:
    clock = trocadero_rt.FrameClock(44, FRAME_BYTES)
    assert (clock.rate_hz, clock.frame_bytes, clock.running) == (44.0, FRAME_BYTES, False)
    clock.start()
    try:
        assert clock.stats().running
        frames: list[bytes | bytearray | memoryview | NDArray[np.uint8]] = [
            bytes(FRAME_BYTES),
            bytearray(b"\x01" * FRAME_BYTES),
            memoryview(b"\x02" * FRAME_BYTES),
            np.full(FRAME_BYTES, 3, dtype=np.uint8),
            np.zeros((512, 4), dtype=np.uint8),  # any C-contiguous shape works
        ]
        for frame in frames:
            clock.publish(frame)
        time.sleep(1.0)
        stats = clock.stats()
    finally:
        clock.stop()
    # ~44 deadlines in 1 s plus the first period; generous bounds for a loaded machine.
    assert 30 <= stats.frames_sent <= 50
    assert stats.frames_published == len(frames)
    assert stats.late_renders >= stats.frames_sent - len(frames)
    assert stats.running
    assert stats.rate_hz == 44.0
    assert stats.frame_bytes == FRAME_BYTES
    assert stats.lateness_samples >= stats.frames_sent
    assert stats.lateness_p50_ns <= stats.lateness_p99_ns <= stats.lateness_max_ns
    # CLOCK_MONOTONIC, the same clock as time.monotonic_ns() on Linux.
    age_ns = time.monotonic_ns() - stats.last_frame_ns
    assert 0 < age_ns < 5_000_000_000
    assert not stats.realtime
    assert stats.realtime_error is None
    assert not clock.stats().running
    assert not clock.running
    clock.stop()  # idempotent


def test_stall_freezes_frames_sent() -> None:
    clock = trocadero_rt.FrameClock(200.0, 4)
    clock.start()
    try:
        time.sleep(0.1)
        clock.set_stalled(True)
        time.sleep(0.05)
        frozen = clock.stats().frames_sent
        time.sleep(0.2)
        assert clock.stats().frames_sent == frozen
        clock.set_stalled(False)
        time.sleep(0.1)
        assert clock.stats().frames_sent > frozen
        clock.reset_lateness()
        assert clock.stats().lateness_samples <= 2
    finally:
        clock.stop()


def test_realtime_request_is_reported() -> None:
    clock = trocadero_rt.FrameClock(100.0, 1, realtime_priority=10)
    clock.start()
    try:
        stats = clock.stats()  # start() returns after the request: no sleep needed
    finally:
        clock.stop()
    # Granted where the process may use SCHED_FIFO, otherwise the reason is recorded.
    assert stats.realtime != (stats.realtime_error is not None)


def test_no_realtime_request_at_priority_zero() -> None:
    clock = trocadero_rt.FrameClock(100.0, 1)
    clock.start()
    try:
        stats = clock.stats()
    finally:
        clock.stop()
    assert (stats.realtime, stats.realtime_error) == (False, None)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0.0, 10), {}, "rate_hz must be between 1 and 1000 Hz (got 0.0)"),
        ((1000.5, 10), {}, "rate_hz must be between 1 and 1000 Hz"),
        ((float("nan"), 10), {}, "rate_hz must be between 1 and 1000 Hz"),
        ((44.0, 0), {}, "frame_bytes must be between 1 and"),
        ((44.0, -1), {}, "frame_bytes must be between 1 and"),
        ((44.0, 10), {"realtime_priority": 100}, "realtime_priority must be"),
        ((44.0, 10), {"realtime_priority": -1}, "realtime_priority must be"),
    ],
)
def test_invalid_arguments_raise_value_error(
    args: tuple[float, int], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        trocadero_rt.FrameClock(*args, **kwargs)


def test_publish_errors() -> None:
    clock = trocadero_rt.FrameClock(44.0, 8)
    with pytest.raises(ValueError, match=r"frame has 3 bytes .* frame_bytes=8"):
        clock.publish(b"abc")
    with pytest.raises(BufferError, match="C-contiguous"):
        clock.publish(np.zeros((8, 8), dtype=np.uint8)[:, :1])
    with pytest.raises(TypeError):
        clock.publish("not bytes")  # type: ignore[arg-type]
    assert clock.stats().frames_published == 0


def test_start_twice_raises_runtime_error() -> None:
    clock = trocadero_rt.FrameClock(44.0, 8)
    clock.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            clock.start()
    finally:
        clock.stop()
    with pytest.raises(RuntimeError, match="already started"):
        clock.start()


def test_stats_is_read_only() -> None:
    stats = trocadero_rt.FrameClock(44.0, 8).stats()
    with pytest.raises(AttributeError):
        stats.frames_sent = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        trocadero_rt.ClockStats()


def test_deadline_after_gives_the_next_absolute_deadline() -> None:
    clock = trocadero_rt.FrameClock(50.0, 4)
    assert [clock.epoch_ns] == [None]  # (a list: keeps mypy from narrowing the property)
    assert clock.deadline_after(time.monotonic_ns()) is None
    assert clock.period_ns == 20_000_000
    clock.start()
    try:
        epoch = clock.epoch_ns
        assert epoch is not None
        assert clock.deadline_after(epoch - 1) == (0, epoch)
        assert clock.deadline_after(epoch) == (1, epoch + 20_000_000)
        assert clock.deadline_after(epoch + 60_000_001) == (4, epoch + 80_000_000)
    finally:
        clock.stop()
