"""The daemon: one Trio nursery, each subsystem started in order and reporting ready.

Order: frame clock (native output thread) → frame producer → web control plane →
watchdog. READY=1 goes to systemd after the last one; SIGTERM/SIGINT cancel the nursery,
the output thread sends its stream-termination packets on the way out, state is flushed,
and the process exits 0.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import ssl
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import trio
import trio_asyncio
from hypercorn.config import Config as HypercornConfig
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.trio import serve

from trocadero import __version__
from trocadero.config import Config, ConfigError
from trocadero.config.show import ShowDef
from trocadero.core.auth import AuthService, LoginStatistics
from trocadero.core.blobs import LiveBlobs, Placement
from trocadero.core.commands import Controller
from trocadero.core.containment import CONTAINMENT, ContainmentStatistics, contain_asyncio_errors
from trocadero.core.content import AssetIndex, ContentLibrary
from trocadero.core.events import EventBus
from trocadero.core.interactions import Interactions
from trocadero.core.metrics import (
    Metrics,
    NativeHistogramCollector,
    StatisticsCollector,
    create_metrics,
    gc_pauses,
)
from trocadero.core.operations.registry import Registry, registry
from trocadero.core.patch_grid import OutputUniverses, Wiring
from trocadero.core.permissions import SYSTEM
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.persist import STATE_KEY
from trocadero.core.rule_service import RuleService, RuleStatistics, site_of
from trocadero.core.schedule.resolve import ShowIndex
from trocadero.core.schedule_service import ScheduleService
from trocadero.core.snapshot_service import ShowSnapshots
from trocadero.core.statistics import counter, detail, section, to_json
from trocadero.core.storage import Storage, StorageError, StoreCorrupt, open_storage
from trocadero.core.storage.driver import StoreStatistics
from trocadero.core.storage.sql import SqlStorage
from trocadero.core.stream_tokens import StreamTokens
from trocadero.core.touch import SurfaceMap, TouchService
from trocadero.core.touch_board import TouchBoard
from trocadero.core.video_hub import VideoHub
from trocadero.native import kernels
from trocadero.native.clock import VERSION as NATIVE_VERSION
from trocadero.native.clock import FrameClock
from trocadero.protocols.artnet import ARTNET_PORT
from trocadero.web.app import ControlPlane, FaultHooks, create_app
from trocadero.web.live import LiveStats, WebSocketStatistics

from .artnet_nodes import (
    ArtNetDiscovery,
    DiscoveryStatistics,
    discovery_statistics,
    serve_artnet_discovery,
)
from .backup_schedule import BackupStatistics, BackupStats, serve_backups
from .cameras.checks import camera_canvas_problems
from .cameras.process import CameraStatistics, CameraTracker
from .cameras.view import Cameras
from .control_socket import ControlSocket, SocketStatistics, socket_path
from .frames import InputOverlay, RenderStatistics, RenderStats, serve_frame_producer
from .ha import HaStatistics, Pair
from .ha_follow import LeaderOnlyState, StateFollower
from .ha_lease import Lease
from .ha_link import HeartbeatLink
from .health import (
    ClockStatistics,
    EmergencyStatistics,
    EventsStatistics,
    PlaybackStatistics,
    ShowStatistics,
    WatchdogStatistics,
    clock_statistics,
    emergency_statistics,
    playback_statistics,
)
from .inputs import InputStatistics, InputUniverses, input_statistics, serve_inputs
from .library import reconcile_show, unseeded
from .logs import get_logger
from .mdvr.feeds import LiveFeeds
from .mdvr.gateway import MdvrGateway, gateway_file_dir
from .mdvr.gateway.health import GatewayStatistics
from .mdvr.process import GatewayProcess, GatewayProcessStatistics
from .mqtt import MqttSensors, MqttStatistics
from .native_frames import serve_native_frames
from .outputs import (
    AttachedOutput,
    OutputStatistics,
    attach_outputs,
    output_statistics,
    serve_output_monitor,
    serve_sacn_discovery,
)
from .playback import (
    LockedCalls,
    PlaybackDriver,
    build_engine,
    console_asserted,
    install_emergency,
    locked,
    restore_state,
    serve_emergency_watch,
    serve_persistence,
)
from .playback_events import serve_playback_events
from .redis_bridge import RedisBridge
from .render import fields
from .render.look_preview import LookPreviews
from .render.sources import SourceContext, describe_sources
from .rules import serve_rules
from .schedule import ScheduleRunner, ScheduleStatistics, serve_schedule
from .showload import LoadedShow, load_configured_show
from .signing_key import load_signing_key
from .statefile import StateFile, resolve_state_dir, state_dir_problems
from .supervisor import Policy, SupervisorStatistics, SupervisorStats, supervise
from .systemd import Notifier
from .tls import ServerTls, server_tls
from .tracing import start_tracing, stop_tracing
from .tuio import TouchListeners, TouchStatistics, surface_maps
from .wire_watch import start_wire_watch, stop_wire_watch

log = get_logger("daemon")
# A camera is never given up on (a dead one may come back after hours): it is retried with
# backoff up to a minute apart, each failure alerted.
CAMERA_POLICY = Policy(restart_delay_s=1.0, max_delay_s=60.0, crash_limit=1 << 30)


def block_python(seconds: float, *, hold_gil: bool = False) -> None:
    """Wedge the Python side on purpose: the Trio thread spins, running Python (which hands
    the GIL to other threads every switch interval), or with `hold_gil` sits in one C call
    that keeps the GIL throughout (as a long extension call does): no Python runs anywhere."""
    end = time.monotonic() + seconds
    if hold_gil:
        libc = ctypes.PyDLL(None)  # PyDLL: the GIL is not released around the call
        while (left := end - time.monotonic()) > 0:
            libc.poll(None, 0, max(1, int(left * 1000)))  # one wait for the whole time
        return
    x = 0
    while time.monotonic() < end:
        x += 1


@dataclass(frozen=True, slots=True)
class WebStatistics:
    """The control plane: its supervisor's counts (kept here for older readers) and the
    WebSocket's."""

    starts: int = field(metadata=counter())
    restarts: int = field(metadata=counter())  # starts after the first
    crashes: int = field(metadata=counter())
    last_error: str | None = field(metadata=detail())
    websocket: WebSocketStatistics


