"""Tenants on PostgreSQL: the database holds each tenant to its rows (row-level security), not
the application. Hand-written SQL through the daemon's role (made by `setup_app_role`, as
`trocadero db setup-roles` does) sees only the transaction's tenant; that role cannot turn
row security off, alter the policies or read a partition directly; the super_admin path sees
every tenant and leaves an audit entry; retention is per tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from trocadero.config.schema import StorageConfig
from trocadero.core.storage import Conflict, Storage, StorageError, open_storage, tenancy
from trocadero.core.storage.devices import NewAlarm, PositionRow
from trocadero.core.storage.schema import FLEET_TABLES
from trocadero.core.storage.sql import SqlStorage

APP_ROLE = "trocadero_app"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def as_role(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


@dataclass
class Fleet:
    owner: Storage
    app: Storage
    a: int
    b: int
    app_dsn: str


async def populate(store: Storage, device: str, tenant: int) -> None:
    with tenancy.as_tenant(tenant):
        await store.devices.upsert_device(
            device,
            plate=f"plate {device}",
            device_type=1,
            protocol_version="1",
            net_lib_version="1",
            address="127.0.0.1",
            at=NOW,
        )
        await store.devices.insert_positions(
            [
                PositionRow(device, NOW - timedelta(days=d), NOW, True, 18.8, -34.0)
                for d in (0, 45, 200)
            ]
        )
        await store.devices.record_alarm(
            NewAlarm(device, f"uid-{device}", "V201", "overspeed", False, NOW, NOW)
        )
        await store.devices.add_file(
            device_id=device,
            alarm_uid=f"uid-{device}",
            device_path=f"/mnt/{device}.264",
            file_type=1,
            channel=0,
            size=10,
            start_time="",
            duration_s=1,
        )


@pytest.fixture
async def fleet(postgres_dsn: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    owner_config = StorageConfig(backend="postgres", postgres_dsn=postgres_dsn, pool_max=2)
    async with open_storage(owner_config, tmp_path) as owner:
        assert isinstance(owner, SqlStorage)
        report = await owner.setup_app_role(APP_ROLE, "app secret")
        assert report.tables > 10
        app_config = StorageConfig(
            backend="postgres", postgres_dsn=as_role(postgres_dsn, APP_ROLE), pool_max=2
        )
        # The daemon's own start-up (migrations already applied) works as the app role.
        async with open_storage(app_config, tmp_path) as app:
            with tenancy.as_super_admin("test", "set up two tenants"):
                a = (await app.tenants.create_tenant("harbour buses", retention_days=30)).id
                b = (await app.tenants.create_tenant("airport taxis", retention_days=400)).id
                await app.tenants.provision("A0001", a, by="test")
                await app.tenants.provision("B0001", b, by="test")
            await populate(app, "A0001", a)
            await populate(app, "B0001", b)
            yield Fleet(owner, app, a, b, app_config.postgres_dsn)


async def select_all(store: Storage, table: str, tenant: str | None) -> list[dict[str, object]]:
    """A hand-written SELECT * through the app role, with the setting as given (None: unset)."""
    assert isinstance(store, SqlStorage)
    with tenancy.as_tenant(1):
        async with store._db.transaction(write=False) as tx:
            await tx.execute("SELECT set_config('app.current_tenant_id', ?, true)", tenant or "")
            return await tx.fetch(f"SELECT * FROM {table} LIMIT 1000")


async def run(store: Storage, *statements: str) -> None:
    """Statements in one write transaction through the app role (in the current scope)."""
    assert isinstance(store, SqlStorage)
    async with store._db.transaction(write=True) as tx:
        for statement in statements:
            await tx.execute(statement)


async def test_a_tenant_sees_only_its_own_rows_in_every_fleet_table(fleet: Fleet) -> None:
    for table in FLEET_TABLES:
        rows_a = await select_all(fleet.app, table, str(fleet.a))
        rows_b = await select_all(fleet.app, table, str(fleet.b))
        assert {r["tenant_id"] for r in rows_a} == {fleet.a}, table
        assert {r["tenant_id"] for r in rows_b} == {fleet.b}, table
        # No tenant set: no rows at all (not an error that falls back to everything).
        assert await select_all(fleet.app, table, None) == [], table
    tenants = await select_all(fleet.app, "tenants", str(fleet.a))
    assert [t["name"] for t in tenants] == ["harbour buses"]
    # Through the store's own calls, in A's scope: A's device only.
    with tenancy.as_tenant(fleet.a):
        page = await fleet.app.devices.list_devices()
        assert [d.device_id for d in page.items] == ["A0001"]
        assert [a.device_id for a in (await fleet.app.devices.list_alarms()).items] == ["A0001"]
        assert (await fleet.app.devices.list_positions("B0001")).items == ()
        # Writing a row into B from A's scope is refused by the policy's WITH CHECK.
        with pytest.raises(StorageError, match="row-level security"):
            await run(
                fleet.app,
                "INSERT INTO device_registry (device_id, tenant_id, provisioned_at,"
                f" provisioned_by) VALUES ('X1', {fleet.b}, now(), 'x')",
            )


async def test_the_app_role_cannot_switch_row_security_off_or_touch_the_policies(
    fleet: Fleet,
) -> None:
    assert isinstance(fleet.app, SqlStorage)
    attrs = await select_all(fleet.app, "pg_roles", None)
    me = next(r for r in attrs if r["rolname"] == APP_ROLE)
    assert me["rolbypassrls"] is False
    assert me["rolsuper"] is False
    attempts = [
        "SET LOCAL row_security = off; SELECT count(*) FROM devices",
        "ALTER POLICY devices_tenant ON devices USING (true)",
        "DROP POLICY devices_tenant ON devices",
        "ALTER TABLE devices DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE positions NO FORCE ROW LEVEL SECURITY",
        "SELECT * FROM positions_y2026m06 LIMIT 1",  # a month read around the parent's policy
        "SELECT fleet_drop_position_partition('devices')",
    ]
    for sql in attempts:
        with pytest.raises(StorageError) as caught:
            await run(fleet.app, *sql.split("; "))
        assert any(
            word in str(caught.value)
            for word in ("row-level security", "must be owner", "permission denied", "not a")
        ), (sql, str(caught.value))


async def test_the_super_admin_path_sees_every_tenant_and_is_audited(fleet: Fleet) -> None:
    with tenancy.as_super_admin("ops:alice", "support ticket 4711"):
        ids = [d.device_id for d in (await fleet.app.devices.list_devices()).items]
    assert ids == ["A0001", "B0001"]
    entries = (await fleet.app.audit.list_audit(action="fleet.super_admin", limit=100)).items
    mine = [e for e in entries if e.actor == "ops:alice"]
    assert len(mine) == 1
    assert mine[0].detail == {"reason": "support ticket 4711"}
    assert mine[0].role == "super_admin"
    # A device id is unique across tenants: provisioning it to a second one is refused.
    with tenancy.as_super_admin("ops:alice", "provision a duplicate"), pytest.raises(Conflict):
        await fleet.app.tenants.provision("A0001", fleet.b, by="ops:alice")


async def test_retention_is_per_tenant(fleet: Fleet) -> None:
    # A keeps 30 days, B 400: A loses its 45- and 200-day-old rows, B keeps all three.
    with tenancy.as_super_admin("system", "positions retention"):
        removed = await fleet.app.devices.apply_retention(NOW)
    assert removed == 2  # no month is past every tenant's cutoff: rows, no partition
    with tenancy.as_tenant(fleet.a):
        left_a = [p.at for p in (await fleet.app.devices.list_positions("A0001")).items]
    with tenancy.as_tenant(fleet.b):
        left_b = [p.at for p in (await fleet.app.devices.list_positions("B0001")).items]
    assert left_a == [NOW]
    assert len(left_b) == 3
    # B shortened to 100 days: now the month 200 days back is past every cutoff and goes
    # whole (a dropped partition), the 45-day-old row of B stays.
    with tenancy.as_super_admin("ops:alice", "B's retention to 100 days"):
        await fleet.app.tenants.set_retention(fleet.b, 100)
        partitions_before = await fleet.app.devices.position_partitions()
        removed = await fleet.app.devices.apply_retention(NOW)
        partitions_after = await fleet.app.devices.position_partitions()
    assert removed == 1
    gone = set(partitions_before) - set(partitions_after)
    assert gone == {"positions_y2025m11"}
    with tenancy.as_tenant(fleet.b):
        left_b = [p.at for p in (await fleet.app.devices.list_positions("B0001")).items]
    assert left_b == [NOW - timedelta(days=45), NOW]


async def test_a_connection_goes_back_to_the_default_tenant_after_another_tenants_work(
    fleet: Fleet, tmp_path: Path
) -> None:
    # One connection only: the default tenant's transactions send no SET LOCAL (the
    # connection's session value is tenant 1), so what another tenant's transaction set
    # must not outlive it, whether it committed or failed.
    one = StorageConfig(backend="postgres", postgres_dsn=fleet.app_dsn, pool_min=1, pool_max=1)
    async with open_storage(one, tmp_path) as store:
        await populate(store, "D0001", 1)
        with tenancy.as_tenant(fleet.b):
            assert [d.device_id for d in (await store.devices.list_devices()).items] == ["B0001"]
        assert [d.device_id for d in (await store.devices.list_devices()).items] == ["D0001"]
        with tenancy.as_tenant(fleet.a), pytest.raises(StorageError):
            await run(store, "SELECT 1/0")
        assert [d.device_id for d in (await store.devices.list_devices()).items] == ["D0001"]
        with tenancy.as_super_admin("test", "one connection"):
            assert len((await store.devices.list_devices()).items) == 3
        assert [d.device_id for d in (await store.devices.list_devices()).items] == ["D0001"]
