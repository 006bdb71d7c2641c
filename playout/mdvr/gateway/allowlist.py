"""Which device ids may register (those provisioned to a tenant), and how often a connected id
may be taken over."""

from __future__ import annotations

from collections import deque

from trocadero.core.storage import tenancy

from ...logs import get_logger
from .context import GatewayContext
from .limits import REPLACEMENT_WINDOW_S
from .link import DeviceLink

log = get_logger("mdvr")


class AllowList:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.allowed = frozenset(ctx.config.allowed_devices)
        self._replacements: dict[str, deque[float]] = {}  # allowed ids only: bounded

    async def seed(self) -> int:
        """`[mdvr] allowed_devices` and `retention_days` as the default tenant's (across
        tenants: an id provisioned elsewhere stays there)."""
        with tenancy.as_super_admin("system", "mdvr: seed the default tenant from the config"):
            return await self.ctx.store.tenants.seed_default(
                sorted(self.allowed), retention_days=self.ctx.config.retention_days
            )

    async def tenant_of(self, device_id: str) -> int | None:
        """The tenant the id is provisioned to; None: refused (C100 reason 2)."""
        tenants = self.ctx.store.tenants
        tenant = await tenants.device_tenant(device_id)
        if tenant is not None:
            with tenancy.as_tenant(tenant):  # a tenant may read its own row
                record = await tenants.get_tenant(tenant)
            self.ctx.device_tenants[device_id] = tenant
            self.ctx.device_retention[device_id] = record.retention_days
        return tenant

    def __len__(self) -> int:
        return len(self.allowed)

    def may_replace(self, device_id: str, old: DeviceLink, address: str) -> bool:
        """A second V101 for a connected id: the protocol lets it displace the first (a
        device whose link died re-registers), so anyone who knows an allowed id can too.
        Logged as a security event; past `max_replacements_per_minute` the newcomer is
        refused, and a storm raises one alert per id per interval."""
        ctx = self.ctx
        mono = ctx.clock.monotonic()
        recent = self._replacements.setdefault(device_id, deque())
        while recent and mono - recent[0] > REPLACEMENT_WINDOW_S:
            recent.popleft()
        allowed = len(recent) < ctx.config.max_replacements_per_minute
        log.warning(
            "MDVR device id registered from a second connection",
            security_event="mdvr.replacement",
            device=device_id,
            old_address=old.address,
            new_address=address,
            replacements_last_minute=len(recent) + 1,
            outcome="old link closed" if allowed else "newcomer refused (rate limit)",
        )
        if allowed:
            recent.append(mono)
            return True
        ctx.stats.replacements_refused += 1
        if ctx.due(f"storm {device_id}"):
            ctx.bus.alert(
                "mdvr",
                f"device {device_id}: registration storm from {address} (more than"
                f" {ctx.config.max_replacements_per_minute} takeovers a minute);"
                " newcomers refused, the connected link kept",
            )
        return False
