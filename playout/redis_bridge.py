"""Fan the event bus out through Redis (optional; `[events] redis_url`).

Every event published on this node's bus is PUBLISHed to ``<prefix><topic>`` as JSON
``{"node", "topic", "payload", "at"}``; every message on ``<prefix>*`` from another node is
published on this node's bus, so its WebSocket and socket-API subscribers see the whole
deployment. An event that came from Redis is never sent back (no echo loops).

Redis is an accessory, never a dependency of the show: when it is unreachable the bus keeps
working locally, the bridge logs once per state change, counts what it could not forward
(the outgoing queue is bounded: it drops rather than buffers while Redis is away) and
reconnects every `reconnect_s`. `redis.asyncio` runs on the daemon's `trio_asyncio` loop.
"""

from __future__ import annotations

import json
import os
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import trio
import trio_asyncio

from trocadero.config.schema import EventsConfig
from trocadero.core.events import EventBus, Subscriber, SubscriberDropped
from trocadero.core.statistics import counter, detail

from .logs import get_logger

log = get_logger("events.redis")

OUTBOX: Final = 10_000  # events waiting for Redis at most; beyond that they are dropped
_REMOTE_SEQS: Final = 4096  # recent bus sequence numbers of events that came from Redis


def default_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class BridgeStats:
    connected: bool = False
    sent: int = 0
    received: int = 0
    dropped: int = 0  # not forwarded: Redis away or the bridge behind
    malformed: int = 0
    reconnects: int = 0
    last_error: str = ""
    remote_seqs: deque[int] = field(default_factory=lambda: deque(maxlen=_REMOTE_SEQS))

    def statistics(self) -> RedisStatistics:
        return RedisStatistics(
            self.connected,
            self.sent,
            self.received,
            self.dropped,
            self.malformed,
            self.reconnects,
            self.last_error or None,
        )


@dataclass(frozen=True, slots=True)
class RedisStatistics:
    connected: bool
    sent: int = field(metadata=counter())
    received: int = field(metadata=counter())
    dropped: int = field(metadata=counter())  # not forwarded: Redis away or the bridge behind
    malformed: int = field(metadata=counter())
    reconnects: int = field(metadata=counter())
    last_error: str | None = field(metadata=detail())


class RedisBridge:
    def __init__(self, bus: EventBus, config: EventsConfig) -> None:
        self.bus = bus
        self.config = config
        self.node = config.node_id or default_node_id()
        self.stats = BridgeStats()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        import redis.asyncio as aioredis

        outbox_send, outbox_recv = trio.open_memory_channel[tuple[str, dict[str, Any]]](OUTBOX)
        async with trio.open_nursery() as nursery:
            # Subscribed before start-up completes: no local event slips past the bridge.
            nursery.start_soon(self._collect, outbox_send, self.bus.subscribe("*", capacity=OUTBOX))
            task_status.started()
            while True:
                client = aioredis.Redis.from_url(
                    self.config.redis_url, socket_connect_timeout=2, health_check_interval=10
                )
                try:
                    await self._session(client, outbox_recv)
                except Exception as exc:  # redis.ConnectionError, OSError, timeouts, …
                    if self.stats.connected or self.stats.last_error != str(exc):
                        log.warning("Redis event fan-out unavailable", error=str(exc))
                    self.stats.connected = False
                    self.stats.last_error = str(exc)
                finally:
                    with trio.CancelScope(shield=True):
                        await self._aio(client.aclose)()
                await trio.sleep(self.config.reconnect_s)
                self.stats.reconnects += 1

    @staticmethod
    def _aio(fn: Any) -> Any:
        return trio_asyncio.aio_as_trio(fn)

    async def _collect(
        self, outbox: trio.MemorySendChannel[tuple[str, dict[str, Any]]], first: Subscriber
    ) -> None:
        # Local events only, in order; a full outbox (Redis away or slow) drops, never blocks
        # the bus and never grows without bound.
        sub: Subscriber | None = first
        while True:
            try:
                with sub or self.bus.subscribe("*", capacity=OUTBOX) as sub:
                    async for event in sub:
                        if event.seq in self.stats.remote_seqs:
                            continue
                        if not self.stats.connected:
                            self.stats.dropped += 1
                            continue
                        doc = {
                            "node": self.node,
                            "topic": event.topic,
                            "payload": dict(event.payload),
                            "at": event.at,
                        }
                        try:
                            outbox.send_nowait((event.topic, doc))
                        except trio.WouldBlock:
                            self.stats.dropped += 1
            except SubscriberDropped:
                self.stats.dropped += 1  # fell behind the bus: resubscribe and go on
            sub = None

    async def _session(
        self, client: Any, outbox: trio.MemoryReceiveChannel[tuple[str, dict[str, Any]]]
    ) -> None:
        await self._aio(client.ping)()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await self._aio(pubsub.psubscribe)(self.config.channel_prefix + "*")
        if not self.stats.connected:
            log.info("Redis event fan-out connected", url=_redacted(self.config.redis_url))
        self.stats.connected = True
        self.stats.last_error = ""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_loop, client, outbox)
                await self._receive_loop(pubsub)
        finally:
            self.stats.connected = False
            with trio.CancelScope(shield=True):
                await self._aio(pubsub.aclose)()

    async def _send_loop(
        self, client: Any, outbox: trio.MemoryReceiveChannel[tuple[str, dict[str, Any]]]
    ) -> None:
        async for topic, doc in outbox:
            await self._aio(client.publish)(
                self.config.channel_prefix + topic, json.dumps(doc, separators=(",", ":"))
            )
            self.stats.sent += 1

    async def _receive_loop(self, pubsub: Any) -> None:
        while True:
            message = await self._aio(pubsub.get_message)(timeout=1.0)
            if message is None:
                continue
            self._deliver(message.get("data"))

    def _deliver(self, data: Any) -> None:
        try:
            doc = json.loads(data)
            node, topic, payload = doc["node"], doc["topic"], doc["payload"]
            if not isinstance(topic, str) or not isinstance(payload, dict):
                raise TypeError("topic/payload")
        except (ValueError, TypeError, KeyError):
            self.stats.malformed += 1
            return
        if node == self.node:
            return  # our own, back from Redis
        self.stats.received += 1
        event = self.bus.publish(topic, {**payload, "node": node})
        self.stats.remote_seqs.append(event.seq)


def _redacted(url: str) -> str:
    # redis://user:secret@host → redis://user:***@host
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
