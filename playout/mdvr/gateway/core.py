"""`MdvrGateway`: the façade that composes the gateway's parts, runs them in its nursery and
is the control plane's API (core/mdvr.py, the daemon's /healthz)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from trocadero.config.schema import MdvrConfig
from trocadero.core.commands import Actor
from trocadero.core.containment import CONTAINMENT, Containment
from trocadero.core.events import EventBus
from trocadero.core.storage import Storage, tenancy
from trocadero.core.storage.devices import AlarmRecord, DeviceFile, DeviceStore
from trocadero.core.video_hub import VideoSink

from ...logs import get_logger
from ..feeds import LiveFeeds
from ..udp import UdpStats, serve_udp_signaling
from .alarms import Alarms
from .allowlist import AllowList
from .clock import SYSTEM_CLOCK, Clock
from .context import GatewayContext, GatewayStats, PendingSession
from .downloads import Downloads
from .health import GatewayStatistics, gateway_statistics
from .link import DeviceLink
from .listeners import Admissions, listen
from .live import Live, LiveKey, LiveSession
from .media import Media
from .positions import Positions
from .session import Parts, Signaling

log = get_logger("mdvr")


def gateway_file_dir(config: MdvrConfig, state_dir: Path) -> Path:
    """Where downloaded alarm files go: `file_dir` (relative to the state directory)."""
    return state_dir / (config.file_dir or "mdvr-files")


class MdvrGateway:
    """Owns the servers and the device state; its methods are the control plane's API."""

    def __init__(
        self,
        config: MdvrConfig,
        store: Storage,
        bus: EventBus,
        file_dir: Path,
        *,
        feeds: LiveFeeds | None = None,
        audit: bool = True,
        containment: Containment = CONTAINMENT,
        clock: Clock = SYSTEM_CLOCK,
        video: VideoSink | None = None,
    ) -> None:
        self.ctx = ctx = GatewayContext(
            config=config,
            store=store,
            bus=bus,
            file_dir=file_dir,
            # The daemon passes the feeds its renderer reads; alone, the gateway has its own.
            feeds=LiveFeeds() if feeds is None else feeds,
            clock=clock,
            containment=containment,
            audit=audit,
            video=video,
        )
        self.udp_port: int | None = None
        self.udp_stats = UdpStats()
        self.admissions = Admissions(ctx)
        self.allowlist = AllowList(ctx)
        self.positions = Positions(ctx)
        self.downloads = Downloads(ctx)
        self.live_video = Live(ctx)
        self.alarms = Alarms(ctx, self.downloads)
        self.media = Media(ctx, self.admissions, self.downloads, self.live_video)
        self.signaling = Signaling(
            ctx,
            Parts(
                self.admissions,
                self.allowlist,
                self.positions,
                self.alarms,
                self.downloads,
                self.live_video,
            ),
        )

    # --- what the parts share, as the control plane and the tests read it -----------------

    @property
    def config(self) -> MdvrConfig:
        return self.ctx.config

    @property
    def store(self) -> Storage:
        return self.ctx.store

    @property
    def devices(self) -> DeviceStore:
        return self.ctx.devices

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def file_dir(self) -> Path:
        return self.ctx.file_dir

    @property
    def feeds(self) -> LiveFeeds:
        return self.ctx.feeds

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def stats(self) -> GatewayStats:
        return self.ctx.stats

    @property
    def links(self) -> dict[str, DeviceLink]:
        return self.ctx.links

    @property
    def pending(self) -> dict[str, PendingSession]:
        return self.ctx.pending

    @property
    def live(self) -> dict[LiveKey, LiveSession]:
        return self.live_video.sessions

    @property
    def signaling_port(self) -> int:
        return self.ctx.signaling_port

    @property
    def media_port(self) -> int:
        return self.ctx.media_port

    @property
    def open_connections(self) -> int:
        return self.admissions.open_connections

    @property
    def flushed(self) -> int:
        """Position batches written (tests wait on it)."""
        return self.positions.flushed

    def statistics(self) -> GatewayStatistics:
        """The gateway's block in /healthz and its samples in /metrics."""
        return gateway_statistics(
            self.ctx,
            udp_port=self.udp_port,
            udp_stats=self.udp_stats,
            live_sessions=len(self.live_video.sessions),
            downloads_active=len(self.downloads.running),
            positions_queued=self.positions.queued(),
            open_connections=self.admissions.open_connections,
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        ctx, cfg = self.ctx, self.ctx.config
        ctx.file_dir.mkdir(parents=True, exist_ok=True)
        with tenancy.as_super_admin("system", "mdvr: gateway start-up, no device connected"):
            await ctx.devices.mark_all_offline()
        seeded = await self.allowlist.seed()
        if seeded:
            log.info("MDVR devices provisioned from [mdvr] allowed_devices", added=seeded)
        sig = await listen(cfg.bind_address, cfg.signaling_port, "mdvr.signaling_port")
        try:
            media = await listen(cfg.bind_address, cfg.media_port, "mdvr.media_port")
        except BaseException:
            for listener in sig:
                await listener.aclose()
            raise
        ctx.signaling_port = sig[0].socket.getsockname()[1]
        ctx.media_port = media[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            ctx.nursery = nursery
            nursery.start_soon(self.positions.housekeeping)
            nursery.start_soon(self.positions.writer)
            nursery.start_soon(trio.serve_listeners, self.signaling.connection, sig)
            nursery.start_soon(trio.serve_listeners, self.media.connection, media)
            if cfg.udp:
                self.udp_port = await nursery.start(
                    serve_udp_signaling,
                    cfg.bind_address,
                    ctx.signaling_port,
                    self.signaling.datagrams,
                    cfg.media_host,
                    self.udp_stats,
                )
            log.info(
                "MDVR gateway listening",
                signaling_port=ctx.signaling_port,
                media_port=ctx.media_port,
                allowed_devices=len(self.allowlist),
            )
            task_status.started()
            with tenancy.as_super_admin("system", "mdvr: resume interrupted downloads"):
                await self.downloads.resume_all()

    # --- API (control plane) ---------------------------------------------------------------

    def online(self) -> dict[str, dict[str, Any]]:
        """Registered devices now: id → link facts."""
        mono = self.ctx.clock.monotonic()
        return {
            d: {
                "address": link.address,
                "connected_at": link.connected_at.isoformat(),
                "messages": link.messages,
                "silent_s": round(mono - link.last_received, 3),
            }
            for d, link in self.ctx.links.items()
        }

    async def online_devices(self) -> dict[str, dict[str, Any]]:
        return self.online()

    async def live_statuses(self) -> list[dict[str, Any]]:
        return self.live_sessions()

    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]:
        """Ask the device for live video (C508); the frames reach the live feeds once its
        media connection arrives. Idempotent for a session already running."""
        return await self.live_video.start(device_id, channel, stream_type)

    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        """C508 stop and close the media connection; False if nothing was running."""
        return await self.live_video.stop(device_id, channel, stream_type)

    async def request_iframe(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        """0x6002 on the live session's media connection; False if it has none (yet)."""
        return await self.live_video.request_iframe(device_id, channel, stream_type)

    def live_sessions(self) -> list[dict[str, Any]]:
        return self.live_video.statuses()

    async def acknowledge_alarm(self, alarm_id: int, actor: Actor) -> AlarmRecord:
        return await self.alarms.acknowledge(alarm_id, actor)

    async def retry_file(self, file_id: int) -> DeviceFile:
        """Ask again for a failed download (attempts reset)."""
        return await self.downloads.retry(file_id)

    async def wait_file(self, file_id: int) -> DeviceFile:
        """Wait until no download of ``file_id`` is running (tests, tools)."""
        return await self.downloads.wait(file_id)
