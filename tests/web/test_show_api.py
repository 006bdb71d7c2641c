"""Looks, cue lists and the audit log over REST, on a real SQLite store with the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from trocadero.config.schema import StorageConfig
from trocadero.config.show import CanvasDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.core.storage import open_storage
from trocadero.web.app import ControlPlane, create_app

Setup = tuple[httpx.AsyncClient, Engine, list[str]]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with open_storage(StorageConfig(), tmp_path) as store:
        await store.patch.put_patch((CanvasDef(name="a"), CanvasDef(name="b")), (), ())
        engine = Engine(("a", "b"), looks={}, debounce=0.0)
        controller = Controller(
            engine, now=lambda: 0.0, audit=store.audit, state=store.state, library=store.show
        )
        role = ["operator"]

        def actor_of(request: Request) -> Actor:
            return Actor("ed", role[0], "api")  # type: ignore[arg-type]

        app = create_app(
            ControlPlane(health=dict, playback=controller, store=store, actor_of=actor_of)
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, engine, role


RED = {"canvases": [{"canvas": "a", "layers": [{"source": "solid", "params": {"colour": "#f00"}}]}]}


async def test_looks_and_cue_lists_round_trip_and_reach_the_engine(setup: Setup) -> None:
    client, engine, _ = setup
    r = await client.put("/api/looks/red", json=RED)
    assert r.status_code == 200, r.text
    got = (await client.get("/api/looks/red")).json()
    assert got["name"] == "red"
    assert got["canvases"][0]["layers"][0]["params"] == {"colour": "#f00"}
    assert "red" in engine.looks
    cl = {"priority": 120, "cues": [{"number": "1", "look": "red", "up_fade": 2}]}
    assert (await client.put("/api/cue-lists/main", json=cl)).status_code == 200
    assert (await client.get("/api/cue-lists/main")).json()["cues"][0]["number"] == "1"
    assert engine.playback("main").defn.priority == 120
    listed = (await client.get("/api/cue-lists")).json()
    assert [c["name"] for c in listed["items"]] == ["main"]
    assert (await client.post("/api/cue-lists/main/go")).json()["outcome"] == "done"


async def test_bad_documents_are_rejected_naming_the_field(setup: Setup) -> None:
    client, _, _ = setup
    bad = {"canvases": [{"canvas": "a", "layers": [{"source": "solid", "opacity": 3}]}]}
    r = await client.put("/api/looks/x", json=bad)
    assert r.status_code == 400
    assert r.json()["problems"] == [
        "canvases[0].layers[0].opacity: must be between 0 and 1 (got 3.0)"
    ]
    r = await client.put("/api/cue-lists/m", json={"cues": [{"number": "1", "look": "ghost"}]})
    assert r.status_code == 400
    assert r.json()["problems"] == ['cues: look "ghost" does not exist']
    r = await client.put("/api/looks/x", json={"name": "y"})
    assert r.status_code == 400
    assert "look.name: must be 'x'" in r.json()["error"]
    assert (await client.get("/api/looks/nope")).status_code == 404
    assert (await client.get("/api/looks?limit=0")).status_code == 400


async def test_a_look_in_use_cannot_be_deleted(setup: Setup) -> None:
    client, engine, _ = setup
    await client.put("/api/looks/red", json=RED)
    await client.put("/api/cue-lists/main", json={"cues": [{"number": "1", "look": "red"}]})
    assert (await client.delete("/api/looks/red")).status_code == 409
    assert "red" in engine.looks
    assert (await client.delete("/api/cue-lists/main")).status_code == 200
    assert (await client.delete("/api/looks/red")).status_code == 200
    assert "red" not in engine.looks


async def test_audit_log_lists_who_did_what(setup: Setup) -> None:
    client, _, role = setup
    await client.put("/api/looks/red", json=RED)
    await client.put("/api/masters/grand", json={"level": 0.4})
    role[0] = "viewer"
    assert (await client.put("/api/looks/red", json=RED)).status_code == 403
    assert (await client.get("/api/audit")).status_code == 403  # audit.read: not a viewer's
    role[0] = "operator"
    page = (await client.get("/api/audit?limit=10")).json()
    assert [(e["actor"], e["action"], e["target"]) for e in page["items"]] == [
        ("ed", "master.set", "grand"),
        ("ed", "look.put", "red"),
    ]
    only = (await client.get("/api/audit?action=look.*")).json()["items"]
    assert [e["action"] for e in only] == ["look.put"]
    assert (await client.get("/api/audit?since=yesterday")).status_code == 400


async def test_one_cue_edited_in_place(setup: Setup) -> None:
    client, engine, role = setup
    assert (await client.put("/api/looks/red", json=RED)).status_code == 200
    cl = {"cues": [{"number": "1", "look": "red"}, {"number": "3", "look": "red"}]}
    assert (await client.put("/api/cue-lists/main", json=cl)).status_code == 200
    r = await client.put("/api/cue-lists/main/cues/2.5", json={"look": "red", "up_fade": 4})
    assert r.status_code == 201, r.text
    r = await client.put("/api/cue-lists/main/cues/1", json={"look": "red", "up_fade": 7.5})
    assert (r.status_code, r.json()["created"]) == (200, False)
    numbers = [c.number for c in engine.playback("main").defn.cues]
    assert [str(n) for n in numbers] == ["1", "2.5", "3"]
    got = (await client.get("/api/cue-lists/main/cues/1")).json()
    assert got["up_fade"] == 7.5
    assert (await client.delete("/api/cue-lists/main/cues/3")).status_code == 200
    assert (await client.get("/api/cue-lists/main/cues/3")).status_code == 404
    bad = await client.put("/api/cue-lists/main/cues/1", json={"look": "red", "up_fade": -1})
    assert bad.status_code == 400
    assert any(p.startswith("up_fade") for p in bad.json()["problems"])
    assert (await client.put("/api/cue-lists/main/cues/x.y", json={})).status_code == 400
    r = await client.put("/api/cue-lists/main/cues/4", json={"number": "5", "look": "red"})
    assert r.status_code == 400
    assert (await client.get("/api/cue-lists/ghost/cues/1")).status_code == 404
    role[0] = "viewer"
    assert (await client.put("/api/cue-lists/main/cues/1", json={"look": "red"})).status_code == 403
