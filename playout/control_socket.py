"""The show-script socket API server: a Unix socket, msgpack messages (docs/socket-api.md).

Framing and parsing are `protocols.control_socket` (sans-IO), the operations `core.operations`
(the same command layer as REST). Here: the socket file (mode, group, stale file removed),
the caller's identity from SO_PEERCRED for the audit log, one task per connection handling
requests in order, and event subscriptions pushed in between.

Nothing a client does can take the daemon down: a connection's failure (the peer hanging up
mid-reply, a bug in an op) ends that connection or that request, never the nursery the frame
producer runs in.

A connection never makes the daemon buffer without bound: events wait in the bus's bounded
per-subscriber queue; a script that stops reading is unsubscribed (told so with a
``subscription:dropped`` event) once that queue is full.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import trio
from prometheus_client import Histogram

from trocadero.config.schema import SocketConfig
from trocadero.core import correlation, tracing
from trocadero.core.commands import Actor, Forbidden, Role
from trocadero.core.containment import CONTAINMENT, SESSION_FAILURES
from trocadero.core.events import Event, EventBus, SubscriberDropped, TopicFollower
from trocadero.core.operations import SESSION_OPS, OpError
from trocadero.core.operations.registry import Registry
from trocadero.core.operations.session import topic_patterns
from trocadero.core.permissions import require
from trocadero.core.statistics import counter, detail
from trocadero.protocols.control_socket import (
    BadMessage,
    Decoder,
    FramingLost,
    Request,
    TooLarge,
    encode,
)

from .logs import get_logger

log = get_logger("socket")

SOCKET_NAME: Final = "control.sock"
SUBSCRIBER_QUEUE: Final = 1000
# What a peer that went away looks like from our side of the socket.
_GONE: Final = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)


def socket_path(config: SocketConfig, state_dir: Path, environ: dict[str, str]) -> Path:
    if config.path:
        return Path(config.path)
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(runtime or state_dir) / SOCKET_NAME


def peer_actor(sock: trio.socket.SocketType, role: Role) -> Actor:
    """Who is on the other end (SO_PEERCRED): the user name for the audit log."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
    except OSError:
        return Actor("unknown", role, "socket", "")
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid {uid}"
    return Actor(name, role, "socket", f"pid {pid}")


@dataclass(frozen=True, slots=True)
class SocketStatistics:
    path: str = field(metadata=detail())
    connections: int = field(metadata=counter())
    requests: int = field(metadata=counter())
    errors: int = field(metadata=counter())
    dropped_subscribers: int = field(metadata=counter())


class ControlSocket:
    def __init__(self, registry: Registry, bus: EventBus, config: SocketConfig, path: Path) -> None:
        self.registry = registry
        self.bus = bus
        self.config = config
        self.path = path
        self.connections = 0
        self.requests = 0
        self.errors = 0
        self.dropped_subscribers = 0
        # /metrics: request latency by operation (core/metrics.py), when the daemon has one.
        self.latency: Histogram | None = None

    def op_label(self, op: str) -> str:
        """`op` when it is a known operation, else "unknown" (a bounded label set)."""
        return op if op in self.registry.operations or op in SESSION_OPS else "unknown"

    def statistics(self) -> SocketStatistics:
        return SocketStatistics(
            str(self.path), self.connections, self.requests, self.errors, self.dropped_subscribers
        )

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listener = await self._listen()
        log.info("socket API listening", path=str(self.path), role=self.config.role)
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    try:
                        conn, _ = await listener.accept()
                    except OSError as exc:
                        # Out of file descriptors: wait for some to close rather than die.
                        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                            raise
                        log.warning("socket API cannot accept", error=str(exc))
                        await trio.sleep(0.1)
                        continue
                    nursery.start_soon(self._connection, conn)
        finally:
            listener.close()
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    async def _listen(self) -> trio.socket.SocketType:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with probe:
                try:
                    await probe.connect(str(self.path))
                except OSError:
                    self.path.unlink()  # left by a killed daemon: nobody is listening on it
                else:  # another daemon is serving it: never steal its socket
                    raise OSError(errno.EADDRINUSE, f"{self.path} is in use")
        elif self.path.exists():
            raise OSError(f"{self.path} exists and is not a socket; not replacing it")
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bind with a tight umask, then open up to the configured mode: no window where the
        # socket is reachable more widely than asked.
        old = os.umask(0o177)
        try:
            await sock.bind(str(self.path))
        finally:
            os.umask(old)
        if self.config.group:
            os.chown(self.path, -1, grp.getgrnam(self.config.group).gr_gid)
        self.path.chmod(self.config.mode)
        sock.listen(64)
        return sock

    async def _connection(self, sock: trio.socket.SocketType) -> None:
        actor = peer_actor(sock, self.config.role)
        stream = trio.SocketStream(sock)
        self.connections += 1
        conn = _Connection(self, stream, actor)
        try:
            await conn.run()
        except* _GONE:
            pass  # the script went away (mid-reply, mid-event): its connection ends, that's all
        except* SESSION_FAILURES as group:
            # A bug, not the client's doing: count and log it, end this connection only.
            CONTAINMENT.record("socket", actor.name, group)
        finally:
            self.connections -= 1
            await stream.aclose()


