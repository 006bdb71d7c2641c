"""Frames from the native render plan: the Rust render thread draws every frame; the Trio
side only tells it what to draw.

What runs where (issue 14: the lighting must not depend on how busy the network side is):
- the render thread (`trocadero_rt.NativeRenderer`, SCHED_FIFO just below the output
  thread) draws the plan for each deadline and publishes it, never taking the GIL: vehicles,
  browsers, scripts and garbage collection cannot delay a frame;
- this Trio task, about once a frame: the engine's clock (follows, hangs, TTLs), a new plan
  when the engine's revision moved, live masters and input universes from a console, the
  frames of layers with no native port (video, live feeds, templates) through their slots,
  preview snapshots, the Open DMX copy, and the render figures for /healthz;
- a command (GO, park, master…) hands over its plan at once and pokes the thread, which
  renders for the soonest deadline it still can: GO reaches the wire within about a period.

If this task is held up (the interpreter busy for 200 ms), the thread keeps drawing the last
plan: moving looks keep moving and running fades keep fading (their timing is in the plan);
only what needs Python waits — a follow due meanwhile, a video layer's next frame.
"""

from __future__ import annotations

import time

import numpy as np
import trio

from trocadero.native.clock import FrameClock

from .frame_probe import FrameProbe
from .frames import InputOverlay, LateRenders, RenderStats
from .logs import get_logger
from .playback import PlaybackDriver
from .render.native import NativeScene
from .render.preview import Previews
from .render.renderer import Renderer, StageTimes
from .wire_watch import follow_frames

FIRST_FRAME_TIMEOUT_S = 2.0


class NativeFeeder:
    """The Trio side of the native render: keeps the render thread's plan, masters, inputs
    and slot-fed layers current, and reads its figures back."""

    def __init__(
        self,
        scene: NativeScene,
        clock: FrameClock,
        previews: Previews,
        stats: RenderStats,
        overlay: InputOverlay | None,
        driver: PlaybackDriver | None,
    ) -> None:
        self.scene, self.clock, self.previews, self.stats = scene, clock, previews, stats
        self.overlay, self.driver = overlay, driver
        self.renderer: Renderer = scene.renderer
        self.period = clock.period_ns
        self.margin = self.period // 4
        self.revision = -1
        self.generation = -1  # of the renderer's looks (edited looks are rebuilt)
        self.masters: tuple[int, tuple[int, ...]] | None = None
        self.inputs: tuple[tuple[int, bool, bytes], ...] = ()
        self.plans_sent = 0

    def next_frame_time(self) -> float:
        """Frame time of the first deadline the render thread can still draw for."""
        target = self.clock.deadline_after(time.monotonic_ns() + self.margin)
        epoch = self.clock.epoch_ns
        assert target is not None
        assert epoch is not None
        return (target[1] - epoch) / 1e9

    def _masters(self) -> tuple[int, tuple[int, ...]]:
        """Grand and canvas masters as the renderer would apply them (engine, then any live
        console masters)."""
        r = self.renderer
        if self.driver is not None:
            self.driver.apply_masters()
        if self.overlay is not None:
            self.overlay.apply_masters(r)
        return r.grand_master, tuple(c.master for c in r.canvases.values())

    def publish_plan(self, t: float) -> None:
        """The engine's composition at `t` (fades with their timing) to the render thread."""
        grand, masters = self._masters()
        names = self.scene.canvas_names
        if self.driver is not None:
            with self.driver.lock:
                plans = self.driver.engine.compose(t, timed=True)
                self.revision = self.driver.engine.revision
                self.renderer.set_plans(plans)  # what /api and previews say is playing
        else:
            plans = {n: c.plan for n, c in self.renderer.canvases.items()}
        self.scene.set_plans(plans, grand, dict(zip(names, masters, strict=True)))
        self.masters = (grand, masters)
        self.generation = self.renderer.generation
        self.plans_sent += 1

    def command(self) -> None:
        """A command changed the engine: new plan now, and an urgent frame."""
        assert self.driver is not None
        self.publish_plan(self.driver.now())
        self.scene.native.poke()

    def step(self, *, first: bool = False) -> bool:
        """One round; False if `first` and no frame has been copied out yet."""
        t = self.next_frame_time()
        if self.driver is not None:
            with self.driver.lock:
                self.driver.engine.tick(t)
            if (self.driver.engine.revision, self.renderer.generation) != (
                self.revision,
                self.generation,
            ):
                self.publish_plan(t)
        masters = self._masters()
        if masters != self.masters:
            self.scene.set_masters(
                masters[0], dict(zip(self.scene.canvas_names, masters[1], strict=True))
            )
            self.masters = masters
        if self.overlay is not None:
            self._inputs()
        self.scene.feed(t)
        copied = self._snapshot(force=first)
        self.sync_stats()
        return copied or not first

    def _inputs(self) -> None:
        overlay = self.overlay
        assert overlay is not None
        live: list[tuple[int, bool, bytes]] = []
        for universe, offset, mode in overlay.targets:
            result = overlay.inputs.get(universe)
            if result.active:
                live.append((offset, mode == "takeover", bytes(result.slots)))
        overlay.active = len(live)
        now = tuple(live)
        if now != self.inputs:
            self.scene.native.set_inputs(list(now))
            self.inputs = now

    def _snapshot(self, force: bool = False) -> bool:
        """Previews (at their own rate) read the frames as they went out. True if a frame
        was copied."""
        if not force and time.monotonic() < self.previews.next_due:
            return False
        snap = self.scene.native.snapshot()  # also asks for the next one
        if snap is None:
            return False
        frame_time, source, universes = snap
        r = self.renderer
        r.source[:] = np.frombuffer(source, dtype=np.uint16)
        r.universes[:] = np.frombuffer(universes, dtype=np.uint8)
        self.previews.maybe_update(time.monotonic(), frame_time)
        return True

    def sync_stats(self) -> None:
        s = self.scene.native.stats(self.period)
        st = self.stats
        st.native_stats = s
        st.native_histogram = self.scene.native.render_histogram
        st.frames_rendered = int(s["frames_rendered"])
        st.late = LateRenders(
            int(s["late_started_late"]), int(s["late_too_slow"]), int(s["late_waited"])
        )
        st.last = StageTimes(*s["stages_ns"])
        st.realtime = bool(s["realtime"])
        st.realtime_error = s["realtime_error"]


