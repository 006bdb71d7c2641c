"""The priority ladder: every contributor merged per canvas into one plan.

Per canvas, top wins (a level above covers the ones below wherever it has a lane; while it
fades in or out the lower levels show through in proportion, because a lane's base or target
is UNDER):

    emergency > technician park > scripted overrides (TTL) > rule lists > cue lists
    > schedule > idle look > safe state (black or hold)

Rule lists are cue lists a trigger rule started (core/rules): the building reacting (a
presence on the stairs) covers what the operators and the schedule play, and a technician's
override or park still covers it.

Cue lists stack by priority; lists of equal priority stack in order of their last change
(LTP: the latest wins) and an `htp` list takes the higher value of itself and what is under
it. Grand master and canvas masters scale the result; blackout is the grand master at 0;
the emergency look is exempt from every master (and is also applied by the output thread).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from trocadero.config.show import CueListDef, LookDef, SafeState

from .cuelist import ListPlayback, Outcome, PlaybackError, UnknownName
from .plan import (
    BLACK,
    EMERGENCY_LOOK,
    HOLD,
    IDLE_LOOK,
    UNDER,
    LookRef,
    Node,
    substitute,
    target_doc,
)
from .track import SNAP, Timing, Track, even

Level = Literal["cues", "schedule", "rules"]
_LIST_LEVEL: dict[Level, str] = {
    "cues": "cue list",
    "schedule": "schedule list",
    "rules": "rule list",
}
MAX_AUTO_PER_TICK = 1000  # a loop of zero-time follows must not hang the frame


@dataclass
class Override:
    """A scripted live override: its own track, a priority among overrides, a TTL."""

    id: str
    priority: int
    created: float
    expires: float | None
    fade_out: float
    owner: str
    track: Track = field(default_factory=Track)


@dataclass(frozen=True, slots=True)
class Masters:
    grand: float = 1.0
    canvases: Mapping[str, float] = field(default_factory=dict)
    blackout: bool = False


class Engine:
    def __init__(
        self,
        canvases: Sequence[str],
        *,
        looks: Mapping[str, LookDef],
        cue_lists: Iterable[CueListDef] = (),
        idle_canvases: Iterable[str] = (),
        emergency_canvases: Iterable[str] = (),
        safe_state: SafeState = "black",
        debounce: float = 0.3,
        grand_master: float = 1.0,
        canvas_masters: Mapping[str, float] | None = None,
    ) -> None:
        self.canvas_names = tuple(canvases)
        self.looks: dict[str, LookDef] = dict(looks)
        self.lists: dict[str, ListPlayback] = {}
        self.levels: dict[str, Level] = {}
        self.rule_holders: dict[str, str] = {}  # rule list → the rule that started it
        for defn in cue_lists:
            self.lists[defn.name] = ListPlayback(defn, self.looks)
            self.levels[defn.name] = "cues"
        self.idle = frozenset(idle_canvases)
        self.emergency_canvases = frozenset(emergency_canvases)
        self.safe_state = safe_state
        self.debounce = debounce
        self.parks = Track()
        self.park_targets: dict[str, Node] = {}
        self.park_holders: dict[str, tuple[str, float]] = {}  # canvas → (who, since frame t)
        self.schedule = Track()  # looks the schedule plays (its cue lists run at that level too)
        self.schedule_targets: dict[str, Node] = {}
        self.overrides: dict[str, Override] = {}
        self._override_ids = itertools.count(1)
        self.emergency = False
        self.grand_master = grand_master
        self.canvas_masters: dict[str, float] = dict.fromkeys(self.canvas_names, 1.0)
        self.canvas_masters.update(canvas_masters or {})
        self.blackout = False
        self.revision = 0  # bumped on every change (persistence and UI updates key off it)

    # --- lookups ------------------------------------------------------------------------

    def playback(self, name: str) -> ListPlayback:
        pb = self.lists.get(name)
        if pb is None:
            raise UnknownName(f'no cue list "{name}"')
        return pb

    def _canvas(self, name: str) -> str:
        if name not in self.canvas_names:
            raise UnknownName(f'no canvas "{name}"')
        return name

    def _changed(self) -> None:
        self.revision += 1

    # --- show edits ---------------------------------------------------------------------

    def set_look(self, look: LookDef) -> None:
        self.looks[look.name] = look
        self._changed()

    def remove_look(self, name: str) -> None:
        self.looks.pop(name, None)
        self._changed()

    def set_cue_list(self, defn: CueListDef) -> None:
        pb = self.lists.get(defn.name)
        if pb is None:
            self.lists[defn.name] = ListPlayback(defn, self.looks)
            self.levels[defn.name] = "cues"
        else:
            pb.redefine(defn)
        self._changed()

    def remove_cue_list(self, name: str, t: float) -> None:
        pb = self.lists.pop(name, None)
        self.levels.pop(name, None)
        self.rule_holders.pop(name, None)
        if pb is not None:
            self._changed()

    # --- cue-list verbs -----------------------------------------------------------------

    def _verb(self, outcome: Outcome, name: str, level: Level | None, by: str = "") -> Outcome:
        if outcome is not Outcome.DEBOUNCED and outcome is not Outcome.UNCHANGED:
            if level is not None:
                self.levels[name] = level
                if level == "rules":
                    self.rule_holders[name] = by
                else:
                    self.rule_holders.pop(name, None)
            self._changed()
        return outcome

    def go(self, name: str, t: float, *, level: Level = "cues", by: str = "") -> Outcome:
        """`by`: who started a list at the rules level (the ladder's "why"). The double-GO
        guard (`debounce`) is for hands on a console; a rule times itself (its own debounce,
        minimum on/off times, cooldown), so its GO is never swallowed: presence that returns
        just after a release must light the stairs again."""
        debounce = 0.0 if level == "rules" else self.debounce
        return self._verb(self.playback(name).go(t, debounce=debounce), name, level, by)

    def back(self, name: str, t: float, fade: float | None = None) -> Outcome:
        return self._verb(self.playback(name).back(t, fade), name, None)

    def goto(
        self,
        name: str,
        t: float,
        number: Decimal,
        fade: float | None = None,
        *,
        level: Level = "cues",
        by: str = "",
    ) -> Outcome:
        return self._verb(self.playback(name).goto(t, number, fade), name, level, by)

    def fire(self, name: str, t: float, number: Decimal, fade: float | None = None) -> Outcome:
        return self._verb(self.playback(name).fire(t, number, fade), name, "cues")

    def load(self, name: str, number: Decimal) -> Outcome:
        return self._verb(self.playback(name).load(number), name, None)

    def release(self, name: str, t: float, fade: float | None = None) -> Outcome:
        pb = self.playback(name)
        return self._verb(pb.release(t, pb.defn.back_fade if fade is None else fade), name, None)

    def top(self, name: str, t: float, fade: float | None = None) -> Outcome:
        return self._verb(self.playback(name).top(t, fade), name, None)

    def pause(self, name: str, t: float) -> Outcome:
        return self._verb(self.playback(name).pause(t), name, None)

    def resume(self, name: str, t: float) -> Outcome:
        return self._verb(self.playback(name).resume(t), name, None)

    # --- parks, overrides, masters, emergency ------------------------------------------

    def park(
        self, canvas: str, t: float, target: Node, fade: float = 0.0, *, owner: str = ""
    ) -> None:
        """Technician park: the canvas shows `target` over every cue and override."""
        self._canvas(canvas)
        self._check_target(target)
        self.park_targets[canvas] = target
        self.park_holders[canvas] = (owner, t)
        self.parks.retarget(t, {canvas: target}, lambda c: even(fade), release_others=False)
        self._changed()

    def unpark(self, canvas: str, t: float, fade: float = 0.0) -> bool:
        if self.park_targets.pop(self._canvas(canvas), None) is None:
            return False
        self.park_holders.pop(canvas, None)
        self.parks.retarget(t, {canvas: UNDER}, lambda c: even(fade), release_others=False)
        self._changed()
        return True

    def set_schedule_looks(self, t: float, targets: Mapping[str, Node], fade: float) -> None:
        """What the schedule shows on each canvas by looks (canvases left out are let go),
        fading in `fade` seconds. Cue lists the schedule runs are started with level="schedule"."""
        for canvas, target in targets.items():
            self._canvas(canvas)
            self._check_target(target)
        if dict(targets) == self.schedule_targets:
            return
        self.schedule_targets = dict(targets)
        self.schedule.retarget(t, targets, lambda c: even(fade), release_others=True)
        self._changed()

    def _check_target(self, target: Node) -> None:
        if isinstance(target, LookRef) and target.look not in self.looks:
            raise UnknownName(f'no look "{target.look}"')

    def add_override(
        self,
        t: float,
        targets: Mapping[str, Node],
        *,
        ttl: float,
        priority: int = 0,
        fade_in: float = 0.0,
        fade_out: float = 0.0,
        owner: str = "",
    ) -> str:
        """A scripted override; it releases itself (with `fade_out`) `ttl` seconds from now."""
        if not targets:
            raise PlaybackError("an override needs at least one canvas")
        for canvas, target in targets.items():
            self._canvas(canvas)
            self._check_target(target)
        oid = f"ov{next(self._override_ids)}"
        ov = Override(oid, priority, t, t + ttl, fade_out, owner)
        ov.track.retarget(t, targets, lambda c: even(fade_in), release_others=False)
        self.overrides[oid] = ov
        self._changed()
        return oid

    def refresh_override(self, oid: str, t: float, ttl: float) -> None:
        """Keep-alive: a script extends its override before the TTL runs out."""
        ov = self._override(oid)
        ov.expires = t + ttl
        self._changed()

    def release_override(self, oid: str, t: float, fade: float | None = None) -> None:
        ov = self._override(oid)
        timing = even(ov.fade_out if fade is None else fade)
        ov.track.retarget(t, {}, lambda c: timing, release_others=True)
        ov.expires = None
        self._changed()

    def _override(self, oid: str) -> Override:
        ov = self.overrides.get(oid)
        if ov is None:
            raise UnknownName(f'no override "{oid}"')
        return ov

    def set_grand_master(self, level: float) -> None:
        self.grand_master = min(1.0, max(0.0, level))
        self._changed()

    def set_canvas_master(self, canvas: str, level: float) -> None:
        self.canvas_masters[self._canvas(canvas)] = min(1.0, max(0.0, level))
        self._changed()

    def set_blackout(self, on: bool) -> None:
        self.blackout = on
        self._changed()

    def set_emergency(self, engaged: bool) -> None:
        self.emergency = engaged
        self._changed()

    def panic(self, t: float, fade: float) -> None:
        """Everything but the emergency fades to the idle look in `fade` seconds."""
        for pb in self.lists.values():
            pb.release(t, fade)
        for oid in list(self.overrides):
            self.release_override(oid, t, fade)
        for canvas in list(self.park_targets):
            self.unpark(canvas, t, fade)
        self._changed()

    # --- time ---------------------------------------------------------------------------

    def tick(self, t: float) -> int:
        """Run every auto-GO and TTL expiry due by `t`, each at its own exact time, in order.
        Returns how many happened."""
        done = 0
        while done < MAX_AUTO_PER_TICK:
            due: list[tuple[float, int, str]] = []
            for name, pb in self.lists.items():
                when = pb.due_time()
                if when is not None and when <= t:
                    due.append((when, 0, name))
            for oid, ov in self.overrides.items():
                if ov.expires is not None and ov.expires <= t:
                    due.append((ov.expires, 1, oid))
            if not due:
                break
            when, kind, key = min(due)
            if kind == 0:
                self.lists[key].fire_auto()
            else:
                ov = self.overrides[key]
                fade_out = even(ov.fade_out)

                def timing(_canvas: str, fade_out: Timing = fade_out) -> Timing:
                    return fade_out

                ov.track.retarget(when, {}, timing, release_others=True)
                ov.expires = None
            done += 1
            self._changed()
        tracks = [pb.track for pb in self.lists.values()] + [self.parks, self.schedule]
        tracks += [ov.track for ov in self.overrides.values()]
        # Every track settles (no short cut); a canvas let go is a state change: the
        # contenders and a list's canvases in the playback state no longer name it.
        if [track.settle(t) for track in tracks].count(True):
            self._changed()
        if any(ov.expires is None and not ov.track.lanes for ov in self.overrides.values()):
            # Rebound, not resized in place: a reader on another thread (the render runs in
            # its own) may be iterating the old dict.
            self.overrides = {
                oid: ov
                for oid, ov in self.overrides.items()
                if ov.expires is not None or ov.track.lanes
            }
            self._changed()  # an override gone is a state change (the UI's list of them)
        return done

    # --- composition --------------------------------------------------------------------

    def _stack(self) -> list[Track | ListPlayback]:
        """Contributors bottom to top (below the parks and the emergency)."""
        sched = [pb for n, pb in self.lists.items() if self.levels.get(n) == "schedule"]
        cues = [pb for n, pb in self.lists.items() if self.levels.get(n, "cues") == "cues"]
        rules = [pb for n, pb in self.lists.items() if self.levels.get(n) == "rules"]

        def order(pb: ListPlayback) -> tuple[int, float]:
            return (pb.defn.priority, pb.activity)

        out: list[Track | ListPlayback] = [
            self.schedule,
            *sorted(sched, key=order),
            *sorted(cues, key=order),
            *sorted(rules, key=order),
        ]
        out += [
            ov.track
            for ov in sorted(self.overrides.values(), key=lambda o: (o.priority, o.created))
        ]
        out.append(self.parks)
        return out

    def compose(self, t: float, *, timed: bool = False) -> dict[str, Node]:
        """Each canvas's plan at `t`; `timed`: fades carry their timing (TimedFade), so the
        plan holds until the next change (what the native render plan draws)."""
        stack = self._stack()
        plans: dict[str, Node] = {}
        for canvas in self.canvas_names:
            acc: Node = (
                LookRef(IDLE_LOOK)
                if canvas in self.idle
                else (HOLD if self.safe_state == "hold" else BLACK)
            )
            for contributor in stack:
                node = contributor.node(canvas, t, timed=timed)
                if node is not None:
                    acc = substitute(node, acc)
            if self.emergency and canvas in self.emergency_canvases:
                acc = LookRef(EMERGENCY_LOOK)
            plans[canvas] = acc
        return plans

    def contenders(self, canvas: str, t: float) -> list[dict[str, Any]]:
        """Who has something on `canvas` at `t`, top (what shows) to bottom, walking the same
        stack `compose` merges: "why is this canvas this colour" for the UI. Each entry has
        its `level` (emergency, park, override, cue list, schedule list, schedule, idle, safe
        state), `what` it plays (``{"look"}``, ``{"rgb"}``, or None while it lets go) and who
        it is (`name`, `priority`, `by`, `cue` where they apply)."""
        out: list[dict[str, Any]] = []
        if self.emergency and canvas in self.emergency_canvases:
            out.append({"level": "emergency", "what": {"look": EMERGENCY_LOOK}})
        owners: dict[int, Override] = {id(o.track): o for o in self.overrides.values()}
        for contributor in reversed(self._stack()):
            lane = (
                contributor.track if isinstance(contributor, ListPlayback) else contributor
            ).lanes.get(canvas)
            if lane is None:
                continue
            entry: dict[str, Any] = {
                "what": None if lane.target is UNDER else target_doc(lane.target)
            }
            if isinstance(contributor, ListPlayback):
                level = self.levels.get(contributor.defn.name, "cues")
                entry |= {
                    "level": _LIST_LEVEL[level],
                    "name": contributor.defn.name,
                    "priority": contributor.defn.priority,
                    "cue": None if contributor.current is None else str(contributor.current),
                }
                if level == "rules":
                    entry["by"] = self.rule_holders.get(contributor.defn.name, "")
            elif contributor is self.parks:
                by, since = self.park_holders.get(canvas, ("", t))
                entry |= {"level": "park", "by": by, "for_s": round(t - since, 1)}
            elif contributor is self.schedule:
                entry |= {"level": "schedule"}
            else:
                o = owners[id(contributor)]
                entry |= {"level": "override", "name": o.id, "priority": o.priority, "by": o.owner}
            out.append(entry)
        if canvas in self.idle:
            out.append({"level": "idle", "what": {"look": IDLE_LOOK}})
        else:
            out.append({"level": "safe state", "what": None, "name": self.safe_state})
        return out

    def masters(self) -> Masters:
        return Masters(self.grand_master, dict(self.canvas_masters), self.blackout)


__all__ = ["SNAP", "Engine", "Masters", "Override", "Timing"]
