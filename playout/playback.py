"""The playback engine in the daemon: built from the show, driven every frame, watched for
the emergency inputs, persisted on every change and restored at start-up."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

import trio

from trocadero.config import Config
from trocadero.config.show import ShowDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.persist import STATE_KEY, restore
from trocadero.core.playback.plan import EMERGENCY_LOOK, IDLE_LOOK, level16
from trocadero.native.clock import FrameClock

from .inputs import InputUniverses
from .logs import get_logger
from .render.renderer import Renderer

log = get_logger("playback")
INPUT_ACTOR = Actor("emergency-input", "admin", "input")


def build_engine(show: ShowDef, renderer: Renderer, config: Config) -> Engine:
    return Engine(
        tuple(renderer.canvases),
        looks={look.name: look for look in show.looks},
        cue_lists=show.cue_lists,
        idle_canvases=renderer.looks.get(IDLE_LOOK, {}).keys(),
        emergency_canvases=renderer.looks.get(EMERGENCY_LOOK, {}).keys(),
        safe_state=show.safe_state,
        debounce=config.playback.go_debounce_s,
        grand_master=show.grand_master,
        canvas_masters={c.name: c.master for c in show.canvases},
    )


class PlaybackDriver:
    """Feeds the renderer from the engine each frame; re-renders at once after a command.

    `lock` is held by the frame producer for each whole frame (engine tick, compose, render,
    publish) and by the Trio thread around every engine call and look change (`locked`,
    `LockedCalls`): with the render in a thread of its own, neither ever sees the other's
    half-done work. The Trio side holds it only for the synchronous call itself, never
    across an await."""

    def __init__(self, engine: Engine, renderer: Renderer, clock: FrameClock) -> None:
        self.engine = engine
        self.renderer = renderer
        self.clock = clock
        self.nudge = trio.Event()  # wakes the Trio-thread producer
        self.wakeup = threading.Event()  # wakes the render thread
        self.lock = threading.RLock()
        # Set by the native render (`native_frames`): hands the new plan over at once.
        self.on_change: Callable[[], None] | None = None

    def now(self) -> float:
        """The frame clock's time now (seconds since its epoch)."""
        epoch = self.clock.epoch_ns
        if epoch is None:
            raise RuntimeError("the frame clock has not started")
        return (time.monotonic_ns() - epoch) / 1e9

    def changed(self) -> bool:
        """A command changed the engine; True if the native render thread has the new plan
        already (`on_change` hands it over synchronously)."""
        handed_over = self.on_change is not None
        if self.on_change is not None:
            self.on_change()
        self.nudge.set()
        self.wakeup.set()
        return handed_over

    def before_render(self, frame_time: float) -> None:
        e = self.engine
        e.tick(frame_time)
        self.renderer.set_plans(e.compose(frame_time))
        self.apply_masters()

    def apply_masters(self) -> None:
        """The engine's grand (0 in blackout) and canvas masters onto the renderer."""
        e, r = self.engine, self.renderer
        grand = 0 if e.blackout else level16(e.grand_master)
        r.show_grand_master = r.grand_master = grand
        for name, c in r.canvases.items():
            c.show_master = c.master = level16(e.canvas_masters.get(name, 1.0))


P = ParamSpec("P")
R = TypeVar("R")


def locked(lock: AbstractContextManager[object], fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, called holding `lock`."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with lock:
            return fn(*args, **kwargs)

    return call


class LockedCalls:
    """`target` with every method call made holding `lock` (attribute reads pass through:
    the Trio thread reads flags and looks the render thread does not resize)."""

    def __init__(self, target: object, lock: AbstractContextManager[object]) -> None:
        self._target = target
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            return locked(self._lock, value)
        return value


def install_emergency(clock: FrameClock, renderer: Renderer, config: Config) -> int:
    """Give the output thread the emergency frame and the input to watch; returns the number
    of bytes it covers (0: the show has no emergency look)."""
    frame, ranges = renderer.emergency_frame()
    if ranges:
        clock.set_emergency_overlay(frame, ranges)
    path = config.emergency.input_path
    clock.set_emergency_input(path or None, config.emergency.active_low)
    return sum(hi - lo for lo, hi in ranges)


async def serve_emergency_watch(
    controller: Controller,
    clock: FrameClock,
    inputs: InputUniverses | None,
    config: Config,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Mirror an input-engaged latch into the engine (previews, UI, audit) and engage from a
    console channel. The output thread already acts on its own; this is the Python side."""
    task_status.started()
    while True:
        await trio.sleep(0.02)
        s = clock.stats()
        if s.emergency_latched and not controller.engine.emergency:
            log.warning("emergency engaged by its input", path=config.emergency.input_path)
            await controller.engage_emergency(INPUT_ACTOR)
        if console_asserted(inputs, config) and not controller.engine.emergency:
            log.warning(
                "emergency engaged by console input",
                universe=config.emergency.input_universe,
                channel=config.emergency.input_channel,
            )
            await controller.engage_emergency(INPUT_ACTOR)


def console_asserted(inputs: InputUniverses | None, config: Config) -> bool:
    """The configured sACN/Art-Net emergency channel is live and at or above its threshold
    (while it is, the emergency cannot be released)."""
    e = config.emergency
    if inputs is None or not e.input_universe:
        return False
    result = inputs.get(e.input_universe)
    return result.active and result.slots[e.input_channel - 1] >= e.input_threshold


async def serve_persistence(
    controller: Controller, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Changes made by time itself (follow/hang, TTL expiry) are saved within a frame or two;
    commands save before they reply."""
    task_status.started()
    while True:
        await trio.sleep(0.05)
        try:
            await controller.persist()
        except Exception as exc:  # storage trouble must not stop playback
            log.error("could not save the playback state", error=str(exc))
            await trio.sleep(1.0)


def restore_state(
    engine: Engine, doc: Mapping[str, Any] | None, t: float, wall: float
) -> list[str]:
    if doc is None:
        return []
    notes = restore(engine, doc, t, wall)
    log.info(
        "playback state restored",
        key=STATE_KEY,
        lists=[n for n, pb in engine.lists.items() if pb.current is not None],
        emergency=engine.emergency,
        notes=notes,
    )
    return notes
