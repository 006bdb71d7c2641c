"""The pair's leadership lease in PostgreSQL (issue 19): a session advisory lock held on a
dedicated connection, plus the fencing epoch row of `ha_lease` (migration 15).

Whoever holds the lock leads; taking it increments the epoch. The leader renews the row
(`renewed_ms`, the database's clock) every heartbeat interval, matching its epoch: a renewal
that matches nothing means a newer leader exists, and a failed one means the connection is
gone (and with it the lock) — either way the caller fences itself.

A hung leader (SIGSTOP) keeps its session, and so the lock, alive. The standby ends that
session (`pg_terminate_backend`) only when the row shows no renewal for longer than the dead
interval: a leader that is merely cut off from its peer still renews, so with the link
between the nodes cut but both reaching PostgreSQL it keeps the lock — exactly one leads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import trio
import trio_asyncio

LOCK_KEY: Final = 0x7472_6F63_4841  # "trocHA": the advisory lock of the pair
NOTICE_CHANNEL: Final = "trocadero_ha_state"  # the leader saved the playback state
_NOW_MS: Final = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
CONNECT_TIMEOUT_S: Final = 5.0


class LeaseLost(Exception):
    """The connection, and with it the lock, is gone (or never was)."""


@dataclass(frozen=True, slots=True)
class LeaseRow:
    epoch: int
    leader: str
    age_ms: int  # since the last renewal, by the database's clock
    reason: str


@dataclass(frozen=True, slots=True)
class Taken:
    epoch: int
    reason: str  # as recorded in the row
    before: LeaseRow | None  # the row as the previous leader left it


class Lease:
    """One node's side of the lease: its own connection, never the store's pool."""

    def __init__(self, dsn: str, node: str) -> None:
        self.dsn, self.node = dsn, node
        self._conn: Any = None
        self._busy = trio.Lock()
        self.on_notice: Callable[[str], None] | None = None  # a NOTIFY from the peer
        self.holding = False

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _call(self, fn: Any, *args: Any) -> Any:
        try:
            # One statement at a time on the connection: the pair's task and a handover
            # request (another task) both use it, and asyncpg allows no overlap.
            async with self._busy:
                return await trio_asyncio.aio_as_trio(fn)(*args)
        except Exception as exc:  # any failure: the lock may be gone, never assume it is not
            # (asyncpg also raises InternalClientError on a connection whose last call was
            # cancelled mid-flight, e.g. a renewal that outlived the dead interval.)
            self.drop()
            raise LeaseLost(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    async def connect(self) -> None:
        if self.connected:
            return
        self.holding = False

        async def open_connection() -> Any:
            return await asyncpg.connect(
                self.dsn,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={"application_name": f"trocadero-ha:{self.node}"},
            )

        self._conn = await self._call(open_connection)
        if self.on_notice is not None:  # LISTEN again on every new session
            await self._call(self._conn.add_listener, NOTICE_CHANNEL, self._notice)

    def _notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        # Called by asyncpg on the store's loop, which trio_asyncio runs in this thread.
        if self.on_notice is not None:
            self.on_notice(payload)

    async def notify(self, payload: str) -> None:
        """Tell the peer (LISTENing on its own lease connection) that the shared playback
        state changed; skipped while this node has no connection (the peer polls too)."""
        if self.connected:
            await self._call(self._conn.execute, f"NOTIFY {NOTICE_CHANNEL}, '{payload}'")

    def drop(self) -> None:
        """Forget the connection at once (its lock goes with the session)."""
        conn, self._conn, self.holding = self._conn, None, False
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def read(self) -> LeaseRow | None:
        await self.connect()
        row = await self._call(
            self._conn.fetchrow,
            f"SELECT epoch, leader, {_NOW_MS} - renewed_ms AS age_ms, reason"
            " FROM ha_lease WHERE id = 1",
        )
        if row is None:
            return None
        return LeaseRow(int(row["epoch"]), str(row["leader"]), int(row["age_ms"]), row["reason"])

    async def try_acquire(self, reason: str, *, stale_after_ms: int | None) -> Taken | None:
        """Take the lock and a new epoch, or None while another node holds it. With
        `stale_after_ms`, a holder whose row was not renewed for longer has its session
        ended first (None: only a free lock is taken)."""
        await self.connect()
        got = await self._call(self._conn.fetchval, "SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        if not got:
            if stale_after_ms is None:
                return None
            row = await self.read()
            if row is None or row.age_ms <= stale_after_ms:
                return None
            # The holder stopped renewing but its session lives on (a hung process): end it.
            await self._call(
                self._conn.execute,
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND objsubid = 1 AND pid <> pg_backend_pid()"
                " AND ((classid::bigint << 32) | objid::bigint) = $1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                LOCK_KEY,
            )
            for _ in range(20):  # the backend exits asynchronously
                got = await self._call(
                    self._conn.fetchval, "SELECT pg_try_advisory_lock($1)", LOCK_KEY
                )
                if got:
                    break
                await trio.sleep(0.005)
            if not got:
                return None
            reason = f"{reason}; ended the session of {row.leader} (no renewal for {row.age_ms} ms)"
        self.holding = True
        before = await self.read()
        epoch = await self._call(
            self._conn.fetchval,
            "INSERT INTO ha_lease (id, epoch, leader, renewed_ms, changed_ms, reason)"
            f" VALUES (1, 1, $1, {_NOW_MS}, {_NOW_MS}, $2) ON CONFLICT (id) DO UPDATE SET"
            " epoch = ha_lease.epoch + 1, leader = EXCLUDED.leader,"
            " renewed_ms = EXCLUDED.renewed_ms, changed_ms = EXCLUDED.changed_ms,"
            " reason = EXCLUDED.reason RETURNING epoch",
            self.node,
            reason,
        )
        return Taken(int(epoch), reason, before)

    async def renew(self, epoch: int) -> bool:
        """True while this node still holds `epoch`; LeaseLost if the connection failed."""
        if not self.connected or not self.holding:
            raise LeaseLost("not holding the lease")
        status = await self._call(
            self._conn.execute,
            f"UPDATE ha_lease SET renewed_ms = {_NOW_MS} WHERE id = 1 AND epoch = $1"
            " AND leader = $2",
            epoch,
            self.node,
        )
        return str(status).endswith(" 1")

    async def release(self) -> None:
        """Give the lock up (a planned handover); the row keeps our epoch until the next
        leader increments it."""
        if self.connected and self.holding:
            await self._call(self._conn.fetchval, "SELECT pg_advisory_unlock($1)", LOCK_KEY)
        self.holding = False

    async def close(self) -> None:
        conn, self._conn, self.holding = self._conn, None, False
        if conn is not None and not conn.is_closed():
            with trio.move_on_after(1.0) as scope:
                try:
                    await trio_asyncio.aio_as_trio(conn.close)()
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    pass
            if scope.cancelled_caught:
                conn.terminate()
