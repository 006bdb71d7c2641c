"""Tenants and the device registry (migration 16; docs/fleet.md).

A tenant owns devices; a device id registers with the gateway only if it is in
`device_registry` (provisioned to a tenant). Which rows a call sees is the transaction's
tenant scope (tenancy.py): on PostgreSQL the database's row-level security decides, so a
provisioning call for another tenant must run on the audited super_admin path. SQLite is
single-tenant: one implicit tenant (`DEFAULT_TENANT`), and no other can be created.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .base import DEFAULT_LIMIT, Conflict, NotFound, Page, ValidationError
from .driver import Dialect, Driver, Row
from .sqlkit import keyset_page
from .tenancy import DEFAULT_TENANT

__all__ = ["RegisteredDevice", "SqlTenantStore", "TenantRecord"]

MAX_RETENTION_DAYS: Final = 3650


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: int
    name: str
    retention_days: int  # positions older than this are removed by the retention job
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    device_id: str
    tenant_id: int
    provisioned_at: datetime
    provisioned_by: str


def _retention(days: int) -> int:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValidationError([f"retention_days: 1 to {MAX_RETENTION_DAYS} days"])
    return days


class SqlTenantStore:
    """Tenants and provisioning over the fleet's driver (``Storage.tenants``)."""

    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self._d: Dialect = driver.dialect
        self.multi_tenant = driver.dialect.name == "postgres"

    def _tenant(self, row: Row) -> TenantRecord:
        return TenantRecord(
            int(row["id"]),
            row["name"],
            int(row["retention_days"]),
            self._d.dec_ts(row["created_at"]),
        )

    def _registered(self, row: Row) -> RegisteredDevice:
        return RegisteredDevice(
            row["device_id"],
            int(row["tenant_id"]),
            self._d.dec_ts(row["provisioned_at"]),
            row["provisioned_by"],
        )

    # --- tenants ---------------------------------------------------------------------------

    async def create_tenant(self, name: str, *, retention_days: int = 90) -> TenantRecord:
        if not self.multi_tenant:
            raise Conflict("SQLite is single-tenant: tenants need the PostgreSQL backend")
        async with self._db.transaction(write=True) as tx:
            row = await tx.fetchrow(
                "INSERT INTO tenants (name, retention_days, created_at) VALUES (?, ?, ?)"
                " RETURNING *",
                name,
                _retention(retention_days),
                self._d.enc_ts(datetime.now(UTC)),
            )
        assert row is not None
        return self._tenant(row)

    async def get_tenant(self, tenant_id: int) -> TenantRecord:
        async with self._db.transaction(write=False) as tx:
            row = await tx.fetchrow("SELECT * FROM tenants WHERE id = ?", tenant_id)
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return self._tenant(row)

    async def list_tenants(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[TenantRecord]:
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM tenants",
                key="id",
                kind="tenants",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(self._tenant(r) for r in rows), nxt)

    async def set_retention(self, tenant_id: int, retention_days: int) -> TenantRecord:
        async with self._db.transaction(write=True) as tx:
            row = await tx.fetchrow(
                "UPDATE tenants SET retention_days = ? WHERE id = ? RETURNING *",
                _retention(retention_days),
                tenant_id,
            )
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return self._tenant(row)

    # --- the device registry ---------------------------------------------------------------

    async def provision(self, device_id: str, tenant_id: int, *, by: str) -> RegisteredDevice:
        """Register `device_id` to `tenant_id`. An id already provisioned (to any tenant) is
        a Conflict: a device id is unique across the platform."""
        if not self.multi_tenant and tenant_id != DEFAULT_TENANT:
            raise NotFound(f"tenant {tenant_id} not found (SQLite is single-tenant)")
        async with self._db.transaction(write=True) as tx:
            if await tx.fetchval("SELECT id FROM tenants WHERE id = ?", tenant_id) is None:
                raise NotFound(f"tenant {tenant_id} not found")
            row = await tx.fetchrow(
                "INSERT INTO device_registry (device_id, tenant_id, provisioned_at,"
                " provisioned_by) VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING"
                " RETURNING *",
                device_id,
                tenant_id,
                self._d.enc_ts(datetime.now(UTC)),
                by,
            )
        if row is None:
            raise Conflict(f"device {device_id!r} is already provisioned")
        return self._registered(row)

    async def deprovision(self, device_id: str) -> RegisteredDevice:
        """Remove the id from the registry: it is refused at its next registration. Its
        stored history stays with its tenant."""
        async with self._db.transaction(write=True) as tx:
            row = await tx.fetchrow(
                "DELETE FROM device_registry WHERE device_id = ? RETURNING *", device_id
            )
        if row is None:
            raise NotFound(f"device {device_id!r} is not provisioned")
        return self._registered(row)

    async def list_registered(
        self, tenant_id: int, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[RegisteredDevice]:
        async with self._db.transaction(write=False) as tx:
            rows, nxt = await keyset_page(
                tx,
                select="SELECT * FROM device_registry",
                key="device_id",
                kind="registry",
                cursor=cursor,
                limit=limit,
                where=["tenant_id = ?"],
                args=[tenant_id],
            )
        return Page(tuple(self._registered(r) for r in rows), nxt)

    async def device_tenant(self, device_id: str) -> int | None:
        """The tenant a device id is provisioned to, None if none: the gateway asks before it
        knows whose device is calling (PostgreSQL: `fleet_device_tenant`, which answers this
        and nothing else across tenants)."""
        async with self._db.transaction(write=False) as tx:
            if self.multi_tenant:
                found = await tx.fetchval("SELECT fleet_device_tenant(?) AS t", device_id)
            else:
                found = await tx.fetchval(
                    "SELECT tenant_id AS t FROM device_registry WHERE device_id = ?", device_id
                )
        return None if found is None else int(found)

    async def seed_default(self, device_ids: Iterable[str], *, retention_days: int) -> int:
        """`[mdvr] allowed_devices` and `retention_days` as the default tenant's: ids not yet
        provisioned anywhere go to it (run in the default tenant's scope). Returns how many
        were added."""
        now = self._d.enc_ts(datetime.now(UTC))
        added = 0
        async with self._db.transaction(write=True) as tx:
            await tx.execute(
                "UPDATE tenants SET retention_days = ? WHERE id = ?",
                _retention(retention_days),
                DEFAULT_TENANT,
            )
            for device_id in device_ids:
                added += await tx.execute(
                    "INSERT INTO device_registry (device_id, tenant_id, provisioned_at,"
                    " provisioned_by) VALUES (?, ?, ?, 'config') ON CONFLICT (device_id)"
                    " DO NOTHING",
                    device_id,
                    DEFAULT_TENANT,
                    now,
                )
        return added
