"""The render decoupling as behaviour (issue 14): a moving look keeps advancing on the wire,
with no frame repeated, while the Trio thread is deliberately blocked — busy in Python, or
inside one C call that holds the GIL throughout. The native render plan (the default) needs
no GIL, so neither stops it; the Python render thread (`native = false`) survives the busy
loop but freezes while the GIL is held, and the old Trio-thread producer freezes in both:
the contrasts show what each design buys."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from tests.sacn_capture import Capture


@pytest.fixture
def capture() -> Iterator[Capture]:
    with Capture() as rx:
        yield rx


def daemon_config(rx: Capture, thread: bool, native: bool = False) -> str:
    # Universe 1 is the facade's first: the default look there moves every frame.
    return (
        f"[render]\nnative = {str(native).lower()}\nthread = {str(thread).lower()}\n"
        "[debug]\nfault_injection = true\n"
        f'[[outputs]]\nname = "probe"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{rx.port}"]\n' + AUTH_UNLIMITED
    )


def repeats_while_blocked(
    d: Daemon, rx: Capture, seconds: float, *, hold_gil: bool = False
) -> tuple[int, int]:
    """(frames, frames identical to the one before) on universe 1 while the Trio thread
    is blocked in /debug/fault/block-python (spinning, or in a C call holding the GIL)."""
    gil = "&gil=hold" if hold_gil else ""

    def block() -> None:
        d.post(f"/debug/fault/block-python?seconds={seconds}{gil}", timeout=seconds + 10)

    blocker = threading.Thread(target=block)
    blocker.start()
    time.sleep(0.2)  # the Trio thread is spinning now
    t0 = time.time_ns()
    time.sleep(seconds - 0.4)
    t1 = time.time_ns()
    blocker.join()
    frames = [p.slots for p in rx.packets if p.universe == 1 and t0 <= p.rx_ns < t1]
    same = sum(1 for a, b in itertools.pairwise(frames) if a == b)
    return len(frames), same


def longest_freeze_while_blocked(d: Daemon, rx: Capture, seconds: float) -> int:
    """The longest run of frames on universe 1 identical to the one before, around a block
    of the Trio thread for `seconds` (wherever in the call the block really began: a loaded
    machine may start it late)."""
    t0 = time.time_ns()
    d.post(f"/debug/fault/block-python?seconds={seconds}", timeout=seconds + 10)
    t1 = time.time_ns()
    frames = [p.slots for p in rx.packets if p.universe == 1 and t0 <= p.rx_ns < t1]
    longest = run = 0
    for a, b in itertools.pairwise(frames):
        run = run + 1 if a == b else 0
        longest = max(longest, run)
    return longest


def assert_moving(rx: Capture) -> None:
    calm = [p.slots for p in rx.packets if p.universe == 1][-40:]
    assert len(calm) == 40
    assert sum(1 for a, b in itertools.pairwise(calm) if a == b) == 0, (
        "universe 1 does not move every frame: the test would prove nothing"
    )


def test_the_native_render_plan_goes_on_while_the_gil_is_held(
    tmp_path: Path, capture: Capture
) -> None:
    """The default: no Python in the per-frame path at all."""
    with running_daemon(tmp_path, daemon_config(capture, thread=True, native=True)) as d:
        health = d.wait_healthy()
        assert health["render"]["native"] is True
        time.sleep(1.0)
        assert_moving(capture)
        before = d.health()
        for hold_gil in (True, False):
            frames, same = repeats_while_blocked(d, capture, 2.0, hold_gil=hold_gil)
            assert frames >= 40  # 1.6 s at 44 Hz: the wire went on
            assert same == 0, (
                f"{same} of {frames} frames repeated while Python was blocked"
                f" ({'holding the GIL' if hold_gil else 'busy'})"
            )
        after = d.health()
        # Neither the output thread nor the render thread saw a deadline without a frame.
        assert after["clock"]["late_renders"] == before["clock"]["late_renders"]
        late = after["render"]["late_renders"]["total"] - before["render"]["late_renders"]["total"]
        assert late == 0
        assert d.stop()[0] == 0


def test_the_python_render_thread_goes_on_while_python_is_busy(
    tmp_path: Path, capture: Capture
) -> None:
    with running_daemon(tmp_path, daemon_config(capture, thread=True)) as d:
        health = d.wait_healthy()
        assert health["render"]["thread"] is True
        assert health["render"]["native"] is False
        time.sleep(1.0)
        assert_moving(capture)
        frames, same = repeats_while_blocked(d, capture, 2.0)
        assert frames >= 40  # 1.6 s at 44 Hz: the wire went on
        assert same == 0, f"{same} of {frames} frames repeated while Python was blocked"
        # ...but it needs the GIL for every frame: held, the wire repeats its last frame.
        frames, same = repeats_while_blocked(d, capture, 2.0, hold_gil=True)
        assert frames >= 40
        assert same >= frames - 3
        assert d.stop()[0] == 0


def test_the_trio_thread_producer_freezes_meanwhile(tmp_path: Path, capture: Capture) -> None:
    # The contrast: the same block on the old producer repeats (nearly) every frame.
    with running_daemon(tmp_path, daemon_config(capture, thread=False)) as d:
        assert d.wait_healthy()["render"]["thread"] is False
        time.sleep(1.0)
        # 2 s of a 44 Hz clock with nothing new rendered: the same frame ~88 times over.
        assert longest_freeze_while_blocked(d, capture, 2.0) >= 70
        assert d.stop()[0] == 0