@dataclass(frozen=True, slots=True)
class HealthStatistics:
    """The whole of /healthz; /metrics is the same, as samples."""

    # "ok"; "degraded" (a camera down: still HTTP 200); "stalled" (no fresh frames): HTTP 503
    status: str = field(metadata=detail())
    version: str = field(metadata=detail())
    uptime_s: float
    clock: ClockStatistics
    render: RenderStatistics
    show: ShowStatistics
    emergency: EmergencyStatistics
    playback: PlaybackStatistics | None = field(metadata=section())
    schedule: ScheduleStatistics | None = field(metadata=section())
    outputs: tuple[OutputStatistics, ...] = field(metadata=section(prefix="output"))
    inputs: InputStatistics | None = field(metadata=section(prefix="input"))
    artnet_discovery: DiscoveryStatistics | None = field(metadata=section())
    containment: ContainmentStatistics
    socket: SocketStatistics | None = field(metadata=section())
    mdvr: GatewayStatistics | None = field(metadata=section())
    mdvr_process: GatewayProcessStatistics | None = field(metadata=section())
    mqtt: MqttStatistics | None = field(metadata=section())
    rules: RuleStatistics | None = field(metadata=section())
    touch: TouchStatistics | None = field(metadata=section())
    events: EventsStatistics
    store: StoreStatistics | None = field(metadata=section())
    logins: LoginStatistics | None = field(metadata=section())
    web: WebStatistics
    subsystems: tuple[SupervisorStatistics, ...] = field(
        metadata=section(prefix="subsystem", key="name")
    )
    watchdog: WatchdogStatistics
    backup: BackupStatistics | None = field(default=None, metadata=section())  # [backup] on
    cameras: tuple[CameraStatistics, ...] = field(
        default=(), metadata=section(prefix="camera", key="name")
    )
    reason: str = field(default="", metadata=detail())  # why "degraded" (or "stalled")
    ha: HaStatistics | None = field(default=None, metadata=section())  # [ha] on: the pair


