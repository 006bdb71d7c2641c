"""Frame production on the Trio side: render frame N+1 and publish it to the output thread.

The producer asks the native clock for the next deadline and renders exactly for it (the
frame time `t` is that deadline's show time, so fades are exact at any rate), publishes,
then sleeps until half a period after that deadline: Python's wake-up jitter (~1 ms, up
to 40 ms in a GC pause) has half a period of margin before the output thread would have
to repeat a frame. A render that misses its deadline is not hurried: the next one targets
the next future deadline and the gap is counted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trio
from numpy.typing import NDArray

from trocadero.config.schema import InputMasterConfig
from trocadero.core.patch import UNIVERSE_BYTES, CompiledPatch
from trocadero.core.statistics import counter, detail, gauge
from trocadero.native import kernels
from trocadero.native.clock import FrameClock

from .inputs import InputUniverses
from .logs import get_logger
from .playback import PlaybackDriver
from .render import fields
from .render.preview import Previews
from .render.renderer import Renderer, StageTimes

WINDOW = 1024  # render-time samples kept for percentiles
NUDGE_MIN_NS = 300_000  # an urgent render never aims at a deadline closer than this
GIL_SWITCH_INTERVAL_S = 0.0002  # with the render thread (see render_thread)


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
    last: StageTimes = field(default_factory=StageTimes)
    late: LateRenders = field(default_factory=LateRenders)
    thread: bool = False  # rendering in a thread of its own
    native: bool = False  # that thread is the native render plan (no GIL)
    realtime: bool = False  # that thread runs SCHED_FIFO
    realtime_error: str | None = None
    # The native render thread's own figures (`NativeRenderer.stats`), when it renders.
    native_stats: Mapping[str, object] | None = None
    # /metrics (core/metrics.py): a render time histogram observer (Python renderer, one
    # observe per frame), or the native render thread's own histogram (read at scrape time).
    observe: Callable[[float], None] | None = None
    native_histogram: Callable[[list[int]], tuple[list[int], int, int]] | None = None
    _totals: np.ndarray = field(default_factory=lambda: np.zeros(WINDOW, dtype=np.int64))
    # Per frame, over the same window: wake delay, render CPU, render wall minus CPU (ns).
    _spent: np.ndarray = field(default_factory=lambda: np.zeros((WINDOW, 3), dtype=np.int64))

    @property
    def deadlines_skipped(self) -> int:
        """Deadlines the producer woke too late to render for (the older name of
        `late.started_late`, kept in /healthz and /metrics)."""
        return self.late.started_late

    def record(self, times: StageTimes) -> None:
        self._totals[self.frames_rendered % WINDOW] = times.total
        if self.observe is not None:
            self.observe(times.total / 1e9)
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
        if self.native_stats is not None:
            share = self.native_stats["period_share"]
            assert isinstance(share, list | tuple)
            wake, cpu, waiting = (float(v) for v in share)
            return {
                "wake_delay": round(float(wake), 4),
                "render_cpu": round(float(cpu), 4),
                "render_waiting": round(float(waiting), 4),
            }
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
        if self.native_stats is not None:
            return {
                q: int(self.native_stats[f"render_ns_{q}"]) / 1e6  # type: ignore[call-overload]
                for q in ("p50", "p99", "max")
            }
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

    def statistics(self, period_ns: int) -> RenderStatistics:
        late = self.late
        return RenderStatistics(
            implementation=kernels.IMPLEMENTATION,
            source_implementation=fields.IMPLEMENTATION,
            frames_rendered=self.frames_rendered,
            deadlines_skipped=self.deadlines_skipped,
            thread=self.thread,
            native=self.native,
            realtime=self.realtime,
            realtime_error=self.realtime_error,
            late_renders=LateRenderStatistics(
                late.total, late.started_late, late.too_slow, late.waited
            ),
            period_share=PeriodShare(**self.period_share(period_ns)),
            render_ms=RenderTimes(**self.render_ms()),
            stages_ms=StageShare(**self.stages_ms()),
        )


def _late_by(cause: str) -> Any:
    return counter(metric="trocadero_late_renders_by_cause_total", labels={"cause": cause})


@dataclass(frozen=True, slots=True)
class LateRenderStatistics:
    total: int = field(metadata=counter())
    started_late: int = field(metadata=_late_by("started_late"))
    too_slow: int = field(metadata=_late_by("too_slow"))
    waited: int = field(metadata=_late_by("waited"))


@dataclass(frozen=True, slots=True)
class PeriodShare:
    """Mean share of the frame period (0 to 1) over the last frames."""

    wake_delay: float
    render_cpu: float
    render_waiting: float


def _seconds(name: str) -> Any:
    return gauge(metric=f"trocadero_render_{name}_seconds", scale=1e-3)


@dataclass(frozen=True, slots=True)
class RenderTimes:
    """Render time per frame (ms) over the last frames."""

    p50: float = field(metadata=_seconds("p50"))
    p99: float = field(metadata=_seconds("p99"))
    max: float = field(metadata=_seconds("max"))


@dataclass(frozen=True, slots=True)
class StageShare:
    """The last frame's render time per stage (ms)."""

    sources: float = field(metadata=_seconds("stage_sources"))
    composite: float = field(metadata=_seconds("stage_composite"))
    masters: float = field(metadata=_seconds("stage_masters"))
    planes: float = field(metadata=_seconds("stage_planes"))
    gather: float = field(metadata=_seconds("stage_gather"))


