"""The one command layer: every interface (REST, WebSocket, socket API, schedule, console
input) changes playback through `Controller`, so a verb behaves the same wherever it comes
from, is checked against the caller's role, audit-logged and persisted the same way.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import trio

from trocadero.config.show import CueListDef, LookDef, ShowDef

from . import tracing
from .edits import EditNote
from .permissions import PERMISSIONS, SYSTEM, Actor, Forbidden, Origin, Role, require
from .playback.cuelist import Outcome, PlaybackError, UnknownName
from .playback.ladder import Engine, Level
from .playback.persist import STATE_KEY, snapshot
from .playback.plan import LookRef, Node, Solid, target_doc

__all__ = [
    "PERMISSIONS",
    "SYSTEM",
    "Actor",
    "Controller",
    "Forbidden",
    "Origin",
    "Result",
    "Role",
    "audit",
]


class AuditSink(Protocol):
    async def append_audit(
        self,
        *,
        actor: str,
        role: str,
        origin: str,
        action: str,
        target: str,
        detail: Mapping[str, Any],
        address: str,
        state: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None: ...


class AuditLog(AuditSink, Protocol):
    """The audit sink of the command layer: it can also save the playback state in the audit
    entry's commit, for a state store in its own database."""

    def commits_with(self, state: object) -> bool:
        """True when `append_audit(state=…)` saves what `state.save_state` would (the same
        database), so a command's entry and state are one commit."""
        ...


async def audit(sink: AuditSink, actor: Actor, action: str, target: str, **detail: Any) -> None:
    """One audit entry for what `actor` did (its name, role, origin and address recorded)."""
    await sink.append_audit(
        actor=actor.name,
        role=actor.role,
        origin=actor.origin,
        action=action,
        target=target,
        detail=detail,
        address=actor.address,
    )


class StateStore(Protocol):
    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None: ...


class Library(Protocol):
    """Where looks and cue lists are stored (the storage backend)."""

    async def put_look(self, look: LookDef, *, note: EditNote | None = None) -> bool: ...
    async def put_cue_list(self, cue_list: CueListDef, *, note: EditNote | None = None) -> bool: ...
    async def delete_look(self, name: str, *, note: EditNote | None = None) -> None: ...
    async def delete_cue_list(self, name: str, *, note: EditNote | None = None) -> None: ...


