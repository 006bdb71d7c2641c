"""The embedded backend: one SQLite file in the state directory (stdlib `sqlite3`).

One connection, used from worker threads one call at a time (`CapacityLimiter(1)`), so the
Trio thread does not block on disk; a `trio.Lock` makes each transaction exclusive, which also
makes concurrent Trio writers safe. The one exception: a small write batch (a command's audit
row and state) finding the connection idle commits on the Trio thread (~0.3 ms), because the
hand-off to a worker costs the command four rounds of a busy event loop (`write_batch`).
WAL journal with `synchronous=FULL`: a commit is on disk when it returns, which is what
`save_state` promises (restart after kill -9 or power loss).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import trio

from .base import Conflict, StorageError, StoreCorrupt
from .driver import Driver, PoolStatistics, Row, SQLiteDialect, Tx, require_limit
from .sql import SqlStorage

R = TypeVar("R")

BUSY_TIMEOUT_MS = 5000
# Batches this small commit on the calling thread when the connection is idle (write_batch),
# unless a recent one took longer than INLINE_SLOW_S: a disk busy with something else (an fsync
# can take 50 ms then) sends commits back to the worker for INLINE_BACKOFF_S, doubled after
# every slow probe up to INLINE_BACKOFF_MAX_S (a disk that stays busy is probed rarely) and
# reset by a fast one, so a slow disk delays the commands that wait for it, not the loop.
INLINE_BATCH_MAX = 4
INLINE_SLOW_S = 0.003
INLINE_BACKOFF_S = 2.0
INLINE_BACKOFF_MAX_S = 120.0


class _SQLiteTx(Tx):
    def __init__(self, driver: SQLiteDriver) -> None:
        self.dialect = driver.dialect
        self._run = driver.run
        self._conn = driver.conn

    async def execute(self, sql: str, *args: Any) -> int:
        def work() -> int:
            cur = self._conn.execute(sql, args)
            try:
                return max(cur.rowcount, 0)
            finally:
                cur.close()

        return await self._run(work)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._run(lambda: self._conn.executemany(sql, rows).close())

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        require_limit(sql)

        def work() -> list[Row]:
            cur = self._conn.execute(sql, args)
            try:
                names = [c[0] for c in cur.description]
                return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            finally:
                cur.close()

        return await self._run(work)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        def work() -> Row | None:
            cur = self._conn.execute(sql, args)
            try:
                row = cur.fetchone()
                if row is None:
                    return None
                return dict(zip([c[0] for c in cur.description], row, strict=True))
            finally:
                cur.close()  # resets the statement (finishes an UPDATE … RETURNING)

        return await self._run(work)

    async def lock(self, key: int) -> None:
        return None  # transactions on the one connection are already serial


def _timed(fn: Callable[[], R], observe: Callable[[float], None]) -> Callable[[], R]:
    """`fn`, reporting its seconds on the worker thread (queueing for it excluded)."""

    def timed() -> R:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            observe(time.perf_counter() - started)

    return timed


class SQLiteDriver(Driver):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.dialect = SQLiteDialect()
        self.conn = conn
        self._limiter = trio.CapacityLimiter(1)
        self._lock = trio.Lock()
        self._closed = False
        self.inline_calls = 0  # write batches committed on the Trio thread (no hand-off)
        self._inline_after = 0.0  # clock() before which commits go to the worker
        self._backoff_s = INLINE_BACKOFF_S  # the next back-off after a slow inline commit
        self.clock: Callable[[], float] = time.monotonic

    def pool(self) -> PoolStatistics:
        # In use: a transaction holds it (between its calls too) or a call runs on it.
        in_use = int(self._lock.locked() or self._limiter.borrowed_tokens > 0)
        waiting = self._limiter.statistics().tasks_waiting + self._lock.statistics().tasks_waiting
        return PoolStatistics(1, 1, in_use, 1 - in_use, waiting)

    async def run(self, fn: Callable[[], R]) -> R:
        """Run `fn` on a worker thread; database errors become StorageError / Conflict."""
        if self._closed:
            raise StorageError("the store is closed")
        self.calls += 1
        observe = self.observe
        if observe is not None:
            fn = _timed(fn, observe)
        try:
            return await trio.to_thread.run_sync(fn, limiter=self._limiter)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        except sqlite3.Error as exc:
            self.failures += 1
            raise StorageError(f"SQLite: {exc}") from exc

    @asynccontextmanager
    async def transaction(self, *, write: bool, durable: bool = False) -> AsyncIterator[Tx]:
        # durable: every commit is (synchronous=FULL); IMMEDIATE takes the write lock up front
        # so a read-then-write transaction cannot fail half-way with SQLITE_BUSY.
        async with self._lock:
            await self.run(lambda: self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN"))
            try:
                yield _SQLiteTx(self)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._rollback()
                raise
            try:
                with trio.CancelScope(shield=True):  # a started commit finishes
                    await self.run(lambda: self.conn.execute("COMMIT"))
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._rollback()
                raise

    async def write_batch(
        self, statements: Sequence[tuple[str, Sequence[Any]]], *, durable: bool = False
    ) -> None:
        def work() -> None:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.conn.execute(sql, tuple(args)).close()
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

        if len(statements) <= INLINE_BATCH_MAX and self._take_idle_connection():
            # A command's audit row and state (one or two rows, ~0.3 ms with the fsync on
            # this hardware) committed right here: the thread hand-off costs four rounds of
            # the event loop (lock, limiter, the worker, its wake-up), each queued behind
            # whatever else is runnable. The render and output threads need no GIL from us.
            try:
                self._inline(work)
            finally:
                self._limiter.release()
                self._lock.release()
            return
        async with self._lock:
            with trio.CancelScope(shield=True):  # started on the thread: let it finish
                await self.run(work)

    def _take_idle_connection(self) -> bool:
        """Take the transaction lock and the connection's one worker slot if both are free
        (no other call runs or waits on the connection), without yielding."""
        if self._closed or self._lock.locked() or self._limiter.available_tokens < 1:
            return False
        if self.clock() < self._inline_after:
            return False  # the disk was slow a moment ago
        if self._limiter.statistics().tasks_waiting:
            return False
        self._lock.acquire_nowait()
        self._limiter.acquire_nowait()
        return True

    def _inline(self, work: Callable[[], None]) -> None:
        """`work` on the calling (Trio) thread, with `run`'s accounting and error mapping."""
        self.calls += 1
        self.inline_calls += 1
        observe = self.observe
        if observe is not None:
            work = _timed(work, observe)
        started = self.clock()
        try:
            work()
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        except sqlite3.Error as exc:
            self.failures += 1
            raise StorageError(f"SQLite: {exc}") from exc
        finally:
            now = self.clock()
            if now - started > INLINE_SLOW_S:
                self._inline_after = now + self._backoff_s
                self._backoff_s = min(self._backoff_s * 2, INLINE_BACKOFF_MAX_S)
            else:
                self._backoff_s = INLINE_BACKOFF_S

    async def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                await self.run(lambda: self.conn.execute("ROLLBACK"))
            except StorageError:
                pass  # the error that got us here is the one worth reporting

    async def close(self) -> None:
        async with self._lock:
            if not self._closed:
                await self.run(self.conn.close)
                self._closed = True


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    # isolation_level=None: no implicit transactions, the driver issues BEGIN/COMMIT itself.
    # check_same_thread=False: calls come from Trio's worker threads, one at a time.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(f"{path}: cannot use WAL journaling here (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if created:
            path.chmod(0o600)  # it holds password hashes
    except BaseException:
        conn.close()
        raise
    return conn


