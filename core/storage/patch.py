"""The patch store: canvases, fixture types and fixtures, kept in patch order (`position`).

The patch is written as a whole (or its fixtures from CSV) under the show-wide lock, after it
compiled: a canvas a look or the idle/emergency stacks still use cannot be removed. The row
helpers here (`read_patch`, `write_patch`, `canvas_names`) are shared with the show store,
which reads and replaces the patch as part of the whole show.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import trio

from trocadero.config.loader import ConfigError
from trocadero.config.show import CanvasDef, FixtureDef, FixtureTypeDef, ShowDef

from ..model import Patch
from ..patch import PatchError, compile_patch
from ..patch_csv import parse_patch_csv
from .base import Conflict, ValidationError
from .driver import Tx
from .sqlkit import USED_BY_SHOWN, SqlPart, Table, all_rows, insert_many, validated

__all__ = ["PatchStore", "SqlPatchStore", "canvas_names", "read_patch", "write_patch"]

CANVASES = Table("canvases", CanvasDef)
FIXTURE_TYPES = Table("fixture_types", FixtureTypeDef)
FIXTURES = Table("fixtures", FixtureDef, empty_is_null=("type",))


class PatchStore(ABC):
    @abstractmethod
    async def get_patch(self) -> Patch: ...

    @abstractmethod
    async def put_patch(
        self,
        canvases: Sequence[CanvasDef],
        fixture_types: Sequence[FixtureTypeDef],
        fixtures: Sequence[FixtureDef],
    ) -> None:
        """Replace the patch as a whole. ValidationError if it does not compile
        (`compile_patch`); Conflict if a removed canvas is still used by a look or the
        idle/emergency stacks."""

    @abstractmethod
    async def import_patch_csv(
        self, text: str, *, source: str = "patch.csv", replace: bool = True
    ) -> tuple[FixtureDef, ...]:
        """Fixtures from CSV (docs/patch-csv.md): replace all fixtures (or, with
        `replace=False`, add to them), keeping canvases and fixture types. The file is parsed
        and the resulting patch compiled before anything is written; ValidationError lists
        every problem. Returns the fixtures read."""


# --- rows (shared with the show store) ---------------------------------------------------------


async def read_patch(tx: Tx) -> Patch:
    d = tx.dialect
    canvases = [
        CANVASES.decode(r, d)
        async for r in all_rows(
            tx, select=f"SELECT position, {CANVASES.columns} FROM canvases", key="position"
        )
    ]
    types_ = [
        FIXTURE_TYPES.decode(r, d)
        async for r in all_rows(
            tx,
            select=f"SELECT position, {FIXTURE_TYPES.columns} FROM fixture_types",
            key="position",
        )
    ]
    fixtures = [
        FIXTURES.decode(r, d)
        async for r in all_rows(
            tx, select=f"SELECT position, {FIXTURES.columns} FROM fixtures", key="position"
        )
    ]
    return Patch(tuple(canvases), tuple(types_), tuple(fixtures))


async def write_patch(
    tx: Tx,
    canvases: Sequence[CanvasDef],
    fixture_types: Sequence[FixtureTypeDef],
    fixtures: Sequence[FixtureDef],
) -> None:
    d = tx.dialect
    for table in ("fixtures", "fixture_types", "canvases"):
        await tx.execute(f"DELETE FROM {table}")
    await insert_many(
        tx,
        CANVASES.insert_sql(("position",)),
        [CANVASES.encode(c, d, (i,)) for i, c in enumerate(canvases)],
    )
    await insert_many(
        tx,
        FIXTURE_TYPES.insert_sql(("position",)),
        [FIXTURE_TYPES.encode(t, d, (i,)) for i, t in enumerate(fixture_types)],
    )
    await insert_many(
        tx,
        FIXTURES.insert_sql(("position",)),
        [FIXTURES.encode(f, d, (i,)) for i, f in enumerate(fixtures)],
    )


async def canvas_names(tx: Tx) -> set[str]:
    return {r["name"] async for r in all_rows(tx, select="SELECT name FROM canvases", key="name")}


async def _canvas_users(tx: Tx, removed: set[str]) -> list[str]:
    """Looks and idle/emergency stacks that use any of the `removed` canvases."""
    if not removed:
        return []
    d = tx.dialect
    users: list[str] = []
    # The settings' stacks as stored (JSON), like the looks' below: the show store owns them.
    settings = await tx.fetchrow("SELECT idle, emergency FROM show_settings WHERE id = 1")
    for key in ("idle", "emergency"):
        stacks = [] if settings is None else d.dec_json(settings[key]) or []
        users += [f'{key} uses canvas "{s["canvas"]}"' for s in stacks if s["canvas"] in removed]
    async for r in all_rows(tx, select="SELECT name, canvases FROM looks", key="name"):
        for stack in d.dec_json(r["canvases"]):
            if stack.get("canvas") in removed:
                users.append(f'look "{r["name"]}" uses canvas "{stack["canvas"]}"')
    return users


def _parse_csv(text: str, source: str) -> tuple[FixtureDef, ...]:
    return parse_patch_csv(text, source=source)


async def compile_off_thread(show: ShowDef) -> None:
    """compile_patch off the Trio thread (it builds arrays for every pixel)."""
    try:
        await trio.to_thread.run_sync(compile_patch, show)
    except PatchError as exc:
        raise ValidationError(exc.problems) from exc


class SqlPatchStore(SqlPart, PatchStore):
    async def get_patch(self) -> Patch:
        async with self._read() as tx:
            return await read_patch(tx)

    async def put_patch(
        self,
        canvases: Sequence[CanvasDef],
        fixture_types: Sequence[FixtureTypeDef],
        fixtures: Sequence[FixtureDef],
    ) -> None:
        show = await trio.to_thread.run_sync(
            validated,
            ShowDef(
                canvases=tuple(canvases),
                fixture_types=tuple(fixture_types),
                fixtures=tuple(fixtures),
            ),
        )
        await compile_off_thread(show)
        async with self._show_tx() as tx:
            removed = await canvas_names(tx) - {c.name for c in show.canvases}
            users = await _canvas_users(tx, removed)
            if users:
                raise Conflict("canvases still in use: " + "; ".join(users[:USED_BY_SHOWN]))
            await write_patch(tx, show.canvases, show.fixture_types, show.fixtures)

    async def import_patch_csv(
        self, text: str, *, source: str = "patch.csv", replace: bool = True
    ) -> tuple[FixtureDef, ...]:
        try:
            parsed = await trio.to_thread.run_sync(_parse_csv, text, source)
        except ConfigError as exc:
            raise ValidationError(exc.problems) from exc
        async with self._show_tx() as tx:
            patch = await read_patch(tx)
            fixtures = parsed if replace else (*patch.fixtures, *parsed)
            await compile_off_thread(
                ShowDef(
                    canvases=patch.canvases, fixture_types=patch.fixture_types, fixtures=fixtures
                )
            )
            await tx.execute("DELETE FROM fixtures")
            await insert_many(
                tx,
                FIXTURES.insert_sql(("position",)),
                [FIXTURES.encode(f, self._d, (i,)) for i, f in enumerate(fixtures)],
            )
        return parsed
