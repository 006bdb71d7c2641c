"""Enttec DMX USB Pro output of the native output thread, read back through a pseudo-terminal.

The pty's slave path (``os.ttyname(slave)``) stands in for /dev/ttyUSB0; everything written
is read from the master side and decoded with `protocols.enttec.EnttecDecoder` (the oracle),
and the raw byte stream is checked too. Closing the master is a hang-up: writes to the slave
fail with EIO and its /dev/pts node goes away, like an unplugged FTDI (ENODEV/ENOENT).

Behaviour only: timing windows are generous (shared, loaded machines).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trocadero_rt

from tests.serial_pty import read_bytes
from trocadero.protocols.enttec import EnttecDecoder, SendDmx

RATE_HZ = 44.0
MESSAGE = 518  # 0x7E, 6, len LSB, len MSB, start code, 512 slots, 0xE7


def wait_for(pred: object, timeout: float = 3.0) -> None:
    assert callable(pred)
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_enttec_pro_byte_stream_is_exact(pty: tuple[int, str]) -> None:
    master, path = pty
    clock = trocadero_rt.FrameClock(RATE_HZ, 3 * 512)
    oid = clock.add_serial_output(device=path, universe_index=1)
    assert clock.output_stats(oid).protocol == "enttec-pro"
    # Every byte value, so LF/CR/XON/XOFF/0x7E/0xE7 would be caught if the tty were not raw.
    universe = bytes((i * 7 + 10) % 256 for i in range(512))
    frame = bytes(512) + universe + bytes(range(256)) * 2
    clock.publish(frame)
    clock.start()
    try:
        # Frames sent before our publish reached the thread carry zeros; skip to ours.
        decoder = EnttecDecoder()
        messages: list[SendDmx] = []
        deadline = time.monotonic() + 3
        while len(messages) < 5:
            assert time.monotonic() < deadline
            for m in decoder.feed(read_bytes(master, MESSAGE)):
                assert isinstance(m, SendDmx)
                if m.slots == universe:
                    messages.append(m)
        assert all(m.start_code == 0 and len(m.slots) == 512 for m in messages)
        assert decoder.dropped == 0  # the stream never tears

        raw = read_bytes(master, 3 * MESSAGE)
        expected = bytes((0x7E, 6, 0x01, 0x02, 0x00)) + universe + bytes((0xE7,))
        assert len(expected) == MESSAGE
        assert raw == expected * 3

        # The counters move after the write returns, which may be after we read its bytes.
        wait_for(lambda: clock.output_stats(oid).packets_sent >= 8)
        s = clock.output_stats(oid)
        assert s.healthy
        assert s.state == "healthy"
        assert s.bytes_sent == s.packets_sent * MESSAGE
        assert s.send_errors == 0
        assert s.last_error is None
    finally:
        clock.stop()


def test_unplug_makes_the_output_fail_while_the_clock_runs(pty: tuple[int, str]) -> None:
    master, path = pty
    clock = trocadero_rt.FrameClock(RATE_HZ, 512)
    oid = clock.add_serial_output(device=path, universe_index=0)
    clock.publish(bytes([0x55]) * 512)
    clock.start()
    try:
        assert read_bytes(master, MESSAGE)[:5] == bytes((0x7E, 6, 1, 2, 0))
        os.close(master)  # "unplug": EIO on the slave, then the /dev/pts node is gone
        wait_for(lambda: not clock.output_stats(oid).healthy)
        s = clock.output_stats(oid)
        assert s.state == "failing"
        assert s.last_error is not None
        assert path in s.last_error
        assert s.state_changes >= 1
        frames = clock.stats().frames_sent
        errors = s.send_errors
        wait_for(lambda: clock.stats().frames_sent >= frames + 10)
        s = clock.output_stats(oid)
        assert s.state == "failing"
        assert s.send_errors > errors  # every frame is counted while the device is gone
    finally:
        clock.stop()


def test_device_that_appears_later_recovers(tmp_path: Path) -> None:
    """A FIFO without a reader refuses the open with ENXIO (like a missing device); once a
    reader exists the output opens it on its once-a-second retry and becomes healthy."""
    fifo = str(tmp_path / "ttyUSB0")
    os.mkfifo(fifo)
    clock = trocadero_rt.FrameClock(RATE_HZ, 512)
    oid = clock.add_serial_output(device=fifo, universe_index=0, rate_hz=10.0)
    s = clock.output_stats(oid)
    assert s.state == "failing"
    assert s.last_error is not None
    assert "No such device or address" in s.last_error
    clock.publish(bytes([7]) * 512)
    clock.start()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        wait_for(lambda: clock.output_stats(oid).healthy, timeout=4.0)
        data = read_bytes(reader, MESSAGE)
        assert data == bytes((0x7E, 6, 1, 2, 0)) + bytes([7]) * 512 + bytes((0xE7,))
        s = clock.output_stats(oid)
        assert s.frames_skipped_by_rate > 0  # 10 Hz of a 44 Hz clock
        assert s.state_changes >= 2
    finally:
        clock.stop()
        os.close(reader)


def test_arguments_are_validated() -> None:
    clock = trocadero_rt.FrameClock(RATE_HZ, 1024)
    with pytest.raises(ValueError, match="universe_index 2"):
        clock.add_serial_output(device="/dev/null", universe_index=2)
    with pytest.raises(ValueError, match="universe_index"):
        clock.add_serial_output(device="/dev/null", universe_index=-1)
    with pytest.raises(ValueError, match="kind"):
        clock.add_serial_output(device="/dev/null", universe_index=0, kind="open-dmx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device"):
        clock.add_serial_output(device="", universe_index=0)
    with pytest.raises(ValueError, match="rate_hz"):
        clock.add_serial_output(device="/dev/null", universe_index=0, rate_hz=0.0)
    oid = clock.add_serial_output(device="/dev/null", universe_index=1)
    assert clock.output_stats(oid).healthy
    clock.start()
    try:
        with pytest.raises(RuntimeError):
            clock.add_serial_output(device="/dev/null", universe_index=0)
    finally:
        clock.stop()
