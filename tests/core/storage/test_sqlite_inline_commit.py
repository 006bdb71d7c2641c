"""SQLite's small write batches (a command's audit row and state) commit on the calling Trio
thread when the connection is idle, and wait their turn on the worker when it is not: the
same rows, the same durability, the same errors either way (core/storage/sqlite.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import trio

from trocadero.core.storage.base import Conflict
from trocadero.core.storage.sqlite import SQLiteDriver, _connect

TABLE = "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"
INSERT = "INSERT INTO t (k, v) VALUES (?, ?)"


@pytest.fixture
def driver(tmp_path: Path) -> SQLiteDriver:
    conn = _connect(tmp_path / "db.sqlite")
    conn.execute(TABLE)
    driver = SQLiteDriver(conn)
    # A clock that stands still: no commit counts as slow here, whatever the machine's load
    # (the back-off after a slow one has its own test, with its own clock).
    driver.clock = lambda: 0.0
    return driver


def _rows(path: Path) -> list[tuple[str, int]]:
    """What another connection (a restart) reads: committed rows only."""
    with sqlite3.connect(path) as other:
        return sorted(other.execute("SELECT k, v FROM t").fetchall())


async def test_an_idle_connection_commits_a_small_batch_on_the_trio_thread(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    threads: list[str] = []
    driver.observe = lambda _s: threads.append(threading.current_thread().name)
    await driver.write_batch([(INSERT, ("a", 1)), (INSERT, ("b", 2))], durable=True)
    assert driver.inline_calls == 1
    assert threads == [threading.main_thread().name]  # no worker thread took it
    assert _rows(tmp_path / "db.sqlite") == [("a", 1), ("b", 2)]
    # Nothing left held: a transaction (worker path) runs right after.
    async with driver.transaction(write=True) as tx:
        await tx.execute(INSERT, "c", 3)
    assert _rows(tmp_path / "db.sqlite") == [("a", 1), ("b", 2), ("c", 3)]


async def test_a_batch_waits_for_an_open_transaction_and_neither_is_torn(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    inside = trio.Event()
    release = trio.Event()

    async def long_transaction() -> None:
        async with driver.transaction(write=True) as tx:
            await tx.execute(INSERT, "tx-1", 1)
            inside.set()
            await release.wait()
            await tx.execute(INSERT, "tx-2", 2)

    batch_done = trio.Event()

    async def batch() -> None:
        await driver.write_batch([(INSERT, ("batch", 3))], durable=True)
        batch_done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(long_transaction)
        await inside.wait()
        nursery.start_soon(batch)
        await trio.sleep(0.05)
        assert not batch_done.is_set()  # it did not slip into the open transaction
        assert _rows(tmp_path / "db.sqlite") == []
        release.set()
    assert driver.inline_calls == 0  # the connection was busy: the worker path
    assert _rows(tmp_path / "db.sqlite") == [("batch", 3), ("tx-1", 1), ("tx-2", 2)]


async def test_a_batch_too_large_for_the_trio_thread_goes_to_the_worker(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    threads: list[str] = []
    driver.observe = lambda _s: threads.append(threading.current_thread().name)
    await driver.write_batch([(INSERT, (f"k{i}", i)) for i in range(50)])
    assert driver.inline_calls == 0
    assert threads
    assert threads[0] != threading.main_thread().name
    assert len(_rows(tmp_path / "db.sqlite")) == 50


async def test_a_failing_inline_batch_rolls_back_whole_and_frees_the_connection(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    await driver.write_batch([(INSERT, ("a", 1))])
    with pytest.raises(Conflict, match="UNIQUE"):
        await driver.write_batch([(INSERT, ("b", 2)), (INSERT, ("a", 9))])
    assert driver.inline_calls == 2
    assert _rows(tmp_path / "db.sqlite") == [("a", 1)]  # "b" rolled back with the failure
    await driver.write_batch([(INSERT, ("b", 2))])  # lock and worker slot were released
    assert _rows(tmp_path / "db.sqlite") == [("a", 1), ("b", 2)]


async def test_a_slow_commit_sends_the_next_ones_to_the_worker_for_a_while(
    driver: SQLiteDriver, tmp_path: Path
) -> None:
    # A disk busy elsewhere: one inline commit took 20 ms (a stalled fsync). The next
    # commits go to the worker, so the event loop is not blocked by the next stall.
    from trocadero.core.storage import sqlite as backend

    clock = [100.0]
    driver.clock = lambda: clock[0]

    def slow_observe(_seconds: float) -> None:
        clock[0] += 0.020

    driver.observe = slow_observe
    await driver.write_batch([(INSERT, ("a", 1))])
    assert driver.inline_calls == 1
    driver.observe = None
    await driver.write_batch([(INSERT, ("b", 2))])
    assert driver.inline_calls == 1  # on the worker
    # The disk is still slow when probed again: the next back-off is twice as long.
    clock[0] += backend.INLINE_BACKOFF_S
    driver.observe = slow_observe
    await driver.write_batch([(INSERT, ("c", 3))])
    assert driver.inline_calls == 2  # the probe, on the Trio thread, was slow
    driver.observe = None
    clock[0] += backend.INLINE_BACKOFF_S * 1.5
    await driver.write_batch([(INSERT, ("d", 4))])
    assert driver.inline_calls == 2  # still backing off (4 s this time)
    clock[0] += backend.INLINE_BACKOFF_S
    await driver.write_batch([(INSERT, ("e", 5))])
    assert driver.inline_calls == 3  # a fast probe: back on the Trio thread
    assert len(_rows(tmp_path / "db.sqlite")) == 5