class _Connection:
    def __init__(self, server: ControlSocket, stream: trio.SocketStream, actor: Actor) -> None:
        self.server = server
        self.stream = stream
        self.actor = actor
        self.decoder = Decoder(server.config.max_message_bytes)
        self.write_lock = trio.Lock()
        self.follower = TopicFollower(server.bus, SUBSCRIBER_QUEUE)

    async def send(self, doc: dict[str, Any]) -> None:
        try:
            data = encode(doc)
        except (TypeError, ValueError, OverflowError) as exc:  # e.g. an int over 64 bits
            CONTAINMENT.record("socket.reply", self.actor.name, exc)
            data = encode(
                {
                    "id": doc.get("id"),
                    "ok": False,
                    "error": {"code": "internal", "message": f"reply not encodable: {exc}"},
                }
            )
        async with self.write_lock:
            await self.stream.send_all(data)

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._events)
            try:
                await self._requests()
            finally:
                nursery.cancel_scope.cancel()

    async def _requests(self) -> None:
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                return
            for item in self.decoder.feed(data):
                if isinstance(item, Request):
                    await self._request(item)
                elif isinstance(item, BadMessage):
                    self.server.errors += 1
                    await self._error(item.id, "bad_message", item.message)
                elif isinstance(item, TooLarge):
                    self.server.errors += 1
                    await self._error(
                        None,
                        "too_large",
                        f"message of {item.size} bytes is over the limit of {item.limit}",
                    )
                elif isinstance(item, FramingLost):
                    self.server.errors += 1
                    await self._error(None, "framing_lost", f"{item.message}; closing")
                    return

    async def _error(self, mid: Any, code: str, message: str, request_id: str = "") -> None:
        doc: dict[str, Any] = {"id": mid, "ok": False, "error": {"code": code, "message": message}}
        if request_id:
            doc["request_id"] = request_id
        await self.send(doc)

    async def _request(self, req: Request) -> None:
        started = time.perf_counter()
        try:
            await self._answer(req)
        finally:
            if self.server.latency is not None:
                self.server.latency.labels(self.server.op_label(req.op)).observe(
                    time.perf_counter() - started
                )

    async def _answer(self, req: Request) -> None:
        self.server.requests += 1
        # The caller's request_id when sane, else a fresh one: in every log line the request
        # causes, its audit entry, its trace, and the reply.
        with correlation.bound(correlation.take(req.request_id)) as request_id:
            attributes = {"rpc.system": "trocadero-socket", "rpc.method": req.op}
            with tracing.span(f"socket {req.op}", attributes, server=True):
                try:
                    result = await self._dispatch(req)
                except OpError as exc:
                    self.server.errors += 1
                    await self._error(req.id, exc.code, exc.message, request_id)
                    return
                except SESSION_FAILURES as exc:
                    # A bug in an op: this request fails (logged with its traceback), the
                    # connection and the daemon go on.
                    self.server.errors += 1
                    CONTAINMENT.record("socket.op", f"{self.actor.name} {req.op}", exc)
                    message = f"{req.op}: internal error (logged)"
                    await self._error(req.id, "internal", message, request_id)
                    return
            await self.send({"id": req.id, "ok": True, "result": result, "request_id": request_id})

    async def _dispatch(self, req: Request) -> Any:
        if req.op in ("subscribe", "unsubscribe"):
            topics = topic_patterns(req.args)
            current = self.follower.patterns
            if req.op == "subscribe":
                try:
                    require(self.actor, "read", "subscribe to events")
                except Forbidden as exc:
                    raise OpError("forbidden", str(exc)) from exc
                self.follower.set_patterns((*current, *topics))
            else:
                self.follower.set_patterns(p for p in current if p not in topics)
            return {"topics": list(self.follower.patterns)}
        return await self.server.registry.call(self.actor, req.op, req.args)

    async def _events(self) -> None:
        while True:
            try:
                await self.follower.run(self._push)
            except SubscriberDropped:
                self.server.dropped_subscribers += 1
                self.follower.set_patterns(())
                await self.send(
                    {
                        "event": "subscription:dropped",
                        "data": {"reason": "too slow: events backed up; subscribe again"},
                        "seq": 0,
                    }
                )

    async def _push(self, event: Event) -> None:
        await self.send({"event": event.topic, "data": dict(event.payload), "seq": event.seq})
