"""Celebrations and sensor data over REST on a real engine, command layer and event bus."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request

from trocadero.config.show import CanvasLayersDef, LookDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.events import EventBus
from trocadero.core.playback.ladder import Engine
from trocadero.web.app import ControlPlane, create_app

Setup = tuple[httpx.AsyncClient, Engine, EventBus, list[str], list[float]]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    looks = {"party": LookDef(name="party", canvases=(CanvasLayersDef(canvas="facade"),))}
    engine = Engine(("facade", "canopy"), looks=looks, debounce=0.0)
    clock = [100.0]
    controller = Controller(engine, now=lambda: clock[0])
    bus = EventBus()
    role = ["operator"]

    def actor_of(request: Request) -> Actor:
        return Actor("tess", role[0], "api")  # type: ignore[arg-type]

    app = create_app(ControlPlane(health=dict, playback=controller, events=bus, actor_of=actor_of))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client, engine, bus, role, clock


async def test_celebration_overrides_then_lets_go_and_is_announced(setup: Setup) -> None:
    client, engine, bus, _, clock = setup
    with bus.subscribe("celebration:*") as seen:
        r = await client.post("/api/celebrations", json={"look": "party", "duration_s": 20})
        assert r.status_code == 201, r.text
        event = seen.get_nowait()
    assert event is not None
    assert event.payload["canvases"] == ["facade"]  # the canvases the look covers
    assert event.payload["by"] == "tess"
    assert len(engine.overrides) == 1
    engine.tick(clock[0] + 20 + 2 + 0.1)  # the TTL, then the 2 s fade out: gone by itself
    assert engine.overrides == {}
    for bad, field in (
        ({"look": "nope"}, "look"),
        ({"look": "party", "duration_s": 0}, "duration_s"),
        ({"look": "party", "canvases": ["moon"]}, "canvases"),
        ({"look": "party", "fade_in": "x"}, "fade_in"),
        ({}, "look"),
    ):
        r = await client.post("/api/celebrations", json=bad)
        assert r.status_code in (400, 404), r.text
        assert field in r.text or "no look" in r.text


async def test_sensor_data_is_validated_and_published(setup: Setup) -> None:
    client, _, bus, role, _ = setup
    with bus.subscribe("sensor:data") as seen:
        r = await client.post(
            "/api/sensors/hall-presence", json={"values": {"people": 12, "occupied": True}}
        )
        assert r.status_code == 202, r.text
        event = seen.get_nowait()
    assert event is not None
    assert event.payload["values"] == {"people": 12.0, "occupied": True}
    for body, path, field in (
        ({"values": {}}, "/api/sensors/a", "values"),
        ({"values": {"x": "high"}}, "/api/sensors/a", "values.x"),
        ({"values": {"x": 1}, "at": "noon"}, "/api/sensors/a", "at"),
        ({"values": {"x": 1}}, "/api/sensors/-bad", "sensor"),
        ({"values": {f"r{i}": i for i in range(65)}}, "/api/sensors/a", "values"),
    ):
        r = await client.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["error"].startswith(field), r.json()
    role[0] = "viewer"
    assert (await client.post("/api/sensors/a", json={"values": {"x": 1}})).status_code == 403
    r = await client.post("/api/celebrations", json={"look": "party"})
    assert r.status_code == 403