async def serve_native_frames(
    clock: FrameClock,
    renderer: Renderer,
    previews: Previews,
    stats: RenderStats,
    overlay: InputOverlay | None = None,
    driver: PlaybackDriver | None = None,
    *,
    realtime_priority: int = 0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the native render thread until cancelled. Started (task_status) once its first
    frame is out; a failure of the thread ends this task with an error (the lighting is not
    a supervised subsystem)."""
    log = get_logger("render")
    scene = NativeScene(renderer)
    feeder = NativeFeeder(scene, clock, previews, stats, overlay, driver)
    try:
        feeder.publish_plan(feeder.next_frame_time())
        scene.native.snapshot()  # the first frame is copied for the previews
        scene.native.start(clock, realtime_priority=max(0, realtime_priority - 1))
        stats.thread = stats.native = True
        # Polled: the first frame comes from a native thread, which cannot set a trio.Event.
        with trio.fail_after(FIRST_FRAME_TIMEOUT_S):
            while not feeder.step(first=True):  # noqa: ASYNC110
                await trio.sleep(0.001)
        if driver is not None:
            driver.on_change = feeder.command
            follow_frames(FrameProbe(clock, scene))  # GO→wire (and "frame" spans, tracing on)
        log.info(
            "native render thread started",
            canvases=len(renderer.canvases),
            universes=len(renderer.patch.universes),
            frame_bytes=scene.native.frame_bytes,
            realtime=stats.realtime,
            realtime_error=stats.realtime_error,
            slot_fed_layers=sum(1 for _ in scene.fed_layers()),
        )
        task_status.started()
        while True:
            await trio.sleep(clock.period_ns / 1e9)
            feeder.step()
            failed = stats.native_stats and stats.native_stats.get("failed")
            if failed:
                raise RuntimeError(f"the native render thread failed: {failed}")
    finally:
        if driver is not None:
            driver.on_change = None
            follow_frames(None)
        scene.close()
