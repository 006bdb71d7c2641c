"""The WebSocket `/ws`: bus events as JSON and live canvas previews as binary frames.

Protocol (client → server, JSON text):

    {"op": "auth", "token": "<access token>"}          first, within 5 s; again to renew
    {"op": "subscribe", "topics": ["canvas:update", "device:*"]}
    {"op": "unsubscribe", "topics": [...]}
    {"op": "preview", "canvases": ["facade"], "fps": 10}    fps 0.5..25; [] stops previews
    {"op": "ping"}

Server → client: ``{"event": topic, "data": payload, "seq": n, "at": t}`` for events,
``{"reply": op, "ok": true, ...}`` / ``{"reply": op, "ok": false, "error": "..."}`` for ops,
and binary preview frames::

    u8 version (1) · u8 name length N · N bytes canvas name (UTF-8)
    u16 width · u16 height · f64 frame time (show seconds)      (big-endian)
    width * height * 3 bytes RGB, row-major

Every op checks the role (`TOPIC_ACCESS`, previews need "read"). An access token's expiry
ends the session (close 4401) unless the client re-authenticates first; so does its revocation
(logout, a reused refresh token, the account disabled or its password changed), checked every
second.

Slow clients never make the server buffer without bound: one sender task owns the socket;
events wait in a bounded queue (overflow: the client is closed with 4008, as its view of the
show would be wrong), previews in a one-frame slot per canvas (a newer snapshot replaces one
not yet sent; the skipped frames are counted).
"""

from __future__ import annotations

import json
import math
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import trio
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from trocadero.core import correlation, tracing
from trocadero.core.auth import AuthError, AuthService
from trocadero.core.commands import Actor
from trocadero.core.events import Event, EventBus, SubscriberDropped, TopicFollower
from trocadero.core.nesting import parse_json
from trocadero.core.permissions import allowed
from trocadero.core.statistics import counter
from trocadero.core.validate import InvalidArgument

__all__ = ["TOPIC_ACCESS", "LiveStats", "live_routes", "preview_frame"]

AUTH_TIMEOUT_S: Final = 5.0
EVENT_QUEUE: Final = 256
MAX_FPS: Final = 25.0
MIN_FPS: Final = 0.5
MAX_MESSAGE: Final = 8192
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_TOO_SLOW: Final = 4008
CLOSE_BAD: Final = 4400

# Topic pattern → permission group; a subscription must match one entry.
TOPIC_ACCESS: Final[Mapping[str, str]] = {
    "canvas:update": "read",
    "cue:progress": "read",
    "system:alert": "read",
    "content:upload:progress": "read",
    "celebration:trigger": "read",
    "sensor:data": "read",
    "touch:frame": "read",
    "blob:data": "read",  # each camera's tracked blobs, every analysed frame (docs/cameras.md)
    "device:*": "read",
}


@dataclass
class LiveStats:
    sessions: int = 0
    open: int = 0
    previews_sent: int = 0
    previews_skipped: int = 0
    dropped_slow: int = 0
    refused_auth: int = 0
    # The open sessions' send queues of events (by id: deques compare by content).
    send_queues: dict[int, deque[str]] = field(default_factory=dict)

    def statistics(self) -> WebSocketStatistics:
        depths = [len(q) for q in self.send_queues.values()]
        return WebSocketStatistics(
            self.sessions,
            self.open,
            self.previews_sent,
            self.previews_skipped,
            self.dropped_slow,
            self.refused_auth,
            sum(depths),
            max(depths, default=0),
        )


@dataclass(frozen=True, slots=True)
class WebSocketStatistics:
    sessions: int = field(metadata=counter())
    open: int  # sessions open now
    previews_sent: int = field(metadata=counter())
    previews_skipped: int = field(metadata=counter())
    dropped_slow: int = field(metadata=counter())
    refused_auth: int = field(metadata=counter())
    queued: int  # events waiting in the open sessions' send queues
    deepest_queue: int  # the fullest session's (closed at EVENT_QUEUE)


def preview_frame(name: str, width: int, height: int, frame_time: float, rgb: bytes) -> bytes:
    raw = name.encode()
    return struct.pack(f">BB{len(raw)}sHHd", 1, len(raw), raw, width, height, frame_time) + rgb


def _topic_allowed(topic: str, role: str) -> bool:
    for pattern, group in TOPIC_ACCESS.items():
        if topic == pattern or (pattern.endswith("*") and topic.startswith(pattern[:-1])):
            return allowed(role, group)
    return False


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _Session:
    ws: WebSocket
    actor: Actor
    expires: float
    follower: TopicFollower
    token: str = ""  # re-checked every second: a logout or a cut-off ends the session
    preview_canvases: tuple[str, ...] = ()
    fps: float = 10.0
    preview_changed: trio.Event = field(default_factory=trio.Event)
    texts: deque[str] = field(default_factory=deque)
    slots: dict[str, bytes] = field(default_factory=dict)
    kick: trio.Event = field(default_factory=trio.Event)
    closing: tuple[int, str] | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
        self.scope.cancel()

    def queue_text(self, text: str, stats: LiveStats) -> None:
        if len(self.texts) >= EVENT_QUEUE:
            stats.dropped_slow += 1
            self.close(CLOSE_TOO_SLOW, "too slow: events backed up")
            return
        self.texts.append(text)
        self.kick.set()


