"""Frame production on the Trio side: render frame N+1 and publish it to the output thread.

The producer asks the native clock for the next deadline and renders exactly for it (the
frame time `t` is that deadline's show time, so fades are exact at any rate), publishes,
then sleeps until half a period after that deadline: Python's wake-up jitter (~1 ms, up
to 40 ms in a GC pause) has half a period of margin before the output thread would have
to repeat a frame. A render that misses its deadline is not hurried: the next one targets
the next future deadline and the gap is counted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import trio
from numpy.typing import NDArray

from trocadero.config.schema import InputMasterConfig
from trocadero.core.patch import UNIVERSE_BYTES, CompiledPatch
from trocadero.native.clock import FrameClock

from .inputs import InputUniverses
from .logs import get_logger
from .opendmx import OpenDmxOutput
from .playback import PlaybackDriver
from .render.preview import Previews
from .render.renderer import Renderer, StageTimes

WINDOW = 1024  # render-time samples kept for percentiles
NUDGE_MIN_NS = 300_000  # an urgent render never aims at a deadline closer than this


class InputOverlay:
    """Live input universes (an external console) laid over the rendered universes.

    Applied to final DMX slot values after the gather, per input universe that the show
    also outputs: `htp` keeps the higher slot, `takeover` replaces the universe while the
    console is sending (an inactive input — no live source — changes nothing).
    """

    def __init__(
        self,
        inputs: InputUniverses,
        patch: CompiledPatch,
        masters: Sequence[InputMasterConfig] = (),
    ) -> None:
        self.inputs = inputs
        self.masters = tuple(masters)
        modes = {u: cfg.mode for cfg in inputs.configs for u in cfg.universes}
        self.targets = [
            (u, patch.universe_index[u] * UNIVERSE_BYTES, modes[u])
            for u in inputs.universes
            if u in patch.universe_index
        ]
        self.ignored = [u for u in inputs.universes if u not in patch.universe_index]
        self.active = 0  # universes overridden in the last frame

    def apply_masters(self, renderer: Renderer) -> None:
        """Before rendering: live master channels set their levels (8-bit → 16-bit)."""
        for m in self.masters:
            result = self.inputs.get(m.universe)
            live = result.active
            level = result.slots[m.channel - 1] * 257 if live else None
            if m.target == "grand":
                renderer.grand_master = renderer.show_grand_master if level is None else level
            else:
                canvas = renderer.canvases[m.target]
                canvas.master = canvas.show_master if level is None else level

    def apply(self, frame: NDArray[np.uint8]) -> None:
        active = 0
        for universe, offset, mode in self.targets:
            result = self.inputs.get(universe)
            if not result.active:
                continue
            active += 1
            live = np.frombuffer(result.slots, dtype=np.uint8)
            target = frame[offset : offset + UNIVERSE_BYTES]
            if mode == "takeover":
                target[:] = live
            else:
                np.maximum(target, live, out=target)
        self.active = active


@dataclass
class LateRenders:
    """Why deadlines went without a fresh frame (the output thread repeated the last one).

    `started_late`: the producer woke too late to render for them (the Trio thread was busy
    with other tasks); `too_slow`: the render itself ran past its deadline on CPU;
    `waited`: it ran past its deadline mostly *not* running (waiting for the GIL or a core)."""

    started_late: int = 0
    too_slow: int = 0
    waited: int = 0

    @property
    def total(self) -> int:
        return self.started_late + self.too_slow + self.waited


@dataclass
class RenderStats:
    frames_rendered: int = 0
    deadlines_skipped: int = 0  # deadlines Python had no fresh render for
    last: StageTimes = field(default_factory=StageTimes)
    late: LateRenders = field(default_factory=LateRenders)
    _totals: np.ndarray = field(default_factory=lambda: np.zeros(WINDOW, dtype=np.int64))
    # Per frame, over the same window: wake delay, render CPU, render wall minus CPU (ns).
    _spent: np.ndarray = field(default_factory=lambda: np.zeros((WINDOW, 3), dtype=np.int64))

    def record(self, times: StageTimes) -> None:
        self._totals[self.frames_rendered % WINDOW] = times.total
        self.frames_rendered += 1
        self.last = times

    def record_timing(self, wake_delay_ns: int, cpu_ns: int, wall_ns: int) -> None:
        """Where the frame's time went (called after `record`)."""
        self._spent[(self.frames_rendered - 1) % WINDOW] = (
            max(0, wake_delay_ns),
            cpu_ns,
            max(0, wall_ns - cpu_ns),
        )

    def period_share(self, period_ns: int) -> Mapping[str, float]:
        """Mean share of the frame period spent waking late, rendering on CPU and waiting
        while rendering (GIL or a core), over the last WINDOW frames."""
        n = min(self.frames_rendered, WINDOW)
        if n == 0:
            return {"wake_delay": 0.0, "render_cpu": 0.0, "render_waiting": 0.0}
        mean = self._spent[:n].mean(axis=0) / period_ns
        return {
            "wake_delay": round(float(mean[0]), 4),
            "render_cpu": round(float(mean[1]), 4),
            "render_waiting": round(float(mean[2]), 4),
        }

    def render_ms(self) -> Mapping[str, float]:
        n = min(self.frames_rendered, WINDOW)
        if n == 0:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0}
        window = self._totals[:n]
        p50, p99 = np.percentile(window, [50, 99])
        return {"p50": p50 / 1e6, "p99": p99 / 1e6, "max": float(window.max()) / 1e6}

    def stages_ms(self) -> Mapping[str, float]:
        t = self.last
        return {
            "sources": t.sources / 1e6,
            "composite": t.composite / 1e6,
            "masters": t.masters / 1e6,
            "planes": t.planes / 1e6,
            "gather": t.gather / 1e6,
        }


