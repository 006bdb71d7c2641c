"""Undo of the last show edit over REST (POST /api/edits/undo, GET /api/edits/last), on a
real SQLite store with the engine: what comes back is what the store and the engine hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from trocadero.config.schema import StorageConfig
from trocadero.config.show import CanvasDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.core.storage import Storage, open_storage
from trocadero.web.app import ControlPlane, create_app


class Setup:
    def __init__(self, client: httpx.AsyncClient, engine: Engine, store: Storage) -> None:
        self.client = client
        self.engine = engine
        self.store = store
        self.who = ["ed", "operator"]  # the caller's name and role, changed by tests

    def as_(self, name: str, role: str = "operator") -> None:
        self.who[:] = [name, role]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with open_storage(StorageConfig(), tmp_path) as store:
        await store.patch.put_patch((CanvasDef(name="a"),), (), ())
        engine = Engine(("a",), looks={}, debounce=0.0)
        controller = Controller(
            engine, now=lambda: 0.0, audit=store.audit, state=store.state, library=store.show
        )
        holder: list[Setup] = []

        def actor_of(request: Request) -> Actor:
            name, role = holder[0].who
            return Actor(name, role, "api")  # type: ignore[arg-type]

        app = create_app(
            ControlPlane(health=dict, playback=controller, store=store, actor_of=actor_of)
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            holder.append(Setup(client, engine, store))
            yield holder[0]


def look(colour: str) -> dict[str, Any]:
    return {
        "canvases": [{"canvas": "a", "layers": [{"source": "solid", "params": {"colour": colour}}]}]
    }


def colour_of(doc: dict[str, Any]) -> str:
    colour: str = doc["canvases"][0]["layers"][0]["params"]["colour"]
    return colour


async def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


async def test_undo_of_a_look_edit_puts_it_back_in_the_store_and_engine(setup: Setup) -> None:
    c = setup.client
    await _ok(await c.put("/api/looks/blue", json=look("#00f")))
    await _ok(await c.put("/api/looks/blue", json=look("#0f0")))
    last = (await _ok(await c.get("/api/edits/last")))["edit"]
    assert (last["kind"], last["name"], last["change"], last["actor"]) == (
        "look",
        "blue",
        "changed",
        "ed",
    )
    out = await _ok(await c.post("/api/edits/undo"))
    assert out["outcome"] == "done"
    assert out["undone"]["id"] == last["id"]
    assert colour_of((await c.get("/api/looks/blue")).json()) == "#00f"
    engine_look = setup.engine.looks["blue"]
    assert engine_look.canvases[0].layers[0].params["colour"] == "#00f"
    # The undo is audited, and the next undo reverts the creation.
    audit = (await c.get("/api/audit?action=edit.undo")).json()["items"]
    assert [(e["actor"], e["target"]) for e in audit] == [("ed", "blue")]
    assert (await _ok(await c.get("/api/edits/last")))["edit"]["change"] == "created"


async def test_undo_of_a_look_creation_deletes_it(setup: Setup) -> None:
    c = setup.client
    await _ok(await c.put("/api/looks/new", json=look("#123")))
    await _ok(await c.post("/api/edits/undo"))
    assert (await c.get("/api/looks/new")).status_code == 404
    assert "new" not in setup.engine.looks
    r = await c.post("/api/edits/undo")
    assert r.status_code == 409
    assert r.json()["error"] == "nothing to undo"
    assert (await _ok(await c.get("/api/edits/last")))["edit"] is None


async def test_undo_of_a_cue_list_deletion_recreates_it(setup: Setup) -> None:
    c = setup.client
    await _ok(await c.put("/api/looks/red", json=look("#f00")))
    cl = {"priority": 120, "cues": [{"number": "1", "look": "red"}, {"number": "2.5"}]}
    await _ok(await c.put("/api/cue-lists/main", json=cl))
    await _ok(await c.delete("/api/cue-lists/main"))
    assert (await c.get("/api/cue-lists/main")).status_code == 404
    out = await _ok(await c.post("/api/edits/undo"))
    assert (out["undone"]["kind"], out["undone"]["change"]) == ("cue_list", "deleted")
    back = (await c.get("/api/cue-lists/main")).json()
    assert back["priority"] == 120
    assert [q["number"] for q in back["cues"]] == ["1", "2.5"]
    assert setup.engine.playback("main").defn.priority == 120


async def test_undo_of_a_cue_edit_reverts_that_cue_alone(setup: Setup) -> None:
    c = setup.client
    await _ok(await c.put("/api/looks/red", json=look("#f00")))
    await _ok(await c.put("/api/cue-lists/main", json={"cues": [{"number": "1", "up_fade": 1}]}))
    await _ok(await c.put("/api/cue-lists/main/cues/1", json={"up_fade": 9, "look": "red"}))
    setup.as_("other")
    await _ok(await c.put("/api/cue-lists/main/cues/2", json={"up_fade": 4}))  # someone else
    setup.as_("ed")
    last = (await _ok(await c.get("/api/edits/last")))["edit"]
    assert (last["kind"], last["name"]) == ("cue", "main/1")
    await _ok(await c.post("/api/edits/undo"))
    cues = {q["number"]: q for q in (await c.get("/api/cue-lists/main")).json()["cues"]}
    assert cues["1"]["up_fade"] == 1
    assert cues["1"]["look"] == ""
    assert cues["2"]["up_fade"] == 4  # the other technician's cue stays


async def test_undo_is_refused_when_the_object_changed_since(setup: Setup) -> None:
    c = setup.client
    await _ok(await c.put("/api/looks/blue", json=look("#00f")))
    setup.as_("other")
    await _ok(await c.put("/api/looks/blue", json=look("#f0f")))
    setup.as_("ed")
    r = await c.post("/api/edits/undo")
    assert r.status_code == 409
    assert 'look "blue" changed since that edit' in r.json()["error"]
    assert colour_of((await c.get("/api/looks/blue")).json()) == "#f0f"  # untouched
    # Each undoes their own: the other technician's undo goes back to blue.
    setup.as_("other")
    await _ok(await c.post("/api/edits/undo"))
    assert colour_of((await c.get("/api/looks/blue")).json()) == "#00f"


async def test_a_viewer_may_not_undo(setup: Setup) -> None:
    c = setup.client
    setup.as_("vic", "viewer")
    r = await c.post("/api/edits/undo")
    assert r.status_code == 403
    assert "undo show edits" in r.json()["error"]
    assert (await _ok(await c.get("/api/edits/last")))["edit"] is None
