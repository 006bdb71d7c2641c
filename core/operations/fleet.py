"""Fleet tenancy (docs/fleet.md): tenants, their position retention, and the device registry
(provisioning a device id to a tenant; the gateway refuses ids that are not provisioned).

A platform task that crosses tenants, so every handler runs on the audited super_admin path
(core/storage/tenancy.py): the audit entry names the actor and what was done. Admin only;
the fleet roles of issue 17 (super_admin, tenant_admin) will narrow it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from trocadero.config.fields import PAGE_MAX

from ..permissions import Actor
from .args import Arg, Integer, Name, Text
from .spec import Handler, Operation, Rest, Services

if TYPE_CHECKING:  # the table stays light to import: storage only when a handler runs
    from ..storage.tenants import RegisteredDevice, SqlTenantStore, TenantRecord

__all__ = ["OPERATIONS"]

_GROUP: Final = "fleet.provision"
_ACTION: Final = "provision fleet devices and tenants"
_NEEDS: Final = ("mdvr",)
_PAGING: Final = (
    Arg("limit", Integer(1, PAGE_MAX), default=100),
    Arg("cursor", Text(), doc="the previous page's next"),
)
DEFAULT_TENANT: Final = 1  # storage.tenancy.DEFAULT_TENANT (a test checks)
MAX_RETENTION_DAYS: Final = 3650  # storage.tenants.MAX_RETENTION_DAYS (a test checks)
_RETENTION: Final = Integer(1, MAX_RETENTION_DAYS)
_TENANT: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "retention_days": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_DEVICE: Final = {
    "type": "object",
    "properties": {
        "device": {"type": "string"},
        "tenant": {"type": "integer"},
        "provisioned_at": {"type": "string", "format": "date-time"},
        "provisioned_by": {"type": "string"},
    },
}


def _page(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": items}}}


def tenant_json(t: TenantRecord) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "retention_days": t.retention_days,
        "created_at": t.created_at.isoformat(),
    }


def registered_json(d: RegisteredDevice) -> dict[str, Any]:
    return {
        "device": d.device_id,
        "tenant": d.tenant_id,
        "provisioned_at": d.provisioned_at.isoformat(),
        "provisioned_by": d.provisioned_by,
    }


_Run = Callable[["SqlTenantStore", Actor, Mapping[str, Any]], Awaitable[Any]]


def _super_admin(what: str, run: _Run) -> Handler:
    """`run` on the super_admin path, audited with the actor and `what` (its arguments)."""

    async def handler(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
        from ..storage import tenancy

        shown = ", ".join(f"{k}={v}" for k, v in a.items() if v is not None and k != "cursor")
        with tenancy.as_super_admin(f"{actor.origin}:{actor.name}", f"{what} {shown}".strip()):
            return await run(s.gateway().store.tenants, actor, a)

    return handler


async def _tenants(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await t.list_tenants(limit=a["limit"], cursor=a["cursor"])
    return {"items": [tenant_json(x) for x in page.items], "next": page.next}


async def _tenant_create(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    return tenant_json(await t.create_tenant(a["name"], retention_days=a["retention_days"]))


async def _tenant_update(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    return tenant_json(await t.set_retention(a["id"], a["retention_days"]))


async def _provision(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    return registered_json(await t.provision(a["device"], a["tenant"], by=actor.name))


async def _deprovision(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    return registered_json(await t.deprovision(a["device"]))


async def _provisioned(t: SqlTenantStore, actor: Actor, a: Mapping[str, Any]) -> Any:
    await t.get_tenant(a["tenant"])  # an unknown tenant is a 404, not an empty list
    page = await t.list_registered(a["tenant"], limit=a["limit"], cursor=a["cursor"])
    return {"items": [registered_json(d) for d in page.items], "next": page.next}


def _op(
    name: str, summary: str, args: tuple[Arg, ...], run: _Run, result: Any, rest: Rest
) -> Operation:
    return Operation(
        name,
        summary,
        _GROUP,
        args,
        _super_admin(name, run),
        result,
        rest,
        needs=_NEEDS,
        action=_ACTION,
    )


_DEVICE_ID: Final = Arg("device", Name(32), required=True, doc="device id")
_TENANT_ID: Final = Arg("tenant", Integer(1), default=DEFAULT_TENANT, doc="tenant id")

OPERATIONS: Final[tuple[Operation, ...]] = (
    _op(
        "tenants",
        "the fleet's tenants, with their position retention",
        _PAGING,
        _tenants,
        _page(_TENANT),
        Rest("GET", "/api/fleet/tenants"),
    ),
    _op(
        "tenant.create",
        "add a tenant (PostgreSQL; SQLite is single-tenant)",
        (
            Arg("name", Name(64), required=True),
            Arg("retention_days", _RETENTION, default=90, doc="days of positions kept"),
        ),
        _tenant_create,
        _TENANT,
        Rest("POST", "/api/fleet/tenants", status=201),
    ),
    _op(
        "tenant.update",
        "change how many days of a tenant's positions are kept",
        (Arg("id", Integer(1), required=True), Arg("retention_days", _RETENTION, required=True)),
        _tenant_update,
        _TENANT,
        Rest("PATCH", "/api/fleet/tenants/{id}"),
    ),
    _op(
        "device.provision",
        "register a device id to a tenant: from then on it may connect",
        (_DEVICE_ID, _TENANT_ID),
        _provision,
        _DEVICE,
        Rest("POST", "/api/fleet/devices", status=201),
    ),
    _op(
        "device.deprovision",
        "remove a device id from the registry: refused at its next registration",
        (_DEVICE_ID,),
        _deprovision,
        _DEVICE,
        Rest("DELETE", "/api/fleet/devices/{device}"),
    ),
    _op(
        "devices.provisioned",
        "the device ids provisioned to a tenant",
        (Arg("tenant", Integer(1), required=True, doc="tenant id"), *_PAGING),
        _provisioned,
        _page(_DEVICE),
        Rest("GET", "/api/fleet/tenants/{tenant}/devices"),
    ),
)