class EmergencyLatch(Protocol):
    """The output thread's latch (the native frame clock in the daemon)."""

    def engage_emergency(self) -> None: ...
    def release_emergency(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Result:
    outcome: str
    detail: Mapping[str, Any] = field(default_factory=dict)


class Controller:
    """Commands and queries over the playback engine.

    `now()` gives the current frame time (seconds on the frame clock) and `wall()` the wall
    clock, so a command takes effect at the instant it arrives, not at the next frame.
    `changed()` is called after every accepted command (the daemon re-renders at once); it
    returns True when the change is already on its way to the wire (the native render thread
    took the new plan), so the reply need not yield to a frame producer first.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        now: Callable[[], float],
        wall: Callable[[], float] = time.time,
        audit: AuditLog | None = None,
        state: StateStore | None = None,
        latch: EmergencyLatch | None = None,
        changed: Callable[[], bool] = lambda: False,
        check_look: Callable[[LookDef], list[str]] | None = None,
        on_event: Callable[[str, Mapping[str, Any]], Awaitable[None] | None] | None = None,
        panic_fade: float = 3.0,
        input_asserted: Callable[[], bool] = lambda: False,
        look_stored: Callable[[LookDef], None] = lambda _look: None,
        look_removed: Callable[[str], None] = lambda _name: None,
        library: Library | None = None,
        swap_lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.library = library
        # Held by the frame producer for a whole frame: a show swapped under it is seen by
        # the next frame entire, never half (playout/playback.py PlaybackDriver.lock).
        self.swap_lock: AbstractContextManager[object] = swap_lock or nullcontext()
        self.look_stored = look_stored
        self.look_removed = look_removed
        self.panic_fade = panic_fade
        self.input_asserted = input_asserted
        self.engine = engine
        self.now = now
        self.wall = wall
        self.audit = audit
        self.store = state
        self.latch = latch
        self.changed = changed
        self.check_look = check_look
        self.on_event = on_event
        self.saved_revision = -1
        self._change = trio.Event()  # set (and replaced) on every accepted change

    def next_change(self) -> trio.Event:
        """An event set at the next accepted command (for pushing state without polling)."""
        return self._change

    def _announce(self) -> bool:
        handed_over = tracing.hand_over(self.changed)  # traced to the wire when tracing is on
        self._change.set()
        self._change = trio.Event()
        return handed_over

    # --- plumbing -----------------------------------------------------------------------

    def _allow(self, actor: Actor, group: str, action: str) -> None:
        require(actor, group, action)

    async def _record(
        self,
        actor: Actor,
        action: str,
        target: str,
        detail: Mapping[str, Any],
        *,
        save: bool = False,
    ) -> None:
        """Audit the command; with `save`, persist the playback state too — in the same
        transaction when the audit log and the state store share a database
        (`audit.commits_with(state)`: one commit, one fsync; the command's reply waits for
        it)."""
        revision = self.engine.revision
        state = None
        if save and self.store is not None and revision != self.saved_revision:
            state = (STATE_KEY, snapshot(self.engine, self.now(), self.wall()))
        if self.audit is not None:
            together = state is not None and self.audit.commits_with(self.store)
            await self.audit.append_audit(
                actor=actor.name,
                role=actor.role,
                origin=actor.origin,
                action=action,
                target=target,
                detail=dict(detail),
                address=actor.address,
                state=state if together else None,
            )
            if together:
                self.saved_revision = revision
                return
        if save:
            await self.persist()

    async def persist(self) -> None:
        """Save the playback state if it changed since the last save (durable on return)."""
        revision = self.engine.revision
        if self.store is None or revision == self.saved_revision:
            return
        t = self.now()
        await self.store.save_state(STATE_KEY, snapshot(self.engine, t, self.wall()))
        self.saved_revision = revision

    async def _done(
        self, actor: Actor, action: str, target: str, outcome: Outcome | str, **detail: Any
    ) -> Result:
        value = outcome.value if isinstance(outcome, Outcome) else outcome
        if value not in (Outcome.DEBOUNCED.value, Outcome.UNCHANGED.value):
            if not self._announce():
                # Let the (just woken) frame producer render the change before the audit
                # and state writes run: the wire first, the bookkeeping after. (The native
                # render thread has its plan already: no round of the loop to wait for.)
                await trio.lowlevel.checkpoint()
            await self._record(actor, action, target, {"outcome": value, **detail}, save=True)
        return Result(value, detail)

    # --- cue-list verbs -----------------------------------------------------------------

    async def go(self, actor: Actor, cue_list: str) -> Result:
        self._allow(actor, "playback", "cue.go")
        out = self.engine.go(cue_list, self.now(), level=_level(actor), by=actor.name)
        pb = self.engine.playback(cue_list)
        return await self._done(actor, "cue.go", cue_list, out, cue=_s(pb.current))

    async def back(self, actor: Actor, cue_list: str, fade: float | None = None) -> Result:
        self._allow(actor, "playback", "cue.back")
        out = self.engine.back(cue_list, self.now(), fade)
        pb = self.engine.playback(cue_list)
        return await self._done(actor, "cue.back", cue_list, out, cue=_s(pb.current), fade=fade)

    async def goto(
        self, actor: Actor, cue_list: str, number: Decimal, fade: float | None = None
    ) -> Result:
        self._allow(actor, "playback", "cue.goto")
        out = self.engine.goto(
            cue_list, self.now(), number, fade, level=_level(actor), by=actor.name
        )
        return await self._done(actor, "cue.goto", cue_list, out, cue=str(number), fade=fade)

    async def fire(
        self, actor: Actor, cue_list: str, number: Decimal, fade: float | None = None
    ) -> Result:
        self._allow(actor, "playback", "cue.fire")
        out = self.engine.fire(cue_list, self.now(), number, fade)
        return await self._done(actor, "cue.fire", cue_list, out, cue=str(number), fade=fade)

    async def load(self, actor: Actor, cue_list: str, number: Decimal) -> Result:
        self._allow(actor, "playback", "cue.load")
        out = self.engine.load(cue_list, number)
        return await self._done(actor, "cue.load", cue_list, out, cue=str(number))

    async def release(self, actor: Actor, cue_list: str, fade: float | None = None) -> Result:
        self._allow(actor, "playback", "cue.release")
        out = self.engine.release(cue_list, self.now(), fade)
        return await self._done(actor, "cue.release", cue_list, out, fade=fade)

    async def top(self, actor: Actor, cue_list: str, fade: float | None = None) -> Result:
        self._allow(actor, "playback", "cue.top")
        out = self.engine.top(cue_list, self.now(), fade)
        return await self._done(actor, "cue.top", cue_list, out, fade=fade)

    async def pause(self, actor: Actor, cue_list: str) -> Result:
        self._allow(actor, "playback", "cue.pause")
        return await self._done(
            actor, "cue.pause", cue_list, self.engine.pause(cue_list, self.now())
        )

    async def resume(self, actor: Actor, cue_list: str) -> Result:
        self._allow(actor, "playback", "cue.resume")
        return await self._done(
            actor, "cue.resume", cue_list, self.engine.resume(cue_list, self.now())
        )

    # --- ladder -------------------------------------------------------------------------

    async def park(
        self,
        actor: Actor,
        canvas: str,
        *,
        look: str | None = None,
        rgb: tuple[int, int, int] | None = None,
        fade: float = 0.0,
    ) -> Result:
        self._allow(actor, "override", "park")
        target = _target(look, rgb)
        self.engine.park(canvas, self.now(), target, fade, owner=actor.name)
        return await self._done(actor, "park.set", canvas, "done", look=look, rgb=rgb, fade=fade)

    async def unpark(self, actor: Actor, canvas: str, fade: float = 0.0) -> Result:
        self._allow(actor, "override", "unpark")
        ok = self.engine.unpark(canvas, self.now(), fade)
        return await self._done(actor, "park.clear", canvas, "done" if ok else "unchanged")

    async def add_override(
        self,
        actor: Actor,
        canvases: Mapping[str, tuple[str | None, tuple[int, int, int] | None]],
        *,
        ttl: float,
        priority: int = 0,
        fade_in: float = 0.0,
        fade_out: float = 0.0,
    ) -> Result:
        self._allow(actor, "override", "override")
        targets = {c: _target(look, rgb) for c, (look, rgb) in canvases.items()}
        oid = self.engine.add_override(
            self.now(),
            targets,
            ttl=ttl,
            priority=priority,
            fade_in=fade_in,
            fade_out=fade_out,
            owner=actor.name,
        )
        return await self._done(
            actor, "override.add", oid, "done", id=oid, canvases=sorted(canvases), ttl=ttl
        )

    async def refresh_override(self, actor: Actor, oid: str, ttl: float) -> Result:
        self._allow(actor, "override", "override")
        self.engine.refresh_override(oid, self.now(), ttl)
        return Result("done", {"id": oid, "ttl": ttl})  # a keep-alive is not an audit event

    async def release_override(self, actor: Actor, oid: str, fade: float | None = None) -> Result:
        self._allow(actor, "override", "override")
        self.engine.release_override(oid, self.now(), fade)
        return await self._done(actor, "override.release", oid, "done", fade=fade)

    async def set_master(self, actor: Actor, target: str, level: float) -> Result:
        self._allow(actor, "masters", "set a master")
        if not 0.0 <= level <= 1.0:
            raise PlaybackError(f"level must be between 0 and 1 (got {level})")
        if target == "grand":
            self.engine.set_grand_master(level)
        else:
            self.engine.set_canvas_master(target, level)
        return await self._done(actor, "master.set", target, "done", level=level)

    async def follow_master(self, actor: Actor, target: str, level: float) -> Result:
        """A master following a sensor (a trigger rule's `follow`): applied and announced
        like `set_master`, but neither audited nor saved at each step (up to several a
        second); the rise that started it was audited."""
        self._allow(actor, "masters", "set a master")
        level = min(1.0, max(0.0, level))
        if target == "grand":
            self.engine.set_grand_master(level)
        else:
            self.engine.set_canvas_master(target, level)
        self._announce()
        return Result("done", {"level": level})

    async def blackout(self, actor: Actor, on: bool) -> Result:
        self._allow(actor, "masters", "blackout")
        self.engine.set_blackout(on)
        return await self._done(actor, "blackout.on" if on else "blackout.off", "grand", "done")

    async def panic(self, actor: Actor, fade: float) -> Result:
        self._allow(actor, "playback", "panic")
        self.engine.panic(self.now(), fade)
        return await self._done(actor, "panic", "all", "done", fade=fade)

    async def engage_emergency(self, actor: Actor) -> Result:
        self._allow(actor, "emergency.engage", "engage the emergency override")
        if self.latch is not None:
            self.latch.engage_emergency()  # first: the output thread acts on its next frame
        already = self.engine.emergency
        self.engine.set_emergency(True)
        return await self._done(
            actor, "emergency.engage", "all", "unchanged" if already else "done"
        )

    async def release_emergency(self, actor: Actor) -> Result:
        self._allow(actor, "emergency.release", "release the emergency override")
        if self.input_asserted() or (self.latch is not None and not self.latch.release_emergency()):
            await self._record(
                actor, "emergency.release", "all", {"outcome": "refused-input-active"}
            )
            return Result("refused", {"reason": "the emergency input is still asserted"})
        if not self.engine.emergency:
            return Result("unchanged")
        self.engine.set_emergency(False)
        return await self._done(actor, "emergency.release", "all", "done")

    # --- show edits (playback side) -----------------------------------------------------
    # Each goes in the store's edit history under the caller's name (`note` overrides: a
    # single cue's edit, or an undo, which is audited as "edit.undo").

    async def _edited(
        self, actor: Actor, action: str, target: str, note: EditNote | None
    ) -> Result:
        if note is not None and note.undoes:
            return await self._done(actor, "edit.undo", target, "done", undoes=action)
        return await self._done(actor, action, target, "done")

    async def put_look(
        self, actor: Actor, look: LookDef, *, note: EditNote | None = None
    ) -> Result:
        self._allow(actor, "show.edit", "edit looks")
        if self.check_look is not None:
            problems = self.check_look(look)
            if problems:
                raise PlaybackError("\n".join(problems))
        if self.library is not None:
            # stored first: a refusal there changes nothing
            await self.library.put_look(look, note=note or EditNote(actor.name))
        self.engine.set_look(look)
        self.look_stored(look)  # the renderer rebuilds it on its next use
        return await self._edited(actor, "look.put", look.name, note)

    async def put_cue_list(
        self, actor: Actor, cue_list: CueListDef, *, note: EditNote | None = None
    ) -> Result:
        self._allow(actor, "show.edit", "edit cue lists")
        missing = sorted(
            {c.look for c in cue_list.cues if c.look and c.look not in self.engine.looks}
        )
        if missing:
            raise PlaybackError("\n".join(f'cues: look "{m}" does not exist' for m in missing))
        if self.library is not None:
            await self.library.put_cue_list(cue_list, note=note or EditNote(actor.name))
        self.engine.set_cue_list(cue_list)
        return await self._edited(actor, "cuelist.put", cue_list.name, note)

    async def delete_look(self, actor: Actor, name: str, *, note: EditNote | None = None) -> Result:
        """Refused by the store (Conflict) while a cue or schedule uses the look."""
        self._allow(actor, "show.edit", "edit looks")
        if name not in self.engine.looks:
            raise UnknownName(f'no look "{name}"')
        if self.library is not None:
            await self.library.delete_look(name, note=note or EditNote(actor.name))
        self.engine.remove_look(name)
        self.look_removed(name)
        return await self._edited(actor, "look.delete", name, note)

    async def delete_cue_list(
        self, actor: Actor, name: str, *, note: EditNote | None = None
    ) -> Result:
        """A running list is let go at once (no fade) before it goes."""
        self._allow(actor, "show.edit", "edit cue lists")
        self.engine.playback(name)
        if self.library is not None:
            await self.library.delete_cue_list(name, note=note or EditNote(actor.name))
        self.engine.release(name, self.now(), 0.0)
        self.engine.remove_cue_list(name, self.now())
        return await self._edited(actor, "cuelist.delete", name, note)

    async def replace_show(
        self,
        actor: Actor,
        show: ShowDef,
        write: Callable[[], Awaitable[None]],
        *,
        action: str,
        target: str,
    ) -> Result:
        """Swap the whole show's looks and cue lists (a rollback, an import): every look is
        checked first, then `write` stores the show (one transaction; a refusal there changes
        nothing), then the engine and renderer take it in one step between two frames. Lists
        that are gone are let go at once; the others keep playing on their new definitions."""
        self._allow(actor, "show.edit", "replace the show")
        if self.check_look is not None:
            problems = [
                f'looks[{i} "{look.name}"].{p}'
                for i, look in enumerate(show.looks)
                for p in self.check_look(look)
            ]
            if problems:
                raise PlaybackError("\n".join(problems))
        await write()
        looks = {look.name: look for look in show.looks}
        lists = {cl.name: cl for cl in show.cue_lists}
        e = self.engine
        with self.swap_lock:
            t = self.now()
            for name in [n for n in e.lists if n not in lists]:
                e.release(name, t, 0.0)
                e.remove_cue_list(name, t)
            for name in [n for n in e.looks if n not in looks]:
                e.remove_look(name)
                self.look_removed(name)
            for look in show.looks:
                if e.looks.get(look.name) != look:
                    e.set_look(look)
                    self.look_stored(look)
            for cl in show.cue_lists:
                pb = e.lists.get(cl.name)
                if pb is None or pb.defn != cl:
                    e.set_cue_list(cl)
        return await self._done(actor, action, target, "done")

    # --- the schedule (playout/schedule.py applies what core.schedule decides) -----------

    async def schedule_looks(self, actor: Actor, looks: Mapping[str, str], fade: float) -> Result:
        """The looks the schedule shows, canvas → look (canvases left out are let go)."""
        self._allow(actor, "playback", "run the schedule")
        targets: dict[str, Node] = {canvas: LookRef(look) for canvas, look in looks.items()}
        if targets == self.engine.schedule_targets:
            return Result("unchanged")
        self.engine.set_schedule_looks(self.now(), targets, fade)
        shown = dict(sorted(looks.items()))
        return await self._done(
            actor, "schedule.looks", ",".join(shown) or "-", "done", looks=shown, fade=fade
        )

    async def schedule_start(
        self,
        actor: Actor,
        cue_list: str,
        number: Decimal | None,
        *,
        since: float | None = None,
        fade: float | None = None,
        fresh: bool = False,
    ) -> Result:
        """Run `cue_list` at the schedule level from cue `number` (None: its first cue).

        `since` (a frame time in the past) starts an idle list as of then: follow and hang
        timers that fell due since run at their exact times, so the list shows the cue it would
        show had it started on time. `fresh` first drops whatever run the list had (a state
        restored at start-up, which the schedule re-derives instead)."""
        self._allow(actor, "playback", "run the schedule")
        e = self.engine
        pb = e.playback(cue_list)
        if number is None:
            if not pb.order:
                raise PlaybackError(f'cue list "{cue_list}" has no cues')
            number = pb.order[0]
        pb.cue(number)
        now = self.now()
        if fresh:
            e.remove_cue_list(cue_list, now)
            e.set_cue_list(pb.defn)
            pb = e.playback(cue_list)
        e.tick(now)  # what the next frame does anyway: lanes released by now are let go
        idle = pb.current is None and not pb.track.lanes
        t = min(now, since) if since is not None and idle else now
        out = e.goto(cue_list, t, number, fade, level="schedule")
        if t < now:
            e.tick(now)
        return await self._done(
            actor,
            "schedule.start",
            cue_list,
            out,
            cue=_s(pb.current),
            late_s=round(now - t, 3),
            fade=fade,
        )

    async def schedule_release(
        self, actor: Actor, cue_list: str, fade: float | None = None
    ) -> Result:
        """Let go of a list the schedule runs (one an operator took over is left alone)."""
        self._allow(actor, "playback", "run the schedule")
        if self.engine.levels.get(cue_list) != "schedule":
            return Result("unchanged")
        out = self.engine.release(cue_list, self.now(), fade)
        return await self._done(actor, "schedule.release", cue_list, out, fade=fade)

    # --- queries ------------------------------------------------------------------------

    def state(self, actor: Actor) -> dict[str, Any]:
        self._allow(actor, "read", "read the playback state")
        e, t = self.engine, self.now()
        lists = []
        for name, pb in e.lists.items():
            elapsed, remaining = pb.fade_times(t)
            lists.append(
                {
                    "name": name,
                    "label": pb.defn.label,
                    "priority": pb.defn.priority,
                    "mode": pb.defn.mode,
                    "level": e.levels.get(name, "cues"),
                    "current": _s(pb.current),
                    "pending": _s(pb.pending),
                    "paused": pb.track.paused,
                    "fading": pb.track.fading(t),
                    "progress": round(pb.progress(t), 4),
                    "elapsed_s": round(elapsed, 2),
                    "remaining_s": round(remaining, 2),
                    "canvases": sorted(pb.track.lanes),
                }
            )
        return {
            "revision": e.revision,
            "lists": lists,
            "parks": {c: target_doc(n) for c, n in e.park_targets.items()},
            # Who parked each canvas and how long ago ("" by: restored at start-up).
            "park_holders": {
                c: {"by": by, "for_s": round(t - since, 1)}
                for c, (by, since) in e.park_holders.items()
            },
            "schedule": {c: target_doc(n) for c, n in e.schedule_targets.items()},
            "overrides": [
                {
                    "id": o.id,
                    "priority": o.priority,
                    "owner": o.owner,
                    "canvases": sorted(o.track.lanes),
                    "expires_in": None if o.expires is None else round(o.expires - t, 3),
                }
                for o in e.overrides.values()
            ],
            "masters": {
                "grand": e.grand_master,
                "canvases": dict(e.canvas_masters),
                "blackout": e.blackout,
            },
            "emergency": {"engaged": e.emergency, "canvases": sorted(e.emergency_canvases)},
            # Per canvas, everything on the ladder that has something on it, top (what
            # shows) first: the UI's "why is this canvas this colour".
            "ladder": {c: e.contenders(c, t) for c in e.canvas_names},
        }


def _level(actor: Actor) -> Level:
    """The ladder level a cue list runs at when `actor` starts it."""
    if actor.origin == "schedule":
        return "schedule"
    return "rules" if actor.origin == "rule" else "cues"


def _s(n: Decimal | None) -> str | None:
    return None if n is None else str(n)


def _target(look: str | None, rgb: tuple[int, int, int] | None) -> Node:
    if (look is None) == (rgb is None):
        raise PlaybackError("give either a look or an rgb colour")
    if look is not None:
        return LookRef(look)
    assert rgb is not None
    if len(rgb) != 3 or not all(0 <= v <= 65535 for v in rgb):
        raise PlaybackError(f"rgb must be three 0..65535 values (got {list(rgb)})")
    return Solid(*rgb)


# Every verb is a "command <verb>" span when tracing is on (core/tracing.py).
for _verb, _fn in list(vars(Controller).items()):
    if inspect.iscoroutinefunction(_fn) and not _verb.startswith("_") and _verb != "persist":
        setattr(Controller, _verb, tracing.command(_fn))
