"""The store's behaviour, written once over a `Driver` (SQLite or PostgreSQL).

Rules that hold on both backends:
- writes are validated first (dataclass rules via `core.codec`, then cross-references) and
  happen in one transaction; show edits also take a show-wide lock, so a check ("is this look
  still used?") and the write it guards cannot interleave with another writer;
- reads that span several pages (export, a cue list's cues) run in one snapshot, in chunks of
  `CHUNK` rows;
- listing order is deterministic: names in code-point order, cues by number, audit newest first.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import types
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

import trio

from trocadero.config.loader import ConfigError
from trocadero.config.show import (
    CUE_NUMBER_MAX,
    CUE_NUMBER_MIN,
    CanvasDef,
    CueDef,
    CueListDef,
    FixtureDef,
    FixtureTypeDef,
    LookDef,
    ShowDef,
)

from ..codec import canonical_decimal, from_plain, to_plain
from ..model import (
    AssetStatus,
    AssetVersion,
    AuditEntry,
    ContentAsset,
    Patch,
    Role,
    ScheduleEntry,
    ShowSettings,
    User,
)
from ..patch import PatchError, compile_patch
from ..patch_csv import parse_patch_csv
from . import showfile
from .base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Conflict,
    NotFound,
    Page,
    Storage,
    StorageError,
    ValidationError,
    row_id,
)
from .driver import Dialect, Driver, Row, Tx

if TYPE_CHECKING:
    from .devices import DeviceStore
    from .tokens import TokenStore
from .schema import current_version, migrate

T = TypeVar("T")

CHUNK: Final = 500
"""Rows per fetch or batch insert when a read or write spans many rows."""

_SHOW_LOCK: Final = 0x7472_6F63_0002  # advisory lock key for show edits ("troc")
_USED_BY_SHOWN: Final = 10  # a Conflict names at most this many users of an object


# --- row codecs --------------------------------------------------------------------------------


def _kind(tp: Any) -> str:
    """How a field is stored: cue (decimal), ts, json, bool or plain."""
    if get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        tp = inner[0] if len(inner) == 1 else tp
    if tp is Decimal:
        return "cue"
    if tp is datetime:
        return "ts"
    if tp is bool:
        return "bool"
    if tp in (int, float, str) or get_origin(tp) is Literal:
        return "plain"
    return "json"  # tuples, mappings, nested dataclasses


class Table(Generic[T]):
    """A dataclass stored one field per column (complex fields as JSON)."""

    def __init__(
        self,
        name: str,
        cls: type[T],
        *,
        exclude: Iterable[str] = (),
        empty_is_null: Iterable[str] = (),
        generated: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.cls = cls
        hints = get_type_hints(cls)
        skip = set(exclude)
        self.fields = tuple(f.name for f in dataclasses.fields(cls) if f.name not in skip)  # type: ignore[arg-type]
        self.kinds = {f: _kind(hints[f]) for f in self.fields}
        self.empty_is_null = frozenset(empty_is_null)
        self.generated = frozenset(generated)  # assigned by the database (id)
        self.columns = ", ".join(f'"{f}"' for f in self.fields)

    def writable(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f not in self.generated)

    def insert_sql(self, extra: Sequence[str] = (), *, returning: str = "") -> str:
        cols = [*extra, *self.writable()]
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        tail = f" RETURNING {returning}" if returning else ""
        return f"INSERT INTO {self.name} ({names}) VALUES ({marks}){tail}"

    def upsert_sql(self, conflict: Sequence[str], extra: Sequence[str] = ()) -> str:
        cols = [*extra, *self.writable()]
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in conflict)
        keys = ", ".join(f'"{c}"' for c in conflict)
        return f"{self.insert_sql(extra)} ON CONFLICT ({keys}) DO UPDATE SET {sets}"

    def update_sql(self, where: str) -> str:
        sets = ", ".join(f'"{c}" = ?' for c in self.writable())
        return f"UPDATE {self.name} SET {sets} WHERE {where}"

    def encode(self, obj: T, d: Dialect, extra: Sequence[Any] = ()) -> list[Any]:
        out: list[Any] = list(extra)
        for f in self.writable():
            value = getattr(obj, f)
            kind = self.kinds[f]
            if value is None or (f in self.empty_is_null and value == ""):
                out.append(None)
            elif kind == "cue":
                out.append(d.enc_cue(value))
            elif kind == "ts":
                out.append(d.enc_ts(value))
            elif kind == "json":
                out.append(d.enc_json(to_plain(value)))
            else:
                out.append(value)
        return out

    def plain(self, row: Row, d: Dialect) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            if f not in row:
                continue
            value = row[f]
            kind = self.kinds[f]
            if value is None:
                out[f] = "" if f in self.empty_is_null else None
            elif kind == "cue":
                out[f] = canonical_decimal(d.dec_cue(value))
            elif kind == "ts":
                out[f] = d.dec_ts(value)
            elif kind == "json":
                out[f] = d.dec_json(value)
            elif kind == "bool":
                out[f] = bool(value)
            else:
                out[f] = value
        return out

    def decode(self, row: Row, d: Dialect, **more: Any) -> T:
        plain = self.plain(row, d)
        plain.update(more)
        try:
            built: T = rebuild(self.cls, plain)
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise StorageError(f"{self.name}: a stored row is unreadable: {exc}") from exc
        return built


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def rebuild(tp: Any, value: Any) -> Any:
    """A dataclass from plain values that were validated on their way into the store.

    Reads skip the loader's checks (they cost ~0.5 ms an object, far too much for a patch of
    thousands of fixtures on the Trio thread); the types are restored exactly as the loader
    makes them (tuples, read-only mappings, Decimal cue numbers).
    """
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return rebuild(inner[0], value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{k: rebuild(hints[k], v) for k, v in value.items() if k in hints})
    if origin is tuple:
        item = get_args(tp)[0]
        return tuple(rebuild(item, v) for v in value)
    if tp is Mapping or origin is Mapping:
        return types.MappingProxyType(dict(value))
    if tp is Decimal:
        return Decimal(str(value))
    if tp is float:
        return float(value)
    return value


CANVASES = Table("canvases", CanvasDef)
FIXTURE_TYPES = Table("fixture_types", FixtureTypeDef)
FIXTURES = Table("fixtures", FixtureDef, empty_is_null=("type",))
LOOKS = Table("looks", LookDef)
CUE_LISTS = Table("cue_lists", CueListDef, exclude=("cues",))
CUES = Table("cues", CueDef, empty_is_null=("look",))
SCHEDULES = Table("schedules", ScheduleEntry, generated=("id",))
ASSETS = Table("content_assets", ContentAsset, generated=("id",))
ASSET_VERSIONS = Table("content_asset_versions", AssetVersion)
USERS = Table("users", User, generated=("id",))
AUDIT = Table("audit_log", AuditEntry, generated=("id",))
SETTINGS = Table("show_settings", ShowSettings)


# --- helpers -----------------------------------------------------------------------------------


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError([f"limit: must be between 1 and {MAX_LIMIT} (got {limit!r})"])
    return limit


def encode_cursor(kind: str, value: Any) -> str:
    raw = json.dumps([kind, value], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> Any:
    """The position a cursor of `kind` stands for, or None for the first page."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_kind, value = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        found_kind, value = None, None
    if found_kind != kind or value is None:
        raise ValidationError([f"cursor: not a cursor of this listing (got {cursor!r})"])
    return value


