"""What the SQL stores share: row codecs (`Table`), keyset paging and chunked reads, the checks
every written object goes through, and the transactions they run in.

Each aggregate's store (show.py, patch.py, schedules.py, assets.py, users.py, audit.py,
state.py, devices.py, tokens.py) is written once over a `Driver` (SQLite or PostgreSQL) and
imports its helpers from here; nothing here imports a store.
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

from trocadero.config.show import CUE_NUMBER_MAX, CUE_NUMBER_MIN

from ..codec import canonical_decimal, from_plain, to_plain
from .base import MAX_LIMIT, StorageError, ValidationError
from .driver import Dialect, Driver, Row, Tx

T = TypeVar("T")

CHUNK: Final = 500
"""Rows per fetch or batch insert when a read or write spans many rows."""

SHOW_LOCK: Final = 0x7472_6F63_0002  # advisory lock key for show edits ("troc")
USED_BY_SHOWN: Final = 10  # a Conflict names at most this many users of an object


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


# --- arguments and written objects -----------------------------------------------------------


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


def aware(at: datetime, key: str) -> datetime:
    if at.tzinfo is None:
        raise ValidationError([f"{key}: needs a UTC offset (got naive {at.isoformat()})"])
    return at.astimezone(UTC)


def marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


# --- transactions ------------------------------------------------------------------------------


class SqlPart:
    """One aggregate's store over the shared driver (every part of a store holds the same one)."""

    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self._d: Dialect = driver.dialect

    def shares_driver(self, other: object) -> bool:
        """True when `other` is a part over the same driver: the same database, so writes
        of both can go in one transaction."""
        return isinstance(other, SqlPart) and other._db is self._db

    def _read(self) -> AbstractAsyncContextManager[Tx]:
        return self._db.transaction(write=False)

    @asynccontextmanager
    async def _show_tx(self) -> AsyncIterator[Tx]:
        """A write transaction holding the show-wide lock: show, patch and schedule edits
        check what uses an object and change it without another writer in between."""
        async with self._db.transaction(write=True) as tx:
            await tx.lock(SHOW_LOCK)
            yield tx


# --- paging and chunked reads ------------------------------------------------------------------


async def keyset_page(
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


async def all_rows(
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


async def insert_many(tx: Tx, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await tx.executemany(sql, rows[i : i + CHUNK])


async def exists(tx: Tx, sql: str, *args: Any) -> bool:
    return await tx.fetchrow(sql, *args) is not None
