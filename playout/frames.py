"""Frame production on the Trio side: render frame N+1 and publish it to the output thread.

Until the render engine lands this publishes a universe-number test pattern (each universe's
first two slots carry its number, the third a frame counter) so that outputs and the web
preview have something real and changing to show. Publishing aims at the middle of the
native clock's period, so Python's wake-up jitter (1 ms typical, 40 ms in a GC pause) has
half a period of margin before the output thread repeats a frame.
"""

from __future__ import annotations

import time

import numpy as np
import trio

from trocadero.native.clock import FrameClock

from .logs import get_logger

UNIVERSE_SLOTS = 512


def universe_number_pattern(universes: int) -> np.ndarray:
    """Frame buffer where universe u's slots 0 and 1 hold u (big-endian)."""
    frame = np.zeros((universes, UNIVERSE_SLOTS), dtype=np.uint8)
    numbers = np.arange(1, universes + 1, dtype=np.uint16)
    frame[:, 0] = numbers >> 8
    frame[:, 1] = numbers & 0xFF
    return frame


async def serve_frame_producer(
    clock: FrameClock,
    universes: int,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    log = get_logger("render")
    frame = universe_number_pattern(universes)
    period_ns = round(1e9 / clock.rate_hz)
    counter = 0
    clock.publish(frame)
    task_status.started()
    log.info("frame producer started", universes=universes, frame_bytes=frame.nbytes)
    while True:
        counter = (counter + 1) & 0xFF
        frame[:, 2] = counter
        clock.publish(frame)
        # Next publish: half a period before the output thread's next deadline.
        last_sent = clock.stats().last_frame_ns
        now = time.monotonic_ns()
        if last_sent:
            target = last_sent + period_ns + period_ns // 2
            while target - now < period_ns // 4:
                target += period_ns
        else:
            target = now + period_ns
        await trio.sleep((target - now) / 1e9)
