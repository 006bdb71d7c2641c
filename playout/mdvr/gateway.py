"""The MDVR gateway: signaling and media servers in the daemon's nursery.

Signaling (TCP): a device registers with V101 and is admitted only if its id is on the
allow-list (else C100 reason 2 and the link is closed; refusals are logged at most once per
interval per id). Every V101/V141/V142 and alarm is answered with the C100 CMSV6 sends; V109
and V114 get no reply. We send C501 at least every ``heartbeat_s`` (devices drop a link 90 s
after our last byte) and close a link that has been silent for ``offline_after_s``. A second
V101 for an id closes the older link. Positions go to a bounded queue and are written in
batches; re-sent cached positions and alarms are deduplicated by the store (device + time,
device + UID), and every alarm is acknowledged by UID, new or not.

Media (TCP): a connection must register a session we asked for (C508 live video, C702 file)
from the device we asked, before that session timed out; anything else gets 0x6000 failure
and is closed. Live video is decoded off-thread into ``LIVE_FEEDS`` (video.py) for the
``mdvr-live`` layer source; files are written and checked (files.py), remuxed and thumbnailed.

Garbage policy (reference §9): a link is closed after 64 KiB of unframeable bytes or 16
rejected frames in a row; media packets are capped at 8 MiB (never buffered beyond one).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import trio

from trocadero.config import ConfigError
from trocadero.config.schema import MdvrConfig
from trocadero.core.commands import Actor, audit
from trocadero.core.containment import (
    CONTAINMENT,
    SESSION_FAILURES,
    Containment,
    describe,
)
from trocadero.core.events import EventBus
from trocadero.core.storage import Storage, StorageError
from trocadero.core.storage.devices import AlarmRecord, DeviceFile, NewAlarm, PositionRow
from trocadero.protocols.mdvr import (
    FEEDBACK_BAD_DEVICE_ID,
    OP_SESSION_END,
    REG_BAD_FORMAT,
    Alarm,
    DeviceAck,
    FileBlock,
    FileReady,
    FileRegistration,
    Heartbeat,
    LiveVideoRegistration,
    MalformedFrame,
    MediaDecoder,
    MediaFrame,
    MediaItem,
    MediaRegistration,
    Position,
    PositionReport,
    Registration,
    SignalingDecoder,
    SignalingMessage,
    UnknownMessage,
    build_ack,
    build_file_download,
    build_heartbeat,
    build_iframe_request,
    build_live_video,
    build_live_video_stop,
    build_media_feedback,
    build_media_heartbeat,
    build_media_packet,
    build_not_registered,
    build_registration_refusal,
    format_time,
    needs_ack,
    parse_time,
    reply_problem,
    route_problem,
)

from ..logs import get_logger
from .feeds import LIVE_FEEDS, LiveFeeds
from .files import PartialFile, TransferError, make_thumbnail, remux_to_mp4, safe_name
from .udp import DatagramPeer, UdpStats, serve_udp_signaling
from .video import LiveDecoder

log = get_logger("mdvr")

SEND_TIMEOUT_S: Final = 10.0
COMMAND_SPACING_S: Final = 0.15  # net libraries before 6.1.26 read one command per recv (§9)
MAX_GARBAGE: Final = 64 * 1024
MAX_REJECTED: Final = 16
MAX_MEDIA_PAYLOAD: Final = 8 * 1024 * 1024
POSITION_QUEUE: Final = 100_000
RECENT_KEYS: Final = 512  # per link: recently seen alarm UIDs / command acks (event dedupe)
# Per device: the report times of the last positions announced. A re-sent report (the device
# missed our ack and sends its cache again) comes within a few reports; 64 covers a minute at
# 1/s. It is kept for every device that ever reported: 512 times cost ~35 KiB each, 70 MiB
# for 2,000 vehicles (seen as RSS growing for 8 minutes in the soak); 64 cost ~5 KiB.
RECENT_POSITIONS: Final = 64
HOUSEKEEPING_S: Final = 3600.0
BACKFILL_AGE_S: Final = 120.0  # older positions are flagged as backfill, not live
FUTURE_SLACK: Final = timedelta(days=2)
RETRY_DELAY_S: Final = 1.0
READ_SIZE: Final = 65536
REPLACEMENT_WINDOW_S: Final = 60.0


async def _listen(host: str, port: int, key: str) -> list[trio.SocketListener]:
    """TCP listeners; a port in use is a one-line error naming the config key."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        what = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc})"
        raise ConfigError([f"{key}: {host}:{port} {what}"]) from exc


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


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeviceOffline(LookupError):
    """The device has no registered signaling link."""


@dataclass(eq=False)
class DeviceLink:
    """One registered signaling connection."""

    device_id: str
    address: str
    local_ip: str
    stream: trio.abc.Stream
    scope: trio.CancelScope
    connected_at: datetime
    plate: str = ""
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    serials: Any = field(default_factory=lambda: itertools.count(1))
    last_command: float = 0.0
    last_received: float = field(default_factory=time.monotonic)
    messages: int = 0
    refused: int = 0  # messages refused at the edge; the link is closed past MAX_REJECTED
    acks: dict[str, DeviceAck] = field(default_factory=dict)

    async def send(self, data: bytes) -> None:
        async with self.send_lock:
            with trio.move_on_after(SEND_TIMEOUT_S) as cs:
                await self.stream.send_all(data)
            if cs.cancelled_caught:
                self.scope.cancel()
                raise trio.BrokenResourceError("send timed out")

    async def command(self, build: Callable[..., bytes]) -> str:
        """Send a C-command built for the next server serial, paced; returns the serial."""
        async with self.send_lock:
            wait = self.last_command + COMMAND_SPACING_S - time.monotonic()
            if wait > 0:
                await trio.sleep(wait)
            serial = str(next(self.serials))
            with trio.move_on_after(SEND_TIMEOUT_S) as cs:
                await self.stream.send_all(build(serial=serial))
            self.last_command = time.monotonic()
            if cs.cancelled_caught:
                self.scope.cancel()
                raise trio.BrokenResourceError("send timed out")
            return serial


