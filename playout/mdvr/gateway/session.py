"""One device's signaling session: registration (allow-list, takeovers), replies, heartbeats,
the silence and registration deadlines, garbage limits, and going offline."""

from __future__ import annotations

import dataclasses

import trio

from trocadero.core.containment import SESSION_FAILURES
from trocadero.core.storage import StorageError, tenancy
from trocadero.protocols.mdvr import (
    REG_BAD_FORMAT,
    Alarm,
    DeviceAck,
    Heartbeat,
    MalformedFrame,
    PositionReport,
    Registration,
    SignalingDecoder,
    SignalingMessage,
    UnknownMessage,
    build_ack,
    build_not_registered,
    build_registration_refusal,
    format_time,
    needs_ack,
    reply_problem,
    route_problem,
)

from ...logs import get_logger
from ..udp import DatagramPeer
from .alarms import Alarms
from .allowlist import AllowList
from .context import GatewayContext
from .downloads import Downloads
from .fields import stored_text
from .limits import MAX_GARBAGE, MAX_REJECTED, READ_SIZE, RECENT_KEYS
from .link import DeviceLink, send_heartbeats
from .listeners import Admission, Admissions
from .live import Live
from .positions import Positions

log = get_logger("mdvr")


@dataclasses.dataclass(frozen=True)
class Parts:
    """The gateway parts a signaling session hands its messages to."""

    admissions: Admissions
    allowlist: AllowList
    positions: Positions
    alarms: Alarms
    downloads: Downloads
    live: Live


