"""Live vehicle video for browsers: one device stream per (device, channel, main/sub), shared
by every viewer, each viewer kept at the live edge.

The gateway remuxes the device's H.264 to fMP4 (protocols/fmp4.py) where it reads the media
connection (its own process by default) and hands the hub an init segment and one fragment
per frame (`segment`). The hub:

- starts a device stream on the first request (C508 through the gateway), waits until its
  first init segment arrives (or says why not), and issues a short-lived stream token;
- fans fragments out to its viewers; a viewer's queue is bounded, and a viewer that falls
  behind loses its queued fragments and skips to the next keyframe: delay never accumulates;
- asks the device for an I-frame (0x6002) when a viewer has waited for one too long;
- tells viewers "device not sending" when fragments stop, and ends them when the gateway
  ends the session (garbage, idle timeout, device offline);
- stops the device stream (C508 stop) a grace period after its last viewer left (and no
  sooner than a few seconds after it issued a token, whose viewer may still be connecting),
  unless it did not start it (a canvas layer's live feed is not the hub's to stop).

- keeps an LL-HLS window of the same fragments (core/llhls.py) for web/video_hls.py.

Nothing here touches sockets: web/video_ws.py and web/video_hls.py move the bytes.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import trio

from .errors import ConflictError, InvalidArgument, RefusedError
from .llhls import HlsWindow
from .permissions import Actor, require
from .stream_tokens import WATCH_SCOPE, StreamGrant, StreamKey, StreamTokens

__all__ = [
    "CLOSE_ENDED",
    "DeviceStream",
    "VideoHub",
    "VideoSink",
    "VideoSource",
    "Viewer",
]

VIEWER_QUEUE: Final = 45  # fragments (3 s at 15 fps): past this a viewer skips to a keyframe
GOP_CACHE: Final = 300  # fragments since the last keyframe kept for viewers who join
NOT_SENDING_S: Final = 2.0  # no fragment this long: viewers are told "device not sending"
KEY_WAIT_S: Final = 1.5  # a viewer waiting this long for a keyframe: ask the device for one
KEY_REQUEST_EVERY_S: Final = 1.0
RESERVE_S: Final = 5.0  # a token just issued keeps its stream this long for its viewer
# An LL-HLS URL carries its token (players and caching proxies cannot renew one): it lives
# this long; each playlist request keeps the device stream running like a viewer would.
HLS_TOKEN_S: Final = 3600.0
TICK_S: Final = 0.25
CLOSE_ENDED: Final = 4410  # the device stream ended: the viewer may start it again
StreamState = Literal["starting", "live", "not sending", "ended"]


class VideoSink(Protocol):
    """Where the gateway's remux goes: the hub itself (gateway in the daemon's process) or
    the gateway process's link to it (playout/mdvr/process/)."""

    def segment(
        self,
        key: StreamKey,
        session: str,
        init: bytes | None,
        fragment: bytes,
        keyframe: bool,
        codec: str,
        decode_time_s: float,
        arrived_ms: float,
    ) -> None: ...
    def ended(self, key: StreamKey, session: str, reason: str) -> None: ...


class VideoSource(Protocol):
    """The gateway as the hub sees it (core/mdvr.py's MdvrControl has these)."""

    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]: ...
    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool: ...
    async def request_iframe(self, device_id: str, channel: int, stream_type: int = 0) -> bool: ...


@dataclass(eq=False)
class Viewer:
    """One WebSocket's view of a device stream: what is still to send, in order."""

    grant: StreamGrant
    joined_at: float
    limit: int = VIEWER_QUEUE
    queue: deque[bytes | str] = field(default_factory=deque)
    waiting_key: bool = True
    waiting_since: float = 0.0
    fragments: int = 0  # in the queue
    sent: int = 0
    skipped: int = 0  # fragments dropped to stay at the live edge
    closed: tuple[int, str] | None = None
    _wake: trio.Event = field(default_factory=trio.Event)

    def put_text(self, message: dict[str, Any]) -> None:
        self.queue.append(json.dumps(message, separators=(",", ":")))
        self._wake.set()

    def put_fragment(self, data: bytes, keyframe: bool, now: float) -> None:
        if self.waiting_key and not keyframe:
            self.skipped += 1
            return
        if self.fragments >= self.limit:  # too slow: drop the backlog, wait for a keyframe
            kept: deque[bytes | str] = deque(m for m in self.queue if isinstance(m, str))
            self.skipped += self.fragments
            self.queue, self.fragments = kept, 0
            if not keyframe:
                self.waiting_key, self.waiting_since = True, now
                self.skipped += 1
                return
        self.waiting_key = False
        self.queue.append(data)
        self.fragments += 1
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._wake.set()

    async def next(self) -> bytes | str | tuple[int, str]:
        """The next message to send, or (close code, reason) once closed."""
        while not self.queue:
            if self.closed is not None:
                return self.closed
            await self._wake.wait()
            self._wake = trio.Event()
        item = self.queue.popleft()
        if isinstance(item, bytes):
            self.fragments -= 1
            self.sent += 1
        return item


