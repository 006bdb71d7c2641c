"""Live video: C508 start and stop, the request's timeout, and the media connection's frames
decoded off-thread into the live feeds (video.py) for the ``mdvr-live`` layer source, and,
when a video sink is attached (browser viewers, core/video_hub.py), remuxed to fMP4 right
here as they are read: a remux is byte shuffling (protocols/fmp4.py), no decoding, and in the
default set-up this is the gateway's own process, never the lighting daemon's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

from trocadero.core.video_hub import VideoSink
from trocadero.protocols.fmp4 import TIMESCALE, Fmp4Muxer
from trocadero.protocols.mdvr import (
    MediaDecoder,
    MediaFrame,
    MediaItem,
    build_iframe_request,
    build_live_video,
    build_live_video_stop,
    build_media_feedback,
    build_media_heartbeat,
)

from ...logs import get_logger
from ..video import LiveDecoder
from .context import GatewayContext, PendingSession
from .limits import MAX_GARBAGE, READ_SIZE
from .link import DeviceOffline

log = get_logger("mdvr")

LiveKey = tuple[str, int, int]  # device id, channel, stream type


@dataclass(eq=False)
class LiveSession:
    device_id: str
    channel: int
    stream_type: int
    session_id: str
    state: Literal["requested", "streaming", "ended", "stopped", "timed out"] = "requested"
    requested_at: float = 0.0  # on the gateway's monotonic clock
    frames: int = 0
    bytes: int = 0
    decoder: LiveDecoder | None = None
    scope: trio.CancelScope | None = None
    stream: trio.SocketStream | None = None  # the media connection, once it is up
    envelope: Literal["M1", "M2"] = "M1"
    send_lock: trio.Lock = field(default_factory=trio.Lock)  # keep-alives and I-frame requests
    remux: Fmp4Muxer | None = None
    end_reason: str = ""

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


class Live:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.sessions: dict[LiveKey, LiveSession] = {}

    async def start(self, device_id: str, channel: int, stream_type: int = 0) -> dict[str, Any]:
        """Ask the device for live video (C508); the frames reach the live feeds once its
        media connection arrives. Idempotent for a session already running."""
        ctx = self.ctx
        if not 0 <= channel <= 15 or stream_type not in (0, 1):
            raise ValueError("channel must be 0..15 and stream 0 (main) or 1 (sub)")
        link = ctx.links.get(device_id)
        if link is None:
            raise DeviceOffline(f"device {device_id!r} is not connected")
        key = (device_id, channel, stream_type)
        live = self.sessions.get(key)
        if live is not None and live.state in ("requested", "streaming"):
            return self.status(live)
        session = PendingSession(
            ctx.new_session_id(), device_id, "live", channel=channel, stream_type=stream_type
        )
        live = LiveSession(
            device_id,
            channel,
            stream_type,
            session.session_id,
            requested_at=ctx.clock.monotonic(),
        )
        self.sessions[key] = live
        ctx.pending[session.session_id] = session
        media_ip, media_port = ctx.media_address(link)
        await link.command(
            lambda serial: build_live_video(
                serial=serial,
                device_id=device_id,
                time=ctx.clock.now(),
                session_id=session.session_id,
                channel=channel,
                media_ip=media_ip,
                media_port=media_port,
                stream_type=stream_type,
            )
        )
        if ctx.nursery is not None:
            ctx.nursery.start_soon(self._expire, session, live)
        return self.status(live)

    async def _expire(self, session: PendingSession, live: LiveSession) -> None:
        await trio.sleep(self.ctx.config.session_timeout_s)
        if self.ctx.pending.pop(session.session_id, None) is not None:
            live.state = "timed out"
            key = (live.device_id, live.channel, live.stream_type)
            if self.sessions.get(key) is live:
                del self.sessions[key]
            log.warning(
                "MDVR live video did not connect", device=live.device_id, channel=live.channel
            )

    async def stop(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        """C508 stop and close the media connection; False if nothing was running."""
        ctx = self.ctx
        live = self.sessions.pop((device_id, channel, stream_type), None)
        if live is None:
            return False
        live.state = "stopped"
        live.end_reason = "stopped"
        ctx.pending.pop(live.session_id, None)
        link = ctx.links.get(device_id)
        if link is not None:
            try:
                await link.command(
                    lambda serial: build_live_video_stop(
                        serial=serial,
                        device_id=device_id,
                        time=ctx.clock.now(),
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

    async def request_iframe(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        """Ask the device for an I-frame now (0x6002): a viewer lost one or waits too long."""
        live = self.sessions.get((device_id, channel, stream_type))
        if live is None or live.stream is None:
            return False
        try:
            async with live.send_lock:
                await live.stream.send_all(build_iframe_request(envelope=live.envelope))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    def end_for_device(self, device_id: str) -> None:
        """The device went offline: its live sessions end."""
        for key, session in list(self.sessions.items()):
            if session.device_id == device_id and session.scope is not None:
                session.end_reason = "the device went offline"
                session.scope.cancel()
            if session.device_id == device_id:
                del self.sessions[key]

    def status(self, live: LiveSession) -> dict[str, Any]:
        feed = self.ctx.feeds.feed(live.device_id, live.channel)
        return live.status(feed.status())

    def statuses(self) -> list[dict[str, Any]]:
        return [self.status(s) for s in self.sessions.values()]

    async def receive(
        self,
        stream: trio.SocketStream,
        decoder: MediaDecoder,
        pending: PendingSession,
        backlog: list[MediaItem],
    ) -> None:
        """The live session's media connection: video frames to the decoder until it ends."""
        ctx = self.ctx
        key = (pending.device_id, pending.channel, pending.stream_type)
        live = self.sessions.get(key)
        if live is None or live.session_id != pending.session_id:
            return  # stopped before the device connected
        feed = ctx.feeds.feed(pending.device_id, pending.channel)
        live.decoder = LiveDecoder(feed, name=f"mdvr-{pending.device_id}-{pending.channel}")
        live.state = "streaming"
        envelope = decoder.envelope or "M1"
        live.envelope = envelope
        sink = ctx.video
        try:
            with trio.CancelScope() as scope:
                live.scope = scope
                await stream.send_all(build_media_feedback(ok=True, envelope=envelope))
                await stream.send_all(build_iframe_request(envelope=envelope))
                live.stream = stream
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._keepalive, live)
                    items = backlog
                    while True:
                        now = ctx.clock.monotonic()
                        for item in items:
                            if isinstance(item, MediaFrame) and item.kind == "video":
                                live.frames += 1
                                live.bytes += len(item.data)
                                live.decoder.submit(item.data, item.is_keyframe, now)
                                if sink is not None:
                                    self._remux(live, sink, item)
                        with trio.move_on_after(ctx.config.media_idle_s) as idle:
                            data = await stream.receive_some(READ_SIZE)
                        if idle.cancelled_caught:
                            live.end_reason = (
                                f"the device sent nothing for {ctx.config.media_idle_s:g} s"
                            )
                            break
                        if not data:
                            live.end_reason = "the device closed its media connection"
                            break
                        if decoder.skipped_since_frame > MAX_GARBAGE:
                            live.end_reason = "the device sent garbage instead of video"
                            break
                        items = decoder.feed(data)
                    nursery.cancel_scope.cancel()
        finally:
            live.stream = None
            if live.state == "streaming":
                live.state = "ended"
            if sink is not None:
                sink.ended(key, live.session_id, live.end_reason or "the session ended")
            dec = live.decoder
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(dec.close)
            if self.sessions.get(key) is live:  # ended by the device: no longer running
                del self.sessions[key]

    def _remux(self, live: LiveSession, sink: VideoSink, frame: MediaFrame) -> None:
        """One access unit to an fMP4 fragment for the browsers (H.264 only: H.265 is not
        played by the browsers we serve, and would need a transcode)."""
        if live.remux is None:
            if frame.codec != "h264":
                return
            live.remux = Fmp4Muxer()
        out = live.remux.push(
            frame.data, keyframe=frame.is_keyframe, timestamp_us=frame.timestamp_us
        )
        if out.fragment is None:
            return
        sink.segment(
            (live.device_id, live.channel, live.stream_type),
            live.session_id,
            out.init,
            out.fragment,
            out.keyframe,
            out.codec,
            out.decode_time / TIMESCALE,
            self.ctx.clock.now().timestamp() * 1e3,
        )

    async def _keepalive(self, live: LiveSession) -> None:
        while True:
            await trio.sleep(self.ctx.config.heartbeat_s)
            stream = live.stream
            if stream is None:
                return
            async with live.send_lock:
                await stream.send_all(build_media_heartbeat(envelope=live.envelope))
