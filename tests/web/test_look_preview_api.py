"""Blind preview over REST: a look (stored or not) rendered for the editor, off the wire."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from starlette.requests import Request

from trocadero.config.show import (
    CanvasDef,
    CanvasLayersDef,
    FixtureDef,
    FixtureTypeDef,
    LayerDef,
    ShowDef,
)
from trocadero.core.commands import Actor
from trocadero.core.operations.registry import registry
from trocadero.core.patch import compile_patch
from trocadero.playout.render.look_preview import LookPreviews
from trocadero.playout.render.renderer import Renderer
from trocadero.web.app import ControlPlane, create_app

# Two strips: "wide" (40 x 1, downscaled to the 20-pixel preview size) and "short" (4 x 1).
SHOW = ShowDef(
    name="preview test",
    canvases=(CanvasDef(name="wide", width=40, height=1), CanvasDef(name="short", width=4)),
    fixture_types=(FixtureTypeDef(name="linear", gamma=1.0),),
    fixtures=(
        FixtureDef(name="w", canvas="wide", type="linear", pixels=40, universe=1),
        FixtureDef(name="s", canvas="short", type="linear", pixels=4, universe=2),
    ),
    idle=(
        CanvasLayersDef(
            canvas="wide", layers=(LayerDef(source="solid", params={"colour": "#00ff00"}),)
        ),
    ),
)

Setup = tuple[httpx.AsyncClient, Renderer, list[str]]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    renderer = Renderer(SHOW, compile_patch(SHOW))
    role = ["operator"]

    def actor_of(request: Request) -> Actor:
        return Actor("ed", role[0], "api")  # type: ignore[arg-type]

    ops = registry(None, look_preview=LookPreviews(renderer, max_size=20))
    app = create_app(ControlPlane(health=dict, operations=ops, actor_of=actor_of))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, renderer, role


def pixels(canvas: dict[str, Any]) -> NDArray[np.uint8]:
    raw = base64.b64decode(canvas["rgb"])
    w, h = int(canvas["width"]), int(canvas["height"])
    assert len(raw) == w * h * 3
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)


def layer(source: str, **params: object) -> dict[str, object]:
    return {"source": source, "params": params}


async def test_a_solid_red_look_previews_red_at_each_canvas_size(setup: Setup) -> None:
    client, renderer, _ = setup
    renderer.render(0.0)
    before = renderer.universes.copy()
    look = {
        "canvases": [
            {"canvas": "wide", "layers": [layer("solid", colour="#ff0000")]},
            {"canvas": "short", "layers": [layer("solid", colour="#0000ff")]},
        ]
    }
    r = await client.post("/api/looks/preview", json={"look": look})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["t"] == 0.0
    got = {c["canvas"]: c for c in body["canvases"]}
    assert [(got[n]["width"], got[n]["height"]) for n in ("wide", "short")] == [(20, 1), (4, 1)]
    assert (pixels(got["wide"]) == [255, 0, 0]).all()
    assert (pixels(got["short"]) == [0, 0, 255]).all()
    # The live renderer is untouched: no stack built for the preview, the same universes.
    assert all("(preview)" not in c.stacks for c in renderer.canvases.values())
    renderer.render(0.0)
    assert (renderer.universes == before).all()
    assert renderer.universes[:3].tolist() == [0, 255, 0]


async def test_layers_blend_and_the_frame_time_moves_an_animated_source(setup: Setup) -> None:
    client, _, _ = setup
    half_red = {
        "name": "draft",
        "canvases": [
            {
                "canvas": "short",
                "layers": [
                    layer("solid", colour="#0000ff"),
                    {**layer("solid", colour="#ff0000"), "blend": "add", "opacity": 0.5},
                ],
            }
        ],
    }
    r = await client.post("/api/looks/preview", json={"look": half_red})
    assert r.status_code == 200, r.text
    px = pixels(r.json()["canvases"][0])
    assert px[0, 0].tolist() == [128, 0, 255]
    chase = {"canvases": [{"canvas": "wide", "layers": [layer("chase", speed=0.7)]}]}
    frames = []
    for t in (0.0, 0.3):
        r = await client.post("/api/looks/preview", json={"look": chase, "t": t})
        assert r.status_code == 200, r.text
        frames.append(pixels(r.json()["canvases"][0]))
    assert not (frames[0] == frames[1]).all()


async def test_an_invalid_look_is_refused_naming_the_problem(setup: Setup) -> None:
    client, _, _ = setup
    bad_param = {"canvases": [{"canvas": "short", "layers": [layer("solid", colour="reddish")]}]}
    r = await client.post("/api/looks/preview", json={"look": bad_param})
    assert r.status_code == 400
    problems = r.json()["problems"]
    assert len(problems) == 1
    assert problems[0].startswith('canvases["short"].layers[0] (solid): solid: param "colour"')
    no_canvas = {"canvases": [{"canvas": "roof", "layers": [layer("solid")]}]}
    r = await client.post("/api/looks/preview", json={"look": no_canvas})
    assert r.status_code == 400
    assert r.json()["problems"] == ['canvases: canvas "roof" is not defined (known: wide, short)']
    bad_doc = {"canvases": [{"canvas": "short", "layers": [{"opacity": 3}]}]}
    r = await client.post("/api/looks/preview", json={"look": bad_doc})
    assert r.status_code == 400
    assert r.json()["problems"] == [
        "canvases[0].layers[0].opacity: must be between 0 and 1 (got 3.0)"
    ]
    r = await client.post("/api/looks/preview", json={"look": bad_param, "t": -1})
    assert r.status_code == 400
    assert r.json()["error"].startswith("t: must be between 0")


async def test_a_viewer_may_not_preview(setup: Setup) -> None:
    client, _, role = setup
    role[0] = "viewer"
    look = {"canvases": [{"canvas": "short", "layers": [layer("solid", colour="#ff0000")]}]}
    r = await client.post("/api/looks/preview", json={"look": look})
    assert r.status_code == 403
    assert "edit looks" in r.json()["error"]
