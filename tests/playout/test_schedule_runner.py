"""The schedule runtime over a real engine, command layer and SQLite store, with the wall and
frame clocks under the test's control: restart re-evaluation (a list due at 21:00 found at
21:37), looks on and off at their transitions, operator lists left alone, restored schedule
state re-derived, and the serving task waking at transitions and on edits."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

from trocadero.config.schema import ScheduleConfig, SiteConfig, StorageConfig
from trocadero.config.show import CanvasDef, CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.model import ScheduleEntry
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.plan import LookRef
from trocadero.core.schedule.resolve import ShowIndex
from trocadero.core.schedule_service import ScheduleService
from trocadero.core.storage import Storage, open_storage
from trocadero.playout.schedule import ScheduleRunner, serve_schedule

PARIS = ZoneInfo("Europe/Paris")
ADMIN = Actor("alice", "admin", "api")
OPERATOR = Actor("bob", "operator", "ui")
LOOKS = (
    LookDef("warm", canvases=(CanvasLayersDef("facade"), CanvasLayersDef("canopy"))),
    LookDef("red", canvases=(CanvasLayersDef("facade"),)),
)
# Ten minutes a cue: started at 21:00, the list is on cue 4 from 21:30.
EVENING = CueListDef(
    "evening",
    cues=tuple(
        CueDef(Decimal(n), look="warm" if n % 2 else "red", up_fade=5.0, down_fade=5.0,
               follow=600.0 if n < 4 else None)
        for n in (1, 2, 3, 4)
    ),
)  # fmt: skip


@dataclass
class Rig:
    engine: Engine
    controller: Controller
    service: ScheduleService
    store: Storage
    wall: list[float]
    frame: list[float]

    def at(self, when: datetime) -> None:
        """Move both clocks to the wall-clock instant `when`."""
        step = when.timestamp() - self.wall[0]
        self.wall[0] += step
        self.frame[0] += step

    def level(self, cue_list: str) -> str:
        return self.engine.levels[cue_list]

    def runner(self, **config: Any) -> ScheduleRunner:
        return ScheduleRunner(self.controller, self.service, ScheduleConfig(**config))

    async def entry(self, **doc: Any) -> int:
        doc.setdefault("name", "e")
        doc.setdefault("target_kind", "look")
        made = await self.service.create(ADMIN, doc)
        return made.id


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_storage(StorageConfig(sqlite_path="s.db"), tmp_path) as store:
        await store.patch.put_patch((CanvasDef("facade", 4, 4), CanvasDef("canopy", 4, 4)), (), ())
        for look in LOOKS:
            await store.show.put_look(look)
        await store.show.put_cue_list(EVENING)
        engine = Engine(("facade", "canopy"), looks={lk.name: lk for lk in LOOKS},
                        cue_lists=(EVENING,), debounce=0.0)  # fmt: skip
        wall = [datetime(2026, 11, 3, 12, tzinfo=PARIS).timestamp()]
        frame = [5000.0]
        controller = Controller(
            engine, now=lambda: frame[0], wall=lambda: wall[0], audit=store.audit, state=store.state
        )

        def show() -> ShowIndex:
            return ShowIndex.of(engine.looks.values(), [p.defn for p in engine.lists.values()])

        service = ScheduleService(
            store,
            SiteConfig(),
            horizon_s=8 * 86400.0,
            show=show,
            canvases=lambda: engine.canvas_names,
            wall=lambda: wall[0],
        )
        await service.load()
        yield Rig(engine, controller, service, store, wall, frame)


def paris(y: int, mo: int, d: int, h: int, mi: int = 0, s: float = 0.0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PARIS) + timedelta(seconds=s)


NIGHTLY = {
    "target_kind": "cue_list",
    "target": "evening",
    "rrule": "FREQ=DAILY",
    "dtstart": "2026-10-01T21:00:00+02:00",
    "duration_s": 3 * 3600.0,
}


async def test_restart_at_21_37_shows_the_21_00_list_where_its_follows_have_taken_it(
    rig: Rig,
) -> None:
    await rig.entry(name="nightly", **NIGHTLY)
    rig.at(paris(2026, 11, 3, 21, 37))
    runner = rig.runner()  # a daemon starting now
    nxt = await runner.evaluate()
    pb = rig.engine.playback("evening")
    assert rig.engine.levels["evening"] == "schedule"
    assert pb.current == Decimal(4)  # 21:00 → 1, 21:10 → 2, 21:20 → 3, 21:30 → 4
    assert pb.track.lanes["facade"].target == LookRef("red")
    assert pb.track.lanes["facade"].start == pytest.approx(rig.frame[0] - 7 * 60)  # since 21:30
    assert nxt is None  # nothing changes within the interval
    audit = (await rig.store.audit.list_audit(origin="schedule")).items
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("schedule", "schedule.start", "evening")
    ]
    assert audit[0].detail["late_s"] == pytest.approx(37 * 60)
    # Its three hours end at midnight: released then.
    rig.at(paris(2026, 11, 4, 0, 0, 0.01))
    await runner.evaluate()
    assert rig.engine.playback("evening").current is None
    assert (await rig.store.audit.list_audit(origin="schedule")).items[
        0
    ].action == "schedule.release"


async def test_catch_up_is_bounded(rig: Rig) -> None:
    await rig.entry(name="nightly", **NIGHTLY)
    rig.at(paris(2026, 11, 3, 21, 37))
    await rig.runner(catch_up_s=60.0).evaluate()
    # Only a minute is replayed: the list starts from cue 1 at 21:36.
    assert rig.engine.playback("evening").current == Decimal(1)


async def test_a_look_comes_on_at_its_start_with_its_fade_and_goes_at_its_end(rig: Rig) -> None:
    await rig.entry(
        name="red hour", target="red", rrule="FREQ=DAILY", fade_s=2.0,
        dtstart="2026-10-01T20:00:00+02:00", duration_s=3600.0,
    )  # fmt: skip
    rig.at(paris(2026, 11, 3, 19, 59))
    runner = rig.runner(interval_s=120.0)
    assert await runner.evaluate() == paris(2026, 11, 3, 20, 0)
    assert rig.engine.schedule_targets == {}
    rig.at(paris(2026, 11, 3, 20, 0, 0.005))
    await runner.evaluate()
    assert rig.engine.schedule_targets == {"facade": LookRef("red")}
    assert rig.controller.state(ADMIN)["schedule"] == {"facade": {"look": "red"}}
    lane = rig.engine.schedule.lanes["facade"]
    assert lane.timing.up == pytest.approx(2.0 - 0.005)  # what is left of its fade
    rig.at(paris(2026, 11, 3, 21, 0, 0.005))
    await runner.evaluate()
    assert rig.engine.schedule_targets == {}
    assert rig.engine.schedule.lanes["facade"].timing.down == 2.0  # fades out by its fade_s
    actions = [a.action for a in (await rig.store.audit.list_audit(origin="schedule")).items]
    assert actions == ["schedule.looks", "schedule.looks"]


async def test_a_look_found_on_at_start_up_is_simply_on(rig: Rig) -> None:
    await rig.entry(name="red", target="red", dtstart="2026-11-03T20:00:00+01:00", fade_s=30.0)
    rig.at(paris(2026, 11, 3, 20, 0, 10.0))
    await rig.runner().evaluate()
    assert rig.engine.schedule.lanes["facade"].timing.up == 0.0


async def test_an_operator_list_is_left_alone_and_taken_back_when_released(rig: Rig) -> None:
    await rig.entry(name="nightly", **NIGHTLY)
    rig.at(paris(2026, 11, 3, 20, 50))
    assert (await rig.controller.go(OPERATOR, "evening")).outcome == "done"
    runner = rig.runner()
    rig.at(paris(2026, 11, 3, 21, 5))
    await runner.evaluate()
    assert rig.level("evening") == "cues"
    assert runner.held == {"evening"}
    await rig.controller.release(OPERATOR, "evening", 0.0)
    rig.at(paris(2026, 11, 3, 21, 15))
    await runner.evaluate()
    assert rig.level("evening") == "schedule"
    assert rig.engine.playback("evening").current == Decimal(2)  # as of 21:00
    # Released by hand at the schedule level: it stays released until its next occurrence.
    await rig.controller.release(OPERATOR, "evening", 0.0)
    rig.at(paris(2026, 11, 3, 21, 20))
    await runner.evaluate()
    assert rig.engine.playback("evening").current is None


async def test_restored_schedule_state_is_re_derived(rig: Rig) -> None:
    rig.at(paris(2026, 11, 3, 21, 37))
    # As a restore would leave it: the list at the schedule level, on cue 1 since 21:35.
    schedule_actor = Actor("schedule", "admin", "schedule")
    await rig.controller.schedule_start(schedule_actor, "evening", None, since=rig.frame[0] - 120)
    assert rig.engine.playback("evening").current == Decimal(1)
    # No entry wants it: released at start-up, at once.
    await rig.runner().evaluate()
    assert rig.engine.playback("evening").current is None
    # An entry wants it: started afresh as of 21:00, whatever was restored.
    await rig.controller.schedule_start(schedule_actor, "evening", Decimal(1))
    await rig.entry(name="nightly", **NIGHTLY)
    await rig.runner().evaluate()
    assert rig.engine.playback("evening").current == Decimal(4)
    assert rig.engine.playback("evening").previous == Decimal(3)


async def test_serving_wakes_at_transitions_and_on_edits(
    rig: Rig, mock_clock: trio.testing.MockClock
) -> None:
    # Trio's mock clock drives both clocks, jumping while everything waits. Not while the
    # store works in its threads (the fixture): the loop would spin and starve them.
    mock_clock.autojump_threshold = 0
    try:
        await _serve_and_watch(rig)
    finally:
        mock_clock.autojump_threshold = math.inf


async def _serve_and_watch(rig: Rig) -> None:
    base_wall, base_frame, start = rig.wall[0], rig.frame[0], trio.current_time()
    seen: list[tuple[float, dict[str, LookRef]]] = []
    two = trio.Event()

    def wall() -> float:
        return base_wall + trio.current_time() - start

    def changed() -> bool:  # the command layer's "re-render now" hook: one call per change
        seen.append((wall(), dict(rig.engine.schedule_targets)))  # type: ignore[arg-type]
        if len(seen) == 2:
            two.set()
        return False

    controller = Controller(
        rig.engine,
        now=lambda: base_frame + trio.current_time() - start,
        wall=wall,
        changed=changed,
    )
    rig.service.wall = wall
    red = ScheduleEntry(
        id=1, name="red", target_kind="look", target="red", rrule="FREQ=DAILY",
        dtstart=paris(2026, 10, 1, 12, 10), duration_s=600.0,
    )  # fmt: skip
    warm = ScheduleEntry(
        id=2, name="warm", target_kind="look", target="warm", priority=5,
        dtstart=paris(2026, 11, 3, 12), duration_s=3600.0,
    )  # fmt: skip
    rig.service.set_entries([red])
    async with trio.open_nursery() as nursery:
        runner = ScheduleRunner(controller, rig.service, ScheduleConfig(interval_s=3600.0))
        await nursery.start(serve_schedule, runner)
        await two.wait()
        edited = wall()
        rig.service.set_entries([red, warm])
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    base = paris(2026, 11, 3, 12, 10).timestamp()
    assert [(round(at - base, 3), looks) for at, looks in seen] == [
        (0.005, {"facade": LookRef("red")}),  # 5 ms after the transition
        (600.005, {}),
        (round(edited - base, 3), {"facade": LookRef("warm"), "canopy": LookRef("warm")}),
    ]  # the last at once on the edit