def validated(obj: T) -> T:
    """`obj` re-built through the codec: ranges, allowed words and `validate()` rules apply to
    objects made in code just as to objects read from a file; cue numbers become canonical."""
    try:
        plain = to_plain(obj)
    except (TypeError, ValueError) as exc:
        raise ValidationError([f"(top level): {exc}"]) from exc
    built, problems = from_plain(type(obj), plain)
    if built is None:
        raise ValidationError(problems)
    return built


def cue_number(number: Decimal | str | int) -> Decimal:
    """A cue number argument, checked (three decimals at most, in range)."""
    try:
        d = Decimal(str(number))
    except InvalidOperation:
        raise ValidationError([f"number: not a cue number (got {number!r})"]) from None
    if (
        not d.is_finite()
        or d != d.quantize(Decimal("0.001"))
        or not (CUE_NUMBER_MIN <= d <= CUE_NUMBER_MAX)
    ):
        raise ValidationError(
            [f"number: must be 0.001..9999.999 with at most three decimals (got {number!r})"]
        )
    return Decimal(canonical_decimal(d))


def _aware(at: datetime, key: str) -> datetime:
    if at.tzinfo is None:
        raise ValidationError([f"{key}: needs a UTC offset (got naive {at.isoformat()})"])
    return at.astimezone(UTC)


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


