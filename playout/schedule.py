"""The building's schedule at run time: a Trio task that asks `core.schedule` what should
play now and applies it through the command layer (origin "schedule", audit-logged).

It evaluates at every transition (an occurrence starting or ending, or leaving the look-back
horizon), at least every `[schedule] interval_s` (a wall-clock step, an edited show), and at
once when an entry is edited. Each evaluation applies only what changed:

- looks: the schedule level shows each canvas's winning look (`Engine.set_schedule_looks`),
  fading by the entry's `fade_s` (or the configured default) — what is left of it when the
  occurrence began earlier, so a look found on at start-up is simply on;
- cue lists: a winning list is started at the schedule level from its first cue (or the
  entry's cue). An idle list is started **as of its scheduled start** (at most `catch_up_s`
  back): its follow/hang timers run from then, so a list due at 21:00 and found at 21:37 shows
  the cue it would show at 21:37. A list already playing at the schedule level moves to its
  new occurrence now. A list an operator runs (the cue-list level) is left alone; the schedule
  takes it when the operator lets it go. A scheduled list someone released stays released until
  its next occurrence. When its occurrence ends the list is released (entry fade, or the list's
  back fade);
- restart: the first evaluation runs before the first frame. What should be playing is
  derived from the look-back horizon up to now; lists restored at the schedule level are
  dropped and started afresh as of their scheduled start (or released if nothing wants them).
  Operator lists, parks, masters and the emergency, restored from the state, stay on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from trocadero.config.schema import ScheduleConfig
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.cuelist import PlaybackError
from trocadero.core.schedule.resolve import Candidate, Verdict
from trocadero.core.schedule_service import ScheduleService
from trocadero.core.statistics import counter

from .logs import get_logger

log = get_logger("schedule")
SCHEDULE_ACTOR = Actor("schedule", "admin", "schedule")
_KEY = tuple[int, str, datetime]


@dataclass(frozen=True, slots=True)
class Applied:
    key: _KEY | None  # the occurrence it plays (None: found at start-up, not started by us)
    fade: float | None


@dataclass(frozen=True, slots=True)
class ScheduleStatistics:
    """The schedule runner (/healthz `schedule`, /metrics `trocadero_schedule_*`)."""

    evaluations: int = field(metadata=counter())
    lists_applied: int  # cue lists the schedule runs now
    looks_applied: int  # canvases holding a look the schedule put there
    held: int  # lists the schedule wants that an operator is running


class ScheduleRunner:
    def __init__(
        self, controller: Controller, service: ScheduleService, config: ScheduleConfig
    ) -> None:
        self.controller = controller
        self.service = service
        self.config = config
        self.lists: dict[str, Applied] = {}
        self.looks: dict[str, tuple[_KEY, float]] = {}  # canvas → (occurrence, its fade)
        self.held: set[str] = set()  # wanted lists an operator is running
        self.verdict: Verdict | None = None
        self.wake = trio.Event()
        self.started = False
        self.evaluations = 0
        service.on_change(self.poke)

    def statistics(self) -> ScheduleStatistics:
        return ScheduleStatistics(
            self.evaluations, len(self.lists), len(self.looks), len(self.held)
        )

    def poke(self) -> None:
        self.wake.set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.controller.wall(), UTC)

    def _frame_time(self, at: datetime) -> float:
        c = self.controller
        return c.now() - (c.wall() - at.timestamp())

    async def evaluate(self) -> datetime | None:
        """Apply what should be playing now; returns the next instant something may change
        (within the interval)."""
        self.evaluations += 1
        at = self._now()
        sched = self.service.schedule()
        verdict, nxt = sched.evaluate(at, at + timedelta(seconds=self.config.interval_s))
        startup = not self.started
        if startup:
            e = self.controller.engine
            self.lists = {
                name: Applied(None, 0.0)
                for name, pb in e.lists.items()
                if e.levels.get(name) == "schedule" and pb.current is not None
            }
        await self._apply(verdict, at, startup)
        self.started = True
        self.verdict = verdict
        return nxt

    def _fade_in(self, c: Candidate) -> float:
        fade = c.entry.fade_s if c.entry.fade_s is not None else self.config.default_fade_s
        return float(fade)

    async def _apply(self, verdict: Verdict, at: datetime, startup: bool) -> None:
        looks: dict[str, Candidate] = {}
        lists: dict[str, Candidate] = {}
        for canvas, cv in verdict.canvases.items():
            w = cv.winner
            if w is None:
                continue
            if w.entry.target_kind == "look":
                looks[canvas] = w
            else:
                lists[w.entry.target] = w
        changes: dict[str, Any] = {}
        fades: list[float] = []
        for canvas, w in looks.items():
            before = self.looks.get(canvas)
            if before is None or before[0] != w.occurrence.key:
                elapsed = (at - w.occurrence.start).total_seconds()
                fades.append(max(0.0, self._fade_in(w) - elapsed))
        fades += [fade for canvas, (_k, fade) in self.looks.items() if canvas not in looks]
        result = await self.controller.schedule_looks(
            SCHEDULE_ACTOR,
            {canvas: w.entry.target for canvas, w in looks.items()},
            0.0 if startup else max(fades, default=0.0),
        )
        if result.outcome != "unchanged":
            changes["looks"] = {c: w.entry.name for c, w in sorted(looks.items())}
        self.looks = {c: (w.occurrence.key, self._fade_in(w)) for c, w in looks.items()}
        await self._apply_lists(lists, at, startup, changes)
        if changes:
            log.info("schedule applied", at=at.isoformat(), **changes)

    async def _apply_lists(
        self, lists: dict[str, Candidate], at: datetime, startup: bool, changes: dict[str, Any]
    ) -> None:
        e = self.controller.engine
        held: set[str] = set()
        for name, w in sorted(lists.items()):
            key = w.occurrence.key
            before = self.lists.get(name)
            if before is not None and before.key == key:
                continue
            pb = e.lists.get(name)
            if pb is None:
                continue
            busy = pb.current is not None
            if busy and e.levels.get(name, "cues") != "schedule":
                held.add(name)  # an operator runs it
                continue
            since = max(w.occurrence.start.timestamp(), at.timestamp() - self.config.catch_up_s)
            cue = w.entry.cue if w.entry.target_kind == "cue" else None
            try:
                result = await self.controller.schedule_start(
                    SCHEDULE_ACTOR,
                    name,
                    cue,
                    since=self._frame_time(datetime.fromtimestamp(since, UTC)),
                    fade=w.entry.fade_s,
                    fresh=startup and busy,
                )
            except PlaybackError as exc:
                log.warning("scheduled cue list not started", cue_list=name, error=str(exc))
                continue
            self.lists[name] = Applied(key, w.entry.fade_s)
            changes.setdefault("started", {})[name] = {
                "entry": w.entry.name,
                "cue": result.detail.get("cue"),
                "late_s": result.detail.get("late_s"),
            }
        for name in sorted(set(self.lists) - set(lists)):
            applied = self.lists.pop(name)
            if name in e.lists:
                result = await self.controller.schedule_release(SCHEDULE_ACTOR, name, applied.fade)
                if result.outcome != "unchanged":
                    changes.setdefault("released", []).append(name)
        if held != self.held:
            changes["held_by_operator"] = sorted(held)
        self.held = held


async def serve_schedule(
    runner: ScheduleRunner, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Evaluate once before reporting started (so the first frame already shows the schedule),
    then at each transition, every interval, and on every edit."""
    interval = runner.config.interval_s
    nxt: datetime | None = None
    try:
        nxt = await runner.evaluate()
    except Exception as exc:  # a bad entry or a storage hiccup must not stop the daemon
        log.error("schedule evaluation failed", error=repr(exc))
    log.info("schedule running", entries=len(runner.service.entries))
    task_status.started()
    while True:
        delay = interval
        if nxt is not None:
            # A hair after the transition, so that it is evaluated as begun.
            delay = min(interval, max(0.0, (nxt - runner._now()).total_seconds()) + 0.005)
        with trio.move_on_after(delay):
            await runner.wake.wait()
        runner.wake = trio.Event()
        try:
            nxt = await runner.evaluate()
        except Exception as exc:
            log.error("schedule evaluation failed", error=repr(exc))
            nxt = None