@dataclass
class Runtime:
    """What the subsystems share: the clock, the notifier and supervisor counters."""

    config: Config
    show: LoadedShow
    clock: FrameClock
    notifier: Notifier
    render: RenderStats = field(default_factory=RenderStats)
    outputs: list[AttachedOutput] = field(default_factory=list)
    inputs: InputUniverses | None = None
    discovery: ArtNetDiscovery | None = None
    overlay: InputOverlay | None = None
    controller: Controller | None = None
    store: Storage | None = None
    schedules: ScheduleService | None = None
    events: EventBus = field(default_factory=EventBus)  # device:* and later UI events
    mdvr: MdvrGateway | GatewayProcess | None = None
    video: VideoHub | None = None  # browser viewers of the MDVR live video
    auth: AuthService | None = None
    redis: RedisBridge | None = None
    mqtt: MqttSensors | None = None
    rules: RuleService | None = None
    touch: TouchListeners | None = None  # [[touch.surfaces]]: the TUIO listeners
    live: LiveStats = field(default_factory=LiveStats)
    socket: ControlSocket | None = None
    operations: Registry | None = None  # the one table REST and the socket API serve
    content: ContentLibrary | None = None
    metrics: Metrics | None = None  # /metrics (made by `instrument`)
    schedule_runner: ScheduleRunner | None = None
    started_ns: int = field(default_factory=time.monotonic_ns)
    supervisors: dict[str, SupervisorStats] = field(default_factory=dict)
    watchdog_withheld: bool = False
    tls: ServerTls | None = None  # [web] tls_certificate: HTTPS and WSS
    backup: BackupStats | None = None  # [backup] enabled: the scheduled backups
    cameras: list[CameraTracker] = field(default_factory=list)  # [[cameras]]: blob trackers
    pair: Pair | None = None  # [ha]: the hot-standby pair
    follower: StateFollower | None = None  # [ha]: the standby follows the leader's playback

    @property
    def web_url(self) -> str:
        web = self.config.web
        return f"{'https' if self.tls else 'http'}://{web.host}:{web.port}"

    @property
    def web(self) -> SupervisorStats:
        return self.supervisors.setdefault("web", SupervisorStats("web"))

    def can_crash(self, name: str) -> bool:
        stats = self.supervisors.get(name)
        return stats is not None and stats.state == "running"

    def crash_subsystem(self, name: str) -> bool:
        """Fault injection: make a supervised subsystem raise (False: no such subsystem)."""
        stats = self.supervisors.get(name)
        if stats is None or stats.state != "running":
            return False
        stats.request_crash()
        return True

    def containment(self) -> ContainmentStatistics:
        """This process's contained failures, and the gateway process's when it has one."""
        ours = CONTAINMENT.statistics()
        theirs = self.mdvr.containment() if isinstance(self.mdvr, GatewayProcess) else None
        return ours if theirs is None else ours.merged(theirs)

    def statistics(self) -> HealthStatistics:
        """Every subsystem's statistics: /healthz and /metrics are both made of these."""
        now = time.monotonic_ns()
        clock = clock_statistics(self.clock, now)
        web = self.web
        cameras = tuple(c.statistics() for c in self.cameras)
        status, reason = "ok", ""
        if not (clock.running and clock.fresh):
            status, reason = "stalled", "no fresh frames"
        elif down := [c for c in cameras if not c.up]:
            # The lighting plays on; what the cameras drive (glows, rules) does not.
            status = "degraded"
            reason = "; ".join(
                f"camera {c.name} {c.state}" + (f": {c.last_error}" if c.last_error else "")
                for c in down
            )
        return HealthStatistics(
            status=status,
            version=__version__,
            uptime_s=round((now - self.started_ns) / 1e9, 3),
            clock=clock,
            render=self.render.statistics(self.clock.period_ns),
            show=ShowStatistics(
                self.show.show.name,
                self.show.source,
                len(self.show.renderer.canvases),
                len(self.show.patch.universes),
            ),
            emergency=emergency_statistics(self.clock),
            playback=None
            if self.controller is None
            else playback_statistics(self.controller.engine),
            schedule=None if self.schedule_runner is None else self.schedule_runner.statistics(),
            outputs=output_statistics(self.clock, self.outputs),
            inputs=None if self.inputs is None else input_statistics(self.inputs),
            artnet_discovery=(
                None if self.discovery is None else discovery_statistics(self.discovery)
            ),
            containment=self.containment(),
            socket=None if self.socket is None else self.socket.statistics(),
            mdvr=None if self.mdvr is None else self.mdvr.statistics(),
            mdvr_process=(
                self.mdvr.process_statistics() if isinstance(self.mdvr, GatewayProcess) else None
            ),
            mqtt=None if self.mqtt is None else self.mqtt.stats.statistics(),
            rules=None if self.rules is None else self.rules.statistics(),
            touch=None if self.touch is None else self.touch.statistics(),
            events=EventsStatistics(
                self.events.subscriber_count,
                self.events.published,
                *self.events.queued(),
                None if self.redis is None else self.redis.stats.statistics(),
            ),
            store=self.store.statistics() if isinstance(self.store, SqlStorage) else None,
            logins=None if self.auth is None else self.auth.statistics(),
            web=WebStatistics(
                web.starts,
                max(0, web.starts - 1),
                web.crashes,
                web.last_error,
                self.live.statistics(),
            ),
            subsystems=tuple(st.statistics() for _, st in sorted(self.supervisors.items())),
            watchdog=WatchdogStatistics(
                self.notifier.watchdog_interval_s is not None, self.watchdog_withheld
            ),
            backup=None if self.backup is None else self.backup.statistics(),
            cameras=cameras,
            reason=reason,
            ha=None if self.pair is None else self.pair.statistics(),
        )

    def health(self) -> Mapping[str, Any]:
        return to_json(self.statistics())

    def instrument(self) -> Metrics:
        """This daemon's registry: the statistics (read at scrape time, as /healthz reads
        them), the output thread's lateness and render times (kept natively), and the
        histograms the Python side observes into."""
        metrics = create_metrics(__version__, NATIVE_VERSION, lambda: self.render.native_histogram)
        metrics.registry.register(
            StatisticsCollector(
                self.statistics,
                lambda: {"name": self.show.show.name, "source": self.show.source},
            )
        )
        metrics.registry.register(
            NativeHistogramCollector(
                "trocadero_deadline_lateness_seconds",
                "How late the output thread woke for each frame deadline.",
                self.clock.lateness_histogram,
            )
        )
        self.render.observe = metrics.render.observe
        if isinstance(self.store, SqlStorage):
            self.store.time_queries(metrics.store_query.observe)
        self.metrics = metrics
        return metrics

    def control_plane(self) -> ControlPlane:
        faults = None
        if self.config.debug.fault_injection:
            faults = FaultHooks(
                crash_web=lambda: self.crash_subsystem("web"),
                crash_subsystem=self.crash_subsystem,
                can_crash=self.can_crash,
                stall_clock=self.clock.set_stalled,
                block_python=block_python,
            )
        return ControlPlane(
            health=self.health,
            metrics=self.metrics,
            canvases=self.canvases,
            preview=self.show.previews.latest,
            artnet_nodes=self.artnet_nodes,
            faults=faults,
            playback=self.controller,
            operations=self.operations,
            store=self.store,
            schedule=self.schedules,
            mdvr=self.mdvr,
            video=self.video,
            refresh=self.mdvr.refresh if isinstance(self.mdvr, GatewayProcess) else None,
            patch=self.canvas_patch,
            auth=self.auth,
            events=self.events,
            live=self.live,
            content=self.content,
            sources=describe_sources,
            rate_limit_per_minute=self.config.auth.rate_limit_per_minute,
            login_attempts_per_minute=self.config.auth.login_attempts_per_minute,
            max_body_bytes=self.config.web.max_body_bytes,
            hsts_max_age_s=self.config.web.hsts_max_age_s,
        )

    def canvas_patch(self, name: str) -> list[Mapping[str, Any]] | None:
        if name not in self.show.renderer.canvases:
            return None
        return [
            {
                "name": fx.name,
                "type": fx.type,
                "colour_order": fx.colour_order,
                "pixels": fx.pixel_count,
                "slots_per_pixel": fx.slots_per_pixel,
                "ranges": [list(r) for r in fx.ranges],
                "first_pixel": fx.pixels[0].tolist() if fx.pixel_count else None,
                "last_pixel": fx.pixels[-1].tolist() if fx.pixel_count else None,
            }
            for fx in self.show.patch.fixtures.values()
            if fx.canvas == name
        ]

    def artnet_nodes(self) -> list[Mapping[str, Any]] | None:
        if self.discovery is None:
            return None
        return list(self.discovery.table.nodes(self.discovery.clock()))

    def canvases(self) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        defs = {c.name: c for c in self.show.show.canvases}
        for name, c in self.show.renderer.canvases.items():
            defn = defs.get(name)
            placement = defn.placement if defn is not None else None
            out.append(
                {
                    "name": name,
                    "width": c.cmap.width,
                    "height": c.cmap.height,
                    "layers": [type(layer.source).kind for layer in c.layers],
                    "description": defn.description if defn is not None else "",
                    # On the building's elevation drawing (docs/ui.md, building view).
                    "placement": None if placement is None else asdict(placement),
                }
            )
        return out


