"""The in-process event bus: topics such as ``device:position`` fanned out to subscribers.

Publishing never blocks and never waits for a subscriber: each subscriber has a bounded queue,
and one that falls behind (its queue is full) is dropped and told so, rather than slowing the
publisher (the MDVR gateway publishes from its socket tasks) or growing without bound. A
dropped subscriber's iteration ends with :class:`SubscriberDropped`; it may subscribe again
and resynchronise from the store.

    bus = EventBus()
    with bus.subscribe("device:*") as sub:
        async for event in sub:
            ...
    bus.publish("device:online", {"device_id": "00967"})

Topic patterns: an exact topic, a prefix ending in ``*`` (``device:*``), or ``*`` for all.
Payloads are JSON-able mappings (the WebSocket layer forwards them as they are).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import structlog
import trio

__all__ = [
    "DEFAULT_QUEUE",
    "Event",
    "EventBus",
    "Subscriber",
    "SubscriberDropped",
    "TopicFollower",
]

DEFAULT_QUEUE: Final = 1000


class SubscriberDropped(Exception):
    """The subscriber's queue overflowed and it was removed from the bus."""


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: ``seq`` is the bus-wide order, ``at`` the wall-clock time (s)."""

    topic: str
    payload: Mapping[str, Any]
    seq: int
    at: float
    trace: str | None = None  # the W3C traceparent of what caused it (tracing on)


def _matches(patterns: tuple[str, ...], topic: str) -> bool:
    for p in patterns:
        if p == "*" or p == topic or (p.endswith("*") and topic.startswith(p[:-1])):
            return True
    return False


@dataclass(eq=False)
class Subscriber:
    """A bounded queue of events matching ``patterns``. Use as a context manager (it
    unsubscribes on exit) and iterate it, or call :meth:`receive`."""

    bus: EventBus
    patterns: tuple[str, ...]
    capacity: int
    _queue: deque[Event] = field(default_factory=deque)
    _wakeup: trio.Event = field(default_factory=trio.Event)
    dropped: bool = False
    closed: bool = False

    def _offer(self, event: Event) -> bool:
        """Queue ``event``; False if the queue was full (the bus then drops us)."""
        if len(self._queue) >= self.capacity:
            self.dropped = True
            self._wakeup.set()
            return False
        self._queue.append(event)
        self._wakeup.set()
        return True

    def pending(self) -> int:
        return len(self._queue)

    def get_nowait(self) -> Event | None:
        """The next queued event, or None (raises SubscriberDropped once drained if dropped)."""
        if self._queue:
            return self._queue.popleft()
        if self.dropped:
            raise SubscriberDropped(f"subscriber to {', '.join(self.patterns)} fell behind")
        return None

    async def receive(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise trio.EndOfChannel
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()
        self.bus._remove(self)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.receive()
            except trio.EndOfChannel:
                return


class EventBus:
    """Topic fan-out to bounded subscriber queues (single Trio thread; no locking)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._seq = itertools.count(1)
        self.published = 0
        self.dropped_subscribers = 0
        self._subscriptions_changed = trio.Event()

    def subscribe(
        self, patterns: str | Iterable[str], *, capacity: int = DEFAULT_QUEUE
    ) -> Subscriber:
        pats = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        sub = Subscriber(self, pats, capacity)
        self._subscribers.append(sub)
        self._changed()
        return sub

    def patterns(self) -> tuple[str, ...]:
        """Every topic pattern someone subscribes to now (sorted, each once): a publisher in
        another process sends only what matches (playout/mdvr/process)."""
        return tuple(sorted({p for s in self._subscribers for p in s.patterns}))

    def subscriptions_changed(self) -> trio.Event:
        """Set at the next subscribe or unsubscribe: take it *before* reading `patterns()`,
        so a change while the reader is busy is not missed."""
        return self._subscriptions_changed

    def _changed(self) -> None:
        self._subscriptions_changed.set()
        self._subscriptions_changed = trio.Event()

    def alert(self, source: str, text: str, *, level: str = "error") -> Event:
        """A `system:alert` for the operators' consoles, also written to the log (an alert
        nobody is watching for must still be found in the journal)."""
        log = structlog.get_logger()
        getattr(log, "warning" if level == "warning" else "error")(
            "alert", subsystem=source, alert=text
        )
        return self.publish("system:alert", {"level": level, "source": source, "text": text})

    def publish(self, topic: str, payload: Mapping[str, Any], *, trace: str | None = None) -> Event:
        """Deliver to every matching subscriber now; a full subscriber is dropped."""
        event = Event(topic, payload, next(self._seq), time.time(), trace)
        self.published += 1
        overflowed = [
            s for s in self._subscribers if _matches(s.patterns, topic) and not s._offer(event)
        ]
        for s in overflowed:
            self.dropped_subscribers += 1
            self._remove(s)
        return event

    def _remove(self, sub: Subscriber) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
            self._changed()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def queued(self) -> tuple[int, int]:
        """Events waiting in the subscribers' queues: all together, and the fullest one's."""
        depths = [s.pending() for s in self._subscribers]
        return sum(depths), max(depths, default=0)


class TopicFollower:
    """A subscription whose topic patterns change over time (a WebSocket or socket-API client
    subscribing and unsubscribing): `run` delivers every matching event, re-subscribing when
    `set_patterns` changes them, and raises `SubscriberDropped` if the client fell behind."""

    def __init__(self, bus: EventBus, capacity: int = DEFAULT_QUEUE) -> None:
        self.bus = bus
        self.capacity = capacity
        self.patterns: tuple[str, ...] = ()
        self._changed = trio.Event()

    def set_patterns(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(dict.fromkeys(patterns))
        self._changed.set()

    async def run(self, deliver: Callable[[Event], Awaitable[None] | None]) -> None:
        while True:
            self._changed = trio.Event()
            changed = self._changed
            if not self.patterns:
                await changed.wait()
                continue
            with self.bus.subscribe(self.patterns, capacity=self.capacity) as sub:
                fell_behind: SubscriberDropped | None = None
                async with trio.open_nursery() as inner:

                    async def until_changed(
                        scope: trio.CancelScope = inner.cancel_scope, changed: trio.Event = changed
                    ) -> None:
                        await changed.wait()
                        scope.cancel()

                    inner.start_soon(until_changed)
                    try:
                        async for event in sub:
                            result = deliver(event)
                            if result is not None:
                                await result
                    except SubscriberDropped as exc:
                        fell_behind = exc
                    inner.cancel_scope.cancel()
                # Raised outside the nursery: inside, Trio would wrap it in an ExceptionGroup
                # and callers' `except SubscriberDropped` would never see it.
                if fell_behind is not None:
                    raise fell_behind
