"""A command's audit entry and playback state: one durable commit when the audit store and the
state store share a database (`commits_with`), two separate writes when they do not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

import pytest

from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.persist import STATE_KEY
from trocadero.core.storage import Storage
from trocadero.core.storage.driver import Driver, Tx
from trocadero.core.storage.sql import SqlStorage

from .conftest import StoreFactory

ED = Actor("ed", "operator", "api")
_INSERT = re.compile(r"INSERT INTO (\w+)")


class Commits:
    """Every write transaction on a driver: the tables each one inserts into, and whether it
    was durable."""

    def __init__(self, driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[list[str], bool]] = []
        batch, transaction = driver.write_batch, driver.transaction
        in_batch = False

        async def write_batch(
            statements: Sequence[tuple[str, Sequence[Any]]], *, durable: bool = False
        ) -> None:
            nonlocal in_batch
            tables = [m.group(1) for sql, _ in statements if (m := _INSERT.match(sql))]
            self.seen.append((tables, durable))
            in_batch = True  # a backend may run the batch as one transaction(): not another
            try:
                await batch(statements, durable=durable)
            finally:
                in_batch = False

        def tx(*, write: bool, durable: bool = False) -> AbstractAsyncContextManager[Tx]:
            if write and not in_batch:
                self.seen.append((["(transaction)"], durable))
            return transaction(write=write, durable=durable)

        monkeypatch.setattr(driver, "write_batch", write_batch)
        monkeypatch.setattr(driver, "transaction", tx)


def _driver(store: Storage) -> Driver:
    return cast(SqlStorage, store)._db


async def test_a_command_writes_audit_and_state_in_one_commit(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.audit.commits_with(store.state)
    engine = Engine(("a",), looks={}, debounce=0.0)
    controller = Controller(engine, now=lambda: 0.0, audit=store.audit, state=store.state)
    commits = Commits(_driver(store), monkeypatch)
    await controller.set_master(ED, "grand", 0.5)
    assert commits.seen == [(["audit_log", "runtime_state"], True)]
    assert controller.saved_revision == engine.revision
    assert (await store.audit.list_audit()).items[0].action == "master.set"
    assert await store.state.load_state(STATE_KEY) is not None


async def test_audit_and_state_in_different_databases_are_written_apart(
    new_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with new_store() as audited, new_store() as stated:
        assert not audited.audit.commits_with(stated.state)
        assert not audited.audit.commits_with(audited.users)  # not a state store
        engine = Engine(("a",), looks={}, debounce=0.0)
        controller = Controller(engine, now=lambda: 0.0, audit=audited.audit, state=stated.state)
        audit_commits = Commits(_driver(audited), monkeypatch)
        state_commits = Commits(_driver(stated), monkeypatch)
        await controller.set_master(ED, "grand", 0.5)
        assert audit_commits.seen == [(["audit_log"], False)]
        assert state_commits.seen == [(["runtime_state"], True)]
        assert await audited.state.load_state(STATE_KEY) is None  # never in the wrong database
        assert await stated.state.load_state(STATE_KEY) is not None
