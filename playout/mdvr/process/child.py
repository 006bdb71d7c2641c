"""The gateway process: the MDVR servers, their store connection and their decoders, away from
the lighting daemon's interpreter (its GIL, its garbage collector, its Trio thread).

Started by `GatewayProcess` (parent.py) with one end of a socket pair, or alone by
`trocadero gateway` (no lighting). What crosses to the daemon (wire.py):

- calls from the control plane (devices online, live sessions, start/stop live video,
  acknowledge an alarm, retry a file), answered with a value or a typed error;
- the gateway's events, for the topics the daemon has subscribers for (`topics`), in batches;
- its statistics and containment counters, four times a second;
- live frames, scaled to the sizes the daemon's mdvr-live layers want (`want`);
- live sessions remuxed to fMP4 here, fragment by fragment, for the daemon's video hub
  (browser viewers): `WireVideo`, a bounded outbox that skips to the next keyframe when the
  daemon does not keep up.

It exits when the daemon closes its end or dies (PR_SET_PDEATHSIG), never the other way round.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final, TypeAlias

import structlog
import trio
import trio_asyncio

from trocadero.config import ConfigError
from trocadero.config.schema import Config
from trocadero.core.codec import from_plain, to_plain
from trocadero.core.containment import CONTAINMENT, contain_asyncio_errors
from trocadero.core.errors import error_kind
from trocadero.core.events import Event, EventBus, TopicFollower
from trocadero.core.permissions import Actor
from trocadero.core.storage import open_storage, tenancy

from ...logs import configure_logging, get_logger
from ...malloc import limit_malloc_arenas
from ...tracing import start_tracing, stop_tracing
from ..feeds import LiveFeeds
from ..gateway import MdvrGateway, gateway_file_dir
from .wire import MessageStream

log = get_logger("mdvr")

STATE_INTERVAL_S: Final = 0.25  # statistics to the daemon
FRAME_POLL_S: Final = 0.01  # new live frames looked for (they arrive at ≤ 30 fps)
EVENT_BATCH_S: Final = 0.02  # events gathered this long into one message
OUTBOX_LIMIT: Final = 20_000  # events waiting for a daemon that stopped reading: then dropped
VIDEO_OUTBOX: Final = 256  # fMP4 fragments waiting for the daemon: then skip to a keyframe
PR_SET_PDEATHSIG: Final = 1

__all__ = ["GatewayHost", "run_child", "serve_gateway"]


def die_with_parent() -> None:
    """SIGTERM to us when the daemon dies (Linux), even by kill -9."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class WireVideo:
    """The gateway's video sink in its own process: fragments to the daemon over the link.
    Never blocks the media connection: when the outbox is full a stream's fragments are
    dropped up to its next keyframe (the hub sees a jump, never a growing delay)."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[dict[str, Any]](VIDEO_OUTBOX)
        self.dropped = 0
        self._skipping: set[tuple[str, int, int]] = set()

    def segment(
        self,
        key: tuple[str, int, int],
        session: str,
        init: bytes | None,
        fragment: bytes,
        keyframe: bool,
        codec: str,
        decode_time_s: float,
        arrived_ms: float,
    ) -> None:
        if key in self._skipping and not keyframe:
            self.dropped += 1
            return
        message = {
            "t": "video",
            "key": list(key),
            "session": session,
            "init": init,
            "fragment": fragment,
            "keyframe": keyframe,
            "codec": codec,
            "dts": decode_time_s,
            "wall": arrived_ms,
        }
        try:
            self.send.send_nowait(message)
        except trio.WouldBlock:
            self.dropped += 1
            self._skipping.add(key)
        else:
            self._skipping.discard(key)

    def ended(self, key: tuple[str, int, int], session: str, reason: str) -> None:
        message = {"t": "video_end", "key": list(key), "session": session, "reason": reason}
        try:
            self.send.send_nowait(message)
        except trio.WouldBlock:  # full of fragments: make room, the end matters more
            with contextlib.suppress(trio.WouldBlock):
                self.receive.receive_nowait()
            with contextlib.suppress(trio.WouldBlock):
                self.send.send_nowait(message)


class GatewayHost:
    """The daemon's side of the conversation, inside the gateway process."""

    def __init__(self, gateway: MdvrGateway, link: MessageStream) -> None:
        self.gateway = gateway
        self.link = link
        self.outbox: list[list[Any]] = []
        self.dropped_events = 0
        self.follower = TopicFollower(gateway.bus, capacity=OUTBOX_LIMIT)
        self._pending = trio.Event()
        self.video = WireVideo()
        gateway.ctx.video = self.video

    async def run(self) -> None:
        """Until the daemon closes its end."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.follower.run, self._collect)
            nursery.start_soon(self._send_events)
            nursery.start_soon(self._send_state)
            nursery.start_soon(self._send_frames)
            nursery.start_soon(self._send_video)
            while (message := await self.link.receive()) is not None:
                kind = message["t"]
                if kind == "call":
                    nursery.start_soon(self._answer, message)
                elif kind == "topics":
                    self.follower.set_patterns(str(p) for p in message["patterns"])
                elif kind == "want":
                    self._want(message["feeds"])
                else:
                    log.warning("gateway process: unknown message from the daemon", kind=kind)
            nursery.cancel_scope.cancel()

    # --- calls -----------------------------------------------------------------------------

    async def _answer(self, message: Mapping[str, Any]) -> None:
        call_id = message["id"]
        try:
            # The caller's tenant (the daemon's request scope) for the call's storage work.
            with tenancy.as_tenant(int(message.get("tenant") or tenancy.DEFAULT_TENANT)):
                value = await self._call(str(message["op"]), message.get("args") or {})
        except Exception as exc:
            code = _error_code(exc)
            if code is None:  # a bug here: the daemon reports it as unavailable, we log it
                log.error("gateway call failed", op=message.get("op"), exc_info=exc)
            reply = {
                "t": "reply",
                "id": call_id,
                "ok": False,
                "code": code or "unavailable",
                "message": str(exc) or type(exc).__name__,
            }
        else:
            reply = {"t": "reply", "id": call_id, "ok": True, "value": value}
        await self.link.send(reply)

    async def _call(self, op: str, args: Mapping[str, Any]) -> Any:
        gw = self.gateway
        if op == "state":
            return self._state()
        if op == "online":
            return gw.online()
        if op == "live_sessions":
            return gw.live_sessions()
        if op == "start_live":
            return await gw.start_live(args["device_id"], args["channel"], args["stream_type"])
        if op == "stop_live":
            return await gw.stop_live(args["device_id"], args["channel"], args["stream_type"])
        if op == "request_iframe":
            return await gw.request_iframe(args["device_id"], args["channel"], args["stream_type"])
        if op == "acknowledge_alarm":
            actor, problems = from_plain(Actor, args["actor"])
            if actor is None:
                raise ValueError("; ".join(problems))
            return (await gw.acknowledge_alarm(args["alarm_id"], actor)).id
        if op == "retry_file":
            return (await gw.retry_file(args["file_id"])).id
        raise ValueError(f"unknown gateway call {op!r}")

    # --- events, statistics, frames --------------------------------------------------------

    def _collect(self, event: Event) -> None:
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.dropped_events += 1
            return
        item: list[Any] = [event.topic, dict(event.payload)]
        if event.trace is not None:  # the daemon's spans continue this trace (tracing on)
            item.append(event.trace)
        self.outbox.append(item)
        self._pending.set()

    async def _send_events(self) -> None:
        while True:
            await self._pending.wait()
            await trio.sleep(EVENT_BATCH_S)
            self._pending = trio.Event()
            batch, self.outbox = self.outbox, []
            await self.link.send({"t": "events", "events": batch})

    def _state(self) -> dict[str, Any]:
        return {
            "t": "state",
            "statistics": to_plain(self.gateway.statistics()),
            "containment": to_plain(CONTAINMENT.statistics()),
            "dropped_events": self.dropped_events,
        }

    async def _send_state(self) -> None:
        while True:
            await self.link.send(self._state())
            await trio.sleep(STATE_INTERVAL_S)

    async def _send_video(self) -> None:
        async for message in self.video.receive:
            await self.link.send(message)

    def _want(self, wanted: Sequence[Sequence[Any]]) -> None:
        feeds = self.gateway.feeds
        for device_id, channel, sizes in wanted:
            sizes_wanted = [(int(w), int(h)) for w, h in sizes]
            feeds.feed(str(device_id), int(channel)).set_wanted(sizes_wanted)

    async def _send_frames(self) -> None:
        sent: dict[tuple[str, int], int] = {}
        while True:
            await trio.sleep(FRAME_POLL_S)
            for feed in self.gateway.feeds.all():
                key = (feed.device_id, feed.channel)
                seq, frames = feed.seq, feed.frames
                if not frames or sent.get(key) == seq:
                    continue
                sent[key] = seq
                await self.link.send(
                    {
                        "t": "frame",
                        "device": feed.device_id,
                        "channel": feed.channel,
                        "received_at": feed.received_at,
                        "source": list(feed.source_size or (0, 0)),
                        "codec": feed.codec,
                        "frames": [
                            [w, h, list(a.shape), a.tobytes()] for (w, h), a in frames.items()
                        ],
                    }
                )


def _error_code(exc: Exception) -> str | None:
    """How the daemon raises what the gateway raised: a typed error by its table code; the
    gateway's untyped LookupError / ValueError as those, so the operation table reads them
    exactly as it reads the in-process gateway's (core/operations/mdvr.py); else None."""
    found = error_kind(exc)
    if found is not None:
        return found.code
    if isinstance(exc, LookupError):
        return "lookup"
    if isinstance(exc, ValueError):
        return "value"
    return None


