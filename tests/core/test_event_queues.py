"""The event bus' subscriber queues as /healthz and /metrics report them (events.queued,
events.deepest_queue)."""

from __future__ import annotations

from trocadero.core.events import EventBus


def test_undrained_events_are_counted_and_a_drained_queue_is_not() -> None:
    bus = EventBus()
    assert bus.queued() == (0, 0)
    slow = bus.subscribe("sensor:*", capacity=8)
    quick = bus.subscribe("*", capacity=8)
    for n in range(3):
        bus.publish("sensor:data", {"n": n})
    bus.publish("cue:progress", {})
    assert bus.queued() == (3 + 4, 4)
    while quick.get_nowait() is not None:
        pass
    assert bus.queued() == (3, 3)
    slow.close()
    assert bus.queued() == (0, 0)
