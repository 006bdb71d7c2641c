"""Open DMX output on the native path (a Rust writer thread fed by the output thread) against
a pseudo-terminal standing in for the FTDI port.

A pty carries the bytes but not the line: the break and MAB cannot be observed on it (a pty
accepts TIOCSBRK/TIOCCBRK and does nothing), so these tests check the 513-byte frames
(start code 0 + 512 slots), the rate, silence before the first frame, and the failing/recovery
behaviour, through the same façade and `attach_outputs` path the daemon uses.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serial_pty import read_bytes
from trocadero.config import load_default_show
from trocadero.config.outputs import OutputConfig
from trocadero.core.patch import compile_patch
from trocadero.native.clock import FrameClock
from trocadero.playout.opendmx import DEFAULT_RATE_HZ, add_open_dmx_output, open_dmx_timing
from trocadero.playout.outputs import attach_outputs, output_health

FRAME = 513
CLOCK_HZ = 44.0


def wait_for(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def config(path: str, rate_hz: float = 0.0) -> OutputConfig:
    return OutputConfig(
        name="dmx", protocol="open-dmx", universes="2", device=path, rate_hz=rate_hz
    )


@contextmanager
def running(clock: FrameClock) -> Iterator[FrameClock]:
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


def test_frames_on_a_pty_carry_start_code_and_slots(pty: tuple[int, str]) -> None:
    master, path = pty
    clock = FrameClock(CLOCK_HZ, 3 * 512)
    oid = add_open_dmx_output(clock, config(path, 40.0), 1)
    universe = bytes((i * 7 + 10) % 256 for i in range(512))  # LF, CR, XON/XOFF included
    clock.publish(bytes(512) + universe + bytes(512))
    with running(clock):
        for _ in range(5):
            assert read_bytes(master, FRAME) == b"\x00" + universe
        # The producer publishes between frames; the writer picks the newest slots up.
        clock.publish(bytes(512) + b"\x11" * 512 + bytes(512))
        wait_for(lambda: read_bytes(master, FRAME) == b"\x00" + b"\x11" * 512)
        # The writer counts a frame after it drained, so the count can trail the bytes we
        # just read by one frame: wait for it rather than race it.
        wait_for(lambda: clock.output_stats(oid).frames_sent >= 6)
        s = clock.output_stats(oid)
        assert s.protocol == "open-dmx"
        assert s.healthy
        assert s.bytes_sent == s.frames_sent * FRAME
        assert s.break_errors == 0  # a pty accepts the break ioctls (and ignores them)


def test_rate_is_kept(pty: tuple[int, str]) -> None:
    master, path = pty
    clock = FrameClock(CLOCK_HZ, 512)
    add_open_dmx_output(clock, config(path, 20.0), 0)
    clock.publish(bytes(512))
    with running(clock):
        read_bytes(master, FRAME)
        t0 = time.monotonic()
        read_bytes(master, 10 * FRAME)
        elapsed = time.monotonic() - t0
        # The writer paces to its rate: 10 frames at 20 Hz cannot arrive much under 0.5 s.
        # (Only the lower bound is behaviour; an upper bound would time the shared machine.)
        assert elapsed > 0.4


def test_unplug_fails_once_and_retries(pty: tuple[int, str]) -> None:
    master, path = pty
    clock = FrameClock(CLOCK_HZ, 512)
    oid = add_open_dmx_output(clock, config(path), 0)
    clock.publish(bytes(512))
    with running(clock):
        read_bytes(master, FRAME)
        os.close(master)  # hang-up: EIO on write, then the /dev/pts node is gone (ENOENT)
        wait_for(lambda: not clock.output_stats(oid).healthy)
        s = clock.output_stats(oid)
        assert s.last_error is not None
        assert path in s.last_error
        wait_for(lambda: clock.output_stats(oid).send_errors >= 2, timeout=5.0)  # retried
        assert clock.output_stats(oid).state_changes <= 2  # write, then open error: no flood
    assert not clock.stats().running  # stop() returned: the writer was joined


def test_nothing_is_sent_before_the_first_frame(pty: tuple[int, str]) -> None:
    """512 zero slots at start-up would flash the fixtures to black; no signal holds them."""
    master, path = pty
    clock = FrameClock(CLOCK_HZ, 512)
    oid = add_open_dmx_output(clock, config(path, 44.0), 0)
    with running(clock):
        time.sleep(0.3)  # the output thread sends its placeholder frames meanwhile
        assert clock.stats().frames_sent > 0
        assert select.select([master], [], [], 0)[0] == []
        assert clock.output_stats(oid).frames_sent == 0
        clock.publish(b"\x07" * 512)
        assert read_bytes(master, FRAME) == b"\x00" + b"\x07" * 512


def test_attach_outputs_configures_the_native_writer(pty: tuple[int, str], tmp_path: Path) -> None:
    master, path = pty
    patch = compile_patch(load_default_show())
    clock = FrameClock(CLOCK_HZ, len(patch.universe_index) * 512)
    attached = attach_outputs(clock, [config(path)], patch, tmp_path)
    assert [a.config.protocol for a in attached] == ["open-dmx"]
    frame = bytearray(clock.frame_bytes)
    at = patch.universe_index[2] * 512
    frame[at : at + 512] = b"\x05" * 512
    clock.publish(bytes(frame))
    with running(clock):
        assert read_bytes(master, FRAME) == b"\x00" + b"\x05" * 512
        (health,) = output_health(clock, attached)
        assert health["protocol"] == "open-dmx"
        assert health["universes"] == 1


def test_timing_and_native_validation() -> None:
    assert open_dmx_timing(config("/dev/x")).rate_hz == DEFAULT_RATE_HZ
    assert open_dmx_timing(config("/dev/x", 30.0)).rate_hz == 30.0
    clock = FrameClock(CLOCK_HZ, 512)
    with pytest.raises(ValueError, match="44"):
        clock.add_opendmx_output(device="/dev/null", universe_index=0, rate_hz=60.0)
    with pytest.raises(ValueError, match="break_us"):
        clock.add_opendmx_output(device="/dev/null", universe_index=0, break_us=50)
    with pytest.raises(ValueError, match="universe_index 1"):
        clock.add_opendmx_output(device="/dev/null", universe_index=1)


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
