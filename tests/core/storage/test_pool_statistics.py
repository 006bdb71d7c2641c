"""The store's connections as /healthz and /metrics report them (store.pool): on both
backends, transactions holding every connection show as in use, one more as waiting."""

from __future__ import annotations

from typing import cast

import trio

from trocadero.core.storage import Storage
from trocadero.core.storage.sql import SqlStorage


async def test_held_connections_and_a_waiting_transaction_are_counted(store: Storage) -> None:
    sql = cast(SqlStorage, store)
    driver = sql._db
    idle = sql.statistics().pool
    assert idle.in_use == 0
    assert idle.waiting == 0
    assert idle.idle == idle.size >= 1
    held = driver.pool().max  # every connection the main database may open
    release = trio.Event()
    entered = 0

    async def hold() -> None:
        nonlocal entered
        async with driver.transaction(write=False) as tx:
            entered += 1
            assert await tx.fetchval("SELECT 1") == 1
            await release.wait()

    async with trio.open_nursery() as nursery:
        for _ in range(held + 1):  # the last one has to wait for a connection
            nursery.start_soon(hold)
        with trio.fail_after(5):
            while entered < held or sql.statistics().pool.waiting < 1:  # noqa: ASYNC110  (a figure, not an event)
                await trio.sleep(0.01)
        busy = sql.statistics().pool
        assert busy.in_use >= held
        assert busy.waiting == 1
        assert busy.size >= busy.in_use
        release.set()
    after = sql.statistics().pool
    assert after.in_use == 0
    assert after.waiting == 0
