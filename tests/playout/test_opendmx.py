"""Open DMX thread against a pseudo-terminal standing in for the FTDI port.

A pty carries the bytes but not the line: the break and MAB cannot be observed on it (a pty
accepts TIOCSBRK/TIOCCBRK and does nothing), so these tests check the 513-byte frames
(start code 0 + 512 slots), the rate, and the failing/recovery behaviour. The break sequence
itself is checked with a recording fake port.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from tests.serial_pty import read_bytes
from trocadero.config.outputs import OutputConfig
from trocadero.playout.opendmx import (
    LatestSlots,
    OpenDmxOutput,
    SerialPort,
    open_dmx_health,
)
from trocadero.protocols.enttec import OpenDmxTiming

FRAME = 513


def wait_for(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_frames_on_a_pty_carry_start_code_and_slots(pty: tuple[int, str]) -> None:
    master, path = pty
    out = OpenDmxOutput(path, name="t", frame_index=1, timing=OpenDmxTiming(rate_hz=40))
    universe = bytes((i * 7 + 10) % 256 for i in range(512))  # LF, CR, XON/XOFF included
    out.publish_frame(bytes(512) + universe + bytes(512))
    out.start()
    try:
        for _ in range(5):
            assert read_bytes(master, FRAME) == b"\x00" + universe
        # The producer updates between frames; the thread picks the newest slots up.
        out.slots.update(b"\x11" * 512)
        wait_for(lambda: read_bytes(master, FRAME) == b"\x00" + b"\x11" * 512)
        # The thread counts a frame after its write returns, so the count can trail the
        # bytes we just read by one frame: wait for it rather than race it.
        wait_for(lambda: out.stats().frames_sent >= 6)
        s = out.stats()
        assert s.healthy
        assert s.bytes_sent == s.frames_sent * FRAME
        assert s.break_errors == 0  # a pty accepts the break ioctls (and ignores them)
    finally:
        out.stop()


def test_rate_is_kept(pty: tuple[int, str]) -> None:
    master, path = pty
    out = OpenDmxOutput(path, timing=OpenDmxTiming(rate_hz=20))
    out.publish_frame(bytes(512))
    out.start()
    try:
        read_bytes(master, FRAME)
        t0 = time.monotonic()
        read_bytes(master, 10 * FRAME)
        elapsed = time.monotonic() - t0
        # The thread paces to its rate: 10 frames at 20 Hz cannot arrive much under 0.5 s.
        # (Only the lower bound is behaviour; an upper bound would time the shared machine.)
        assert elapsed > 0.4
    finally:
        out.stop()


def test_unplug_fails_once_and_retries(pty: tuple[int, str]) -> None:
    master, path = pty
    out = OpenDmxOutput(path, name="u", retry_s=0.1)
    out.publish_frame(bytes(512))
    out.start()
    try:
        read_bytes(master, FRAME)
        os.close(master)  # hang-up: EIO on write, then the /dev/pts node is gone (ENOENT)
        wait_for(lambda: not out.stats().healthy)
        s = out.stats()
        assert s.last_error is not None
        assert path in s.last_error
        wait_for(lambda: out.stats().send_errors >= 3)  # retried
        assert out.stats().state_changes <= 2  # write error, then open error: no flood
        health = open_dmx_health([out])
        assert health[0]["state"] == "failing"
    finally:
        out.stop()
    assert out._thread is not None
    assert not out._thread.is_alive()


def test_nothing_is_sent_before_the_first_frame() -> None:
    """512 zero slots at start-up would flash the fixtures to black; no signal holds them."""
    events: list[object] = []
    out = OpenDmxOutput(
        "/dev/fake", opener=lambda d: FakePort(events), timing=OpenDmxTiming(rate_hz=44)
    )
    out.start()
    try:
        time.sleep(0.2)
        assert events == []
        assert out.stats().frames_sent == 0
        out.publish_frame(b"\x07" * 512)
        wait_for(lambda: out.stats().frames_sent >= 1)
        writes = [e[1] for e in events if isinstance(e, tuple) and e[0] == "write"]
        assert writes[0] == b"\x00" + b"\x07" * 512
    finally:
        out.stop()


class FakePort:
    def __init__(self, log: list[object], refuse_break: bool = False) -> None:
        self.log = log
        self.refuse_break = refuse_break
        self._brk = False

    @property
    def break_condition(self) -> bool:
        return self._brk

    @break_condition.setter
    def break_condition(self, value: bool) -> None:
        if self.refuse_break:
            raise OSError(25, "Inappropriate ioctl for device")
        self._brk = value
        self.log.append(("break", value, time.monotonic()))

    def write(self, data: bytes, /) -> int:
        self.log.append(("write", data, time.monotonic()))
        return len(data)

    def flush(self) -> None:
        self.log.append(("flush",))

    def close(self) -> None:
        self.log.append(("close",))


@pytest.mark.parametrize("refuse_break", [False, True])
def test_break_mab_then_frame(refuse_break: bool) -> None:
    events: list[object] = []

    def opener(device: str) -> SerialPort:
        return FakePort(events, refuse_break)

    out = OpenDmxOutput("/dev/fake", opener=opener, timing=OpenDmxTiming(rate_hz=44))
    out.slots.update(b"\x01\x02\x03")
    out.start()
    wait_for(lambda: out.stats().frames_sent >= 3)
    out.stop()
    kinds = [e[0] for e in events if isinstance(e, tuple)]
    if refuse_break:
        assert out.stats().break_errors >= 3
        assert kinds[:3] == ["write", "flush", "write"]
    else:
        assert kinds[:4] == ["break", "break", "write", "flush"]
        on, off, write = events[0], events[1], events[2]
        assert isinstance(on, tuple)
        assert isinstance(off, tuple)
        assert isinstance(write, tuple)
        assert on[1] is True
        assert off[1] is False
        assert off[2] - on[2] >= 110e-6  # break ≥ 110 µs
        assert write[2] - off[2] >= 16e-6  # MAB ≥ 16 µs
    writes = [e for e in events if isinstance(e, tuple) and e[0] == "write"]
    assert writes[0][1] == b"\x00\x01\x02\x03" + bytes(509)
    assert events[-1] == ("close",)


def test_latest_slots_pads_and_truncates() -> None:
    h = LatestSlots()
    h.update(b"\xff" * 600)
    assert h.snapshot() == b"\xff" * 512
    h.update(b"\x01")
    assert h.snapshot() == b"\x01" + bytes(511)


def test_serial_output_config_validation() -> None:
    ok = OutputConfig(name="a", protocol="open-dmx", universes="3", device="/dev/ttyUSB0")
    assert ok.validate() == []
    pro = OutputConfig(name="b", protocol="enttec-pro", universes="1", device="/dev/ttyUSB1")
    assert pro.validate() == []
    bad = OutputConfig(name="c", protocol="enttec-pro", universes="1-2", destinations=("10.0.0.1",))
    problems = "\n".join(bad.validate())
    assert "device: enttec-pro needs a serial device path" in problems
    assert "exactly one universe" in problems
    assert "destinations: not used by serial" in problems
    fast = OutputConfig(
        name="d", protocol="open-dmx", universes="1", device="/dev/ttyUSB0", rate_hz=60.0
    )
    assert any("at most 44" in p for p in fast.validate())
    net = OutputConfig(name="e", protocol="sacn", universes="1", device="/dev/ttyUSB0")
    assert any(p.startswith("device: only for") for p in net.validate())
