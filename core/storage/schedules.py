"""The schedule store: recurrence entries (docs/schedule.md), each firing a look, a cue list or
a cue that must exist. Edits take the show-wide lock, so a target cannot vanish between the
check and the write (the show store's deletes check the schedules under the same lock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..edits import EditNote, entry_doc
from ..model import ScheduleEntry
from .base import DEFAULT_LIMIT, Conflict, NotFound, Page, ValidationError, row_id
from .driver import Tx
from .history import record_edit
from .sqlkit import SqlPart, Table, all_rows, exists, keyset_page, validated

__all__ = ["SCHEDULES", "ScheduleStore", "SqlScheduleStore", "read_schedules"]

SCHEDULES = Table("schedules", ScheduleEntry, generated=("id",))


class ScheduleStore(ABC):
    @abstractmethod
    async def create_schedule(
        self, entry: ScheduleEntry, *, note: EditNote | None = None
    ) -> ScheduleEntry:
        """Store a new entry (its `id` is ignored and assigned); its target must exist."""

    @abstractmethod
    async def get_schedule(self, schedule_id: int) -> ScheduleEntry: ...

    @abstractmethod
    async def list_schedules(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        enabled: bool | None = None,
    ) -> Page[ScheduleEntry]:
        """In name order."""

    @abstractmethod
    async def update_schedule(
        self, entry: ScheduleEntry, *, note: EditNote | None = None
    ) -> ScheduleEntry:
        """Replace the entry with `entry.id`."""

    @abstractmethod
    async def delete_schedule(self, schedule_id: int, *, note: EditNote | None = None) -> None: ...


async def read_schedules(tx: Tx) -> list[ScheduleEntry]:
    """Every entry in name order (shared with the show store's export and replace)."""
    return [
        SCHEDULES.decode(r, tx.dialect)
        async for r in all_rows(tx, select=f"SELECT {SCHEDULES.columns} FROM schedules", key="name")
    ]


class SqlScheduleStore(SqlPart, ScheduleStore):
    async def _schedule_problems(self, tx: Tx, entry: ScheduleEntry) -> list[str]:
        kind = entry.target_kind
        if kind == "look":
            ok = await exists(tx, "SELECT 1 FROM looks WHERE name = ?", entry.target)
            return [] if ok else [f'target: no look "{entry.target}"']
        if not await exists(tx, "SELECT 1 FROM cue_lists WHERE name = ?", entry.target):
            return [f'target: no cue list "{entry.target}"']
        if kind == "cue" and entry.cue is not None:
            ok = await exists(
                tx,
                "SELECT 1 FROM cues WHERE cue_list = ? AND number = ?",
                entry.target,
                self._d.enc_cue(entry.cue),
            )
            return [] if ok else [f'cue: no cue {entry.cue} in cue list "{entry.target}"']
        return []

    async def _schedule(self, tx: Tx, schedule_id: int) -> ScheduleEntry:
        row = await tx.fetchrow(
            f"SELECT {SCHEDULES.columns} FROM schedules WHERE id = ?",
            row_id(schedule_id, "schedule"),
        )
        if row is None:
            raise NotFound(f"no schedule {schedule_id}")
        return SCHEDULES.decode(row, self._d)

    async def _schedule_name_free(self, tx: Tx, name: str, own_id: int) -> None:
        other = await tx.fetchval("SELECT id FROM schedules WHERE name = ?", name)
        if other is not None and int(other) != own_id:
            raise Conflict(f'a schedule named "{name}" already exists')

    async def create_schedule(
        self, entry: ScheduleEntry, *, note: EditNote | None = None
    ) -> ScheduleEntry:
        entry = validated(entry)
        async with self._show_tx() as tx:
            problems = await self._schedule_problems(tx, entry)
            if problems:
                raise ValidationError(problems)
            await self._schedule_name_free(tx, entry.name, 0)
            new_id = await tx.fetchval(
                SCHEDULES.insert_sql(returning="id"), *SCHEDULES.encode(entry, self._d)
            )
            made = await self._schedule(tx, int(new_id))
            await record_edit(tx, note, "schedule", made.name, None, entry_doc(made))
            return made

    async def get_schedule(self, schedule_id: int) -> ScheduleEntry:
        async with self._read() as tx:
            return await self._schedule(tx, schedule_id)

    async def list_schedules(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        enabled: bool | None = None,
    ) -> Page[ScheduleEntry]:
        where, args = ([], []) if enabled is None else (["enabled = ?"], [bool(enabled)])
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {SCHEDULES.columns} FROM schedules",
                key="name",
                kind="schedules",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
            )
        return Page(tuple(SCHEDULES.decode(r, self._d) for r in rows), nxt)

    async def update_schedule(
        self, entry: ScheduleEntry, *, note: EditNote | None = None
    ) -> ScheduleEntry:
        entry = validated(entry)
        async with self._show_tx() as tx:
            old = await self._schedule(tx, entry.id)
            problems = await self._schedule_problems(tx, entry)
            if problems:
                raise ValidationError(problems)
            await self._schedule_name_free(tx, entry.name, entry.id)
            await tx.execute(
                SCHEDULES.update_sql("id = ?"), *SCHEDULES.encode(entry, self._d), entry.id
            )
            saved = await self._schedule(tx, entry.id)
            await record_edit(tx, note, "schedule", saved.name, entry_doc(old), entry_doc(saved))
            return saved

    async def delete_schedule(self, schedule_id: int, *, note: EditNote | None = None) -> None:
        async with self._show_tx() as tx:
            old = await self._schedule(tx, schedule_id)
            await tx.execute("DELETE FROM schedules WHERE id = ?", int(schedule_id))
            await record_edit(tx, note, "schedule", old.name, entry_doc(old), None)