async def serve_frame_clock(
    rt: Runtime, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    clog = get_logger("clock")
    rt.clock.start()
    try:
        s = rt.clock.stats()
        if s.realtime_error is not None:
            clog.warning(
                "SCHED_FIFO not permitted; output thread runs at normal priority",
                reason=s.realtime_error,
                hint="grant CAP_SYS_NICE or LimitRTPRIO in the unit",
            )
        clog.info(
            "frame clock started", rate_hz=s.rate_hz, frame_bytes=s.frame_bytes, realtime=s.realtime
        )
        task_status.started()
        await trio.sleep_forever()
    finally:
        # Joins the output thread, which sends stream-termination packets on its way out.
        rt.clock.stop()
        s = rt.clock.stats()
        clog.info(
            "frame clock stopped",
            frames_sent=s.frames_sent,
            late_renders=s.late_renders,
            missed_deadlines=s.missed_deadlines,
        )


async def serve_web(
    rt: Runtime, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    cfg = HypercornConfig()
    cfg.bind = [f"{rt.config.web.host}:{rt.config.web.port}"]
    cfg.accesslog = None
    # A Logger instance (not "-") keeps Hypercorn's lines in our JSON, subsystem web.hypercorn.
    cfg.errorlog = logging.getLogger("web.hypercorn")
    cfg.graceful_timeout = 0.5
    # Client WebSocket messages are small JSON ops (web/live.py refuses past 8 KiB): a larger
    # frame is refused by Hypercorn before it is buffered (its default would take 16 MiB).
    cfg.websocket_max_message_size = 64 * 1024
    if rt.tls is not None:
        cfg = _TlsConfig.serving(cfg, rt.tls)
    app: Any = create_app(rt.control_plane())
    if rt.config.web.proxy_hops:
        app = ProxyFixMiddleware(app, mode="legacy", trusted_hops=rt.config.web.proxy_hops)
    async with trio.open_nursery() as nursery:
        # serve() is Hypercorn's own nursery.start-able task: ready once bound.
        await nursery.start(serve, app, cfg)
        if rt.tls is not None:
            nursery.start_soon(serve_tls_reload, rt.tls)
        task_status.started()
        get_logger("web").info(
            "web server listening", bind=cfg.bind, tls=rt.tls is not None, url=rt.web_url
        )


class _TlsConfig(HypercornConfig):
    """Hypercorn's config serving our `ServerTls` context (kept, so SIGHUP can reload the
    certificate of the context the listener really uses)."""

    tls: ServerTls

    @classmethod
    def serving(cls, base: HypercornConfig, tls: ServerTls) -> _TlsConfig:
        cfg = cls()
        for key, value in vars(base).items():
            setattr(cfg, key, value)
        cfg.tls = tls
        # Hypercorn decides "TLS or not" from these two; the context itself is ours.
        cfg.certfile, cfg.keyfile = tls.certificate, tls.key
        return cfg

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.context


async def serve_tls_reload(tls: ServerTls) -> None:
    """SIGHUP: read the certificate and key again (a renewal), for new connections."""
    with trio.open_signal_receiver(signal.SIGHUP) as signals:
        async for _ in signals:
            tls.reload()


async def serve_watchdog(
    rt: Runtime, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Pet systemd's watchdog only while the output thread is advancing frames."""
    wlog = get_logger("watchdog")
    interval = rt.notifier.watchdog_interval_s or 1.0
    last = rt.clock.stats().frames_sent
    task_status.started()
    while True:
        await trio.sleep(interval)
        sent = rt.clock.stats().frames_sent
        advancing = sent > last
        last = sent
        if advancing:
            rt.notifier.notify("WATCHDOG=1")
            if rt.watchdog_withheld:
                wlog.info("frame clock advancing again; watchdog resumed")
        elif not rt.watchdog_withheld:
            wlog.error("frame clock stalled; withholding the systemd watchdog", frames_sent=sent)
        rt.watchdog_withheld = not advancing


async def _start_inputs_and_discovery(nursery: trio.Nursery, rt: Runtime) -> None:
    """Inputs, then Art-Net discovery sharing the Art-Net input's socket when there is one.

    With SO_REUSEPORT the kernel hands each unicast datagram to one socket only, so a
    second listener on 6454 would steal ArtDmx or ArtPollReply packets from the first.
    """
    dcfg = rt.config.artnet_discovery
    if dcfg.enabled:
        rt.discovery = ArtNetDiscovery(bind_address=dcfg.bind_address)
    shared = any(
        i.protocol == "artnet"
        and i.bind_address == "0.0.0.0"
        and (i.port or ARTNET_PORT) == dcfg.port
        for i in rt.config.inputs
    )
    if rt.inputs is not None:
        on_other = rt.discovery.on_other if rt.discovery is not None and shared else None
        await _supervised(
            nursery,
            rt,
            "inputs",
            partial(serve_inputs, rt.inputs, on_artnet_other=on_other),
            Policy(config_key="inputs", bind="an input port"),
        )
    if rt.discovery is not None:
        await _supervised(
            nursery,
            rt,
            "artnet_discovery",
            partial(
                serve_artnet_discovery,
                rt.discovery,
                poll_targets=dcfg.poll_targets,
                interval_s=dcfg.interval_s,
                port=dcfg.port,
                own_listener=not shared,
            ),
            Policy(config_key="artnet_discovery.port", bind=f"0.0.0.0:{dcfg.port}"),
        )


async def _supervised(
    nursery: trio.Nursery, rt: Runtime, name: str, serve: Any, policy: Policy
) -> None:
    """Start `serve` under a supervisor (restarts, backoff, disable, alerts)."""
    stats = rt.supervisors.setdefault(name, SupervisorStats(name))
    await nursery.start(
        partial(supervise, name, serve, stats, policy=policy, alert=rt.events.alert)
    )


def video_alerts(events: EventBus) -> Callable[[str], None]:
    """Where video layers report decoder failures from their threads: onto the bus, in Trio."""
    token = trio.lowlevel.current_trio_token()

    def alert(text: str) -> None:
        payload = {"level": "error", "source": "video", "text": text}
        token.run_sync_soon(events.publish, "system:alert", payload)

    return alert


async def run_daemon(
    config: Config, *, reseed: bool = False, config_path: Path | None = None
) -> None:
    """Load the show and run until SIGTERM/SIGINT. Raises ConfigError for a configuration
    problem (the CLI exits 2), other exceptions on a start-up failure (exit 1)."""
    # Made before the show: its layers use them from the start, and so do the content
    # library, the MDVR gateway and the runtime (the same instances, passed to each).
    events, assets, feeds = EventBus(), AssetIndex(), LiveFeeds()
    touches = TouchBoard()  # what touch_ripple layers draw from
    blobs = LiveBlobs()  # what the cameras' trackers see, for blob_glow layers and rules
    for camera in config.cameras:
        blobs.placements[camera.name] = Placement(camera.canvas, camera.rect)
    sources = SourceContext(
        assets=assets,
        live_feeds=feeds,
        alert=video_alerts(events),
        touches=touches,
        blobs=blobs,
    )
    show = load_configured_show(config, sources)
    touch_surfaces(config, show)  # before any storage is opened: a ConfigError names the key
    if unknown := camera_canvas_problems(config, show.renderer.canvases):
        raise ConfigError(unknown)
    tls = server_tls(config.web)  # unreadable certificate files: a config error, exit 2
    directory = resolve_state_dir(config.state.directory, os.environ)
    if problems := state_dir_problems(directory):
        raise ConfigError(problems)
    state = StateFile(directory)
    previous = state.begin_run()
    if previous is not None and not previous.get("clean_shutdown", True):
        log.warning("previous run did not shut down cleanly", previous=previous)
    try:
        async with AsyncExitStack() as stack:
            if config.storage.backend == "postgres" or config.events.redis_url:
                # asyncpg and redis.asyncio are asyncio-only: one trio_asyncio loop for the
                # daemon's lifetime.
                loop = await stack.enter_async_context(trio_asyncio.open_loop())
                contain_asyncio_errors(loop)
            try:
                store = await stack.enter_async_context(
                    open_storage(config.storage, state.directory)
                )
                if not reseed and unseeded(await store.show.get_show()):
                    earlier = earlier_installation(state.directory, previous)
                    if earlier:
                        raise StartupRefused(
                            f"storage ({config.storage.backend}): the store is missing or empty"
                            f" but {state.directory} holds an earlier installation's"
                            f" {', '.join(earlier)}; refusing to seed the default show and a new"
                            " admin over it. Restore the store, or start once with"
                            " `trocadero run --reseed` to seed it on purpose"
                        )
                playing = await reconcile_show(store, show.show, show.schedules)
            except StoreCorrupt as exc:  # a runtime failure (exit 1), not a config problem
                raise StartupRefused(f"storage ({config.storage.backend}): {exc}") from exc
            except (StorageError, OSError) as exc:
                raise ConfigError([f"storage ({config.storage.backend}): {exc}"]) from exc
            await _run(
                config, show, state, store, playing, events, assets, feeds, tls, config_path, blobs
            )
    except BaseExceptionGroup as group:
        # trio_asyncio's loop nursery wraps a start-up ConfigError: unwrap it so the CLI
        # reports it as a configuration problem (exit 2) rather than a crash.
        matched, rest = group.split(ConfigError)
        if matched is not None and rest is None:
            leaves = list(_leaves(matched))
            raise ConfigError([p for e in leaves for p in e.problems]) from group
        refused, rest = group.split(StartupRefused)
        if refused is not None and rest is None:
            raise StartupRefused(str(refused.exceptions[0])) from group
        raise


class StartupRefused(Exception):
    """The daemon will not start over what it found (exit 1, one line to stderr)."""


def earlier_installation(state_dir: Path, previous: Mapping[str, Any] | None) -> list[str]:
    """What in the state directory says a daemon has run here before."""
    # Each is only written once a store was opened and seeded (a first start that failed to
    # reach its database leaves at most daemon.json without frames: not evidence).
    found = []
    if previous is not None and "frames_sent" in previous:
        found.append("daemon.json (a completed run)")
    for name in ("auth.key", "content", "mdvr-files"):
        path = state_dir / name
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            found.append(name)
    return found


def _leaves(group: BaseExceptionGroup[ConfigError]) -> list[ConfigError]:
    out: list[ConfigError] = []
    for e in group.exceptions:
        if isinstance(e, BaseExceptionGroup):
            out += _leaves(e)
        else:
            out.append(e)
    return out


def touch_surfaces(config: Config, show: LoadedShow) -> list[SurfaceMap]:
    sizes = {n: (c.cmap.width, c.cmap.height) for n, c in show.renderer.canvases.items()}
    return surface_maps(config.touch, sizes)


async def _run(
    config: Config,
    show: LoadedShow,
    state: StateFile,
    store: Storage,
    playing: ShowDef,
    events: EventBus,
    assets: AssetIndex,
    feeds: LiveFeeds,
    tls: ServerTls | None,
    config_path: Path | None = None,  # the file `trocadero run --config` read: backed up
    blobs: LiveBlobs | None = None,  # the cameras' blobs (the same the show's layers read)
) -> None:
    for look in playing.looks:
        show.renderer.set_look(look)
    clock = FrameClock(
        config.clock.rate_hz,
        show.patch.frame_bytes,
        realtime_priority=config.clock.realtime_priority,
    )
    rt = Runtime(
        config=config,
        show=show,
        clock=clock,
        notifier=Notifier(),
        store=store,
        events=events,
        tls=tls,
    )
    if config.ha.enabled:
        # Before the clock starts: a node never transmits as leader before it holds the lease.
        clock.enable_wire_gate(config.ha.sacn_standby_offset)
        rt.pair = Pair(
            config.ha,
            clock,
            Lease(config.storage.postgres_dsn, config.ha.node_name),
            HeartbeatLink(config.ha.node_name, config.ha.bind, config.ha.peer),
            store.audit,
        )
    metrics = rt.instrument()
    engine = build_engine(playing, show.renderer, config)
    driver = PlaybackDriver(engine, show.renderer, clock)
    # The render runs in its own thread: every engine call and look change from the Trio
    # thread holds the lock each frame holds (PlaybackDriver).
    rt.controller = Controller(
        cast(Engine, LockedCalls(engine, driver.lock)),
        now=driver.now,
        latch=clock,
        changed=driver.changed,
        check_look=show.renderer.check_look,
        look_stored=locked(driver.lock, show.renderer.set_look),
        look_removed=locked(driver.lock, show.renderer.forget_look),
        panic_fade=config.playback.panic_fade_s,
        input_asserted=lambda: console_asserted(rt.inputs, config),
        audit=store.audit,
        # A pair: only the leader saves the playback state (the standby follows it).
        state=store.state if rt.pair is None else LeaderOnlyState(store.state, rt.pair),
        library=store.show,
        swap_lock=driver.lock,
    )
    # The building's schedule: entries in memory, the show as the engine has it now.
    rt.schedules = ScheduleService(
        store,
        config.site,
        horizon_s=config.schedule.horizon_s,
        show=lambda: ShowIndex.of(engine.looks.values(), (pb.defn for pb in engine.lists.values())),
        canvases=lambda: engine.canvas_names,
    )
    await rt.schedules.load()
    rt.auth = AuthService(store, load_signing_key(state.directory), config.auth)
    rt.content = ContentLibrary(
        store,
        Path(config.content.directory) if config.content.directory else state.directory / "content",
        rt.events.publish,
        max_upload_bytes=config.content.max_upload_bytes,
        assets=assets,  # the index video layers find approved assets in
        rebuild_looks=locked(driver.lock, show.renderer.rebuild_looks),
    )
    await rt.content.load_index()
    if config.mdvr.enabled:  # off by default: no MDVR ports unless configured (served below)
        if config.mdvr.own_process:  # vehicles never run in the lighting's interpreter
            rt.mdvr = GatewayProcess(config, store, rt.events, feeds, state.directory)
        else:
            files = gateway_file_dir(config.mdvr, state.directory)
            rt.mdvr = MdvrGateway(config.mdvr, store, rt.events, files, feeds=feeds)
        # Browsers watching vehicles: the gateway remuxes, the hub shares and paces the streams.
        rt.video = VideoHub(
            rt.mdvr,
            StreamTokens(config.mdvr.video_token_s),
            grace_s=config.mdvr.video_grace_s,
            start_timeout_s=config.mdvr.session_timeout_s,
            log=log.warning,
        )
        if isinstance(rt.mdvr, GatewayProcess):
            rt.mdvr.video = rt.video
        else:
            rt.mdvr.ctx.video = rt.video
    live_blobs = LiveBlobs() if blobs is None else blobs
    rt.cameras = [CameraTracker(c, live_blobs, rt.events) for c in config.cameras]
    interactions = Interactions(rt.controller, rt.events.publish)
    # Trigger rules: loaded and fed by their task (started below, after the state restore).
    rules = RuleService(store.rules, store.audit, rt.controller, interactions, site_of(config.site))
    rt.rules = rules
    # Touch: the service (the simulator works with any configured surface) and, when
    # surfaces are configured, their TUIO listeners (started below).
    touch = TouchService(
        touch_surfaces(config, show),
        rt.events.publish,
        store.audit,
        board=show.renderer.sources.touches,
        timeout_s=config.touch.touch_timeout_s,
    )
    if config.touch.surfaces:
        rt.touch = TouchListeners(config.touch, touch)
    rt.operations = registry(
        rt.controller,
        interactions=interactions,
        show=store.show,
        audit=store.audit,
        schedule=rt.schedules,
        auth=rt.auth,
        mdvr=rt.mdvr,
        assets=store.assets,
        content=rt.content,
        # The outputs are attached below; the grid asks for them when it is read.
        wiring=Wiring(
            show.patch,
            lambda: [
                OutputUniverses(o.config.name, o.config.protocol, o.universes) for o in rt.outputs
            ],
        ),
        # Blind previews: the editor's looks drawn off the wire (render/look_preview.py).
        look_preview=LookPreviews(show.renderer, max_size=config.render.preview_max_size),
        snapshots=ShowSnapshots(store, rt.controller, rt.schedules, rules),
        rules=rules,
        touch=touch,
        cameras=Cameras(rt.cameras, live_blobs) if rt.cameras else None,
        video=rt.video,
        pair=rt.pair,
    )
    # The show as it starts: the first snapshot, or a new one if it changed while stopped
    # (a reseed, a restore); the same content as the newest adds nothing.
    await rt.operations.services.show_snapshots().record(SYSTEM, "show at start")
    one_time = await rt.auth.bootstrap()
    if one_time is not None:
        # Printed once, never stored: the account must choose its own at first login.
        log.warning(
            "created the first admin account with a one-time password",
            user=config.auth.admin_user,
            password=one_time,
            next_step="log in and change it (POST /api/auth/password)",
        )
    covered = install_emergency(clock, show.renderer, config)
    log.info("emergency override armed", bytes_covered=covered, input=config.emergency.input_path)
    # Before start(): afterwards the output thread owns its sinks.
    rt.outputs = attach_outputs(clock, config.outputs, show.patch, state.directory)
    if config.inputs:
        # Our own sACN looping back (multicast loopback) must never merge into our input.
        rt.inputs = InputUniverses(config.inputs, ignore_cids=[o.cid for o in rt.outputs])
        unknown = [
            m.target
            for m in config.input_masters
            if m.target != "grand" and m.target not in show.renderer.canvases
        ]
        if unknown:
            raise ConfigError(
                [
                    f"config: input_masters: target {t!r} is not a canvas of the show"
                    for t in unknown
                ]
            )
        rt.overlay = InputOverlay(rt.inputs, show.patch, config.input_masters)
        if rt.overlay.ignored:
            log.warning(
                "input universes the show does not output are received but unused",
                universes=rt.overlay.ignored[:16],
            )
    with (
        trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals,
        gc_pauses(metrics.gc_pause),
    ):
        try:
            async with trio.open_nursery() as nursery:
                watch = start_wire_watch(metrics.go_to_wire.observe, nursery)  # always on
                start_tracing(config.tracing, watch=watch)  # off by default: nothing loaded
                await nursery.start(serve_frame_clock, rt)
                # Before the first frame: the output resumes where it should be.
                restore_state(
                    engine, await store.state.load_state(STATE_KEY), driver.now(), time.time()
                )
                if engine.emergency:
                    clock.engage_emergency()
                if config.schedule.enabled:  # re-derived from the horizon, before any frame
                    runner = ScheduleRunner(rt.controller, rt.schedules, config.schedule)
                    rt.schedule_runner = runner
                    await _supervised(
                        nursery, rt, "schedule", partial(serve_schedule, runner), Policy()
                    )
                await _supervised(
                    nursery, rt, "rules", partial(serve_rules, rules, rt.events), Policy()
                )
                await _start_inputs_and_discovery(nursery, rt)
                if rt.pair is not None:  # [ha]: off by default, a single node leads alone
                    rt.pair.alert = partial(rt.events.alert, "ha")
                    rt.follower = StateFollower(
                        rt.pair,
                        driver,
                        partial(store.state.load_state, STATE_KEY),
                        rt.operations.services.snapshots,
                    )
                    await _supervised(nursery, rt, "ha_follow", rt.follower.serve, Policy())
                    await _supervised(
                        nursery,
                        rt,
                        "ha",
                        rt.pair.serve,
                        Policy(required=True, config_key="ha.bind", bind=config.ha.bind),
                    )
                if config.events.redis_url:  # off by default: events stay in the process
                    rt.redis = RedisBridge(rt.events, config.events)
                    await _supervised(nursery, rt, "redis", rt.redis.serve, Policy())
                if config.mqtt.enabled:  # off by default: no broker contacted
                    rt.mqtt = MqttSensors(config.mqtt, interactions.sensor, alert=rt.events.alert)
                    await _supervised(nursery, rt, "mqtt", rt.mqtt.serve, Policy(config_key="mqtt"))
                if rt.touch is not None:  # off unless [[touch.surfaces]] are configured
                    await _supervised(
                        nursery, rt, "touch", rt.touch.serve, Policy(config_key="touch.surfaces")
                    )
                for tracker in rt.cameras:  # each camera's death is its own (restart, alert)
                    await _supervised(nursery, rt, tracker.subsystem, tracker.serve, CAMERA_POLICY)
                if rt.mdvr is not None:
                    # Optional: ports in use keep the gateway retrying, never the building dark.
                    await _supervised(nursery, rt, "mdvr", rt.mdvr.serve, Policy())
                if rt.video is not None:
                    await nursery.start(rt.video.run)
                producer = (
                    partial(serve_native_frames, realtime_priority=config.clock.realtime_priority)
                    if config.render.native
                    else partial(
                        serve_frame_producer,
                        threaded=config.render.thread,
                        realtime_priority=config.clock.realtime_priority,
                    )
                )
                await nursery.start(
                    producer,
                    clock,
                    show.renderer,
                    show.previews,
                    rt.render,
                    rt.overlay,
                    driver,
                )
                await _supervised(
                    nursery,
                    rt,
                    "emergency_watch",
                    partial(serve_emergency_watch, rt.controller, clock, rt.inputs, config),
                    Policy(),
                )
                await _supervised(
                    nursery, rt, "persistence", partial(serve_persistence, rt.controller), Policy()
                )
                await _supervised(
                    nursery,
                    rt,
                    "playback_events",
                    partial(serve_playback_events, rt.controller, rt.events),
                    Policy(),
                )
                if config.socket.enabled:
                    path = socket_path(config.socket, state.directory, dict(os.environ))
                    rt.socket = ControlSocket(rt.operations, rt.events, config.socket, path)
                    rt.socket.latency = metrics.socket
                    await _supervised(
                        nursery,
                        rt,
                        "socket",
                        rt.socket.serve,
                        Policy(required=True, config_key="socket.path", bind=str(path)),
                    )
                await _supervised(
                    nursery,
                    rt,
                    "web",
                    partial(serve_web, rt),
                    Policy(
                        restart_delay_s=config.web.restart_delay_s,
                        required=True,
                        config_key="web.port",
                        bind=f"{config.web.host}:{config.web.port}",
                    ),
                )
                await _supervised(
                    nursery,
                    rt,
                    "output_monitor",
                    partial(serve_output_monitor, clock, rt.outputs),
                    Policy(),
                )
                await _supervised(
                    nursery,
                    rt,
                    "sacn_discovery",
                    partial(serve_sacn_discovery, rt.outputs),
                    Policy(),
                )
                if config.backup.enabled:
                    rt.backup = BackupStats()
                    await _supervised(
                        nursery,
                        rt,
                        "backup",
                        partial(
                            serve_backups,
                            config,
                            config_path,
                            state.directory,
                            rt.backup,
                            rt.events.alert,
                        ),
                        Policy(),
                    )
                await nursery.start(serve_watchdog, rt)
                gc.collect()
                gc.freeze()  # start-up objects leave the GC's scans: full collections ~0 ms
                rt.notifier.notify("READY=1", "STATUS=playing")
                log.info(
                    "trocadero ready",
                    version=__version__,
                    show=show.show.name,
                    universes=len(show.patch.universes),
                    kernels=kernels.IMPLEMENTATION,
                    source_kernels=fields.IMPLEMENTATION,
                    state_dir=str(state.directory),
                    web=f"{rt.web_url}/healthz",
                )
                async for signum in signals:
                    log.info("shutting down", signal=signal.Signals(signum).name)
                    rt.notifier.notify("STOPPING=1")
                    nursery.cancel_scope.cancel()
                    break
        finally:
            stop_tracing()
            stop_wire_watch()
            s = clock.stats()
            state.end_run({"frames_sent": s.frames_sent, "late_renders": s.late_renders})
            rt.notifier.close()
    log.info("trocadero stopped")
