"""The render thread as behaviour (issue 14): a moving look keeps advancing on the wire, with
no frame repeated, while the Trio thread is deliberately blocked holding the GIL — and the
same test on the old producer (`[render] thread = false`) shows the freeze it replaces."""

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


def daemon_config(rx: Capture, thread: bool) -> str:
    # Universe 1 is the facade's first: the default look there moves every frame.
    return (
        f"[render]\nthread = {str(thread).lower()}\n"
        "[debug]\nfault_injection = true\n"
        f'[[outputs]]\nname = "probe"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{rx.port}"]\n' + AUTH_UNLIMITED
    )


def repeats_while_blocked(d: Daemon, rx: Capture, seconds: float) -> tuple[int, int]:
    """(frames, frames identical to the one before) on universe 1 while the Trio thread
    spins in /debug/fault/block-python."""
    done: dict[str, int] = {}

    def block() -> None:
        done["start"] = time.time_ns()
        d.post(f"/debug/fault/block-python?seconds={seconds}", timeout=seconds + 10)

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


def test_a_moving_look_keeps_advancing_while_python_is_blocked(
    tmp_path: Path, capture: Capture
) -> None:
    with running_daemon(tmp_path, daemon_config(capture, thread=True)) as d:
        health = d.wait_healthy()
        assert health["render"]["thread"] is True
        time.sleep(1.0)
        calm = [p.slots for p in capture.packets if p.universe == 1][-40:]
        assert sum(1 for a, b in itertools.pairwise(calm) if a == b) == 0, (
            "universe 1 does not move every frame: the test would prove nothing"
        )
        frames, same = repeats_while_blocked(d, capture, 2.0)
        assert frames >= 40  # 1.6 s at 44 Hz: the wire went on
        assert same == 0, f"{same} of {frames} frames repeated while Python was blocked"
        assert d.stop()[0] == 0


def test_the_trio_thread_producer_freezes_meanwhile(tmp_path: Path, capture: Capture) -> None:
    # The contrast: the same block on the old producer repeats (nearly) every frame.
    with running_daemon(tmp_path, daemon_config(capture, thread=False)) as d:
        assert d.wait_healthy()["render"]["thread"] is False
        time.sleep(1.0)
        frames, same = repeats_while_blocked(d, capture, 2.0)
        assert frames >= 40
        assert same >= frames - 3
        assert d.stop()[0] == 0