class SqlStorage(Storage):
    """`Storage` over a `Driver`; the backends differ only in their driver."""

    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self._d = driver.dialect
        self.backend = driver.dialect.name

    async def _migrate(self) -> None:
        await migrate(self._db)

    @functools.cached_property
    def devices(self) -> DeviceStore:
        from .devices import SqlDeviceStore  # devices.py uses this module's paging helpers

        return SqlDeviceStore(self._db)

    @functools.cached_property
    def tokens(self) -> TokenStore:
        from .tokens import SqlTokenStore

        return SqlTokenStore(self._db)

    @asynccontextmanager
    async def _show_tx(self) -> AsyncIterator[Tx]:
        async with self._db.transaction(write=True) as tx:
            await tx.lock(_SHOW_LOCK)
            yield tx

    def _read(self) -> AbstractAsyncContextManager[Tx]:
        return self._db.transaction(write=False)

    # --- paging --------------------------------------------------------------------------------

    async def _page(
        self,
        tx: Tx,
        *,
        select: str,
        key: str,
        kind: str,
        cursor: str | None,
        limit: int,
        where: Sequence[str] = (),
        args: Sequence[Any] = (),
        desc: bool = False,
        enc_key: Callable[[Any], Any] = lambda v: v,
        dec_key: Callable[[Any], Any] = lambda v: v,
    ) -> tuple[list[Row], str | None]:
        """One keyset page: rows after the cursor's key, and the next cursor (or None)."""
        check_limit(limit)
        conds = list(where)
        params = list(args)
        after = decode_cursor(kind, cursor)
        if after is not None:
            conds.append(f"{key} {'<' if desc else '>'} ?")
            params.append(enc_key(after))
        sql = select
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += f" ORDER BY {key}{' DESC' if desc else ''} LIMIT ?"
        rows = await tx.fetch(sql, *params, limit + 1)
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        bare = key.strip('"')
        return rows, encode_cursor(kind, dec_key(rows[-1][bare]))

    async def _all(
        self,
        tx: Tx,
        *,
        select: str,
        key: str,
        where: Sequence[str] = (),
        args: Sequence[Any] = (),
    ) -> AsyncIterator[Row]:
        """Every row, fetched CHUNK at a time in key order (within the caller's snapshot)."""
        bare = key.strip('"')
        after: Any = None
        while True:
            conds = list(where)
            params = list(args)
            if after is not None:
                conds.append(f"{key} > ?")
                params.append(after)
            sql = select + (" WHERE " + " AND ".join(conds) if conds else "")
            rows = await tx.fetch(f"{sql} ORDER BY {key} LIMIT ?", *params, CHUNK)
            for row in rows:
                yield row
            if len(rows) < CHUNK:
                return
            after = rows[-1][bare]

    async def _insert_many(self, tx: Tx, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for i in range(0, len(rows), CHUNK):
            await tx.executemany(sql, rows[i : i + CHUNK])

    # --- the whole show ------------------------------------------------------------------------

    async def _read_settings(self, tx: Tx) -> ShowSettings:
        row = await tx.fetchrow(f"SELECT {SETTINGS.columns} FROM show_settings WHERE id = 1")
        return ShowSettings() if row is None else SETTINGS.decode(row, self._d)

    async def _read_patch(self, tx: Tx) -> Patch:
        canvases = [
            CANVASES.decode(r, self._d)
            async for r in self._all(
                tx, select=f"SELECT position, {CANVASES.columns} FROM canvases", key="position"
            )
        ]
        types_ = [
            FIXTURE_TYPES.decode(r, self._d)
            async for r in self._all(
                tx,
                select=f"SELECT position, {FIXTURE_TYPES.columns} FROM fixture_types",
                key="position",
            )
        ]
        fixtures = [
            FIXTURES.decode(r, self._d)
            async for r in self._all(
                tx, select=f"SELECT position, {FIXTURES.columns} FROM fixtures", key="position"
            )
        ]
        return Patch(tuple(canvases), tuple(types_), tuple(fixtures))

    async def _read_cues(self, tx: Tx, cue_list: str) -> list[dict[str, Any]]:
        return [
            CUES.plain(r, self._d)
            async for r in self._all(
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
        patch = await self._read_patch(tx)
        looks = [
            LOOKS.decode(r, self._d)
            async for r in self._all(tx, select=f"SELECT {LOOKS.columns} FROM looks", key="name")
        ]
        headers = [
            r
            async for r in self._all(
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

    async def _read_schedules(self, tx: Tx) -> list[ScheduleEntry]:
        return [
            SCHEDULES.decode(r, self._d)
            async for r in self._all(
                tx, select=f"SELECT {SCHEDULES.columns} FROM schedules", key="name"
            )
        ]

    async def get_show(self) -> ShowDef:
        async with self._read() as tx:
            return await self._read_show(tx)

    async def export_show(self) -> dict[str, Any]:
        async with self._read() as tx:
            show = await self._read_show(tx)
            schedules = await self._read_schedules(tx)
        return await trio.to_thread.run_sync(showfile.export_doc, show, schedules)

    async def import_show(self, doc: Mapping[str, Any]) -> None:
        # Parsing compiles the patch: CPU work kept off the Trio thread.
        show, schedules = await trio.to_thread.run_sync(showfile.parse_doc, doc)
        await self._replace_show(show, schedules)

    async def replace_show(
        self, show: ShowDef, schedules: Sequence[ScheduleEntry] | None = None
    ) -> None:
        # A show loaded from TOML keeps its CSV path with the CSV's fixtures already merged in;
        # the store holds the fixtures themselves.
        show = await trio.to_thread.run_sync(validated, dataclasses.replace(show, fixtures_csv=""))
        entries = None if schedules is None else tuple(validated(s) for s in schedules)
        problems = await trio.to_thread.run_sync(showfile.check_show, show, entries or ())
        if problems:
            raise ValidationError(problems)
        await self._replace_show(show, entries)

    async def _replace_show(self, show: ShowDef, schedules: Sequence[ScheduleEntry] | None) -> None:
        d = self._d
        async with self._show_tx() as tx:
            if schedules is None:  # kept: their targets must survive the new show
                lists = {cl.name for cl in show.cue_lists}
                looks = {lk.name for lk in show.looks}
                cues = {(cl.name, c.number) for cl in show.cue_lists for c in cl.cues}
                broken = [
                    f'schedule "{s.name}": {p}'
                    for s in await self._read_schedules(tx)
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
            await self._write_patch(tx, show.canvases, show.fixture_types, show.fixtures)
            await self._insert_many(
                tx, LOOKS.insert_sql(), [LOOKS.encode(lk, d) for lk in show.looks]
            )
            await self._insert_many(
                tx, CUE_LISTS.insert_sql(), [CUE_LISTS.encode(cl, d) for cl in show.cue_lists]
            )
            await self._insert_many(
                tx,
                CUES.insert_sql(("cue_list",)),
                [CUES.encode(c, d, (cl.name,)) for cl in show.cue_lists for c in cl.cues],
            )
            if schedules is not None:
                await self._insert_many(
                    tx, SCHEDULES.insert_sql(), [SCHEDULES.encode(s, d) for s in schedules]
                )

    # --- settings and patch --------------------------------------------------------------------

    async def _canvas_names(self, tx: Tx) -> set[str]:
        return {
            r["name"] async for r in self._all(tx, select="SELECT name FROM canvases", key="name")
        }

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
            canvases = await self._canvas_names(tx)
            problems = showfile.check_stacks("idle", settings.idle, canvases)
            problems += showfile.check_stacks("emergency", settings.emergency, canvases)
            if problems:
                raise ValidationError(problems)
            await self._write_settings(tx, settings)

    async def get_patch(self) -> Patch:
        async with self._read() as tx:
            return await self._read_patch(tx)

    async def _write_patch(
        self,
        tx: Tx,
        canvases: Sequence[CanvasDef],
        fixture_types: Sequence[FixtureTypeDef],
        fixtures: Sequence[FixtureDef],
    ) -> None:
        d = self._d
        for table in ("fixtures", "fixture_types", "canvases"):
            await tx.execute(f"DELETE FROM {table}")
        await self._insert_many(
            tx,
            CANVASES.insert_sql(("position",)),
            [CANVASES.encode(c, d, (i,)) for i, c in enumerate(canvases)],
        )
        await self._insert_many(
            tx,
            FIXTURE_TYPES.insert_sql(("position",)),
            [FIXTURE_TYPES.encode(t, d, (i,)) for i, t in enumerate(fixture_types)],
        )
        await self._insert_many(
            tx,
            FIXTURES.insert_sql(("position",)),
            [FIXTURES.encode(f, d, (i,)) for i, f in enumerate(fixtures)],
        )

    async def _canvas_users(self, tx: Tx, removed: set[str]) -> list[str]:
        """Looks and idle/emergency stacks that use any of the `removed` canvases."""
        if not removed:
            return []
        users: list[str] = []
        settings = await self._read_settings(tx)
        for key, stacks in (("idle", settings.idle), ("emergency", settings.emergency)):
            users += [f'{key} uses canvas "{s.canvas}"' for s in stacks if s.canvas in removed]
        async for r in self._all(tx, select="SELECT name, canvases FROM looks", key="name"):
            for stack in self._d.dec_json(r["canvases"]):
                if stack.get("canvas") in removed:
                    users.append(f'look "{r["name"]}" uses canvas "{stack["canvas"]}"')
        return users

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
        await _compile(show)
        async with self._show_tx() as tx:
            removed = await self._canvas_names(tx) - {c.name for c in show.canvases}
            users = await self._canvas_users(tx, removed)
            if users:
                raise Conflict("canvases still in use: " + "; ".join(users[:_USED_BY_SHOWN]))
            await self._write_patch(tx, show.canvases, show.fixture_types, show.fixtures)

    async def import_patch_csv(
        self, text: str, *, source: str = "patch.csv", replace: bool = True
    ) -> tuple[FixtureDef, ...]:
        try:
            parsed = await trio.to_thread.run_sync(_parse_csv, text, source)
        except ConfigError as exc:
            raise ValidationError(exc.problems) from exc
        async with self._show_tx() as tx:
            patch = await self._read_patch(tx)
            fixtures = parsed if replace else (*patch.fixtures, *parsed)
            await _compile(
                ShowDef(
                    canvases=patch.canvases, fixture_types=patch.fixture_types, fixtures=fixtures
                )
            )
            await tx.execute("DELETE FROM fixtures")
            await self._insert_many(
                tx,
                FIXTURES.insert_sql(("position",)),
                [FIXTURES.encode(f, self._d, (i,)) for i, f in enumerate(fixtures)],
            )
        return parsed

    # --- looks ---------------------------------------------------------------------------------

    async def _exists(self, tx: Tx, sql: str, *args: Any) -> bool:
        return await tx.fetchrow(sql, *args) is not None

    async def put_look(self, look: LookDef) -> bool:
        look = validated(look)
        async with self._show_tx() as tx:
            problems = showfile.check_stacks(
                "canvases", look.canvases, await self._canvas_names(tx)
            )
            if problems:
                raise ValidationError(problems)
            existed = await self._exists(tx, "SELECT 1 FROM looks WHERE name = ?", look.name)
            await tx.execute(LOOKS.upsert_sql(("name",)), *LOOKS.encode(look, self._d))
        return not existed

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
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {LOOKS.columns} FROM looks",
                key="name",
                kind="looks",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(LOOKS.decode(r, self._d) for r in rows), nxt)

    async def delete_look(self, name: str) -> None:
        async with self._show_tx() as tx:
            if not await self._exists(tx, "SELECT 1 FROM looks WHERE name = ?", name):
                raise NotFound(f'no look "{name}"')
            cues = await tx.fetch(
                "SELECT cue_list, number FROM cues WHERE look = ? ORDER BY cue_list, number"
                " LIMIT ?",
                name,
                _USED_BY_SHOWN,
            )
            schedules = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind = 'look' AND target = ?"
                " ORDER BY name LIMIT ?",
                name,
                _USED_BY_SHOWN,
            )
            if cues or schedules:
                used = [
                    f"cue {r['cue_list']}/{canonical_decimal(self._d.dec_cue(r['number']))}"
                    for r in cues
                ]
                used += [f'schedule "{r["name"]}"' for r in schedules]
                raise Conflict(f'look "{name}" is in use by ' + ", ".join(used))
            await tx.execute("DELETE FROM looks WHERE name = ?", name)

    # --- cue lists and cues --------------------------------------------------------------------

    async def _missing_looks(self, tx: Tx, names: Iterable[str]) -> set[str]:
        wanted = sorted({n for n in names if n})
        found: set[str] = set()
        for i in range(0, len(wanted), CHUNK):
            part = wanted[i : i + CHUNK]
            rows = await tx.fetch(
                f"SELECT name FROM looks WHERE name IN ({_marks(len(part))}) LIMIT ?",
                *part,
                len(part),
            )
            found |= {r["name"] for r in rows}
        return set(wanted) - found

    async def _cue_schedules(self, tx: Tx, cue_list: str, keep: set[Decimal] | None) -> list[str]:
        """Schedules firing cues of `cue_list` that are not in `keep` (None: any cue)."""
        used: list[str] = []
        async for r in self._all(
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

    async def put_cue_list(self, cue_list: CueListDef) -> bool:
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
            existed = await self._exists(tx, "SELECT 1 FROM cue_lists WHERE name = ?", cl.name)
            if existed:
                used = await self._cue_schedules(tx, cl.name, {c.number for c in cl.cues})
                if used:
                    raise Conflict("cues still in use: " + "; ".join(used[:_USED_BY_SHOWN]))
            await tx.execute(CUE_LISTS.upsert_sql(("name",)), *CUE_LISTS.encode(cl, d))
            await tx.execute("DELETE FROM cues WHERE cue_list = ?", cl.name)
            await self._insert_many(
                tx,
                CUES.insert_sql(("cue_list",)),
                [CUES.encode(c, d, (cl.name,)) for c in cl.cues],
            )
        return not existed

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
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {CUE_LISTS.columns} FROM cue_lists",
                key="name",
                kind="cue_lists",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(CUE_LISTS.decode(r, self._d) for r in rows), nxt)

    async def delete_cue_list(self, name: str) -> None:
        async with self._show_tx() as tx:
            await self._cue_list_header(tx, name)
            used = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind IN ('cue_list', 'cue')"
                " AND target = ? ORDER BY name LIMIT ?",
                name,
                _USED_BY_SHOWN,
            )
            if used:
                names = ", ".join(f'schedule "{r["name"]}"' for r in used)
                raise Conflict(f'cue list "{name}" is used by {names}')
            await tx.execute("DELETE FROM cues WHERE cue_list = ?", name)
            await tx.execute("DELETE FROM cue_lists WHERE name = ?", name)

    async def put_cue(self, cue_list: str, cue: CueDef) -> bool:
        cue = validated(cue)
        d = self._d
        async with self._show_tx() as tx:
            await self._cue_list_header(tx, cue_list)
            problems: list[str] = []
            if cue.look and await self._missing_looks(tx, [cue.look]):
                problems.append(f'look: no look "{cue.look}"')
            if cue.link is not None and cue.link != cue.number:
                linked = await self._exists(
                    tx,
                    "SELECT 1 FROM cues WHERE cue_list = ? AND number = ?",
                    cue_list,
                    d.enc_cue(cue.link),
                )
                if not linked:
                    problems.append(f"link: no cue {cue.link} in this list")
            if problems:
                raise ValidationError(problems)
            existed = await self._exists(
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
            rows, nxt = await self._page(
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
            if not await self._exists(
                tx, f"SELECT 1 FROM cues WHERE {where}", cue_list, d.enc_cue(n)
            ):
                raise NotFound(f'no cue {n} in cue list "{cue_list}"')
            links = await tx.fetch(
                "SELECT number FROM cues WHERE cue_list = ? AND link = ? AND number <> ?"
                " ORDER BY number LIMIT ?",
                cue_list,
                d.enc_cue(n),
                d.enc_cue(n),
                _USED_BY_SHOWN,
            )
            used = [f"cue {canonical_decimal(d.dec_cue(r['number']))} links to it" for r in links]
            schedules = await tx.fetch(
                "SELECT name FROM schedules WHERE target_kind = 'cue' AND target = ? AND cue = ?"
                " ORDER BY name LIMIT ?",
                cue_list,
                d.enc_cue(n),
                _USED_BY_SHOWN,
            )
            used += [f'schedule "{r["name"]}" fires it' for r in schedules]
            if used:
                raise Conflict(f"cue {cue_list}/{n} is in use: " + "; ".join(used))
            await tx.execute(f"DELETE FROM cues WHERE {where}", cue_list, d.enc_cue(n))

    # --- schedules -----------------------------------------------------------------------------

    async def _schedule_problems(self, tx: Tx, entry: ScheduleEntry) -> list[str]:
        d = self._d
        kind = entry.target_kind
        if kind == "look":
            ok = await self._exists(tx, "SELECT 1 FROM looks WHERE name = ?", entry.target)
            return [] if ok else [f'target: no look "{entry.target}"']
        if not await self._exists(tx, "SELECT 1 FROM cue_lists WHERE name = ?", entry.target):
            return [f'target: no cue list "{entry.target}"']
        if kind == "cue" and entry.cue is not None:
            ok = await self._exists(
                tx,
                "SELECT 1 FROM cues WHERE cue_list = ? AND number = ?",
                entry.target,
                d.enc_cue(entry.cue),
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

    async def create_schedule(self, entry: ScheduleEntry) -> ScheduleEntry:
        entry = validated(entry)
        async with self._show_tx() as tx:
            problems = await self._schedule_problems(tx, entry)
            if problems:
                raise ValidationError(problems)
            await self._schedule_name_free(tx, entry.name, 0)
            new_id = await tx.fetchval(
                SCHEDULES.insert_sql(returning="id"), *SCHEDULES.encode(entry, self._d)
            )
            return await self._schedule(tx, int(new_id))

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
            rows, nxt = await self._page(
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

    async def update_schedule(self, entry: ScheduleEntry) -> ScheduleEntry:
        entry = validated(entry)
        async with self._show_tx() as tx:
            await self._schedule(tx, entry.id)
            problems = await self._schedule_problems(tx, entry)
            if problems:
                raise ValidationError(problems)
            await self._schedule_name_free(tx, entry.name, entry.id)
            await tx.execute(
                SCHEDULES.update_sql("id = ?"), *SCHEDULES.encode(entry, self._d), entry.id
            )
            return await self._schedule(tx, entry.id)

    async def delete_schedule(self, schedule_id: int) -> None:
        async with self._show_tx() as tx:
            await self._schedule(tx, schedule_id)
            await tx.execute("DELETE FROM schedules WHERE id = ?", int(schedule_id))

    # --- content assets ------------------------------------------------------------------------

    async def _asset(self, tx: Tx, asset_id: int) -> ContentAsset:
        row = await tx.fetchrow(
            f"SELECT {ASSETS.columns} FROM content_assets WHERE id = ?",
            row_id(asset_id, "content asset"),
        )
        if row is None:
            raise NotFound(f"no content asset {asset_id}")
        return ASSETS.decode(row, self._d)

    async def create_asset(
        self,
        *,
        name: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        now = datetime.now(UTC)
        asset = validated(
            ContentAsset(
                name=name,
                filename=filename,
                content_type=content_type,
                size=size,
                sha256=sha256,
                status="pending",
                version=1,
                metadata=types.MappingProxyType(dict(metadata or {})),
                created_at=now,
                created_by=created_by,
            )
        )
        d = self._d
        async with self._db.transaction(write=True) as tx:
            new_id = int(
                await tx.fetchval(ASSETS.insert_sql(returning="id"), *ASSETS.encode(asset, d))
            )
            version = AssetVersion(new_id, 1, filename, content_type, size, sha256, now, created_by)
            await tx.execute(ASSET_VERSIONS.insert_sql(), *ASSET_VERSIONS.encode(version, d))
            return await self._asset(tx, new_id)

    async def get_asset(self, asset_id: int) -> ContentAsset:
        async with self._read() as tx:
            return await self._asset(tx, asset_id)

    async def list_assets(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        status: AssetStatus | None = None,
    ) -> Page[ContentAsset]:
        where, args = ([], []) if status is None else (["status = ?"], [status])
        async with self._read() as tx:
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {ASSETS.columns} FROM content_assets",
                key="id",
                kind="assets",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
            )
        return Page(tuple(ASSETS.decode(r, self._d) for r in rows), nxt)

    async def update_asset(
        self,
        asset_id: int,
        *,
        name: str | None = None,
        status: AssetStatus | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        async with self._db.transaction(write=True) as tx:
            asset = await self._asset(tx, asset_id)
            changes: dict[str, Any] = {}
            if name is not None:
                changes["name"] = name
            if status is not None:
                changes["status"] = status
                if status == "approved":  # the newest version becomes the one that plays
                    changes["live_version"] = asset.version
                    changes["live_filename"] = asset.filename
            if metadata is not None:
                changes["metadata"] = types.MappingProxyType(dict(metadata))
            asset = validated(dataclasses.replace(asset, **changes))
            await tx.execute(ASSETS.update_sql("id = ?"), *ASSETS.encode(asset, self._d), asset.id)
            return await self._asset(tx, asset.id)

    async def add_asset_version(
        self,
        asset_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
    ) -> ContentAsset:
        d = self._d
        now = datetime.now(UTC)
        async with self._db.transaction(write=True) as tx:
            await self._asset(tx, asset_id)
            # The increment and the read are one statement: concurrent uploads get distinct
            # versions (the row is locked until commit).
            version = await tx.fetchval(
                "UPDATE content_assets SET version = version + 1, filename = ?,"
                " content_type = ?, size = ?, sha256 = ?, status = 'pending' WHERE id = ?"
                " RETURNING version",
                filename,
                content_type,
                size,
                sha256,
                int(asset_id),
            )
            row = validated(
                AssetVersion(
                    int(asset_id),
                    int(version),
                    filename,
                    content_type,
                    size,
                    sha256,
                    now,
                    created_by,
                )
            )
            await tx.execute(ASSET_VERSIONS.insert_sql(), *ASSET_VERSIONS.encode(row, d))
            return await self._asset(tx, asset_id)

    async def list_asset_versions(
        self, asset_id: int, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AssetVersion]:
        async with self._read() as tx:
            await self._asset(tx, asset_id)
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {ASSET_VERSIONS.columns} FROM content_asset_versions",
                key="version",
                kind=f"asset_versions:{int(asset_id)}",
                cursor=cursor,
                limit=limit,
                where=["asset_id = ?"],
                args=[int(asset_id)],
                desc=True,
            )
        return Page(tuple(ASSET_VERSIONS.decode(r, self._d) for r in rows), nxt)

    async def delete_asset(self, asset_id: int) -> None:
        async with self._db.transaction(write=True) as tx:
            await self._asset(tx, asset_id)
            await tx.execute("DELETE FROM content_asset_versions WHERE asset_id = ?", int(asset_id))
            await tx.execute("DELETE FROM content_assets WHERE id = ?", int(asset_id))

    # --- users ---------------------------------------------------------------------------------

    async def _user(self, tx: Tx, where: str, arg: Any, what: str) -> User:
        row = await tx.fetchrow(f"SELECT {USERS.columns} FROM users WHERE {where}", arg)
        if row is None:
            raise NotFound(f"no user {what}")
        return USERS.decode(row, self._d)

    async def _user_free(self, tx: Tx, user: User) -> None:
        taken = await tx.fetchval(
            "SELECT id FROM users WHERE username = ? AND id <> ?", user.username, user.id
        )
        if taken is not None:
            raise Conflict(f'the username "{user.username}" is taken')
        if user.email:
            taken = await tx.fetchval(
                "SELECT id FROM users WHERE lower(email) = lower(?) AND email <> '' AND id <> ?",
                user.email,
                user.id,
            )
            if taken is not None:
                raise Conflict(f'the email "{user.email}" belongs to another user')

    async def create_user(
        self,
        username: str,
        *,
        role: Role,
        password_hash: str,
        email: str = "",
        disabled: bool = False,
    ) -> User:
        user = validated(
            User(
                username=username,
                email=email,
                role=role,
                password_hash=password_hash,
                disabled=disabled,
                created_at=datetime.now(UTC),
            )
        )
        async with self._db.transaction(write=True) as tx:
            await self._user_free(tx, user)
            new_id = await tx.fetchval(
                USERS.insert_sql(returning="id"), *USERS.encode(user, self._d)
            )
            return await self._user(tx, "id = ?", int(new_id), str(new_id))

    async def get_user(self, username: str) -> User:
        async with self._read() as tx:
            return await self._user(tx, "username = ?", username, f'"{username}"')

    async def get_user_by_id(self, user_id: int) -> User:
        async with self._read() as tx:
            return await self._user(tx, "id = ?", row_id(user_id, "user"), f"with id {user_id}")

    async def list_users(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[User]:
        async with self._read() as tx:
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {USERS.columns} FROM users",
                key="username",
                kind="users",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(USERS.decode(r, self._d) for r in rows), nxt)

    async def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        async with self._db.transaction(write=True) as tx:
            user = await self._user(tx, "username = ?", username, f'"{username}"')
            changes: dict[str, Any] = {
                k: v
                for k, v in (
                    ("role", role),
                    ("disabled", disabled),
                    ("email", email),
                    ("password_hash", password_hash),
                )
                if v is not None
            }
            user = validated(dataclasses.replace(user, **changes))
            await self._user_free(tx, user)
            await tx.execute(USERS.update_sql("id = ?"), *USERS.encode(user, self._d), user.id)
            return await self._user(tx, "id = ?", user.id, str(user.id))

    async def record_login(self, username: str, at: datetime | None = None) -> None:
        when = _aware(at, "at") if at is not None else datetime.now(UTC)
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute(
                "UPDATE users SET last_login = ? WHERE username = ?", self._d.enc_ts(when), username
            )
        if not changed:
            raise NotFound(f'no user "{username}"')

    # --- audit log -----------------------------------------------------------------------------

    async def append_audit(
        self,
        *,
        actor: str,
        role: str,
        origin: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
        address: str = "",
        at: datetime | None = None,
        state: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None:
        plain = {
            "at": _aware(at, "at") if at is not None else datetime.now(UTC),
            "actor": actor,
            "role": role,
            "origin": origin,
            "action": action,
            "target": target,
            "address": address,
        }
        try:
            plain["detail"] = to_plain(dict(detail or {}))
        except (TypeError, ValueError) as exc:
            raise ValidationError([f"detail: {exc}"]) from exc
        entry, problems = from_plain(AuditEntry, plain)
        if entry is None:
            raise ValidationError(problems)
        writes: list[tuple[str, Sequence[Any]]] = [
            (AUDIT.insert_sql(), AUDIT.encode(entry, self._d))
        ]
        if state is not None:
            writes.append(self._state_write(*state))
        await self._db.write_batch(writes, durable=state is not None)

    async def list_audit(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        origin: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditEntry]:
        d = self._d
        where: list[str] = []
        args: list[Any] = []
        if actor is not None:
            where.append("actor = ?")
            args.append(actor)
        if action is not None and action.endswith("*"):
            prefix = action[:-1]
            # substr, not LIKE: SQLite's LIKE ignores case and both treat % and _ specially.
            where.append("substr(action, 1, ?) = ?")
            args += [len(prefix), prefix]
        elif action is not None:
            where.append("action = ?")
            args.append(action)
        if origin is not None:
            where.append("origin = ?")
            args.append(origin)
        if since is not None:
            where.append("at >= ?")
            args.append(d.enc_ts(_aware(since, "since")))
        if until is not None:
            where.append("at < ?")
            args.append(d.enc_ts(_aware(until, "until")))
        async with self._read() as tx:
            rows, nxt = await self._page(
                tx,
                select=f"SELECT {AUDIT.columns} FROM audit_log",
                key="id",
                kind="audit",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
                desc=True,
            )
        return Page(tuple(AUDIT.decode(r, d) for r in rows), nxt)

    async def prune_audit(self, before: datetime) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute(
                "DELETE FROM audit_log WHERE at < ?", self._d.enc_ts(_aware(before, "before"))
            )

    # --- runtime state -------------------------------------------------------------------------

    def _state_write(self, key: str, doc: Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
        try:
            text = self._d.enc_json(dict(doc))
        except (TypeError, ValueError) as exc:
            raise ValidationError([f"doc: not storable as JSON: {exc}"]) from exc
        return (
            "INSERT INTO runtime_state (key, doc, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc,"
            " updated_at = excluded.updated_at",
            (key, text, self._d.enc_ts(datetime.now(UTC))),
        )

    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        await self._db.write_batch([self._state_write(key, doc)], durable=True)

    async def load_state(self, key: str) -> dict[str, Any] | None:
        async with self._read() as tx:
            value = await tx.fetchval("SELECT doc FROM runtime_state WHERE key = ?", key)
        if value is None:
            return None
        doc = self._d.dec_json(value)
        if not isinstance(doc, dict):
            raise StorageError(f'runtime state "{key}" is not a JSON object')
        return doc

    async def delete_state(self, key: str) -> None:
        async with self._db.transaction(write=True, durable=True) as tx:
            await tx.execute("DELETE FROM runtime_state WHERE key = ?", key)

    # --- housekeeping --------------------------------------------------------------------------

    async def schema_version(self) -> int:
        return await current_version(self._db)

    async def close(self) -> None:
        await self._db.close()


def _parse_csv(text: str, source: str) -> tuple[FixtureDef, ...]:
    return parse_patch_csv(text, source=source)


async def _compile(show: ShowDef) -> None:
    """compile_patch off the Trio thread (it builds arrays for every pixel)."""
    try:
        await trio.to_thread.run_sync(compile_patch, show)
    except PatchError as exc:
        raise ValidationError(exc.problems) from exc
