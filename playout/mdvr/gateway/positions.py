"""Positions: checked, queued, written in batches (by size or by time), announced once per
report; and the telemetry tables' housekeeping (partitions ahead, retention behind)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from datetime import timedelta

import trio

from trocadero.core import tracing
from trocadero.core.storage import StorageError, tenancy
from trocadero.core.storage.devices import PositionRow
from trocadero.protocols.mdvr import Position, PositionReport

from ...logs import get_logger
from .context import GatewayContext
from .fields import plausible
from .limits import (
    BACKFILL_AGE_S,
    FUTURE_SLACK,
    HOUSEKEEPING_S,
    POSITION_QUEUE,
    RECENT_POSITIONS,
    RETRY_DELAY_S,
)
from .link import DeviceLink

log = get_logger("mdvr")


class RecentKeys:
    """The last `size` keys seen, with O(1) membership (a deque alone costs a scan per
    report: 2,000 vehicles made that a million string compares a second)."""

    __slots__ = ("_order", "_seen")

    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque(maxlen=size)
        self._seen: set[str] = set()

    def add(self, key: str) -> bool:
        """False if `key` is among the recent ones; else remember it (forgetting the oldest)."""
        if key in self._seen:
            return False
        if len(self._order) == self._order.maxlen:
            self._seen.discard(self._order[0])
        self._order.append(key)
        self._seen.add(key)
        return True

    def __len__(self) -> int:
        return len(self._order)


_Queued = tuple[PositionRow, str | None]


class Positions:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        # Each row with the traceparent of its "mdvr position" span (tracing on and sampled).
        self._in, self._out = trio.open_memory_channel[_Queued](POSITION_QUEUE)
        self._recent: dict[str, RecentKeys] = {}  # allowed ids only: bounded
        self.flushed = 0  # batches written (tests wait on it)

    def queued(self) -> int:
        return self._in.statistics().current_buffer_used

    async def housekeeping(self) -> None:
        ctx = self.ctx
        while True:
            now = ctx.clock.now()
            try:
                created = await ctx.devices.ensure_partitions(now)
                # Every tenant's positions, each by its own retention_days: audited.
                with tenancy.as_super_admin("system", "mdvr: positions retention"):
                    removed = await ctx.devices.apply_retention(now)
                if created or removed:
                    log.info("telemetry housekeeping", partitions_created=created, removed=removed)
            except StorageError as exc:
                log.error("telemetry housekeeping failed", error=str(exc))
            await trio.sleep(HOUSEKEEPING_S)

    async def writer(self) -> None:
        """Write batches of `telemetry_batch` rows, or what came within `telemetry_flush_s`
        of the first."""
        batch_max, flush_s = self.ctx.config.telemetry_batch, self.ctx.config.telemetry_flush_s
        # Not closed on the way out: a restarted gateway reads the same queue.
        while True:
            try:
                first = await self._out.receive()
            except trio.EndOfChannel:
                return
            batch = [first]
            with trio.move_on_after(flush_s):
                while len(batch) < batch_max:
                    batch.append(await self._out.receive())
            while len(batch) < batch_max:  # whatever else is already queued
                try:
                    batch.append(self._out.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            await self._write(batch)

    async def _insert(self, batch: Sequence[PositionRow]) -> int:
        """One transaction per tenant: each is held to its own rows."""
        by_tenant: dict[int, list[PositionRow]] = {}
        for row in batch:
            tenant = self.ctx.device_tenants.get(row.device_id, tenancy.DEFAULT_TENANT)
            by_tenant.setdefault(tenant, []).append(row)
        stored = 0
        for tenant, rows in by_tenant.items():
            with tenancy.as_tenant(tenant):
                stored += await self.ctx.devices.insert_positions(rows)
        return stored

    async def _write(self, queued: Sequence[_Queued]) -> None:
        stats = self.ctx.stats
        batch = [row for row, _ in queued]
        for attempt in range(3):
            start_ns = time.time_ns()
            try:
                stored = await self._insert(batch)
            except StorageError as exc:
                log.warning("position batch not stored", rows=len(batch), error=str(exc))
                await trio.sleep(RETRY_DELAY_S * (attempt + 1))
                continue
            stats.positions_stored += stored
            stats.positions_duplicate += len(batch) - stored
            self.flushed += 1
            end_ns = time.time_ns()
            for _, parent in queued:  # the commit, in each traced position's trace
                tracing.record(parent, "stored", start_ns, end_ns, {"trocadero.rows": len(batch)})
            return
        stats.positions_dropped += len(batch)

    def queue(self, link: DeviceLink, msg: PositionReport, pos: Position) -> None:
        flag = {} if msg.report_flag is None else {"trocadero.mdvr.report_flag": msg.report_flag}
        with tracing.span("mdvr position", flag):
            self._queue(link, msg, pos, tracing.traceparent())

    def _queue(
        self, link: DeviceLink, msg: PositionReport, pos: Position, parent: str | None
    ) -> None:
        ctx = self.ctx
        at = msg.timestamp
        now = ctx.clock.now()
        ctx.stats.positions_received += 1
        if at is None:
            return
        # Older than its tenant keeps (the config's for the default tenant): never stored.
        days = ctx.device_retention.get(link.device_id, ctx.config.retention_days)
        oldest = now - timedelta(days=days)
        if at < oldest or at > now + FUTURE_SLACK or not plausible(pos):
            ctx.stats.positions_dropped += 1
            return
        row = PositionRow(
            device_id=link.device_id,
            at=at,
            received_at=now,
            valid=pos.valid,
            longitude=pos.longitude,
            latitude=pos.latitude,
            speed_kmh=pos.speed_kmh,
            course_raw=pos.course_raw,
            status="" if pos.status is None else pos.status.hex().upper(),
            mileage_m=pos.mileage_m,
            report_flag=msg.report_flag,
        )
        try:
            self._in.send_nowait((row, parent))
        except trio.WouldBlock:
            ctx.stats.positions_dropped += 1
            return
        # Per device, across reconnects: a re-sent cached report is stored once (the store
        # dedupes) and announced once (this window of recent report times).
        recent = self._recent.get(link.device_id)
        if recent is None:
            recent = self._recent[link.device_id] = RecentKeys(RECENT_POSITIONS)
        if not recent.add(msg.time):
            return
        ctx.bus.publish(
            "device:position",
            {
                "device_id": link.device_id,
                "at": at.isoformat(),
                "valid": pos.valid,
                "longitude": pos.longitude,
                "latitude": pos.latitude,
                "speed_kmh": pos.speed_kmh,
                "course_raw": pos.course_raw,
                "heading_deg": pos.heading_deg,
                "backfill": (now - at).total_seconds() > BACKFILL_AGE_S,
            },
            trace=parent,
        )