class SQLiteStorage(SqlStorage):
    backend = "sqlite"

    @classmethod
    async def open(cls, path: Path, *, fleet: Path | None = None) -> SQLiteStorage:
        """Open (creating if needed) the database at `path` and apply pending migrations;
        with `fleet`, the MDVR fleet's tables live in that file (moved there once from
        `path` if an earlier version kept them in it)."""
        conn = await _open(path)
        fleet_conn = None
        if fleet is not None and fleet != path:  # (the same file twice: one store)
            try:
                fleet_conn = await _open(fleet)
            except BaseException:
                conn.close()
                raise
        store = cls(SQLiteDriver(conn), None if fleet_conn is None else SQLiteDriver(fleet_conn))
        try:
            await store._migrate()
            if fleet_conn is not None:
                await trio.to_thread.run_sync(_move_fleet, fleet_conn, path)
        except BaseException:
            with trio.CancelScope(shield=True):
                await store.close()
            raise
        return store


async def _open(path: Path) -> sqlite3.Connection:
    try:
        return await trio.to_thread.run_sync(_connect, path)
    except sqlite3.OperationalError as exc:  # cannot open (permissions, a directory…)
        raise StorageError(f"{path}: cannot open the database: {exc}") from exc
    except sqlite3.DatabaseError as exc:  # opened, but not a database, or malformed
        raise StoreCorrupt(f"{path}: the database is damaged: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"{path}: {exc.strerror or exc}") from exc


FLEET_TABLES = ("devices", "positions", "alarms", "device_files")


def _has_devices(conn: sqlite3.Connection, schema: str) -> bool:
    found = conn.execute(
        f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = 'devices'"
    ).fetchone()
    return found is not None


def _move_fleet(fleet: sqlite3.Connection, main: Path) -> None:
    """Copy the fleet's rows from the main file into an empty fleet file, in one transaction
    of the fleet file (a crash half-way copies nothing; the next start tries again). The
    main file keeps its copy, unused."""
    if not _has_devices(fleet, "main") or fleet.execute("SELECT 1 FROM devices LIMIT 1").fetchone():
        return  # a schema before the fleet's tables, or already has its rows
    fleet.execute("ATTACH DATABASE ? AS lighting", (str(main),))
    try:
        if (
            not _has_devices(fleet, "lighting")
            or not fleet.execute("SELECT 1 FROM lighting.devices LIMIT 1").fetchone()
        ):
            return
        fleet.execute("BEGIN IMMEDIATE")
        try:
            for table in FLEET_TABLES:  # the same migrations made both: the same columns
                fleet.execute(f"INSERT INTO main.{table} SELECT * FROM lighting.{table}")
            fleet.execute("COMMIT")
        except BaseException:
            fleet.execute("ROLLBACK")
            raise
    finally:
        fleet.execute("DETACH DATABASE lighting")