@dataclass(frozen=True, slots=True)
class RenderStatistics:
    implementation: str = field(metadata=detail())
    source_implementation: str = field(metadata=detail())
    frames_rendered: int = field(metadata=counter(metric="trocadero_frames_rendered_total"))
    deadlines_skipped: int = field(metadata=counter())
    thread: bool
    native: bool
    realtime: bool
    realtime_error: str | None = field(metadata=detail())
    late_renders: LateRenderStatistics
    period_share: PeriodShare
    render_ms: RenderTimes
    stages_ms: StageShare


def urgent_margin(stats: RenderStats, margin: int) -> int:
    """Lead an urgent render needs: this show's p99 render time plus a little slack."""
    p99_ns = int(stats.render_ms()["p99"] * 1e6)
    return max(NUDGE_MIN_NS, min(margin, p99_ns * 5 // 4 + 150_000))


class FrameLoop:
    """One frame at a time: pick the deadline, render for it, publish, and say when to wake.

    Shared by both producers: on the Trio thread (`serve_frame_producer(threaded=False)`),
    and in a render thread of its own (the default). `lock` is held for the whole step: the
    Trio thread takes the same lock around every change to the engine and the looks, so a
    frame never sees half a command (see `playout/playback.py`)."""

    def __init__(
        self,
        clock: FrameClock,
        renderer: Renderer,
        previews: Previews,
        stats: RenderStats,
        overlay: InputOverlay | None,
        driver: PlaybackDriver | None,
        lock: AbstractContextManager[object],
    ) -> None:
        epoch = clock.epoch_ns
        if epoch is None:
            raise RuntimeError("the frame clock must be started before the frame producer")
        self.clock, self.renderer, self.previews, self.stats = clock, renderer, previews, stats
        self.overlay, self.driver, self.lock = overlay, driver, lock
        self.epoch = epoch
        self.period = clock.period_ns
        self.margin = self.period // 4  # never render for a deadline closer than this
        # After a command (GO…) the next frame is re-rendered at once, for the very next
        # deadline if a render still fits before it (the margin follows the measured render
        # time): GO reaches the wire within about a period, not 1.5.
        self.urgent_lead = self.margin
        self.last_index: int | None = None
        self.planned_wake: int | None = None  # when the producer meant to wake (None: now)

    def step(self, urgent: bool) -> int:
        """Render and publish one frame; returns the monotonic time (ns) to wake for the next."""
        stats, renderer, overlay = self.stats, self.renderer, self.overlay
        woke = time.monotonic_ns()
        cpu0 = time.thread_time_ns()
        if stats.frames_rendered % 64 == 0:
            self.urgent_lead = urgent_margin(stats, self.margin)
        lead = self.urgent_lead if urgent else self.margin
        target = self.clock.deadline_after(woke + lead)
        assert target is not None
        index, deadline = target
        frame_time = (deadline - self.epoch) / 1e9
        with self.lock:
            if self.driver is not None:
                self.driver.before_render(frame_time)
            if overlay is not None:
                overlay.apply_masters(renderer)
            stats.record(renderer.render(frame_time))
            if overlay is not None:
                overlay.apply(renderer.universes)
            self.clock.publish(renderer.universes)
            published = time.monotonic_ns()
            self.previews.maybe_update(time.monotonic(), frame_time)
        cpu = time.thread_time_ns() - cpu0
        wake_delay = 0 if self.planned_wake is None else woke - self.planned_wake
        stats.record_timing(wake_delay, cpu, published - woke)
        if published > deadline:  # the output thread sent the previous frame again
            if (published - woke) - cpu > cpu:
                stats.late.waited += 1
            else:
                stats.late.too_slow += 1
        last = self.last_index
        if last is not None and index > last + 1:
            stats.late.started_late += index - last - 1
        self.last_index = max(index, last or 0)
        self.planned_wake = deadline + self.period // 2
        return self.planned_wake

    def woken_early(self) -> None:
        """A command woke the producer before its planned time: no delay to count."""
        self.planned_wake = None


def render_thread(
    loop: FrameLoop, wakeup: threading.Event, stop: threading.Event, realtime_priority: int = 0
) -> None:
    """The render thread's body: frames until `stop` is set.

    Why a thread (issue 14): on the Trio thread the render waits behind every other task
    ready in the same scheduler batch (2,000 vehicles made one deadline in eight go without
    a frame). Here it wakes from a kernel-level wait at its own time, whatever Trio runs.

    It still needs the GIL, and waits for it each time it has dropped it: the kernels keep it
    (`kernels.hold_gil`), the renderer copies through a kernel, not numpy, and the switch
    interval is 0.2 ms instead of 5 ms for the numpy calls that remain in layer sources
    (`./dev bench render_thread`: a 3.4 ms frame took 70 ms beside a busy Python thread with
    5 ms and dropping kernels, 5.5 ms like this). It runs SCHED_FIFO just below the output
    thread (`[clock] realtime_priority` - 1) when allowed: otherwise other processes on the
    appliance preempt it mid-frame."""
    switch_interval = sys.getswitchinterval()
    kernels.hold_gil(True)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    if realtime_priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(realtime_priority))
            loop.stats.realtime = True
        except OSError as exc:
            loop.stats.realtime_error = str(exc)
    try:
        wake = loop.step(urgent=False)
        while not stop.is_set():
            urgent = wakeup.wait(max(0, wake - time.monotonic_ns()) / 1e9)
            if stop.is_set():
                return
            if urgent:
                wakeup.clear()
                loop.woken_early()
            wake = loop.step(urgent)
    finally:
        # The thread goes back to Trio's thread cache: leave it as it was found.
        kernels.hold_gil(False)
        sys.setswitchinterval(switch_interval)
        if loop.stats.realtime:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            loop.stats.realtime = False


async def serve_frame_producer(
    clock: FrameClock,
    renderer: Renderer,
    previews: Previews,
    stats: RenderStats,
    overlay: InputOverlay | None = None,
    driver: PlaybackDriver | None = None,
    *,
    threaded: bool = True,
    realtime_priority: int = 0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Produce frames until cancelled: in a render thread (default), or on this Trio task.

    The first frame is rendered here, before `started()`: the daemon reports ready with a
    frame on the wire. A failure in the render thread is raised here (it ends the daemon:
    the frame producer is the lighting itself, not a supervised subsystem)."""
    log = get_logger("render")
    lock = driver.lock if driver is not None else contextlib.nullcontext()
    loop = FrameLoop(clock, renderer, previews, stats, overlay, driver, lock)
    log.info(
        "frame producer started",
        canvases=len(renderer.canvases),
        universes=len(renderer.patch.universes),
        frame_bytes=renderer.universes.nbytes,
        render_thread=threaded,
    )
    wake = loop.step(urgent=False)
    task_status.started()
    stats.thread = threaded
    if threaded:
        wakeup = driver.wakeup if driver is not None else threading.Event()
        stop = threading.Event()

        async def stop_when_cancelled() -> None:
            # Trio waits for a thread it cannot cancel: on shutdown the thread is told to stop
            # (it ends within a frame), so nothing renders after the clock stops.
            try:
                await trio.sleep_forever()
            finally:
                stop.set()
                wakeup.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_when_cancelled)
            await trio.to_thread.run_sync(
                render_thread,
                loop,
                wakeup,
                stop,
                max(0, realtime_priority - 1),
                limiter=trio.CapacityLimiter(1),
            )
            nursery.cancel_scope.cancel()
        return
    while True:
        if driver is None:
            await trio.sleep(max(0, wake - time.monotonic_ns()) / 1e9)
            wake = loop.step(urgent=False)
            continue
        urgent = False
        with trio.move_on_after(max(0, wake - time.monotonic_ns()) / 1e9):
            await driver.nudge.wait()
            urgent = True
            loop.woken_early()
        driver.nudge = trio.Event()
        wake = loop.step(urgent)
