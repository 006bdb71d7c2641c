"""The PostgreSQL backend: asyncpg, driven from Trio through one `trio_asyncio` loop.

asyncpg is asyncio-only (the product owner's choice, docs/design.md), so the daemon opens one
`trio_asyncio.open_loop()` at start-up and every call crosses into it with `aio_as_trio`. The
store keeps a reference to that loop, so it can be used from any Trio task, including tasks
started outside the `open_loop()` block. A pool holds `pool_min`..`pool_max` connections; each
transaction takes one. Fetches are keyset pages with LIMIT, never one unbounded result.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache, partial
from typing import Any

import asyncpg
import trio
import trio_asyncio

from . import tenancy
from .base import Conflict, StorageError
from .driver import Driver, PoolStatistics, PostgresDialect, Row, Tx, require_limit
from .sql import SqlStorage

CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0


@lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """`?` placeholders → `$1, $2, …` (the shared SQL has no `?` inside string literals)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


def _status_count(status: Any) -> int:
    """Rows changed, from asyncpg's command status ("UPDATE 3", "INSERT 0 1")."""
    last = str(status or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgTx(Tx):
    def __init__(self, driver: PostgresDriver, conn: Any) -> None:
        self.dialect = driver.dialect
        self._call = driver.call
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return _status_count(await self._call(self._conn.execute, _numbered(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._call(self._conn.executemany, _numbered(sql), list(rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        require_limit(sql)
        records = await self._call(self._conn.fetch, _numbered(sql), *args)
        return [dict(r.items()) for r in records]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        record = await self._call(self._conn.fetchrow, _numbered(sql), *args)
        return None if record is None else dict(record.items())

    async def lock(self, key: int) -> None:
        await self._call(self._conn.execute, "SELECT pg_advisory_xact_lock($1)", key)

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> None:
        if records:  # binary COPY: the telemetry ingest path (docs/design.md)
            await self._call(
                partial(
                    self._conn.copy_records_to_table,
                    table,
                    records=list(records),
                    columns=list(columns),
                )
            )


class PostgresDriver(Driver):
    def __init__(self, pool: Any, loop: Any) -> None:
        self.dialect = PostgresDialect()
        self._pool = pool
        self._loop = loop
        self._closed = False
        self._acquiring = 0  # transactions waiting for a connection from the pool

    def pool(self) -> PoolStatistics:
        size, idle = self._pool.get_size(), self._pool.get_idle_size()
        return PoolStatistics(size, self._pool.get_max_size(), size - idle, idle, self._acquiring)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Await asyncio function `fn(*args)` on the store's loop; errors mapped."""
        if self._closed:
            raise StorageError("the store is closed")
        self.calls += 1
        started = time.perf_counter()  # the round trip through the asyncio loop included
        try:
            return await trio_asyncio.aio_as_trio(fn, loop=self._loop)(*args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise Conflict(str(exc)) from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self.failures += 1
            raise StorageError(f"PostgreSQL: {exc}") from exc
        except OSError as exc:
            self.failures += 1
            raise StorageError(f"PostgreSQL: {exc.strerror or exc}") from exc
        finally:
            if self.observe is not None:
                self.observe(time.perf_counter() - started)

    @asynccontextmanager
    async def transaction(self, *, write: bool, durable: bool = False) -> AsyncIterator[Tx]:
        self._acquiring += 1
        try:
            conn = await self.call(self._pool.acquire)
        finally:
            self._acquiring -= 1
        try:
            # Reads that span several pages need one snapshot: REPEATABLE READ, read only.
            # Writes use READ COMMITTED and serialise where needed with advisory locks.
            scope = tenancy.current()
            write = write or scope.super_admin  # its audit entry is a write
            tr = conn.transaction(
                isolation="read_committed" if write else "repeatable_read", readonly=not write
            )
            try:
                # Inside the rollback's reach: a cancellation that lands while BEGIN is in
                # flight must not hand the pool a connection with an open transaction.
                await self.call(tr.start)
                if durable:  # whatever the server's default, this commit waits for the disk
                    await self.call(conn.execute, "SET LOCAL synchronous_commit TO on")
                await self._enter_scope(conn, scope)
                yield _PgTx(self, conn)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._rollback(conn, tr)
                raise
            try:
                with trio.CancelScope(shield=True):  # a started commit finishes
                    await self.call(tr.commit)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._rollback(conn, tr)
                raise
        finally:
            with trio.CancelScope(shield=True):
                await self._release(conn)

    async def _enter_scope(self, conn: Any, scope: tenancy.TenantScope) -> None:
        """The transaction's tenant (row-level security reads it); on the super_admin path
        also the audit entry, committed with whatever the transaction does. The default
        tenant's transactions (the lighting side) cost no round trip: every connection
        starts with it as its session value (`server_settings`), which `RESET ALL` on
        release restores."""
        if scope == tenancy.DEFAULT_SCOPE:
            return
        await self.call(
            conn.execute,
            "SELECT set_config('app.current_tenant_id', $1, true),"
            " set_config('app.super_admin', $2, true)",
            scope.setting(),
            "on" if scope.super_admin else "off",
        )
        if scope.super_admin:
            await self.call(
                conn.execute,
                "INSERT INTO audit_log (at, actor, role, origin, action, target, detail,"
                " address) VALUES (now(), $1, 'super_admin', 'system', 'fleet.super_admin',"
                " 'all tenants', jsonb_build_object('reason', $2::text), '')",
                scope.actor,
                scope.reason,
            )

    async def _rollback(self, conn: Any, tr: Any) -> None:
        try:
            await self.call(tr.rollback)
        except Exception:  # e.g. the query was cancelled mid-flight: drop the connection
            conn.terminate()

    async def _release(self, conn: Any) -> None:
        try:
            await self.call(self._pool.release, conn)
        except StorageError:
            try:
                conn.terminate()
            except asyncpg.InterfaceError:
                pass  # the pool took it back (and reset it) before failing: nothing to drop

    async def close(self) -> None:
        if self._closed:
            return
        try:
            with trio.move_on_after(CLOSE_TIMEOUT_S) as scope:
                await self.call(self._pool.close)
            if scope.cancelled_caught:
                self._pool.terminate()
        finally:
            self._closed = True


class PostgresStorage(SqlStorage):
    backend = "postgres"

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        loop: Any,
        pool_min: int = 1,
        pool_max: int = 8,
        command_timeout_s: float = 10.0,
    ) -> PostgresStorage:
        """Connect a pool on `loop` (a running trio_asyncio loop) and apply migrations."""

        async def create() -> Any:
            return await asyncpg.create_pool(
                dsn,
                min_size=pool_min,
                max_size=pool_max,
                command_timeout=command_timeout_s,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={
                    "application_name": "trocadero",
                    "app.current_tenant_id": str(tenancy.DEFAULT_TENANT),
                },
            )

        try:
            pool = await trio_asyncio.aio_as_trio(create, loop=loop)()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError) as exc:
            raise StorageError(f"PostgreSQL: cannot connect: {exc}") from exc
        store = cls(PostgresDriver(pool, loop))
        try:
            await store._migrate()
        except BaseException:
            with trio.CancelScope(shield=True):
                await store.close()
            raise
        return store