@dataclass(eq=False)
class DeviceStream:
    key: StreamKey
    owned: bool  # started by the hub: stopped by it after the grace period
    session: str = ""
    state: StreamState = "starting"
    init: bytes | None = None
    codec: str = ""
    gop: list[bytes] = field(default_factory=list)
    viewers: set[Viewer] = field(default_factory=set)
    ready: trio.Event = field(default_factory=trio.Event)
    idle_since: float | None = None  # monotonic: when it last had no viewer
    reserved_until: float = 0.0  # a token was issued: its viewer is on the way
    last_fragment_at: float = 0.0
    last_key_request: float = -math.inf
    fragments: int = 0
    keyframes: int = 0
    key_requests: int = 0
    ended_reason: str = ""
    clock: tuple[float, float] | None = None  # (decode time s, arrival Unix ms) of a keyframe
    hls: HlsWindow = field(default_factory=HlsWindow)
    hls_changed: trio.Event = field(default_factory=trio.Event)  # a part was completed
    hls_requests: int = 0

    def status(self) -> dict[str, Any]:
        device, channel, kind = self.key
        return {
            "device": device,
            "channel": channel,
            "stream": kind,
            "state": self.state,
            "viewers": len(self.viewers),
            "users": sorted({v.grant.user for v in self.viewers}),
            "codec": self.codec,
            "fragments": self.fragments,
            "keyframes": self.keyframes,
            "keyframe_requests": self.key_requests,
            "skipped": sum(v.skipped for v in self.viewers),
            "hls_requests": self.hls_requests,
            "started_by_hub": self.owned,
        }


def _key_text(key: StreamKey) -> str:
    device, channel, kind = key
    return f"device {device} channel {channel} ({'sub' if kind else 'main'} stream)"


