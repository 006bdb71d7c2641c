"""The show store: settings, looks, cue lists and cues, and the show as a whole (read, replace,
export and import as a show file, docs/show-file.md).

Every edit takes the show-wide lock and checks cross-references in the same transaction: a
look's canvases exist (the patch, patch.py), a cue's look exists, and nothing a cue or a
schedule (schedules.py) still uses is deleted. The whole show is read in one snapshot, in
chunks; replacing it rewrites the patch and, when given, the schedules in one transaction.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import trio

from trocadero.config.show import CueDef, CueListDef, LookDef, ShowDef

from ..codec import canonical_decimal
from ..edits import EditNote, EditRecord
from ..model import ScheduleEntry, ShowSettings
from ..rules import Rule
from . import showfile
from .base import DEFAULT_LIMIT, Conflict, NotFound, Page, ValidationError
from .driver import Row, Tx
from .history import read_last_edit, record_edit
from .patch import canvas_names, read_patch, write_patch
from .rules import read_rules, write_rules
from .schedules import SCHEDULES, read_schedules
from .sqlkit import (
    CHUNK,
    USED_BY_SHOWN,
    SqlPart,
    Table,
    all_rows,
    cue_number,
    exists,
    insert_many,
    keyset_page,
    marks,
    validated,
)

__all__ = ["ShowStore", "SqlShowStore"]

SETTINGS = Table("show_settings", ShowSettings)
LOOKS = Table("looks", LookDef)
CUE_LISTS = Table("cue_lists", CueListDef, exclude=("cues",))
CUES = Table("cues", CueDef, empty_is_null=("look",))


class ShowStore(ABC):
    # --- the whole show ---------------------------------------------------------------------------

    @abstractmethod
    async def get_show(self) -> ShowDef:
        """Settings, patch, looks and cue lists (with cues) as one `ShowDef`."""

    @abstractmethod
    async def replace_show(
        self,
        show: ShowDef,
        schedules: Sequence[ScheduleEntry] | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        """Replace everything show-related in one transaction (schedules and trigger rules
        too when given;
        otherwise the stored schedules are kept, and Conflict if the new show removes what
        they fire). `show.fixtures_csv` is ignored: its fixtures must be in `show.fixtures`
        (as `playout/showload.py` merges them). Raises ValidationError listing every problem;
        nothing is written then."""

    @abstractmethod
    async def export_show(self) -> dict[str, Any]:
        """The show file document (docs/show-file.md), read in one consistent snapshot."""

    @abstractmethod
    async def import_show(self, doc: Mapping[str, Any]) -> None:
        """Replace the show and the schedules with a show file document, in one transaction.

        Raises ValidationError listing every problem; the store is then untouched."""

    # --- settings ---------------------------------------------------------------------------------

    @abstractmethod
    async def get_settings(self) -> ShowSettings: ...

    @abstractmethod
    async def put_settings(self, settings: ShowSettings) -> None:
        """Idle/emergency stacks must name existing canvases (ValidationError)."""

    # --- looks ------------------------------------------------------------------------------------

    @abstractmethod
    async def put_look(self, look: LookDef, *, note: EditNote | None = None) -> bool:
        """Create or replace a look by name; True if it was created. With `note`, the edit
        goes in the edit history (so do the other edits' notes)."""

    @abstractmethod
    async def get_look(self, name: str) -> LookDef: ...

    @abstractmethod
    async def list_looks(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[LookDef]:
        """In name order."""

    @abstractmethod
    async def delete_look(self, name: str, *, note: EditNote | None = None) -> None:
        """Conflict while a cue or a schedule uses it."""

    # --- cue lists and cues -----------------------------------------------------------------------

    @abstractmethod
    async def put_cue_list(self, cue_list: CueListDef, *, note: EditNote | None = None) -> bool:
        """Create or replace a cue list with all its cues; True if it was created. A note
        naming a cue records the change of that cue alone."""

    @abstractmethod
    async def get_cue_list(self, name: str) -> CueListDef:
        """The list with every cue, in number order (read in chunks)."""

    @abstractmethod
    async def list_cue_lists(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueListDef]:
        """Headers only (`cues` is empty), in name order; use get_cue_list or list_cues."""

    @abstractmethod
    async def delete_cue_list(self, name: str, *, note: EditNote | None = None) -> None:
        """Deletes its cues too; Conflict while a schedule uses it."""

    @abstractmethod
    async def put_cue(self, cue_list: str, cue: CueDef) -> bool:
        """Create or replace cue (list, number); True if it was created."""

    @abstractmethod
    async def get_cue(self, cue_list: str, number: Decimal) -> CueDef: ...

    @abstractmethod
    async def list_cues(
        self, cue_list: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueDef]:
        """In number order (2 < 10 < 10.5)."""

    @abstractmethod
    async def delete_cue(self, cue_list: str, number: Decimal) -> None:
        """Conflict while another cue links to it or a schedule fires it."""

    # --- the edit history (core/edits.py) ---------------------------------------------------------

    @abstractmethod
    async def last_edit(self, actor: str) -> EditRecord | None:
        """`actor`'s newest recorded edit that no undo has reverted yet, or None."""


class SqlShowStore(SqlPart, ShowStore):
    # --- the whole show ---------------------------------------------------------------------------

    async def _read_settings(self, tx: Tx) -> ShowSettings:
        row = await tx.fetchrow(f"SELECT {SETTINGS.columns} FROM show_settings WHERE id = 1")
        return ShowSettings() if row is None else SETTINGS.decode(row, self._d)

    async def _read_cues(self, tx: Tx, cue_list: str) -> list[dict[str, Any]]:
        return [
            CUES.plain(r, self._d)
            async for r in all_rows(
                tx,
                select=f"SELECT {CUES.columns} FROM cues",
                key="number",
                where=["cue_list = ?"],
                args=[cue_list],
            )
        ]

    async def _read_cue_list(self, tx: Tx, header: Row) -> CueListDef:
        cues = await self._read_cues(tx, header["name"])
        return CUE_LISTS.decode(header, self._d, cues=cues)

    async def _read_show(self, tx: Tx) -> ShowDef:
        settings = await self._read_settings(tx)
        patch = await read_patch(tx)
        looks = [
            LOOKS.decode(r, self._d)
            async for r in all_rows(tx, select=f"SELECT {LOOKS.columns} FROM looks", key="name")
        ]
        headers = [
            r
            async for r in all_rows(
                tx, select=f"SELECT {CUE_LISTS.columns} FROM cue_lists", key="name"
            )
        ]
        cue_lists = [await self._read_cue_list(tx, h) for h in headers]
        return ShowDef(
            name=settings.name,
            grand_master=settings.grand_master,
            canvases=patch.canvases,
            fixture_types=patch.fixture_types,
            fixtures=patch.fixtures,
            idle=settings.idle,
            looks=tuple(looks),
            cue_lists=tuple(cue_lists),
            emergency=settings.emergency,
            safe_state=settings.safe_state,
        )

    async def get_show(self) -> ShowDef:
        async with self._read() as tx:
            return await self._read_show(tx)

    async def export_show(self) -> dict[str, Any]:
        async with self._read() as tx:
            show = await self._read_show(tx)
            schedules = await read_schedules(tx)
            rules = await read_rules(tx, self._d)
        return await trio.to_thread.run_sync(showfile.export_doc, show, schedules, rules)

    async def import_show(self, doc: Mapping[str, Any]) -> None:
        # Parsing compiles the patch: CPU work kept off the Trio thread.
        show, schedules = await trio.to_thread.run_sync(showfile.parse_doc, doc)
        rules = showfile.parse_rules(doc)
        await self._replace_show(show, schedules, rules)

    async def replace_show(
        self,
        show: ShowDef,
        schedules: Sequence[ScheduleEntry] | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        # A show loaded from TOML keeps its CSV path with the CSV's fixtures already merged in;
        # the store holds the fixtures themselves.
        show = await trio.to_thread.run_sync(validated, dataclasses.replace(show, fixtures_csv=""))
        entries = None if schedules is None else tuple(validated(s) for s in schedules)
        problems = await trio.to_thread.run_sync(showfile.check_show, show, entries or ())
        if problems:
            raise ValidationError(problems)
        await self._replace_show(show, entries, rules)

    async def _replace_show(
        self,
        show: ShowDef,
        schedules: Sequence[ScheduleEntry] | None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        d = self._d
        async with self._show_tx() as tx:
            if rules is not None:
                await write_rules(tx, d, rules)
            if schedules is None:  # kept: their targets must survive the new show
                lists = {cl.name for cl in show.cue_lists}
                looks = {lk.name for lk in show.looks}
                cues = {(cl.name, c.number) for cl in show.cue_lists for c in cl.cues}
                broken = [
                    f'schedule "{s.name}": {p}'
                    for s in await read_schedules(tx)
                    for p in showfile.check_schedule_target(s, lists, looks, cues)
                ]
                if broken:
                    raise Conflict("the new show removes what schedules use: " + "; ".join(broken))
            else:
                await tx.execute("DELETE FROM schedules")
            for table in ("cues", "cue_lists", "looks", "fixtures", "fixture_types", "canvases"):
                await tx.execute(f"DELETE FROM {table}")
            await self._write_settings(
                tx,
                ShowSettings(
                    name=show.name,
                    grand_master=show.grand_master,
                    safe_state=show.safe_state,
                    idle=show.idle,
                    emergency=show.emergency,
                ),
            )
            await write_patch(tx, show.canvases, show.fixture_types, show.fixtures)
            await insert_many(tx, LOOKS.insert_sql(), [LOOKS.encode(lk, d) for lk in show.looks])
            await insert_many(
                tx, CUE_LISTS.insert_sql(), [CUE_LISTS.encode(cl, d) for cl in show.cue_lists]
            )
            await insert_many(
                tx,
                CUES.insert_sql(("cue_list",)),
                [CUES.encode(c, d, (cl.name,)) for cl in show.cue_lists for c in cl.cues],
            )
            if schedules is not None:
                await insert_many(
                    tx, SCHEDULES.insert_sql(), [SCHEDULES.encode(s, d) for s in schedules]
                )

    # --- settings ---------------------------------------------------------------------------------

    async def _write_settings(self, tx: Tx, settings: ShowSettings) -> None:
        await tx.execute(
            SETTINGS.upsert_sql(("id",), extra=("id",)), *SETTINGS.encode(settings, self._d, (1,))
        )

    async def get_settings(self) -> ShowSettings:
        async with self._read() as tx:
            return await self._read_settings(tx)

    async def put_settings(self, settings: ShowSettings) -> None:
        settings = validated(settings)
        async with self._show_tx() as tx:
            canvases = await canvas_names(tx)
            problems = showfile.check_stacks("idle", settings.idle, canvases)
            problems += showfile.check_stacks("emergency", settings.emergency, canvases)
            if problems:
                raise ValidationError(problems)
            await self._write_settings(tx, settings)

    # --- looks ------------------------------------------------------------------------------------

    async def put_look(self, look: LookDef, *, note: EditNote | None = None) -> bool:
        look = validated(look)
        async with self._show_tx() as tx:
            problems = showfile.check_stacks("canvases", look.canvases, await canvas_names(tx))
            if problems:
                raise ValidationError(problems)
            old = await tx.fetchrow(f"SELECT {LOOKS.columns} FROM looks WHERE name = ?", look.name)
            await tx.execute(LOOKS.upsert_sql(("name",)), *LOOKS.encode(look, self._d))
            before = None if old is None else LOOKS.decode(old, self._d)
            await record_edit(tx, note, "look", look.name, before, look)
        return old is None

    async def get_look(self, name: str) -> LookDef:
        async with self._read() as tx:
            row = await tx.fetchrow(f"SELECT {LOOKS.columns} FROM looks WHERE name = ?", name)
        if row is None:
            raise NotFound(f'no look "{name}"')
        return LOOKS.decode(row, self._d)

    async def list_looks(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[LookDef]:
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {LOOKS.columns} FROM looks",
                key="name",
                kind="looks",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(LOOKS.decode(r, self._d) for r in rows), nxt)

    async def delete_look(self, name: str, *, note: EditNote | None = None) -> None:
        async with self._show_tx() as tx:
            old = await tx.fetchrow(f"SELECT {LOOKS.columns} FROM looks WHERE name = ?", name)
            if old is None:
                raise NotFound(f'no look "{name}"')
            cues = await tx.fetch(
                "SELECT cue_list, number FROM cues WHERE look = ? ORDER BY cue_list, number"
                " LIMIT ?",
                name,
                USED_BY_SHOWN,
            )
            schedules = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind = 'look' AND target = ?"
                " ORDER BY name LIMIT ?",
                name,
                USED_BY_SHOWN,
            )
            if cues or schedules:
                used = [
                    f"cue {r['cue_list']}/{canonical_decimal(self._d.dec_cue(r['number']))}"
                    for r in cues
                ]
                used += [f'schedule "{r["name"]}"' for r in schedules]
                raise Conflict(f'look "{name}" is in use by ' + ", ".join(used))
            await tx.execute("DELETE FROM looks WHERE name = ?", name)
            await record_edit(tx, note, "look", name, LOOKS.decode(old, self._d), None)

    # --- cue lists and cues -----------------------------------------------------------------------

    async def _missing_looks(self, tx: Tx, names: Iterable[str]) -> set[str]:
        wanted = sorted({n for n in names if n})
        found: set[str] = set()
        for i in range(0, len(wanted), CHUNK):
            part = wanted[i : i + CHUNK]
            rows = await tx.fetch(
                f"SELECT name FROM looks WHERE name IN ({marks(len(part))}) LIMIT ?",
                *part,
                len(part),
            )
            found |= {r["name"] for r in rows}
        return set(wanted) - found

    async def _cue_schedules(self, tx: Tx, cue_list: str, keep: set[Decimal] | None) -> list[str]:
        """Schedules firing cues of `cue_list` that are not in `keep` (None: any cue)."""
        used: list[str] = []
        async for r in all_rows(
            tx,
            select="SELECT name, cue FROM schedules",
            key="name",
            where=["target_kind = 'cue'", "target = ?"],
            args=[cue_list],
        ):
            number = Decimal(canonical_decimal(self._d.dec_cue(r["cue"])))
            if keep is None or number not in keep:
                used.append(f'schedule "{r["name"]}" fires cue {cue_list}/{number}')
        return used

    async def put_cue_list(self, cue_list: CueListDef, *, note: EditNote | None = None) -> bool:
        cl = validated(cue_list)
        d = self._d
        async with self._show_tx() as tx:
            missing = await self._missing_looks(tx, (c.look for c in cl.cues))
            problems = [
                f'cues[{j} cue {c.number}].look: no look "{c.look}"'
                for j, c in enumerate(cl.cues)
                if c.look in missing
            ]
            if problems:
                raise ValidationError(problems)
            header = await tx.fetchrow(
                f"SELECT {CUE_LISTS.columns} FROM cue_lists WHERE name = ?", cl.name
            )
            existed = header is not None
            # Read only for the history: a note asks for it.
            old = None if header is None or note is None else await self._read_cue_list(tx, header)
            if existed:
                used = await self._cue_schedules(tx, cl.name, {c.number for c in cl.cues})
                if used:
                    raise Conflict("cues still in use: " + "; ".join(used[:USED_BY_SHOWN]))
            await tx.execute(CUE_LISTS.upsert_sql(("name",)), *CUE_LISTS.encode(cl, d))
            await tx.execute("DELETE FROM cues WHERE cue_list = ?", cl.name)
            await insert_many(
                tx,
                CUES.insert_sql(("cue_list",)),
                [CUES.encode(c, d, (cl.name,)) for c in cl.cues],
            )
            await self._record_list_edit(tx, note, cl.name, old, cl)
        return not existed

    async def _record_list_edit(
        self, tx: Tx, note: EditNote | None, name: str, old: CueListDef | None, new: CueListDef
    ) -> None:
        if note is None or note.cue is None:
            await record_edit(tx, note, "cue_list", name, old, new)
            return
        n = note.cue
        before = next((c for c in old.cues if c.number == n), None) if old else None
        after = next((c for c in new.cues if c.number == n), None)
        await record_edit(tx, note, "cue", f"{name}/{canonical_decimal(n)}", before, after)

    async def _cue_list_header(self, tx: Tx, name: str) -> Row:
        row = await tx.fetchrow(f"SELECT {CUE_LISTS.columns} FROM cue_lists WHERE name = ?", name)
        if row is None:
            raise NotFound(f'no cue list "{name}"')
        return row

    async def get_cue_list(self, name: str) -> CueListDef:
        async with self._read() as tx:
            return await self._read_cue_list(tx, await self._cue_list_header(tx, name))

    async def list_cue_lists(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueListDef]:
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {CUE_LISTS.columns} FROM cue_lists",
                key="name",
                kind="cue_lists",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(CUE_LISTS.decode(r, self._d) for r in rows), nxt)

    async def delete_cue_list(self, name: str, *, note: EditNote | None = None) -> None:
        async with self._show_tx() as tx:
            header = await self._cue_list_header(tx, name)
            used = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind IN ('cue_list', 'cue')"
                " AND target = ? ORDER BY name LIMIT ?",
                name,
                USED_BY_SHOWN,
            )
            if used:
                names = ", ".join(f'schedule "{r["name"]}"' for r in used)
                raise Conflict(f'cue list "{name}" is used by {names}')
            old = None if note is None else await self._read_cue_list(tx, header)
            await tx.execute("DELETE FROM cues WHERE cue_list = ?", name)
            await tx.execute("DELETE FROM cue_lists WHERE name = ?", name)
            await record_edit(tx, note, "cue_list", name, old, None)

    async def put_cue(self, cue_list: str, cue: CueDef) -> bool:
        cue = validated(cue)
        d = self._d
        async with self._show_tx() as tx:
            await self._cue_list_header(tx, cue_list)
            problems: list[str] = []
            if cue.look and await self._missing_looks(tx, [cue.look]):
                problems.append(f'look: no look "{cue.look}"')
            if cue.link is not None and cue.link != cue.number:
                linked = await exists(
                    tx,
                    "SELECT 1 FROM cues WHERE cue_list = ? AND number = ?",
                    cue_list,
                    d.enc_cue(cue.link),
                )
                if not linked:
                    problems.append(f"link: no cue {cue.link} in this list")
            if problems:
                raise ValidationError(problems)
            existed = await exists(
                tx,
                "SELECT 1 FROM cues WHERE cue_list = ? AND number = ?",
                cue_list,
                d.enc_cue(cue.number),
            )
            await tx.execute(
                CUES.upsert_sql(("cue_list", "number"), extra=("cue_list",)),
                *CUES.encode(cue, d, (cue_list,)),
            )
        return not existed

    async def get_cue(self, cue_list: str, number: Decimal) -> CueDef:
        n = cue_number(number)
        async with self._read() as tx:
            await self._cue_list_header(tx, cue_list)
            row = await tx.fetchrow(
                f"SELECT {CUES.columns} FROM cues WHERE cue_list = ? AND number = ?",
                cue_list,
                self._d.enc_cue(n),
            )
        if row is None:
            raise NotFound(f'no cue {n} in cue list "{cue_list}"')
        return CUES.decode(row, self._d)

    async def list_cues(
        self, cue_list: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueDef]:
        d = self._d
        async with self._read() as tx:
            await self._cue_list_header(tx, cue_list)
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {CUES.columns} FROM cues",
                key="number",
                kind="cues:" + cue_list,
                cursor=cursor,
                limit=limit,
                where=["cue_list = ?"],
                args=[cue_list],
                enc_key=lambda v: d.enc_cue(cue_number(v)),
                dec_key=lambda v: canonical_decimal(d.dec_cue(v)),
            )
        return Page(tuple(CUES.decode(r, d) for r in rows), nxt)

    async def delete_cue(self, cue_list: str, number: Decimal) -> None:
        n = cue_number(number)
        d = self._d
        async with self._show_tx() as tx:
            await self._cue_list_header(tx, cue_list)
            where = "cue_list = ? AND number = ?"
            if not await exists(tx, f"SELECT 1 FROM cues WHERE {where}", cue_list, d.enc_cue(n)):
                raise NotFound(f'no cue {n} in cue list "{cue_list}"')
            links = await tx.fetch(
                "SELECT number FROM cues WHERE cue_list = ? AND link = ? AND number <> ?"
                " ORDER BY number LIMIT ?",
                cue_list,
                d.enc_cue(n),
                d.enc_cue(n),
                USED_BY_SHOWN,
            )
            used = [f"cue {canonical_decimal(d.dec_cue(r['number']))} links to it" for r in links]
            schedules = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind = 'cue' AND target = ? AND cue = ?"
                " ORDER BY name LIMIT ?",
                cue_list,
                d.enc_cue(n),
                USED_BY_SHOWN,
            )
            used += [f'schedule "{r["name"]}" fires it' for r in schedules]
            if used:
                raise Conflict(f"cue {cue_list}/{n} is in use: " + "; ".join(used))
            await tx.execute(f"DELETE FROM cues WHERE {where}", cue_list, d.enc_cue(n))

    # --- the edit history -------------------------------------------------------------------------

    async def last_edit(self, actor: str) -> EditRecord | None:
        async with self._read() as tx:
            return await read_last_edit(tx, actor)
