"""Provisioning and tenants end to end on PostgreSQL: the daemon's role (NOBYPASSRLS, made as
`trocadero db setup-roles` does), the operations in the table, and simulated devices over
real TCP. A provisioned id registers and its positions land in its tenant (which the
default tenant cannot see); an id that is not provisioned, or no longer, gets C100 reason 2;
`[mdvr] allowed_devices` is provisioned to the default tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import trio

from trocadero.config.schema import MdvrConfig, StorageConfig
from trocadero.core.events import EventBus
from trocadero.core.operations import OPERATIONS, OpError, Services
from trocadero.core.operations.registry import Registry
from trocadero.core.permissions import Actor
from trocadero.core.storage import NotFound, Storage, open_storage, tenancy
from trocadero.core.storage.sql import SqlStorage
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice, SimFile, encode_clip

ADMIN = Actor("ada", "admin", "api", "127.0.0.1")
OPERATOR = Actor("otto", "operator", "api", "127.0.0.1")


@dataclass
class Env:
    gateway: MdvrGateway
    bus: EventBus
    store: Storage
    table: Registry
    nursery: trio.Nursery

    def device(self, device_id: str, **options: Any) -> SimDevice:
        return SimDevice(
            device_id,
            "127.0.0.1",
            self.gateway.signaling_port,
            **{"position_interval_s": 0.05, "heartbeat_s": 0.3, **options},
        )


@pytest.fixture
async def env(postgres_dsn: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with open_storage(
        StorageConfig(backend="postgres", postgres_dsn=postgres_dsn), tmp_path
    ) as owner:
        assert isinstance(owner, SqlStorage)
        await owner.setup_app_role("trocadero_app", None)
    parts = urlsplit(postgres_dsn)
    app_dsn = urlunsplit(parts._replace(netloc=f"trocadero_app@{parts.hostname}:{parts.port}"))
    config = MdvrConfig(
        enabled=True,
        bind_address="127.0.0.1",
        signaling_port=0,
        media_port=0,
        allowed_devices=("00967",),
        heartbeat_s=0.2,
        offline_after_s=1.5,
        telemetry_flush_s=0.05,
    )
    async with open_storage(
        StorageConfig(backend="postgres", postgres_dsn=app_dsn), tmp_path
    ) as store:
        bus = EventBus()
        gw = MdvrGateway(config, store, bus, tmp_path / "files", feeds=LiveFeeds())
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            yield Env(gw, bus, store, Registry(OPERATIONS, Services(mdvr=gw)), nursery)
            nursery.cancel_scope.cancel()


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    with trio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling state the gateway does not signal
            await trio.sleep(0.01)


async def refused(env: Env, device_id: str) -> bool:
    """Registers once: True if refused with C100 reason 2 (unknown device id)."""
    dev = env.device(device_id)
    with trio.fail_after(5):
        await dev.run(cycles=1)
    replies = [m.content for m in dev.received if getattr(m, "src_keyword", "") == "V101"]
    return dev.refused and replies == [("0", "2")]


async def registers(env: Env, device_id: str) -> SimDevice:
    dev = env.device(device_id)
    env.nursery.start_soon(dev.run)
    with trio.fail_after(5):
        await dev.registered.wait()
    return dev


async def test_provisioned_ids_register_into_their_tenant_others_get_reason_2(env: Env) -> None:
    with pytest.raises(OpError) as err:
        await env.table.call(OPERATOR, "device.provision", {"device": "H0001", "tenant": 1})
    assert err.value.code == "forbidden"
    harbour = await env.table.call(
        ADMIN, "tenant.create", {"name": "harbour", "retention_days": 30}
    )
    made = await env.table.call(
        ADMIN, "device.provision", {"device": "H0001", "tenant": harbour["id"]}
    )
    assert (made["device"], made["tenant"], made["provisioned_by"]) == (
        "H0001",
        harbour["id"],
        "ada",
    )
    with pytest.raises(OpError) as err:  # one id, one tenant across the platform
        await env.table.call(ADMIN, "device.provision", {"device": "H0001"})
    assert err.value.code == "conflict"

    # Not provisioned: refused with C100 reason 2, as before tenants.
    assert await refused(env, "H0002")
    assert env.gateway.stats.refused == 1

    # Provisioned to harbour: registers, reports; its rows are harbour's alone.
    await registers(env, "H0001")
    await until(lambda: env.gateway.stats.positions_stored >= 3)
    with tenancy.as_tenant(harbour["id"]):
        record = await env.store.devices.get_device("H0001")
        stored = await env.store.devices.list_positions("H0001")
    assert record.online
    assert len(stored.items) >= 3
    with pytest.raises(NotFound):  # the default tenant (the lighting side) does not see it
        await env.store.devices.get_device("H0001")
    assert (await env.store.devices.list_positions("H0001")).items == ()

    # The config's id is the default tenant's and registers as before.
    listed = await env.table.call(ADMIN, "devices.provisioned", {"tenant": 1})
    assert [(d["device"], d["provisioned_by"]) for d in listed["items"]] == [("00967", "config")]
    assert (await registers(env, "00967")).online
    await until(lambda: {"00967", "H0001"} <= set(env.gateway.online()))

    # Operations act for the caller's tenant: the lighting roles see the default tenant's
    # vehicles, a harbour identity harbour's, through the same operation.
    def ids(page: dict[str, Any]) -> list[str]:
        return [d["device_id"] for d in page["items"]]

    with trio.fail_after(5):  # the device row is written just after the registration's ack
        while not (seen := ids(await env.table.call(OPERATOR, "mdvr.devices", {}))):  # noqa: ASYNC110 - the store does not signal
            await trio.sleep(0.02)
    assert seen == ["00967"]
    skipper = Actor("skipper", "viewer", "api", "127.0.0.1", tenant=harbour["id"])
    assert ids(await env.table.call(skipper, "mdvr.devices", {})) == ["H0001"]
    others = await env.table.call(skipper, "mdvr.positions", {"device": "00967"})
    assert others["items"] == []  # another tenant's device has no rows for it

    # Deprovisioned: the next registration of the id is refused.
    await env.table.call(ADMIN, "device.deprovision", {"device": "H0001"})
    assert await refused(env, "H0001")
    listed = await env.table.call(ADMIN, "devices.provisioned", {"tenant": harbour["id"]})
    assert listed["items"] == []

    # Every provisioning call went the audited super_admin way.
    entries = (await env.store.audit.list_audit(action="fleet.super_admin", limit=100)).items
    reasons = [e.detail["reason"] for e in entries if e.actor == "api:ada"]
    assert f"device.provision device=H0001, tenant={harbour['id']}" in reasons
    assert "device.deprovision device=H0001" in reasons


async def test_positions_are_kept_by_the_tenants_retention_not_the_configs(env: Env) -> None:
    # The config keeps 90 days (the default tenant's); this tenant keeps 400, so a device of
    # it replaying a track from 100 days ago is stored, and one of the default tenant is not.
    archive = await env.table.call(
        ADMIN, "tenant.create", {"name": "archive", "retention_days": 400}
    )
    await env.table.call(ADMIN, "device.provision", {"device": "R0001", "tenant": archive["id"]})
    back = datetime.now(UTC) - timedelta(days=100)
    for device_id in ("R0001", "00967"):
        dev = SimDevice(
            device_id,
            "127.0.0.1",
            env.gateway.signaling_port,
            position_interval_s=0.05,
            heartbeat_s=0.3,
            clock_step_s=1.0,
            start_time=back,
        )
        env.nursery.start_soon(dev.run)
        with trio.fail_after(5):
            await dev.registered.wait()
    stats = env.gateway.stats
    await until(lambda: stats.positions_stored >= 3 and stats.positions_dropped >= 3)
    with tenancy.as_tenant(archive["id"]):
        kept = (await env.store.devices.list_positions("R0001")).items
    assert kept
    assert all(p.at < back + timedelta(days=1) for p in kept)
    assert (await env.store.devices.list_positions("00967")).items == ()


async def test_a_tenants_alarm_file_is_downloaded_into_its_tenant(env: Env) -> None:
    # The file arrives on a media connection of its own: its rows must still be the tenant's.
    files = env.bus.subscribe("device:file")
    harbour = await env.table.call(ADMIN, "tenant.create", {"name": "harbour"})
    await env.table.call(ADMIN, "device.provision", {"device": "H0009", "tenant": harbour["id"]})
    dev = env.device("H0009", position_interval_s=10.0, block_size=1024)
    env.nursery.start_soon(dev.run)
    with trio.fail_after(5):
        await dev.registered.wait()
    clip = encode_clip(width=64, height=48, frames=20, fps=20.0, keyint=10)
    data = clip.elementary_stream()
    await dev.send_alarm("V204", "852D679B0155CB09", ["1"])
    await until(lambda: dev.stats.alarm_acks == 1)
    await dev.send_file_ready("UID9", SimFile("/mnt/sd/alarm/ch1.264", data))
    with trio.fail_after(20):
        while (event := await files.receive()).payload["status"] not in ("done", "failed"):
            pass
    assert event.payload["status"] == "done", event.payload
    with tenancy.as_tenant(harbour["id"]):
        row = await env.store.devices.get_file(event.payload["file_id"])
        alarms = (await env.store.devices.list_alarms()).items
    assert row.received_bytes == len(data)
    assert (env.gateway.file_dir / row.stored_path).read_bytes() == data
    assert sorted(a.alarm_uid for a in alarms) == ["852D679B0155CB09", "UID9"]
    with pytest.raises(NotFound):  # not the default tenant's
        await env.store.devices.get_file(event.payload["file_id"])