Beside: TypeAlias = Callable[[EventBus], Awaitable[None]]


async def serve_gateway(
    config: Config, state_dir: Path, link: MessageStream | None = None, beside: Beside | None = None
) -> None:
    """The gateway and its store until cancelled or, with a `link`, until the daemon leaves.
    Alone, `beside` runs with its bus (the CLI's Redis bridge)."""
    async with AsyncExitStack() as stack:
        if config.storage.backend == "postgres" or (link is None and config.events.redis_url):
            loop = await stack.enter_async_context(trio_asyncio.open_loop())
            contain_asyncio_errors(loop)
        store = await stack.enter_async_context(open_storage(config.storage, state_dir))
        bus = EventBus()
        gateway = MdvrGateway(
            config.mdvr, store, bus, gateway_file_dir(config.mdvr, state_dir), feeds=LiveFeeds()
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(gateway.serve)
            if link is None:
                if beside is not None:
                    nursery.start_soon(beside, bus)
                await trio.sleep_forever()
            ports = {
                "signaling_port": gateway.signaling_port,
                "media_port": gateway.media_port,
                "udp_port": gateway.udp_port,
            }
            await link.send({"t": "ready", "pid": os.getpid(), **ports})
            await GatewayHost(gateway, link).run()
            nursery.cancel_scope.cancel()


async def _child(fd: int) -> int:
    sock = trio.socket.fromfd(fd, trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    os.close(fd)
    link = MessageStream(trio.SocketStream(sock))
    hello = await link.receive()
    if hello is None or hello["t"] != "hello":
        return 2
    config, problems = from_plain(Config, hello["config"])
    if config is None:
        await link.send({"t": "failed", "problems": problems})
        return 2
    configure_logging(config.logging)
    structlog.contextvars.bind_contextvars(process="mdvr-gateway")
    os.nice(config.mdvr.nice)  # vehicles yield the CPU to the lighting daemon
    start_tracing(config.tracing, service_suffix=".gateway")  # its own tracer, as the daemon's
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_sigterm, nursery.cancel_scope)
            await serve_gateway(config, Path(hello["state_dir"]), link)
            nursery.cancel_scope.cancel()
    except Exception as exc:
        refused = _config_problems(exc)
        if refused is None:
            log.error("gateway process failed", exc_info=exc)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await link.send({"t": "failed", "problems": refused or [f"mdvr: {exc}"]})
        return 1 if refused is None else 2
    finally:
        stop_tracing()
    return 0


def _config_problems(exc: BaseException) -> list[str] | None:
    """A port in use (ConfigError), however deep in nurseries: the daemon's supervisor retries
    and shows the one line naming the key."""
    if isinstance(exc, ConfigError):
        return list(exc.problems)
    if isinstance(exc, BaseExceptionGroup):
        found = [_config_problems(e) for e in exc.exceptions]
        if found and all(f is not None for f in found):
            return [p for f in found if f is not None for p in f]
    return None


async def _stop_on_sigterm(scope: trio.CancelScope, *more: signal.Signals) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, *more) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def run_alone(config: Config, state_dir: Path, beside: Beside | None = None) -> None:
    """`trocadero gateway`: until SIGTERM or SIGINT. A ConfigError (a port in use) leaves
    as itself, not inside an exception group."""
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_sigterm, nursery.cancel_scope, signal.SIGINT)
            await serve_gateway(config, state_dir, beside=beside)
    except BaseExceptionGroup as group:
        problems = _config_problems(group)
        if problems is None:
            raise
        raise ConfigError(problems) from None


def run_child(fd: int) -> int:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the daemon's to handle
    limit_malloc_arenas()
    return trio.run(_child, fd)
