"""The schedule's command and query layer, for every interface (REST now, the socket API
later): entries edited through the store with roles and the audit log, the entries kept in
memory for the runtime (`playout/schedule.py`), and the questions "what plays at T, and why"
and "what changes in the next hours" (answered by the pure `core.schedule`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import trio

from trocadero.config.schema import SiteConfig

from .codec import from_plain, to_plain
from .commands import Actor, audit
from .edits import EditNote
from .model import ScheduleEntry
from .permissions import require
from .schedule.clock import MAX_TIMELINE_HOURS, zone
from .schedule.ical import parse_ical
from .schedule.resolve import Schedule, ShowIndex, timeline_doc, verdict_doc
from .storage import NotFound, Storage, ValidationError
from .storage.base import MAX_LIMIT

EDIT: Final = "schedule.edit"  # the seed: marketing schedules too
READ: Final = "read"
_ASSIGNED: Final = ("id", "created_by")  # the store and the caller's identity set these


class ScheduleService:
    def __init__(
        self,
        store: Storage,
        site: SiteConfig,
        *,
        horizon_s: float,
        show: Callable[[], ShowIndex],
        canvases: Callable[[], Sequence[str]] = tuple,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.site = site
        self.tz = zone(site.timezone)
        self.horizon = timedelta(seconds=horizon_s)
        self.show = show
        self.canvases = canvases
        self.wall = wall
        self.entries: dict[int, ScheduleEntry] = {}
        self._listeners: list[Callable[[], None]] = []

    # --- plumbing -------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read every entry from the store (paged)."""
        found: dict[int, ScheduleEntry] = {}
        cursor: str | None = None
        while True:
            page = await self.store.schedules.list_schedules(limit=MAX_LIMIT, cursor=cursor)
            found.update((e.id, e) for e in page.items)
            if page.next is None:
                break
            cursor = page.next
        self.entries = found
        self._changed()

    def set_entries(self, entries: Iterable[ScheduleEntry]) -> None:
        """Replace the entries in memory only (nothing is stored): for simulations and tests."""
        self.entries = {e.id: e for e in entries}
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    @staticmethod
    def _allow(actor: Actor, group: str, action: str) -> None:
        require(actor, group, action)

    async def _record(self, actor: Actor, action: str, target: str, **detail: Any) -> None:
        await audit(self.store.audit, actor, action, target, **detail)

    def schedule(self) -> Schedule:
        """The entries as they are now, compiled for the site and the current show."""
        return Schedule(
            self.entries.values(), self.site, self.show(), self.horizon, self.canvases()
        )

    def now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    # --- queries --------------------------------------------------------------------------------

    def list(self, actor: Actor) -> list[ScheduleEntry]:
        self._allow(actor, READ, "read the schedule")
        return sorted(self.entries.values(), key=lambda e: e.name)

    def get(self, actor: Actor, entry_id: int) -> ScheduleEntry:
        self._allow(actor, READ, "read the schedule")
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFound(f"no schedule {entry_id}")
        return entry

    async def why(self, actor: Actor, at: datetime | None = None) -> dict[str, Any]:
        """Per canvas at `at` (default now): the winning entry and those it beat, with why."""
        self._allow(actor, READ, "read the schedule")
        sched = self.schedule()
        verdict = await trio.to_thread.run_sync(sched.verdict, at or self.now_utc())
        return verdict_doc(verdict, self.tz)

    async def timeline(
        self, actor: Actor, start: datetime | None = None, hours: float = 24.0
    ) -> dict[str, Any]:
        """Segments and transitions per canvas from `start` (default now) for `hours`."""
        self._allow(actor, READ, "read the schedule")
        if not 0 < hours <= MAX_TIMELINE_HOURS:
            raise ValidationError([f"hours: must be above 0 and at most {MAX_TIMELINE_HOURS}"])
        lo = start or self.now_utc()
        sched = self.schedule()
        line = await trio.to_thread.run_sync(sched.timeline, lo, lo + timedelta(hours=hours))
        return timeline_doc(line, self.tz)

    # --- commands -------------------------------------------------------------------------------

    def _build(
        self, doc: Mapping[str, Any], actor: Actor, base: ScheduleEntry | None
    ) -> ScheduleEntry:
        if not isinstance(doc, Mapping):
            raise ValidationError([f"(top level): expected an object (got {type(doc).__name__})"])
        plain = {} if base is None else to_plain(base)
        plain.update({k: v for k, v in doc.items() if k not in _ASSIGNED})
        for key in _ASSIGNED:
            plain.pop(key, None)
        entry, problems = from_plain(ScheduleEntry, plain)
        if entry is None:
            raise ValidationError(problems)
        entry = replace(
            entry,
            id=0 if base is None else base.id,
            created_by=actor.name if base is None else base.created_by,
        )
        problems = self.show().problems(entry)
        if problems:
            raise ValidationError(problems)
        return entry

    async def create(
        self, actor: Actor, doc: Mapping[str, Any], *, note: EditNote | None = None
    ) -> ScheduleEntry:
        """A new entry; `note` (default: the actor's) puts the edit in the undo history."""
        self._allow(actor, EDIT, "edit the schedule")
        made = await self.store.schedules.create_schedule(
            self._build(doc, actor, None), note=note or EditNote(actor.name)
        )
        self.entries[made.id] = made
        await self._record(actor, "schedule.create", made.name, id=made.id)
        self._changed()
        return made

    async def update(
        self,
        actor: Actor,
        entry_id: int,
        doc: Mapping[str, Any],
        *,
        partial: bool,
        note: EditNote | None = None,
    ) -> ScheduleEntry:
        """Replace the entry (`partial`: only the fields given change)."""
        self._allow(actor, EDIT, "edit the schedule")
        old = await self.store.schedules.get_schedule(entry_id)
        entry = self._build(doc, actor, old if partial else replace(ScheduleEntry(), id=old.id))
        entry = replace(entry, id=old.id, created_by=old.created_by)
        saved = await self.store.schedules.update_schedule(entry, note=note or EditNote(actor.name))
        self.entries[saved.id] = saved
        changed = sorted(k for k, v in to_plain(saved).items() if to_plain(old).get(k) != v)
        await self._record(actor, "schedule.update", saved.name, id=saved.id, fields=changed)
        self._changed()
        return saved

    async def set_enabled(self, actor: Actor, entry_id: int, enabled: bool) -> ScheduleEntry:
        self._allow(actor, EDIT, "enable or disable schedule entries")
        old = await self.store.schedules.get_schedule(entry_id)
        if old.enabled == enabled:
            return old
        saved = await self.store.schedules.update_schedule(
            replace(old, enabled=enabled), note=EditNote(actor.name)
        )
        self.entries[saved.id] = saved
        action = "schedule.enable" if enabled else "schedule.disable"
        await self._record(actor, action, saved.name, id=saved.id)
        self._changed()
        return saved

    async def delete(self, actor: Actor, entry_id: int, *, note: EditNote | None = None) -> None:
        self._allow(actor, EDIT, "edit the schedule")
        old = await self.store.schedules.get_schedule(entry_id)
        await self.store.schedules.delete_schedule(entry_id, note=note or EditNote(actor.name))
        self.entries.pop(entry_id, None)
        await self._record(actor, "schedule.delete", old.name, id=entry_id)
        self._changed()

    async def import_ical(
        self,
        actor: Actor,
        text: str,
        template: Mapping[str, Any],
        *,
        replace_existing: bool = False,
    ) -> dict[str, Any]:
        """Create (or with `replace_existing`, update by name) an entry per VEVENT. Everything
        is checked before anything is written: any problem, and nothing is."""
        self._allow(actor, EDIT, "edit the schedule")
        base = self._build(
            {"name": "(import)", "dtstart": "2000-01-01T00:00:00+00:00", **template}, actor, None
        )
        result = parse_ical(text, site_timezone=self.site.timezone, template=base)
        problems = list(result.problems)
        by_name = {e.name: e for e in self.entries.values()}
        show = self.show()
        for entry in result.entries:
            problems += [f'VEVENT "{entry.name}": {p}' for p in show.problems(entry)]
            claims, problem = show.claims(entry)
            if problem and not claims:
                problems.append(f'VEVENT "{entry.name}": target: {problem}')
            if entry.name in by_name and not replace_existing:
                problems.append(
                    f'VEVENT "{entry.name}": a schedule with this name exists'
                    " (import with replace to update it)"
                )
        if problems:
            raise ValidationError(problems)
        created, updated = [], []
        for entry in result.entries:
            old = by_name.get(entry.name)
            if old is None:
                saved = await self.store.schedules.create_schedule(entry)
                created.append(saved.name)
            else:
                saved = await self.store.schedules.update_schedule(
                    replace(entry, id=old.id, created_by=old.created_by)
                )
                updated.append(saved.name)
            self.entries[saved.id] = saved
        await self._record(
            actor, "schedule.import", "ical", created=created, updated=updated,
            skipped=list(result.skipped),
        )  # fmt: skip
        self._changed()
        return {"created": created, "updated": updated, "skipped": list(result.skipped)}
