"""`GatewayProcess`: the MDVR gateway run in a process of its own, as the daemon sees it.

Vehicles are the busy, hostile side of the appliance: thousands of connections, a report per
vehicle per second, their garbage, their decoders. In the lighting daemon's interpreter they
shared the Trio thread and the garbage collector with every command (a generation-2 pass over
the gateway's objects took up to 200 ms). Here they run in a child process (child.py) that
the daemon starts, supervises and stops; a flood of vehicle traffic reaches no code of the
lighting process. What the daemon keeps:

- the control plane's API (`core.mdvr.MdvrControl`): reads straight from the shared store
  (devices, positions, alarms, files), commands as calls to the child with a timeout;
- the gateway's events on the daemon's bus, only for topics someone here subscribes to (so
  2,000 position reports a second cost nothing when nobody watches them);
- its statistics and containment counters for /healthz and /metrics (at most 0.25 s old);
- live frames for `mdvr-live` layers, at the sizes those layers want;
- live sessions' fMP4 fragments (remuxed in the child) for the video hub's browser viewers.

The child's death is a crash of the supervised "mdvr" subsystem: restarted with backoff,
alerted, and the building keeps its frames.
"""

from __future__ import annotations

import itertools
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import trio

from trocadero.config import ConfigError
from trocadero.config.schema import Config
from trocadero.core.codec import from_plain, to_plain
from trocadero.core.containment import ContainmentStatistics
from trocadero.core.errors import ERROR_KINDS, InvalidArgument, RefusedError, UnavailableError
from trocadero.core.events import EventBus
from trocadero.core.permissions import Actor
from trocadero.core.statistics import counter, detail
from trocadero.core.storage import Storage, tenancy
from trocadero.core.storage.devices import AlarmRecord, DeviceFile, DeviceStore
from trocadero.core.video_hub import VideoSink

from ...child_exit import exit_status, stop_child
from ...logs import get_logger
from ..feeds import LiveFeeds
from ..gateway import gateway_file_dir
from ..gateway.context import GatewayStats
from ..gateway.health import GatewayCounters, GatewayStatistics, SignalingPorts
from .wire import MessageStream

log = get_logger("mdvr")

START_TIMEOUT_S: Final = 60.0  # the child imports, opens the store, binds its ports
CALL_TIMEOUT_S: Final = 15.0
START_WAIT_S: Final = 10.0  # a call while the process (re)starts waits this long for it
REFRESH_TIMEOUT_S: Final = 0.5  # /healthz waits no longer for fresh gateway figures
STOP_GRACE_S: Final = 5.0  # SIGTERM, then SIGKILL
WANT_POLL_S: Final = 0.25  # sizes mdvr-live layers want, sent on change

__all__ = ["GatewayProcess", "GatewayProcessLost", "GatewayProcessStatistics"]


@dataclass(frozen=True, slots=True)
class GatewayProcessStatistics:
    """The daemon's side of the gateway process (its `mdvr_process` block in /healthz)."""

    pid: int | None = field(metadata=detail())
    running: bool
    starts: int = field(metadata=counter())
    calls: int = field(metadata=counter())
    events_forwarded: int = field(metadata=counter())  # published on the daemon's bus
    events_dropped: int = field(metadata=counter())  # in the child: the daemon did not read
    frames_received: int = field(metadata=counter())  # live frames for mdvr-live layers


class GatewayProcessLost(Exception):
    """The gateway process exited or broke the conversation (the supervisor restarts it)."""


def _empty_statistics() -> GatewayStatistics:
    return GatewayStatistics(
        signaling=SignalingPorts(0, None),
        media_port=0,
        devices_online=0,
        live_sessions=0,
        pending_sessions=0,
        downloads_active=0,
        positions_queued=0,
        udp=None,
        counters=GatewayCounters.of(GatewayStats()),
        open_connections=0,
    )


def _error(code: str, message: str) -> Exception:
    """The exception the in-process gateway would have raised (child.py `_error_code`)."""
    if code == "lookup":
        return LookupError(message)
    if code == "value":
        return ValueError(message)
    for kind in ERROR_KINDS:
        if kind.code == code:
            if kind.kind is RefusedError:
                return RefusedError(message)
            if issubclass(kind.kind, InvalidArgument):
                return InvalidArgument(message)
            return kind.kind(message)
    return UnavailableError(message)


