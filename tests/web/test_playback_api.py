"""The playback REST routes over a real engine and command layer (no daemon): verbs reach
the engine, bad input gets a 4xx naming the field, roles are enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import trio
from starlette.requests import Request

from trocadero.config.show import CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.native.clock import FrameClock
from trocadero.web.app import ControlPlane, create_app

Setup = tuple[httpx.AsyncClient, Engine, FrameClock, list[str], Path]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    looks = {
        "red": LookDef(name="red", canvases=(CanvasLayersDef(canvas="a"),)),
        "blue": LookDef(name="blue", canvases=(CanvasLayersDef(canvas="a"),)),
    }
    cl = CueListDef(
        name="main",
        cues=(CueDef(number=Decimal(1), look="red"), CueDef(number=Decimal("2.5"), look="blue")),
    )
    engine = Engine(("a", "b"), looks=looks, cue_lists=(cl,), debounce=0.0)
    clock = [0.0]
    # The real native latch (a running clock with no outputs), its input a plain file.
    latch = FrameClock(44.0, 512)
    trigger = tmp_path / "input"
    trigger.write_text("0")
    latch.set_emergency_input(str(trigger))
    latch.start()
    controller = Controller(engine, now=lambda: clock[0], latch=latch)
    role = ["operator"]

    def actor_of(request: Request) -> Actor:
        return Actor("tester", role[0], "api")  # type: ignore[arg-type]

    app = create_app(ControlPlane(health=dict, playback=controller, actor_of=actor_of))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, engine, latch, role, trigger
    latch.stop()


async def test_verbs_reach_the_engine(setup: Setup) -> None:
    client, engine = setup[0], setup[1]
    r = await client.post("/api/cue-lists/main/go")
    assert r.status_code == 200
    assert r.json() == {"outcome": "done", "cue": "1"}
    r = await client.post("/api/cue-lists/main/goto", json={"cue": "2.5", "fade": 1.5})
    assert r.status_code == 200
    assert engine.playback("main").current == Decimal("2.5")
    state = (await client.get("/api/playback")).json()
    assert state["lists"][0]["current"] == "2.5"
    assert (await client.post("/api/cue-lists/main/release", json={"fade": 0})).json()[
        "outcome"
    ] == "done"
    assert (await client.put("/api/parks/b", json={"rgb": [1, 2, 3]})).status_code == 200
    assert (await client.put("/api/masters/grand", json={"level": 0.5})).status_code == 200
    assert engine.grand_master == 0.5
    r = await client.post("/api/overrides", json={"canvases": {"a": {"look": "blue"}}, "ttl": 5})
    assert r.status_code == 200
    assert r.json()["id"] in engine.overrides


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", "/api/cue-lists/nope/go", None, 404, 'no cue list "nope"'),
        ("post", "/api/cue-lists/main/dance", None, 400, "verb: must be one of"),
        ("post", "/api/cue-lists/main/goto", {"cue": "1.0005"}, 400, "cue: at most three decimals"),
        ("post", "/api/cue-lists/main/goto", {"cue": "9"}, 400, "has no cue 9"),
        (
            "post",
            "/api/cue-lists/main/goto",
            {"cue": "1", "fade": -1},
            400,
            "fade: must be between",
        ),
        ("put", "/api/masters/grand", {"level": 2}, 400, "level: expected a level between 0 and 1"),
        ("put", "/api/masters/zz", {"level": 1}, 404, 'no canvas "zz"'),
        ("put", "/api/parks/a", {"look": "red", "rgb": [1, 1, 1]}, 400, "give either look or rgb"),
        ("put", "/api/parks/a", {"rgb": [1, 1]}, 400, "rgb: expected three integers"),
        ("post", "/api/overrides", {"canvases": {"a": {"look": "red"}}}, 400, "ttl: required"),
        ("post", "/api/blackout", {"on": "yes"}, 400, "on: expected true or false"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    setup: Setup,
    method: str,
    path: str,
    body: object,
    status: int,
    message: str,
) -> None:
    client = setup[0]
    r = await client.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


async def test_malformed_json_is_rejected(setup: Setup) -> None:
    client = setup[0]
    r = await client.post(
        "/api/cue-lists/main/goto", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"].startswith("body: not valid JSON")


async def test_viewers_may_look_but_not_touch(setup: Setup) -> None:
    client, engine, latch, role, _ = setup
    role[0] = "viewer"
    assert (await client.get("/api/playback")).status_code == 200
    r = await client.post("/api/cue-lists/main/go")
    assert r.status_code == 403
    assert 'role "viewer" may not cue.go' in r.json()["error"]
    assert (await client.post("/api/emergency/engage")).status_code == 403
    assert engine.playback("main").current is None
    assert not latch.stats().emergency_latched
    role[0] = "marketing"
    assert (await client.post("/api/panic")).status_code == 403


async def test_emergency_engages_the_latch_and_release_is_refused_while_the_input_holds(
    setup: Setup,
) -> None:
    client, engine, latch, role, trigger = setup
    assert (await client.post("/api/emergency/engage")).json()["outcome"] == "done"
    assert latch.stats().emergency_latched
    assert engine.emergency
    trigger.write_text("1")
    await wait_until(lambda: latch.stats().emergency_input_asserted)
    r = await client.post("/api/emergency/release")
    assert r.status_code == 409
    assert "still asserted" in r.json()["reason"]
    assert engine.emergency
    trigger.write_text("0")
    await wait_until(lambda: not latch.stats().emergency_input_asserted)
    role[0] = "viewer"
    assert (await client.post("/api/emergency/release")).status_code == 403
    role[0] = "admin"
    assert (await client.post("/api/emergency/release")).json()["outcome"] == "done"
    assert (latch.stats().emergency_latched, engine.emergency) == (False, False)


async def wait_until(condition: Callable[[], bool]) -> None:
    # The native thread has no Trio event to wait on: poll its state.
    with trio.fail_after(5):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.01)
