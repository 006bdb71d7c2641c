"""Schema migrations: applied on a fresh database, idempotent on reopen, a newer database
refused; the SQLite file's pragmas and the unbounded-fetch guard."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from trocadero.config.schema import StorageConfig
from trocadero.core.model import ScheduleEntry
from trocadero.core.storage import SchemaError, Storage, open_storage, schema, sqlite_path
from trocadero.core.storage.driver import require_limit
from trocadero.core.storage.schema import LATEST, MIGRATIONS
from trocadero.core.storage.sql import SqlStorage

from .conftest import StoreFactory


async def ledger(store: Storage) -> list[tuple[int, str]]:
    db = cast(SqlStorage, store)._db
    async with db.transaction(write=False) as tx:
        rows = await tx.fetch(
            "SELECT version, name FROM schema_migrations ORDER BY version LIMIT 100"
        )
    return [(int(r["version"]), r["name"]) for r in rows]


async def test_fresh_database_gets_every_migration(store: Storage) -> None:
    assert await store.schema_version() == LATEST
    assert await ledger(store) == [(m.version, m.name) for m in MIGRATIONS]


async def test_reopen_applies_nothing_and_keeps_data(open_store: StoreFactory) -> None:
    async with open_store() as store:
        await store.state.save_state("k", {"v": 1})
        before = await ledger(store)
    async with open_store() as store:
        assert await ledger(store) == before
        assert await store.state.load_state("k") == {"v": 1}


async def test_approved_assets_stored_before_live_versions_go_on_playing(
    open_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database at version 5 (no live version) with an approved and a pending asset...
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:5])
    monkeypatch.setattr(schema, "LATEST", 5)
    async with open_store() as store:
        d = cast(SqlStorage, store)._db
        async with d.transaction(write=True) as tx:
            for name, status in (("approved", "approved"), ("waiting", "pending")):
                await tx.execute(
                    "INSERT INTO content_assets (name, filename, content_type, size, sha256,"
                    " status, version, metadata, created_at, created_by)"
                    " VALUES (?, ?, 'video/mp4', 1, '', ?, 1, '{}', ?, 'm')",
                    name,
                    f"{name}.mp4",
                    status,
                    d.dialect.enc_ts(datetime(2026, 5, 20, 18, tzinfo=UTC)),
                )
    monkeypatch.undo()
    # ... migrates forward: the approved one plays its version, the pending one nothing.
    async with open_store() as store:
        approved, waiting = (await store.assets.list_assets()).items
    assert (approved.live_version, approved.live_filename) == (1, "approved.mp4")
    assert (waiting.live_version, waiting.live_filename) == (None, "")


async def test_schedules_stored_before_the_timing_fields_read_with_their_defaults(
    open_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database at version 2 (no timing columns) with a schedule row in it...
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:2])
    monkeypatch.setattr(schema, "LATEST", 2)
    async with open_store() as store:
        d = cast(SqlStorage, store)._db
        async with d.transaction(write=True) as tx:
            await tx.execute("INSERT INTO looks (name, label, canvases) VALUES ('red', '', '[]')")
            await tx.execute(
                "INSERT INTO schedules (name, enabled, target_kind, target, cue, canvases, rrule,"
                " dtstart, duration_s, priority, created_by, detail)"
                " VALUES ('old', ?, 'look', 'red', NULL, '[]', 'FREQ=DAILY', ?, 60, 1, 'a', '{}')",
                True,
                d.dialect.enc_ts(datetime(2026, 5, 20, 18, tzinfo=UTC)),
            )
    monkeypatch.undo()
    # ... migrates forward, and the row reads as an entry with the new fields' defaults.
    async with open_store() as store:
        assert await store.schema_version() == LATEST
        (old,) = (await store.schedules.list_schedules()).items
    assert old == ScheduleEntry(
        id=old.id,
        name="old",
        target_kind="look",
        target="red",
        rrule="FREQ=DAILY",
        dtstart=datetime(2026, 5, 20, 18, tzinfo=UTC),
        duration_s=60.0,
        priority=1,
        created_by="a",
    )


async def test_newer_database_is_refused(open_store: StoreFactory) -> None:
    async with open_store() as store:
        d = cast(SqlStorage, store)._db
        async with d.transaction(write=True) as tx:
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                LATEST + 1,
                "from the future",
                d.dialect.enc_ts(datetime.now(UTC)),
            )
    with pytest.raises(SchemaError, match=rf"schema version {LATEST + 1}, newer than"):
        async with open_store():
            pass  # pragma: no cover


async def test_sqlite_file_is_wal_full_sync_private(tmp_path: Path) -> None:
    config = StorageConfig()
    async with open_storage(config, tmp_path) as store:
        await store.state.save_state("k", {})
    path = sqlite_path(config, tmp_path)
    assert path == tmp_path / "trocadero.db"
    assert path.stat().st_mode & 0o777 == 0o600
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_absolute_sqlite_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "show.db"
    async with open_storage(StorageConfig(sqlite_path=str(target)), tmp_path / "state"):
        pass
    assert target.exists()


def test_fetch_without_limit_is_refused() -> None:
    require_limit("SELECT name FROM looks ORDER BY name LIMIT ?")
    with pytest.raises(AssertionError, match="unbounded"):
        require_limit("SELECT name FROM looks")


async def test_the_fleet_has_its_own_file_and_an_earlier_one_is_moved_there(
    tmp_path: Path,
) -> None:
    """The MDVR fleet's tables live in fleet.db (the gateway process's writes never hold the
    lighting's write lock); a store from before keeps its vehicles: copied over once."""
    at = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    one_file = StorageConfig(fleet_sqlite_path="")  # the earlier shape: one file
    async with open_storage(one_file, tmp_path) as store:
        await store.devices.upsert_device(
            "00967", plate="CA 1", device_type=1, protocol_version="1", net_lib_version="1",
            address="10.0.0.9:5000", at=at,
        )  # fmt: skip
    assert not (tmp_path / "fleet.db").exists()
    for _ in range(2):  # the second start copies nothing again
        async with open_storage(StorageConfig(), tmp_path) as store:
            page = await store.devices.list_devices(limit=10)
            assert [d.device_id for d in page.items] == ["00967"]
            await store.state.save_state("k", {"x": 1})
    fleet = sqlite3.connect(tmp_path / "fleet.db")
    main = sqlite3.connect(tmp_path / "trocadero.db")
    try:
        assert fleet.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 1
        # The lighting's tables are written in the main file only.
        assert main.execute("SELECT COUNT(*) FROM runtime_state").fetchone()[0] >= 1
        assert fleet.execute("SELECT COUNT(*) FROM runtime_state").fetchone()[0] == 0
    finally:
        fleet.close()
        main.close()
