"""`Storage` over one `Driver` (SQLite or PostgreSQL): one store per aggregate, all sharing the
driver, so the backends differ only in their driver.

The stores' SQL is written once (show.py, patch.py, schedules.py, assets.py, users.py,
audit.py, state.py, devices.py, tokens.py; shared helpers in sqlkit.py). Rules that hold on
both backends:
- writes are validated first (dataclass rules via `core.codec`, then cross-references) and
  happen in one transaction; show edits also take a show-wide lock, so a check ("is this look
  still used?") and the write it guards cannot interleave with another writer;
- reads that span several pages (export, a cue list's cues) run in one snapshot, in chunks of
  `CHUNK` rows;
- listing order is deterministic: names in code-point order, cues by number, audit newest first.
"""

from __future__ import annotations

from collections.abc import Callable

from .assets import SqlAssetStore
from .audit import SqlAuditStore
from .base import Storage
from .devices import SqlDeviceStore
from .driver import Driver, PoolStatistics, StoreStatistics
from .patch import SqlPatchStore
from .roles import RoleReport, setup_app_role
from .rules import SqlRuleStore
from .schedules import SqlScheduleStore
from .schema import current_version, migrate
from .show import SqlShowStore
from .snapshots import SqlSnapshotStore
from .state import SqlStateStore
from .tenants import SqlTenantStore
from .tokens import SqlTokenStore
from .users import SqlUserStore

__all__ = ["SqlStorage"]


class SqlStorage(Storage):
    """Every aggregate's SQL store over the one driver."""

    def __init__(self, driver: Driver, fleet: Driver | None = None) -> None:
        self._db = driver
        self._fleet = fleet  # the MDVR fleet's tables in a database of their own
        self.backend = driver.dialect.name
        self._show = SqlShowStore(driver)
        self._patch = SqlPatchStore(driver)
        self._schedules = SqlScheduleStore(driver)
        self._assets = SqlAssetStore(driver)
        self._users = SqlUserStore(driver)
        self._audit = SqlAuditStore(driver)
        self._state = SqlStateStore(driver)
        self._rules = SqlRuleStore(driver)
        self._devices = SqlDeviceStore(fleet or driver)
        self._tenants = SqlTenantStore(fleet or driver)
        self._tokens = SqlTokenStore(driver)
        self._snapshots = SqlSnapshotStore(driver)

    async def _migrate(self) -> None:
        await migrate(self._db)
        if self._fleet is not None:  # the same schema (only its fleet tables are used)
            await migrate(self._fleet)

    @property
    def snapshots(self) -> SqlSnapshotStore:
        return self._snapshots

    @property
    def show(self) -> SqlShowStore:
        return self._show

    @property
    def patch(self) -> SqlPatchStore:
        return self._patch

    @property
    def schedules(self) -> SqlScheduleStore:
        return self._schedules

    @property
    def assets(self) -> SqlAssetStore:
        return self._assets

    @property
    def users(self) -> SqlUserStore:
        return self._users

    @property
    def audit(self) -> SqlAuditStore:
        return self._audit

    @property
    def state(self) -> SqlStateStore:
        return self._state

    @property
    def rules(self) -> SqlRuleStore:
        return self._rules

    @property
    def devices(self) -> SqlDeviceStore:
        return self._devices

    async def setup_app_role(self, role: str, password: str | None) -> RoleReport:
        """On the owner's store: the daemon's row-level-security-bound role (roles.py)."""
        return await setup_app_role(self._db, role, password)

    @property
    def tenants(self) -> SqlTenantStore:
        return self._tenants

    @property
    def tokens(self) -> SqlTokenStore:
        return self._tokens

    async def schema_version(self) -> int:
        return await current_version(self._db)

    def time_queries(self, observe: Callable[[float], None]) -> None:
        """Report every backend call's seconds (both databases) to `observe`."""
        for driver in (self._db, self._fleet):
            if driver is not None:
                driver.observe = observe

    def statistics(self) -> StoreStatistics:
        """Calls, database failures and connections, both databases together."""
        drivers = [d for d in (self._db, self._fleet) if d is not None]
        return StoreStatistics(
            self.backend,
            sum(d.calls for d in drivers),
            sum(d.failures for d in drivers),
            PoolStatistics.total([d.pool() for d in drivers]),
        )

    async def close(self) -> None:
        await self._db.close()
        if self._fleet is not None:
            await self._fleet.close()