@dataclass(eq=False)
class _Admission:
    """A TCP connection counted against its address until it registers."""

    ip: str
    registered: bool = False


_CONTROL = dict.fromkeys([*range(0x20), 0x7F])


def stored_text(value: str, max_chars: int = 200) -> str:
    """A device's free text as we store it: no control characters (PostgreSQL refuses
    NUL in text and jsonb), at most `max_chars`."""
    return value.translate(_CONTROL)[:max_chars]


def plausible(pos: Position) -> bool:
    """A fix we can store and publish as JSON: finite, on the globe, a sane speed."""
    speed = pos.speed_kmh
    return (
        math.isfinite(pos.longitude)
        and math.isfinite(pos.latitude)
        and abs(pos.longitude) <= 180.0
        and abs(pos.latitude) <= 90.0
        and (speed is None or (math.isfinite(speed) and 0.0 <= speed <= 2000.0))
    )


@dataclass(eq=False)
class PendingSession:
    session_id: str
    device_id: str
    kind: Literal["live", "file"]
    channel: int = 0
    stream_type: int = 0
    file_id: int = 0
    start_offset: int = 0
    claimed: trio.Event = field(default_factory=trio.Event)  # its media connection arrived
    done: trio.Event = field(default_factory=trio.Event)
    outcome: str = ""  # "done", or why the attempt ended


@dataclass(eq=False)
class LiveSession:
    device_id: str
    channel: int
    stream_type: int
    session_id: str
    state: Literal["requested", "streaming", "ended", "stopped", "timed out"] = "requested"
    requested_at: float = field(default_factory=time.monotonic)
    frames: int = 0
    bytes: int = 0
    decoder: LiveDecoder | None = None
    scope: trio.CancelScope | None = None

    def status(self, feed: Mapping[str, Any] | None) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "channel": self.channel,
            "stream": self.stream_type,
            "session_id": self.session_id,
            "state": self.state,
            "frames_received": self.frames,
            "bytes_received": self.bytes,
            "frames_decoded": 0 if self.decoder is None else self.decoder.decoded,
            "frames_dropped": 0 if self.decoder is None else self.decoder.dropped,
            "feed": feed,
        }


@dataclass
class GatewayStats:
    connections: int = 0
    registrations: int = 0
    refused: int = 0
    replaced: int = 0
    messages: int = 0
    malformed: int = 0
    closed_for_garbage: int = 0
    positions_received: int = 0
    positions_stored: int = 0
    positions_duplicate: int = 0
    positions_dropped: int = 0  # queue full, outside retention, implausible time, store failed
    alarms_new: int = 0
    alarms_duplicate: int = 0
    media_refused: int = 0
    files_done: int = 0
    files_failed: int = 0
    refused_fields: int = 0  # parsed, but a field cannot be echoed or stored (refused at the edge)
    refused_limit: int = 0  # closed at once: too many connections (per address or in all)
    register_timeouts: int = 0  # connected but never registered in time
    replacements_refused: int = 0  # a second V101 for a connected id past the rate limit