class VideoHub:
    def __init__(
        self,
        source: VideoSource,
        tokens: StreamTokens,
        *,
        grace_s: float,
        start_timeout_s: float,
        clock: Callable[[], float] = trio.current_time,
        log: Callable[..., None] | None = None,
    ) -> None:
        self.source = source
        self.tokens = tokens
        self.grace_s = grace_s
        self.start_timeout_s = start_timeout_s
        self.streams: dict[StreamKey, DeviceStream] = {}
        self._clock = clock
        self._log = log
        self._nursery: trio.Nursery | None = None

    # --- the operation table's verbs -------------------------------------------------------

    async def start(self, actor: Actor, key: StreamKey) -> dict[str, Any]:
        """Start (or join) the device stream; a stream token once its video arrives."""
        require(actor, WATCH_SCOPE, "watch live vehicle video")
        stream = self.streams.get(key)
        if stream is None or stream.state == "ended":
            stream = self.streams[key] = DeviceStream(key, owned=True, idle_since=self._clock())
            try:
                status = await self.source.start_live(*key)
            except BaseException:
                if self.streams.get(key) is stream:
                    del self.streams[key]
                raise
            stream.session = stream.session or str(status.get("session_id", ""))
        with trio.move_on_after(self.start_timeout_s):
            await stream.ready.wait()
        if stream.state == "ended":
            raise RefusedError(f"{_key_text(key)}: {stream.ended_reason}")
        if not stream.ready.is_set():
            if not stream.viewers and self.streams.get(key) is stream:
                await self._stop(stream, "no video")
            raise RefusedError(f"{_key_text(key)} sent no video within {self.start_timeout_s:g} s")
        device, channel, kind = key
        stream.reserved_until = self._clock() + min(self.tokens.ttl_s, RESERVE_S)
        return {
            "token": self.tokens.issue(actor, key),
            "expires_in": self.tokens.ttl_s,
            "url": f"/api/video/ws/{device}/{channel}/{kind}",
            "hls": f"/video/hls/{device}/{channel}/{kind}/"
            f"{self.tokens.issue(actor, key, ttl_s=HLS_TOKEN_S)}/index.m3u8",
            "codec": stream.codec,
            "viewers": len(stream.viewers),
            "state": stream.state,
        }

    def leave(self, actor: Actor, key: StreamKey) -> int:
        """The caller's viewers of the stream are closed; the number closed."""
        stream = self.streams.get(key)
        if stream is None:
            return 0
        mine = [v for v in stream.viewers if v.grant.user == actor.name]
        for viewer in mine:
            viewer.close(1000, "stopped")
        return len(mine)

    def statuses(self) -> list[dict[str, Any]]:
        return [s.status() for s in self.streams.values()]

    # --- viewers (web/video_ws.py) ---------------------------------------------------------

    def attach(self, grant: StreamGrant) -> Viewer:
        stream = self.streams.get(grant.key)
        if stream is None or stream.state == "ended" or stream.init is None:
            raise ConflictError(f"{_key_text(grant.key)} is not streaming: start it again")
        now = self._clock()
        viewer = Viewer(grant, joined_at=now, waiting_since=now)
        viewer.put_text(self._hello(stream))
        viewer.queue.append(stream.init)
        if stream.clock is not None:
            viewer.put_text({"type": "clock", "t": stream.clock[0], "wall": stream.clock[1]})
        if stream.gop and len(stream.gop) <= viewer.limit:
            # The frames since the last keyframe: the picture shows at once.
            for n, fragment in enumerate(stream.gop):
                viewer.put_fragment(fragment, n == 0, now)
        elif stream.state == "live":  # a long GOP would start it behind: a keyframe now
            stream.last_key_request = now
            stream.key_requests += 1
            self._soon(self._request_key, stream)
        if stream.state == "not sending":
            viewer.put_text({"type": "state", "state": "device not sending"})
        stream.viewers.add(viewer)
        stream.idle_since = None
        return viewer

    def detach(self, viewer: Viewer) -> None:
        stream = self.streams.get(viewer.grant.key)
        if stream is None or viewer not in stream.viewers:
            return
        stream.viewers.discard(viewer)
        if not stream.viewers:
            stream.idle_since = self._clock()

    # --- LL-HLS (web/video_hls.py) ---------------------------------------------------------

    def hls_stream(self, token: str, key: StreamKey) -> DeviceStream:
        """The stream an LL-HLS request may read (TokenRefused/TokenExpired, or ConflictError
        when it is not streaming); the request keeps it running a while, like a viewer."""
        self.tokens.verify(token, key)
        stream = self.streams.get(key)
        if stream is None or stream.state == "ended" or stream.hls.init is None:
            raise ConflictError(f"{_key_text(key)} is not streaming: start it again")
        stream.hls_requests += 1
        stream.reserved_until = max(stream.reserved_until, self._clock() + RESERVE_S)
        return stream

    async def hls_wait(self, stream: DeviceStream, msn: int, part: int | None) -> bool:
        """A blocking playlist reload: until the window has segment `msn` (or its part
        `part`); False if the stream ends first (the caller bounds the wait). More than two
        segments ahead is refused (RFC 8216bis)."""
        if msn > stream.hls.next_msn + 1:
            raise InvalidArgument(f"_HLS_msn={msn} is more than two segments ahead")
        while not stream.hls.has(msn, part):
            if stream.state == "ended":
                return False
            await stream.hls_changed.wait()
        return True

    # --- from the gateway ------------------------------------------------------------------

    def segment(
        self,
        key: StreamKey,
        session: str,
        init: bytes | None,
        fragment: bytes,
        keyframe: bool,
        codec: str,
        decode_time_s: float,
        arrived_ms: float,
    ) -> None:
        """An fMP4 fragment (and the init segment it needs, when new) of a live session."""
        now = self._clock()
        stream = self.streams.get(key)
        if stream is None or stream.state == "ended":
            # A session the hub did not start (e.g. for a canvas layer): kept for viewers.
            stream = self.streams[key] = DeviceStream(key, owned=False, session=session)
            stream.idle_since = now
        if stream.session != session:
            if stream.session and init is None:
                return  # the tail of an older session
            stream.session, stream.gop, stream.init = session, [], None
            stream.hls = HlsWindow()
        if init is not None:
            stream.init, stream.codec = init, codec
            for viewer in stream.viewers:
                viewer.put_text(self._hello(stream))
                viewer.queue.append(init)
        if stream.init is None:
            return
        stream.fragments += 1
        stream.last_fragment_at = now
        if keyframe:
            stream.keyframes += 1
            stream.gop = []
            stream.clock = (decode_time_s, arrived_ms)
        if len(stream.gop) < GOP_CACHE:
            stream.gop.append(fragment)
        if stream.hls.add(init, fragment, keyframe, decode_time_s):
            stream.hls_changed.set()
            stream.hls_changed = trio.Event()
        if stream.state != "live":
            resumed = stream.state == "not sending"
            stream.state = "live"
            stream.ready.set()
            if resumed:
                for viewer in stream.viewers:
                    viewer.put_text({"type": "state", "state": "live"})
        for viewer in stream.viewers:
            if keyframe:
                viewer.put_text({"type": "clock", "t": decode_time_s, "wall": arrived_ms})
            viewer.put_fragment(fragment, keyframe, now)

    def ended(self, key: StreamKey, session: str, reason: str) -> None:
        """The gateway ended the session: its viewers are told and closed."""
        stream = self.streams.get(key)
        if stream is None or stream.session != session:
            return  # an older session's end (or one the hub never saw)
        del self.streams[key]
        stream.state, stream.ended_reason = "ended", reason
        stream.ready.set()  # a start waiting for it learns why
        stream.hls_changed.set()  # and so do blocked LL-HLS playlist reloads
        for viewer in stream.viewers:
            viewer.put_text({"type": "state", "state": "device not sending", "reason": reason})
            viewer.close(CLOSE_ENDED, reason[:120])

    # --- housekeeping ----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            while True:
                await trio.sleep(TICK_S)
                await self.tick()

    async def tick(self) -> None:
        now = self._clock()
        for stream in list(self.streams.values()):
            if stream.state == "live" and now - stream.last_fragment_at > NOT_SENDING_S:
                stream.state = "not sending"
                for viewer in stream.viewers:
                    viewer.put_text({"type": "state", "state": "device not sending"})
            stuck = any(
                v.waiting_key and now - v.waiting_since > KEY_WAIT_S for v in stream.viewers
            )
            if (
                stuck
                and stream.state == "live"
                and now - stream.last_key_request > KEY_REQUEST_EVERY_S
            ):
                stream.last_key_request = now
                stream.key_requests += 1
                self._soon(self._request_key, stream)
            idle = stream.idle_since
            if (
                not stream.viewers
                and idle is not None
                and now - idle > self.grace_s
                and now > stream.reserved_until
            ):
                if stream.owned:
                    await self._stop(stream, "no viewer left")
                elif self.streams.get(stream.key) is stream:
                    del self.streams[stream.key]  # forget it; its owner keeps it running

    def _soon(self, fn: Callable[[DeviceStream], Any], stream: DeviceStream) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, stream)

    async def _request_key(self, stream: DeviceStream) -> None:
        try:
            await self.source.request_iframe(*stream.key)
        except Exception as exc:  # the device left meanwhile: its session ends anyway
            if self._log is not None:
                self._log("video: keyframe request failed", stream=list(stream.key), error=str(exc))

    async def _stop(self, stream: DeviceStream, why: str) -> None:
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]
        stream.state = "ended"
        stream.ended_reason = why
        stream.ready.set()
        for viewer in stream.viewers:
            viewer.close(CLOSE_ENDED, why)
        try:
            await self.source.stop_live(*stream.key)
        except Exception as exc:  # offline or restarting: its session is gone anyway
            if self._log is not None:
                self._log("video: stop failed", stream=list(stream.key), error=str(exc))

    def _hello(self, stream: DeviceStream) -> dict[str, Any]:
        device, channel, kind = stream.key
        return {
            "type": "stream",
            "device": device,
            "channel": channel,
            "stream": kind,
            "codec": stream.codec,
            "mime": f'video/mp4; codecs="{stream.codec}"',
        }