class Signaling:
    def __init__(self, ctx: GatewayContext, parts: Parts) -> None:
        self.ctx = ctx
        self.parts = parts

    async def connection(self, stream: trio.SocketStream) -> None:
        async def session(address: str, admission: Admission) -> None:
            local_ip = self.ctx.config.media_host or stream.socket.getsockname()[0]
            await self.run(stream, address, local_ip, admission=admission)

        await self.parts.admissions.admitted(stream, "mdvr.signaling", session)

    async def datagrams(self, peer: DatagramPeer, address: str, local_ip: str) -> None:
        await self.run(peer, address, local_ip, per_read=True)

    async def run(
        self,
        stream: trio.abc.Stream,
        address: str,
        local_ip: str,
        *,
        per_read: bool = False,
        admission: Admission | None = None,
    ) -> None:
        """One device's signaling: a TCP connection, or (`per_read`) a UDP source address
        whose every read is one datagram of whole messages.

        Whatever the session raises ends this connection only: it is counted and logged
        (`Containment`), the device goes offline, and nothing else is affected."""
        ctx = self.ctx
        ctx.stats.connections += 1
        decoder = SignalingDecoder()
        link: DeviceLink | None = None
        reason = "closed by the device"
        register_by = ctx.clock.monotonic() + ctx.config.register_within_s
        try:
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    while True:
                        wait = (
                            ctx.config.offline_after_s
                            if link is not None
                            else max(0.0, register_by - ctx.clock.monotonic())
                        )
                        with trio.move_on_after(wait) as idle:
                            data = await stream.receive_some(READ_SIZE)
                        if idle.cancelled_caught:
                            if link is None:
                                ctx.stats.register_timeouts += 1
                                reason = "did not register in time"
                            else:
                                reason = "silent"
                            break
                        if not data:
                            break
                        if per_read:  # a datagram never continues the previous one
                            decoder = SignalingDecoder()
                        for msg in decoder.feed(data):
                            ctx.stats.messages += 1
                            if isinstance(msg, Registration):
                                if link is not None and link.device_id != msg.device_id:
                                    reason = "registered another id"
                                    scope.cancel()
                                    break
                                link = await self._register(
                                    msg, stream, scope, address, local_ip, link, nursery
                                )
                                if link is None:
                                    reason = "refused"
                                    scope.cancel()
                                    break
                                if admission is not None:
                                    self.parts.admissions.registered(admission)
                            elif link is None:
                                if not isinstance(msg, MalformedFrame):
                                    if route_problem(msg) is None:
                                        await stream.send_all(
                                            build_not_registered(
                                                serial=msg.serial,
                                                device_id=msg.device_id,
                                                time=ctx.clock.now(),
                                            )
                                        )
                                    else:  # nothing to address a C500 to
                                        ctx.stats.refused_fields += 1
                            else:
                                link.last_received = ctx.clock.monotonic()
                                link.messages += 1
                                await self._on_message(link, msg)
                        if (
                            decoder.skipped_since_frame > MAX_GARBAGE
                            or decoder.rejected_since_frame > MAX_REJECTED
                            or (link is not None and link.refused > MAX_REJECTED)
                        ):
                            ctx.stats.closed_for_garbage += 1
                            reason = "garbage"
                            break
                    nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            reason = f"connection lost ({group.exceptions[0]})"
        except* SESSION_FAILURES as group:
            # A bug or an input nobody foresaw: this device's link ends, the building's
            # lighting and every other link go on.
            reason = "session failure"
            ctx.containment.record("mdvr.signaling", address, group)
        finally:
            with trio.CancelScope(shield=True):
                gone = link is not None and ctx.links.get(link.device_id) is link
                if link is not None and gone:
                    del ctx.links[link.device_id]
                await stream.aclose()
                if link is not None and gone:
                    await self._went_offline(link.device_id, reason)

    async def _register(
        self,
        msg: Registration,
        stream: trio.abc.Stream,
        scope: trio.CancelScope,
        address: str,
        local_ip: str,
        current: DeviceLink | None,
        nursery: trio.Nursery,
    ) -> DeviceLink | None:
        ctx = self.ctx
        now = ctx.clock.now()
        device_id = msg.device_id
        problem = reply_problem(msg)
        if problem is not None:
            ctx.refuse_fields("V101", address, device_id, problem)
            if route_problem(msg) is None:  # only the time is unusable: refuse with ours
                refusal = dataclasses.replace(msg, time=format_time(now))
                await stream.send_all(build_registration_refusal(refusal, now, REG_BAD_FORMAT))
            return None
        try:
            tenant = await self.parts.allowlist.tenant_of(device_id)
        except StorageError as exc:  # cannot tell whose it is: refused like an unknown id
            log.error("device registry unavailable", device=device_id, error=str(exc))
            tenant = None
        if tenant is None:
            ctx.stats.refused += 1
            await stream.send_all(build_registration_refusal(msg, now))
            ctx.edge_log(
                f"unknown {device_id}",
                "MDVR device refused: not provisioned to a tenant",
                device=device_id,
                address=address,
            )
            return None
        if current is not None:  # re-registration on the same link: just acknowledge
            await current.send(build_ack(msg, now))
            return current
        old = ctx.links.get(device_id)
        if old is not None and not self.parts.allowlist.may_replace(device_id, old, address):
            await stream.send_all(build_registration_refusal(msg, now))
            return None
        if old is not None:
            # The device re-registered: its old link is dead (reference §9). Replace it.
            ctx.stats.replaced += 1
            old.scope.cancel()
        # This session's storage calls (and the tasks it starts) act for the device's tenant.
        tenancy.bind(tenant)
        plate = stored_text(msg.plate, 64)
        link = DeviceLink(
            device_id, address, local_ip, stream, scope, now, plate=plate, clock=ctx.clock
        )
        ctx.links[device_id] = link
        await link.send(build_ack(msg, now))
        ctx.stats.registrations += 1
        nursery.start_soon(send_heartbeats, link, ctx.config.heartbeat_s)
        try:
            await ctx.devices.upsert_device(
                device_id,
                plate=stored_text(msg.plate, 64),
                device_type=msg.device_type,
                protocol_version=stored_text(msg.protocol_version, 64),
                net_lib_version=stored_text(msg.net_lib_version, 64),
                address=address,
                at=now,
            )
        except StorageError as exc:
            log.error("device not recorded", device=device_id, error=str(exc))
        log.info("MDVR device online", device=device_id, address=address, plate=plate)
        ctx.bus.publish(
            "device:online",
            {"device_id": device_id, "address": address, "plate": plate, "at": now.isoformat()},
        )
        if ctx.nursery is not None:
            ctx.nursery.start_soon(self.parts.downloads.resume, device_id)
        return link

    async def _went_offline(self, device_id: str, reason: str) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        self.parts.live.end_for_device(device_id)
        try:
            await ctx.devices.set_online(device_id, False, now)
        except StorageError as exc:
            log.error("device state not recorded", device=device_id, error=str(exc))
        log.info("MDVR device offline", device=device_id, reason=reason)
        ctx.bus.publish(
            "device:offline", {"device_id": device_id, "reason": reason, "at": now.isoformat()}
        )

    async def _on_message(self, link: DeviceLink, msg: SignalingMessage) -> None:
        ctx = self.ctx
        if needs_ack(msg) and not isinstance(msg, MalformedFrame):
            problem = reply_problem(msg)
            if problem is not None:  # refused before anything is stored: it cannot be acked
                link.refused += 1
                ctx.refuse_fields(msg.keyword, link.address, link.device_id, problem)
                return
        if isinstance(msg, PositionReport):
            if msg.position is not None:
                self.parts.positions.queue(link, msg, msg.position)
        elif isinstance(msg, Alarm):
            await self.parts.alarms.record(link, msg)
            # After it is stored: else it is re-sent.
            await link.send(build_ack(msg, ctx.clock.now()))
        elif isinstance(msg, DeviceAck):
            link.acks[msg.serial] = msg
            if len(link.acks) > RECENT_KEYS:
                link.acks.pop(next(iter(link.acks)))
            if not msg.success:
                log.warning(
                    "MDVR command failed",
                    device=link.device_id,
                    command=msg.src_keyword,
                    details=list(msg.details),
                )
        elif isinstance(msg, MalformedFrame):
            ctx.stats.malformed += 1
        elif isinstance(msg, UnknownMessage):
            log.debug("MDVR unknown message", device=link.device_id, keyword=msg.keyword)
        elif isinstance(msg, Heartbeat):
            pass
        elif needs_ack(msg):  # V141, V142
            await link.send(build_ack(msg, ctx.clock.now()))