class MdvrGateway:
    """Owns the servers and the device state; its methods are the control plane's API."""

    def __init__(
        self,
        config: MdvrConfig,
        store: Storage,
        bus: EventBus,
        file_dir: Path,
        *,
        feeds: LiveFeeds = LIVE_FEEDS,
        audit: bool = True,
        containment: Containment = CONTAINMENT,
    ) -> None:
        self.config = config
        self.store = store
        self.devices = store.devices
        self.bus = bus
        self.file_dir = file_dir
        self.feeds = feeds
        self.audit = audit
        self.stats = GatewayStats()
        self.containment = containment
        self.open_connections = 0
        self._unregistered: Counter[str] = Counter()  # by peer IP address
        self._replacements: dict[str, deque[float]] = {}  # allowed ids only: bounded
        self._edge_logged: dict[str, float] = {}  # "why, where" → last logged (monotonic)
        self.links: dict[str, DeviceLink] = {}
        self.pending: dict[str, PendingSession] = {}
        self.live: dict[tuple[str, int, int], LiveSession] = {}
        self.signaling_port = 0
        self.media_port = 0
        self.udp_port: int | None = None
        self.udp_stats = UdpStats()
        self._allowed = frozenset(config.allowed_devices)
        self._session_ids = itertools.count(random.randrange(10_000_000, 90_000_000))
        self._positions_in, self._positions_out = trio.open_memory_channel[PositionRow](
            POSITION_QUEUE
        )
        self._recent_positions: dict[str, RecentKeys] = {}  # allowed ids only: bounded
        self._downloads: dict[int, trio.Event] = {}  # file id → finished
        self._device_media: dict[str, trio.Lock] = {}  # one download at a time per device
        self._nursery: trio.Nursery | None = None
        self.flushed = 0  # batches written (tests wait on it)

    def health(self) -> dict[str, Any]:
        """The gateway's block in /healthz."""
        st = self.stats
        return {
            "signaling": {"tcp_port": self.signaling_port, "udp_port": self.udp_port},
            "media_port": self.media_port,
            "devices_online": len(self.links),
            "live_sessions": len(self.live),
            "pending_sessions": len(self.pending),
            "downloads_active": len(self._downloads),
            "positions_queued": self._positions_in.statistics().current_buffer_used,
            "udp": None
            if self.udp_port is None
            else {
                "datagrams": self.udp_stats.datagrams,
                "dropped": self.udp_stats.dropped,
                "peers": self.udp_stats.peers,
            },
            "counters": {
                "connections": st.connections,
                "registrations": st.registrations,
                "refused": st.refused,
                "replaced": st.replaced,
                "messages": st.messages,
                "malformed": st.malformed,
                "closed_for_garbage": st.closed_for_garbage,
                "positions_stored": st.positions_stored,
                "positions_duplicate": st.positions_duplicate,
                "positions_dropped": st.positions_dropped,
                "alarms_new": st.alarms_new,
                "media_refused": st.media_refused,
                "files_done": st.files_done,
                "files_failed": st.files_failed,
                "refused_fields": st.refused_fields,
                "refused_limit": st.refused_limit,
                "register_timeouts": st.register_timeouts,
                "replacements_refused": st.replacements_refused,
            },
            "open_connections": self.open_connections,
        }

    # --- lifecycle -------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        self.file_dir.mkdir(parents=True, exist_ok=True)
        await self.devices.mark_all_offline()
        if not self._allowed:
            log.warning("MDVR gateway has an empty allow-list: every device will be refused")
        sig = await _listen(cfg.bind_address, cfg.signaling_port, "mdvr.signaling_port")
        try:
            media = await _listen(cfg.bind_address, cfg.media_port, "mdvr.media_port")
        except BaseException:
            for listener in sig:
                await listener.aclose()
            raise
        self.signaling_port = sig[0].socket.getsockname()[1]
        self.media_port = media[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._housekeeping)
            nursery.start_soon(self._telemetry_writer)
            nursery.start_soon(trio.serve_listeners, self._signaling_conn, sig)
            nursery.start_soon(trio.serve_listeners, self._media_conn, media)
            if cfg.udp:
                self.udp_port = await nursery.start(
                    serve_udp_signaling,
                    cfg.bind_address,
                    self.signaling_port,
                    self._udp_session,
                    cfg.media_host,
                    self.udp_stats,
                )
            log.info(
                "MDVR gateway listening",
                signaling_port=self.signaling_port,
                media_port=self.media_port,
                allowed_devices=len(self._allowed),
            )
            task_status.started()
            await self._resume_all_downloads()

    async def _housekeeping(self) -> None:
        while True:
            now = utcnow()
            try:
                created = await self.devices.ensure_partitions(now)
                removed = await self.devices.apply_retention(
                    now - timedelta(days=self.config.retention_days)
                )
                if created or removed:
                    log.info("telemetry housekeeping", partitions_created=created, removed=removed)
            except StorageError as exc:
                log.error("telemetry housekeeping failed", error=str(exc))
            await trio.sleep(HOUSEKEEPING_S)

    # --- telemetry -------------------------------------------------------------------------

    async def _telemetry_writer(self) -> None:
        batch_max, flush_s = self.config.telemetry_batch, self.config.telemetry_flush_s
        # Not closed on the way out: a restarted gateway reads the same queue.
        while True:
            try:
                first = await self._positions_out.receive()
            except trio.EndOfChannel:
                return
            batch = [first]
            with trio.move_on_after(flush_s):
                while len(batch) < batch_max:
                    batch.append(await self._positions_out.receive())
            while len(batch) < batch_max:  # whatever else is already queued
                try:
                    batch.append(self._positions_out.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            await self._write_positions(batch)

    async def _write_positions(self, batch: Sequence[PositionRow]) -> None:
        for attempt in range(3):
            try:
                stored = await self.devices.insert_positions(batch)
            except StorageError as exc:
                log.warning("position batch not stored", rows=len(batch), error=str(exc))
                await trio.sleep(RETRY_DELAY_S * (attempt + 1))
                continue
            self.stats.positions_stored += stored
            self.stats.positions_duplicate += len(batch) - stored
            self.flushed += 1
            return
        self.stats.positions_dropped += len(batch)

    def _queue_position(self, link: DeviceLink, msg: PositionReport, pos: Position) -> None:
        at = msg.timestamp
        now = utcnow()
        self.stats.positions_received += 1
        if at is None:
            return
        oldest = now - timedelta(days=self.config.retention_days)
        if at < oldest or at > now + FUTURE_SLACK or not plausible(pos):
            self.stats.positions_dropped += 1
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
            self._positions_in.send_nowait(row)
        except trio.WouldBlock:
            self.stats.positions_dropped += 1
            return
        # Per device, across reconnects: a re-sent cached report is stored once (the store
        # dedupes) and announced once (this window of recent report times).
        recent = self._recent_positions.get(link.device_id)
        if recent is None:
            recent = self._recent_positions[link.device_id] = RecentKeys(RECENT_POSITIONS)
        if not recent.add(msg.time):
            return
        self.bus.publish(
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
        )

    # --- edges: limits and containment ------------------------------------------------------

    def _due(self, key: str) -> bool:
        """Whether `key` (a refusal of a peer or an id) may be reported again: at most once
        per `unknown_log_interval_s`, so a peer repeating itself cannot flood the journal."""
        mono = time.monotonic()
        last = self._edge_logged.get(key)
        if last is not None and mono - last < self.config.unknown_log_interval_s:
            return False
        if len(self._edge_logged) > 10_000:  # bounded under an address- or id-spraying peer
            self._edge_logged.clear()
        self._edge_logged[key] = mono
        return True

    def _edge_log(self, key: str, text: str, **fields: Any) -> None:
        if self._due(key):
            log.warning(text, **fields)

    def _admit(self, stream: trio.SocketStream, edge: str) -> tuple[str, str] | None:
        """Count a new connection in; None (refused) past `max_connections` in all or
        `max_unregistered_per_address` for its address. Returns (address, ip)."""
        try:
            peer = stream.socket.getpeername()
        except OSError:
            return None  # reset before we looked at it
        ip = str(peer[0])
        address = f"{ip}:{peer[1]}"
        cfg = self.config
        if (
            self.open_connections >= cfg.max_connections
            or self._unregistered[ip] >= cfg.max_unregistered_per_address
        ):
            self.stats.refused_limit += 1
            self._edge_log(
                f"limit {ip}",
                "MDVR connection refused: connection limit reached",
                subsystem_edge=edge,
                address=address,
                open=self.open_connections,
                unregistered_from_address=self._unregistered[ip],
            )
            return None
        self.open_connections += 1
        self._unregistered[ip] += 1
        return address, ip

    def _registered(self, ip: str) -> None:
        """A connection of `ip` registered: it no longer counts against the address."""
        self._unregistered[ip] -= 1
        if self._unregistered[ip] <= 0:
            del self._unregistered[ip]

    def _release(self, ip: str, registered: bool) -> None:
        self.open_connections -= 1
        if not registered:
            self._registered(ip)

    # --- signaling -------------------------------------------------------------------------

    async def _admitted(
        self,
        stream: trio.SocketStream,
        edge: str,
        session: Callable[[str, _Admission], Awaitable[None]],
    ) -> None:
        """Run `session(address, admission)` for a connection the limits admit; close it at
        once otherwise. The connection counts against its address until it registers."""
        admitted = self._admit(stream, edge)
        if admitted is None:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return
        address, ip = admitted
        state = _Admission(ip)
        try:
            await session(address, state)
        finally:
            self._release(ip, state.registered)

    async def _signaling_conn(self, stream: trio.SocketStream) -> None:
        async def session(address: str, admission: _Admission) -> None:
            local_ip = self.config.media_host or stream.socket.getsockname()[0]
            await self._signaling_session(stream, address, local_ip, admission=admission)

        await self._admitted(stream, "mdvr.signaling", session)

    async def _udp_session(self, peer: DatagramPeer, address: str, local_ip: str) -> None:
        await self._signaling_session(peer, address, local_ip, per_read=True)

    async def _signaling_session(
        self,
        stream: trio.abc.Stream,
        address: str,
        local_ip: str,
        *,
        per_read: bool = False,
        admission: _Admission | None = None,
    ) -> None:
        """One device's signaling: a TCP connection, or (`per_read`) a UDP source address
        whose every read is one datagram of whole messages.

        Whatever the session raises ends this connection only: it is counted and logged
        (`Containment`), the device goes offline, and nothing else is affected."""
        self.stats.connections += 1
        decoder = SignalingDecoder()
        link: DeviceLink | None = None
        reason = "closed by the device"
        register_by = time.monotonic() + self.config.register_within_s
        try:
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    while True:
                        wait = (
                            self.config.offline_after_s
                            if link is not None
                            else max(0.0, register_by - time.monotonic())
                        )
                        with trio.move_on_after(wait) as idle:
                            data = await stream.receive_some(READ_SIZE)
                        if idle.cancelled_caught:
                            if link is None:
                                self.stats.register_timeouts += 1
                                reason = "did not register in time"
                            else:
                                reason = "silent"
                            break
                        if not data:
                            break
                        if per_read:  # a datagram never continues the previous one
                            decoder = SignalingDecoder()
                        for msg in decoder.feed(data):
                            self.stats.messages += 1
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
                                if admission is not None and not admission.registered:
                                    admission.registered = True
                                    self._registered(admission.ip)
                            elif link is None:
                                if not isinstance(msg, MalformedFrame):
                                    if route_problem(msg) is None:
                                        await stream.send_all(
                                            build_not_registered(
                                                serial=msg.serial,
                                                device_id=msg.device_id,
                                                time=utcnow(),
                                            )
                                        )
                                    else:  # nothing to address a C500 to
                                        self.stats.refused_fields += 1
                            else:
                                link.last_received = time.monotonic()
                                link.messages += 1
                                await self._on_message(link, msg)
                        if (
                            decoder.skipped_since_frame > MAX_GARBAGE
                            or decoder.rejected_since_frame > MAX_REJECTED
                            or (link is not None and link.refused > MAX_REJECTED)
                        ):
                            self.stats.closed_for_garbage += 1
                            reason = "garbage"
                            break
                    nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            reason = f"connection lost ({group.exceptions[0]})"
        except* SESSION_FAILURES as group:
            # A bug or an input nobody foresaw: this device's link ends, the building's
            # lighting and every other link go on.
            reason = "session failure"
            self.containment.record("mdvr.signaling", address, group)
        finally:
            with trio.CancelScope(shield=True):
                gone = link is not None and self.links.get(link.device_id) is link
                if link is not None and gone:
                    del self.links[link.device_id]
                await stream.aclose()
                if link is not None and gone:
                    await self._went_offline(link.device_id, reason)

    def _refuse_fields(self, what: str, address: str, device_id: str, problem: str) -> None:
        self.stats.refused_fields += 1
        self._edge_log(
            f"fields {address}",
            "MDVR message refused: a field cannot be echoed or stored",
            message=what,
            device=device_id[:40],
            address=address,
            problem=problem,
        )

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
        now = utcnow()
        device_id = msg.device_id
        problem = reply_problem(msg)
        if problem is not None:
            self._refuse_fields("V101", address, device_id, problem)
            if route_problem(msg) is None:  # only the time is unusable: refuse with ours
                refusal = dataclasses.replace(msg, time=format_time(now))
                await stream.send_all(build_registration_refusal(refusal, now, REG_BAD_FORMAT))
            return None
        if device_id not in self._allowed:
            self.stats.refused += 1
            await stream.send_all(build_registration_refusal(msg, now))
            self._edge_log(
                f"unknown {device_id}",
                "MDVR device refused: not on the allow-list",
                device=device_id,
                address=address,
            )
            return None
        if current is not None:  # re-registration on the same link: just acknowledge
            await current.send(build_ack(msg, now))
            return current
        old = self.links.get(device_id)
        if old is not None and not self._may_replace(device_id, old, address):
            await stream.send_all(build_registration_refusal(msg, now))
            return None
        if old is not None:
            # The device re-registered: its old link is dead (reference §9). Replace it.
            self.stats.replaced += 1
            old.scope.cancel()
        plate = stored_text(msg.plate, 64)
        link = DeviceLink(device_id, address, local_ip, stream, scope, now, plate=plate)
        self.links[device_id] = link
        await link.send(build_ack(msg, now))
        self.stats.registrations += 1
        nursery.start_soon(self._heartbeat, link)
        try:
            await self.devices.upsert_device(
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
        self.bus.publish(
            "device:online",
            {"device_id": device_id, "address": address, "plate": plate, "at": now.isoformat()},
        )
        if self._nursery is not None:
            self._nursery.start_soon(self._resume_downloads, device_id)
        return link

    def _may_replace(self, device_id: str, old: DeviceLink, address: str) -> bool:
        """A second V101 for a connected id: the protocol lets it displace the first (a
        device whose link died re-registers), so anyone who knows an allowed id can too.
        Logged as a security event; past `max_replacements_per_minute` the newcomer is
        refused, and a storm raises one alert per id per interval."""
        mono = time.monotonic()
        recent = self._replacements.setdefault(device_id, deque())
        while recent and mono - recent[0] > REPLACEMENT_WINDOW_S:
            recent.popleft()
        allowed = len(recent) < self.config.max_replacements_per_minute
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
        self.stats.replacements_refused += 1
        if self._due(f"storm {device_id}"):
            self.bus.alert(
                "mdvr",
                f"device {device_id}: registration storm from {address} (more than"
                f" {self.config.max_replacements_per_minute} takeovers a minute);"
                " newcomers refused, the connected link kept",
            )
        return False

    async def _went_offline(self, device_id: str, reason: str) -> None:
        now = utcnow()
        for key, session in list(self.live.items()):
            if session.device_id == device_id and session.scope is not None:
                session.scope.cancel()
            if session.device_id == device_id:
                del self.live[key]
        try:
            await self.devices.set_online(device_id, False, now)
        except StorageError as exc:
            log.error("device state not recorded", device=device_id, error=str(exc))
        log.info("MDVR device offline", device=device_id, reason=reason)
        self.bus.publish(
            "device:offline", {"device_id": device_id, "reason": reason, "at": now.isoformat()}
        )

    async def _heartbeat(self, link: DeviceLink) -> None:
        while True:
            await trio.sleep(self.config.heartbeat_s)
            await link.command(
                lambda serial: build_heartbeat(
                    serial=serial, device_id=link.device_id, time=utcnow()
                )
            )

    async def _on_message(self, link: DeviceLink, msg: SignalingMessage) -> None:
        if needs_ack(msg) and not isinstance(msg, MalformedFrame):
            problem = reply_problem(msg)
            if problem is not None:  # refused before anything is stored: it cannot be acked
                link.refused += 1
                self._refuse_fields(msg.keyword, link.address, link.device_id, problem)
                return
        if isinstance(msg, PositionReport):
            if msg.position is not None:
                self._queue_position(link, msg, msg.position)
        elif isinstance(msg, Alarm):
            await self._on_alarm(link, msg)
            await link.send(build_ack(msg, utcnow()))  # after it is stored: else it is re-sent
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
            self.stats.malformed += 1
        elif isinstance(msg, UnknownMessage):
            log.debug("MDVR unknown message", device=link.device_id, keyword=msg.keyword)
        elif isinstance(msg, Heartbeat):
            pass
        elif needs_ack(msg):  # V141, V142
            await link.send(build_ack(msg, utcnow()))

    async def _on_alarm(self, link: DeviceLink, msg: Alarm) -> None:
        pos = msg.position
        alarm_time = parse_time(msg.alarm_time) or msg.timestamp
        details: dict[str, Any] = {"fields": [stored_text(f) for f in msg.details[:64]]}
        if msg.snapshot_path:
            details["snapshot_path"] = stored_text(msg.snapshot_path, 255)
        if msg.recording_path:
            details["recording_path"] = stored_text(msg.recording_path, 255)
        file_path = msg.file_path if isinstance(msg, FileReady) else ""
        if file_path and stored_text(file_path, 255) != file_path:
            # C702 must echo the path verbatim: one we cannot store as sent is not fetched.
            self._refuse_fields(msg.keyword, link.address, link.device_id, "file path")
            file_path = ""
        if isinstance(msg, FileReady):
            details["file"] = {
                "type": msg.file_type,
                "path": stored_text(msg.file_path, 255),
                "length": msg.file_length,
                "channel": msg.channel,
                "start_time": stored_text(msg.start_time, 32),
                "duration_s": msg.duration_s,
            }
        new = await self.devices.record_alarm(
            NewAlarm(
                device_id=link.device_id,
                alarm_uid=msg.alarm_uid,
                keyword=msg.keyword,
                name=msg.name,
                is_end=msg.is_end,
                alarm_time=alarm_time,
                received_at=utcnow(),
                channel_mask=msg.channel_mask,
                details=details,
                longitude=None if pos is None else pos.longitude,
                latitude=None if pos is None else pos.latitude,
            )
        )
        if not new:
            self.stats.alarms_duplicate += 1
            return
        self.stats.alarms_new += 1
        self.bus.publish(
            "device:alarm",
            {
                "device_id": link.device_id,
                "alarm_uid": msg.alarm_uid,
                "keyword": msg.keyword,
                "name": msg.name,
                "is_end": msg.is_end,
                "alarm_time": None if alarm_time is None else alarm_time.isoformat(),
                "channel_mask": msg.channel_mask,
                "longitude": None if pos is None else pos.longitude,
                "latitude": None if pos is None else pos.latitude,
            },
        )
        if isinstance(msg, FileReady) and file_path:
            row, _created = await self.devices.add_file(
                device_id=link.device_id,
                alarm_uid=msg.alarm_uid,
                device_path=file_path,
                file_type=msg.file_type,
                channel=msg.channel,
                size=msg.file_length,
                start_time=msg.start_time,
                duration_s=msg.duration_s,
            )
            if row.status in ("pending", "downloading") and self._nursery is not None:
                self._start_download(row.id)

    # --- files -----------------------------------------------------------------------------

    async def _resume_all_downloads(self) -> None:
        page = await self.devices.list_files(status="downloading", limit=100)
        for row in page.items:  # interrupted by a restart: pending again, resumed on register
            await self.devices.update_file(row.id, status="pending")

    async def _resume_downloads(self, device_id: str) -> None:
        for status in ("pending", "downloading"):
            page = await self.devices.list_files(device_id=device_id, status=status, limit=100)
            for row in page.items:
                self._start_download(row.id)

    def _start_download(self, file_id: int) -> None:
        if file_id in self._downloads or self._nursery is None:
            return
        self._downloads[file_id] = trio.Event()
        self._nursery.start_soon(self._download, file_id)

    async def _download(self, file_id: int) -> None:
        try:
            row = await self.devices.get_file(file_id)
            lock = self._device_media.setdefault(row.device_id, trio.Lock())
            async with lock:
                await self._download_attempts(row)
        except StorageError as exc:
            log.error("file download bookkeeping failed", file_id=file_id, error=str(exc))
        except SESSION_FAILURES as exc:
            # e.g. a device path C702 cannot carry: this file fails, the gateway goes on.
            self.containment.record("mdvr.download", f"file {file_id}", exc)
            with contextlib.suppress(StorageError):
                await self.devices.update_file(file_id, status="failed", error=describe(exc))
            self.stats.files_failed += 1
        finally:
            self._downloads.pop(file_id).set()

    def _part_path(self, row: DeviceFile) -> Path:
        return self.file_dir / safe_name(row.device_id) / f"{row.id}.part"

    async def _download_attempts(self, row: DeviceFile) -> None:
        while row.status in ("pending", "downloading"):
            link = self.links.get(row.device_id)
            if link is None:  # resumed when the device registers again
                await self.devices.update_file(row.id, status="pending")
                return
            if row.attempts > self.config.file_retries:
                self._part_path(row).unlink(missing_ok=True)  # never leave a partial file
                row = await self.devices.update_file(
                    row.id, status="failed", error=row.error or "too many attempts"
                )
                self.stats.files_failed += 1
                self._publish_file(row)
                return
            part = self._part_path(row)
            offset = part.stat().st_size if part.exists() else 0
            if row.size is not None and offset > row.size:
                offset = 0
            row = await self.devices.update_file(
                row.id, status="downloading", attempts=row.attempts + 1, received_bytes=offset
            )
            session = PendingSession(
                self._new_session_id(), row.device_id, "file", file_id=row.id, start_offset=offset
            )
            self.pending[session.session_id] = session
            media_ip, media_port = self._media_address(link)
            try:
                await link.command(
                    partial(
                        build_file_download,
                        device_id=row.device_id,
                        time=utcnow(),
                        session_id=session.session_id,
                        file_name=row.device_path,
                        media_ip=media_ip,
                        media_port=media_port,
                        offset_mode=1 if offset else 0,
                        start_offset=offset,
                    )
                )
                with trio.move_on_after(self.config.session_timeout_s):
                    await session.claimed.wait()
                if session.session_id in self.pending:
                    del self.pending[session.session_id]
                    session.outcome = "no media connection"
                else:
                    await session.done.wait()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.pending.pop(session.session_id, None)
                session.outcome = "signaling link lost"
            row = await self.devices.get_file(row.id)
            if session.outcome == "done":
                return
            log.warning(
                "MDVR file attempt failed",
                device=row.device_id,
                file=row.device_path,
                attempt=row.attempts,
                reason=session.outcome,
            )
            row = await self.devices.update_file(row.id, error=session.outcome)
            await trio.sleep(RETRY_DELAY_S)

    def _publish_file(self, row: DeviceFile) -> None:
        self.bus.publish(
            "device:file",
            {
                "file_id": row.id,
                "device_id": row.device_id,
                "alarm_uid": row.alarm_uid,
                "device_path": row.device_path,
                "status": row.status,
                "size": row.received_bytes,
                "stored_path": row.stored_path,
                "video_path": row.video_path,
                "thumbnail_path": row.thumbnail_path,
                "error": row.error,
            },
        )

    async def _file_session(
        self,
        stream: trio.SocketStream,
        decoder: MediaDecoder,
        reg: FileRegistration,
        session: PendingSession,
        backlog: list[MediaItem],
    ) -> None:
        row = await self.devices.get_file(session.file_id)
        size = row.size if row.size is not None else reg.file_size
        part = await trio.to_thread.run_sync(PartialFile, self._part_path(row), size)
        try:
            if part.received != session.start_offset:
                part.restart_at(session.start_offset)
            envelope = decoder.envelope or "M1"
            await stream.send_all(build_media_feedback(ok=True, envelope=envelope))
            items = backlog
            while True:
                for item in items:
                    if isinstance(item, FileBlock) and part.write(item):
                        await self._file_complete(stream, decoder, row, part)
                        session.outcome = "done"
                        return
                with trio.move_on_after(self.config.media_idle_s) as idle:
                    data = await stream.receive_some(READ_SIZE)
                if idle.cancelled_caught:
                    session.outcome = f"stalled at {part.received} bytes"
                    return
                if not data:
                    session.outcome = f"connection closed at {part.received} bytes"
                    return
                items = decoder.feed(data)
        except TransferError as exc:
            session.outcome = str(exc)
            part.restart_at(min(part.received, session.start_offset))
        finally:
            part.close()
            if session.outcome != "done":
                with trio.CancelScope(shield=True):
                    await self.devices.update_file(row.id, received_bytes=part.received)

    async def _file_complete(
        self, stream: trio.SocketStream, decoder: MediaDecoder, row: DeviceFile, part: PartialFile
    ) -> None:
        envelope = decoder.envelope or "M1"
        try:
            await stream.send_all(build_media_packet(OP_SESSION_END, envelope=envelope))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the file is complete either way
        folder = self.file_dir / safe_name(row.device_id)
        stem = f"{row.id}-{safe_name(Path(row.device_path.replace(chr(92), '/')).name)}"
        final = folder / stem
        received = part.received
        await trio.to_thread.run_sync(part.finish, final)
        changes: dict[str, Any] = {
            "status": "done",
            "received_bytes": received,
            "stored_path": str(final.relative_to(self.file_dir)),
            "error": "",
        }
        if row.file_type == 2:  # video: an MP4 anyone can play, and a thumbnail
            mp4 = final.with_suffix(".mp4")
            jpg = final.with_suffix(".jpg")
            try:
                await trio.to_thread.run_sync(remux_to_mp4, final, mp4)
                await trio.to_thread.run_sync(make_thumbnail, final, jpg)
                changes["video_path"] = str(mp4.relative_to(self.file_dir))
                changes["thumbnail_path"] = str(jpg.relative_to(self.file_dir))
            except Exception as exc:  # the original is kept; a bad stream is reported
                changes["error"] = f"remux failed: {exc}"
                log.warning("MDVR video not remuxed", file=str(final), error=str(exc))
        with trio.CancelScope(shield=True):
            done = await self.devices.update_file(row.id, **changes)
        self.stats.files_done += 1
        log.info("MDVR file stored", device=row.device_id, file=row.device_path, bytes=received)
        self._publish_file(done)

    # --- media -----------------------------------------------------------------------------

    def _new_session_id(self) -> str:
        return str(next(self._session_ids))

    def _media_address(self, link: DeviceLink) -> tuple[str, int]:
        return link.local_ip, self.media_port

    async def _media_conn(self, stream: trio.SocketStream) -> None:
        await self._admitted(
            stream,
            "mdvr.media",
            lambda address, admission: self._media_session(stream, address, admission),
        )

    async def _media_session(
        self, stream: trio.SocketStream, address: str, admission: _Admission
    ) -> None:
        decoder = MediaDecoder(max_payload=MAX_MEDIA_PAYLOAD)
        try:
            reg: MediaRegistration | None = None
            backlog: list[MediaItem] = []
            with trio.move_on_after(self.config.session_timeout_s):
                while reg is None:
                    data = await stream.receive_some(READ_SIZE)
                    if not data or decoder.skipped_since_frame > MAX_GARBAGE:
                        return
                    items = decoder.feed(data)
                    for n, item in enumerate(items):
                        if isinstance(item, MediaRegistration):
                            reg, backlog = item, items[n + 1 :]
                            break
            if reg is None:
                return
            session = self.pending.get(reg.session_id)
            kind = "live" if isinstance(reg, LiveVideoRegistration) else "file"
            if session is None or session.device_id != reg.device_id or session.kind != kind:
                # Unsolicited: refuse (reference §9).
                self.stats.media_refused += 1
                log.warning(
                    "MDVR media session refused",
                    device=reg.device_id,
                    session=reg.session_id,
                    keyword=reg.keyword,
                )
                await stream.send_all(
                    build_media_feedback(
                        ok=False, reason=FEEDBACK_BAD_DEVICE_ID, envelope=decoder.envelope or "M1"
                    )
                )
                return
            del self.pending[reg.session_id]
            admission.registered = True
            self._registered(admission.ip)
            session.claimed.set()
            try:
                if isinstance(reg, FileRegistration):
                    await self._file_session(stream, decoder, reg, session, backlog)
                else:
                    await self._live_session(stream, decoder, session, backlog)
            finally:
                session.done.set()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the device went away; a file attempt is retried by its download task
        except* SESSION_FAILURES as group:
            self.containment.record("mdvr.media", address, group)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _live_session(
        self,
        stream: trio.SocketStream,
        decoder: MediaDecoder,
        pending: PendingSession,
        backlog: list[MediaItem],
    ) -> None:
        key = (pending.device_id, pending.channel, pending.stream_type)
        live = self.live.get(key)
        if live is None or live.session_id != pending.session_id:
            return  # stopped before the device connected
        feed = self.feeds.feed(pending.device_id, pending.channel)
        live.decoder = LiveDecoder(feed, name=f"mdvr-{pending.device_id}-{pending.channel}")
        live.state = "streaming"
        envelope = decoder.envelope or "M1"
        try:
            with trio.CancelScope() as scope:
                live.scope = scope
                await stream.send_all(build_media_feedback(ok=True, envelope=envelope))
                await stream.send_all(build_iframe_request(envelope=envelope))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._media_keepalive, stream, envelope)
                    items = backlog
                    while True:
                        now = time.monotonic()
                        for item in items:
                            if isinstance(item, MediaFrame) and item.kind == "video":
                                live.frames += 1
                                live.bytes += len(item.data)
                                live.decoder.submit(item.data, item.is_keyframe, now)
                        with trio.move_on_after(self.config.media_idle_s) as idle:
                            data = await stream.receive_some(READ_SIZE)
                        if idle.cancelled_caught or not data:
                            break
                        if decoder.skipped_since_frame > MAX_GARBAGE:
                            break
                        items = decoder.feed(data)
                    nursery.cancel_scope.cancel()
        finally:
            if live.state == "streaming":
                live.state = "ended"
            dec = live.decoder
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(dec.close)
            if self.live.get(key) is live:  # ended by the device: no longer running
                del self.live[key]

    async def _media_keepalive(
        self, stream: trio.SocketStream, envelope: Literal["M1", "M2"]
    ) -> None:
        while True:
            await trio.sleep(self.config.heartbeat_s)
            await stream.send_all(build_media_heartbeat(envelope=envelope))

    # --- API (control plane) ---------------------------------------------------------------

    def online(self) -> dict[str, dict[str, Any]]:
        """Registered devices now: id → link facts."""
        return {
            d: {
                "address": link.address,
                "connected_at": link.connected_at.isoformat(),
                "messages": link.messages,
                "silent_s": round(time.monotonic() - link.last_received, 3),
            }
            for d, link in self.links.items()
        }

    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]:
        """Ask the device for live video (C508); the frames reach ``LIVE_FEEDS`` once its
        media connection arrives. Idempotent for a session already running."""
        if not 0 <= channel <= 15 or stream_type not in (0, 1):
            raise ValueError("channel must be 0..15 and stream 0 (main) or 1 (sub)")
        link = self.links.get(device_id)
        if link is None:
            raise DeviceOffline(f"device {device_id!r} is not connected")
        key = (device_id, channel, stream_type)
        live = self.live.get(key)
        if live is not None and live.state in ("requested", "streaming"):
            return self._live_status(live)
        session = PendingSession(
            self._new_session_id(), device_id, "live", channel=channel, stream_type=stream_type
        )
        live = LiveSession(device_id, channel, stream_type, session.session_id)
        self.live[key] = live
        self.pending[session.session_id] = session
        media_ip, media_port = self._media_address(link)
        await link.command(
            lambda serial: build_live_video(
                serial=serial,
                device_id=device_id,
                time=utcnow(),
                session_id=session.session_id,
                channel=channel,
                media_ip=media_ip,
                media_port=media_port,
                stream_type=stream_type,
            )
        )
        if self._nursery is not None:
            self._nursery.start_soon(self._expire_live, session, live)
        return self._live_status(live)

    async def _expire_live(self, session: PendingSession, live: LiveSession) -> None:
        await trio.sleep(self.config.session_timeout_s)
        if self.pending.pop(session.session_id, None) is not None:
            live.state = "timed out"
            key = (live.device_id, live.channel, live.stream_type)
            if self.live.get(key) is live:
                del self.live[key]
            log.warning(
                "MDVR live video did not connect", device=live.device_id, channel=live.channel
            )

    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        """C508 stop and close the media connection; False if nothing was running."""
        live = self.live.pop((device_id, channel, stream_type), None)
        if live is None:
            return False
        live.state = "stopped"
        self.pending.pop(live.session_id, None)
        link = self.links.get(device_id)
        if link is not None:
            try:
                await link.command(
                    lambda serial: build_live_video_stop(
                        serial=serial,
                        device_id=device_id,
                        time=utcnow(),
                        session_id=live.session_id,
                        channel=channel,
                        stream_type=stream_type,
                    )
                )
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        if live.scope is not None:
            live.scope.cancel()
        return True

    def _live_status(self, live: LiveSession) -> dict[str, Any]:
        feed = self.feeds.feed(live.device_id, live.channel)
        return live.status(feed.status())

    def live_sessions(self) -> list[dict[str, Any]]:
        return [self._live_status(s) for s in self.live.values()]

    async def acknowledge_alarm(self, alarm_id: int, actor: Actor) -> AlarmRecord:
        record = await self.devices.acknowledge_alarm(alarm_id, by=actor.name)
        if self.audit:
            target = f"{record.device_id}/{record.alarm_uid}"
            await audit(self.store.audit, actor, "mdvr.alarm.ack", target, alarm_id=alarm_id)
        self.bus.publish(
            "device:alarm",
            {
                "device_id": record.device_id,
                "alarm_uid": record.alarm_uid,
                "keyword": record.keyword,
                "acknowledged_by": record.acknowledged_by,
                "acknowledged_at": None
                if record.acknowledged_at is None
                else record.acknowledged_at.isoformat(),
            },
        )
        return record

    async def retry_file(self, file_id: int) -> DeviceFile:
        """Ask again for a failed download (attempts reset)."""
        row = await self.devices.get_file(file_id)
        if row.status == "failed":
            row = await self.devices.update_file(file_id, status="pending", attempts=0, error="")
        self._start_download(file_id)
        return row

    async def wait_file(self, file_id: int) -> DeviceFile:
        """Wait until no download of ``file_id`` is running (tests, tools)."""
        event = self._downloads.get(file_id)
        if event is not None:
            await event.wait()
        return await self.devices.get_file(file_id)
