"""The event bus fanned out through a real Redis server: two nodes see each other's events,
nothing echoes back, malformed messages are counted, and a Redis outage never blocks the
local bus (the bridge reconnects)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import trio
import trio_asyncio

from tests.daemon_harness import running_daemon
from tests.redis_server import RedisServer
from trocadero.config.schema import EventsConfig
from trocadero.core.events import EventBus
from trocadero.playout.redis_bridge import RedisBridge


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll until `predicate` holds (the bridges work in the background); fail after 10 s."""
    with trio.fail_after(10.0):
        while True:
            if predicate():
                return
            await trio.sleep(0.02)


def node(url: str, name: str) -> tuple[EventBus, RedisBridge]:
    bus = EventBus()
    return bus, RedisBridge(bus, EventsConfig(redis_url=url, node_id=name, reconnect_s=0.2))


async def test_two_nodes_share_events_without_echo(redis_server: RedisServer) -> None:
    bus_a, bridge_a = node(redis_server.url, "a")
    bus_b, bridge_b = node(redis_server.url, "b")
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await nursery.start(bridge_a.serve)
        await nursery.start(bridge_b.serve)
        await wait_until(lambda: bridge_a.stats.connected and bridge_b.stats.connected)
        with bus_a.subscribe("*") as seen_a, bus_b.subscribe("device:*") as seen_b:
            await trio.sleep(0.2)  # both PSUBSCRIBEs registered on the server
            bus_a.publish("device:position", {"device_id": "00967", "lat": 48.86})
            bus_a.publish("cue:progress", {"list": "main", "progress": 0.5})
            with trio.fail_after(5):
                got = await seen_b.receive()
            assert got.topic == "device:position"
            assert got.payload == {"device_id": "00967", "lat": 48.86, "node": "a"}
            bus_b.publish("device:alarm", {"device_id": "1", "uid": "x"})
            await wait_until(lambda: bridge_a.stats.received == 1)
            await trio.sleep(0.3)
            topics = []
            while (e := seen_a.get_nowait()) is not None:
                topics.append((e.topic, e.payload.get("node")))
            # a's own two events once each, b's alarm once: nothing came back twice.
            assert topics == [
                ("device:position", None),
                ("cue:progress", None),
                ("device:alarm", "b"),
            ]
        assert bridge_b.stats.received == 2
        assert bridge_a.stats.sent == 2
        # Junk on the channel is counted, not fatal.
        client = redis.Redis.from_url(redis_server.url)
        client.publish("trocadero:events:x", b"not json")
        client.publish("trocadero:events:x", json.dumps({"node": "z", "topic": 1}))
        client.close()
        await wait_until(lambda: bridge_a.stats.malformed == 2)
        nursery.cancel_scope.cancel()


async def test_redis_outage_keeps_the_bus_and_reconnects(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.redis_server import free_port

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    bus, bridge = node(url, "solo")
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        await nursery.start(bridge.serve)
        with bus.subscribe("*") as local:
            bus.publish("system:alert", {"text": "no redis yet"})
            with trio.fail_after(1):
                assert (await local.receive()).payload == {"text": "no redis yet"}
        await wait_until(lambda: bridge.stats.last_error != "")
        assert not bridge.stats.connected
        assert bridge.stats.dropped >= 1  # not forwarded, not buffered
        server = RedisServer.start(tmp_path_factory.mktemp("late-redis"), port=port)
        try:
            await wait_until(lambda: bridge.stats.connected)
            peer, peer_bridge = node(url, "peer")
            await nursery.start(peer_bridge.serve)
            await wait_until(lambda: peer_bridge.stats.connected)
            with peer.subscribe("*") as remote:
                await trio.sleep(0.2)
                bus.publish("system:alert", {"text": "back"})
                with trio.fail_after(5):
                    got = await remote.receive()
                assert got.payload == {"text": "back", "node": "solo"}
            server.stop()
            await wait_until(lambda: not bridge.stats.connected)
            bus.publish("system:alert", {"text": "gone again"})  # must not block
        finally:
            server.stop()
        nursery.cancel_scope.cancel()


def test_daemon_shares_its_events_through_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    """The real daemon with [events] redis_url: health shows the link, and an event another
    node publishes reaches the daemon's bus (counted in its health)."""
    extra = f'[events]\nredis_url = "{redis_server.url}"\nnode_id = "appliance-1"\n'
    with running_daemon(tmp_path, extra) as daemon:
        daemon.wait_healthy()
        deadline = time.monotonic() + 10
        while not daemon.health()["events"]["redis"]["connected"]:
            assert time.monotonic() < deadline, daemon.health()["events"]
            time.sleep(0.05)
        client = redis.Redis.from_url(redis_server.url)
        try:
            doc = {"node": "site-2", "topic": "system:alert", "payload": {"text": "hello"}}
            while daemon.health()["events"]["redis"]["received"] == 0:
                client.publish("trocadero:events:system:alert", json.dumps(doc))
                assert time.monotonic() < deadline + 5
                time.sleep(0.1)
        finally:
            client.close()
        assert daemon.health()["events"]["published"] >= 1