def urgent_margin(stats: RenderStats, margin: int) -> int:
    """Lead an urgent render needs: this show's p99 render time plus a little slack."""
    p99_ns = int(stats.render_ms()["p99"] * 1e6)
    return max(NUDGE_MIN_NS, min(margin, p99_ns * 5 // 4 + 150_000))


async def serve_frame_producer(
    clock: FrameClock,
    renderer: Renderer,
    previews: Previews,
    stats: RenderStats,
    overlay: InputOverlay | None = None,
    serial_threads: Sequence[OpenDmxOutput] = (),
    driver: PlaybackDriver | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    log = get_logger("render")
    period = clock.period_ns
    epoch = clock.epoch_ns
    if epoch is None:
        raise RuntimeError("the frame clock must be started before the frame producer")
    margin = period // 4  # never render for a deadline closer than this
    # After a command (GO…) the next frame is re-rendered at once, for the very next deadline
    # if a render still fits before it (the margin follows the measured render time): GO
    # reaches the wire within about a period, not 1.5.
    urgent = False
    urgent_lead = margin  # refreshed once a second from the measured render times
    last_index: int | None = None
    log.info(
        "frame producer started",
        canvases=len(renderer.canvases),
        universes=len(renderer.patch.universes),
        frame_bytes=renderer.universes.nbytes,
    )
    started = False
    planned_wake: int | None = None  # when the producer meant to wake (None: at once)
    while True:
        woke = time.monotonic_ns()
        cpu0 = time.thread_time_ns()
        if stats.frames_rendered % 64 == 0:
            urgent_lead = urgent_margin(stats, margin)
        lead = urgent_lead if urgent else margin
        target = clock.deadline_after(woke + lead)
        assert target is not None
        index, deadline = target
        frame_time = (deadline - epoch) / 1e9
        if driver is not None:
            driver.before_render(frame_time)
        if overlay is not None:
            overlay.apply_masters(renderer)
        stats.record(renderer.render(frame_time))
        if overlay is not None:
            overlay.apply(renderer.universes)
        clock.publish(renderer.universes)
        published = time.monotonic_ns()
        cpu = time.thread_time_ns() - cpu0
        stats.record_timing(
            0 if planned_wake is None else woke - planned_wake, cpu, published - woke
        )
        if published > deadline:  # the output thread sent the previous frame again
            if (published - woke) - cpu > cpu:
                stats.late.waited += 1
            else:
                stats.late.too_slow += 1
        for output in serial_threads:  # Open DMX: a 512-byte copy for its own thread
            output.publish_frame(renderer.universes.data)
        previews.maybe_update(time.monotonic(), frame_time)
        if last_index is not None and index > last_index + 1:
            stats.deadlines_skipped += index - last_index - 1
            stats.late.started_late += index - last_index - 1
        last_index = max(index, last_index or 0)
        if not started:
            started = True
            task_status.started()
        wake = deadline + period // 2
        planned_wake = wake
        urgent = False
        if driver is None:
            await trio.sleep(max(0, wake - time.monotonic_ns()) / 1e9)
            continue
        with trio.move_on_after(max(0, wake - time.monotonic_ns()) / 1e9):
            await driver.nudge.wait()
            urgent = True
            planned_wake = None  # woken on purpose: no delay to count
        driver.nudge = trio.Event()