class LiveEndpoint:
    def __init__(
        self,
        auth: AuthService,
        bus: EventBus,
        preview: Callable[[str], Any],
        canvases: Callable[[], list[str]],
        stats: LiveStats,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.bus = bus
        self.preview = preview
        self.canvases = canvases
        self.stats = stats
        self.clock = clock
        # Canvas → (the snapshot, its binary frame): every session previewing a canvas sends
        # the same bytes, so each snapshot is encoded once, not once per session.
        self._encoded: dict[str, tuple[object, bytes]] = {}

    def _frame(self, name: str, snap: Any) -> bytes:
        cached = self._encoded.get(name)
        if cached is not None and cached[0] is snap:
            return cached[1]
        frame = preview_frame(name, snap.width, snap.height, snap.frame_time, snap.rgb)
        self._encoded[name] = (snap, frame)
        return frame

    async def __call__(self, ws: WebSocket) -> None:
        await ws.accept()
        self.stats.sessions += 1
        try:
            session = await self._authenticate(ws)
        except _Closed as closed:
            self.stats.refused_auth += 1
            await _close(ws, closed.code, closed.reason)
            return
        self.stats.open += 1
        self.stats.send_queues[id(session.texts)] = session.texts
        try:
            with session.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._sender, session)
                    nursery.start_soon(self._previews, session)
                    nursery.start_soon(self._events, session)
                    nursery.start_soon(self._expiry, session)
                    await self._receiver(session)
                    session.scope.cancel()
            if session.closing is not None:
                await _close(ws, *session.closing)
        finally:
            self.stats.open -= 1
            self.stats.send_queues.pop(id(session.texts), None)

    def _check(self, ws: WebSocket, token: object) -> tuple[Actor, float]:
        if not isinstance(token, str) or not token:
            raise _Closed(CLOSE_UNAUTHORIZED, "auth: token required")
        address = ws.client.host if ws.client else ""
        try:
            actor = self.auth.authenticate(token, "ui", address)
            expires = self.auth.expiry(token)
        except AuthError as exc:
            raise _Closed(CLOSE_UNAUTHORIZED, f"auth: {exc}") from exc
        return actor, expires

    async def _authenticate(self, ws: WebSocket) -> _Session:
        text = None
        with trio.move_on_after(AUTH_TIMEOUT_S):
            message = await ws.receive()
            text = message.get("text")
        if text is None:
            raise _Closed(CLOSE_UNAUTHORIZED, f"auth: no auth message within {AUTH_TIMEOUT_S:g} s")
        doc = _parse(text)
        if isinstance(doc, str) or doc.get("op") != "auth":
            raise _Closed(CLOSE_UNAUTHORIZED, 'auth: the first message must be {"op": "auth"}')
        actor, expires = self._check(ws, doc.get("token"))
        await ws.send_text(
            json.dumps({"reply": "auth", "ok": True, "user": actor.name, "role": actor.role})
        )
        return _Session(
            ws, actor, expires, TopicFollower(self.bus, EVENT_QUEUE), token=doc["token"]
        )

    async def _receiver(self, s: _Session) -> None:
        while True:
            message = await s.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None or len(text) > MAX_MESSAGE:
                self._reply(s, "?", error=f"expected JSON text of at most {MAX_MESSAGE} bytes")
                continue
            doc = _parse(text)
            if isinstance(doc, str) or not isinstance(doc.get("op"), str):
                self._reply(s, "?", error=doc if isinstance(doc, str) else NOT_AN_OP)
                continue
            try:
                # Each op its own correlation id (a sane "request_id" of the client's, or new).
                with correlation.bound(correlation.take(doc.get("request_id"))):
                    self._op(s, doc["op"], doc)
            except _Closed as closed:
                s.close(closed.code, closed.reason)
                return

    def _op(self, s: _Session, op: str, doc: dict[str, Any]) -> None:
        if op == "ping":
            self._reply(s, op, at=self.clock())
        elif op == "auth":
            s.actor, s.expires = self._check(s.ws, doc.get("token"))
            s.token = doc["token"]
            self._reply(s, op, user=s.actor.name, role=s.actor.role)
        elif op in ("subscribe", "unsubscribe"):
            topics = doc.get("topics")
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                self._reply(s, op, error="topics: expected a list of topic names")
                return
            refused = [t for t in topics if not _topic_allowed(t, s.actor.role)]
            if refused:
                self._reply(s, op, error=f"topics: not allowed for role {s.actor.role}: {refused}")
                return
            now = set(s.follower.patterns)
            now = now | set(topics) if op == "subscribe" else now - set(topics)
            s.follower.set_patterns(sorted(now))
            self._reply(s, op, topics=sorted(now))
        elif op == "preview":
            self._preview_op(s, doc)
        else:
            self._reply(s, op, error=f"op: unknown {op!r}")

    def _preview_op(self, s: _Session, doc: dict[str, Any]) -> None:
        if not allowed(s.actor.role, "read"):
            self._reply(s, "preview", error="previews need the read permission")
            return
        names, fps = doc.get("canvases"), doc.get("fps", 10)
        known = self.canvases()
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self._reply(s, "preview", error="canvases: expected a list of canvas names")
            return
        unknown = [n for n in names if n not in known]
        if unknown:
            self._reply(s, "preview", error=f"canvases: unknown {unknown}")
            return
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps):
            self._reply(s, "preview", error=f"fps: expected a number (got {fps!r})")
            return
        s.fps = min(MAX_FPS, max(MIN_FPS, float(fps)))
        s.preview_canvases = tuple(dict.fromkeys(names))
        s.slots = {k: v for k, v in s.slots.items() if k in s.preview_canvases}
        s.preview_changed.set()
        self._reply(s, "preview", canvases=list(s.preview_canvases), fps=s.fps)

    def _reply(self, s: _Session, op: str, *, error: str = "", **fields: Any) -> None:
        doc = {"reply": op, "ok": not error, **({"error": error} if error else fields)}
        s.queue_text(json.dumps(doc), self.stats)

    def _publish(self, s: _Session, event: Event) -> None:
        # An event that carries a trace (an MDVR position, tracing on) continues it here.
        with tracing.span_from(event.trace, "websocket publish", {"trocadero.topic": event.topic}):
            s.queue_text(_event_json(event), self.stats)

    async def _events(self, s: _Session) -> None:
        try:
            await s.follower.run(lambda event: self._publish(s, event))
        except SubscriberDropped:
            self.stats.dropped_slow += 1
            s.close(CLOSE_TOO_SLOW, "too slow: events backed up")

    async def _previews(self, s: _Session) -> None:
        while True:
            if not s.preview_canvases:
                s.preview_changed = trio.Event()
                await s.preview_changed.wait()
                continue
            for name in s.preview_canvases:
                snap = self.preview(name)
                if snap is None:
                    continue
                if name in s.slots:
                    self.stats.previews_skipped += 1  # the previous one is still unsent
                s.slots[name] = self._frame(name, snap)
                s.kick.set()
            await trio.sleep(1.0 / s.fps)

    async def _sender(self, s: _Session) -> None:
        # The only task that writes to the socket: a client that stops reading blocks it
        # here, and everything else piles up in the bounded queue and slots meanwhile.
        try:
            while True:
                await s.kick.wait()
                s.kick = trio.Event()
                while s.texts:
                    await s.ws.send_text(s.texts.popleft())
                while s.slots:
                    name = next(iter(s.slots))
                    await s.ws.send_bytes(s.slots.pop(name))
                    self.stats.previews_sent += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            s.scope.cancel()

    async def _expiry(self, s: _Session) -> None:
        while True:
            left = s.expires - self.clock()
            if left <= 0:
                s.close(CLOSE_UNAUTHORIZED, "auth: token expired; re-authenticate")
                return
            try:
                # Revoked since it was presented: a logout, a reused refresh token, an account
                # disabled or its password changed end the live session too.
                self.auth.authenticate(s.token, "ui")
            except AuthError as exc:
                s.close(CLOSE_UNAUTHORIZED, f"auth: {exc}")
                return
            await trio.sleep(min(left, 1.0))


def _event_json(event: Event) -> str:
    return json.dumps(
        {"event": event.topic, "data": dict(event.payload), "seq": event.seq, "at": event.at},
        default=str,
    )


NOT_AN_OP: Final = 'expected a JSON object with "op"'


def _parse(text: str) -> dict[str, Any] | str:
    """The message's object, or what is wrong with it."""
    try:
        doc = parse_json(text, "message")  # depth-limited: a deep message cannot recurse
    except InvalidArgument as exc:
        return str(exc) if "nested deeper" in str(exc) else NOT_AN_OP
    return doc if isinstance(doc, dict) else NOT_AN_OP


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    try:
        await ws.close(code=code, reason=reason[:120])
    except (RuntimeError, WebSocketDisconnect):
        pass  # already closed by the client


def live_routes(
    auth: AuthService,
    bus: EventBus,
    preview: Callable[[str], Any],
    canvases: Callable[[], list[str]],
    stats: LiveStats,
) -> list[WebSocketRoute]:
    live = LiveEndpoint(auth, bus, preview, canvases, stats)

    async def endpoint(ws: WebSocket) -> None:  # a function: Starlette passes the WebSocket
        await live(ws)

    return [WebSocketRoute("/ws", endpoint)]