class GatewayProcess:
    """The MDVR gateway in a child process; the daemon's handle on it."""

    def __init__(
        self,
        config: Config,
        store: Storage,
        bus: EventBus,
        feeds: LiveFeeds,
        state_dir: Path,
        video: VideoSink | None = None,
    ) -> None:
        self.config = config
        self.video = video
        self._store = store
        self.bus = bus
        self.feeds = feeds
        self.state_dir = state_dir
        self._file_dir = gateway_file_dir(config.mdvr, state_dir)
        self._link: MessageStream | None = None
        self._up = trio.Event()  # set while the process answers
        self._calls: dict[int, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._call_ids = itertools.count(1)
        self._statistics = _empty_statistics()
        self._containment: ContainmentStatistics | None = None
        self.pid: int | None = None
        self.starts = 0
        self.events_forwarded = 0
        self.events_dropped = 0  # in the child, while we were not reading
        self.frames_received = 0
        self.calls = 0
        self.signaling_port = 0
        self.media_port = 0
        self.udp_port: int | None = None

    # --- MdvrControl -----------------------------------------------------------------------

    @property
    def devices(self) -> DeviceStore:
        return self._store.devices

    @property
    def store(self) -> Storage:
        return self._store

    @property
    def file_dir(self) -> Path:
        return self._file_dir

    async def online_devices(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = await self._call("online")
        return found

    async def live_statuses(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("live_sessions")
        return found

    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]:
        found: dict[str, Any] = await self._call(
            "start_live", device_id=device_id, channel=channel, stream_type=stream_type
        )
        return found

    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        return bool(
            await self._call(
                "stop_live", device_id=device_id, channel=channel, stream_type=stream_type
            )
        )

    async def request_iframe(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        return bool(
            await self._call(
                "request_iframe", device_id=device_id, channel=channel, stream_type=stream_type
            )
        )

    async def acknowledge_alarm(self, alarm_id: int, actor: Actor) -> AlarmRecord:
        await self._call("acknowledge_alarm", alarm_id=alarm_id, actor=to_plain(actor))
        return await self.devices.get_alarm(alarm_id)

    async def retry_file(self, file_id: int) -> DeviceFile:
        await self._call("retry_file", file_id=file_id)
        return await self.devices.get_file(file_id)

    # --- statistics ------------------------------------------------------------------------

    def statistics(self) -> GatewayStatistics:
        return self._statistics

    def process_statistics(self) -> GatewayProcessStatistics:
        return GatewayProcessStatistics(
            pid=self.pid,
            running=self._link is not None,
            starts=self.starts,
            calls=self.calls,
            events_forwarded=self.events_forwarded,
            events_dropped=self.events_dropped,
            frames_received=self.frames_received,
        )

    async def refresh(self) -> None:
        """Statistics fetched now rather than the last pushed (for /healthz, /metrics); the
        last pushed ones stand if the process cannot answer at once."""
        if self._link is None:
            return  # /healthz never waits for a (re)starting gateway
        with trio.move_on_after(REFRESH_TIMEOUT_S):
            try:
                self._state(await self._call("state"))
            except UnavailableError:
                pass

    def containment(self) -> ContainmentStatistics | None:
        """The child's containment counters (its edges: mdvr.signaling, mdvr.media, …)."""
        return self._containment

    # --- lifecycle -------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "trocadero.playout.mdvr.process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self.starts += 1
        self.pid = process.pid
        link = MessageStream(trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
        try:
            await link.send(
                {"t": "hello", "config": to_plain(self.config), "state_dir": str(self.state_dir)}
            )
            with trio.fail_after(START_TIMEOUT_S):
                first = await link.receive()
            if first is None:
                status = await _exit_status(process)
                raise GatewayProcessLost(f"the gateway process exited at start-up ({status})")
            if first["t"] == "failed":
                raise ConfigError([str(p) for p in first["problems"]])
            self.signaling_port = int(first["signaling_port"])
            self.media_port = int(first["media_port"])
            self.udp_port = first.get("udp_port")
            self._link = link
            self._up.set()
            log.info("MDVR gateway process running", pid=process.pid, port=self.signaling_port)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._send_topics, link)
                    nursery.start_soon(self._send_wants, link)
                    task_status.started()
                    await self._receive(link)
                    nursery.cancel_scope.cancel()
            except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                # A child killed with data unread resets the link instead of closing it:
                # either way the child is gone, and its exit status says why.
                pass
            raise GatewayProcessLost(f"the gateway process ended ({await _exit_status(process)})")
        finally:
            self._link = None
            if self._up.is_set():
                self._up = trio.Event()
            for pending in self._calls.values():
                pending.close()
            self._calls.clear()
            self._statistics = _empty_statistics()
            with trio.CancelScope(shield=True):
                await link.aclose()
                await _stop(process)

    async def _receive(self, link: MessageStream) -> None:
        while (message := await link.receive()) is not None:
            kind = message["t"]
            if kind == "events":
                for topic, payload, *trace in message["events"]:  # trace: its traceparent
                    self.bus.publish(topic, payload, trace=trace[0] if trace else None)
                self.events_forwarded += len(message["events"])
            elif kind == "state":
                self._state(message)
            elif kind == "reply":
                pending = self._calls.pop(int(message["id"]), None)
                if pending is not None:
                    pending.send_nowait(message)
            elif kind == "frame":
                self._frame(message)
            elif kind == "video":
                if self.video is not None:
                    device, channel, stream = message["key"]
                    self.video.segment(
                        (str(device), int(channel), int(stream)),
                        str(message["session"]),
                        message["init"],
                        message["fragment"],
                        bool(message["keyframe"]),
                        str(message["codec"]),
                        float(message["dts"]),
                        float(message["wall"]),
                    )
            elif kind == "video_end":
                if self.video is not None:
                    device, channel, stream = message["key"]
                    key = (str(device), int(channel), int(stream))
                    self.video.ended(key, str(message["session"]), str(message["reason"]))
            else:
                log.warning("gateway process: unknown message", kind=kind)

    def _state(self, message: Mapping[str, Any]) -> None:
        stats, _ = from_plain(GatewayStatistics, message["statistics"])
        if stats is not None:
            self._statistics = stats
        self._containment, _ = from_plain(ContainmentStatistics, message["containment"])
        self.events_dropped = int(message.get("dropped_events", 0))

    def _frame(self, message: Mapping[str, Any]) -> None:
        feed = self.feeds.feed(str(message["device"]), int(message["channel"]))
        frames = {
            (int(w), int(h)): np.frombuffer(data, dtype=np.uint16).reshape(shape)
            for w, h, shape, data in message["frames"]
        }
        feed.codec = message.get("codec")
        received = message.get("received_at")
        w, h = message["source"]
        feed.publish(frames, received_at=float(received or 0.0), source=(int(w), int(h)))
        self.frames_received += 1

    async def _call(self, op: str, **args: Any) -> Any:
        if self._link is None:  # starting or restarting: worth a short wait
            with trio.move_on_after(START_WAIT_S):
                await self._up.wait()
        link = self._link
        if link is None:
            raise UnavailableError("the MDVR gateway process is not running (restarting)")
        call_id = next(self._call_ids)
        self.calls += 1
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        self._calls[call_id] = send
        try:
            # The child's storage calls act for the caller's tenant (docs/fleet.md).
            tenant = tenancy.current().tenant_id
            await link.send({"t": "call", "id": call_id, "op": op, "args": args, "tenant": tenant})
            with trio.move_on_after(CALL_TIMEOUT_S) as timeout:
                try:
                    reply = await receive.receive()
                except trio.EndOfChannel:
                    raise UnavailableError("the MDVR gateway process stopped") from None
            if timeout.cancelled_caught:
                raise UnavailableError(
                    f"the MDVR gateway did not answer {op} within {CALL_TIMEOUT_S:g} s"
                )
        finally:
            self._calls.pop(call_id, None)
        if not reply["ok"]:
            raise _error(str(reply["code"]), str(reply["message"]))
        return reply["value"]

    async def _send_topics(self, link: MessageStream) -> None:
        """What the daemon's subscribers listen to, whenever that changes."""
        sent: tuple[str, ...] | None = None
        while True:
            changed = self.bus.subscriptions_changed()
            patterns = self.bus.patterns()
            if patterns != sent:
                await link.send({"t": "topics", "patterns": list(patterns)})
                sent = patterns
            await changed.wait()

    async def _send_wants(self, link: MessageStream) -> None:
        sent: list[Any] | None = None
        while True:
            wanted = sorted(
                [f.device_id, f.channel, sorted([w, h] for w, h in f.wanted())]
                for f in self.feeds.all()
            )
            if wanted != sent:
                await link.send({"t": "want", "feeds": wanted})
                sent = wanted
            await trio.sleep(WANT_POLL_S)


async def _exit_status(process: trio.Process) -> str:
    return await exit_status(process, STOP_GRACE_S, "still running")


async def _stop(process: trio.Process) -> None:
    """Its end of the socket is closed: it stops by itself (flushing its position queue);
    SIGTERM if it has not within the grace period, then SIGKILL."""
    await stop_child(process, STOP_GRACE_S, wait_first=True)
